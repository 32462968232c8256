"""Synchronous HTTP client for a Sceau service (docs/API.md).

The client only ever sends content *digests*: media is hashed locally and never leaves
the caller's machine.  Every answer is read under the Sceau JSON profile, and a seal that
comes back is checked before it is handed out: its id must be the SHA-256 of its payload
and its claim must bind the digest that was sent.

Errors: a non-2xx answer carrying ``{"code", "detail"}`` raises the same
:class:`~sceau.errors.SceauError` subclass the service raised
(:func:`~sceau.errors.error_from_code`); anything else, including a network failure or
an answer that cannot be read, raises :class:`~sceau.errors.TransportError`.

Retry policy
------------
Up to ``retries`` further attempts, with exponential backoff and full jitter
(``uniform(0, min(MAX_BACKOFF, backoff * 2**attempt))``), but only where a retry cannot
do the work twice:

* Reading and verifying (GET requests and ``POST /v1/verify``, which has no side
  effect) are retried on any network error, and on 429, 502, 503 and 504.
* Creating seals (``POST /v1/seals`` and ``/v1/seals/batch``) is **not idempotent** on
  the service: each call makes a new seal.  A retry after a request may have reached
  the service could seal the same content twice, so these are retried only when the
  request provably never got there (``httpx.ConnectError``, ``ConnectTimeout``,
  ``PoolTimeout``: no connection was ever made) or when the service refused it before
  doing any work (503 ``unavailable``/``key_unavailable``, and 429 rate limiting).  A
  502/504 from a gateway, a read timeout or a dropped connection after the request was
  sent is reported to the caller, who can check with :meth:`Client.find_seals` whether
  the seal exists before trying again.
* A ``Retry-After`` header (seconds or HTTP date) on 429/503 replaces the backoff.  If
  it asks for a longer wait than ``max_retry_after`` the client does not retry early
  (that would only be refused again): it raises the service's error at once.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self

import httpx

import sceau
from sceau.canonical import canonicalize
from sceau.checkpoint import MAX_NOTE_BYTES, CheckpointError, LogKey
from sceau.claim import read_claim
from sceau.encoding import b64url_decode
from sceau.envelope import MAX_ENVELOPE_BYTES, Envelope, parse_envelope
from sceau.errors import (
    SceauError,
    TransportError,
    ValidationError,
    error_from_code,
)
from sceau.keyhistory import MAX_HISTORY_BYTES
from sceau.keyring import KeyRing
from sceau.logproof import MAX_PROOF_HASHES, LogProof, seal_leaf_hash
from sceau.merkle import HASH_SIZE
from sceau.strictjson import loads
from sceau.verify import ContentDigest
from sceau.verify import seal_id as _seal_id_of

__all__ = [
    "BATCH_LIMIT",
    "Client",
    "ConsistencyProof",
    "FoundSeal",
    "InclusionProof",
    "LogEntry",
    "LogKeys",
    "SealRequest",
    "SealResult",
]

#: Most items the service takes in one ``POST /v1/seals/batch``.
BATCH_LIMIT = 1000
#: Upper bound of one backoff delay, in seconds.
MAX_BACKOFF = 8.0
#: Largest answer body read (a full batch of seals is far below this).
MAX_RESPONSE_BYTES = 64 << 20
_MAX_ERROR_BYTES = 64 << 10
_TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_SEAL_ID = re.compile(r"[0-9a-f]{64}")
_NEVER_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_IDEMPOTENT_STATUSES = frozenset({429, 502, 503, 504})
_CREATE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class SealResult:
    """A seal made by the service: its id and its envelope's canonical bytes (the
    sidecar contents)."""

    seal_id: str
    envelope_bytes: bytes

    @property
    def envelope(self) -> Envelope:
        """The parsed envelope (signature not verified)."""
        return parse_envelope(self.envelope_bytes)


@dataclass(frozen=True, slots=True)
class SealRequest:
    """One item of :meth:`Client.seal_batch`; the fields are those of :meth:`Client.seal`."""

    digest: ContentDigest
    media_type: str
    title: str | None = None
    digital_source_type: str | None = None
    action: str | None = None
    software_agent: Mapping[str, str] | None = None
    author: Sequence[str] | None = None
    publisher: str | None = None
    ingredients: Sequence[Mapping[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        """The request object of ``POST /v1/seals`` (docs/API.md)."""
        digest = self.digest
        body: dict[str, Any] = {
            "alg": digest.alg,
            "hash": digest.digest.hex(),
            "size": digest.size,
            "media_type": self.media_type,
        }
        if digest.exclusions:
            body["exclusions"] = [{"start": s, "length": n} for s, n in digest.exclusions]
        if digest.chunk_size is not None:
            body["chunk_size"] = digest.chunk_size
            body["chunks"] = [leaf.hex() for leaf in digest.chunks or ()]
        author = [self.author] if isinstance(self.author, str) else self.author
        optional: dict[str, Any] = {
            "title": self.title,
            "digital_source_type": self.digital_source_type,
            "action": self.action,
            "software_agent": None if self.software_agent is None else dict(self.software_agent),
            "author": None if not author else list(author),
            "publisher": self.publisher,
            "ingredients": (None if self.ingredients is None
                            else [dict(i) for i in self.ingredients]),
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


@dataclass(frozen=True, slots=True)
class FoundSeal:
    """One seal stored by the service for some content (``GET /v1/seals?sha256=``)."""

    seal_id: str
    tenant: str
    keyid: str
    media_type: str
    created: str
    envelope_bytes: bytes


@dataclass(frozen=True, slots=True)
class LogKeys:
    """The service's transparency log: its origin and every key it signed with
    (``GET /v1/log/key``; retired keys included, as old checkpoints need them)."""

    origin: str
    keys: tuple[LogKey, ...]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """An entry's RFC 9162 inclusion proof in the tree of ``tree_size`` entries
    (``GET /v1/log/proof``).  ``checkpoint`` is the latest signed checkpoint when no tree
    size was asked for; nothing here is verified yet (see :meth:`log_member`)."""

    index: int
    tree_size: int
    seal_id: str
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint: str | None = None

    def log_member(self) -> LogProof:
        """The envelope ``log`` member this proof makes (SPEC.md §6.1.5)."""
        if self.checkpoint is None:
            raise ValidationError("a log member needs the proof's checkpoint")
        return LogProof(self.index, self.proof, self.checkpoint)


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 proof that the tree of ``second`` entries extends the tree of
    ``first`` (``GET /v1/log/consistency``); ``checkpoint`` as in
    :class:`InclusionProof`."""

    first: int
    second: int
    proof: tuple[bytes, ...]
    checkpoint: str | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry (``GET /v1/log/entries``): its index, seal id and leaf hash."""

    index: int
    seal_id: str
    leaf_hash: bytes


def _log_int(doc: Mapping[str, Any], name: str) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _unreadable(f"log answer: '{name}' is not a non-negative integer")
    return value


def _log_hashes(doc: Mapping[str, Any]) -> tuple[bytes, ...]:
    items = doc.get("proof")
    if not isinstance(items, list) or len(items) > MAX_PROOF_HASHES:
        raise _unreadable("log answer: 'proof' is not a list of hashes")
    try:
        hashes = tuple(b64url_decode(h, max_len=HASH_SIZE) for h in items)
    except ValueError as exc:
        raise _unreadable(f"log answer: {exc}") from None
    if any(len(h) != HASH_SIZE for h in hashes):
        raise _unreadable("log answer: a proof hash is not 32 bytes")
    return hashes


def _log_hex(doc: Mapping[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or _SEAL_ID.fullmatch(value) is None:
        raise _unreadable(f"log answer: '{name}' is not 64 lowercase hex digits")
    return value


def _log_checkpoint(doc: Mapping[str, Any]) -> str | None:
    value = doc.get("checkpoint")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_NOTE_BYTES):
        raise _unreadable("log answer: 'checkpoint' is not a signed note")
    return value


def _unreadable(what: str) -> TransportError:
    return TransportError(f"unreadable answer from the service: {what}")


def _check_seal(obj: Any, expected: ContentDigest | None = None) -> SealResult:
    """Check one ``{"seal_id", "seal"}`` answer and return it as a :class:`SealResult`."""
    if not isinstance(obj, dict):
        raise _unreadable("a seal entry is not an object")
    sid, seal = obj.get("seal_id"), obj.get("seal")
    if not isinstance(sid, str) or not isinstance(seal, dict):
        raise _unreadable("a seal entry lacks 'seal_id' or 'seal'")
    try:
        envelope_bytes = canonicalize(seal)
        envelope = parse_envelope(envelope_bytes)
    except SceauError as exc:
        raise _unreadable(exc.detail) from None
    actual = _seal_id_of(envelope)
    if actual != sid:
        raise TransportError(
            f"the service answered seal id {sid[:64]!r} for a seal whose id is {actual}")
    if expected is not None:
        try:
            binding = read_claim(loads(envelope.payload)).binding
        except SceauError as exc:
            raise _unreadable(f"seal {sid}: {exc.detail}") from None
        if ((binding.alg, binding.digest, binding.size, binding.exclusions,
             binding.chunk_size) != (expected.alg, expected.digest, expected.size,
                                     expected.exclusions, expected.chunk_size)
                or (expected.chunks is not None and binding.chunks != expected.chunks)):
            raise TransportError(f"seal {sid} does not bind the content that was sent")
    return SealResult(sid, envelope_bytes)


def _check_seal_id(value: str) -> str:
    if not isinstance(value, str) or _SEAL_ID.fullmatch(value) is None:
        raise ValidationError("a seal id is 64 lowercase hex digits")
    return value


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the ``Retry-After`` header asks to wait, or None when absent/unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value[:9]))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class Client:
    """A Sceau service client (sync, over httpx).  Use it as a context manager or call
    :meth:`close`.

    ``token`` is the bearer token (needed for sealing only).  ``transport`` replaces the
    network (``httpx.MockTransport`` in tests).  ``retries``, ``backoff`` and
    ``max_retry_after`` tune the retry policy described in the module docstring.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        try:
            scheme = httpx.URL(base_url).scheme
        except (httpx.InvalidURL, TypeError):
            scheme = ""
        if scheme not in ("http", "https"):
            raise ValidationError(f"service URL must be http:// or https://, not {base_url!r}")
        headers = {
            "user-agent": f"sceau-python/{sceau.__version__}",
            "accept": "application/json",
        }
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.base_url = base_url
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._sleep: Callable[[float], None] = time.sleep
        self._random = secrets.SystemRandom()
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout,
                                  transport=transport, follow_redirects=False)

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- sealing ---------------------------------------------------------------------

    def seal(
        self,
        digest: ContentDigest,
        *,
        media_type: str,
        title: str | None = None,
        digital_source_type: str | None = None,
        action: str | None = None,
        software_agent: Mapping[str, str] | None = None,
        author: Sequence[str] | None = None,
        publisher: str | None = None,
        ingredients: Sequence[Mapping[str, Any]] | None = None,
    ) -> SealResult:
        """Ask the service to seal content with this digest (``POST /v1/seals``).

        Only the digest and the metadata are sent.  The answer is checked: the seal id
        must match the envelope and the claim must bind ``digest``; otherwise
        :class:`~sceau.errors.TransportError`.  Not retried once the request may have
        reached the service (see the module docstring).
        """
        return self.seal_request(SealRequest(digest, media_type, title, digital_source_type,
                                             action, software_agent, author, publisher,
                                             ingredients))

    def seal_request(self, request: SealRequest) -> SealResult:
        """:meth:`seal` with its arguments in a :class:`SealRequest` (whose digest may
        carry exclusions and a chunked binding, as :func:`sceau.media.prepare` makes)."""
        doc = self._json("POST", "/v1/seals", body=request.to_json(), idempotent=False)
        return _check_seal(doc, request.digest)

    def seal_batch(self, items: Sequence[SealRequest]) -> list[SealResult]:
        """Seal up to :data:`BATCH_LIMIT` items in one request (``POST /v1/seals/batch``).

        All or nothing on the service side; results come back in request order and each
        is checked as in :meth:`seal`.  An empty sequence makes no request.
        """
        items = list(items)
        if not items:
            return []
        if len(items) > BATCH_LIMIT:
            raise ValidationError(f"a batch holds at most {BATCH_LIMIT} items, not {len(items)}")
        doc = self._json("POST", "/v1/seals/batch",
                         body={"items": [item.to_json() for item in items]}, idempotent=False)
        seals = doc.get("seals") if isinstance(doc, dict) else None
        if not isinstance(seals, list) or len(seals) != len(items):
            raise _unreadable(f"expected {len(items)} seals in the batch answer")
        return [_check_seal(obj, item.digest) for obj, item in zip(seals, items, strict=True)]

    # -- reading ---------------------------------------------------------------------

    def get_seal(self, seal_id: str) -> bytes:
        """The stored envelope bytes of a seal (``GET /v1/seals/{id}``), checked to be
        the seal with that id.  :class:`~sceau.errors.NotFoundError` when unknown."""
        sid = _check_seal_id(seal_id)
        response = self._request("GET", f"/v1/seals/{sid}", idempotent=True)
        data = response.content
        try:
            actual = _seal_id_of(parse_envelope(data))
        except SceauError as exc:
            raise _unreadable(exc.detail) from None
        if actual != sid:
            raise TransportError(f"asked for seal {sid}, the service sent seal {actual}")
        return data

    def find_seals(self, sha256_hex: str) -> list[FoundSeal]:
        """Seals stored for content with this SHA-256 (``GET /v1/seals?sha256=``), newest
        first.  An empty list when there are none."""
        digest = sha256_hex.lower()
        if _SEAL_ID.fullmatch(digest) is None:
            raise ValidationError("a SHA-256 is 64 hex digits")
        doc = self._json("GET", "/v1/seals", params={"sha256": digest}, idempotent=True)
        entries = doc.get("seals") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise _unreadable("expected {'seals': [...]}")
        found = []
        for entry in entries:
            checked = _check_seal(entry)
            fields = [entry.get(name) for name in ("tenant", "keyid", "media_type", "created")]
            if not all(isinstance(f, str) for f in fields):
                raise _unreadable("a seal entry lacks tenant, keyid, media_type or created")
            tenant, keyid, media_type, created = fields
            found.append(FoundSeal(checked.seal_id, tenant, keyid, media_type, created,
                                   checked.envelope_bytes))
        return found

    def jwks(self) -> dict[str, Any]:
        """The service's public keys as a JWKS document (``GET /.well-known/jwks.json``)."""
        doc = self._json("GET", "/.well-known/jwks.json", idempotent=True)
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise _unreadable("JWKS must be an object with a 'keys' array")
        return doc

    def keyring(self, trusted_tenants: Iterable[str] | None = None) -> KeyRing:
        """A :class:`~sceau.keyring.KeyRing` of the service's keys.

        ``trusted_tenants=None`` trusts every tenant the service publishes a key for.
        """
        return KeyRing.from_jwks(self.jwks(), trusted_tenants)

    def key_history(self, tenant: str) -> bytes:
        """A tenant's signed key history document (``GET /v1/tenants/{tenant}/keys/history``,
        SPEC.md §6.2.4), as the exact bytes served: NOT verified here.  Verify it with
        :func:`sceau.keyhistory.verify_key_history` and a trust anchor, or save it with
        :func:`sceau.keyhistory.update_trust_bundle`."""
        if _TENANT.fullmatch(tenant) is None:
            raise ValidationError("tenant must be a slug: [a-z0-9][a-z0-9-]{0,62}")
        response = self._request("GET", f"/v1/tenants/{tenant}/keys/history",
                                 idempotent=True)
        if len(response.content) > MAX_HISTORY_BYTES:
            raise _unreadable("key history is too large")
        return response.content

    def verify_remote(self, seal: bytes | str | None = None, *,
                      digest: ContentDigest | None = None) -> dict[str, Any]:
        """Ask the service for a verdict (``POST /v1/verify``).

        With ``seal`` (envelope bytes), that seal is verified, against ``digest`` when
        given.  With ``digest`` alone the service looks up seals for the content and
        raises :class:`~sceau.errors.NoSealFoundError` when it has none.  Returns the
        verdict object (SPEC.md §7.4).
        """
        body: dict[str, Any] = {}
        if seal is not None:
            try:
                body["seal"] = loads(seal, max_bytes=MAX_ENVELOPE_BYTES)
            except SceauError as exc:
                raise ValidationError(f"seal is not a JSON envelope: {exc.detail}") from None
        if digest is not None:
            if digest.alg != "sha256":
                raise ValidationError(f"unsupported digest algorithm {digest.alg!r}")
            body["hash"] = digest.digest.hex()
            body["size"] = digest.size
        if not body:
            raise ValidationError("verify_remote needs a seal, a digest or both")
        doc = self._json("POST", "/v1/verify", body=body, idempotent=True)
        if not isinstance(doc, dict) or not isinstance(doc.get("ok"), bool):
            raise _unreadable("a verdict must be an object with a boolean 'ok'")
        return doc

    # -- transparency log (SPEC.md §6.1) -----------------------------------------------

    def log_checkpoint(self) -> str:
        """The log's latest signed checkpoint (``GET /v1/log/checkpoint``), not verified:
        open it with :func:`sceau.checkpoint.open_checkpoint` and the log's keys."""
        response = self._request("GET", "/v1/log/checkpoint", idempotent=True)
        data = response.content
        if len(data) > MAX_NOTE_BYTES:
            raise _unreadable("checkpoint is too large")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise _unreadable("checkpoint is not UTF-8") from None

    def log_keys(self) -> LogKeys:
        """The log's origin and keys (``GET /v1/log/key``).  Fetched over the network:
        pin them (``sceau log key``) rather than trusting each answer afresh."""
        doc = self._json("GET", "/v1/log/key", idempotent=True)
        origin = doc.get("origin") if isinstance(doc, dict) else None
        entries = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(origin, str) or not isinstance(entries, list):
            raise _unreadable("log keys: expected {origin, keys}")
        keys = []
        for entry in entries:
            vkey = entry.get("vkey") if isinstance(entry, dict) else None
            if not isinstance(vkey, str):
                raise _unreadable("log keys: an entry has no 'vkey'")
            try:
                key = LogKey.from_vkey(vkey)
            except CheckpointError as exc:
                raise _unreadable(f"log keys: {exc}") from None
            if key.name != origin:
                raise _unreadable("log keys: a key is not named after the log's origin")
            keys.append(key)
        return LogKeys(origin, tuple(keys))

    def log_inclusion_proof(self, *, index: int | None = None, leaf_hash: bytes | None = None,
                            seal_id: str | None = None,
                            tree_size: int | None = None) -> InclusionProof:
        """An entry's inclusion proof (``GET /v1/log/proof``): give exactly one of
        ``index``, ``leaf_hash`` and ``seal_id``.  Without ``tree_size``, in the latest
        tree, with its checkpoint.  :class:`~sceau.errors.NotFoundError` when the log
        has no such entry."""
        params: dict[str, str] = {}
        if index is not None:
            params["index"] = str(index)
        if leaf_hash is not None:
            params["leaf_hash"] = leaf_hash.hex()
        if seal_id is not None:
            params["seal_id"] = _check_seal_id(seal_id)
        if len(params) != 1:
            raise ValidationError("give exactly one of index, leaf_hash and seal_id")
        if tree_size is not None:
            params["tree_size"] = str(tree_size)
        doc = self._json("GET", "/v1/log/proof", params=params, idempotent=True)
        if not isinstance(doc, dict):
            raise _unreadable("log proof: expected an object")
        proof = InclusionProof(_log_int(doc, "index"), _log_int(doc, "tree_size"),
                               _log_hex(doc, "seal_id"), bytes.fromhex(_log_hex(doc, "leaf_hash")),
                               _log_hashes(doc), _log_checkpoint(doc))
        if seal_id is not None and proof.seal_id != seal_id:
            raise TransportError(f"asked for the proof of seal {seal_id}, got {proof.seal_id}")
        if (index is not None and proof.index != index) or (
                tree_size is not None and proof.tree_size != tree_size):
            raise TransportError("the log answered for another index or tree size")
        if seal_leaf_hash(proof.seal_id) != proof.leaf_hash:
            raise TransportError("the log's leaf hash is not the seal's")
        return proof

    def log_consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        """The consistency proof from tree size ``first`` to ``second`` (default: the
        latest, with its checkpoint) (``GET /v1/log/consistency``)."""
        params = {"first": str(first)}
        if second is not None:
            params["second"] = str(second)
        doc = self._json("GET", "/v1/log/consistency", params=params, idempotent=True)
        if not isinstance(doc, dict):
            raise _unreadable("consistency proof: expected an object")
        proof = ConsistencyProof(_log_int(doc, "first"), _log_int(doc, "second"),
                                 _log_hashes(doc), _log_checkpoint(doc))
        if proof.first != first or (second is not None and proof.second != second):
            raise TransportError("the log answered for other tree sizes")
        return proof

    def log_entries(self, start: int, end: int) -> list[LogEntry]:
        """Entries ``[start, end)`` of the log (at most 1000; ``GET /v1/log/entries``)."""
        doc = self._json("GET", "/v1/log/entries",
                         params={"start": str(start), "end": str(end)}, idempotent=True)
        items = doc.get("entries") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise _unreadable("log entries: expected {entries: [...]}")
        out = []
        for want, item in enumerate(items, start):
            if not isinstance(item, dict) or _log_int(item, "index") != want:
                raise _unreadable("log entries: not the requested range, in order")
            sid = _log_hex(item, "seal_id")
            leaf = bytes.fromhex(_log_hex(item, "leaf_hash"))
            if seal_leaf_hash(sid) != leaf:
                raise TransportError(f"log entry {want}: leaf hash is not its seal's")
            out.append(LogEntry(want, sid, leaf))
        return out

    def health(self) -> dict[str, Any]:
        """The service's liveness answer (``GET /healthz``), e.g. ``{"status": "ok"}``."""
        doc = self._json("GET", "/healthz", idempotent=True)
        if not isinstance(doc, dict):
            raise _unreadable("health answer is not an object")
        return doc

    # -- transport -------------------------------------------------------------------

    def _json(self, method: str, path: str, *, body: Any = None,
              params: Mapping[str, str] | None = None, idempotent: bool) -> Any:
        response = self._request(method, path, body=body, params=params,
                                 idempotent=idempotent)
        try:
            return loads(response.content, max_bytes=MAX_RESPONSE_BYTES)
        except SceauError as exc:
            raise _unreadable(exc.detail) from None

    def _delay(self, attempt: int) -> float:
        """Full-jitter exponential backoff for retry number ``attempt`` (from 0)."""
        ceiling = min(MAX_BACKOFF, self.backoff * (2 ** attempt))
        return self._random.uniform(0.0, ceiling)

    def _request(self, method: str, path: str, *, body: Any = None,
                 params: Mapping[str, str] | None = None, idempotent: bool) -> httpx.Response:
        content = None if body is None else canonicalize(body)
        headers = {} if content is None else {"content-type": "application/json"}
        retry_statuses = _IDEMPOTENT_STATUSES if idempotent else _CREATE_STATUSES
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, content=content, params=params,
                                              headers=headers)
            except httpx.HTTPError as exc:
                safe = isinstance(exc, _NEVER_SENT) or (
                    idempotent and isinstance(exc, httpx.TransportError)
                    and not isinstance(exc, httpx.UnsupportedProtocol | httpx.ProxyError
                                       | httpx.LocalProtocolError))
                if safe and attempt < self.retries:
                    self._sleep(self._delay(attempt))
                    attempt += 1
                    continue
                raise TransportError(
                    f"cannot reach the service at {self.base_url}: "
                    f"{type(exc).__name__}: {exc}") from exc
            if response.is_success:
                return response
            if response.status_code in retry_statuses and attempt < self.retries:
                wait = _retry_after(response, datetime.now(UTC))
                if wait is None:
                    wait = self._delay(attempt)
                if wait <= self.max_retry_after:
                    self._sleep(wait)
                    attempt += 1
                    continue
            raise self._error(method, path, response)

    @staticmethod
    def _error(method: str, path: str, response: httpx.Response) -> SceauError:
        """The exception a non-2xx answer stands for."""
        try:
            doc = loads(response.content, max_bytes=_MAX_ERROR_BYTES)
        except SceauError:
            doc = None
        if (isinstance(doc, dict) and isinstance(doc.get("code"), str)
                and isinstance(doc.get("detail"), str)):
            return error_from_code(doc["code"], doc["detail"][:2000])
        reason = response.reason_phrase or "error"
        return TransportError(f"HTTP {response.status_code} {reason} from {method} {path}")
