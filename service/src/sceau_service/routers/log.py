"""The transparency log, for monitors and verifiers: ``/v1/log/...`` (docs/API.md).

Everything here is public and read-only.  Answers about a fixed tree size never change,
so they are cacheable forever; the latest checkpoint is not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sceau.checkpoint import LogKey
from sceau.encoding import b64url_encode
from sceau.errors import NotFoundError, ValidationError
from sceau.logproof import seal_leaf_hash
from sceau.timefmt import format_time
from sceau_service.schemas import ErrorPublic
from sceau_service.state import State
from sceau_service.tlog import MAX_ENTRIES

router = APIRouter(prefix="/v1/log", tags=["log"])

CHECKPOINT_MEDIA_TYPE = "text/plain; charset=utf-8"
_MAX = 2**53 - 1
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
_LATEST = {"Cache-Control": "no-cache"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorPublic} for code in (404, 422)}

#: Integers in query strings in one spelling: decimal, no sign, no leading zeros, no
#: fraction (``1.0`` and ``+1`` are refused, as the JSON profile refuses them in bodies).
_DECIMAL = r"^(0|[1-9][0-9]{0,15})$"


def _int(value: str | None, name: str, minimum: int = 0) -> int | None:
    if value is None:
        return None
    number = int(value)
    if not minimum <= number <= _MAX:
        raise ValidationError(f"'{name}' must be in [{minimum}, 2**53 - 1]")
    return number


def _required(value: str, name: str) -> int:
    number = _int(value, name)
    assert number is not None
    return number


@router.get("/checkpoint", response_class=Response, summary="The latest signed checkpoint",
            responses={200: {"content": {"text/plain": {}}}, 404: {"model": ErrorPublic}})
async def checkpoint(state: State) -> Response:
    """The log's latest checkpoint: a C2SP signed note (SPEC.md §6.1.2-6.1.3), signed by
    the log key with a plain and a timestamped Ed25519 signature."""
    text = await run_in_threadpool(state.log.checkpoint)
    return Response(text.encode("utf-8"), media_type=CHECKPOINT_MEDIA_TYPE, headers=_LATEST)


@router.get("/key", summary="The log's public keys", responses=_ERRORS)
async def key(state: State) -> JSONResponse:
    """The log's origin and every key it has signed with (retired ones stay listed, since
    old checkpoints carry their signatures), as C2SP verifier keys (SPEC.md §6.1.4)."""
    log_state = await run_in_threadpool(state.log.state)
    if log_state is None:
        raise NotFoundError("this service has no transparency log yet")
    rows = await run_in_threadpool(state.log.keys)
    keys = [{"vkey": LogKey(log_state.origin, row.public_key).vkey(),
             "public_key": b64url_encode(row.public_key), "status": row.status,
             "created": format_time(row.created_at)} for row in rows]
    return JSONResponse({"origin": log_state.origin, "keys": keys},
                        headers={"Cache-Control": "public, max-age=60"})


@router.get("/proof", summary="Inclusion proof of an entry", responses=_ERRORS)
async def proof(
    state: State,
    index: Annotated[str | None, Query(pattern=_DECIMAL, description="entry index")] = None,
    leaf_hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$",
                                           description="leaf hash (hex)")] = None,
    seal_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$",
                                         description="seal id")] = None,
    tree_size: Annotated[str | None, Query(pattern=_DECIMAL, description="tree size; "
                                           "default: the latest checkpoint's")] = None,
) -> JSONResponse:
    """The RFC 9162 inclusion proof of one entry (given by ``index``, ``leaf_hash`` or
    ``seal_id``: exactly one) in the tree of ``tree_size`` entries.  Without
    ``tree_size``, the latest tree, and the answer also carries its ``checkpoint``: then
    ``{index, proof, checkpoint}`` is a valid envelope ``log`` member for the seal."""
    given = [x for x in (index, leaf_hash, seal_id) if x is not None]
    if len(given) != 1:
        raise ValidationError("give exactly one of 'index', 'leaf_hash' and 'seal_id'")
    size = _int(tree_size, "tree_size", 1)
    number = _int(index, "index")
    if number is None:
        digest = (bytes.fromhex(leaf_hash) if leaf_hash is not None
                  else seal_leaf_hash(seal_id or ""))
        number = await run_in_threadpool(state.log.index_of, digest)
    entry, size, hashes, note = await run_in_threadpool(state.log.inclusion, number, size)
    if seal_id is not None and entry.seal_id != seal_id:  # pragma: no cover - hash collision
        raise NotFoundError("no log entry for this seal")
    doc: dict[str, Any] = {"index": entry.index, "tree_size": size, "seal_id": entry.seal_id,
                           "leaf_hash": entry.leaf_hash.hex(),
                           "proof": [b64url_encode(h) for h in hashes]}
    if note is not None:
        doc["checkpoint"] = note
    return JSONResponse(doc, headers=_LATEST if note is not None else _IMMUTABLE)


@router.get("/consistency", summary="Consistency proof between two tree sizes",
            responses=_ERRORS)
async def consistency(
    state: State,
    first: Annotated[str, Query(pattern=_DECIMAL, description="the older tree size")],
    second: Annotated[str | None, Query(pattern=_DECIMAL, description="the newer tree size; "
                                        "default: the latest checkpoint's")] = None,
) -> JSONResponse:
    """The RFC 9162 §2.1.4 proof that the tree of ``second`` entries extends the tree of
    ``first`` entries.  Without ``second``, the latest tree, and its ``checkpoint``."""
    older = _required(first, "first")
    size, hashes, note = await run_in_threadpool(state.log.consistency, older,
                                                 _int(second, "second"))
    doc: dict[str, Any] = {"first": older, "second": size,
                           "proof": [b64url_encode(h) for h in hashes]}
    if note is not None:
        doc["checkpoint"] = note
    return JSONResponse(doc, headers=_LATEST if note is not None else _IMMUTABLE)


@router.get("/entries", summary="Log entries by index range", responses=_ERRORS)
async def entries(
    state: State,
    start: Annotated[str, Query(pattern=_DECIMAL, description="first index")],
    end: Annotated[str, Query(pattern=_DECIMAL, description="one past the last index")],
) -> JSONResponse:
    """Entries ``[start, end)`` (at most 1000): each seal id and leaf hash, in order.
    The seal itself is at ``GET /v1/seals/{seal_id}``."""
    lo, hi = _required(start, "start"), _required(end, "end")
    if hi <= lo or hi - lo > MAX_ENTRIES:
        raise ValidationError(f"need start < end <= start + {MAX_ENTRIES}")
    rows = await run_in_threadpool(state.log.entries, lo, hi)
    return JSONResponse({"entries": [{"index": e.index, "seal_id": e.seal_id,
                                      "leaf_hash": e.leaf_hash.hex()} for e in rows]},
                        headers=_IMMUTABLE)


__all__ = ["router"]
