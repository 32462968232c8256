"""Seal creation and retrieval: ``/v1/seals``."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from sceau.errors import NotFoundError, ValidationError
from sceau.timefmt import format_time
from sceau_service.schemas import (
    BatchCreate,
    BatchPublic,
    ErrorPublic,
    SealCreate,
    SealListPublic,
    SealPublic,
)
from sceau_service.sealing import IssuedSeal
from sceau_service.state import SignCaller, State

router = APIRouter(prefix="/v1/seals", tags=["seals"])

SEAL_MEDIA_TYPE = "application/vnd.sceau.seal+json"
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorPublic} for code in (400, 401, 403, 413, 422, 503)}


def _seal_json(issued: IssuedSeal) -> bytes:
    # The envelope bytes are canonical JSON already: splice them in, no re-encoding.
    return b'{"seal_id":"' + issued.seal_id.encode() + b'","seal":' + issued.envelope + b"}"


@router.post("", status_code=201, response_model=SealPublic, responses=_ERRORS,
             summary="Seal one content hash")
async def create_seal(body: SealCreate, caller: SignCaller, state: State) -> Response:
    """Sign a claim for one content hash with the caller's tenant key and store it."""
    (issued,) = await state.sealing.seal(caller, [body])
    return Response(_seal_json(issued), status_code=201, media_type="application/json")


@router.post("/batch", status_code=201, response_model=BatchPublic, responses=_ERRORS,
             summary="Seal many content hashes")
async def create_seals(body: BatchCreate, caller: SignCaller, state: State) -> Response:
    """Validate all items, then sign and store them together; answers in request order."""
    limit = state.settings.max_batch_items
    if len(body.items) > limit:
        raise ValidationError(f"a batch holds at most {limit} items")
    issued = await state.sealing.seal(caller, body.items)
    out = b'{"seals":[' + b",".join(_seal_json(i) for i in issued) + b"]}"
    return Response(out, status_code=201, media_type="application/json")


SealId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="seal id (64 hex)")]


@router.get("/{seal_id}", response_class=Response, summary="Get a seal",
            responses={200: {"content": {SEAL_MEDIA_TYPE: {}}}, 404: {"model": ErrorPublic}})
async def get_seal(seal_id: SealId, state: State,
                   if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The stored envelope, byte for byte.  Seals never change: cache them forever
    (a strong ETag; ``If-None-Match`` with it answers 304)."""
    envelope = await run_in_threadpool(state.store.seal_envelope, seal_id)
    if envelope is None:
        raise NotFoundError(f"no seal {seal_id}")
    etag = f'"{seal_id}"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
    if if_none_match is not None and (
            if_none_match.strip() == "*"
            or etag in (t.strip() for t in if_none_match.split(","))):
        return Response(status_code=304, headers=headers)
    return Response(envelope, media_type=SEAL_MEDIA_TYPE, headers=headers)


# HEAD for caches and extensions that check for a seal without fetching it.
router.add_api_route("/{seal_id}", get_seal, methods=["HEAD"], response_class=Response,
                     include_in_schema=False)


@router.get("", response_model=SealListPublic, summary="Find seals by content hash",
            responses={422: {"model": ErrorPublic}})
async def find_seals(
    state: State,
    sha256: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$", description="content SHA-256")],
) -> Response:
    """Seals whose hard binding has this SHA-256, newest first (at most 100)."""
    rows = await run_in_threadpool(state.store.seals_by_hash, sha256)
    parts = [
        json.dumps({"seal_id": r.seal_id, "tenant": slug, "keyid": r.keyid,
                    "media_type": r.media_type, "created": format_time(r.created_at)},
                   separators=(",", ":")).encode()[:-1] + b',"seal":' + r.envelope + b"}"
        for r, slug in rows]
    return Response(b'{"seals":[' + b",".join(parts) + b"]}", media_type="application/json")
