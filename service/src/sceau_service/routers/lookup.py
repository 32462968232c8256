"""The browser-extension backend: ``POST /v1/lookup`` (a page's images in one call).

Each hash is answered with its newest stored seal, verified against the service's key ring
and log keys, in short.  Verifying one seal costs ~0.4 ms (Ed25519, claim, log proof):
too slow for a 50-hash batch in a few milliseconds, so rendered answers are cached per
seal and language.  A seal's bytes never change, but what a verifier says about it can: a key
revoked after a compromise makes later seals fail.  So the cache is valid for one
*view* of the key ring and log keys: whenever the refreshed ring (``KeyRingCache``,
every ``keyring_cache_seconds``) differs in any key record, the whole cache is dropped.
A revocation therefore shows in lookups as soon as it shows in ``POST /v1/verify``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from sceau import KeyRing, verify_seal
from sceau.checkpoint import LogKey
from sceau.claim import read_claim
from sceau.envelope import parse_envelope
from sceau.errors import SceauError, ValidationError
from sceau.readable import label_text, origin_label, pick_language, summarize
from sceau.strictjson import loads
from sceau.verify import ContentDigest, SignatureState
from sceau_service.fastlane import LeanRoute
from sceau_service.schemas import ErrorPublic, LookupCreate, LookupPublic
from sceau_service.state import AppState
from sceau_service.store import LookupReader, Store

__all__ = ["LookupCache", "router"]

# The extension's call, the most frequent: served by the short stack (sceau_service.fastlane).
router = APIRouter(tags=["lookup"], route_class=LeanRoute)


class LookupCache:
    """Rendered answers by (seal id, language), least recently used dropped first.

    Valid for one view of the verifier's keys (:meth:`check_view`); bounded by ``size``
    entries of a few hundred bytes each.  Touched on the event loop only.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._view_objects: tuple[object, object] | None = None
        self._view: tuple[frozenset[Any], tuple[LogKey, ...], bool] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def check_view(self, ring: KeyRing, log_keys: Sequence[LogKey], require_log: bool) -> None:
        """Drop every entry if the key ring or log keys differ from the cached view.

        The caches above hand out the same objects until they refresh: comparing
        identities first keeps the per-request cost at two ``is`` tests.
        """
        if self._view_objects is not None and (
                self._view_objects[0] is ring and self._view_objects[1] is log_keys):
            return
        view = (frozenset(ring.items()), tuple(log_keys), require_log)
        if view != self._view:
            self._entries.clear()
            self._view = view
        self._view_objects = (ring, log_keys)

    def get(self, seal_id: str, lang: str) -> bytes | None:
        """A cached answer (refreshing its recency), or None."""
        key = (seal_id, lang)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, seal_id: str, lang: str, answer: bytes) -> None:
        """Keep an answer, dropping the least recently used beyond ``size``."""
        if self.size <= 0:
            return
        self._entries[(seal_id, lang)] = answer
        self._entries.move_to_end((seal_id, lang))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def _content_of(envelope: bytes, sha256: str) -> ContentDigest | None:
    """The caller's content as the seal's own hard binding describes it, with the
    caller's digest: the seal's size, exclusions and chunking, so that the verifier
    compares exactly the hash the caller gave with the one the claim signs.

    This reads the stored claim before its signature is checked; it is the service's own
    stored envelope, and the verdict below checks the signature and parses it again.
    """
    try:
        binding = read_claim(loads(parse_envelope(envelope).payload)).binding
    except (SceauError, ValueError):
        return None  # the verdict will say what is wrong with the seal
    return ContentDigest("sha256", bytes.fromhex(sha256), binding.size, binding.exclusions,
                         binding.chunk_size)


