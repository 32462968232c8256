"""Verification for anyone: ``POST /v1/verify``."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from sceau import ContentDigest, KeyRing, Verdict, canonicalize, hash_stream, verify_seal
from sceau.claim import HASH_ALGORITHMS
from sceau.encoding import hex_decode
from sceau.envelope import MAX_ENVELOPE_BYTES
from sceau.errors import (
    InvalidHashError,
    NoSealFoundError,
    PayloadTooLargeError,
    UnsupportedAlgorithmError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from sceau.readable import report
from sceau_service.schemas import ErrorPublic, VerdictPublic, VerifyCreate
from sceau_service.state import State

router = APIRouter(tags=["verify"])

_MAX_CANDIDATES = 10
_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/VerifyCreate"}},
            "multipart/form-data": {"schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"},
                               "seal": {"type": "string", "format": "binary"}},
            }},
        },
    }
}


def _digest(alg: str, hex_hash: str | None, size: int | None,
            exclusions: tuple[tuple[int, int], ...] = (),
            chunk_size: int | None = None) -> ContentDigest | None:
    if hex_hash is None and size is None:
        return None
    if hex_hash is None or size is None:
        raise ValidationError("give both 'hash' and 'size', or neither")
    length = HASH_ALGORITHMS.get(alg)
    if length is None:
        raise UnsupportedAlgorithmError(f"hash algorithm {alg[:32]!r} is not supported")
    try:
        return ContentDigest(alg, hex_decode(hex_hash, length), size, exclusions, chunk_size)
    except ValueError as exc:
        raise InvalidHashError(f"{alg} hash: {exc}") from None


def _verify_stored(candidates: list[bytes], ring: KeyRing, now: datetime,
                   log: dict[str, Any],
                   content: ContentDigest) -> Verdict:
    """Verify stored seals of the content; the first that verifies wins, else the newest."""
    verdicts = [verify_seal(c, ring, now=now, content=content, **log) for c in candidates]
    return next((v for v in verdicts if v.ok), verdicts[0])


async def _read_multipart(request: Request) -> tuple[bytes | None, ContentDigest]:
    try:
        form = await request.form(max_files=2, max_fields=2)
    except HTTPException as exc:  # Starlette's answer to an unparsable multipart body
        if "maximum size" in str(exc.detail):
            raise PayloadTooLargeError(f"multipart body: {exc.detail}") from None
        raise ValidationError(f"malformed multipart body: {exc.detail}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationError("multipart body needs a 'file' part")
        content = await asyncio.to_thread(hash_stream, upload.file)
        seal_part = form.get("seal")
        seal: bytes | None
        if seal_part is None:
            seal = None
        elif isinstance(seal_part, UploadFile):
            seal = await seal_part.read(MAX_ENVELOPE_BYTES + 1)
        else:
            seal = seal_part.encode("utf-8")
        if seal is not None and len(seal) > MAX_ENVELOPE_BYTES:
            raise PayloadTooLargeError(f"seal exceeds {MAX_ENVELOPE_BYTES} bytes")
        return seal, content
    finally:
        await form.close()


@router.post("/v1/verify", response_model=VerdictPublic, openapi_extra=_OPENAPI_BODY,
             summary="Verify a seal, a file, or a content hash",
             responses={c: {"model": ErrorPublic} for c in (400, 404, 413, 415, 422)})
async def verify(request: Request, state: State) -> JSONResponse:
    """Verify a seal against content (or alone), or find and verify the seals of content.

    Never fetches anything from third parties.  A seal that fails is a 200 with
    ``ok: false``; 404 ``no_seal_found`` when no seal was given and none is stored.
    """
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    seal: bytes | None
    content: ContentDigest | None
    if ctype == "application/json":
        try:
            body = VerifyCreate.model_validate_json(await request.body())
        except PydanticValidationError as exc:
            raise ValidationError(_describe(exc.errors())) from None
        seal = None if body.seal is None else canonicalize(body.seal)
        content = _digest(body.alg, body.hash, body.size,
                          tuple((e.start, e.length) for e in body.exclusions), body.chunk_size)
    elif ctype == "multipart/form-data":
        seal, content = await _read_multipart(request)
    else:
        raise UnsupportedMediaTypeError("send application/json or multipart/form-data")
    ring = await state.keyring.get()
    now = state.sealing.now()
    # The service's own log: a seal's log proof is checked and gives its trusted time.
    log_keys = await state.log_keys.get()
    log: dict[str, Any] = {"log_keys": log_keys or None,
                           "require_log": state.settings.verify_require_log and bool(log_keys)}
    if seal is not None:
        verdict = verify_seal(seal, ring, now=now, content=content, **log)
    else:
        if content is None:
            raise ValidationError("give a 'seal', a 'hash' and 'size', or a file")
        rows = await run_in_threadpool(state.store.seals_by_hash, content.digest.hex(),
                                       _MAX_CANDIDATES)
        if not rows:
            raise NoSealFoundError("no seal is stored for this content")
        verdict = _verify_stored([r.envelope for r, _ in rows], ring, now, log, content)
    return JSONResponse(report(verdict))


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


__all__ = ["router"]
