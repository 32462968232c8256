"""End to end: `sceau sign` embeds seals in real JPEG, PNG, WebP, MP4 and MOV files (and a
C2PA-signed JPEG) through a real `sceau-service` process, on SQLite and PostgreSQL;
`sceau verify` finds them, names damage, and `sceau strip` restores the original bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .. import mediafiles
from ..conftest import ServerProcess
from .conftest import run_sceau as _run

pytestmark = pytest.mark.e2e


def _flip(path: Path, offset: int) -> bytes:
    data = path.read_bytes()
    changed = bytearray(data)
    changed[offset] ^= 0x01
    path.write_bytes(bytes(changed))
    return data


def _verdict(path: Path, server: ServerProcess) -> tuple[int, dict[str, object]]:
    run = _run(["verify", "--json", path.name], server, path.parent)
    return run.returncode, json.loads(run.stdout)


def test_embed_verify_tamper_strip(server: ServerProcess, tmp_path: Path) -> None:
    work = tmp_path / "media"
    work.mkdir()
    files = [mediafiles.make(kind, work) for kind in
             ("jpeg", "png", "webp-lossy", "mp4-h264", "mov")]
    signed = work / "c2pa-photo.jpg"
    mediafiles.c2pa_sign(files[0], signed, mediafiles.c2pa_signer())
    files.append(signed)
    originals = {p: p.read_bytes() for p in files}
    decoded = {p: mediafiles.pixels(p) for p in files}

    run = _run(["sign", *[p.name for p in files]], server, work)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == len(files)
    assert not list(work.glob("*.sceau.json"))  # embedded, no sidecars

    for path in files:
        assert path.read_bytes() != originals[path]
        assert mediafiles.pixels(path) == decoded[path], path.name
        code, verdict = _verdict(path, server)
        assert code == 0, (path.name, verdict)
        assert "assertion.dataHash.match" in verdict["status_codes"]  # type: ignore[operator]
        location = verdict["seal_location"]
        assert isinstance(location, dict) and location["attachment"] == "embedded"

    # One flipped byte in the image / frame data: the content no longer matches.
    for path in (files[0], files[3]):
        sealed = _flip(path, mediafiles.frame_data_offset(path))
        code, verdict = _verdict(path, server)
        assert code == 1
        assert "assertion.dataHash.mismatch" in verdict["status_codes"]  # type: ignore[operator]
        path.write_bytes(sealed)

    # One flipped byte in our manifest (the payload inside the envelope): a signature
    # failure.
    png = files[1]
    data = png.read_bytes()
    sealed = _flip(png, data.index(b'"payload":"') + 50)
    code, verdict = _verdict(png, server)
    assert code == 1
    assert verdict["status_codes"] == ["claimSignature.mismatch"]
    png.write_bytes(sealed)

    # Strip: every file is byte for byte what it was; the C2PA one validates again.
    run = _run(["strip", *[p.name for p in files]], server, work)
    assert run.returncode == 0, run.stderr
    for path in files:
        assert hashlib.sha256(path.read_bytes()).digest() == \
            hashlib.sha256(originals[path]).digest(), path.name
    assert mediafiles.c2pa_state(signed)[0] == "Valid"
    assert _run(["strip", files[0].name], server, work).returncode == 1  # nothing left
    assert _run(["verify", files[0].name], server, work).returncode == 1  # no seal


def test_chunked_reseal_and_damaged_chunk(server: ServerProcess, tmp_path: Path) -> None:
    video = mediafiles.make("mp4-h264", tmp_path)
    size = video.stat().st_size
    run = _run(["sign", video.name, "--chunk-size", "1024"], server, tmp_path)
    assert run.returncode == 0, run.stderr
    first = run.stdout.split("\t")[1].strip()

    again = _run(["sign", video.name], server, tmp_path)
    assert again.returncode == 1 and "already sealed" in again.stderr
    run = _run(["sign", video.name, "--chunk-size", "1024", "--force"], server, tmp_path)
    assert run.returncode == 0, run.stderr
    inspected = _run(["inspect", "--json", video.name], server, tmp_path)
    claim = json.loads(inspected.stdout)
    ingredients = [a["data"] for a in claim["assertions"]
                   if a["label"] == "c2pa.ingredient.v3"]
    assert ingredients == [{"relationship": "parentOf", "dc:format": "video/mp4",
                            "seal_id": first}]
    binding = next(a["data"] for a in claim["assertions"]
                   if a["label"] == "sceau.hash.chunked")
    assert binding["chunk_size"] == 1024 and len(binding["chunks"]) == -(-size // 1024)

    code, verdict = _verdict(video, server)
    assert code == 0 and verdict["damaged_chunks"] == []
    offset = mediafiles.frame_data_offset(video)
    _flip(video, offset)
    code, verdict = _verdict(video, server)
    assert code == 1
    assert "assertion.dataHash.mismatch" in verdict["status_codes"]  # type: ignore[operator]
    assert verdict["damaged_chunks"] == [offset // 1024]
    text = _run(["verify", video.name], server, tmp_path)
    assert text.returncode == 1
    assert f"#{offset // 1024} (bytes {offset // 1024 * 1024}-" in text.stdout
