"""A tenant's signed key history: statements, head, document, offline walk (SPEC.md §6.2).

Pure: no I/O, no clock (``now`` and ``issued`` are passed in).

A **key statement** (payload type ``application/vnd.sceau.key-statement.v1+json``) is a
snapshot of a tenant's whole key set at one version, linked to the statement before it by
the SHA-256 of that statement's payload.  Statements are signed under the rules of
SPEC.md §6.2.3 (outgoing and incoming active key, the offline root where one is named).
The **head** (``application/vnd.sceau.key-history.v1+json``), signed by the current active
key, names the last statement and says until when the document may be believed
(``expires``: freeze detection).  The **document** the service serves is
``{"head": <envelope>, "statements": [<envelope>, ...], "tenant": <slug>}``.

Builder API (for the service; all results are canonical bytes)::

    statement = KeyStatement(tenant="acme", version=2, issued=now,
                             keys=(old_record, new_record),       # the FULL key set
                             previous=statement_digest(prev_statement),
                             root=root_public_key_or_None)
    envelope = sign_statement(statement, [old_signer, new_signer, root_signer],
                              previous=prev_statement)            # bytes; None for v1
    head = sign_history_head(tenant="acme", statement=envelope, issued=now,
                             expires=now + timedelta(days=1), signer=active_signer)
    document = build_history_document([env_v1, env_v2, ...], head)

    KeyStatement.first(tenant, keys, issued, root=None)            # version 1
    prev_statement.successor(keys, issued, root=...)               # version n+1
    statement_digest(statement_or_payload_bytes) -> bytes          # 32 bytes
    read_statement(envelope_bytes) -> KeyStatement                 # no signature check
    required_signers(statement, previous) -> frozenset[str]        # key ids

``sign_statement`` refuses (:class:`~sceau.errors.KeyHistoryError`) a statement that breaks
a transition rule or whose signers are not exactly the required ones (plus the optional
ones of §6.2.3).  Verifier API::

    verify_key_history(document, anchor, now=...) -> VerifiedHistory   # raises
    verify_seal_with_history(seal, document, anchor, now=..., ...) -> Verdict
    TrustAnchor(tenant, root_keyid=..., keyid=...)          # a pin
    TrustBundle: what ``sceau keys fetch --bundle`` saves; update_trust_bundle(...)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, overload

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sceau.canonical import canonicalize
from sceau.checkpoint import LogKey
from sceau.encoding import b64url_decode, b64url_encode
from sceau.envelope import (
    KEY_STATEMENT_PAYLOAD_TYPE,
    SIGNATURE_LEN,
    Envelope,
    Signature,
    Signer,
    pae,
    parse_envelope,
)
from sceau.errors import (
    KeyHistoryChainBrokenError,
    KeyHistoryError,
    KeyHistoryExpiredError,
    KeyHistoryForkError,
    KeyHistoryRollbackError,
    KeyHistorySignatureInvalidError,
    KeyHistorySignatureMissingError,
    KeyHistoryTenantMismatchError,
    KeyHistoryTransitionError,
    KeyHistoryUntrustedAnchorError,
    SceauError,
    ValidationError,
)
from sceau.keyring import ED25519_PUBLIC_KEY_LEN, KeyRecord, KeyRing, KeyStatus, key_id
from sceau.strictjson import loads
from sceau.timefmt import format_time, parse_time
from sceau.verify import (
    ContentDigest,
    Integrity,
    KeyState,
    SignatureState,
    Verdict,
    seal_id,
    verify_seal,
)

__all__ = [
    "KEY_HISTORY_PAYLOAD_TYPE",
    "KEY_STATEMENT_PAYLOAD_TYPE",
    "MAX_HISTORY_BYTES",
    "MAX_KEYS",
    "MAX_STATEMENTS",
    "TRUST_BUNDLE_FORMAT",
    "HistoryHead",
    "KeyStatement",
    "TrustAnchor",
    "TrustBundle",
    "VerifiedHistory",
    "build_history_document",
    "read_statement",
    "required_signers",
    "sign_history_head",
    "sign_statement",
    "statement_digest",
    "update_trust_bundle",
    "verify_key_history",
    "verify_seal_with_history",
]

KEY_HISTORY_PAYLOAD_TYPE = "application/vnd.sceau.key-history.v1+json"
TRUST_BUNDLE_FORMAT = "sceau-trust-bundle/1"
#: Largest history document a verifier reads (SPEC.md §6.2.4).
MAX_HISTORY_BYTES = 16 * 1024 * 1024
#: Most statements in one document, and most keys in one statement.
MAX_STATEMENTS = 4096
MAX_KEYS = 256
_DIGEST_LEN = 32
_TENANT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_STATEMENT_MEMBERS = frozenset({"tenant", "version", "previous", "issued", "keys", "root"})
_HEAD_MEMBERS = frozenset({"tenant", "version", "statement", "issued", "expires"})
_DOCUMENT_MEMBERS = frozenset({"tenant", "statements", "head"})
_ROOT_MEMBERS = frozenset({"kty", "crv", "x", "kid"})
# Allowed status changes of a key already in the history (SPEC.md §6.2.2).
_NEXT_STATUS: dict[KeyStatus, frozenset[KeyStatus]] = {
    KeyStatus.PENDING: frozenset(KeyStatus),
    KeyStatus.ACTIVE: frozenset({KeyStatus.ACTIVE, KeyStatus.RETIRED, KeyStatus.REVOKED}),
    KeyStatus.RETIRED: frozenset({KeyStatus.RETIRED, KeyStatus.REVOKED}),
    KeyStatus.REVOKED: frozenset({KeyStatus.REVOKED}),
}


def _check_tenant(tenant: Any) -> str:
    if (not isinstance(tenant, str) or not 0 < len(tenant) <= 63
            or not set(tenant) <= _TENANT_CHARS or tenant.startswith("-")):
        raise KeyHistoryError("tenant must be a slug: [a-z0-9][a-z0-9-]{0,62}")
    return tenant


def statement_digest(statement: KeyStatement | bytes) -> bytes:
    """SHA-256 (32 bytes) of a statement's payload bytes: what the next statement's
    ``previous`` and the head's ``statement`` hold.  Give the statement, or its payload
    bytes (``Envelope.payload``, not the envelope's bytes)."""
    payload = statement.payload() if isinstance(statement, KeyStatement) else statement
    return hashlib.sha256(payload).digest()


@overload
def _second(when: datetime) -> datetime: ...


@overload
def _second(when: None) -> None: ...


def _second(when: datetime | None) -> datetime | None:
    """``when`` without its sub-second part, as the wire holds it (SPEC.md §2.4)."""
    return when if when is None or when.microsecond == 0 else when.replace(microsecond=0)


def _root_jwk(public_key: bytes) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(public_key),
            "kid": key_id(public_key)}


