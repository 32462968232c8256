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

Batches: :meth:`Pkcs11Signer.sign_many` signs a large batch on signing processes, each
with its own load of the module, login and session (see :class:`_SigningPool`), so that
the token's work runs on several cores and the GIL of the calling process is not taken
between signatures.  SoftHSM2 cannot sign on two threads of one process in parallel
(python-pkcs11 initialises it without locking, see :class:`_Login`), while processes are
separate PKCS#11 applications, which the standard lets use a token at the same time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import secrets
import signal
import struct
import subprocess
import sys
import threading
import weakref
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.errors import KeyCustodyError, ValidationError
from sceau.keyring import key_id

__all__ = ["DEFAULT_MODULE", "SIGN_MANY_MIN_BATCH", "Pkcs11Custody", "Pkcs11Signer",
           "default_sign_processes"]

#: Debian's SoftHSM2 module; a documented default, overridden by SCEAU_PKCS11_MODULE.
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

# CKA_EC_PARAMS for Ed25519: the DER of OID id-Ed25519 1.3.101.112 (RFC 8410 §3; PKCS#11
# v3.0 §2.3.10 allows the OID or the curve name as a PrintableString).
_ED25519_EC_PARAMS = bytes.fromhex("06032b6570")
#: Batches smaller than this are signed in the calling process: a round trip to a signing
#: process costs about as much as a few signatures.
SIGN_MANY_MIN_BATCH = 64
#: A batch is split over signing processes in chunks of at least this many messages.
_MIN_CHUNK = 32
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


def default_sign_processes() -> int:
    """Signing processes per custody when not set: one per CPU this process may use, at
    most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


# -- signing processes ------------------------------------------------------------------
#
# Protocol on the worker's stdin/stdout: frames of an 8-byte little-endian length and a
# payload.  First frame in: the JSON login (module, token_label, pin, role); out: b"\0"
# when logged in, or b"\1" and an error message.  Then each request: "<HI" (key id
# length, count), the key id, ``count`` native uint32 message lengths and the messages;
# reply: b"\0", the key's 32-byte public key (read from the token and checked by the
# worker) and the 64-byte signatures in order, or b"\1" and an error message.

_FRAME = struct.Struct("<Q")
_REQUEST = struct.Struct("<HI")
_WORKER_CODE = "from sceau_keys.pkcs11 import _worker_main; _worker_main()"


def _write_all(out: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = out.write(view)
        if written is None:  # pragma: no cover - only for non-blocking files
            raise BlockingIOError
        view = view[written:]


def _write_frame(out: IO[bytes], payload: bytes) -> None:
    _write_all(out, _FRAME.pack(len(payload)))
    _write_all(out, payload)
    out.flush()


def _read_exact(inp: IO[bytes], n: int) -> bytes | None:
    """``n`` bytes, or None at end of file before the first byte."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = inp.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            if got == 0:
                return None
            raise EOFError("truncated frame")
        got += k
    return bytes(buf)


def _read_frame(inp: IO[bytes]) -> bytes | None:
    """The next frame's payload, or None at end of file."""
    header = _read_exact(inp, _FRAME.size)
    if header is None:
        return None
    (length,) = _FRAME.unpack(header)
    payload = _read_exact(inp, length) if length else b""
    if payload is None:
        raise EOFError("truncated frame")
    return payload


def _encode_request(keyid: str, messages: Sequence[bytes]) -> bytes:
    kid = keyid.encode("ascii")
    try:
        lengths = array("I", [len(m) for m in messages])
    except OverflowError:
        raise ValidationError("message too large to sign") from None
    return b"".join((_REQUEST.pack(len(kid), len(messages)), kid, lengths.tobytes(),
                     *messages))


def _decode_request(frame: bytes) -> tuple[str, list[bytes]]:
    klen, count = _REQUEST.unpack_from(frame)
    offset = _REQUEST.size
    keyid = frame[offset:offset + klen].decode("ascii")
    offset += klen
    lengths = array("I")
    lengths.frombytes(frame[offset:offset + lengths.itemsize * count])
    offset += lengths.itemsize * count
    messages = []
    for length in lengths:
        messages.append(frame[offset:offset + length])
        offset += length
    if len(lengths) != count or offset != len(frame):
        raise ValidationError("malformed signing request")
    return keyid, messages


