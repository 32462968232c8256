"""The verdict table (issue 6): real files, uploaded to ``POST /v1/verify`` over the HTTP
API, on SQLite and PostgreSQL; each row's label, summary (in English and in French) and
status codes.  Every upload's temporary file is gone when the answer arrives."""

from __future__ import annotations

import hashlib
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sceau import LocalSigner, canonicalize
from sceau.client import SealResult
from sceau.media import attach, prepare, seal_file_locally
from sceau.readable import no_seal_summary

from ..c2pafiles import TestCA, actions, jpeg_bytes, sign_jpeg, tamper_pixels
from ..conftest import start_server, stop_server
from .conftest import Service, running_service

pytest.importorskip("c2pa")

UPLOAD_LIMIT = 4 << 20


@dataclass
class Table:
    """The service (trusting one C2PA test CA), where uploads spool, and file makers."""

    service: Service
    uploads: Path
    ca: TestCA
    other_ca: TestCA
    work: Path

    def jpeg(self, name: str) -> Path:
        path = self.work / f"{name}-{secrets.token_hex(3)}.jpg"
        path.write_bytes(jpeg_bytes(seed=secrets.randbelow(200)))
        return path

    def seal(self, path: Path, dst: str,
             change: Callable[[dict[str, Any]], None] | None = None) -> Path:
        """Seal ``path`` through the API and embed the seal (``change`` edits it first)."""
        prepared = prepare(path, digital_source_type=dst)
        svc = self.service
        r = svc.client.post("/v1/seals", json=prepared.request.to_json(), headers=svc.auth())
        assert r.status_code == 201, r.text
        seal = r.json()["seal"]
        if change is not None:
            change(seal)
        attach(prepared, SealResult(r.json()["seal_id"], canonicalize(seal)))
        return path

    def verify(self, path: Path, lang: str = "en") -> tuple[int, dict[str, Any]]:
        r = self.service.client.post(f"/v1/verify?lang={lang}",
                                     files={"file": (path.name, path.read_bytes())})
        assert list(self.uploads.iterdir()) == [], "the upload's temporary file remains"
        return r.status_code, r.json()


@pytest.fixture
def table(database_url: str, tmp_path: Path) -> Iterator[Table]:
    """The ``service`` fixture's app, with C2PA trust anchors and an upload directory."""
    ca, other = TestCA.create(), TestCA.create("Unlisted CA", "Unlisted Signer")
    anchors = tmp_path / "c2pa-anchors.pem"
    anchors.write_text(ca.anchor_pem)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    work = tmp_path / "files"
    work.mkdir()
    with running_service(database_url, tmp_path, c2pa_trust_anchors=anchors,
                         upload_dir=uploads, max_upload_bytes=UPLOAD_LIMIT) as service:
        yield Table(service, uploads, ca, other, work)


def _flip_signature(seal: dict[str, Any]) -> None:
    sig = seal["signatures"][0]["sig"]
    seal["signatures"][0]["sig"] = ("A" if sig[0] != "A" else "B") + sig[1:]


def _alter_pixels(path: Path) -> Path:
    path.write_bytes(tamper_pixels(path.read_bytes()))
    return path


def _stranger_seal(t: Table, path: Path, dst: str) -> Path:
    """Sealed with a key the service has never heard of (a stolen-key scenario)."""
    stranger = LocalSigner.generate()
    seal_file_locally(path, stranger, tenant=t.service.tenant, created=datetime.now(UTC),
                      digital_source_type=dst, fsync=False)
    return path


def _c2pa(t: Table, ca: TestCA, source_type: str, tamper: bool = False) -> Path:
    data = sign_jpeg(jpeg_bytes(seed=7), ca, actions(source_type))
    path = t.work / f"c2pa-{secrets.token_hex(3)}.jpg"
    path.write_bytes(tamper_pixels(data) if tamper else data)
    return path


VALID = "claimSignature.validated"
MATCH = "assertion.dataHash.match"
MISMATCH = "assertion.dataHash.mismatch"

