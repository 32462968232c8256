"""PKCS#11 key custody: Ed25519 keys generated and used on a token (an HSM, or SoftHSM2).

Private keys are generated on the token (``CKM_EC_EDWARDS_KEY_PAIR_GEN``) as sensitive,
non-extractable token objects and used only through ``CKM_EDDSA``; nothing here can read
them.  A key is found by its key id, stored as both ``CKA_ID`` and (after an optional role
prefix) ``CKA_LABEL``; the public key and the key id are always read back from the token's
public key object (``CKA_EC_POINT``), never taken from a caller.

Sessions: PKCS#11 logs in per application and token, not per session (PKCS#11 v2.40
§5.6: ``C_Login`` on one session logs in all of them, ``C_Logout`` logs out all).  So one
login session per (module, token) is kept for the life of the process, and each custody
signs on a plain session of its own that shares that login.  Calls into a module are
serialised (see :class:`_Login`), so signers are safe to share between threads; the GIL
is released during ``C_Sign``, so Python work of other threads overlaps token work.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.errors import KeyCustodyError, ValidationError
from sceau.keyring import key_id

__all__ = ["DEFAULT_MODULE", "Pkcs11Custody", "Pkcs11Signer"]

#: Debian's SoftHSM2 module; a documented default, overridden by SCEAU_PKCS11_MODULE.
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

# CKA_EC_PARAMS for Ed25519: the DER of OID id-Ed25519 1.3.101.112 (RFC 8410 §3; PKCS#11
# v3.0 §2.3.10 allows the OID or the curve name as a PrintableString).
_ED25519_EC_PARAMS = bytes.fromhex("06032b6570")
_KEYID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_ROLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _pkcs11() -> Any:
    try:
        import pkcs11  # noqa: PLC0415 - optional dependency, imported on first use
    except ImportError:
        raise KeyCustodyError(
            "PKCS#11 custody needs python-pkcs11: install sceau-keys[pkcs11]") from None
    return pkcs11


def _error(exc: Exception, what: str) -> KeyCustodyError:
    """A :class:`KeyCustodyError` for a PKCS#11 failure (never echoes a PIN)."""
    return KeyCustodyError(f"{what}: PKCS#11 {type(exc).__name__}")


def _raw_point(ec_point: bytes) -> bytes:
    # CKA_EC_POINT of an Edwards key is the DER OCTET STRING of the 32-byte public key
    # (PKCS#11 v3.0 §2.3.5); some modules give the raw 32 bytes.
    if len(ec_point) == 34 and ec_point[:2] == b"\x04\x20":
        return ec_point[2:]
    if len(ec_point) == 32:
        return ec_point
    raise KeyCustodyError("token returned a public key that is not Ed25519")


class _Login:
    """The process-wide login on one token: the session that holds it, the PIN's digest
    (a second custody on the token with another PIN is refused), and the module's lock.

    python-pkcs11 initialises modules with ``C_Initialize(NULL_PTR)``, which tells the
    module that the application will not call it from several threads at once (PKCS#11
    v2.40 §5.4); SoftHSM2 then runs without its mutexes, and concurrent signing on two
    sessions failed with CKR_GENERAL_ERROR when we tried.  So every call into one module
    is made under one lock; the GIL is still released while the token signs.
    """

    def __init__(self, token: Any, session: Any, pin_digest: bytes,
                 lock: threading.RLock) -> None:
        self.token = token
        self.session = session
        self.pin_digest = pin_digest
        self.lock = lock


_LOGINS: dict[tuple[str, str], _Login] = {}
_MODULE_LOCKS: dict[str, threading.RLock] = {}
_LOGINS_LOCK = threading.Lock()


def _login(module: str, token_label: str, pin: str) -> _Login:
    pkcs11 = _pkcs11()
    digest = hashlib.sha256(f"{module}\0{token_label}\0{pin}".encode()).digest()
    with _LOGINS_LOCK:
        login = _LOGINS.get((module, token_label))
        if login is not None:
            if not hmac.compare_digest(login.pin_digest, digest):
                raise KeyCustodyError(f"wrong PIN for PKCS#11 token {token_label!r}")
            return login
        if not os.path.isfile(module):
            raise KeyCustodyError(f"PKCS#11 module not found: {module}")
        lock = _MODULE_LOCKS.setdefault(module, threading.RLock())
        with lock:
            return _open_login(pkcs11, module, token_label, pin, digest, lock)


