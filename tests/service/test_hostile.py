"""Hostile input: every endpoint answers bad requests with a 4xx and a stable body.

Every case asserts the exact status and ``code`` of the ``{"code", "detail"}`` answer
(docs/API.md): never a 500, never a hang.  The table runs in-process on SQLite and on
PostgreSQL; what the in-process client cannot express (a ``Content-Length`` that lies,
trickled bodies, raw header bytes) runs against a real server process over raw sockets.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import update

from sceau import SceauError, error_from_code
from sceau_service import Settings, create_app
from sceau_service.admin import create_token, ensure_tenant
from sceau_service.auth import hash_token
from sceau_service.db import api_tokens, make_engine
from sceau_service.migrate import upgrade
from sceau_service.store import Store

from ..conftest import TEST_PASSPHRASE, ServerProcess, start_server, stop_server
from ..rawhttp import address as _address
from ..rawhttp import exchange as _exchange
from .conftest import Service, make_tenant

pytestmark = pytest.mark.timeout(120)

#: Every code docs/API.md lists; an answer with any other code is a bug.
DOCUMENTED_CODES = frozenset({
    "malformed_json", "duplicate_key", "float_not_allowed", "integer_out_of_range",
    "nesting_too_deep", "unauthenticated", "forbidden", "not_found", "no_seal_found",
    "method_not_allowed", "payload_too_large", "unsupported_media_type", "validation_error",
    "invalid_hash", "unsupported_algorithm", "unavailable", "key_unavailable",
})

#: Documented, but sceau.errors has no class for it yet (the SDK reads it as SceauError).
SDK_UNKNOWN_CODES: frozenset[str] = frozenset()

MIB = 1 << 20
BODY_LIMIT = MIB  # Settings.max_body_bytes default
BATCH_LIMIT = 4 * MIB  # Settings.max_batch_body_bytes default
UPLOAD_LIMIT = 2 * MIB  # lowered for these tests (default 256 MiB)
JSON_CT = "application/json"
HEX = "a" * 64
SEAL = {"hash": HEX, "size": 1, "media_type": "image/jpeg"}
SEALS, BATCH, VERIFY = "/v1/seals", "/v1/seals/batch", "/v1/verify"


# -- the app under test ----------------------------------------------------------------


@dataclass
class RealSeal:
    """A seal the app issued, and its content's hash and size."""

    seal: dict[str, Any]
    hash: str
    size: int


@dataclass
class Hostile:
    """A running app, tokens in every state the auth cases need, and one real seal."""

    svc: Service
    tokens: dict[str, str]
    real: RealSeal

    @property
    def client(self) -> TestClient:
        return self.svc.client


