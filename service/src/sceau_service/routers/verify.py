"""Verification for anyone: ``POST /v1/verify``.

A seal (JSON), a content hash (JSON: the seals stored for it), or a file upload
(multipart): the file is streamed to a temporary file of bounded size, never held in
memory, and removed when the answer is ready.  Then, in order: the Sceau seal embedded in
the file, the ``seal`` part (a sidecar), a standard C2PA manifest in the file (with
``sceau[c2pa]``), the seals stored for the file's SHA-256; else 404 ``no_seal_found``.
Nothing is ever fetched from a third party.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from sceau import ContentDigest, KeyRing, Verdict, canonicalize, hash_file, verify_seal
from sceau.c2pa_verdict import C2PA_MEDIA_TYPES, c2pa_available, read_c2pa
from sceau.claim import HASH_ALGORITHMS
from sceau.encoding import hex_decode
from sceau.envelope import MAX_ENVELOPE_BYTES
from sceau.errors import (
    InvalidHashError,
    MalformedMediaError,
    NoSealFoundError,
    PayloadTooLargeError,
    SceauError,
    ServiceUnavailableError,
    UnsupportedAlgorithmError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from sceau.media import EmbeddedSeal, MediaFile, binding_digest, find_embedded
from sceau.mediatype import HEAD_SIZE, sniff
from sceau.readable import no_seal_summary, pick_language, report
from sceau_service.schemas import ErrorPublic, VerdictPublic, VerifyCreate
from sceau_service.settings import Settings
from sceau_service.state import State
from sceau_service.store import Store

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
    },
    "parameters": [{"name": "lang", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": ["en", "fr"]},
                    "description": "language of summary and label_text (else "
                                   "Accept-Language, else en)"}],
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


@dataclass(frozen=True)
class _Judge:
    """What a verification needs from the app, gathered once per request."""

    ring: KeyRing
    now: datetime
    log: dict[str, Any]
    store: Store
    lang: str
    c2pa_anchors: str | None

    def verify(self, seal: bytes, content: ContentDigest | None) -> Verdict:
        return verify_seal(seal, self.ring, now=self.now, content=content, **self.log)

    def stored(self, sha256: bytes) -> list[bytes]:
        rows = self.store.seals_by_hash(sha256.hex(), _MAX_CANDIDATES)
        return [r.envelope for r, _ in rows]

    def answer(self, verdict: Verdict, found: str) -> dict[str, Any]:
        return {**report(verdict, self.lang), "source": "sceau", "found": found}


def _verify_stored(judge: _Judge, candidates: list[bytes],
                   content_for: Callable[[Verdict], ContentDigest | None]) -> Verdict:
    """Verify stored seals of the content; the first that verifies wins, else the newest."""
    verdicts = []
    for candidate in candidates:
        verdict = judge.verify(candidate, content_for(judge.verify(candidate, None)))
        if verdict.ok:
            return verdict
        verdicts.append(verdict)
    return verdicts[0]


@dataclass
class _Upload:
    """The multipart body: the ``file`` part spooled to ``path``, and the ``seal`` part."""

    path: Path
    size: int = 0
    seal: bytes | None = None
    _whole: ContentDigest | None = field(default=None, repr=False)

    def whole(self) -> ContentDigest:
        """The plain SHA-256 of the whole file, computed once when first needed (an
        embedded seal's binding never needs it)."""
        if self._whole is None:
            self._whole = hash_file(self.path)
        return self._whole


class _Spooler:
    """python-multipart callbacks that stream ``file`` to disk and keep ``seal`` (bounded).

    Only two parts exist: ``file`` (with a filename) and ``seal`` (file or field, at most
    :data:`~sceau.envelope.MAX_ENVELOPE_BYTES`).  The parser itself bounds each part's
    headers (count and size).
    """

    def __init__(self, upload: _Upload, fd: int, limit: int) -> None:
        self.upload = upload
        self.fd = fd
        self.limit = limit
        self.seen: set[str] = set()
        self.current: str | None = None
        self.is_file = False
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.seal = bytearray()
        self.pending: list[bytes] = []
        self.ended = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished, "on_end": self.on_end}

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self.current, self.disposition = None, b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        raw = options.get(b"name")
        if raw is None:
            raise ValidationError("a multipart part has no name")
        name = raw.decode("utf-8", "replace")
        if name not in ("file", "seal"):
            raise ValidationError(f"unexpected multipart part {name[:40]!r}: send 'file' "
                                  "and optionally 'seal'")
        if name in self.seen:
            raise ValidationError(f"more than one {name!r} part")
        self.is_file = b"filename" in options
        if name == "file" and not self.is_file:
            raise ValidationError("the 'file' part must be a file upload (with a filename)")
        self.seen.add(name)
        self.current = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.current == "file":
            self.upload.size += len(chunk)
            if self.upload.size > self.limit:
                raise PayloadTooLargeError(f"upload exceeds the {self.limit}-byte limit")
            self.pending.append(chunk)
        elif self.current == "seal":
            if len(self.seal) + len(chunk) > MAX_ENVELOPE_BYTES:
                raise PayloadTooLargeError(f"seal exceeds {MAX_ENVELOPE_BYTES} bytes")
            self.seal += chunk

    def on_part_end(self) -> None:
        if self.current == "seal":
            self.upload.seal = bytes(self.seal)
        self.current = None

    def flush(self) -> None:
        """Write what the last body chunk gave the ``file`` part (in a worker thread)."""
        for chunk in self.pending:
            view = memoryview(chunk)
            while view:
                view = view[os.write(self.fd, view):]
        self.pending.clear()