# name, make the file, HTTP status, label, English and French summary substrings,
# codes that must be present, codes that must be absent, ok
ROWS: list[tuple[str, Callable[[Table], Path], int, str | None, str, str, set[str], set[str],
                 bool]] = [
    ("authentic-capture", lambda t: t.seal(t.jpeg("capture"), "digitalCapture"),
     200, "captured", "verified: the content matches its seal",
     "vérifié : le contenu correspond à son sceau",
     {VALID, "signingCredential.trusted", MATCH, "sceau.log.included"}, {MISMATCH}, True),
    ("authentic-ai-generated", lambda t: t.seal(t.jpeg("ai"), "trainedAlgorithmicMedia"),
     200, "ai_generated", "verified: the content matches its seal",
     "vérifié : le contenu correspond à son sceau", {VALID, MATCH}, set(), True),
    ("composite-with-ai",
     lambda t: t.seal(t.jpeg("composite"), "compositeWithTrainedAlgorithmicMedia"),
     200, "partly_ai_generated", "verified: the content matches its seal",
     "vérifié : le contenu correspond à son sceau", {VALID, MATCH}, set(), True),
    ("altered-content",
     lambda t: _alter_pixels(t.seal(t.jpeg("altered"), "digitalCapture")),
     200, "captured", "not verified: the file's content differs from what was sealed",
     "non vérifié : le contenu du fichier diffère", {VALID, MISMATCH}, {MATCH}, False),
    ("bad-signature",
     lambda t: t.seal(t.jpeg("badsig"), "digitalCapture", _flip_signature),
     200, None, "not verified: the seal's signature does not match",
     "non vérifié : la signature du sceau ne correspond pas",
     {"claimSignature.mismatch"}, {VALID, MATCH}, False),
    ("unknown-key", lambda t: _stranger_seal(t, t.jpeg("stranger"), "digitalCapture"),
     200, None, "not verified: the seal was signed with a key that is not in your key ring",
     "absente de votre trousseau", {"signingCredential.unknown"}, {VALID}, False),
    ("no-seal", lambda t: t.jpeg("plain"),
     404, "no_seal", "no seal found", "aucun sceau trouvé", set(), set(), False),
    ("c2pa-trusted", lambda t: _c2pa(t, t.ca, "digitalCapture"),
     200, "captured", "verified: the content matches its C2PA manifest",
     "vérifié : le contenu correspond à son manifeste C2PA",
     {VALID, MATCH, "signingCredential.trusted"}, {"signingCredential.untrusted"}, True),
    ("c2pa-untrusted-signer", lambda t: _c2pa(t, t.other_ca, "trainedAlgorithmicMedia"),
     200, "ai_generated", "not verified: the signer is not on your trust list",
     "non vérifié : le signataire n'est pas sur votre liste de confiance",
     {VALID, MATCH, "signingCredential.untrusted"}, {"signingCredential.trusted"}, False),
    ("c2pa-tampered", lambda t: _c2pa(t, t.ca, "digitalCapture", tamper=True),
     200, "captured", "not verified: the file's content differs",
     "non vérifié : le contenu du fichier diffère", {VALID, MISMATCH}, {MATCH}, False),
]


@pytest.mark.parametrize(("name", "make", "status", "label", "en", "fr", "present", "absent",
                          "ok"), ROWS, ids=[row[0] for row in ROWS])
def test_verdict_table(table: Table, name: str, make: Callable[[Table], Path], status: int,
                       label: str | None, en: str, fr: str, present: set[str],
                       absent: set[str], ok: bool) -> None:
    path = make(table)
    code, doc = table.verify(path, "en")
    assert code == status, doc
    code_fr, doc_fr = table.verify(path, "fr")
    assert code_fr == status
    if status == 404:
        # The error contract: {"code", "detail"}; the detail is the neutral sentence.
        assert set(doc) == {"code", "detail"} and doc["code"] == "no_seal_found"
        assert doc["detail"] == no_seal_summary("en") and en in doc["detail"]
        assert doc_fr["detail"] == no_seal_summary("fr") and fr in doc_fr["detail"]
        assert "fake" not in doc["detail"] and "faux" not in doc_fr["detail"]
        return
    assert doc["ok"] is ok
    assert doc["label"] == label and doc_fr["label"] == label
    assert en in doc["summary"] and fr in doc_fr["summary"], (doc["summary"],
                                                             doc_fr["summary"])
    assert (doc["label_text"] is None) is (label is None)
    assert doc_fr["lang"] == "fr" and doc["lang"] == "en"
    codes = set(doc["status_codes"])
    assert present <= codes and not (absent & codes), doc["status_codes"]
    assert doc["source"] == ("c2pa" if name.startswith("c2pa") else "sceau")
    assert doc["found"] == "embedded"