def _worker_main() -> None:
    """A signing process (see :class:`_SigningPool`): log in, then sign batches read
    from stdin until it closes."""
    # Interrupts are the parent's business; the worker ends when its stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Only the protocol may write to the original stdout: whatever else is printed
    # (libraries, the module) goes to stderr.
    out: IO[bytes] = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    inp: IO[bytes] = os.fdopen(os.dup(0), "rb", buffering=0)
    login = _read_frame(inp)
    if login is None:
        return
    try:
        cfg = json.loads(login)
        custody = Pkcs11Custody(cfg["module"], cfg["token_label"], cfg["pin"],
                                role=cfg["role"], sign_processes=0)
    except (KeyCustodyError, ValidationError) as exc:
        _write_frame(out, b"\1" + str(exc).encode())
        return
    _write_frame(out, b"\0")
    signers: dict[str, Pkcs11Signer] = {}
    while (frame := _read_frame(inp)) is not None:
        try:
            keyid, messages = _decode_request(frame)
            signer = signers.get(keyid)
            if signer is None:
                # The same checks as in the parent: sensitive, non-extractable, and the
                # private half matches the token's public key.
                signer = signers[keyid] = custody.signer(keyid)
            reply = b"".join((b"\0", signer.public_key, *custody._sign_all(keyid, messages)))
        except (KeyCustodyError, ValidationError) as exc:
            reply = b"\1" + str(exc).encode()
        except Exception as exc:  # reported to the parent, which raises KeyCustodyError
            reply = b"\1" + f"PKCS#11 signing process failed: {type(exc).__name__}".encode()
        _write_frame(out, reply)