@dataclass(frozen=True, slots=True)
class KeyStatement:
    """One version of a tenant's key set (SPEC.md §6.2.1)."""

    tenant: str
    version: int
    issued: datetime
    keys: tuple[KeyRecord, ...]
    previous: bytes | None = None
    #: The tenant's offline root public key (32 bytes), or None.
    root: bytes | None = None
    _by_id: dict[str, KeyRecord] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The wire has whole seconds (SPEC.md §2.4): hold what the payload says, so that a
        # statement built from stored rows equals the same statement read back.
        object.__setattr__(self, "issued", _second(self.issued))
        object.__setattr__(self, "keys", tuple(
            k if all(t is None or t.microsecond == 0
                     for t in (k.not_before, k.not_after, k.compromised_since))
            else replace(k, not_before=_second(k.not_before), not_after=_second(k.not_after),
                         compromised_since=_second(k.compromised_since))
            for k in self.keys))
        # Key ids are SHA-256 thumbprints: computed once, not at every lookup.
        object.__setattr__(self, "_by_id", {k.keyid: k for k in self.keys})

    @classmethod
    def first(cls, tenant: str, keys: Iterable[KeyRecord], issued: datetime,
              root: bytes | None = None) -> KeyStatement:
        """Version 1 of a history."""
        return cls(tenant, 1, issued, tuple(keys), None, root)

    def successor(self, keys: Iterable[KeyRecord], issued: datetime, *,
                  root: bytes | str | None = "same") -> KeyStatement:
        """Version n+1 with the given full key set; ``root`` stays unless given."""
        new_root = self.root if isinstance(root, str) else root
        return KeyStatement(self.tenant, self.version + 1, issued, tuple(keys),
                            statement_digest(self), new_root)

    @property
    def root_keyid(self) -> str | None:
        """The root key's id, or None."""
        return None if self.root is None else key_id(self.root)

    @property
    def active(self) -> KeyRecord:
        """The one active key (a well-formed statement has exactly one)."""
        active = [k for k in self._by_id.values() if k.status is KeyStatus.ACTIVE]
        if len(active) != 1:
            raise KeyHistoryTransitionError(
                f"version {self.version} has {len(active)} active keys, not exactly one")
        return active[0]

    def by_id(self) -> Mapping[str, KeyRecord]:
        """The keys by key id."""
        return self._by_id

    def ring(self) -> KeyRing:
        """The tenant's key ring at this version, trusting this tenant only."""
        return KeyRing(self.keys, trusted_tenants=[self.tenant])

    def to_json(self) -> dict[str, Any]:
        """The statement's JSON object (SPEC.md §6.2.1)."""
        doc: dict[str, Any] = {
            "tenant": self.tenant,
            "version": self.version,
            "issued": format_time(self.issued),
            "keys": [k.to_jwk() for k in self.keys],
        }
        if self.previous is not None:
            doc["previous"] = b64url_encode(self.previous)
        if self.root is not None:
            doc["root"] = _root_jwk(self.root)
        return doc

    def payload(self) -> bytes:
        """The canonical payload bytes (what is signed)."""
        return canonicalize(self.to_json())

    @classmethod
    def from_payload(cls, payload: bytes) -> KeyStatement:
        """Parse and check a statement payload's shape (§6.2.1); no signature check."""
        obj = _canonical_object(payload, "statement")
        unknown = set(obj) - _STATEMENT_MEMBERS
        if unknown:
            raise KeyHistoryError(f"statement has unknown member(s) {sorted(unknown)[:5]}")
        tenant = _check_tenant(obj.get("tenant"))
        version = _positive_int(obj.get("version"), "statement version")
        issued = _time(obj.get("issued"), "statement issued")
        previous = None
        if version == 1:
            if "previous" in obj:
                raise KeyHistoryError("version 1 has no 'previous'")
        else:
            previous = _digest(obj.get("previous"), "previous")
        keys_doc = obj.get("keys")
        if not isinstance(keys_doc, list) or not 0 < len(keys_doc) <= MAX_KEYS:
            raise KeyHistoryError(f"'keys' must be an array of 1 to {MAX_KEYS} JWKs")
        keys = []
        for jwk in keys_doc:
            if not isinstance(jwk, dict):
                raise KeyHistoryError("each key is a JWK object")
            try:
                record = KeyRecord.from_jwk(jwk)
            except ValidationError as exc:
                raise KeyHistoryError(f"statement key: {exc.detail}") from None
            if record.to_jwk() != jwk:
                raise KeyHistoryError("each key is exactly the JWK of SPEC.md §5.2, kid and "
                                      "sceau_status included, nothing else")
            keys.append(record)
        root = None
        if "root" in obj:
            root = _read_root(obj["root"])
        statement = cls(tenant, version, issued, tuple(keys), previous, root)
        _check_statement(statement)
        return statement


