"""End to end: the `sceau` CLI against a real `sceau-service` process on a loopback port,
on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from ..conftest import ServerProcess
from .conftest import SCEAU
from .conftest import run_sceau as _run

pytestmark = pytest.mark.e2e


def _photo(path: Path) -> Path:
    """A real JPEG made by Pillow: a gradient, so every byte is meaningful image data."""
    img = Image.new("RGB", (320, 240))
    img.putdata([(x % 256, y % 256, (x * y) % 256) for y in range(240) for x in range(320)])
    img.save(path, "JPEG", quality=90)
    return path


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_sign_verify_tamper(server: ServerProcess, tmp_path: Path) -> None:
    photo = _photo(tmp_path / "photo.jpg")
    original = photo.read_bytes()

    # A sidecar seal (embedded seals: test_media_e2e.py).
    signed = _run(["sign", "--sidecar", "photo.jpg"], server, tmp_path)
    assert signed.returncode == 0, signed.stderr
    sidecar = tmp_path / "photo.jpg.sceau.json"
    assert sidecar.exists()

    ok = _run(["verify", "photo.jpg"], server, tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "dev" in ok.stdout  # the signer's tenant is named
    assert "2026" in ok.stdout or "20" in ok.stdout  # and the time

    verdict = json.loads(_run(["verify", "--json", "photo.jpg"], server, tmp_path).stdout)
    assert verdict["ok"] is True
    assert "assertion.dataHash.match" in verdict["status_codes"]
    assert verdict["signer"]["tenant"] == "dev"
    assert verdict["time"]["signer_time"]

    # One flipped byte in the middle of the image data.
    _flip(photo, len(original) // 2)
    bad = _run(["verify", "--json", "photo.jpg"], server, tmp_path)
    assert bad.returncode == 1
    assert "assertion.dataHash.mismatch" in json.loads(bad.stdout)["status_codes"]
    photo.write_bytes(original)
    assert _run(["verify", "photo.jpg"], server, tmp_path).returncode == 0

    # One flipped bit in the signature inside the sidecar.
    doc = json.loads(sidecar.read_text())
    sig = doc["signatures"][0]["sig"]
    doc["signatures"][0]["sig"] = ("B" if sig[0] == "A" else "A") + sig[1:]
    sidecar.write_text(json.dumps(doc))
    tampered = _run(["verify", "--json", "photo.jpg"], server, tmp_path)
    assert tampered.returncode == 1
    codes = json.loads(tampered.stdout)["status_codes"]
    assert "claimSignature.mismatch" in codes


def test_unsealed_file_and_inspect(server: ServerProcess, tmp_path: Path) -> None:
    photo = _photo(tmp_path / "unsealed.jpg")
    none = _run(["verify", "unsealed.jpg"], server, tmp_path)
    assert none.returncode == 1
    assert "no seal" in (none.stdout + none.stderr).lower()
    assert "fake" not in (none.stdout + none.stderr).lower()

    assert _run(["sign", photo.name, "--title", "Harbour at dawn"], server,
                tmp_path).returncode == 0
    inspected = _run(["inspect", photo.name], server, tmp_path)
    assert inspected.returncode == 0
    assert "Harbour at dawn" in inspected.stdout
    assert "image/jpeg" in inspected.stdout
    assert _run(["verify", "missing.jpg"], server, tmp_path).returncode == 2


def test_many_files_in_one_batch(server: ServerProcess, tmp_path: Path) -> None:
    names = []
    for i in range(5):
        p = tmp_path / f"img{i}.png"
        Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(p, "PNG")
        names.append(p.name)
    assert _run(["sign", *names], server, tmp_path).returncode == 0
    for name in names:
        assert _run(["verify", name], server, tmp_path).returncode == 0
    # Signing again without --force never double-seals silently.
    again = _run(["sign", names[0]], server, tmp_path)
    assert again.returncode != 0


def test_verify_needs_reachable_keys(tmp_path: Path, server: ServerProcess) -> None:
    photo = _photo(tmp_path / "p.jpg")
    assert _run(["sign", photo.name], server, tmp_path).returncode == 0
    env = {**os.environ, "SCEAU_SERVER": "http://127.0.0.1:9"}
    down = subprocess.run([SCEAU, "verify", photo.name], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert down.returncode == 2
