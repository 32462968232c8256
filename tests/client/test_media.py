"""Embedded seals (docs/SPEC.md §6.3) in real files made by Pillow, PyAV and c2pa-python:
decoders see the same pixels and frames, the content digest is the unsealed file's
SHA-256, strip restores the exact bytes, other metadata (C2PA, Exif, text chunks) stays,
re-sealing keeps history, and writes are all-or-nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sceau import KeyRing, LocalSigner, verify_seal
from sceau.canonical import canonicalize
from sceau.claim import read_claim
from sceau.envelope import parse_envelope, sign_envelope
from sceau.errors import ConflictError, MalformedMediaError, UnsupportedMediaError
from sceau.media import jpeg as jpeg_container
from sceau.media import prepare, probe, seal_file_locally
from sceau.media._base import RECORD_MAGIC, build_record, parse_record
from sceau.media._seal import attach
from sceau.sidecar import sidecar_path
from sceau.strictjson import loads
from sceau.verify import Integrity, Status

from .. import mediafiles

SIGNER = LocalSigner.from_seed(hashlib.sha256(b"sceau media test key").digest())
RING = KeyRing([SIGNER.record("newsroom")])
NOW = datetime.now(UTC)
KINDS = list(mediafiles.MAKERS)


def seal(path: Path, **options: object) -> str:
    """Seal ``path`` in place with the test key; return the seal id."""
    return seal_file_locally(path, SIGNER, tenant="newsroom",
                             created=NOW - timedelta(minutes=1), **options).seal_id


def verdict_of(path: Path):  # type: ignore[no-untyped-def]
    """Verify ``path``'s embedded seal the way the CLI does."""
    media = probe(path)
    assert media is not None
    found = media.embedded_seal()
    assert found is not None
    first = verify_seal(found.envelope, RING, now=NOW)
    binding = first.claim.binding if first.claim is not None else None
    content = media.content_digest(chunked=binding is not None and binding.chunk_size
                                   is not None,
                                   chunk_size=binding.chunk_size if binding else None)
    return verify_seal(found.envelope, RING, now=NOW, content=content)


