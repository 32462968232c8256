"""The sealing API's fields for embedded seals and chunked bindings (docs/API.md): they
reach the claim exactly, and anything inconsistent is refused before signing."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from sceau import ContentDigest, KeyRing, canonicalize, parse_envelope, read_claim, verify_seal
from sceau.chunking import merkle_root
from sceau.strictjson import loads

from .conftest import Service


def _leaves(data: bytes, size: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + data[i:i + size]).digest()
            for i in range(0, len(data), size)]


def test_exclusions_and_ingredient_format_reach_the_claim(service: Service) -> None:
    data = secrets.token_bytes(3000)
    body = {"hash": hashlib.sha256(data).hexdigest(), "size": len(data) + 512,
            "media_type": "image/png", "exclusions": [{"start": 33, "length": 512}],
            "action": "c2pa.opened",
            "ingredients": [{"relationship": "parentOf", "dc:format": "image/png",
                             "seal_id": "a" * 64}]}
    r = service.client.post("/v1/seals", json=body, headers=service.auth())
    assert r.status_code == 201, r.text
    envelope = canonicalize(r.json()["seal"])
    claim = read_claim(loads(parse_envelope(envelope).payload))
    assert claim.binding.exclusions == ((33, 512),) and claim.binding.size == 3512
    assert dict(claim.ingredients[0]) == {"relationship": "parentOf", "dc:format": "image/png",
                                          "seal_id": "a" * 64}
    ring = KeyRing.from_jwks(service.client.get("/.well-known/jwks.json").json())
    digest = ContentDigest("sha256", hashlib.sha256(data).digest(), 3512, ((33, 512),))
    assert verify_seal(envelope, ring, now=datetime.now(UTC), content=digest).ok
    # The public verify endpoint takes the same ranges.
    answer = service.client.post("/v1/verify", json={
        "seal": r.json()["seal"], "hash": body["hash"], "size": 3512,
        "exclusions": [{"start": 33, "length": 512}]}).json()
    assert answer["integrity"] == "match"
    whole = service.client.post("/v1/verify", json={
        "seal": r.json()["seal"], "hash": body["hash"], "size": 3512}).json()
    assert whole["integrity"] == "mismatch"


def test_chunked_binding(service: Service) -> None:
    data = secrets.token_bytes(5000)
    leaves = _leaves(data, 1024)
    root = merkle_root(leaves).hex()
    body = {"hash": root, "size": len(data), "media_type": "video/mp4", "chunk_size": 1024,
            "chunks": [leaf.hex() for leaf in leaves]}
    r = service.client.post("/v1/seals", json=body, headers=service.auth())
    assert r.status_code == 201, r.text
    claim = read_claim(loads(parse_envelope(canonicalize(r.json()["seal"])).payload))
    assert claim.binding.label == "sceau.hash.chunked" and claim.binding.digest.hex() == root
    found = service.client.get("/v1/seals", params={"sha256": root}).json()["seals"]
    assert [f["seal_id"] for f in found] == [r.json()["seal_id"]]
    answer = service.client.post("/v1/verify", json={
        "seal": r.json()["seal"], "hash": root, "size": len(data), "chunk_size": 1024}).json()
    assert answer["integrity"] == "match" and answer["damaged_chunks"] == []


@pytest.mark.parametrize("change", [
    {"exclusions": [{"start": 10, "length": 5}, {"start": 12, "length": 5}]},
    {"exclusions": [{"start": 90, "length": 20}]},
    {"exclusions": [{"start": 0, "length": 0}]},
    {"exclusions": [{"start": i * 2, "length": 1} for i in range(9)]},
    {"chunk_size": 1024},
    {"chunk_size": 1000, "chunks": []},
    {"chunk_size": 1024, "chunks": ["11" * 32]},  # root is not MTH(chunks)
    {"chunk_size": 1024, "chunks": ["zz" * 32]},
])
def test_inconsistent_bindings_are_refused(service: Service, change: dict[str, Any]) -> None:
    body = {"hash": "0" * 64, "size": 100, "media_type": "image/jpeg", **change}
    r = service.client.post("/v1/seals", json=body, headers=service.auth())
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
