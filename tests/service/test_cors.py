"""CORS for the browser extension: only configured origins, only the public endpoints."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sceau_service import create_app

from .conftest import Service

EXTENSION = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
SITE = "https://news.example"
OTHER_EXTENSION = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"
HASHES = {"hashes": [hashlib.sha256(b"x").hexdigest()]}


def preflight(client: TestClient, path: str, origin: str, method: str = "POST",
              headers: str = "content-type") -> tuple[int, dict[str, str]]:
    r = client.options(path, headers={"origin": origin, "access-control-request-method": method,
                                      "access-control-request-headers": headers})
    return r.status_code, dict(r.headers)


@pytest.fixture
def cors(service: Service) -> Iterator[TestClient]:
    """The service's app configured with two exact origins and an extension-id pattern."""
    settings = service.settings.model_copy(update={
        "cors_origins": [EXTENSION, SITE],
        "cors_origin_regex": "chrome-extension://[a-p]{32}",
        "rate_limit": True, "rate_read_burst": 5, "rate_read_per_second": 0.01})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("origin", [EXTENSION, SITE, OTHER_EXTENSION])
def test_preflight_of_lookup_from_allowed_origins(cors: TestClient, origin: str) -> None:
    status, headers = preflight(cors, "/v1/lookup", origin,
                                headers="content-type, accept-language")
    assert status == 200
    assert headers["access-control-allow-origin"] == origin  # echoed, never "*"
    assert "POST" in headers["access-control-allow-methods"]
    assert "content-type" in headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in headers
    assert "origin" in headers["vary"].lower()


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "chrome-extension://abcdefghijklmnopabcdefghijklmnoq",  # 'q' is not an id letter
    "chrome-extension://abcdefghijklmnopabcdefghijklmnop.evil.example",  # full match only
    "https://news.example.evil.example",
    "null",
])
def test_preflight_from_other_origins_is_refused(cors: TestClient, origin: str) -> None:
    status, headers = preflight(cors, "/v1/lookup", origin)
    assert status == 400
    assert "access-control-allow-origin" not in headers


def test_lookup_answer_carries_the_origin(cors: TestClient) -> None:
    r = cors.post("/v1/lookup", json=HASHES, headers={"origin": EXTENSION})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == EXTENSION
    r = cors.post("/v1/lookup", json=HASHES, headers={"origin": "https://evil.example"})
    assert r.status_code == 200  # the browser, not the server, withholds it from the page
    assert "access-control-allow-origin" not in r.headers


def test_seal_reads_expose_etag(cors: TestClient, service: Service) -> None:
    body = {"hash": secrets.token_hex(32), "size": 1, "media_type": "image/png"}
    seal_id = cors.post("/v1/seals", json=body, headers=service.auth()).json()["seal_id"]
    r = cors.get(f"/v1/seals/{seal_id}", headers={"origin": EXTENSION})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == EXTENSION
    assert "etag" in r.headers["access-control-expose-headers"].lower()
    status, headers = preflight(cors, f"/v1/seals/{seal_id}", EXTENSION, "GET",
                                "if-none-match")
    assert status == 200 and headers["access-control-allow-origin"] == EXTENSION


def test_key_history_is_readable_cross_origin(cors: TestClient, service: Service) -> None:
    path = f"/v1/tenants/{service.tenant}/keys/history"
    r = cors.get(path, headers={"origin": EXTENSION})
    assert r.headers["access-control-allow-origin"] == EXTENSION
    status, headers = preflight(cors, path, SITE, "GET", "if-none-match")
    assert status == 200 and headers["access-control-allow-origin"] == SITE
    # The tenant's private views stay same-origin.
    private = cors.get(f"/v1/tenants/{service.tenant}/keys",
                       headers={**service.auth(), "origin": EXTENSION})
    assert "access-control-allow-origin" not in private.headers


@pytest.mark.parametrize(("path", "method"), [
    ("/v1/seals", "POST"),
    ("/v1/seals/batch", "POST"),
])
def test_signing_endpoints_are_not_callable_cross_origin(cors: TestClient, service: Service,
                                                        path: str, method: str) -> None:
    status, headers = preflight(cors, path, EXTENSION, method, "authorization, content-type")
    assert status in (400, 405)
    assert "POST" not in headers.get("access-control-allow-methods", "")
    body = {"hash": secrets.token_hex(32), "size": 1, "media_type": "image/png"}
    r = cors.post("/v1/seals", json=body, headers={**service.auth(), "origin": EXTENSION})
    assert r.status_code == 201
    assert "access-control-allow-origin" not in r.headers


def test_rate_limited_answer_is_readable_cross_origin(cors: TestClient) -> None:
    statuses = []
    for _ in range(7):
        r = cors.post("/v1/lookup", json=HASHES, headers={"origin": EXTENSION})
        statuses.append(r.status_code)
    assert statuses[-1] == 429
    assert r.headers["access-control-allow-origin"] == EXTENSION
    assert "retry-after" in r.headers["access-control-expose-headers"].lower()


def test_no_origins_configured_means_no_cors(service: Service) -> None:
    assert service.settings.cors_origins == [] and service.settings.cors_origin_regex is None
    status, headers = preflight(service.client, "/v1/lookup", EXTENSION)
    assert status == 405
    assert not any(h.startswith("access-control-") for h in headers)
    r = service.client.post("/v1/lookup", json=HASHES, headers={"origin": EXTENSION})
    assert r.status_code == 200
    assert not any(h.startswith("access-control-") for h in r.headers)


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from sceau_service import Settings

    monkeypatch.setenv("SCEAU_CORS_ORIGINS", f" {EXTENSION} ,{SITE},")
    monkeypatch.setenv("SCEAU_CORS_ORIGIN_REGEX", "chrome-extension://[a-p]{32}")
    settings = Settings()
    assert settings.cors_origins == [EXTENSION, SITE]
    assert settings.cors_origin_regex == "chrome-extension://[a-p]{32}"