def _child_env() -> dict[str, str]:
    """This process's environment, with its import path (so the worker runs this code)."""
    paths = [p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class _Worker:
    """One signing process, logged in to the token on its own."""

    def __init__(self, login: bytes) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our interpreter and fixed code
            [sys.executable, "-c", _WORKER_CODE], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, bufsize=0, env=_child_env(), close_fds=True)
        try:
            self.send(login)  # the PIN goes through the pipe, never argv or environment
            reply = self.receive()
        except BaseException:
            self.close()
            raise
        if reply[:1] != b"\0":
            self.close()
            raise KeyCustodyError(reply[1:].decode("utf-8", "replace"))

    def send(self, payload: bytes) -> None:
        """Send one frame."""
        assert self.proc.stdin is not None
        try:
            _write_frame(self.proc.stdin, payload)
        except OSError:
            raise KeyCustodyError("a PKCS#11 signing process exited") from None

    def receive(self) -> bytes:
        """Receive one frame."""
        assert self.proc.stdout is not None
        try:
            frame = _read_frame(self.proc.stdout)
        except (OSError, EOFError):
            frame = None
        if frame is None:
            raise KeyCustodyError("a PKCS#11 signing process exited")
        return frame

    def close(self) -> None:
        """End the process (it exits when its stdin closes)."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with suppress(OSError):
                    pipe.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _SigningPool:
    """Signing processes for one custody, started on first use and kept; each batch is
    split over the idle ones (at least one; chunks of at least :data:`_MIN_CHUNK`).  A
    process that fails is discarded, and replaced on the next batch."""

    def __init__(self, login: dict[str, str], size: int) -> None:
        self._login = json.dumps(login).encode()
        self._size = size
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the processes that are missing (all of them on first use)."""
        with self._lock:
            # One at a time: SoftHSM2 failed logins made at the same moment by several
            # processes (CKR_GENERAL_ERROR).
            while len(self._workers) < self._size:
                worker = _Worker(self._login)
                self._workers.add(worker)
                self._idle.put(worker)

    def _acquire(self, wanted: int) -> list[_Worker]:
        while True:
            self.start()
            try:
                # A worker discarded by another caller meanwhile is replaced above.
                workers = [self._idle.get(timeout=0.5)]
                break
            except queue.Empty:
                continue
        while len(workers) < wanted:
            try:
                workers.append(self._idle.get_nowait())
            except queue.Empty:
                break
        return workers

    def _release(self, workers: list[_Worker], broken: set[_Worker]) -> None:
        with self._lock:
            for worker in workers:
                if worker in broken or worker not in self._workers:  # or closed meanwhile
                    self._workers.discard(worker)
                    worker.close()
                else:
                    self._idle.put(worker)

    def sign(self, keyid: str, public_key: bytes, messages: Sequence[bytes]) -> list[bytes]:
        """Signatures over ``messages`` in order, or KeyCustodyError (all or nothing)."""
        request_count = max(1, min(self._size, len(messages) // _MIN_CHUNK))
        workers = self._acquire(request_count)
        k = len(workers)
        bounds = [len(messages) * i // k for i in range(k + 1)]
        chunks = [messages[bounds[i]:bounds[i + 1]] for i in range(k)]
        broken: set[_Worker] = set(workers)  # until each has answered in step
        error: KeyCustodyError | None = None
        parts: list[bytes] = []
        try:
            sent: list[tuple[_Worker, int]] = []
            for worker, chunk in zip(workers, chunks, strict=True):
                try:
                    worker.send(_encode_request(keyid, chunk))
                    sent.append((worker, len(chunk)))
                except KeyCustodyError as exc:
                    error = error or exc
            for worker, count in sent:  # every worker sent a request answers it
                try:
                    reply = worker.receive()
                except KeyCustodyError as exc:
                    error = error or exc
                    continue
                if reply[:1] != b"\0":
                    broken.discard(worker)
                    error = error or KeyCustodyError(reply[1:].decode("utf-8", "replace"))
                elif reply[1:33] != public_key or len(reply) != 33 + 64 * count:
                    error = error or KeyCustodyError(
                        f"a PKCS#11 signing process answered for another key than {keyid}")
                else:
                    broken.discard(worker)
                    parts.append(reply[33:])
        finally:
            self._release(workers, broken)
        if error is not None:
            raise error
        signatures = b"".join(parts)
        return [signatures[i:i + 64] for i in range(0, len(signatures), 64)]

    def close(self) -> None:
        """Stop the idle processes now, the busy ones when their batch is done (the next
        batch starts new ones)."""
        with self._lock:
            self._workers.clear()
            while True:
                try:
                    worker = self._idle.get_nowait()
                except queue.Empty:
                    break
                worker.close()


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

    def __init__(self, module: str, token_label: str, pin: str, *, role: str = "",
                 sign_processes: int | None = None) -> None:
        """Log in to the token (once per process and token).

        ``sign_processes``: how many signing processes :meth:`Pkcs11Signer.sign_many`
        may use for large batches (started on first use); ``None`` for
        :func:`default_sign_processes`, ``0`` to sign every batch in this process.
        """
        if not pin:
            raise KeyCustodyError("set the PKCS#11 user PIN (SCEAU_PKCS11_PIN)")
        if not set(role) <= _ROLE_CHARS or len(role) > 32:
            raise ValidationError("invalid custody role")
        if sign_processes is not None and not 0 <= sign_processes <= 64:
            raise ValidationError("sign_processes must be between 0 and 64")
        self._pkcs11 = _pkcs11()
        self.module = module
        self.token_label = token_label
        self._role = role
        self._prefix = f"{role}/" if role else ""
        self._login = _login(module, token_label, pin)
        self._sess: _Session | None = None
        processes = default_sign_processes() if sign_processes is None else sign_processes
        # The pool keeps the PIN (its processes log in themselves); nothing else does.
        self._pool = (_SigningPool({"module": module, "token_label": token_label,
                                    "pin": pin, "role": role}, processes)
                      if processes else None)
        if self._pool is not None:
            weakref.finalize(self, self._pool.close)

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

    def start_signing_processes(self) -> None:
        """Start the signing processes now rather than on the first large batch (each
        loads the module and logs in: a fraction of a second); no-op without them."""
        if self._pool is not None:
            self._pool.start()

    def close(self) -> None:
        """Close this custody's session and stop its signing processes (the token login
        stays for the process)."""
        if self._pool is not None:
            self._pool.close()
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
        return self._sign_all(keyid, (message,))[0]

    def _sign_all(self, keyid: str, messages: Sequence[bytes]) -> list[bytes]:
        """Sign ``messages`` one after the other on this custody's session, holding the
        module's lock for all of them."""
        mechanism = self._pkcs11.Mechanism.EDDSA
        with self._session() as sess:
            key = self._private(sess, keyid)
            signatures = [bytes(key.sign(m, mechanism=mechanism)) for m in messages]
        for signature in signatures:
            if len(signature) != 64:
                raise KeyCustodyError(f"the token returned a {len(signature)}-byte signature")
        return signatures

    def _sign_many(self, keyid: str, public_key: bytes,
                   messages: Sequence[bytes]) -> list[bytes]:
        if self._pool is None or len(messages) < SIGN_MANY_MIN_BATCH:
            return self._sign_all(keyid, messages)
        return self._pool.sign(keyid, public_key, messages)


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

    def sign_many(self, messages: Sequence[bytes]) -> list[bytes]:
        """Ed25519 signatures over ``messages``, in order, made on the token: a large
        batch is split over the custody's signing processes.  All or nothing: any failure
        raises :class:`KeyCustodyError` and no signature is returned."""
        for m in messages:
            if not isinstance(m, bytes):
                raise TypeError("sign_many takes a sequence of bytes")
        return self._custody._sign_many(self._keyid, self.public_key, messages)
