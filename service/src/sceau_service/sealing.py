"""Turning requests into seals: validate, build the claim, sign, store (group commit)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sceau import Signer, build_claim, seal_id
from sceau.canonical import canonicalize
from sceau.claim import HASH_ALGORITHMS
from sceau.claimtemplate import ClaimTemplate
from sceau.encoding import hex_decode
from sceau.envelope import sign_envelope, sign_envelopes
from sceau.errors import (
    InvalidHashError,
    KeyCustodyError,
    UnsupportedAlgorithmError,
    ValidationError,
)
from sceau_keys import Custody
from sceau_service.auth import Principal
from sceau_service.schemas import SealCreate
from sceau_service.store import SealRow, Store
from sceau_service.writer import SealWriter

__all__ = ["IssuedSeal", "SealingService"]

log = logging.getLogger("sceau_service")

#: Batches larger than this are built and signed in a worker thread, so the event loop
#: stays free for other requests.
_INLINE_SIGN_LIMIT = 32
#: Claim templates kept (one per tenant, key, first action, source type, with/without title).
_MAX_TEMPLATES = 256
_NO_TEMPLATE = object()


@dataclass(frozen=True, slots=True)
class IssuedSeal:
    """A seal as stored: its id and the envelope's canonical bytes."""

    seal_id: str
    envelope: bytes


