"""Turning requests into seals: validate, build the claim, sign, store (group commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sceau import Signer, build_claim, seal_id
from sceau.canonical import canonicalize
from sceau.claim import HASH_ALGORITHMS
from sceau.claimtemplate import ClaimTemplate
from sceau.encoding import hex_decode
from sceau.envelope import sign_envelope
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
                 clock: Callable[[], datetime], generator: tuple[str, str]) -> None:
        self._store = store
        self._custody = custody
        self._writer = writer
        self._clock = clock
        self._generator = generator
        self._signers: dict[int, Signer] = {}
        self._templates: dict[tuple[str, str, str, str | None, bool], object] = {}

    def now(self) -> datetime:
        """The service's clock (injectable for tests)."""
        return self._clock()

    def _load_signer(self, tenant_id: int) -> Signer:
        key = self._store.active_key(tenant_id)
        if key is None:
            raise KeyCustodyError("this tenant has no active signing key")
        if self._custody is None:
            raise KeyCustodyError("no key custody is configured (set SCEAU_KEY_PASSPHRASE)")
        signer = self._custody.signer(key.keyid)
        self._signers[tenant_id] = signer
        return signer

    async def _signer(self, tenant_id: int) -> Signer:
        """The tenant's active signer, loaded from custody on first use (off-loop)."""
        signer = self._signers.get(tenant_id)
        if signer is None:
            signer = await asyncio.to_thread(self._load_signer, tenant_id)
        return signer

    def forget_signers(self) -> None:
        """Drop loaded signers (after a key change) so the next seal reloads them."""
        self._signers.clear()

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
        out = []
        for payload, item in zip(payloads, items, strict=True):
            envelope = sign_envelope(payload, signer)
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
