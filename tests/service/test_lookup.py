"""``POST /v1/lookup``: a page's hashes in one call (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from sceau import KeyRecord, KeyRing, KeyStatus
from sceau.checkpoint import LogKey
from sceau_service.db import signing_keys
from sceau_service.routers.lookup import LookupCache
from sceau_service.schemas import LOOKUP_MAX_HASHES
from sceau_service.store import NEWEST_SEALS

from .conftest import Service

LOOKUP = "/v1/lookup"


def _digest() -> str:
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def _seal(service: Service, digest: str, **fields: Any) -> str:
    body = {"hash": digest, "size": 1234, "media_type": "image/jpeg", **fields}
    r = service.client.post("/v1/seals", json=body, headers=service.auth())
    assert r.status_code == 201, r.text
    seal_id: str = r.json()["seal_id"]
    return seal_id


def _lookup(service: Service, hashes: list[str], **kwargs: Any) -> list[dict[str, Any]]:
    r = service.client.post(LOOKUP, json={"hashes": hashes}, **kwargs)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def test_answers_in_request_order_found_or_not(service: Service) -> None:
    ai, camera, absent = _digest(), _digest(), _digest()
    ai_id = _seal(service, ai, digital_source_type="trainedAlgorithmicMedia")
    camera_id = _seal(service, camera)
    results = _lookup(service, [absent, ai, camera, absent])
    assert [r["sha256"] for r in results] == [absent, ai, camera, absent]
    assert results[0] == {"sha256": absent, "found": False} == results[3]
    first, second = results[1], results[2]
    assert (first["found"], first["seal_id"], first["ok"]) == (True, ai_id, True)
    assert (second["seal_id"], second["ok"]) == (camera_id, True)
    assert first["label"] == "ai_generated" and second["label"] == "captured"
    assert first["label_text"] and first["summary"].startswith("verified")
    assert first["signer"] == {"keyid": service.keyid, "tenant": service.tenant,
                               "trusted": True, "key_status": "active"}
    assert first["time"]["attested"] is True and first["time"]["trusted_time"]
    assert set(first) == {"sha256", "found", "seal_id", "ok", "label", "label_text",
                          "summary", "signer", "time"}


def test_answer_is_compact_json_not_cached_by_browsers(service: Service) -> None:
    digest = _digest()
    _seal(service, digest, title="Crue de la Loire à Tours")
    r = service.client.post(LOOKUP, json={"hashes": [digest, _digest()]},
                            params={"lang": "fr"})
    assert r.headers["content-type"] == "application/json"
    compact = json.dumps(r.json(), separators=(",", ":"), ensure_ascii=False).encode()
    assert r.content == compact
    assert r.headers["cache-control"] == "no-store"
    assert "accept-language" in r.headers["vary"].lower()


def test_language_from_query_then_accept_language(service: Service) -> None:
    digest = _digest()
    _seal(service, digest, digital_source_type="trainedAlgorithmicMedia")
    english = _lookup(service, [digest])[0]
    french = _lookup(service, [digest], params={"lang": "fr"})[0]
    header = _lookup(service, [digest], headers={"accept-language": "de, fr;q=0.8"})[0]
    overridden = _lookup(service, [digest], params={"lang": "en"},
                         headers={"accept-language": "fr"})[0]
    assert english["summary"] != french["summary"]
    assert english["label_text"] != french["label_text"]
    assert header == french and overridden == english
    assert english["label"] == french["label"] == "ai_generated"
    unknown = _lookup(service, [digest], params={"lang": "xx"})[0]
    assert unknown == english


def test_newest_seal_of_a_hash_is_the_answer(service: Service) -> None:
    digest = _digest()
    _seal(service, digest)
    _seal(service, digest, digital_source_type="trainedAlgorithmicMedia")
    newest = service.client.get("/v1/seals", params={"sha256": digest}).json()["seals"][0]
    result = _lookup(service, [digest])[0]
    assert result["seal_id"] == newest["seal_id"]


def test_revoked_key_shows_at_once_cache_or_not(service: Service) -> None:
    """The lookup cache holds verdicts for one view of the keys: a revocation (the ring
    refreshes on every request here, keyring_cache_seconds=0) drops them."""
    digest = _digest()
    _seal(service, digest)
    assert _lookup(service, [digest])[0]["ok"] is True
    assert _lookup(service, [digest])[0]["ok"] is True  # now from the cache
    since = datetime.now(UTC) - timedelta(days=1)
    with service.store.engine.begin() as conn:
        conn.execute(update(signing_keys).where(signing_keys.c.keyid == service.keyid)
                     .values(status=KeyStatus.REVOKED.value, compromised_since=since))
    result = _lookup(service, [digest])[0]
    assert result["ok"] is False
    assert result["signer"]["key_status"] == "revoked"
    assert result["summary"].startswith("not verified")


@pytest.mark.parametrize(("body", "code"), [
    pytest.param({"hashes": []}, "validation_error", id="empty"),
    pytest.param({"hashes": ["a" * 64] * (LOOKUP_MAX_HASHES + 1)}, "validation_error",
                 id="too-many"),
    pytest.param({"hashes": ["A" * 64]}, "validation_error", id="uppercase"),
    pytest.param({"hashes": ["a" * 63]}, "validation_error", id="short"),
    pytest.param({"hashes": ["g" * 64]}, "validation_error", id="not-hex"),
    pytest.param({"hashes": "a" * 64}, "validation_error", id="not-a-list"),
    pytest.param({"hashes": [1]}, "validation_error", id="not-a-string"),
    pytest.param({"hashes": ["a" * 64], "extra": 1}, "validation_error", id="extra-member"),
    pytest.param({}, "validation_error", id="missing"),
])
def test_bad_batches_are_422(service: Service, body: dict[str, Any], code: str) -> None:
    r = service.client.post(LOOKUP, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code


def test_the_limit_itself_is_accepted(service: Service) -> None:
    hashes = [_digest() for _ in range(LOOKUP_MAX_HASHES)]
    assert len(_lookup(service, hashes)) == LOOKUP_MAX_HASHES


def test_not_json_is_refused(service: Service) -> None:
    r = service.client.post(LOOKUP, content=b"hashes=aa",
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = service.client.post(LOOKUP, content=b'{"hashes": [1.5]}',
                            headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "float_not_allowed"


def test_one_indexed_query_on_both_backends(service: Service) -> None:
    """The store's lookup statement is served by the index on (content_sha256,
    created_at) on SQLite and PostgreSQL."""
    digests = [_digest() for _ in range(3)]
    for d in digests:
        _seal(service, d)
    found = service.store.newest_seals([*digests, _digest()])
    assert sorted(r.content_sha256 for r in found) == sorted(digests)
    engine = service.store.engine
    sql = str(NEWEST_SEALS.params(hashes=digests).compile(
        engine, compile_kwargs={"literal_binds": True}))
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in
                            conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        else:
            # A tiny table is scanned whatever its indexes: ask whether the index serves.
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
    assert "ix_seals_content_sha256_created_at" in plan, plan


def test_lookup_cache_is_bounded_and_follows_the_keys() -> None:
    cache = LookupCache(3)
    key = KeyRecord(b"\x01" * 32, "t")
    ring = KeyRing([key])
    logs = [LogKey("example.com/log", b"\x02" * 32)]
    cache.check_view(ring, logs, False)
    for i in range(5):
        cache.put(f"s{i}", "en", b"%d" % i)
    assert len(cache) == 3 and cache.get("s0", "en") is None
    assert cache.get("s2", "en") == b"2"
    cache.put("s5", "en", b"5")  # s3 is now the least recently used
    assert cache.get("s3", "en") is None and cache.get("s2", "en") == b"2"
    cache.check_view(KeyRing([key]), list(logs), False)  # refreshed, same keys: kept
    assert cache.get("s2", "en") == b"2"
    revoked = KeyRecord(b"\x01" * 32, "t", KeyStatus.REVOKED,
                        compromised_since=datetime(2026, 1, 1, tzinfo=UTC))
    cache.check_view(KeyRing([revoked]), logs, False)
    assert len(cache) == 0
    cache.put("s1", "en", b"1")
    cache.check_view(KeyRing([revoked]), [], False)  # the log keys changed
    assert len(cache) == 0
    off = LookupCache(0)
    off.put("s1", "en", b"1")
    assert len(off) == 0


def test_found_seal_is_cacheable_forever_with_a_strong_etag(service: Service) -> None:
    """What the extension fetches next: GET/HEAD /v1/seals/{id}, 304 on revalidation."""
    digest = _digest()
    seal_id = _seal(service, digest)
    assert _lookup(service, [digest])[0]["seal_id"] == seal_id
    path = f"/v1/seals/{seal_id}"
    r = service.client.get(path)
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag == f'"{seal_id}"' and not etag.startswith("W/")  # strong (RFC 9110 §8.8.3)
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    head = service.client.head(path)
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)
    assert head.headers["cache-control"] == r.headers["cache-control"]
    for header in (etag, f'"{"0" * 64}", {etag}', "*", f"W/{etag}"):  # weak compare
        for method in ("GET", "HEAD"):
            again = service.client.request(method, path, headers={"if-none-match": header})
            assert again.status_code == 304 and again.content == b"", (method, header)
            assert again.headers["etag"] == etag
    assert service.client.get(path, headers={"if-none-match": '"' + "0" * 64 + '"'}
                              ).status_code == 200
    missing = service.client.head(f"/v1/seals/{'0' * 64}")
    assert missing.status_code == 404 and missing.content == b""


def test_overlong_language_parameters_are_422(service: Service) -> None:
    r = service.client.post(LOOKUP, json={"hashes": [_digest()]}, params={"lang": "f" * 36})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = service.client.post(LOOKUP, json={"hashes": [_digest()]},
                            headers={"accept-language": "fr," * 400})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


def test_body_model_is_in_the_openapi_document(service: Service) -> None:
    doc = service.client.get("/openapi.json").json()
    op = doc["paths"]["/v1/lookup"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/LookupCreate"
    schema = doc["components"]["schemas"]["LookupCreate"]
    assert schema["properties"]["hashes"]["maxItems"] == LOOKUP_MAX_HASHES
    assert {p["name"] for p in op["parameters"]} == {"lang", "accept-language"}