def render(envelope: bytes, sha256: str, ring: KeyRing, now: datetime,
           log_keys: Sequence[LogKey], require_log: bool, lang: str) -> bytes:
    """One found hash's answer: its seal's verdict in short, compact JSON bytes."""
    verdict = verify_seal(envelope, ring, now=now, content=_content_of(envelope, sha256),
                          log_keys=list(log_keys) or None, require_log=require_log)
    claim = verdict.claim
    label = (origin_label(claim)
             if verdict.signature is SignatureState.VALID and claim is not None else None)
    doc = verdict.to_json()
    answer = {"sha256": sha256, "found": True, "seal_id": verdict.seal_id, "ok": verdict.ok,
              "label": None if label is None else label.value,
              "label_text": label_text(label, lang), "summary": summarize(verdict, lang),
              "signer": doc["signer"], "time": doc["time"]}
    return json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode()


def _not_found(sha256: str) -> bytes:
    return b'{"sha256":"' + sha256.encode() + b'","found":false}'


def _render_missing(store: Store, wanted: dict[str, str], ring: KeyRing, now: datetime,
                    log_keys: Sequence[LogKey], require_log: bool,
                    lang: str) -> dict[str, bytes]:
    """In a worker thread: read and verify the seals not in the cache (seal id -> hash)."""
    envelopes = store.envelopes(wanted)
    return {sid: render(envelope, wanted[sid], ring, now, log_keys, require_log, lang)
            for sid, envelope in envelopes.items()}


_OPENAPI = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/LookupCreate"}}}},
    "parameters": [
        {"name": "lang", "in": "query", "required": False,
         "schema": {"type": "string", "maxLength": 35},
         "description": "en or fr; overrides Accept-Language"},
        {"name": "accept-language", "in": "header", "required": False,
         "schema": {"type": "string"}},
    ],
}


def _describe(exc: PydanticValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


# The route reads its request itself, with the body model and parameters declared for the
# OpenAPI document only: FastAPI's per-parameter dependency resolution was the largest
# cost of a lookup after the query (docs/benchmarks.md).
@router.post("/v1/lookup", response_model=LookupPublic, summary="Look up seals by content hash",
             openapi_extra=_OPENAPI,
             responses={c: {"model": ErrorPublic} for c in (400, 413, 415, 422, 429)})
async def lookup(request: Request) -> Response:
    """For each hash, in request order: ``found: false``, or the newest stored seal of
    that content, verified against the service's keys (``ok``), with its origin label
    and one sentence in the reader's language.  Public; at most ``LOOKUP_MAX_HASHES``
    hashes (docs/API.md)."""
    try:  # the body is strict profile JSON already (StrictBodyMiddleware)
        body = LookupCreate.model_validate_json(await request.body())
    except PydanticValidationError as exc:
        raise ValidationError(_describe(exc)) from None
    state: AppState = request.app.state.sceau
    cache: LookupCache = request.app.state.lookup_cache
    lang = request.query_params.get("lang")
    accept_language = request.headers.get("accept-language")
    if len(lang or "") > 35 or len(accept_language or "") > 1024:
        raise ValidationError("'lang' or Accept-Language is too long")
    language = pick_language(lang, accept_language)
    ring = await state.keyring.get()
    log_keys = await state.log_keys.get()
    require_log = state.settings.verify_require_log and bool(log_keys)
    cache.check_view(ring, log_keys, require_log)
    reader: LookupReader = request.app.state.lookup_reader
    rows = await reader.newest_seals(body.hashes)
    newest = {r.content_sha256: r.seal_id for r in rows}
    answers: dict[str, bytes] = {}
    missing: dict[str, str] = {}
    for sha256, seal_id in newest.items():
        answer = cache.get(seal_id, language)
        if answer is None:
            missing[seal_id] = sha256
        else:
            answers[seal_id] = answer
    if missing:
        rendered = await run_in_threadpool(
            _render_missing, state.store, missing, ring, state.sealing.now(), log_keys,
            require_log, language)
        for seal_id, answer in rendered.items():
            cache.put(seal_id, language, answer)
        answers.update(rendered)
    parts = []
    for sha256 in body.hashes:
        found = newest.get(sha256)
        answer = None if found is None else answers.get(found)
        # A seal found by the first query is never deleted: seals are immutable and kept.
        parts.append(_not_found(sha256) if answer is None else answer)
    return Response(b'{"results":[' + b",".join(parts) + b"]}",
                    media_type="application/json",
                    headers={"Cache-Control": "no-store", "Vary": "Accept-Language"})