def _open_login(pkcs11: Any, module: str, token_label: str, pin: str, digest: bytes,
                lock: threading.RLock) -> _Login:
    """Load the module, find the token and log in (the caller holds ``lock``)."""
    try:
        lib = pkcs11.lib(module)
    except Exception as exc:  # the module's own loader errors are not typed
        raise _error(exc, f"cannot load PKCS#11 module {module}") from None
    try:
        token = lib.get_token(token_label=token_label)
    except pkcs11.exceptions.NoSuchToken:
        raise KeyCustodyError(f"no PKCS#11 token labelled {token_label!r}") from None
    except pkcs11.exceptions.PKCS11Error as exc:
        raise _error(exc, f"cannot find PKCS#11 token {token_label!r}") from None
    try:
        session = token.open(rw=True, user_pin=pin)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        # Logged in by other code of this process (the login is the application's): the
        # token accepted that code's PIN; ours cannot be checked without logging it out.
        session = token.open(rw=True)
    except (pkcs11.exceptions.PinIncorrect, pkcs11.exceptions.PinLenRange,
            pkcs11.exceptions.PinInvalid):
        raise KeyCustodyError(f"wrong PIN for PKCS#11 token {token_label!r}") from None
    except pkcs11.exceptions.PinLocked:
        raise KeyCustodyError(f"the PIN of PKCS#11 token {token_label!r} is locked") from None
    except pkcs11.exceptions.PKCS11Error as exc:
        raise _error(exc, f"cannot log in to PKCS#11 token {token_label!r}") from None
    login = _Login(token, session, digest, lock)
    _LOGINS[(module, token_label)] = login
    return login