@contextmanager
def _running(database_url: str, data_dir: Path) -> Iterator[Hostile]:
    settings = Settings(data_dir=data_dir, database_url=database_url,
                        key_passphrase=SecretStr(TEST_PASSPHRASE), token_cache_seconds=0,
                        keyring_cache_seconds=0, max_upload_bytes=UPLOAD_LIMIT)
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    slug = f"h-{secrets.token_hex(4)}"
    keyid, sign, read = make_tenant(store, settings, slug)
    tenant = ensure_tenant(store, slug)
    revoked = create_token(store, tenant, {"sign"})
    with engine.begin() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.token_hash == hash_token(revoked))
                     .values(revoked_at=datetime.now(UTC)))
    admin = create_token(store, tenant, {"keys:admin"})
    app = create_app(settings)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            svc = Service(client, settings, store, slug, keyid, sign, read)
            content = secrets.token_bytes(32)
            digest = hashlib.sha256(content).hexdigest()
            r = client.post(SEALS, json={"hash": digest, "size": len(content),
                                         "media_type": "image/png"}, headers=svc.auth())
            assert r.status_code == 201, r.text
            real = RealSeal(r.json()["seal"], digest, len(content))
            yield Hostile(svc, {"sign": sign, "read": read, "revoked": revoked,
                                "admin": admin}, real)
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """One app per database for the whole module (the cases only read or get refused)."""
    tmp = tmp_path_factory.mktemp("hostile")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'sceau.db'}"
    else:
        url = request.getfixturevalue("postgres_server_url")
    with _running(url, tmp / "data") as h:
        yield h


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, str]:
    """The answer is exactly ``{"code", "detail"}`` with this status and a documented code."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"code", "detail"}, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert code in DOCUMENTED_CODES
    if code not in SDK_UNKNOWN_CODES:
        assert type(error_from_code(code, "")) is not SceauError  # the SDK knows the code
    return dict(body)


# -- the case table --------------------------------------------------------------------

_NO_JSON = object()


@dataclass(frozen=True)
class Case:
    """One request and the exact answer it must get."""

    status: int
    code: str
    path: str = SEALS
    method: str = "POST"
    body: bytes | Callable[[], Iterator[bytes]] | None = None
    json: Any = _NO_JSON
    ctype: str | None = JSON_CT
    auth: str | None = "sign"  # a key of Hostile.tokens, None, or "raw:<header value>"
    files: Any = None
    data: Any = None
    headers: tuple[tuple[str, str], ...] = field(default=())


def send(h: Hostile, case: Case) -> httpx.Response:
    headers: list[tuple[str, str]] = []
    if case.auth is not None:
        value = (case.auth[4:] if case.auth.startswith("raw:")
                 else f"Bearer {h.tokens[case.auth]}")
        headers.append(("authorization", value))
    kwargs: dict[str, Any] = {}
    if case.files is not None or case.data is not None:
        kwargs.update(files=case.files, data=case.data)
    elif case.json is not _NO_JSON:
        kwargs["content"] = json.dumps(case.json).encode()
    elif case.body is not None:
        kwargs["content"] = case.body() if callable(case.body) else case.body
    if case.ctype is not None and not (case.files or case.data):
        headers.append(("content-type", case.ctype))
    headers.extend(case.headers)
    return h.client.request(case.method, case.path, headers=headers, **kwargs)


GOOD = {SEALS: SEAL, BATCH: {"items": [SEAL]}, VERIFY: {"hash": HEX, "size": 1}}
LIMIT = {SEALS: BODY_LIMIT, BATCH: BATCH_LIMIT, VERIFY: BODY_LIMIT}
NAME = {SEALS: "seals", BATCH: "batch", VERIFY: "verify"}


def _chunks(total: int, size: int = 64 * 1024) -> Callable[[], Iterator[bytes]]:
    """A body streamed without Content-Length (chunked transfer encoding)."""
    def gen() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            n = min(size, total - sent)
            sent += n
            yield b" " * n
    return gen


def _body_cases(path: str) -> Iterator[Any]:
    """Bodies the strict-JSON middleware must refuse, the same way on every endpoint."""
    good = json.dumps(GOOD[path]).encode()
    limit = LIMIT[path]
    cases: list[tuple[str, int, str, bytes | Callable[[], Iterator[bytes]]]] = [
        ("empty", 400, "malformed_json", b""),
        ("whitespace-only", 400, "malformed_json", b" \n\t "),
        *[(f"truncated-at-{n}", 400, "malformed_json", good[:n])
          for n in (1, len(good) // 3, len(good) // 2, len(good) - 1)],
        ("trailing-garbage", 400, "malformed_json", good + b" x"),
        ("trailing-second-object", 400, "malformed_json", good + b"{}"),
        ("trailing-nul", 400, "malformed_json", good + b"\x00"),
        ("non-utf8-byte", 400, "malformed_json", b'{"title": "\xff"}'),
        ("overlong-utf8", 400, "malformed_json", b'{"title": "\xc0\xaf"}'),
        ("cesu-surrogate-utf8", 400, "malformed_json", b'{"title": "\xed\xa0\x80"}'),
        ("escaped-lone-surrogate", 400, "malformed_json", b'{"title": "\\ud800"}'),
        ("escaped-lone-surrogate-key", 400, "malformed_json", b'{"\\udfff": 1}'),
        ("utf8-bom", 400, "malformed_json", b"\xef\xbb\xbf" + good),
        ("utf16", 400, "malformed_json", good.decode().encode("utf-16")),
        ("single-quotes", 400, "malformed_json", b"{'size': 1}"),
        ("comment", 400, "malformed_json", b'{"size": 1 /* x */}'),
        ("trailing-comma", 400, "malformed_json", b'{"size": 1,}'),
        ("duplicate-key-top", 400, "duplicate_key", good[:-1] + b", " + good[1:]),
        ("duplicate-key-escaped", 400, "duplicate_key", b'{"size": 1, "\\u0073ize": 2}'),
        ("duplicate-key-nested", 400, "duplicate_key",
         b'{"software_agent": {"name": "a", "name": "b"}}'),
        ("duplicate-key-in-array", 400, "duplicate_key", b'{"items": [{"a": 1, "a": 1}]}'),
        ("float-1.0", 400, "float_not_allowed", b'{"size": 1.0}'),
        ("float-1e3", 400, "float_not_allowed", b'{"size": 1e3}'),
        ("float-1E+2", 400, "float_not_allowed", b'{"size": 1E+2}'),
        ("float-minus-zero", 400, "float_not_allowed", b'{"size": -0.0}'),
        ("float-nested", 400, "float_not_allowed", b'{"seal": {"x": [0.5]}}'),
        ("nan", 400, "float_not_allowed", b'{"size": NaN}'),
        ("infinity", 400, "float_not_allowed", b'{"size": Infinity}'),
        ("minus-infinity", 400, "float_not_allowed", b'{"size": -Infinity}'),
        ("int-2^53", 400, "integer_out_of_range", b'{"size": 9007199254740992}'),
        ("int-minus-2^53", 400, "integer_out_of_range", b'{"size": -9007199254740992}'),
        ("int-1000-digits", 400, "integer_out_of_range", b'{"size": ' + b"9" * 1000 + b"}"),
        ("int-500k-digits", 400, "integer_out_of_range",
         b'{"size": -' + b"9" * 500_000 + b"}"),
        ("depth-33-balanced", 400, "nesting_too_deep", b"[" * 33 + b"]" * 33),
        ("depth-33-objects", 400, "nesting_too_deep", b'{"a":' * 33 + b"1" + b"}" * 33),
        ("depth-10k-unclosed", 400, "nesting_too_deep", b"[" * 10_000),
        ("depth-100k-balanced", 400, "nesting_too_deep", b"[" * 100_000 + b"]" * 100_000),
        ("depth-fills-limit", 400, "nesting_too_deep", b"[" * limit),
        ("over-limit-content-length", 413, "payload_too_large", b" " * (limit + 1)),
        ("over-limit-chunked", 413, "payload_too_large", _chunks(limit + 1)),
        ("far-over-limit-chunked", 413, "payload_too_large", _chunks(3 * limit)),
        # At the limit exactly the body is read and parsed: it is merely the wrong shape.
        ("at-limit", 422, "validation_error", b" " * (limit - 2) + b"{}"),
        ("at-limit-chunked", 422, "validation_error",
         lambda: iter([b" " * (limit - 2), b"{}"])),
        ("depth-32-is-parsed", 422, "validation_error", b"[" * 32 + b"]" * 32),
        ("bare-string", 422, "validation_error", b'"x"'),
        ("bare-array", 422, "validation_error", b"[]"),
        ("bare-null", 422, "validation_error", b"null"),
        ("bare-int", 422, "validation_error", b"1"),
        ("bare-true", 422, "validation_error", b"true"),
    ]
    for name, status, code, body in cases:
        yield pytest.param(Case(status, code, path=path, body=body),
                           id=f"{NAME[path]}-{name}")


def _media_type_cases(path: str) -> Iterator[Any]:
    good = json.dumps(GOOD[path]).encode()
    multipart = path == VERIFY
    cases: list[tuple[str, str | None, bytes]] = [
        ("text-plain", "text/plain", good),
        ("form-urlencoded", "application/x-www-form-urlencoded", b"size=1"),
        ("octet-stream", "application/octet-stream", good),
        # FastAPI itself would parse +json with the lenient stdlib parser (duplicate keys
        # would pass): the middleware refuses every type but application/json.
        ("plus-json", "application/merge-patch+json", good),
        ("plus-json-duplicate-key", "application/vnd.x+json", b'{"size": 1, "size": 2}'),
        ("text-json", "text/json", good),
        ("multipart-mixed", "multipart/mixed; boundary=b", b"--b--\r\n"),
        ("no-content-type", None, good),
        ("no-content-type-duplicate-key", None, b'{"size": 1, "size": 2}'),
        ("garbage-content-type", "\x01\x02", good),
    ]
    if not multipart:
        cases.append(("multipart-form-data", "multipart/form-data; boundary=b",
                      b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\""
                      b"\r\n\r\nx\r\n--b--\r\n"))
    for name, ctype, body in cases:
        yield pytest.param(Case(415, "unsupported_media_type", path=path, ctype=ctype,
                                body=body), id=f"{NAME[path]}-{name}")
    # Content type and charset parameters are case-insensitive and do not matter.
    yield pytest.param(Case(400, "duplicate_key", path=path, ctype="Application/JSON",
                            body=b'{"size": 1, "size": 2}'), id=f"{NAME[path]}-mixed-case-json")
    yield pytest.param(Case(400, "float_not_allowed", path=path,
                            ctype="application/json; charset=latin-1", body=b'{"size": 1.5}'),
                       id=f"{NAME[path]}-json-with-charset")
    # A repeated header: the copy the application reads (the first) is the one checked.
    for second in ("text/plain", "multipart/form-data; boundary=b"):
        yield pytest.param(
            Case(400, "duplicate_key", path=path, body=b'{"size": 1, "size": 2}',
                 headers=(("content-type", second),)),
            id=f"{NAME[path]}-repeated-content-type-{second.split(';')[0]}")


def _auth_cases(path: str) -> Iterator[Any]:
    body = GOOD[path]
    wrong_shape = "raw:Bearer sct_" + "A" * 42
    cases: list[tuple[str, str | None, int, str]] = [
        ("no-header", None, 401, "unauthenticated"),
        ("empty-header", "raw:", 401, "unauthenticated"),
        ("basic", "raw:Basic dXNlcjpwYXNz", 401, "unauthenticated"),
        ("bearer-nothing", "raw:Bearer", 401, "unauthenticated"),
        ("bearer-space", "raw:Bearer ", 401, "unauthenticated"),
        ("token-without-scheme", "raw:sct_" + "A" * 43, 401, "unauthenticated"),
        ("unknown-token-right-shape", "raw:Bearer sct_" + "A" * 43, 401, "unauthenticated"),
        ("token-too-short", wrong_shape, 401, "unauthenticated"),
        ("token-wrong-prefix", "raw:Bearer sk_" + "A" * 44, 401, "unauthenticated"),
        ("token-bad-alphabet", "raw:Bearer sct_" + "A" * 42 + "=", 401, "unauthenticated"),
        ("token-with-inner-space", "raw:Bearer sct_" + "A" * 21 + " " + "A" * 21, 401,
         "unauthenticated"),
        ("revoked-token", "revoked", 401, "unauthenticated"),
        ("read-only-token", "read", 403, "forbidden"),
        ("keys-admin-only-token", "admin", 403, "forbidden"),
    ]
    for name, auth, status, code in cases:
        yield pytest.param(Case(status, code, path=path, json=body, auth=auth),
                           id=f"{NAME[path]}-{name}")


def _seal_shape_cases() -> Iterator[Any]:
    def seal(**fields: Any) -> dict[str, Any]:
        out = {**SEAL, **fields}
        return {k: v for k, v in out.items() if v is not _NO_JSON}

    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("hash-63", seal(hash="a" * 63), 422, "invalid_hash"),
        ("hash-65", seal(hash="a" * 65), 422, "invalid_hash"),
        ("hash-uppercase", seal(hash="A" * 64), 422, "invalid_hash"),
        ("hash-mixed-case", seal(hash="aB" * 32), 422, "invalid_hash"),
        ("hash-non-hex", seal(hash="g" * 64), 422, "invalid_hash"),
        ("hash-empty", seal(hash=""), 422, "invalid_hash"),
        ("hash-with-prefix", seal(hash="0x" + "a" * 62), 422, "invalid_hash"),
        ("hash-unicode-digits", seal(hash="\u0663" * 64), 422, "invalid_hash"),
        # Longer than any digest: refused by the schema before the hash check.
        ("hash-257", seal(hash="a" * 257), 422, "invalid_hash"),
        ("hash-int", seal(hash=1), 422, "validation_error"),
        ("hash-missing", seal(hash=_NO_JSON), 422, "validation_error"),
        ("alg-sha1", seal(alg="sha1"), 422, "unsupported_algorithm"),
        ("alg-md5", seal(alg="md5"), 422, "unsupported_algorithm"),
        ("alg-empty", seal(alg=""), 422, "unsupported_algorithm"),
        ("alg-uppercase", seal(alg="SHA256"), 422, "unsupported_algorithm"),
        ("alg-sha-256", seal(alg="sha-256"), 422, "unsupported_algorithm"),
        ("alg-too-long", seal(alg="x" * 33), 422, "validation_error"),
        ("alg-null", seal(alg=None), 422, "validation_error"),
        ("size-string", seal(size="1"), 422, "validation_error"),
        ("size-negative", seal(size=-1), 422, "validation_error"),
        ("size-bool", seal(size=True), 422, "validation_error"),
        ("size-null", seal(size=None), 422, "validation_error"),
        ("size-missing", seal(size=_NO_JSON), 422, "validation_error"),
        ("media-type-no-slash", seal(media_type="jpeg"), 422, "validation_error"),
        ("media-type-uppercase", seal(media_type="IMAGE/JPEG"), 422, "validation_error"),
        ("media-type-params", seal(media_type="image/jpeg; q=1"), 422, "validation_error"),
        ("media-type-empty", seal(media_type=""), 422, "validation_error"),
        ("media-type-too-long", seal(media_type="a/" + "b" * 200), 422, "validation_error"),
        ("media-type-missing", seal(media_type=_NO_JSON), 422, "validation_error"),
        ("title-1025", seal(title="x" * 1025), 422, "validation_error"),
        ("title-empty", seal(title=""), 422, "validation_error"),
        ("title-object", seal(title={"a": 1}), 422, "validation_error"),
        ("unknown-field", seal(extra=1), 422, "validation_error"),
        ("unknown-field-case", seal(Hash=HEX), 422, "validation_error"),
        ("action-unknown", seal(action="c2pa.deleted"), 422, "validation_error"),
        ("opened-without-parent", seal(action="c2pa.opened"), 422, "validation_error"),
        ("source-type-unknown", seal(digital_source_type="bogus"), 422, "validation_error"),
        ("software-agent-empty", seal(software_agent={}), 422, "validation_error"),
        ("software-agent-extra", seal(software_agent={"name": "a", "x": 1}), 422,
         "validation_error"),
        ("author-string", seal(author="x"), 422, "validation_error"),
        ("author-17", seal(author=["a"] * 17), 422, "validation_error"),
        ("publisher-empty", seal(publisher=""), 422, "validation_error"),
        ("ingredients-33", seal(ingredients=[{"relationship": "parentOf"}] * 33), 422,
         "validation_error"),
        ("ingredient-relationship", seal(ingredients=[{"relationship": "x"}]), 422,
         "validation_error"),
        ("ingredient-bad-seal-id", seal(ingredients=[{"relationship": "parentOf",
                                                      "seal_id": "A" * 64}]), 422,
         "validation_error"),
    ]
    for name, body, status, code in cases:
        yield pytest.param(Case(status, code, json=body), id=f"seals-{name}")
    # Scope is checked before the body's shape: a read-only token learns nothing about
    # what a valid body looks like.
    yield pytest.param(Case(403, "forbidden", json=seal(extra=1), auth="read"),
                       id="seals-read-only-token-bad-shape")
    yield pytest.param(Case(403, "forbidden", json=seal(hash="A" * 64), auth="read"),
                       id="seals-read-only-token-bad-hash")
    # Authentication comes before the body's shape (but after its JSON syntax).
    yield pytest.param(Case(401, "unauthenticated", json=seal(extra=1), auth=None),
                       id="seals-no-token-bad-shape")
    yield pytest.param(Case(400, "duplicate_key", body=b'{"a": 1, "a": 1}', auth=None),
                       id="seals-no-token-duplicate-key")


def _batch_cases() -> Iterator[Any]:
    bad_alg = {**SEAL, "alg": "md5"}
    cases: list[tuple[str, Any, int, str]] = [
        ("zero-items", {"items": []}, 422, "validation_error"),
        ("1001-items", {"items": [SEAL] * 1001}, 422, "validation_error"),
        ("items-missing", {}, 422, "validation_error"),
        ("items-string", {"items": "x"}, 422, "validation_error"),
        ("items-object", {"items": SEAL}, 422, "validation_error"),
        ("items-null-entry", {"items": [SEAL, None]}, 422, "validation_error"),
        ("unknown-field", {"items": [SEAL], "x": 1}, 422, "validation_error"),
        ("item-bad-shape", {"items": [SEAL, {**SEAL, "size": "1"}]}, 422, "validation_error"),
        ("item-bad-hash", {"items": [SEAL, {**SEAL, "hash": "a" * 63}]}, 422, "invalid_hash"),
        ("item-bad-alg", {"items": [SEAL] * 3 + [bad_alg]}, 422, "unsupported_algorithm"),
        ("item-unknown-source", {"items": [SEAL, {**SEAL, "digital_source_type": "x"}]}, 422,
         "validation_error"),
    ]
    for name, body, status, code in cases:
        yield pytest.param(Case(status, code, path=BATCH, json=body), id=f"batch-{name}")
    yield pytest.param(Case(401, "unauthenticated", path=BATCH,
                            json={"items": [SEAL] * 1001}, auth=None),
                       id="batch-1001-items-no-token")


def _verify_cases() -> Iterator[Any]:
    cases: list[tuple[str, Any, int, str]] = [
        ("empty-object", {}, 422, "validation_error"),
        ("seal-null", {"seal": None}, 422, "validation_error"),
        ("seal-string", {"seal": "x"}, 422, "validation_error"),
        ("seal-array", {"seal": []}, 422, "validation_error"),
        ("seal-int", {"seal": 1}, 422, "validation_error"),
        ("hash-without-size", {"hash": HEX}, 422, "validation_error"),
        ("size-without-hash", {"size": 1}, 422, "validation_error"),
        ("hash-63", {"hash": "a" * 63, "size": 1}, 422, "invalid_hash"),
        ("hash-65", {"hash": "a" * 65, "size": 1}, 422, "invalid_hash"),
        ("hash-uppercase", {"hash": "A" * 64, "size": 1}, 422, "invalid_hash"),
        ("hash-non-hex", {"hash": "z" * 64, "size": 1}, 422, "invalid_hash"),
        ("hash-257", {"hash": "a" * 257, "size": 1}, 422, "invalid_hash"),
        ("alg-sha1", {"hash": HEX, "size": 1, "alg": "sha1"}, 422, "unsupported_algorithm"),
        ("alg-md5", {"hash": HEX, "size": 1, "alg": "md5"}, 422, "unsupported_algorithm"),
        ("alg-empty", {"hash": HEX, "size": 1, "alg": ""}, 422, "unsupported_algorithm"),
        ("size-negative", {"hash": HEX, "size": -1}, 422, "validation_error"),
        ("size-string", {"hash": HEX, "size": "1"}, 422, "validation_error"),
        ("unknown-field", {"hash": HEX, "size": 1, "x": 1}, 422, "validation_error"),
        ("seal-and-unknown-field", {"seal": {}, "media_type": "image/jpeg"}, 422,
         "validation_error"),
        ("nothing-stored", {"hash": "e" * 64, "size": 1}, 404, "no_seal_found"),
    ]
    for name, body, status, code in cases:
        yield pytest.param(Case(status, code, path=VERIFY, json=body), id=f"verify-{name}")
    file = ("a.jpg", b"never sealed " + secrets.token_bytes(8), "image/jpeg")
    seal_part = ("a.sceau.json", b"{}", JSON_CT)
    multipart: list[tuple[str, Any, Any, int, str]] = [
        ("no-file-part", {"seal": seal_part}, None, 422, "validation_error"),
        ("file-as-plain-field", {"seal": seal_part}, {"file": "x"}, 422, "validation_error"),
        ("three-files", [("file", file), ("seal", seal_part), ("x", file)], None, 422,
         "validation_error"),
        ("three-fields", {"file": file}, {"seal": "x", "a": "1", "b": "2"}, 422,
         "validation_error"),
        ("seal-file-over-256k", {"file": file, "seal": ("s", b"x" * (256 * 1024 + 1))}, None,
         413, "payload_too_large"),
        ("seal-field-over-256k", {"file": file}, {"seal": "x" * (256 * 1024 + 1)}, 413,
         "payload_too_large"),
        ("seal-field-over-part-limit", {"file": file}, {"seal": "x" * (MIB + 1)}, 413,
         "payload_too_large"),
        ("upload-over-limit", {"file": ("big", b"\0" * (UPLOAD_LIMIT + 1))}, None, 413,
         "payload_too_large"),
        ("file-never-sealed", {"file": file}, None, 404, "no_seal_found"),
    ]
    for name, files, data, status, code in multipart:
        yield pytest.param(Case(status, code, path=VERIFY, files=files, data=data),
                           id=f"verify-multipart-{name}")
    raw: list[tuple[str, str, bytes | Callable[[], Iterator[bytes]], int, str]] = [
        ("no-boundary", "multipart/form-data", b"x", 422, "validation_error"),
        ("garbage-body", "multipart/form-data; boundary=xyz", b"garbage", 422,
         "validation_error"),
        ("empty-body", "multipart/form-data; boundary=b", b"", 422, "validation_error"),
        ("only-terminator", "multipart/form-data; boundary=b", b"--b--\r\n", 422,
         "validation_error"),
        ("part-without-name", "multipart/form-data; boundary=b",
         b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", 422,
         "validation_error"),
        ("over-limit-chunked", "multipart/form-data; boundary=b",
         _chunks(UPLOAD_LIMIT + 1), 413, "payload_too_large"),
        ("over-limit-content-length", "multipart/form-data; boundary=b",
         b" " * (UPLOAD_LIMIT + 1), 413, "payload_too_large"),
    ]
    for name, ctype, body, status, code in raw:
        yield pytest.param(Case(status, code, path=VERIFY, ctype=ctype, body=body,
                                auth=None), id=f"verify-multipart-{name}")


def _read_cases() -> Iterator[Any]:
    get: list[tuple[str, str, int, str]] = [
        ("seal-id-short", "/v1/seals/xyz", 422, "validation_error"),
        ("seal-id-63", "/v1/seals/" + "a" * 63, 422, "validation_error"),
        ("seal-id-65", "/v1/seals/" + "a" * 65, 422, "validation_error"),
        ("seal-id-uppercase", "/v1/seals/" + "A" * 64, 422, "validation_error"),
        ("seal-id-non-hex", "/v1/seals/" + "g" * 64, 422, "validation_error"),
        ("seal-id-nul", "/v1/seals/%00", 422, "validation_error"),
        ("seal-id-bad-utf8", "/v1/seals/%ff%fe", 422, "validation_error"),
        ("seal-id-trailing-newline", "/v1/seals/" + "a" * 64 + "%0a", 422,
         "validation_error"),
        ("seal-id-sql", "/v1/seals/'%20OR%201=1--", 422, "validation_error"),
        ("seal-id-4k", "/v1/seals/" + "a" * 4096, 422, "validation_error"),
        ("seal-id-batch", "/v1/seals/batch", 422, "validation_error"),
        ("seal-unknown", "/v1/seals/" + "0" * 64, 404, "not_found"),
        ("find-missing-sha256", "/v1/seals", 422, "validation_error"),
        ("find-empty-sha256", "/v1/seals?sha256=", 422, "validation_error"),
        ("find-short", "/v1/seals?sha256=abc", 422, "validation_error"),
        ("find-63", "/v1/seals?sha256=" + "a" * 63, 422, "validation_error"),
        ("find-65", "/v1/seals?sha256=" + "a" * 65, 422, "validation_error"),
        ("find-uppercase", "/v1/seals?sha256=" + "A" * 64, 422, "validation_error"),
        ("find-nul", "/v1/seals?sha256=%00", 422, "validation_error"),
        ("find-trailing-newline", "/v1/seals?sha256=" + HEX + "%0a", 422, "validation_error"),
        ("find-twice-last-bad", "/v1/seals?sha256=" + HEX + "&sha256=x", 422,
         "validation_error"),
        ("find-wrong-param", "/v1/seals?hash=" + HEX, 422, "validation_error"),
        ("unknown-route", "/nope", 404, "not_found"),
        ("unknown-version", "/v2/seals", 404, "not_found"),
        ("uppercase-route", "/V1/SEALS", 404, "not_found"),
        ("seal-subpath", "/v1/seals/" + HEX + "/x", 404, "not_found"),
        ("well-known-other", "/.well-known/other", 404, "not_found"),
        ("dot-dot", "/v1/../../etc/passwd", 404, "not_found"),
    ]
    for name, path, status, code in get:
        yield pytest.param(Case(status, code, method="GET", path=path, ctype=None, auth=None),
                           id=f"get-{name}")
    wrong_method: list[tuple[str, str, str]] = [
        ("DELETE", SEALS, "delete-seals"),
        ("PUT", SEALS, "put-seals"),
        ("PATCH", BATCH, "patch-batch"),
        ("GET", VERIFY, "get-verify"),
        ("DELETE", "/v1/seals/" + HEX, "delete-seal"),
        ("POST", "/v1/seals/" + HEX, "post-seal"),
        ("POST", "/healthz", "post-healthz"),
        ("PUT", "/.well-known/jwks.json", "put-jwks"),
        ("OPTIONS", SEALS, "options-seals"),
    ]
    for method, path, name in wrong_method:
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        yield pytest.param(Case(405, "method_not_allowed", method=method, path=path, body=body,
                                ctype=JSON_CT if body else None), id=f"method-{name}")
    yield pytest.param(Case(404, "not_found", path="/nope", body=b"{}"), id="post-unknown-route")
    # The body checks run before routing: a bad body is refused whatever the route.
    yield pytest.param(Case(400, "duplicate_key", path="/nope", body=b'{"a":1,"a":1}'),
                       id="post-unknown-route-duplicate-key")
    yield pytest.param(Case(415, "unsupported_media_type", path="/healthz", ctype="text/plain",
                            body=b"x"), id="post-healthz-text-plain")
    yield pytest.param(Case(413, "payload_too_large", path="/nope",
                            body=b" " * (BODY_LIMIT + 1)), id="post-unknown-route-too-large")


CASES = [
    *(c for path in (SEALS, BATCH, VERIFY) for c in _body_cases(path)),
    *(c for path in (SEALS, BATCH, VERIFY) for c in _media_type_cases(path)),
    *(c for path in (SEALS, BATCH) for c in _auth_cases(path)),
    *_seal_shape_cases(),
    *_batch_cases(),
    *_verify_cases(),
    *_read_cases(),
]


@pytest.mark.parametrize("case", CASES)
def test_hostile_request_gets_exact_error(hostile: Hostile, case: Case) -> None:
    start = time.monotonic()
    r = send(hostile, case)
    assert_error(r, case.status, case.code)
    assert time.monotonic() - start < 10, "answered, but far too slowly"


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_sanity_the_good_bodies_are_accepted(hostile: Hostile) -> None:
    """The refusals above are not because every request fails."""
    r = hostile.client.post(SEALS, json={**SEAL, "size": 2**53 - 1}, headers=hostile.svc.auth())
    assert r.status_code == 201, r.text
    r = hostile.client.post(BATCH, json=GOOD[BATCH], headers=hostile.svc.auth())
    assert r.status_code == 201, r.text
    r = hostile.client.post(VERIFY, json=GOOD[VERIFY])
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    r = hostile.client.post(SEALS, content=json.dumps(SEAL).encode(),
                            headers={**hostile.svc.auth(),
                                     "content-type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text


def test_batch_item_error_names_the_index(hostile: Hostile) -> None:
    body = {"items": [SEAL] * 3 + [{**SEAL, "alg": "md5"}]}
    r = hostile.client.post(BATCH, json=body, headers=hostile.svc.auth())
    assert assert_error(r, 422, "unsupported_algorithm")["detail"].startswith("items[3]: ")


# -- verification of garbage seals: a failed verdict, not an error ---------------------

GARBAGE_SEALS: list[Any] = [
    pytest.param({}, id="empty-object"),
    pytest.param({"a": 1}, id="unknown-member"),
    pytest.param({"sceau": 2, "payloadType": "x", "payload": "", "signatures": []},
                 id="wrong-version"),
    pytest.param({"sceau": True, "payloadType": "x", "payload": "", "signatures": []},
                 id="version-bool"),
    pytest.param({"sceau": 1, "payloadType": "", "payload": "", "signatures": []},
                 id="empty-payload-type"),
    pytest.param({"sceau": 1, "payloadType": "x", "payload": "!!", "signatures": []},
                 id="payload-not-base64url"),
    pytest.param({"sceau": 1, "payloadType": "x", "payload": "", "signatures": {}},
                 id="signatures-object"),
    pytest.param({"sceau": 1, "payloadType": "x", "payload": "", "signatures": [1]},
                 id="signature-int"),
    pytest.param({"sceau": 1, "payloadType": "x", "payload": "",
                  "signatures": [{"keyid": "", "sig": ""}]}, id="signature-empty-keyid"),
    pytest.param({"sceau": 1, "payloadType": "x", "payload": "A" * 200_000, "signatures": []},
                 id="payload-over-128k"),
    # {"seal": {"x": [[...]]}}: 2 objects + 30 arrays, the deepest the profile allows.
    pytest.param({"x": functools.reduce(lambda v, _: [v], range(30), 1)},
                 id="deep-but-allowed"),
]


@pytest.mark.parametrize("seal", GARBAGE_SEALS)
def test_garbage_seal_is_a_failed_verdict(hostile: Hostile, seal: Any) -> None:
    for r in (hostile.client.post(VERIFY, json={"seal": seal}),
              hostile.client.post(VERIFY, json={"seal": seal, "hash": HEX, "size": 1}),
              hostile.client.post(VERIFY, files={"file": ("a", b"x"),
                                                 "seal": ("s", json.dumps(seal).encode())})):
        assert r.status_code == 200, r.text
        verdict = r.json()
        assert verdict["ok"] is False
        assert verdict["status_codes"] == ["sceau.envelope.malformed"]
        assert verdict["signature"] == "not_checked"
        assert verdict["seal_id"] is None


@pytest.mark.parametrize("part", [
    pytest.param(b"", id="empty"),
    pytest.param(b"garbage", id="not-json"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    pytest.param(b'{"a": 1, "a": 1}', id="duplicate-key"),
    pytest.param(b"[" * 100_000, id="deep"),
    pytest.param(b'{"sceau": 1.0}', id="float"),
])
def test_garbage_seal_part_is_a_failed_verdict(hostile: Hostile, part: bytes) -> None:
    """A multipart seal is parsed by the verifier itself (not the middleware)."""
    for data, files in ((None, {"file": ("a", b"x"), "seal": ("s", part)}),
                        ({"seal": part.decode("latin-1")}, {"file": ("a", b"x")})):
        r = hostile.client.post(VERIFY, files=files, data=data)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is False
        assert r.json()["status_codes"] == ["sceau.envelope.malformed"]


def test_tampered_real_seal_extra_member_is_malformed(hostile: Hostile) -> None:
    r = hostile.client.post(SEALS, json={**SEAL, "hash": "b" * 64},
                            headers=hostile.svc.auth())
    assert r.status_code == 201, r.text
    seal = r.json()["seal"]
    r = hostile.client.post(VERIFY, json={"seal": {**seal, "extra": 1}})
    assert r.status_code == 200 and r.json()["status_codes"] == ["sceau.envelope.malformed"]
    two = {**seal, "signatures": seal["signatures"] * 2}
    r = hostile.client.post(VERIFY, json={"seal": two})
    assert r.status_code == 200 and r.json()["ok"] is False
    assert r.json()["signature"] == "malformed"


# -- fuzzing ---------------------------------------------------------------------------

# Profile-valid JSON values, and values the profile refuses (floats, huge integers).
_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)
_json_values = _plain | st.floats() | st.integers(-(2**64), 2**64)
_hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
_b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def _mostly(draw: st.DrawFn, good: st.SearchStrategy[Any],
            bad: st.SearchStrategy[Any] = _plain) -> Any:
    """Usually a good value, one time in eight anything at all."""
    return draw(bad) if draw(st.integers(0, 7)) == 0 else draw(good)


_SEAL_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "alg": _mostly(st.just("sha256"), st.sampled_from(["sha1", "md5", "", "SHA256"]) | _plain),
    "title": _mostly(st.text(min_size=1, max_size=40)),
    "digital_source_type": _mostly(st.sampled_from(
        ["digitalCapture", "trainedAlgorithmicMedia", "compositeSynthetic", "x"])),
    "action": _mostly(st.just("c2pa.created"), st.sampled_from(["c2pa.opened", "x"])),
    "software_agent": _mostly(st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=10)}, optional={"version": st.text(max_size=5)})),
    "author": _mostly(st.lists(st.text(min_size=1, max_size=10), max_size=3)),
    "publisher": _mostly(st.text(min_size=1, max_size=10)),
    "ingredients": _mostly(st.lists(st.fixed_dictionaries(
        {"relationship": st.sampled_from(["parentOf", "componentOf", "inputTo"])},
        optional={"seal_id": _hex64, "sha256": _hex64, "dc:title": st.text(max_size=10)}),
        max_size=3)),
    "extra": _plain,
}


@st.composite
def _seal_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A seal request that is valid more often than not, else wrong in one or two ways."""
    body: dict[str, Any] = {
        "hash": draw(_mostly(_hex64, st.sampled_from(["A" * 64, "a" * 63, ""]) | _plain)),
        "size": draw(_mostly(st.integers(0, 2**53 - 1), st.integers(-3, -1) | _plain)),
        "media_type": draw(_mostly(st.sampled_from(["image/jpeg", "video/mp4", "text/plain"]),
                                   st.sampled_from(["JPEG", "", "a/b;c"]) | _plain)),
    }
    for name in draw(st.sets(st.sampled_from(sorted(_SEAL_OPTIONAL)), max_size=3)):
        if name != "extra" or draw(st.integers(0, 3)) == 0:
            body[name] = draw(_SEAL_OPTIONAL[name])
    if draw(st.integers(0, 9)) == 0:
        body.pop(draw(st.sampled_from(sorted(body))))
    return body