def _canonical_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        obj = loads(payload)
    except SceauError as exc:
        raise KeyHistoryError(f"{what} payload: {exc.detail}") from None
    if not isinstance(obj, dict):
        raise KeyHistoryError(f"{what} payload is not an object")
    if canonicalize(obj) != payload:
        raise KeyHistoryError(f"{what} payload is not canonical (RFC 8785)")
    return obj


def _positive_int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise KeyHistoryError(f"{what} must be a positive integer")
    return value


def _time(value: Any, what: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise KeyHistoryError(f"{what}: {exc}") from None


def _digest(value: Any, what: str) -> bytes:
    try:
        digest = b64url_decode(value, max_len=_DIGEST_LEN)
    except ValueError as exc:
        raise KeyHistoryError(f"'{what}': {exc}") from None
    if len(digest) != _DIGEST_LEN:
        raise KeyHistoryError(f"'{what}' must be a 32-byte SHA-256 digest")
    return digest


def _read_root(value: Any) -> bytes:
    if not isinstance(value, dict) or set(value) != _ROOT_MEMBERS:
        raise KeyHistoryError("'root' is exactly {kty, crv, x, kid}")
    if value["kty"] != "OKP" or value["crv"] != "Ed25519":
        raise KeyHistoryError("the root key is OKP/Ed25519")
    try:
        public = b64url_decode(value["x"], max_len=ED25519_PUBLIC_KEY_LEN)
    except ValueError as exc:
        raise KeyHistoryError(f"root 'x': {exc}") from None
    if len(public) != ED25519_PUBLIC_KEY_LEN or value["kid"] != key_id(public):
        raise KeyHistoryError("root 'x' is 32 bytes and 'kid' its RFC 7638 thumbprint")
    return public


def _check_statement(s: KeyStatement) -> None:
    """The rules on one statement alone (SPEC.md §6.2.2, first list)."""
    _check_tenant(s.tenant)
    if s.version < 1 or (s.version == 1) != (s.previous is None):
        raise KeyHistoryError("version 1 has no 'previous'; every later version has one")
    if not 0 < len(s.keys) <= MAX_KEYS:
        raise KeyHistoryError(f"a statement holds 1 to {MAX_KEYS} keys")
    ids = s.by_id()
    if len(ids) != len(s.keys):
        raise KeyHistoryTransitionError(f"version {s.version} lists a key twice")
    if any(k.tenant != s.tenant for k in s.keys):
        raise KeyHistoryTenantMismatchError(
            f"version {s.version} lists a key of another tenant")
    s.active  # noqa: B018 -- raises unless exactly one key is active
    if s.root is not None and s.root_keyid in ids:
        raise KeyHistoryTransitionError("the root key cannot also be a signing key")


def _check_transition(prev: KeyStatement, s: KeyStatement,
                      prev_digest: bytes | None = None) -> None:
    """The rules between consecutive statements (SPEC.md §6.2.2, second list);
    ``prev_digest`` is ``prev``'s digest when the caller has it."""
    if s.tenant != prev.tenant:
        raise KeyHistoryTenantMismatchError(
            f"version {s.version} names tenant {s.tenant!r}, the history is {prev.tenant!r}")
    if s.version != prev.version + 1:
        raise KeyHistoryChainBrokenError(
            f"version {s.version} follows version {prev.version}")
    if s.previous != (prev_digest or statement_digest(prev)):
        raise KeyHistoryChainBrokenError(
            f"version {s.version}'s 'previous' is not the digest of version {prev.version}")
    if s.issued < prev.issued:
        raise KeyHistoryTransitionError(f"version {s.version} is issued before its predecessor")
    new = s.by_id()
    for kid, old in prev.by_id().items():
        cur = new.get(kid)
        if cur is None:
            raise KeyHistoryTransitionError(f"key {kid} disappears at version {s.version}")
        if cur.status not in _NEXT_STATUS[old.status]:
            raise KeyHistoryTransitionError(
                f"key {kid} goes from {old.status.value} to {cur.status.value}")
        if (cur.not_before, cur.not_after) != (old.not_before, old.not_after):
            raise KeyHistoryTransitionError(f"key {kid}'s validity window changes")
        if old.compromised_since is not None and (
                cur.compromised_since is None or cur.compromised_since > old.compromised_since):
            raise KeyHistoryTransitionError(
                f"key {kid}'s compromise time is removed or moved later")
    for kid, cur in new.items():
        if kid not in prev.by_id() and (
                cur.status not in (KeyStatus.PENDING, KeyStatus.ACTIVE)
                or cur.compromised_since is not None):
            raise KeyHistoryTransitionError(
                f"key {kid} is added as {cur.status.value}: new keys are pending or active")


def _needs_root(prev: KeyStatement, s: KeyStatement) -> bool:
    """Does version n add a key, revoke one, change a compromise time, or change the root?"""
    old = prev.by_id()
    for kid, cur in s.by_id().items():
        before = old.get(kid)
        if before is None:
            return True
        if (cur.status is KeyStatus.REVOKED) != (before.status is KeyStatus.REVOKED):
            return True
        if cur.compromised_since != before.compromised_since:
            return True
    return s.root != prev.root


def _signer_sets(s: KeyStatement, prev: KeyStatement | None) -> tuple[set[str], set[str]]:
    """(required, allowed) signer key ids for statement ``s`` (SPEC.md §6.2.3)."""
    incoming = s.active.keyid
    required = {incoming}
    allowed = {incoming}
    if prev is None:
        if s.root is not None:
            required.add(key_id(s.root))
        return required, required
    outgoing = prev.active.keyid
    allowed.add(outgoing)
    if prev.root is not None:
        root = key_id(prev.root)
        allowed.add(root)
        if _needs_root(prev, s):
            required.add(root)
        # Emergency (§6.2.3 rule 4): with a root, a revoked outgoing key need not sign.
        if s.by_id()[outgoing].status is not KeyStatus.REVOKED:
            required.add(outgoing)
    else:
        required.add(outgoing)
    if s.root is not None and s.root != prev.root:
        required.add(key_id(s.root))
        allowed.add(key_id(s.root))
    return required, allowed


def required_signers(statement: KeyStatement,
                     previous: KeyStatement | None = None) -> frozenset[str]:
    """The key ids that must sign ``statement`` (after ``previous``)."""
    return frozenset(_signer_sets(statement, previous)[0])


def sign_statement(statement: KeyStatement, signers: Sequence[Signer],
                   previous: KeyStatement | None = None) -> bytes:
    """Sign a statement; return the envelope's canonical bytes.

    Refuses (raises :class:`KeyHistoryError`) a statement that breaks SPEC.md §6.2.2 after
    ``previous`` (None for version 1), a missing required signer, or a signer that is not
    allowed to sign it.  Signatures are ordered by key id.
    """
    _check_statement(statement)
    if previous is None:
        if statement.version != 1:
            raise KeyHistoryChainBrokenError("only version 1 has no previous statement")
    else:
        _check_transition(previous, statement)
    required, allowed = _signer_sets(statement, previous)
    by_id = {s.keyid: s for s in signers}
    if len(by_id) != len(signers):
        raise KeyHistoryError("a signer is given twice")
    missing = required - set(by_id)
    if missing:
        raise KeyHistorySignatureMissingError(
            f"version {statement.version} must also be signed by {sorted(missing)}")
    extra = set(by_id) - allowed
    if extra:
        raise KeyHistorySignatureInvalidError(
            f"{sorted(extra)} may not sign version {statement.version}")
    payload = statement.payload()
    message = pae(KEY_STATEMENT_PAYLOAD_TYPE, payload)
    sigs = tuple(Signature(k, by_id[k].sign(message)) for k in sorted(by_id))
    return Envelope(KEY_STATEMENT_PAYLOAD_TYPE, payload, sigs).to_bytes()


def read_statement(envelope: bytes) -> KeyStatement:
    """The statement in an envelope, WITHOUT checking its signatures (for the service's
    own stored statements; verifiers use :func:`verify_key_history`)."""
    env = _envelope(envelope, KEY_STATEMENT_PAYLOAD_TYPE, "statement")
    return KeyStatement.from_payload(env.payload)


@dataclass(frozen=True, slots=True)
class HistoryHead:
    """The signed head of a history document (SPEC.md §6.2.4)."""

    tenant: str
    version: int
    statement: bytes
    issued: datetime
    expires: datetime

    def to_json(self) -> dict[str, Any]:
        """The head's JSON object."""
        return {"tenant": self.tenant, "version": self.version,
                "statement": b64url_encode(self.statement),
                "issued": format_time(self.issued), "expires": format_time(self.expires)}

    @classmethod
    def from_payload(cls, payload: bytes) -> HistoryHead:
        """Parse and check a head payload (no signature check)."""
        obj = _canonical_object(payload, "head")
        if set(obj) != _HEAD_MEMBERS:
            raise KeyHistoryError(f"the head has exactly the members {sorted(_HEAD_MEMBERS)}")
        head = cls(_check_tenant(obj["tenant"]), _positive_int(obj["version"], "head version"),
                   _digest(obj["statement"], "statement"), _time(obj["issued"], "head issued"),
                   _time(obj["expires"], "head expires"))
        if head.expires <= head.issued:
            raise KeyHistoryError("the head expires before it is issued")
        return head


def sign_history_head(*, tenant: str, statement: bytes, issued: datetime,
                      expires: datetime, signer: Signer) -> bytes:
    """Sign the head naming the last statement (its envelope bytes); the signer must be
    that statement's active key.  Returns the head envelope's canonical bytes."""
    last = read_statement(statement)
    if last.tenant != tenant:
        raise KeyHistoryTenantMismatchError("the head's tenant is not the statement's")
    if signer.keyid != last.active.keyid:
        raise KeyHistorySignatureInvalidError("the head is signed by the active key")
    if expires <= issued:
        raise KeyHistoryError("the head expires before it is issued")
    head = HistoryHead(tenant, last.version, statement_digest(last),
                       issued, expires)
    payload = canonicalize(head.to_json())
    sig = signer.sign(pae(KEY_HISTORY_PAYLOAD_TYPE, payload))
    return Envelope(KEY_HISTORY_PAYLOAD_TYPE, payload,
                    (Signature(signer.keyid, sig),)).to_bytes()


def build_history_document(statements: Sequence[bytes], head: bytes) -> bytes:
    """The document ``{"head", "statements", "tenant"}`` (canonical bytes) from the
    statements' envelope bytes (version 1 first) and the head's."""
    if not statements:
        raise KeyHistoryError("a history has at least one statement")
    first = read_statement(statements[0])
    doc = {"tenant": first.tenant,
           "statements": [parse_envelope(s).to_json() for s in statements],
           "head": parse_envelope(head).to_json()}
    data = canonicalize(doc)
    if len(data) > MAX_HISTORY_BYTES or len(statements) > MAX_STATEMENTS:
        raise KeyHistoryError("the history exceeds its size limits (SPEC.md §6.2.4)")
    return data


# -- verification ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """What a verifier trusts before it reads a history (SPEC.md §6.2.5).

    ``root_keyid``: a pinned root key; ``keyid``: a pinned signing key (typically the
    tenant's first); at least one.  ``version``/``digest``/``head_issued`` come from a
    previously verified history (a trust bundle): the new one must contain that very
    statement at that version and be no older.
    """

    tenant: str
    root_keyid: str | None = None
    keyid: str | None = None
    version: int = 0
    digest: bytes | None = None
    head_issued: datetime | None = None

    def __post_init__(self) -> None:
        if self.root_keyid is None and self.keyid is None:
            raise ValueError("a trust anchor pins a root key or a signing key")
        if (self.version > 0) != (self.digest is not None):
            raise ValueError("version and digest come together")


@dataclass(frozen=True, slots=True)
class VerifiedHistory:
    """A history that verified: its last statement and head."""

    statement: KeyStatement
    head: HistoryHead
    digest: bytes

    @property
    def tenant(self) -> str:
        """The tenant."""
        return self.statement.tenant

    @property
    def version(self) -> int:
        """The last statement's version."""
        return self.statement.version

    @property
    def ring(self) -> KeyRing:
        """The tenant's key ring (the last statement's keys), trusting this tenant only."""
        return self.statement.ring()


def _envelope(data: bytes | Mapping[str, Any], payload_type: str, what: str) -> Envelope:
    try:
        raw = data if isinstance(data, bytes) else canonicalize(data)
        env = parse_envelope(raw)
    except SceauError as exc:
        raise KeyHistoryError(f"{what}: {exc.detail}") from None
    if env.payload_type != payload_type:
        raise KeyHistoryError(f"{what} has payload type {env.payload_type!r}")
    if env.log is not None or env.key_history is not None:
        raise KeyHistoryError(f"{what} has no 'log' or 'keyHistory' member")
    return env


def _sigs(env: Envelope, what: str) -> dict[str, bytes]:
    sigs: dict[str, bytes] = {}
    for sig in env.signatures:
        if sig.keyid in sigs:
            raise KeyHistoryError(f"{what} has two signatures by {sig.keyid}")
        if len(sig.sig) != SIGNATURE_LEN:
            raise KeyHistorySignatureInvalidError(f"{what}: a signature is not 64 bytes")
        sigs[sig.keyid] = sig.sig
    return sigs


def _check_sig(public: bytes, env: Envelope, sig: bytes, what: str) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, pae(env.payload_type,
                                                                   env.payload))
    except InvalidSignature:
        raise KeyHistorySignatureInvalidError(
            f"{what}: the signature by {key_id(public)} does not verify") from None


def _known_keys(s: KeyStatement) -> dict[str, bytes]:
    keys = {kid: k.public_key for kid, k in s.by_id().items()}
    if s.root is not None:
        keys[key_id(s.root)] = s.root
    return keys


def _walk(envs: list[Envelope]) -> list[tuple[KeyStatement, bytes]]:
    """Verify every statement's signatures and rules; return them with their digests."""
    out: list[tuple[KeyStatement, bytes]] = []
    prev: KeyStatement | None = None
    for n, env in enumerate(envs, 1):
        what = f"statement {n}"
        sigs = _sigs(env, what)
        checked: set[str] = set()
        if prev is not None:
            # Verify before parse: the keys of version n-1 allowed to sign version n (its
            # active key, its root) are known before version n is read; one must have signed.
            known = {prev.active.keyid: prev.active.public_key}
            if prev.root is not None:
                known[key_id(prev.root)] = prev.root
            present = [k for k in known if k in sigs]
            if not present:
                raise KeyHistorySignatureMissingError(
                    f"{what} is signed by neither the active key nor the root of version "
                    f"{n - 1}")
            for kid in present:
                _check_sig(known[kid], env, sigs[kid], what)
                checked.add(kid)
        s = KeyStatement.from_payload(env.payload)
        if s.version != n:
            raise KeyHistoryChainBrokenError(f"{what} has version {s.version}")
        if prev is not None:
            _check_transition(prev, s, out[-1][1])
        required, allowed = _signer_sets(s, prev)
        stray = set(sigs) - allowed
        if stray:
            raise KeyHistorySignatureInvalidError(
                f"{what} is signed by {sorted(stray)[0]}, which may not sign it")
        missing = required - set(sigs)
        if missing:
            raise KeyHistorySignatureMissingError(
                f"{what} lacks the signature of {sorted(missing)}")
        keys = _known_keys(s)
        if prev is not None:
            keys.update(_known_keys(prev))
        for kid in sorted(set(sigs) - checked):
            _check_sig(keys[kid], env, sigs[kid], what)
        out.append((s, statement_digest(env.payload)))
        prev = s
    return out


def _parse_document(data: bytes | str | Mapping[str, Any],
                    anchor: TrustAnchor) -> tuple[list[Envelope], Envelope]:
    if isinstance(data, Mapping):
        doc: Any = data
    else:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        try:
            doc = loads(raw, max_bytes=MAX_HISTORY_BYTES)
        except SceauError as exc:
            raise KeyHistoryError(f"history document: {exc.detail}") from None
    if not isinstance(doc, Mapping) or set(doc) != _DOCUMENT_MEMBERS:
        raise KeyHistoryError("a history document is exactly {head, statements, tenant}")
    tenant = _check_tenant(doc["tenant"])
    items = doc["statements"]
    if not isinstance(items, list) or not 0 < len(items) <= MAX_STATEMENTS:
        raise KeyHistoryError(f"'statements' is an array of 1 to {MAX_STATEMENTS} envelopes")
    if tenant != anchor.tenant:
        raise KeyHistoryTenantMismatchError(
            f"the history is tenant {tenant!r}'s, the anchor is {anchor.tenant!r}'s")
    if len(items) < anchor.version:
        raise KeyHistoryRollbackError(
            f"the history has {len(items)} statement(s); version {anchor.version} was "
            "already seen")
    for item in (*items, doc["head"]):
        if not isinstance(item, Mapping):
            raise KeyHistoryError("statements and head are envelope objects")
    envs = [_envelope(item, KEY_STATEMENT_PAYLOAD_TYPE, f"statement {n}")
            for n, item in enumerate(items, 1)]
    return envs, _envelope(doc["head"], KEY_HISTORY_PAYLOAD_TYPE, "head")


def verify_key_history(document: bytes | str | Mapping[str, Any], anchor: TrustAnchor, *,
                       now: datetime) -> VerifiedHistory:
    """Walk a history document from version 1 and verify it (SPEC.md §6.2.5).

    Returns the last statement (its keys are the tenant's ring) or raises a
    :class:`~sceau.errors.KeyHistoryError` subclass whose ``code`` names the failure.
    """
    envs, head_env = _parse_document(document, anchor)
    walked = _walk(envs)
    statements = [s for s, _ in walked]
    # The anchor: the pins must vouch for the chain (§6.2.5 step 3).
    if anchor.root_keyid is not None and not any(
            s.root_keyid == anchor.root_keyid for s in statements):
        raise KeyHistoryUntrustedAnchorError(
            f"no statement names the pinned root {anchor.root_keyid}")
    if anchor.keyid is not None and not any(
            s.active.keyid == anchor.keyid for s in statements):
        raise KeyHistoryUntrustedAnchorError(
            f"the pinned key {anchor.keyid} is never the active key")
    if anchor.digest is not None and walked[anchor.version - 1][1] != anchor.digest:
        raise KeyHistoryForkError(
            f"version {anchor.version} differs from the one already seen")
    last, digest = walked[-1]
    # The head: signed by the last active key, checked before it is parsed.
    sigs = _sigs(head_env, "head")
    active = last.active
    if active.keyid not in sigs:
        raise KeyHistorySignatureMissingError("the head is not signed by the active key")
    if len(sigs) != 1:
        raise KeyHistorySignatureInvalidError("the head has one signature, the active key's")
    _check_sig(active.public_key, head_env, sigs[active.keyid], "head")
    head = HistoryHead.from_payload(head_env.payload)
    if head.tenant != last.tenant:
        raise KeyHistoryTenantMismatchError("the head names another tenant")
    if head.version != last.version or head.statement != digest:
        raise KeyHistoryChainBrokenError("the head does not name the last statement")
    if head.issued < last.issued:
        raise KeyHistoryChainBrokenError("the head is issued before its statement")
    if anchor.head_issued is not None and head.issued < anchor.head_issued:
        raise KeyHistoryRollbackError("the head is older than the one already seen")
    if now >= head.expires:
        raise KeyHistoryExpiredError(
            f"the history expired at {format_time(head.expires)}: refresh it")
    return VerifiedHistory(last, head, digest)


def verify_seal_with_history(
    seal: bytes | str | Envelope,
    history: bytes | str | Mapping[str, Any] | VerifiedHistory,
    anchor: TrustAnchor | None = None,
    *,
    now: datetime,
    content: ContentDigest | None = None,
    log_keys: Sequence[LogKey] | None = None,
    require_log: bool = False,
) -> Verdict:
    """Verify a seal with the ring of a tenant's key history (SPEC.md §6.2.6).

    A history that does not verify gives a failing verdict whose only code is the history's
    (``sceau.keyHistory.*``), key status ``unknown``; never an exception.  Otherwise the
    verdict is :func:`sceau.verify.verify_seal`'s with the history's ring, which trusts the
    history's tenant only.
    """
    if isinstance(history, VerifiedHistory):
        verified = history
    else:
        if anchor is None:
            raise ValueError("a history document needs a trust anchor")
        try:
            verified = verify_key_history(history, anchor, now=now)
        except KeyHistoryError as exc:
            return _history_failure(seal, exc.code)
    return verify_seal(seal, verified.ring, now=now, content=content, log_keys=log_keys,
                       require_log=require_log)


def _history_failure(seal: bytes | str | Envelope, code: str) -> Verdict:
    keyid = sid = None
    try:
        env = seal if isinstance(seal, Envelope) else parse_envelope(seal)
        sid = seal_id(env)
        if len(env.signatures) == 1:
            keyid = env.signatures[0].keyid
    except SceauError:
        pass
    return Verdict(status_codes=(code,), signature=SignatureState.NOT_CHECKED,
                   integrity=Integrity.NOT_CHECKED, key_state=KeyState.UNKNOWN,
                   keyid=keyid, seal_id=sid)


# -- trust bundles ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """What ``sceau keys fetch --bundle`` saves: the pin, the history document, and how far
    it was verified (SPEC.md §6.2.7)."""

    anchor: TrustAnchor
    document: Mapping[str, Any] = field(repr=False)

    @property
    def tenant(self) -> str:
        """The tenant."""
        return self.anchor.tenant

    def verify(self, now: datetime) -> VerifiedHistory:
        """Re-verify the saved history against the pin (not against its own progress
        marks, which it set) at ``now``."""
        pin = TrustAnchor(self.anchor.tenant, root_keyid=self.anchor.root_keyid,
                          keyid=self.anchor.keyid)
        verified = verify_key_history(self.document, pin, now=now)
        if verified.version != self.anchor.version or verified.digest != self.anchor.digest:
            raise KeyHistoryError("the bundle's version marks do not match its history")
        return verified

    def to_bytes(self) -> bytes:
        """Canonical bytes of the bundle file."""
        a = self.anchor
        pin: dict[str, str] = {}
        if a.root_keyid is not None:
            pin["root"] = a.root_keyid
        if a.keyid is not None:
            pin["key"] = a.keyid
        doc = {
            "format": TRUST_BUNDLE_FORMAT,
            "tenant": a.tenant,
            "pin": pin,
            "version": a.version,
            "statement": None if a.digest is None else b64url_encode(a.digest),
            "head_issued": None if a.head_issued is None else format_time(a.head_issued),
            "history": dict(self.document),
        }
        return canonicalize(doc)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrustBundle:
        """Read a bundle file; raises :class:`KeyHistoryError` (malformed)."""
        try:
            doc = loads(data, max_bytes=MAX_HISTORY_BYTES + 4096)
        except SceauError as exc:
            raise KeyHistoryError(f"trust bundle: {exc.detail}") from None
        if (not isinstance(doc, dict) or doc.get("format") != TRUST_BUNDLE_FORMAT
                or set(doc) != {"format", "tenant", "pin", "version", "statement",
                                "head_issued", "history"}):
            raise KeyHistoryError(f"not a {TRUST_BUNDLE_FORMAT} file")
        pin = doc["pin"]
        if (not isinstance(pin, dict) or not pin or not set(pin) <= {"root", "key"}
                or not all(isinstance(v, str) and 0 < len(v) <= 128 for v in pin.values())):
            raise KeyHistoryError("trust bundle: 'pin' is {root?: keyid, key?: keyid}")
        if not isinstance(doc["history"], dict):
            raise KeyHistoryError("trust bundle: 'history' is a history document")
        try:
            anchor = TrustAnchor(
                _check_tenant(doc["tenant"]), root_keyid=pin.get("root"), keyid=pin.get("key"),
                version=_positive_int(doc["version"], "bundle version"),
                digest=_digest(doc["statement"], "statement"),
                head_issued=_time(doc["head_issued"], "head_issued"))
        except ValueError as exc:
            raise KeyHistoryError(f"trust bundle: {exc}") from None
        return cls(anchor, doc["history"])


def update_trust_bundle(saved: TrustBundle | None, document: bytes, *, now: datetime,
                        tenant: str | None = None, pin_root: str | None = None,
                        pin_key: str | None = None,
                        trust_on_first_use: bool = False) -> TrustBundle:
    """Verify a freshly fetched history and return the bundle to save (SPEC.md §6.2.7).

    With ``saved``, the history must extend it (no rollback, no fork).  Without it, the
    caller pins ``pin_root`` and/or ``pin_key`` (key ids), or ``trust_on_first_use`` pins
    the active key of version 1 as found in the document.
    """
    if saved is not None:
        anchor = saved.anchor
        if tenant is not None and tenant != anchor.tenant:
            raise KeyHistoryTenantMismatchError("the bundle is another tenant's")
        if pin_root is not None or pin_key is not None or trust_on_first_use:
            raise ValueError("the bundle is already pinned")
    else:
        if tenant is None:
            raise ValueError("the first fetch names its tenant")
        if pin_root is None and pin_key is None:
            if not trust_on_first_use:
                raise KeyHistoryUntrustedAnchorError(
                    "nothing pinned: give a root or key id, or trust on first use")
            envs, _ = _parse_document(document, TrustAnchor(tenant, keyid="-"))
            pin_key = KeyStatement.from_payload(envs[0].payload).active.keyid
        anchor = TrustAnchor(tenant, root_keyid=pin_root, keyid=pin_key)
    verified = verify_key_history(document, anchor, now=now)
    doc = loads(document, max_bytes=MAX_HISTORY_BYTES)
    return TrustBundle(replace(anchor, version=verified.version, digest=verified.digest,
                               head_issued=verified.head.issued), doc)