@contextlib.asynccontextmanager
async def _spool(request: Request, settings: Settings) -> AsyncIterator[_Upload]:
    """Stream the multipart body's ``file`` part to a temporary file; always remove it."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise ValidationError("malformed multipart body: no boundary")
    directory = settings.upload_dir
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="sceau-upload-", dir=directory)
    upload = _Upload(Path(name))
    try:
        spooler = _Spooler(upload, fd, settings.max_upload_bytes)
        parser = MultipartParser(boundary, spooler.callbacks())  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                if spooler.pending:
                    await asyncio.to_thread(spooler.flush)
            parser.finalize()
        except FormParserError as exc:
            raise ValidationError(f"malformed multipart body: {str(exc)[:120]}") from None
        os.close(fd)
        fd = -1
        if not spooler.ended:
            raise ValidationError("malformed multipart body: it ends before its closing "
                                  "boundary")
        if "file" not in spooler.seen:
            raise ValidationError("multipart body needs a 'file' part")
        yield upload
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


@functools.lru_cache(maxsize=4)
def _read_anchors(path: str, _mtime_ns: int) -> str:
    return Path(path).read_text(encoding="ascii")


def _anchors(settings: Settings) -> str | None:
    path = settings.c2pa_trust_anchors
    if path is None:
        return None
    try:
        return _read_anchors(str(path), os.stat(path).st_mtime_ns)
    except (OSError, ValueError) as exc:
        # An operator's mistake: say so rather than silently trusting no one.
        raise ServiceUnavailableError(f"C2PA trust anchors unreadable: {exc}") from None


def _content_for(upload: _Upload, media: MediaFile | None,
                 embedded: EmbeddedSeal | None) -> Callable[[Verdict], ContentDigest | None]:
    """What a seal's hard binding covers, computed the way the binding says (as ``sceau
    verify FILE``): the file minus the region where the seal was found, chunked or not."""
    def content(verdict: Verdict) -> ContentDigest | None:
        if verdict.claim is None:
            return None  # verification stopped before the claim: nothing to compare
        chunk_size = verdict.claim.binding.chunk_size
        if embedded is None and chunk_size is None:
            return upload.whole()
        return binding_digest(upload.path, chunk_size, media, embedded)
    return content


def _judge_file(judge: _Judge, upload: _Upload) -> dict[str, Any]:
    """The verdict for an uploaded file (blocking: runs in a worker thread)."""
    path = upload.path
    media, embedded, found_broken = find_embedded(path)
    broken: SceauError | None = found_broken
    if embedded is not None:
        seal = embedded.envelope
        content = _content_for(upload, media, embedded)
        verdict = judge.verify(seal, content(judge.verify(seal, None)))
        return judge.answer(verdict, "embedded")
    if upload.seal is not None:
        content = _content_for(upload, None, None)
        verdict = judge.verify(upload.seal, content(judge.verify(upload.seal, None)))
        return judge.answer(verdict, "sidecar")
    if broken is None and c2pa_available():
        with open(path, "rb") as f:
            media_type = sniff(f.read(HEAD_SIZE))
            if media_type in C2PA_MEDIA_TYPES:
                f.seek(0)
                try:
                    doc = read_c2pa(f, media_type, trust_anchors=judge.c2pa_anchors,
                                    lang=judge.lang)
                except MalformedMediaError as exc:
                    broken, doc = exc, None
                except ValueError as exc:  # the configured trust anchors
                    raise ServiceUnavailableError(str(exc)) from None
                if doc is not None:
                    return {**doc, "found": "embedded"}
    candidates = judge.stored(upload.whole().digest)
    if candidates:
        verdict = _verify_stored(judge, candidates, _content_for(upload, None, None))
        return judge.answer(verdict, "store")
    if broken is not None:
        # No seal could be looked for inside a file whose container is broken: say why.
        raise MalformedMediaError(f"no seal found, and the file could not be read for an "
                                  f"embedded one: {broken.detail}")
    raise NoSealFoundError("no seal in the file, none given beside it, and none stored for "
                           "its content")


@router.post("/v1/verify", response_model=VerdictPublic, openapi_extra=_OPENAPI_BODY,
             summary="Verify a seal, a file, or a content hash",
             responses={c: {"model": ErrorPublic} for c in (400, 404, 413, 415, 422)})
async def verify(request: Request, state: State) -> JSONResponse:
    """Verify a seal against content (or alone), or find and verify the seals of content.

    Never fetches anything from third parties.  A seal that fails is a 200 with
    ``ok: false``; 404 ``no_seal_found`` (its detail a neutral sentence in the reader's
    language) when no seal was given, none is in the file and none is stored.
    """
    lang = pick_language(request.query_params.get("lang"),
                         request.headers.get("accept-language"))
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype not in ("application/json", "multipart/form-data"):
        raise UnsupportedMediaTypeError("send application/json or multipart/form-data")
    settings = state.settings
    # The service's own log: a seal's log proof is checked and gives its trusted time.
    log_keys = await state.log_keys.get()
    judge = _Judge(
        ring=await state.keyring.get(), now=state.sealing.now(),
        log={"log_keys": log_keys or None,
             "require_log": settings.verify_require_log and bool(log_keys)},
        store=state.store, lang=lang,
        c2pa_anchors=await run_in_threadpool(_anchors, settings))
    try:
        if ctype == "multipart/form-data":
            async with _spool(request, settings) as upload:
                doc = await run_in_threadpool(_judge_file, judge, upload)
        else:
            doc = await _judge_json(judge, await request.body())
    except NoSealFoundError:
        # The error contract stays {"code", "detail"}; the detail is the neutral sentence
        # of the "no seal" result (never "fake"), in the reader's language.
        raise NoSealFoundError(no_seal_summary(lang)) from None
    return JSONResponse(doc)


async def _judge_json(judge: _Judge, body_bytes: bytes) -> dict[str, Any]:
    try:
        body = VerifyCreate.model_validate_json(body_bytes)
    except PydanticValidationError as exc:
        raise ValidationError(_describe(exc.errors())) from None
    content = _digest(body.alg, body.hash, body.size,
                      tuple((e.start, e.length) for e in body.exclusions), body.chunk_size)
    if body.seal is not None:
        return judge.answer(judge.verify(canonicalize(body.seal), content), "request")
    if content is None:
        raise ValidationError("give a 'seal', a 'hash' and 'size', or a file")
    candidates = await run_in_threadpool(judge.stored, content.digest)
    if not candidates:
        raise NoSealFoundError("no seal is stored for this content")
    verdict = _verify_stored(judge, candidates, lambda _: content)
    return judge.answer(verdict, "store")


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


__all__ = ["router"]