@st.composite
def _mutated(draw: st.DrawFn, seal: dict[str, Any]) -> dict[str, Any]:
    """A real envelope with one member dropped, replaced, or one character changed."""
    out = json.loads(json.dumps(seal))
    target = out
    key = draw(st.sampled_from([*sorted(out), "sig", "keyid", "intact"]))
    if key == "intact":
        return out
    if key in ("sig", "keyid"):
        target = out["signatures"][0]
    how = draw(st.sampled_from(["drop", "replace", "flip", "truncate"]))
    value = target[key]
    if how == "drop":
        del target[key]
    elif how == "replace" or not isinstance(value, str) or not value:
        target[key] = draw(_plain)
    elif how == "flip":
        i = draw(st.integers(0, len(value) - 1))
        target[key] = value[:i] + draw(st.sampled_from(_b64)) + value[i + 1:]
    else:
        target[key] = value[:draw(st.integers(0, len(value) - 1))]
    return out


_envelopes = st.fixed_dictionaries({}, optional={
    "sceau": st.sampled_from([1, 2, True]) | _plain,
    "payloadType": st.sampled_from(["application/vnd.sceau.claim.v1+json", ""]) | _plain,
    "payload": st.text(_b64, max_size=80) | _plain,
    "signatures": st.lists(st.fixed_dictionaries(
        {"keyid": st.text(max_size=50) | _plain, "sig": st.text(_b64, max_size=90) | _plain}),
        max_size=3) | _plain,
    "log": _plain,
})


