"""Sealing a file end to end: hash it, choose where the seal goes, attach the seal.

The claim must state the exact byte range the seal will occupy (its ``exclusions``) and the
sealed file's size before the seal exists.  So :func:`prepare` estimates the envelope's
size from the request's fields (with room to spare), fixes the region's length ``L`` and
its place, and asks for a claim with ``size = content + L`` and ``exclusions =
[(place, L)]``; :func:`attach` then writes a region of exactly ``L`` bytes: the envelope
and zero padding inside the container's own framing (SPEC.md §6.3).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sceau.canonical import canonicalize
from sceau.claim import build_claim
from sceau.client import Client, SealRequest, SealResult
from sceau.encoding import b64url_encode
from sceau.envelope import (
    CLAIM_PAYLOAD_TYPE,
    MAX_ENVELOPE_BYTES,
    Signer,
    parse_envelope,
    seal_claim,
)
from sceau.errors import (
    ConflictError,
    MalformedMediaError,
    SceauError,
    UnsupportedMediaError,
)
from sceau.hashing import Progress
from sceau.media import jpeg
from sceau.media._base import RECORD_HEADER, Region, build_record
from sceau.media._file import MediaFile, digest_file, probe
from sceau.mediatype import HEAD_SIZE, sniff
from sceau.sidecar import read_sidecar, sidecar_path, write_sidecar
from sceau.verify import ContentDigest, seal_id

__all__ = [
    "PreparedSeal",
    "RegionTooSmallError",
    "attach",
    "estimate_envelope_size",
    "prepare",
    "seal_file",
    "seal_file_locally",
]

#: Room left in a region beyond the estimated envelope: for fields the service adds that
#: the client cannot predict exactly (its generator name, a log proof).
SLACK = 2048
_ALIGN = 1024
_OVERHEAD = {"png": 12, "webp": 8, "bmff": 24}


class RegionTooSmallError(UnsupportedMediaError):
    """The seal the service returned is larger than the room reserved for it."""

    code = "unsupported_media"

    def __init__(self, detail: str, needed: int) -> None:
        super().__init__(detail)
        self.needed = needed


@dataclass(frozen=True)
class PreparedSeal:
    """A file hashed and ready to be sealed: ``request`` is what to have signed.

    ``media`` is None when the seal goes to a sidecar (``notes`` may say why).
    ``region_length`` is the room reserved in the file; ``previous`` the seal id of the
    seal being replaced (recorded as the parent ingredient), if any.
    """

    path: Path
    request: SealRequest
    media: MediaFile | None
    region_length: int = 0
    previous: str | None = None
    had_sidecar: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def attachment(self) -> str:
        """``embedded`` or ``sidecar``."""
        return "sidecar" if self.media is None else "embedded"

    def with_room(self, envelope_size: int) -> PreparedSeal:
        """The same seal with a region large enough for an envelope of this size."""
        assert self.media is not None
        length = region_length(self.media.container, envelope_size)
        return replace(self, region_length=length,
                       request=replace(self.request, digest=_final_digest(
                           self.request.digest, self.media, length)))


def prepare(
    path: str | os.PathLike[str],
    *,
    sidecar: bool = False,
    force: bool = False,
    media_type: str | None = None,
    title: str | None = None,
    digital_source_type: str | None = None,
    software_agent: Mapping[str, str] | None = None,
    author: Sequence[str] | None = None,
    publisher: str | None = None,
    chunked: bool | None = None,
    chunk_size: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> PreparedSeal:
    """Hash ``path`` and decide how its seal will be attached.

    The seal is embedded when the file's bytes say it is JPEG, PNG, WebP or ISO BMFF
    (and ``sidecar`` is False); otherwise it goes to ``<file>.sceau.json``, also when the
    container is malformed or cannot take a region (``notes`` says why).  A file that
    already has a seal (embedded or sidecar) is refused with
    :class:`~sceau.errors.ConflictError` unless ``force``; with ``force`` the old seal is
    replaced and named as the new seal's ``parentOf`` ingredient (first action
    ``c2pa.opened``), so history is kept.
    """
    p = Path(path)
    notes: list[str] = []
    media: MediaFile | None = None
    try:
        media = probe(p)
    except MalformedMediaError as exc:
        if not sidecar:
            notes.append(f"not embedded ({exc.detail}); sealed with a sidecar")
    embedded = media.embedded_seal() if media is not None else None
    if sidecar and embedded is not None:
        raise ConflictError(f"{p} has an embedded seal; remove it first with 'sceau strip' "
                            "to seal with a sidecar, or seal it again without --sidecar")
    if media is not None and media.layout.unembeddable is not None:
        if not sidecar:
            notes.append(f"not embedded ({media.layout.unembeddable}); sealed with a sidecar")
        media = None
    if sidecar:
        media = None
    if media_type is None:
        with open(p, "rb") as f:
            media_type = sniff(f.read(HEAD_SIZE))
    side = sidecar_path(p)
    had_sidecar = side.exists() or side.is_symlink()
    if (embedded is not None or had_sidecar) and not force:
        where = "an embedded seal" if embedded is not None else f"{side.name} exists"
        raise ConflictError(f"{p} is already sealed ({where}); use --force to seal it again "
                            "(the old seal is kept as the new one's parent)")
    previous: str | None = None
    previous_format = media_type
    with contextlib.suppress(SceauError, OSError):
        old = embedded.envelope if embedded is not None else (
            read_sidecar(p) if had_sidecar else None)
        if old:
            previous = seal_id(parse_envelope(old))
    action = None
    ingredients: list[dict[str, Any]] | None = None
    if embedded is not None or had_sidecar:
        action = "c2pa.opened"
        parent: dict[str, Any] = {"relationship": "parentOf", "dc:format": previous_format}
        if previous is not None:
            parent["seal_id"] = previous
        ingredients = [parent]
    if media is not None:
        digest = media.content_digest(chunked=chunked, chunk_size=chunk_size,
                                      workers=workers, progress=progress)
    else:
        digest = digest_file(p, chunked=chunked, chunk_size=chunk_size, workers=workers,
                             progress=progress)
    request = SealRequest(digest, media_type, title, digital_source_type, action,
                          software_agent, author, publisher, ingredients)
    prepared = PreparedSeal(p, request, media, 0, previous, had_sidecar, tuple(notes))
    if media is None:
        return prepared
    return prepared.with_room(estimate_envelope_size(request))


def region_length(container: str, envelope_size: int) -> int:
    """The region length reserved for an envelope of about ``envelope_size`` bytes:
    the envelope, a quarter more and :data:`SLACK`, in whole KiB."""
    need = RECORD_HEADER + envelope_size + SLACK + envelope_size // 4
    length = -(-(need + _OVERHEAD.get(container, 12)) // _ALIGN) * _ALIGN
    while True:
        fitted = jpeg.fit_length(length) if container == "jpeg" else length
        if _capacity(container, fitted) >= need:
            return fitted
        length += _ALIGN


def _capacity(container: str, length: int) -> int:
    """Record bytes a region of ``length`` bytes holds."""
    if container == "jpeg":
        return jpeg.capacity(length)
    return length - _OVERHEAD[container]


def _final_digest(digest: ContentDigest, media: MediaFile, length: int) -> ContentDigest:
    """The digest as the sealed file's claim states it: the same content, the file's
    final size and the region as its one exclusion."""
    content = media.layout.content_size
    return replace(digest, size=content + length,
                   exclusions=((media.layout.insert_at, length),))


def estimate_envelope_size(request: SealRequest) -> int:
    """An upper estimate of the envelope the service will return for ``request``:
    the claim built here with the longest values the unknown fields may take."""
    digest = request.digest
    dst = request.digital_source_type
    action = request.action or "c2pa.created"
    if dst is None and action == "c2pa.created":
        dst = "compositeWithTrainedAlgorithmicMedia"  # the longest IPTC term
    content = digest.size - sum(n for _, n in digest.exclusions)
    claim = build_claim(
        sha256=digest.digest, size=content + 2**30, media_type=request.media_type,
        tenant="t" * 63, keyid="k" * 128, created=datetime(2999, 12, 31, tzinfo=UTC),
        digital_source_type=dst, first_action=action,
        title=request.title, generator=("g" * 64, "v" * 32),
        software_agent=request.software_agent, ingredients=request.ingredients or (),
        author=request.author or (), publisher=request.publisher,
        exclusions=[(content, 2**30)], chunk_size=digest.chunk_size,
        chunks=digest.chunks)
    payload = canonicalize(claim)
    envelope = {"payload": b64url_encode(payload), "payloadType": CLAIM_PAYLOAD_TYPE,
                "sceau": 1, "signatures": [{"keyid": "k" * 128, "sig": "s" * 86}]}
    return len(canonicalize(envelope))


def attach(prepared: PreparedSeal, result: SealResult, *, fsync: bool = True) -> Region | Path:
    """Write the seal into the file (or its sidecar); return where it went.

    Raises :class:`RegionTooSmallError` when the envelope does not fit the reserved
    region (``prepared.with_room(error.needed)`` makes a plan that fits), and
    ``FileExistsError`` when a sidecar appeared meanwhile.
    """
    envelope = result.envelope_bytes
    if prepared.media is None:
        return write_sidecar(prepared.path, envelope, overwrite=prepared.had_sidecar)
    media = prepared.media
    length = prepared.request.digest.exclusions[0][1]
    capacity = _capacity(media.container, length)
    if RECORD_HEADER + len(envelope) > capacity:
        raise RegionTooSmallError(f"the seal ({len(envelope)} bytes) does not fit the "
                                  f"{length} bytes reserved for it", len(envelope))
    if len(envelope) > MAX_ENVELOPE_BYTES:
        raise RegionTooSmallError("the seal is larger than an envelope may be", len(envelope))
    handler = media.handler
    region = handler.build_region(build_record(envelope, capacity))
    assert len(region) == length, (len(region), length)
    where = media.write_region(region, fsync=fsync)
    if prepared.had_sidecar:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sidecar_path(prepared.path))  # replaced by the embedded seal
    return where


def seal_file(client: Client, path: str | os.PathLike[str], **options: Any) -> SealResult:
    """Seal one file through the service and attach the seal (embedded when possible).

    ``options`` are those of :func:`prepare`.  If the service's seal is larger than the
    room reserved (rare: only unusual service-side fields), the file is sealed again
    with enough room and the first seal is left unattached.
    """
    prepared = prepare(path, **options)
    result = client.seal_request(prepared.request)
    try:
        attach(prepared, result)
    except RegionTooSmallError as exc:
        prepared = prepared.with_room(exc.needed)
        result = client.seal_request(prepared.request)
        attach(prepared, result)
    return result


def seal_file_locally(path: str | os.PathLike[str], signer: Signer, *, tenant: str,
                      created: datetime, fsync: bool = True,
                      **options: Any) -> SealResult:
    """Seal one file with a local :class:`~sceau.envelope.Signer` (tests, benchmarks,
    offline tools) and attach the seal."""
    prepared = prepare(path, **options)
    request = prepared.request
    d = request.digest
    dst = request.digital_source_type
    if dst is None and (request.action or "c2pa.created") == "c2pa.created":
        dst = "digitalCapture"
    claim = build_claim(
        sha256=d.digest, size=d.size, media_type=request.media_type, tenant=tenant,
        keyid=signer.keyid, created=created, digital_source_type=dst,
        first_action=request.action or "c2pa.created", title=request.title,
        software_agent=request.software_agent, ingredients=request.ingredients or (),
        author=request.author or (), publisher=request.publisher, exclusions=d.exclusions,
        chunk_size=d.chunk_size, chunks=d.chunks)
    envelope = seal_claim(claim, signer)
    result = SealResult(seal_id(envelope), envelope.to_bytes())
    attach(prepared, result, fsync=fsync)
    return result