def test_accept_language_and_sidecar_and_store(table: Table) -> None:
    """The seal as a ``seal`` part (sidecar) or found in the store by the file's hash."""
    svc = table.service
    path = table.jpeg("sidecar")
    data = path.read_bytes()
    body = {"hash": hashlib.sha256(data).hexdigest(), "size": len(data),
            "media_type": "image/jpeg", "digital_source_type": "trainedAlgorithmicMedia"}
    r = svc.client.post("/v1/seals", json=body, headers=svc.auth())
    assert r.status_code == 201
    seal = canonicalize(r.json()["seal"])
    r = svc.client.post("/v1/verify", files={"file": ("a.jpg", data), "seal": ("s", seal)},
                        headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert r.json()["found"] == "sidecar" and r.json()["label_text"] == "Généré par IA"
    r = svc.client.post("/v1/verify", files={"file": ("a.jpg", data)})
    assert r.json()["found"] == "store" and r.json()["ok"] is True
    assert r.json()["summary"] == "verified: the content matches its seal"
    r = svc.client.post("/v1/verify?lang=xx", json={"hash": body["hash"], "size": len(data)},
                        headers={"accept-language": "fr"})
    assert r.json()["lang"] == "en" and r.json()["label"] == "ai_generated"
    assert list(table.uploads.iterdir()) == []


@pytest.mark.parametrize("cut", [3, 40, 400, -2])
def test_truncated_media_is_a_4xx_or_a_verdict(table: Table, cut: int) -> None:
    sealed = table.seal(table.jpeg("cut"), "digitalCapture").read_bytes()
    c2pa_file = _c2pa(table, table.ca, "digitalCapture").read_bytes()
    for data in (sealed, c2pa_file):
        r = table.service.client.post("/v1/verify",
                                      files={"file": ("x.jpg", data[:cut])})
        assert r.status_code in (200, 404, 422), r.text
        if r.status_code == 422:
            assert r.json()["code"] == "malformed_media"
        elif r.status_code == 200:
            assert r.json()["ok"] is False
        assert list(table.uploads.iterdir()) == []


def test_upload_errors_leave_no_temporary_file(table: Table) -> None:
    client = table.service.client
    over = client.post("/v1/verify", files={"file": ("big", b"\0" * (UPLOAD_LIMIT + 1))})
    assert over.status_code == 413 and over.json()["code"] == "payload_too_large"
    broken = client.post("/v1/verify", content=b"--b\r\nContent-Disposition: form-data; "
                         b"name=\"file\"; filename=\"a\"\r\n\r\nabc\r\n--b\r\nContent-",
                         headers={"content-type": "multipart/form-data; boundary=b"})
    assert broken.status_code == 422 and broken.json()["code"] == "validation_error"
    extra = client.post("/v1/verify", files={"file": ("a", b"x"), "other": ("b", b"y")})
    assert extra.status_code == 422
    seal_too_big = client.post("/v1/verify", files={"file": ("a", b"x"),
                                                    "seal": ("s", b"{" * (300 << 10))})
    assert seal_too_big.status_code == 413
    assert list(table.uploads.iterdir()) == []


def test_unreadable_c2pa_trust_anchors_are_a_503(table: Table) -> None:
    anchors = table.service.settings.c2pa_trust_anchors
    assert anchors is not None
    anchors.write_text("not a certificate\n")
    path = _c2pa(table, table.ca, "digitalCapture")
    code, doc = table.verify(path)
    assert code == 503 and doc["code"] == "unavailable" and "trust anchors" in doc["detail"]
    anchors.unlink()
    code, doc = table.verify(path)
    assert code == 503 and doc["code"] == "unavailable"


_PART = st.sampled_from([
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n',
    b'--b\r\nContent-Disposition: form-data; name="seal"\r\n\r\n',
    b'--b\r\nContent-Disposition: form-data; name="x"; filename="f"\r\n\r\n',
    b"\r\n--b--\r\n", b"\r\n", b"--b\r\n", b"\xff\xd8\xff\xe0", b"{}",
]) | st.binary(max_size=64)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(pieces=st.lists(_PART, max_size=8))
def test_fuzz_multipart_never_500_and_never_leaves_a_file(table: Table,
                                                          pieces: list[bytes]) -> None:
    r = table.service.client.post(
        "/v1/verify", content=b"".join(pieces),
        headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code in (200, 404, 413, 422), r.text
    assert set(r.json()) >= ({"ok", "summary"} if r.status_code == 200 else {"code"})
    assert list(table.uploads.iterdir()) == []


def test_client_gone_mid_upload_leaves_no_file(tmp_path: Path) -> None:
    """A real server: a client that sends half its upload and hangs up, then one that
    completes; the spool directory is empty after both."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    srv = start_server(tmp_path, extra_env={"SCEAU_UPLOAD_DIR": str(uploads)})
    try:
        host, port = srv.url.removeprefix("http://").rsplit(":", 1)
        head = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n')
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: multipart/form-data; boundary=b\r\n"
                         b"Content-Length: 10000000\r\n\r\n" + head + b"\0" * 500_000)
            deadline = time.monotonic() + 10
            while not any(uploads.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert any(uploads.iterdir()), "the upload was not being spooled"
        deadline = time.monotonic() + 10
        while any(uploads.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(uploads.iterdir()) == []
        r = httpx.post(srv.url + "/v1/verify", files={"file": ("a.jpg", jpeg_bytes())},
                       timeout=30)
        assert r.status_code == 404 and r.json()["code"] == "no_seal_found"
        assert list(uploads.iterdir()) == []
    finally:
        stop_server(srv)
