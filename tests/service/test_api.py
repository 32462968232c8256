"""The REST API's behaviour on SQLite and PostgreSQL, endpoint by endpoint."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sceau import (
    ContentDigest,
    KeyRing,
    canonicalize,
    parse_envelope,
    read_claim,
    seal_id,
    verify_seal,
)
from sceau.strictjson import loads

from .conftest import Service


def _content() -> tuple[bytes, str]:
    data = secrets.token_bytes(64)
    return data, hashlib.sha256(data).hexdigest()


def _seal(svc: Service, **fields: Any) -> dict[str, Any]:
    data, digest = _content()
    body = {"hash": digest, "size": len(data), "media_type": "image/jpeg", **fields}
    r = svc.client.post("/v1/seals", json=body, headers=svc.auth())
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    out["_data"] = data
    return out


def test_seal_then_verify_offline_with_published_keys(service: Service) -> None:
    out = _seal(service, title="photo.jpg", author=["Jane Doe"], publisher="Example News")
    envelope = canonicalize(out["seal"])
    assert out["seal_id"] == seal_id(parse_envelope(envelope))
    ring = KeyRing.from_jwks(service.client.get("/.well-known/jwks.json").json())
    data = out["_data"]
    verdict = verify_seal(envelope, ring, now=datetime.now(UTC),
                          content=ContentDigest("sha256", hashlib.sha256(data).digest(),
                                                len(data)))
    assert verdict.ok, verdict.status_codes
    assert verdict.tenant == service.tenant
    assert verdict.keyid == service.keyid
    assert verdict.claim is not None and verdict.claim.title == "photo.jpg"


def test_stored_seal_is_returned_verbatim_and_cacheable(service: Service) -> None:
    out = _seal(service)
    r = service.client.get(f"/v1/seals/{out['seal_id']}")
    assert r.status_code == 200
    assert r.content == canonicalize(out["seal"])
    assert r.headers["content-type"] == "application/vnd.sceau.seal+json"
    assert r.headers["etag"] == f'"{out["seal_id"]}"'
    assert "immutable" in r.headers["cache-control"]
    head = service.client.head(f"/v1/seals/{out['seal_id']}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == r.headers["etag"]
    again = service.client.get(f"/v1/seals/{out['seal_id']}",
                               headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = service.client.get(f"/v1/seals/{out['seal_id']}",
                               headers={"if-none-match": '"' + "0" * 64 + '"'})
    assert other.status_code == 200


def test_find_by_hash_newest_first(service: Service) -> None:
    data, digest = _content()
    body = {"hash": digest, "size": len(data), "media_type": "image/png"}
    ids = [service.client.post("/v1/seals", json=body, headers=service.auth()).json()["seal_id"]
           for _ in range(2)]
    r = service.client.get("/v1/seals", params={"sha256": digest})
    assert r.status_code == 200
    found = r.json()["seals"]
    assert {s["seal_id"] for s in found} == set(ids)
    assert all(s["tenant"] == service.tenant and s["media_type"] == "image/png" for s in found)
    assert service.client.get("/v1/seals", params={"sha256": "0" * 64}).json() == {"seals": []}


def test_batch_keeps_order_and_every_seal_verifies(service: Service) -> None:
    items = []
    for i in range(50):
        data = f"item {i}".encode()
        items.append({"hash": hashlib.sha256(data).hexdigest(), "size": len(data),
                      "media_type": "video/mp4", "digital_source_type": "trainedAlgorithmicMedia",
                      "software_agent": {"name": "GenModel", "version": "2"}})
    r = service.client.post("/v1/seals/batch", json={"items": items}, headers=service.auth())
    assert r.status_code == 201, r.text
    seals = r.json()["seals"]
    assert len(seals) == 50
    ring = KeyRing.from_jwks(service.client.get("/.well-known/jwks.json").json())
    for i, item in enumerate(seals):
        claim = read_claim(loads(parse_envelope(canonicalize(item["seal"])).payload))
        assert claim.binding.digest.hex() == items[i]["hash"]
        assert claim.digital_source_type is not None
        assert claim.digital_source_type.endswith("/trainedAlgorithmicMedia")
        assert verify_seal(canonicalize(item["seal"]), ring, now=datetime.now(UTC)).ok


def test_batch_rejects_whole_batch_naming_the_item(service: Service) -> None:
    good = {"hash": "a" * 64, "size": 1, "media_type": "image/jpeg"}
    bad = {"hash": "b" * 63, "size": 1, "media_type": "image/jpeg"}
    r = service.client.post("/v1/seals/batch", json={"items": [good, bad]},
                            headers=service.auth())
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_hash"
    assert "items[1]" in r.json()["detail"]
    assert service.client.get("/v1/seals", params={"sha256": "a" * 64}).json() == {"seals": []}


def test_opened_needs_parent_ingredient(service: Service) -> None:
    parent = _seal(service)
    data, digest = _content()
    body = {"hash": digest, "size": len(data), "media_type": "image/jpeg",
            "action": "c2pa.opened", "digital_source_type": "humanEdits"}
    r = service.client.post("/v1/seals", json=body, headers=service.auth())
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    body["ingredients"] = [{"relationship": "parentOf", "dc:title": "raw.jpg",
                            "seal_id": parent["seal_id"]}]
    r = service.client.post("/v1/seals", json=body, headers=service.auth())
    assert r.status_code == 201, r.text


def test_verify_endpoint_json_multipart_and_lookup(service: Service) -> None:
    out = _seal(service)
    data = out["_data"]
    digest = hashlib.sha256(data).hexdigest()
    r = service.client.post("/v1/verify", json={"seal": out["seal"], "hash": digest,
                                                 "size": len(data)})
    assert r.status_code == 200 and r.json()["ok"] is True
    assert r.json()["integrity"] == "match"
    r = service.client.post("/v1/verify", json={"seal": out["seal"]})
    assert r.json()["integrity"] == "not_checked"
    r = service.client.post("/v1/verify", json={"seal": out["seal"],
                                                 "hash": hashlib.sha256(b"x").hexdigest(),
                                                 "size": 1})
    assert r.status_code == 200 and r.json()["ok"] is False
    assert "assertion.dataHash.mismatch" in r.json()["status_codes"]
    r = service.client.post("/v1/verify", json={"hash": digest, "size": len(data)})
    assert r.json()["seal_id"] == out["seal_id"] and r.json()["ok"] is True
    r = service.client.post("/v1/verify", files={"file": ("a.jpg", data, "image/jpeg")})
    assert r.status_code == 200 and r.json()["ok"] is True
    sealbytes = canonicalize(out["seal"])
    r = service.client.post("/v1/verify", files={"file": ("a.jpg", data + b"!", "image/jpeg"),
                                                 "seal": ("a.sceau.json", sealbytes)})
    assert r.json()["status_codes"][-1] == "assertion.dataHash.mismatch"
    r = service.client.post("/v1/verify", files={"file": ("b", b"never sealed")})
    assert r.status_code == 404 and r.json()["code"] == "no_seal_found"


def test_tampered_seal_reports_signature_failure(service: Service) -> None:
    out = _seal(service)
    sig = out["seal"]["signatures"][0]["sig"]
    out["seal"]["signatures"][0]["sig"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    r = service.client.post("/v1/verify", json={"seal": out["seal"]})
    assert r.status_code == 200
    assert r.json()["ok"] is False
    assert r.json()["signature"] == "invalid"
    assert r.json()["status_codes"] == ["claimSignature.mismatch"]


def test_health_and_readiness(service: Service) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    assert service.client.get("/readyz").json() == {"status": "ok"}


def test_openapi_documents_every_endpoint(service: Service) -> None:
    spec = service.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/seals", "/v1/seals/batch", "/v1/seals/{seal_id}", "/v1/verify",
                 "/.well-known/jwks.json", "/healthz", "/readyz"):
        assert path in paths
    assert "multipart/form-data" in paths["/v1/verify"]["post"]["requestBody"]["content"]
    assert service.client.get("/docs").status_code == 200