@st.composite
def _verify_bodies(draw: st.DrawFn, real: RealSeal) -> dict[str, Any]:
    body: dict[str, Any] = {}
    kind = draw(st.integers(0, 3))
    if kind <= 1:
        body["seal"] = draw(_mutated(real.seal))
    elif kind == 2:
        body["seal"] = draw(_envelopes | _plain)
    if kind == 3 or draw(st.booleans()):
        body["hash"] = draw(st.sampled_from([real.hash, "e" * 64]) | _hex64 | _plain)
        body["size"] = draw(st.sampled_from([real.size, 0]) | st.integers(-1, 2**53) | _plain)
    if draw(st.integers(0, 5)) == 0:
        body["alg"] = draw(st.sampled_from(["sha256", "md5", ""]) | _plain)
    if draw(st.integers(0, 9)) == 0:
        body[draw(st.text(max_size=8))] = draw(_plain)
    return body


def _encode(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")  # lone surrogates become invalid UTF-8


@st.composite
def _bodies(draw: st.DrawFn, shaped: st.SearchStrategy[Any]) -> bytes:
    """Mostly well-shaped JSON; else raw bytes, arbitrary JSON, or JSON spliced with bytes."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        return _encode(draw(_json_values), draw(st.booleans()))
    body = _encode(draw(shaped), draw(st.booleans()))
    if kind == 2:
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.binary(min_size=1, max_size=8)) + body[cut:]
    return body


def _check_answer(r: httpx.Response) -> None:
    body = r.json()
    event(f"{r.status_code} {body.get('code', '') if isinstance(body, dict) else ''}")
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert set(body) == {"code", "detail"}, body
        assert body["code"] in DOCUMENTED_CODES, body
        assert isinstance(body["detail"], str), body


_FUZZ = settings(max_examples=200, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_CTYPES = st.sampled_from([JSON_CT] * 12 + ["application/json; charset=utf-8", None,
                                           "text/plain"])


@_FUZZ
@given(body=_bodies(_seal_bodies()), ctype=_CTYPES)
def test_fuzz_create_seal(hostile: Hostile, body: bytes, ctype: str | None) -> None:
    headers = hostile.svc.auth()
    if ctype:
        headers["content-type"] = ctype
    r = hostile.client.post(SEALS, content=body, headers=headers)
    _check_answer(r)
    if r.status_code == 201:
        assert set(r.json()) == {"seal_id", "seal"}


@_FUZZ
@given(data=st.data(), ctype=_CTYPES)
def test_fuzz_verify(hostile: Hostile, data: st.DataObject, ctype: str | None) -> None:
    body = data.draw(_bodies(_verify_bodies(hostile.real)))
    headers = {"content-type": ctype} if ctype else {}
    r = hostile.client.post(VERIFY, content=body, headers=headers)
    _check_answer(r)
    if r.status_code == 200:
        assert r.json()["ok"] in (True, False)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), file=st.binary(max_size=100))
def test_fuzz_verify_multipart(hostile: Hostile, data: st.DataObject, file: bytes) -> None:
    seal = data.draw(_mutated(hostile.real.seal) | _envelopes | st.binary(max_size=200))
    part = seal if isinstance(seal, bytes) else _encode(seal, True)
    r = hostile.client.post(VERIFY, files={"file": ("f", file), "seal": ("s", part)})
    _check_answer(r)
    assert r.status_code == 200


# -- a real server over raw sockets ----------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("hostile-server"))
    try:
        yield srv
    finally:
        stop_server(srv)


def _head(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: test", b"Connection: close",
             *(k + b": " + v for k, v in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _auth(srv: ServerProcess) -> tuple[bytes, bytes]:
    return b"authorization", b"Bearer " + srv.token.encode()


def _seal_body() -> bytes:
    digest = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    return json.dumps({"hash": digest, "size": 16, "media_type": "image/png"}).encode()


def test_server_refuses_declared_oversize_without_waiting_for_it(server: ServerProcess) -> None:
    head = _head("POST", SEALS, [_auth(server), (b"content-type", b"application/json"),
                                 (b"content-length", b"2000000")])
    start = time.monotonic()
    answer = _exchange(server, head)  # the body is never sent
    assert not answer.timed_out and time.monotonic() - start < 5
    assert answer.status == 413
    assert answer.json()["code"] == "payload_too_large"


def test_server_cuts_off_a_chunked_body_over_the_limit(server: ServerProcess) -> None:
    def trickle(s: socket.socket) -> None:
        for _ in range(40):  # 2.5 MiB in 64 KiB chunks, never announced
            s.sendall(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
            time.sleep(0.002)
        s.sendall(b"0\r\n\r\n")

    head = _head("POST", SEALS, [_auth(server), (b"content-type", b"application/json"),
                                 (b"transfer-encoding", b"chunked")])
    answer = _exchange(server, head, then=trickle)
    assert not answer.timed_out
    assert answer.status == 413
    assert answer.json()["code"] == "payload_too_large"


def test_server_takes_a_slow_body(server: ServerProcess) -> None:
    body = _seal_body()

    def trickle(s: socket.socket) -> None:
        for i in range(0, len(body), 16):
            s.sendall(body[i:i + 16])
            time.sleep(0.02)

    head = _head("POST", SEALS, [_auth(server), (b"content-type", b"application/json"),
                                 (b"content-length", str(len(body)).encode())])
    answer = _exchange(server, head, then=trickle)
    assert answer.status == 201, answer.data[:300]


def test_server_lying_content_length_then_close_is_no_hang(server: ServerProcess) -> None:
    """The body ends (client half-closes) before the promised length: no answer, no hang."""
    body = _seal_body()
    head = _head("POST", SEALS, [_auth(server), (b"content-type", b"application/json"),
                                 (b"content-length", str(len(body) + 500).encode())])
    start = time.monotonic()
    answer = _exchange(server, head + body, half_close=True)
    assert not answer.timed_out and time.monotonic() - start < 5
    assert answer.status is None or answer.status < 500, answer.data[:300]


def test_server_stalled_body_blocks_nobody_else(server: ServerProcess) -> None:
    body = _seal_body()
    head = _head("POST", SEALS, [_auth(server), (b"content-type", b"application/json"),
                                 (b"content-length", str(len(body) + 500).encode())])
    with socket.create_connection(_address(server), timeout=5) as stalled:
        stalled.sendall(head + body)  # and then nothing: the server is left waiting
        start = time.monotonic()
        r = httpx.post(server.url + SEALS, content=_seal_body(), timeout=5,
                       headers={"authorization": f"Bearer {server.token}",
                                "content-type": JSON_CT})
        assert r.status_code == 201, r.text
        assert httpx.get(server.url + "/readyz", timeout=5).status_code == 200
        assert time.monotonic() - start < 5


def test_server_short_content_length_is_a_400(server: ServerProcess) -> None:
    """Only the promised bytes are the body (truncated JSON); the rest is not a request."""
    body = _seal_body()
    head = _head("POST", SEALS, [_auth(server), (b"content-type", b"application/json"),
                                 (b"content-length", b"10")])
    answer = _exchange(server, head + body)
    assert answer.status == 400, answer.data[:300]


@pytest.mark.parametrize("header", [
    pytest.param(b"Bearer sct_" + b"\xe9" * 43, id="latin1"),
    pytest.param(b"Bearer sct_" + "é".encode() * 21 + b"a", id="utf8"),
    pytest.param(b"Bearer sct_" + b"\x00" * 43, id="nul"),
    pytest.param(b"Bearer sct_" + b"\x7f" * 43, id="del"),
])
def test_server_non_ascii_token_is_unauthenticated(server: ServerProcess,
                                                   header: bytes) -> None:
    body = _seal_body()
    head = _head("POST", SEALS, [(b"authorization", header),
                                 (b"content-type", b"application/json"),
                                 (b"content-length", str(len(body)).encode())])
    answer = _exchange(server, head + body)
    if b"\x00" in header or b"\x7f" in header:
        # The HTTP layer (h11) refuses control characters in headers itself.
        assert answer.status == 400, answer.data[:300]
        return
    assert answer.status == 401, answer.data[:300]
    assert answer.json() == {"code": "unauthenticated", "detail": "invalid token"}


@pytest.mark.parametrize("headers", [
    pytest.param([(b"content-length", b"abc")], id="non-numeric"),
    pytest.param([(b"content-length", b"-1")], id="negative"),
    pytest.param([(b"content-length", b"2"), (b"content-length", b"3")], id="conflicting"),
    pytest.param([(b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
                 id="with-chunked"),
    pytest.param([(b"transfer-encoding", b"gzip")], id="unknown-coding"),
])
def test_server_bad_framing_is_refused_by_the_http_layer(
        server: ServerProcess, headers: list[tuple[bytes, bytes]]) -> None:
    """uvicorn (h11) answers 400 before the app runs; the server keeps serving."""
    head = _head("POST", SEALS, [_auth(server), (b"content-type", b"application/json"),
                                 *headers])
    answer = _exchange(server, head + b"0\r\n\r\n")
    assert answer.status == 400, answer.data[:300]
    assert httpx.get(server.url + "/readyz", timeout=5).status_code == 200