@pytest.fixture(params=KINDS)
def original(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return mediafiles.make(request.param, tmp_path)


def test_round_trip(original: Path) -> None:
    before = original.read_bytes()
    decoded = mediafiles.pixels(original)
    sid = seal(original)
    after = original.read_bytes()
    assert len(after) > len(before)
    # Decoders see exactly the same pixels / frames.
    assert mediafiles.pixels(original) == decoded
    media = probe(original)
    assert media is not None and media.layout.region is not None
    # The content is the unsealed file: same SHA-256, and the claim binds it.
    digest = media.content_digest()
    assert digest.digest == hashlib.sha256(before).digest()
    verdict = verdict_of(original)
    assert verdict.ok and verdict.integrity is Integrity.MATCH, verdict.status_codes
    assert verdict.seal_id == sid
    binding = verdict.claim.binding  # type: ignore[union-attr]
    assert binding.size == len(after)
    assert binding.exclusions == ((media.layout.region.start, media.layout.region.length),)
    # Strip gives back the original bytes.
    assert media.strip()
    assert original.read_bytes() == before
    assert probe(original).layout.region is None  # type: ignore[union-attr]


def test_flipped_content_byte_is_a_mismatch(original: Path) -> None:
    seal(original)
    offset = mediafiles.frame_data_offset(original)
    data = bytearray(original.read_bytes())
    data[offset] ^= 0x01
    original.write_bytes(bytes(data))
    verdict = verdict_of(original)
    assert verdict.integrity is Integrity.MISMATCH
    assert verdict.failures == (Status.DATA_HASH_MISMATCH,)


def test_flipped_manifest_byte_is_a_signature_failure(original: Path) -> None:
    seal(original)
    media = probe(original)
    assert media is not None and media.layout.region is not None
    data = bytearray(original.read_bytes())
    # A byte inside the base64url payload, well inside the envelope.
    at = data.index(b'"payload":"', media.layout.region.start) + 40
    data[at] = ord("A") if data[at] != ord("A") else ord("B")
    original.write_bytes(bytes(data))
    verdict = verdict_of(original)
    assert verdict.failures == (Status.SIGNATURE_MISMATCH,)


def test_region_placement(tmp_path: Path) -> None:
    jpg = mediafiles.make("jpeg", tmp_path)
    png = mediafiles.make("png", tmp_path)
    mp4 = mediafiles.make("mp4-h264", tmp_path)
    webp = mediafiles.make("webp-extended", tmp_path)
    sizes = {p: p.stat().st_size for p in (jpg, png, mp4, webp)}
    for path in sizes:
        seal(path)
    data = jpg.read_bytes()
    # JPEG: after the JFIF APP0 and Exif APP1 segments, which stay first.
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    assert data[app0_end:app0_end + 2] == b"\xff\xe1"
    app1_end = app0_end + 2 + struct.unpack(">H", data[app0_end + 2:app0_end + 4])[0]
    assert data[app1_end:app1_end + 2] == b"\xff\xeb"
    assert data[app1_end + 4:app1_end + 10] == jpeg_container.IDENTIFIER
    # PNG: right after IHDR, as an scAu chunk.
    assert png.read_bytes()[37:41] == b"scAu"
    # MP4: appended after the last box, nothing before it moved.
    assert probe(mp4).layout.region.start == sizes[mp4]  # type: ignore[union-attr]
    # WebP: last chunk of the RIFF, whose size is updated.
    wdata = webp.read_bytes()
    assert struct.unpack("<I", wdata[4:8])[0] == len(wdata) - 8
    assert wdata[sizes[webp]:sizes[webp] + 4] == b"SCAU"


def test_reseal_keeps_history(tmp_path: Path) -> None:
    path = mediafiles.make("png", tmp_path)
    before = path.read_bytes()
    first = seal(path)
    with pytest.raises(ConflictError, match="already sealed"):
        prepare(path)
    second = seal(path, force=True)
    media = probe(path)
    assert media is not None
    found = media.embedded_seal()
    assert found is not None
    claim = read_claim(loads(parse_envelope(found.envelope).payload))
    assert claim.actions[0]["action"] == "c2pa.opened"
    assert [dict(i) for i in claim.ingredients] == [
        {"relationship": "parentOf", "dc:format": "image/png", "seal_id": first}]
    assert verdict_of(path).seal_id == second
    assert verdict_of(path).integrity is Integrity.MATCH
    assert path.read_bytes().count(b"scAu") == 1  # replaced, not stacked
    assert media.strip()
    assert path.read_bytes() == before


def test_reseal_mp4_in_place(tmp_path: Path) -> None:
    path = mediafiles.make("mp4-h264", tmp_path)
    before = path.read_bytes()
    seal(path)
    seal(path, force=True)
    assert path.read_bytes()[:len(before)] == before
    assert probe(path).strip()  # type: ignore[union-attr]
    assert path.read_bytes() == before


def test_sidecar_seal_is_replaced_by_an_embedded_one(tmp_path: Path) -> None:
    path = mediafiles.make("jpeg", tmp_path)
    first = seal(path, sidecar=True)
    assert sidecar_path(path).exists() and probe(path).layout.region is None  # type: ignore[union-attr]
    seal(path, force=True)
    assert not sidecar_path(path).exists()
    found = probe(path).embedded_seal()  # type: ignore[union-attr]
    assert found is not None
    claim = read_claim(loads(parse_envelope(found.envelope).payload))
    assert claim.ingredients[0]["seal_id"] == first
    with pytest.raises(ConflictError, match="embedded seal"):
        prepare(path, sidecar=True, force=True)


def test_chunked_binding_names_the_damaged_chunk(tmp_path: Path) -> None:
    path = mediafiles.make("mp4-h264", tmp_path)
    size = path.stat().st_size
    seal(path, chunk_size=1024)
    verdict = verdict_of(path)
    assert verdict.ok and verdict.integrity is Integrity.MATCH
    binding = verdict.claim.binding  # type: ignore[union-attr]
    assert binding.chunk_size == 1024 and len(binding.chunks) == -(-size // 1024)
    assert verdict.to_json()["damaged_chunks"] == []
    offset = mediafiles.frame_data_offset(path)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x80
    path.write_bytes(bytes(data))
    verdict = verdict_of(path)
    assert verdict.failures == (Status.DATA_HASH_MISMATCH,)
    assert verdict.damaged_chunks == (offset // 1024,)
    assert verdict.to_json()["damaged_chunks"] == [offset // 1024]


def test_chunked_binding_in_a_jpeg_spans_several_app11_segments(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    mediafiles.gradient(1200, 800).save(path, "JPEG", quality=95)
    assert path.stat().st_size < 1024 * 1024  # at most 1024 chunks of 1 KiB
    before = path.read_bytes()
    seal(path, chunk_size=1024)  # ~hundreds of leaves: an envelope over 64 KB
    media = probe(path)
    assert media is not None and media.layout.region is not None
    assert media.layout.region.length > 65537
    data = path.read_bytes()
    region = data[media.layout.region.start:media.layout.region.end]
    assert region.count(b"\xff\xeb") >= 2
    assert verdict_of(path).integrity is Integrity.MATCH
    assert mediafiles.pixels(path) == mediafiles.pixels(_copy_bytes(before, tmp_path))
    assert media.strip() and path.read_bytes() == before


def _copy_bytes(data: bytes, tmp_path: Path) -> Path:
    other = tmp_path / "copy.jpg"
    other.write_bytes(data)
    return other


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp-lossy", "mp4-h264", "mov"])
def test_c2pa_manifest_is_kept_intact(kind: str, tmp_path: Path) -> None:
    plain = mediafiles.make(kind, tmp_path)
    signed = tmp_path / f"c2pa-{plain.name}"
    mediafiles.c2pa_sign(plain, signed, mediafiles.c2pa_signer())
    assert mediafiles.c2pa_state(signed)[0] == "Valid"
    before = signed.read_bytes()
    seal(signed)
    sealed = signed.read_bytes()
    media = probe(signed)
    assert media is not None and media.layout.region is not None
    region = media.layout.region
    # Every byte of the C2PA file is still there, in order, around our region (a WebP's
    # RIFF size aside: it counts our chunk too).
    rest = sealed[:region.start] + sealed[region.end:]
    if kind.startswith("webp"):
        rest = rest[:4] + struct.pack("<I", len(before) - 8) + rest[8:]
    assert rest == before
    assert verdict_of(signed).integrity is Integrity.MATCH
    # c2pa-python still finds and reads its manifest; its hash binding covers the whole
    # file, so it reports the added bytes (any embedding does that to a C2PA data hash).
    state, failures = mediafiles.c2pa_state(signed)
    assert state == "Invalid"
    assert any("mismatch" in code.lower() for code in failures), failures
    # Stripping our seal gives back the C2PA file exactly, valid again.
    assert media.strip()
    assert signed.read_bytes() == before
    assert mediafiles.c2pa_state(signed)[0] == "Valid"


def test_exif_and_text_chunks_survive(tmp_path: Path) -> None:
    from PIL import Image

    jpg, png = mediafiles.make("jpeg", tmp_path), mediafiles.make("png", tmp_path)
    seal(jpg)
    seal(png)
    with Image.open(jpg) as img:
        assert img.getexif()[0x010F] == "Sceau Test Camera"
    with Image.open(png) as img:
        assert img.text["Comment"] == "made by the Sceau tests"


# -- writes are all or nothing --------------------------------------------------------------


def test_failed_rewrite_leaves_the_file_untouched(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = mediafiles.make("png", tmp_path)
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(5, "simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        seal(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left


def test_failed_append_truncates_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sceau.media import _file

    path = mediafiles.make("mp4-mpeg4", tmp_path)
    before = path.read_bytes()
    seal(path)
    sealed = path.read_bytes()
    real = _file._write_all
    calls = {"n": 0}

    def half_then_fail(fd: int, data: bytes | memoryview, offset: int) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            os.pwrite(fd, bytes(data)[:100], offset)  # a partial box reaches the disk
            raise OSError(28, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(_file, "_write_all", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        seal(path, force=True)
    assert path.read_bytes() == sealed  # the old seal is back, nothing else
    monkeypatch.setattr(_file, "_write_all", real)
    assert probe(path).strip()  # type: ignore[union-attr]
    assert path.read_bytes() == before


def test_file_changed_between_hashing_and_writing(tmp_path: Path) -> None:
    path = mediafiles.make("jpeg", tmp_path)
    prepared = prepare(path)
    with open(path, "ab") as f:
        f.write(b"late")
    claim_digest = prepared.request.digest
    from sceau.claim import build_claim
    from sceau.client import SealResult

    obj = build_claim(sha256=claim_digest.digest, size=claim_digest.size,
                      media_type="image/jpeg", tenant="newsroom", keyid=SIGNER.keyid,
                      created=NOW, exclusions=claim_digest.exclusions)
    envelope = sign_envelope(canonicalize(obj), SIGNER)
    with pytest.raises(UnsupportedMediaError, match="changed"):
        attach(prepared, SealResult("x", envelope.to_bytes()))
    assert path.read_bytes().endswith(b"late")


# -- fallbacks -----------------------------------------------------------------------------


def test_other_types_get_a_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"plain text, not media")
    assert probe(path) is None
    prepared = prepare(path)
    assert prepared.attachment == "sidecar" and not prepared.request.digest.exclusions
    gif = tmp_path / "anim.gif"
    mediafiles.gradient().save(gif, "GIF")
    assert prepare(gif).attachment == "sidecar"


def test_name_does_not_decide_the_type(tmp_path: Path) -> None:
    path = mediafiles.make("png", tmp_path)
    disguised = path.rename(tmp_path / "picture.jpg")
    media = probe(disguised)
    assert media is not None and media.container == "png"


def test_open_ended_mp4_falls_back_to_a_sidecar(tmp_path: Path) -> None:
    path = mediafiles.make("mp4-h264", tmp_path)
    data = bytearray(path.read_bytes())
    # Give the last top-level box size 0 ("to the end of the file", ISO/IEC 14496-12 §4.2).
    pos, last = 0, 0
    while pos < len(data):
        last = pos
        pos += struct.unpack(">I", data[pos:pos + 4])[0]
    data[last:last + 4] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(data))
    prepared = prepare(path)
    assert prepared.attachment == "sidecar"
    assert "size 0" in prepared.notes[0]


def test_malformed_file_falls_back_to_a_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(300))
    with pytest.raises(MalformedMediaError):
        probe(path)
    prepared = prepare(path)
    assert prepared.attachment == "sidecar" and "not embedded" in prepared.notes[0]


# -- the record --------------------------------------------------------------------------------


def test_record_layout() -> None:
    record = build_record(b"{}", 40)
    assert record == RECORD_MAGIC + b"\x01\x00" + b"\x00\x00\x00\x02{}" + bytes(26)
    assert parse_record(record) == b"{}"


@pytest.mark.parametrize("damage", [
    lambda r: b"X" + r[1:],  # magic
    lambda r: r[:6] + b"\x02" + r[7:],  # version
    lambda r: r[:7] + b"\x01" + r[8:],  # reserved
    lambda r: r[:8] + b"\x00\x00\x10\x00" + r[12:],  # length beyond the record
    lambda r: r[:-1] + b"\x01",  # padding
    lambda r: r[:10],  # too short
])
def test_damaged_records(damage: object) -> None:
    from sceau.media._base import DamagedRecordError

    record = build_record(b'{"a":1}', 64)
    with pytest.raises(DamagedRecordError):
        parse_record(damage(record))  # type: ignore[operator]


def test_damaged_record_reads_as_a_malformed_envelope(tmp_path: Path) -> None:
    path = mediafiles.make("png", tmp_path)
    seal(path)
    media = probe(path)
    assert media is not None and media.layout.region is not None
    data = bytearray(path.read_bytes())
    data[media.layout.region.end - 5] = 7  # inside the zero padding (CRC now wrong too)
    path.write_bytes(bytes(data))
    found = probe(path).embedded_seal()  # type: ignore[union-attr]
    assert found is not None and found.damage is not None and found.envelope == b""
    assert "CRC" in found.notes[0]
    assert verify_seal(found.envelope, RING, now=NOW).failures == (
        Status.ENVELOPE_MALFORMED,)


def test_copied_file_keeps_its_seal(tmp_path: Path) -> None:
    path = mediafiles.make("webp-lossless", tmp_path)
    seal(path)
    copy = tmp_path / "elsewhere" / "renamed.bin"
    copy.parent.mkdir()
    shutil.copyfile(path, copy)
    assert verdict_of(copy).integrity is Integrity.MATCH


def test_symlinked_file_is_sealed_through_the_link(tmp_path: Path) -> None:
    real = mediafiles.make("jpeg", tmp_path)
    link = tmp_path / "link.jpg"
    link.symlink_to(real)
    seal(link)
    assert link.is_symlink()
    assert probe(real).layout.region is not None  # type: ignore[union-attr]