class SealingService:
    """Signs claims with each tenant's active key and stores the seals."""

    def __init__(self, store: Store, custody: Custody | None, writer: SealWriter,
                 clock: Callable[[], datetime], generator: tuple[str, str], *,
                 key_check_seconds: float = 1.0) -> None:
        self._store = store
        self._custody = custody
        self._writer = writer
        self._clock = clock
        self._generator = generator
        self._signers: dict[int, Signer] = {}
        # Signer selection after rotations (sceau_service.registry): each loaded signer is
        # trusted to be the tenant's active key until _fresh_until; then one indexed lookup,
        # off the request's path, checks it (a rotation made by another replica is seen
        # within key_check_seconds).  _generation counts invalidations, so that a load
        # that started before one never installs a signer it made stale.
        self._key_check_seconds = key_check_seconds
        self._fresh_until: dict[int, float] = {}
        self._generation: dict[int, int] = {}
        self._checking: set[int] = set()
        self._load_locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._templates: dict[tuple[str, str, str, str | None, bool], object] = {}

    def now(self) -> datetime:
        """The service's clock (injectable for tests)."""
        return self._clock()

    def _load_signer(self, tenant_id: int) -> Signer:
        generation = self._generation.get(tenant_id, 0)
        keyid = self._store.active_keyid(tenant_id)
        if keyid is None:
            raise KeyCustodyError("this tenant has no active signing key")
        if self._custody is None:
            raise KeyCustodyError("no key custody is configured (set SCEAU_KEY_PASSPHRASE)")
        signer = self._custody.signer(keyid)
        if self._generation.get(tenant_id, 0) == generation:
            self._signers[tenant_id] = signer
            self._fresh_until[tenant_id] = time.monotonic() + self._key_check_seconds
        return signer

    async def _signer(self, tenant_id: int) -> Signer:
        """The tenant's active signer, loaded from custody on first use (off-loop, once
        however many requests wait for it) and re-checked every ``key_check_seconds``."""
        signer = self._signers.get(tenant_id)
        if signer is None:
            lock = self._load_locks.setdefault(tenant_id, asyncio.Lock())
            async with lock:
                signer = self._signers.get(tenant_id)
                if signer is None:
                    signer = await asyncio.to_thread(self._load_signer, tenant_id)
            return signer
        if (time.monotonic() >= self._fresh_until.get(tenant_id, 0.0)
                and tenant_id not in self._checking):
            # This request goes on with the signer it has: that key was active moments
            # ago, and a retired key's window stays open (sceau_keys.lifecycle).
            self._checking.add(tenant_id)
            task = asyncio.create_task(self._recheck(tenant_id, signer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return signer

    async def _recheck(self, tenant_id: int, signer: Signer) -> None:
        """Is ``signer`` still the tenant's active key?  If not, load the one that is."""
        try:
            generation = self._generation.get(tenant_id, 0)
            keyid = await asyncio.to_thread(self._store.active_keyid, tenant_id)
            if (self._signers.get(tenant_id) is not signer
                    or self._generation.get(tenant_id, 0) != generation):
                return  # replaced meanwhile
            if keyid == signer.keyid:
                self._fresh_until[tenant_id] = time.monotonic() + self._key_check_seconds
            else:
                await asyncio.to_thread(self._load_signer, tenant_id)
        except Exception:
            # The store or custody is unavailable: keep the signer, check again later.
            log.warning("re-checking tenant %d's active key failed", tenant_id, exc_info=True)
            self._fresh_until[tenant_id] = time.monotonic() + self._key_check_seconds
        finally:
            self._checking.discard(tenant_id)

    async def close(self) -> None:
        """Wait for key checks in flight (before the app disposes of the store)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def forget_signers(self, tenant_id: int | None = None) -> None:
        """Drop loaded signers (of one tenant, or all) after a key change on this replica,
        so the next seal loads the new active key.  Safe to call from any thread."""
        tenants = ({*self._signers, *self._generation} if tenant_id is None
                   else {tenant_id})
        for tid in tenants:
            self._generation[tid] = self._generation.get(tid, 0) + 1
            self._signers.pop(tid, None)

    def _template(self, tenant: str, keyid: str, action: str, dst: str | None,
                  with_title: bool) -> ClaimTemplate | None:
        key = (tenant, keyid, action, dst, with_title)
        template = self._templates.get(key, _NO_TEMPLATE)
        if template is _NO_TEMPLATE:
            try:
                template = ClaimTemplate(
                    with_title=with_title, tenant=tenant, keyid=keyid, first_action=action,
                    digital_source_type=dst, generator=self._generator)
            except ValueError:  # a fixed value holds a sentinel: build claims one by one
                template = None
            if len(self._templates) >= _MAX_TEMPLATES:
                self._templates.clear()
            self._templates[key] = template
        return template  # type: ignore[return-value]

    def _payload(self, principal: Principal, signer: Signer, item: SealCreate,
                 now: datetime) -> bytes:
        """The claim's canonical bytes (SPEC.md §4), validated."""
        length = HASH_ALGORITHMS.get(item.alg)
        if length is None:
            raise UnsupportedAlgorithmError(f"hash algorithm {item.alg[:32]!r} is not supported")
        try:
            digest = hex_decode(item.hash, length)
        except ValueError as exc:
            raise InvalidHashError(f"{item.alg} hash: {exc}") from None
        dst = item.digital_source_type
        if dst is None and item.action == "c2pa.created":
            dst = "digitalCapture"
        if not (item.ingredients or item.software_agent or item.author or item.publisher
                or item.exclusions or item.chunk_size is not None or item.chunks is not None):
            # The common case: only the content and its name vary (sceau.claimtemplate).
            template = self._template(principal.tenant, signer.keyid, item.action, dst,
                                      item.title is not None)
            if template is not None:
                return template.render(sha256=digest, size=item.size,
                                       media_type=item.media_type, created=now,
                                       title=item.title)
        ingredients = []
        for ing in item.ingredients:
            entry: dict[str, Any] = {"relationship": ing.relationship}
            if ing.title is not None:
                entry["dc:title"] = ing.title
            if ing.format is not None:
                entry["dc:format"] = ing.format
            if ing.seal_id is not None:
                entry["seal_id"] = ing.seal_id
            if ing.sha256 is not None:
                entry["sha256"] = ing.sha256
            ingredients.append(entry)
        agent = None
        if item.software_agent is not None:
            agent = item.software_agent.model_dump(exclude_none=True)
        chunks = None if item.chunks is None else [bytes.fromhex(c) for c in item.chunks]
        return canonicalize(build_claim(
            sha256=digest, size=item.size, media_type=item.media_type, tenant=principal.tenant,
            keyid=signer.keyid, created=now, digital_source_type=dst, first_action=item.action,
            title=item.title, generator=self._generator, software_agent=agent,
            ingredients=ingredients, author=item.author, publisher=item.publisher,
            exclusions=[(e.start, e.length) for e in item.exclusions],
            chunk_size=item.chunk_size, chunks=chunks))

    def _sign(self, principal: Principal, signer: Signer, items: Sequence[SealCreate],
              now: datetime) -> list[tuple[SealRow, IssuedSeal]]:
        """Validate every item (nothing is signed unless all are valid), then sign each."""
        payloads = []
        for index, item in enumerate(items):
            try:
                payloads.append(self._payload(principal, signer, item, now))
            except ValidationError as exc:
                if len(items) > 1:
                    exc.detail = f"items[{index}]: {exc.detail}"
                raise
        if len(payloads) == 1:
            envelopes = [sign_envelope(payloads[0], signer)]
        else:  # one call for the batch: a token signs it on several sessions at once
            envelopes = sign_envelopes(payloads, signer)
        out = []
        for envelope, item in zip(envelopes, items, strict=True):
            body = envelope.to_bytes()
            sid = seal_id(envelope)
            row = SealRow(sid, principal.tenant_id, signer.keyid, item.hash, item.size,
                          item.media_type, now, body)
            out.append((row, IssuedSeal(sid, body)))
        return out

    async def seal(self, principal: Principal, items: Sequence[SealCreate]) -> list[IssuedSeal]:
        """Validate every item, then sign all and store them in one commit."""
        principal.require("sign")
        signer = await self._signer(principal.tenant_id)
        now = self._clock()
        if len(items) > _INLINE_SIGN_LIMIT:
            signed = await asyncio.to_thread(self._sign, principal, signer, items, now)
        else:
            signed = self._sign(principal, signer, items, now)
        # The stored envelopes: with their transparency log proofs when the service logs.
        stored = await self._writer.write([row for row, _ in signed])
        return [IssuedSeal(issued.seal_id, envelope)
                for (_, issued), envelope in zip(signed, stored, strict=True)]