class _Session:
    """A session and the private key handles it has looked up."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.keys: dict[str, Any] = {}


class Pkcs11Custody:
    """Ed25519 keys on a PKCS#11 token (see the module docstring).

    ``role`` separates key sets on one token: keys of role ``root`` are labelled
    ``root/<keyid>`` and cannot be found through a custody of another role.
    """

    backend = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str, *, role: str = "") -> None:
        if not pin:
            raise KeyCustodyError("set the PKCS#11 user PIN (SCEAU_PKCS11_PIN)")
        if not set(role) <= _ROLE_CHARS or len(role) > 32:
            raise ValidationError("invalid custody role")
        self._pkcs11 = _pkcs11()
        self.module = module
        self.token_label = token_label
        self._prefix = f"{role}/" if role else ""
        self._login = _login(module, token_label, pin)
        self._sess: _Session | None = None

    # -- sessions -----------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[_Session]:
        """This custody's session, under the module's lock (see :class:`_Login`)."""
        with self._login.lock:
            if self._sess is None:
                try:
                    # No PIN: the session shares the token's login (PKCS#11 v2.40 §5.6),
                    # and closing it does not log the process out.
                    self._sess = _Session(self._login.token.open(rw=True))
                except self._pkcs11.exceptions.PKCS11Error as exc:
                    raise _error(exc, "cannot open a PKCS#11 session") from None
            try:
                yield self._sess
            except self._pkcs11.exceptions.PKCS11Error as exc:
                # Whatever the callers did not map themselves: cached handles may be stale
                # now, and a closed or invalid session is reopened on next use.
                e = self._pkcs11.exceptions
                self._sess.keys.clear()
                if isinstance(exc, (e.SessionHandleInvalid, e.SessionClosed,
                                    e.DeviceRemoved, e.TokenNotPresent)):
                    self._sess = None
                raise _error(exc, f"PKCS#11 operation on token {self.token_label!r} "
                             "failed") from None

    def close(self) -> None:
        """Close this custody's session (the token login stays for the process)."""
        with self._login.lock:
            sess, self._sess = self._sess, None
            if sess is not None:
                with suppress(self._pkcs11.exceptions.PKCS11Error):
                    sess.session.close()

    # -- keys ---------------------------------------------------------------------------

    def _label(self, keyid: str) -> str:
        if not keyid or len(keyid) > 128 or not set(keyid) <= _KEYID_CHARS:
            raise ValidationError("invalid key id")
        return self._prefix + keyid

    def _find(self, sess: _Session, keyid: str, object_class: Any) -> Any:
        p = self._pkcs11
        try:
            return sess.session.get_key(object_class=object_class,
                                        key_type=p.KeyType.EC_EDWARDS,
                                        label=self._label(keyid), id=keyid.encode("ascii"))
        except p.exceptions.NoSuchKey:
            raise KeyCustodyError(f"no key {keyid} on PKCS#11 token "
                                  f"{self.token_label!r}") from None
        except p.exceptions.MultipleObjectsReturned:
            raise KeyCustodyError(f"several objects for key {keyid} on PKCS#11 token "
                                  f"{self.token_label!r}") from None

    def _private(self, sess: _Session, keyid: str) -> Any:
        key = sess.keys.get(keyid)
        if key is None:
            key = self._find(sess, keyid, self._pkcs11.ObjectClass.PRIVATE_KEY)
            sess.keys[keyid] = key
        return key

    def generate(self) -> Pkcs11Signer:
        """Generate an Ed25519 key pair on the token and return its signer."""
        p = self._pkcs11
        attr = p.Attribute
        pending = f"{self._prefix}pending-{secrets.token_hex(8)}"
        with self._session() as sess:
            try:
                public, private = sess.session.generate_keypair(
                    p.KeyType.EC_EDWARDS, store=True, label=pending, id=pending.encode(),
                    mechanism=p.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                    capabilities=p.MechanismFlag.SIGN | p.MechanismFlag.VERIFY,
                    public_template={attr.EC_PARAMS: _ED25519_EC_PARAMS},
                    private_template={attr.SENSITIVE: True, attr.EXTRACTABLE: False,
                                      attr.PRIVATE: True, attr.SIGN: True})
            except p.exceptions.PKCS11Error as exc:
                raise _error(exc, "cannot generate a key on the PKCS#11 token") from None
            try:
                public_key = _raw_point(bytes(public[attr.EC_POINT]))
                keyid = key_id(public_key)
                for obj in (public, private):
                    obj[attr.LABEL] = self._label(keyid)
                    obj[attr.ID] = keyid.encode("ascii")
            except Exception:
                for obj in (public, private):
                    with suppress(p.exceptions.PKCS11Error):
                        obj.destroy()
                raise
        return self._checked_signer(keyid)

    def signer(self, keyid: str) -> Pkcs11Signer:
        """A signer for a key on the token, after checking that it is usable and that its
        private half matches the public key the token holds for ``keyid``."""
        return self._checked_signer(keyid)

    def public_key(self, keyid: str) -> bytes:
        """The raw public key, read from the token; its key id must be ``keyid``."""
        p = self._pkcs11
        with self._session() as sess:
            public = self._find(sess, keyid, p.ObjectClass.PUBLIC_KEY)
            try:
                raw = _raw_point(bytes(public[p.Attribute.EC_POINT]))
            except p.exceptions.PKCS11Error as exc:
                raise _error(exc, f"cannot read public key {keyid}") from None
        if key_id(raw) != keyid:
            raise KeyCustodyError(f"the token's public key labelled {keyid} has another id")
        return raw

    def keyids(self) -> list[str]:
        """The ids of this role's keys on the token (sorted)."""
        p = self._pkcs11
        found = []
        with self._session() as sess:
            for obj in sess.session.get_objects({p.Attribute.CLASS: p.ObjectClass.PRIVATE_KEY,
                                                 p.Attribute.KEY_TYPE: p.KeyType.EC_EDWARDS}):
                label = str(obj[p.Attribute.LABEL])
                keyid = label.removeprefix(self._prefix)
                if (label.startswith(self._prefix) and "/" not in keyid
                        and not keyid.startswith("pending-")):
                    found.append(keyid)
        return sorted(found)

    def _checked_signer(self, keyid: str) -> Pkcs11Signer:
        p = self._pkcs11
        attr = p.Attribute
        public_key = self.public_key(keyid)
        with self._session() as sess:
            private = self._private(sess, keyid)
            try:
                safe = (private[attr.SENSITIVE] and not private[attr.EXTRACTABLE]
                        and private[attr.SIGN])
            except p.exceptions.PKCS11Error as exc:
                raise _error(exc, f"cannot read the attributes of key {keyid}") from None
        if not safe:
            raise KeyCustodyError(
                f"key {keyid} on the token is extractable, not sensitive, or cannot sign")
        signer = Pkcs11Signer(self, keyid, public_key)
        # A key pair whose halves were swapped or relabelled would sign under another key.
        challenge = b"sceau-custody-check " + secrets.token_bytes(16)
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                signer.sign(challenge), challenge)
        except InvalidSignature:
            raise KeyCustodyError(
                f"the private key labelled {keyid} does not match its public key") from None
        return signer

    def _sign(self, keyid: str, message: bytes) -> bytes:
        p = self._pkcs11
        with self._session() as sess:
            key = self._private(sess, keyid)
            signature = bytes(key.sign(message, mechanism=p.Mechanism.EDDSA))
        if len(signature) != 64:
            raise KeyCustodyError(f"the token returned a {len(signature)}-byte signature")
        return signature


class Pkcs11Signer:
    """A :class:`sceau.Signer` for one key on a PKCS#11 token; thread-safe."""

    def __init__(self, custody: Pkcs11Custody, keyid: str, public_key: bytes) -> None:
        self._custody = custody
        self._keyid = keyid
        self.public_key = public_key

    @property
    def keyid(self) -> str:
        """RFC 7638 thumbprint of the public key (read from the token)."""
        return self._keyid

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature over ``message``, made on the token (CKM_EDDSA)."""
        return self._custody._sign(self._keyid, message)
