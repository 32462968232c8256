"""The CLI with embedded seals: `sign` embeds (or `--sidecar`), re-seals with `--force`,
retries when the service's seal outgrows its room, shows progress; `verify` says where the
seal was found; `strip` restores files.  The service is an in-process fake."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import sceau
from sceau.claim import build_claim
from sceau.cli import main
from sceau.envelope import seal_claim
from sceau.keyring import KeyRing
from sceau.local import LocalSigner
from sceau.media import probe
from sceau.sidecar import sidecar_path

from .. import mediafiles

TOKEN = "sct_" + "C" * 43


class Service:
    """``POST /v1/seals[/batch]`` and the JWKS, honouring exclusions, chunked bindings,
    actions and ingredients as the real service does.  ``padding`` adds an unknown claim
    member of that many bytes to the next seals (a seal larger than the client guessed)."""

    def __init__(self) -> None:
        self.signer = LocalSigner.from_seed(hashlib.sha256(b"cli media fake").digest())
        self.bodies: list[Any] = []
        self.padding: list[int] = []

    def seal(self, item: dict[str, Any]) -> dict[str, Any]:
        chunks = item.get("chunks")
        obj = build_claim(
            sha256=bytes.fromhex(item["hash"]), size=item["size"],
            media_type=item["media_type"], tenant="studio", keyid=self.signer.keyid,
            created=datetime.now(UTC) - timedelta(seconds=5),
            digital_source_type=item.get("digital_source_type",
                                         "digitalCapture" if "action" not in item else None),
            first_action=item.get("action", "c2pa.created"),
            ingredients=item.get("ingredients", ()),
            exclusions=[(e["start"], e["length"]) for e in item.get("exclusions", [])],
            chunk_size=item.get("chunk_size"),
            chunks=None if chunks is None else [bytes.fromhex(c) for c in chunks])
        if self.padding:
            obj["com.example.padding"] = "x" * self.padding.pop(0)
        envelope = seal_claim(obj, self.signer)
        return {"seal_id": sceau.seal_id(envelope), "seal": envelope.to_json()}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=KeyRing([self.signer.record("studio")]).to_jwks())
        if request.method == "GET":  # e.g. /v1/log/key: this fake keeps no log
            return httpx.Response(404, json={"code": "not_found", "detail": request.url.path})
        body = json.loads(request.content)
        self.bodies.append(body)
        if request.url.path == "/v1/seals":
            return httpx.Response(201, json=self.seal(body))
        return httpx.Response(201, json={"seals": [self.seal(i) for i in body["items"]]})


@pytest.fixture
def service() -> Service:
    return Service()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], service: Service,
        monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.delenv("SCEAU_SERVER", raising=False)
    monkeypatch.delenv("SCEAU_TOKEN", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv), transport=httpx.MockTransport(service))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_sign_embeds_by_default(cli: Callable[..., tuple[int, str, str]], service: Service,
                                tmp_path: Path) -> None:
    photo = mediafiles.make("jpeg", tmp_path)
    before = photo.read_bytes()
    code, out, err = cli("sign", str(photo), "--token", TOKEN)
    assert code == 0, err
    [body] = service.bodies
    [exclusion] = body["exclusions"]
    assert body["size"] == len(before) + exclusion["length"]
    assert body["hash"] == hashlib.sha256(before).hexdigest()
    assert not sidecar_path(photo).exists()
    code, out, err = cli("verify", str(photo), "--json", "--server", "http://x.test")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["seal_location"] == {"attachment": "embedded", "container": "jpeg",
                                    "offset": exclusion["start"],
                                    "length": exclusion["length"]}
    code, out, _ = cli("verify", str(photo), "--server", "http://x.test")
    assert code == 0 and "found       embedded (jpeg" in out
    code, out, _ = cli("inspect", str(photo))
    assert code == 0 and "(embedded, jpeg)" in out and "excluded" in out


def test_sidecar_option(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    photo = mediafiles.make("png", tmp_path)
    before = photo.read_bytes()
    code, _, err = cli("sign", str(photo), "--token", TOKEN, "--sidecar")
    assert code == 0, err
    assert photo.read_bytes() == before and sidecar_path(photo).exists()
    code, out, _ = cli("verify", str(photo), "--json", "--server", "http://x.test")
    assert code == 0
    assert json.loads(out)["seal_location"]["attachment"] == "sidecar"
    # Sealing again, embedded, replaces the sidecar and names it as the parent.
    code, _, err = cli("sign", str(photo), "--token", TOKEN)
    assert code == 1 and "already sealed" in err
    code, _, err = cli("sign", str(photo), "--token", TOKEN, "--force")
    assert code == 0, err
    assert not sidecar_path(photo).exists()
    code, out, _ = cli("verify", str(photo), "--json", "--server", "http://x.test")
    assert code == 0
    assert json.loads(out)["claim"]["assertions"][0]["data"]["actions"][0]["action"] \
        == "c2pa.opened"


def test_seal_larger_than_its_room_is_sealed_again(cli: Callable[..., tuple[int, str, str]],
                                                   service: Service, tmp_path: Path) -> None:
    video = mediafiles.make("mp4-mpeg4", tmp_path)
    service.padding = [20_000, 20_000]
    code, out, err = cli("sign", str(video), "--token", TOKEN)
    assert code == 0, err
    assert len(service.bodies) == 2  # the first seal did not fit; the second one does
    assert service.bodies[1]["exclusions"][0]["length"] > 20_000
    code, out, _ = cli("verify", str(video), "--server", "http://x.test")
    assert code == 0, out


def test_batch_mixes_embedded_and_sidecar(cli: Callable[..., tuple[int, str, str]],
                                          service: Service, tmp_path: Path) -> None:
    files = [mediafiles.make(k, tmp_path) for k in ("jpeg", "webp-lossless", "mov")]
    text = tmp_path / "notes.txt"
    text.write_text("not media")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    code, _out, err = cli("sign", *map(str, [*files, text, broken]), "--token", TOKEN,
                         "--progress", "--jobs", "3")
    assert code == 0, err
    assert len(service.bodies) == 1 and len(service.bodies[0]["items"]) == 5
    assert "hashing: 5/5 files" in err
    assert f"note: {broken}: not embedded" in err
    assert sidecar_path(text).exists() and sidecar_path(broken).exists()
    assert all(not sidecar_path(p).exists() for p in files)
    for path in [*files, text, broken]:
        assert cli("verify", str(path), "--server", "http://x.test")[0] == 0


def test_strip(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    photo = mediafiles.make("webp-extended", tmp_path)
    plain = mediafiles.make("png", tmp_path)
    text = tmp_path / "t.txt"
    text.write_text("x")
    before = photo.read_bytes()
    assert cli("sign", str(photo), "--token", TOKEN)[0] == 0
    code, out, _ = cli("strip", str(photo))
    assert code == 0 and out == f"{photo}\tstripped\n"
    assert photo.read_bytes() == before
    code, _, err = cli("strip", str(plain), str(text))
    assert code == 1 and "no embedded seal" in err
    assert cli("strip", str(tmp_path / "missing.jpg"))[0] == 2
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0\x00\x01")
    code, _, err = cli("strip", str(broken))
    assert code == 2 and "malformed_media" in err


def test_usage_errors(cli: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    photo = mediafiles.make("jpeg", tmp_path)
    code, _, err = cli("sign", str(photo), "--token", TOKEN, "--chunk-size", "1000")
    assert code == 2 and "power of two" in err


def test_malformed_file_verify_says_why(cli: Callable[..., tuple[int, str, str]],
                                        tmp_path: Path) -> None:
    broken = tmp_path / "b.mp4"
    broken.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00\x00\x00\x10\x00mdat")
    code, out, _ = cli("verify", str(broken), "--json", "--server", "http://x.test")
    assert code == 1
    doc = json.loads(out)
    assert doc["error"]["code"] == "malformed_media" and doc["seal_location"] is None
    assert probe(mediafiles.make("mov", tmp_path)) is not None
