"""The ``sceau`` CLI: exit codes, output, and the files it writes.

Seals are made locally (LocalSigner + build_claim + seal_claim + write_sidecar) and
verified offline with ``--keys``; ``sign`` and key fetching run against an in-process
fake service through ``main(argv, transport=httpx.MockTransport(...))``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sceau
from sceau import (
    Envelope,
    KeyRecord,
    KeyRing,
    KeyStatus,
    LocalSigner,
    Signature,
    build_claim,
    hash_file,
    parse_envelope,
    seal_claim,
    sidecar_path,
    write_sidecar,
)
from sceau.cli import main
from sceau.mediatype import HEAD_SIZE, sniff

from .conftest import Run

TENANT = "newsroom"
SIGNER = LocalSigner.from_seed(b"\x07" * 32)
TOKEN = "sct_" + "B" * 43
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)


# -- helpers (the `cli` fixture and `Run` live in tests/client/conftest.py) -----------


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCEAU_SERVER", raising=False)
    monkeypatch.delenv("SCEAU_TOKEN", raising=False)
    # Retries against an unreachable fake service must not really sleep.
    monkeypatch.setattr("sceau.client.time.sleep", lambda seconds: None)


def seal_file(path: Path, *, signer: LocalSigner = SIGNER, tenant: str = TENANT,
              created: datetime | None = None, **claim: Any) -> bytes:
    """Seal ``path`` locally, write its sidecar, return the sidecar bytes."""
    digest = hash_file(path)
    with open(path, "rb") as f:
        media_type = sniff(f.read(HEAD_SIZE))
    claim.setdefault("title", path.name)
    obj = build_claim(sha256=digest.digest, size=digest.size, media_type=media_type,
                      tenant=tenant, keyid=signer.keyid,
                      created=created or datetime.now(UTC) - timedelta(minutes=1), **claim)
    data = seal_claim(obj, signer).to_bytes()
    write_sidecar(path, data)
    return data


def write_keys(path: Path, *records: KeyRecord) -> Path:
    path.write_text(json.dumps(KeyRing(records).to_jwks()))
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(JPEG)
    return path


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return write_keys(tmp_path / "jwks.json", SIGNER.record(TENANT))


@pytest.fixture
def sealed(media: Path) -> Path:
    seal_file(media, author=["Jane Doe"], publisher="Example News")
    return media


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def rewrite_envelope(media: Path, change: Callable[[Envelope], Envelope]) -> None:
    side = sidecar_path(media)
    side.write_bytes(change(parse_envelope(side.read_bytes())).to_bytes())


class FakeService:
    """The sealing and JWKS endpoints of docs/API.md, signing with a LocalSigner."""

    def __init__(self) -> None:
        self.signer = LocalSigner.from_seed(b"\x09" * 32)
        self.requests: list[httpx.Request] = []
        self.script: list[httpx.Response | Exception] = []

    def jwks(self) -> dict[str, Any]:
        return KeyRing([self.signer.record("studio")]).to_jwks()

    def seal(self, item: dict[str, Any]) -> dict[str, Any]:
        obj = build_claim(
            sha256=bytes.fromhex(item["hash"]), size=item["size"],
            media_type=item["media_type"], tenant="studio", keyid=self.signer.keyid,
            created=datetime.now(UTC) - timedelta(seconds=5),
            digital_source_type=item.get("digital_source_type", "digitalCapture"),
            title=item.get("title"), author=item.get("author", ()),
            publisher=item.get("publisher"))
        envelope = seal_claim(obj, self.signer)
        return {"seal_id": sceau.seal_id(envelope), "seal": envelope.to_json()}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        path = request.url.path
        if request.method == "GET" and path == "/.well-known/jwks.json":
            return httpx.Response(200, json=self.jwks())
        if request.method == "POST" and path in ("/v1/seals", "/v1/seals/batch"):
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return httpx.Response(401, json={"code": "unauthenticated",
                                                 "detail": "unknown bearer token"})
            body = json.loads(request.content)
            if path == "/v1/seals":
                return httpx.Response(201, json=self.seal(body))
            return httpx.Response(201, json={"seals": [self.seal(i) for i in body["items"]]})
        return httpx.Response(404, json={"code": "not_found", "detail": path})

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def transport(service: FakeService) -> Iterator[httpx.MockTransport]:
    yield httpx.MockTransport(service)


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


# -- verify ----------------------------------------------------------------------------


def test_verify_good_file(cli: Callable[..., Run], sealed: Path, keys: Path) -> None:
    run = cli("verify", str(sealed), "--keys", str(keys))
    assert run.code == 0, run.err
    assert "VERIFIED" in run.out
    assert TENANT in run.out
    assert SIGNER.keyid in run.out
    assert "not independently attested" in run.out
    assert "integrity   match" in run.out
    assert "captured by a camera" in run.out
    assert run.err == ""


def test_verify_good_file_json(cli: Callable[..., Run], sealed: Path, keys: Path) -> None:
    run = cli("verify", str(sealed), "--keys", str(keys), "--json")
    assert run.code == 0
    doc = run.json()
    assert doc["file"] == str(sealed)
    assert doc["ok"] is True
    assert doc["integrity"] == "match"
    assert doc["signature"] == "valid"
    assert doc["signer"] == {"keyid": SIGNER.keyid, "tenant": TENANT, "trusted": True,
                             "key_status": "active"}
    assert doc["time"]["attested"] is False
    assert "claimSignature.validated" in doc["status_codes"]
    assert "assertion.dataHash.match" in doc["status_codes"]
    assert doc["claim"]["dc:title"] == "photo.jpg"


@pytest.mark.parametrize("offset", [0, 100, len(JPEG) - 1])
def test_verify_flipped_byte_in_file(cli: Callable[..., Run], sealed: Path, keys: Path,
                                     offset: int) -> None:
    flip(sealed, offset)
    run = cli("verify", str(sealed), "--keys", str(keys), "--json")
    assert run.code == 1
    doc = run.json()
    assert doc["ok"] is False
    assert doc["integrity"] == "mismatch"
    assert doc["signature"] == "valid"
    assert "assertion.dataHash.mismatch" in doc["status_codes"]
    human = cli("verify", str(sealed), "--keys", str(keys))
    assert human.code == 1
    assert "NOT VERIFIED" in human.out
    assert "assertion.dataHash.mismatch" in human.out
    assert "fake" not in human.out.lower()


def test_verify_appended_byte(cli: Callable[..., Run], sealed: Path, keys: Path) -> None:
    with open(sealed, "ab") as f:
        f.write(b"\x00")
    run = cli("verify", str(sealed), "--keys", str(keys), "--json")
    assert run.code == 1
    assert "assertion.dataHash.mismatch" in run.json()["status_codes"]


def test_verify_flipped_byte_in_signature(cli: Callable[..., Run], sealed: Path,
                                          keys: Path) -> None:
    def damage(env: Envelope) -> Envelope:
        sig = bytearray(env.signatures[0].sig)
        sig[10] ^= 0x01
        return Envelope(env.payload_type, env.payload,
                        (Signature(env.signatures[0].keyid, bytes(sig)),))

    rewrite_envelope(sealed, damage)
    run = cli("verify", str(sealed), "--keys", str(keys), "--json")
    assert run.code == 1
    doc = run.json()
    assert doc["signature"] == "invalid"
    assert doc["status_codes"] == ["claimSignature.mismatch"]
    human = cli("verify", str(sealed), "--keys", str(keys))
    assert human.code == 1
    assert "claimSignature.mismatch" in human.out
    assert "signature does not match" in human.out


def test_verify_flipped_byte_in_sidecar_text(cli: Callable[..., Run], sealed: Path,
                                             keys: Path) -> None:
    side = sidecar_path(sealed)
    text = side.read_bytes()
    sig = json.loads(text)["signatures"][0]["sig"]
    # Change one character in the middle of the base64url signature (canonical either way).
    i = text.index(sig.encode()) + 20
    swapped = b"B" if text[i:i + 1] != b"B" else b"C"
    side.write_bytes(text[:i] + swapped + text[i + 1:])
    run = cli("verify", str(sealed), "--keys", str(keys), "--json")
    assert run.code == 1
    assert run.json()["status_codes"] == ["claimSignature.mismatch"]


def test_verify_altered_claim(cli: Callable[..., Run], sealed: Path, keys: Path) -> None:
    def retitle(env: Envelope) -> Envelope:
        payload = env.payload.replace(b'"photo.jpg"', b'"other.jpg"')
        assert payload != env.payload
        return Envelope(env.payload_type, payload, env.signatures)

    rewrite_envelope(sealed, retitle)
    run = cli("verify", str(sealed), "--keys", str(keys), "--json")
    assert run.code == 1
    assert run.json()["status_codes"] == ["claimSignature.mismatch"]


@pytest.mark.parametrize("content", [b"", b"not json", b"{}", b'{"sceau": 1}', b"\xff" * 10])
def test_verify_garbage_sidecar(cli: Callable[..., Run], media: Path, keys: Path,
                                content: bytes) -> None:
    sidecar_path(media).write_bytes(content)
    run = cli("verify", str(media), "--keys", str(keys), "--json")
    assert run.code == 1
    assert run.json()["status_codes"] == ["sceau.envelope.malformed"]


def test_verify_oversized_sidecar(cli: Callable[..., Run], media: Path, keys: Path) -> None:
    sidecar_path(media).write_bytes(b" " * (300 * 1024))
    run = cli("verify", str(media), "--keys", str(keys))
    assert run.code == 1
    assert "payload_too_large" in run.err


def test_verify_no_seal(cli: Callable[..., Run], media: Path, keys: Path) -> None:
    run = cli("verify", str(media), "--keys", str(keys))
    assert run.code == 1
    assert "no seal found" in run.out
    assert "fake" not in (run.out + run.err).lower()
    run = cli("verify", str(media), "--keys", str(keys), "--json")
    assert run.code == 1
    doc = run.json()
    assert doc["ok"] is False
    assert doc["summary"].startswith("no seal found")
    assert doc["label"] is None
    assert doc["file"] == str(media)


def test_verify_missing_file(cli: Callable[..., Run], tmp_path: Path, keys: Path) -> None:
    run = cli("verify", str(tmp_path / "nope.jpg"), "--keys", str(keys))
    assert run.code == 2
    assert "nope.jpg" in run.err
    assert run.out == ""


def test_verify_missing_file_with_sidecar(cli: Callable[..., Run], sealed: Path,
                                          keys: Path) -> None:
    sealed.unlink()
    assert cli("verify", str(sealed), "--keys", str(keys)).code == 2


def test_verify_unreadable_file(cli: Callable[..., Run], tmp_path: Path, keys: Path) -> None:
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    run = cli("verify", str(folder), "--keys", str(keys))
    assert run.code == 2
    assert run.err.startswith("error: ")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a non-root POSIX user for permission bits to bite")
def test_verify_unreadable_permissions(cli: Callable[..., Run], sealed: Path,
                                       keys: Path) -> None:
    sealed.chmod(0)
    try:
        assert cli("verify", str(sealed), "--keys", str(keys)).code == 2
    finally:
        sealed.chmod(0o644)


def test_verify_unreadable_sidecar(cli: Callable[..., Run], media: Path, keys: Path) -> None:
    sidecar_path(media).mkdir()
    assert cli("verify", str(media), "--keys", str(keys)).code == 2


def test_verify_unknown_key(cli: Callable[..., Run], sealed: Path, tmp_path: Path) -> None:
    other = write_keys(tmp_path / "other.json", LocalSigner.generate().record(TENANT))
    run = cli("verify", str(sealed), "--keys", str(other), "--json")
    assert run.code == 1
    doc = run.json()
    assert doc["status_codes"] == ["signingCredential.unknown"]
    assert doc["signer"]["keyid"] == SIGNER.keyid
    human = cli("verify", str(sealed), "--keys", str(other))
    assert "not in your key ring" in human.out


def test_verify_trust_list(cli: Callable[..., Run], sealed: Path, keys: Path) -> None:
    run = cli("verify", str(sealed), "--keys", str(keys), "--trust", "someone-else", "--json")
    assert run.code == 1
    doc = run.json()
    assert "signingCredential.untrusted" in doc["status_codes"]
    assert doc["integrity"] == "match"
    human = cli("verify", str(sealed), "--keys", str(keys), "--trust", "someone-else")
    assert "NOT on your trust list" in human.out
    run = cli("verify", str(sealed), "--keys", str(keys), "--trust", "x", "--trust", TENANT)
    assert run.code == 0


def test_verify_revoked_key(cli: Callable[..., Run], sealed: Path, tmp_path: Path) -> None:
    revoked = KeyRecord(SIGNER.public_key, TENANT, KeyStatus.REVOKED,
                        compromised_since=datetime.now(UTC) - timedelta(days=1))
    run = cli("verify", str(sealed), "--keys", str(write_keys(tmp_path / "k.json", revoked)),
              "--json")
    assert run.code == 1
    assert "signingCredential.revoked" in run.json()["status_codes"]
    assert run.json()["signer"]["key_status"] == "revoked"


def test_verify_seal_from_the_future(cli: Callable[..., Run], media: Path, keys: Path) -> None:
    seal_file(media, created=datetime.now(UTC) + timedelta(days=2))
    run = cli("verify", str(media), "--keys", str(keys), "--json")
    assert run.code == 1
    assert "sceau.time.inFuture" in run.json()["status_codes"]


def test_verify_ai_generated_origin(cli: Callable[..., Run], media: Path, keys: Path) -> None:
    seal_file(media, digital_source_type="trainedAlgorithmicMedia",
              software_agent={"name": "VideoGen", "version": "2"})
    run = cli("verify", str(media), "--keys", str(keys))
    assert run.code == 0
    assert "origin      AI-generated" in run.out


def test_verify_malformed_key_entry_is_left_out(cli: Callable[..., Run], sealed: Path,
                                               tmp_path: Path) -> None:
    # One malformed key must not disable the ring: it is skipped, so the seal's key is
    # simply unknown (exit 1), not a key-file error (exit 2).
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"keys": [{"kty": "OKP", "crv": "Ed25519"}]}')
    run = cli("verify", str(sealed), "--keys", str(bad), "--json")
    assert run.code == 1
    assert run.json()["status_codes"] == ["signingCredential.unknown"]


@pytest.mark.parametrize("content", [b"not json", b"[]", b'{"keys": 3}'])
def test_verify_bad_keys_file(cli: Callable[..., Run], sealed: Path, tmp_path: Path,
                              content: bytes) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    run = cli("verify", str(sealed), "--keys", str(bad))
    assert run.code == 2
    assert "cannot get keys" in run.err


def test_verify_missing_keys_file(cli: Callable[..., Run], sealed: Path, tmp_path: Path) -> None:
    run = cli("verify", str(sealed), "--keys", str(tmp_path / "absent.json"))
    assert run.code == 2
    assert "absent.json" in run.err


def test_verify_with_server_keys(cli: Callable[..., Run], media: Path, service: FakeService,
                                 transport: httpx.MockTransport) -> None:
    seal_file(media, signer=service.signer, tenant="studio")
    run = cli("verify", str(media), "--server", "http://sceau.test", transport=transport)
    assert run.code == 0, run.err
    assert service.requests[0].url == "http://sceau.test/.well-known/jwks.json"


def test_verify_server_unreachable(cli: Callable[..., Run], sealed: Path) -> None:
    run = cli("verify", str(sealed), transport=httpx.MockTransport(unreachable))
    assert run.code == 2
    assert "cannot get keys from http://127.0.0.1:8000" in run.err
    assert "transport_error" in run.err


def test_verify_no_seal_does_not_need_the_server(cli: Callable[..., Run], media: Path) -> None:
    run = cli("verify", str(media), transport=httpx.MockTransport(unreachable))
    assert run.code == 1
    assert "no seal found" in run.out


def test_verify_server_from_environment(cli: Callable[..., Run], media: Path,
                                        service: FakeService, transport: httpx.MockTransport,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCEAU_SERVER", "http://env.test:9000")
    seal_file(media, signer=service.signer, tenant="studio")
    assert cli("verify", str(media), transport=transport).code == 0
    assert service.requests[0].url.host == "env.test"


# -- usage -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["verify"], ["inspect"], ["sign"], ["keys"], ["keys", "rotate"],
    ["verify", "a", "b"], ["verify", "x.jpg", "--bogus"], ["--server"],
])
def test_usage_errors(cli: Callable[..., Run], argv: list[str]) -> None:
    run = cli(*argv)
    assert run.code == 2
    assert "usage:" in run.err
    assert run.out == ""


def test_version(cli: Callable[..., Run]) -> None:
    run = cli("--version")
    assert run.code == 0
    assert run.out.strip() == f"sceau {sceau.__version__}"


def test_help(cli: Callable[..., Run]) -> None:
    run = cli("--help")
    assert run.code == 0
    assert "sign" in run.out
    assert "verify" in run.out
    run = cli("verify", "--help")
    assert run.code == 0
    assert "--keys" in run.out


def test_main_returns_instead_of_exiting() -> None:
    # main() must hand back the code; a SystemExit here would fail the test run.
    assert main(["--version"]) == 0
    assert main([]) == 2


# -- inspect ---------------------------------------------------------------------------


def test_inspect(cli: Callable[..., Run], media: Path) -> None:
    seal_file(media, digital_source_type="trainedAlgorithmicMedia",
              software_agent={"name": "VideoGen", "version": "2.1"}, author=["Jane Doe",
                                                                             "John Roe"],
              publisher="Example News",
              extra_actions=[{"action": "c2pa.edited"}],
              ingredients=[{"relationship": "componentOf", "dc:title": "raw.dng"}])
    run = cli("inspect", str(media))
    assert run.code == 0, run.err
    out = run.out
    assert "NOT VERIFIED" in out
    assert "title         photo.jpg" in out
    assert "format        image/jpeg" in out
    assert f"tenant {TENANT}, key {SIGNER.keyid}" in out
    assert "c2pa.created  digitalSourceType=trainedAlgorithmicMedia" in out
    assert "softwareAgent=VideoGen 2.1" in out
    assert "c2pa.edited" in out
    assert "AI-generated" in out
    digest = hash_file(media)
    assert f"sha256 {digest.digest.hex()} ({digest.size} bytes)" in out
    assert "componentOf  raw.dng" in out
    assert "creator       Jane Doe, John Roe" in out
    assert "publisher     Example News" in out
    assert "signer's clock" in out


def test_inspect_derived_work(cli: Callable[..., Run], media: Path) -> None:
    seal_file(media, first_action="c2pa.opened", digital_source_type=None,
              ingredients=[{"relationship": "parentOf", "dc:title": "raw.dng",
                            "seal_id": "ab" * 32}])
    run = cli("inspect", str(media))
    assert run.code == 0
    assert "derived from an earlier work" in run.out
    assert "c2pa.opened" in run.out
    assert f"parentOf  raw.dng  seal {'ab' * 32}" in run.out


def test_inspect_json(cli: Callable[..., Run], sealed: Path) -> None:
    run = cli("inspect", str(sealed), "--json")
    assert run.code == 0
    payload = parse_envelope(sidecar_path(sealed).read_bytes()).payload
    assert run.json() == json.loads(payload)


def test_inspect_does_not_verify(cli: Callable[..., Run], sealed: Path) -> None:
    flip(sealed, 50)  # inspect reads only the seal: a changed file still shows
    assert cli("inspect", str(sealed)).code == 0


def test_inspect_sidecar_directly(cli: Callable[..., Run], sealed: Path) -> None:
    run = cli("inspect", str(sidecar_path(sealed)))
    assert run.code == 0
    assert "photo.jpg" in run.out


def test_inspect_no_seal(cli: Callable[..., Run], media: Path) -> None:
    run = cli("inspect", str(media))
    assert run.code == 1
    assert "no seal found" in run.out
    assert "fake" not in run.out.lower()


def test_inspect_missing_file(cli: Callable[..., Run], tmp_path: Path) -> None:
    assert cli("inspect", str(tmp_path / "nope.jpg")).code == 2


def test_inspect_malformed_seal(cli: Callable[..., Run], media: Path) -> None:
    sidecar_path(media).write_bytes(b'{"sceau": 1}')
    run = cli("inspect", str(media))
    assert run.code == 1
    assert run.err.startswith("error: malformed_envelope: ")


def test_inspect_invalid_claim(cli: Callable[..., Run], media: Path) -> None:
    data = seal_claim({"not": "a claim"}, SIGNER).to_bytes()
    write_sidecar(media, data)
    run = cli("inspect", str(media))
    assert run.code == 1
    assert "claim.malformed" in run.err


def test_inspect_escapes_terminal_controls(cli: Callable[..., Run], media: Path) -> None:
    seal_file(media, title="evil\x1b[2J\x07title", publisher="P\x1b]0;pwned\x07")
    run = cli("inspect", str(media))
    assert run.code == 0
    assert "\x1b" not in run.out
    assert "\x07" not in run.out
    assert "evil\\x1b[2J\\x07title" in run.out


# -- sign ------------------------------------------------------------------------------


def test_sign_one_file(cli: Callable[..., Run], media: Path, service: FakeService,
                       transport: httpx.MockTransport) -> None:
    run = cli("sign", str(media), "--token", TOKEN, transport=transport)
    assert run.code == 0, run.err
    [request] = service.requests
    assert request.url == "http://127.0.0.1:8000/v1/seals"
    body = json.loads(request.content)
    digest = hash_file(media)
    assert body == {"alg": "sha256", "hash": digest.digest.hex(), "size": digest.size,
                    "media_type": "image/jpeg"}
    side = sidecar_path(media)
    envelope = parse_envelope(side.read_bytes())
    assert run.out == f"{media}\t{sceau.seal_id(envelope)}\n"
    # The sidecar verifies with the service's keys.
    verify = cli("verify", str(media), "--server", "http://sceau.test", transport=transport)
    assert verify.code == 0, verify.out


def test_sign_several_files_uses_batch(cli: Callable[..., Run], tmp_path: Path,
                                       service: FakeService,
                                       transport: httpx.MockTransport) -> None:
    files = {"a.jpg": JPEG, "b.png": PNG, "c.bin": b"plain bytes"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / name) for name in files]
    run = cli("sign", *paths, "--token", TOKEN, "--author", "A One", "--author", "B Two",
              "--publisher", "Pub", "--digital-source-type", "trainedAlgorithmicMedia",
              transport=transport)
    assert run.code == 0, run.err
    [request] = service.requests
    assert request.url.path == "/v1/seals/batch"
    items = json.loads(request.content)["items"]
    assert [i["media_type"] for i in items] == ["image/jpeg", "image/png",
                                                "application/octet-stream"]
    assert all("title" not in i for i in items)  # file names stay out of claims by default
    assert all(i["author"] == ["A One", "B Two"] for i in items)
    assert all(i["publisher"] == "Pub" for i in items)
    assert all(i["digital_source_type"] == "trainedAlgorithmicMedia" for i in items)
    lines = run.out.splitlines()
    assert [line.split("\t")[0] for line in lines] == paths
    for path, line in zip(paths, lines, strict=True):
        data = sidecar_path(path).read_bytes()
        assert line.split("\t")[1] == sceau.seal_id(parse_envelope(data))
        assert cli("verify", path, "--server", "http://x.test", transport=transport).code == 0


def test_sign_prints_paths_as_given(cli: Callable[..., Run], media: Path,
                                    transport: httpx.MockTransport,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(media.parent)
    run = cli("sign", "./photo.jpg", "--token", TOKEN, transport=transport)
    assert run.code == 0
    assert run.out.startswith("./photo.jpg\t")
    verify = cli("verify", "./photo.jpg", "--server", "http://x.test", "--json",
                 transport=transport)
    assert verify.json()["file"] == "./photo.jpg"


def test_sign_media_type_and_title_override(cli: Callable[..., Run], media: Path,
                                            service: FakeService,
                                            transport: httpx.MockTransport) -> None:
    run = cli("sign", str(media), "--token", TOKEN, "--media-type", "image/x-custom",
              "--title", "Front page", "--sidecar", transport=transport)
    assert run.code == 0, run.err
    body = service.bodies[0]
    assert body["media_type"] == "image/x-custom"
    assert body["title"] == "Front page"


def test_sign_refuses_to_double_seal(cli: Callable[..., Run], tmp_path: Path,
                                     sealed: Path, service: FakeService,
                                     transport: httpx.MockTransport) -> None:
    fresh = tmp_path / "fresh.png"
    fresh.write_bytes(PNG)
    before = sidecar_path(sealed).read_bytes()
    run = cli("sign", str(fresh), str(sealed), "--token", TOKEN, transport=transport)
    assert run.code == 1
    assert "already sealed" in run.err
    assert "--force" in run.err
    assert service.requests == []  # nothing sealed: not even the fresh file
    assert not sidecar_path(fresh).exists()
    assert sidecar_path(sealed).read_bytes() == before
    run = cli("sign", str(sealed), "--token", TOKEN, "--force", transport=transport)
    assert run.code == 0
    assert sidecar_path(sealed).read_bytes() != before


def test_sign_duplicate_arguments_sealed_once(cli: Callable[..., Run], media: Path,
                                              service: FakeService,
                                              transport: httpx.MockTransport) -> None:
    run = cli("sign", str(media), str(media), "--token", TOKEN, transport=transport)
    assert run.code == 0
    assert len(service.requests) == 1
    assert len(run.out.splitlines()) == 1


def test_sign_refuses_sidecars_as_media(cli: Callable[..., Run], sealed: Path,
                                        service: FakeService,
                                        transport: httpx.MockTransport) -> None:
    run = cli("sign", str(sidecar_path(sealed)), "--token", TOKEN, transport=transport)
    assert run.code == 2
    assert service.requests == []


def test_sign_missing_file(cli: Callable[..., Run], media: Path, tmp_path: Path,
                           service: FakeService, transport: httpx.MockTransport) -> None:
    run = cli("sign", str(media), str(tmp_path / "gone.jpg"), "--token", TOKEN,
              transport=transport)
    assert run.code == 2
    assert "gone.jpg" in run.err
    assert service.requests == []
    assert not sidecar_path(media).exists()


def test_sign_directory(cli: Callable[..., Run], tmp_path: Path,
                       transport: httpx.MockTransport) -> None:
    assert cli("sign", str(tmp_path), "--token", TOKEN, transport=transport).code == 2


def test_sign_needs_a_token(cli: Callable[..., Run], media: Path, service: FakeService,
                            transport: httpx.MockTransport) -> None:
    run = cli("sign", str(media), transport=transport)
    assert run.code == 2
    assert "SCEAU_TOKEN" in run.err
    assert service.requests == []


def test_sign_token_and_server_from_environment(cli: Callable[..., Run], media: Path,
                                                service: FakeService,
                                                transport: httpx.MockTransport,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCEAU_TOKEN", TOKEN)
    monkeypatch.setenv("SCEAU_SERVER", "https://seal.example")
    assert cli("sign", str(media), transport=transport).code == 0
    assert service.requests[0].url == "https://seal.example/v1/seals"


def test_sign_bad_digital_source_type(cli: Callable[..., Run], media: Path,
                                      transport: httpx.MockTransport) -> None:
    run = cli("sign", str(media), "--token", TOKEN, "--digital-source-type", "madeUp",
              transport=transport)
    assert run.code == 2
    assert run.err.startswith("error: validation_error: ")


def test_sign_rejected_token(cli: Callable[..., Run], media: Path,
                             transport: httpx.MockTransport) -> None:
    run = cli("sign", str(media), "--token", "sct_wrong", transport=transport)
    assert run.code == 1
    assert run.err == "error: unauthenticated: unknown bearer token\n"
    assert not sidecar_path(media).exists()


def test_sign_service_unreachable(cli: Callable[..., Run], media: Path) -> None:
    run = cli("sign", str(media), "--token", TOKEN, transport=httpx.MockTransport(unreachable))
    assert run.code == 2
    assert "transport_error" in run.err
    assert not sidecar_path(media).exists()


def test_sign_service_unavailable(cli: Callable[..., Run], media: Path, service: FakeService,
                                  transport: httpx.MockTransport) -> None:
    down = httpx.Response(503, json={"code": "key_unavailable", "detail": "HSM offline"})
    service.script.extend([down] * 10)
    run = cli("sign", str(media), "--token", TOKEN, transport=transport)
    assert run.code == 2
    assert "key_unavailable: HSM offline" in run.err
    assert len(service.requests) == 4  # 503 means nothing was done: retried


def test_sign_not_retried_after_gateway_timeout(cli: Callable[..., Run], media: Path,
                                                service: FakeService,
                                                transport: httpx.MockTransport) -> None:
    service.script.append(httpx.Response(504))
    run = cli("sign", str(media), "--token", TOKEN, transport=transport)
    assert run.code == 2
    assert len(service.requests) == 1


def test_sign_sidecar_appearing_meanwhile_is_kept(cli: Callable[..., Run], media: Path,
                                                  service: FakeService) -> None:
    def racing(request: httpx.Request) -> httpx.Response:
        sidecar_path(media).write_bytes(b"someone else's")
        return service(request)

    run = cli("sign", str(media), "--token", TOKEN, transport=httpx.MockTransport(racing))
    assert run.code == 1
    assert "appeared while sealing" in run.err
    assert sidecar_path(media).read_bytes() == b"someone else's"


def test_sign_sidecar_write_failure_names_the_seal(cli: Callable[..., Run], media: Path,
                                                  transport: httpx.MockTransport,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(media: Path, data: bytes, *, overwrite: bool = False) -> Path:
        raise OSError(28, "No space left on device", str(sidecar_path(media)))

    monkeypatch.setattr("sceau.media._seal.write_sidecar", full_disk)
    run = cli("sign", str(media), "--token", TOKEN, transport=transport)
    assert run.code == 2
    assert "No space left on device" in run.err
    assert "was created but not attached" in run.err
    assert run.out == ""


# -- keys fetch ------------------------------------------------------------------------


def test_keys_fetch_then_verify_offline(cli: Callable[..., Run], tmp_path: Path, media: Path,
                                        service: FakeService,
                                        transport: httpx.MockTransport) -> None:
    out = tmp_path / "keys" / "jwks.json"
    out.parent.mkdir()
    run = cli("keys", "fetch", "--server", "http://sceau.test", "-o", str(out),
              transport=transport)
    assert run.code == 0, run.err
    assert "saved 1 key(s)" in run.out
    assert json.loads(out.read_text()) == service.jwks()
    seal_file(media, signer=service.signer, tenant="studio")
    assert cli("verify", str(media), "--keys", str(out)).code == 0


def test_keys_fetch_to_stdout(cli: Callable[..., Run], service: FakeService,
                              transport: httpx.MockTransport) -> None:
    run = cli("keys", "fetch", transport=transport)
    assert run.code == 0
    assert json.loads(run.out) == service.jwks()


def test_keys_fetch_unreachable(cli: Callable[..., Run], tmp_path: Path) -> None:
    out = tmp_path / "jwks.json"
    run = cli("keys", "fetch", "-o", str(out), transport=httpx.MockTransport(unreachable))
    assert run.code == 2
    assert not out.exists()


def test_keys_fetch_bad_server_url(cli: Callable[..., Run]) -> None:
    run = cli("keys", "fetch", "--server", "localhost:8000")
    assert run.code == 2
    assert "validation_error" in run.err


def test_sign_bad_server_url(cli: Callable[..., Run], media: Path) -> None:
    run = cli("sign", str(media), "--token", TOKEN, "--server", "ftp://x")
    assert run.code == 2
    assert "http:// or https://" in run.err


def test_keys_fetch_unwritable(cli: Callable[..., Run], tmp_path: Path,
                               transport: httpx.MockTransport) -> None:
    run = cli("keys", "fetch", "-o", str(tmp_path / "no" / "dir" / "jwks.json"),
              transport=transport)
    assert run.code == 2


# -- media type sniffing ---------------------------------------------------------------


@pytest.mark.parametrize(("head", "expected"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    (b"GIF87a\x01\x00", "image/gif"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "application/octet-stream"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", "video/mp4"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "video/quicktime"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "image/avif"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
    (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A mp42", "audio/mp4"),
    (b"\x00\x00\x00\x14ftyp3gp5\x00\x00\x00\x00", "video/3gpp"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf"),
    (b"", "application/octet-stream"),
    (b"\xff\xd8", "application/octet-stream"),
    (b"\x00\x00\x00\x08ftyp", "application/octet-stream"),
    (b"hello, world", "application/octet-stream"),
    (b"PK\x03\x04", "application/octet-stream"),
])
def test_sniff(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


@given(st.binary(max_size=HEAD_SIZE * 2))
def test_sniff_total(head: bytes) -> None:
    media_type = sniff(head)
    kind, _, sub = media_type.partition("/")
    assert kind in {"image", "video", "audio", "application"}
    assert sub


def test_sniff_types_are_valid_claim_formats() -> None:
    # Every type sniff can return must be accepted as dc:format by the claim model.
    from sceau.mediatype import _FTYP_BRANDS

    types = {*_FTYP_BRANDS.values(), "image/jpeg", "image/png", "image/gif", "image/webp",
             "video/mp4", "video/3gpp", "video/3gpp2", "application/pdf",
             "application/octet-stream"}
    for media_type in types:
        build_claim(sha256=bytes(32), size=0, media_type=media_type, tenant=TENANT,
                    keyid=SIGNER.keyid, created=datetime.now(UTC))

