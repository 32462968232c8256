"""Bearer tokens: hashed at rest, cached no longer than the TTL, scoped, per tenant."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

import sceau_service.auth as auth_module
from sceau import KeyRing, canonicalize, parse_envelope, read_claim, verify_seal
from sceau.strictjson import loads
from sceau_service import create_app
from sceau_service.admin import create_token, ensure_tenant
from sceau_service.auth import TokenAuthority, hash_token, new_token
from sceau_service.db import api_tokens, make_engine
from sceau_service.migrate import upgrade
from sceau_service.store import Store

from .conftest import Service, make_tenant


def _body() -> dict[str, Any]:
    return {"hash": hashlib.sha256(secrets.token_bytes(16)).hexdigest(), "size": 16,
            "media_type": "image/png"}


def _revoke(svc: Service, token: str) -> None:
    with svc.store.engine.begin() as conn:
        done = conn.execute(update(api_tokens)
                            .where(api_tokens.c.token_hash == hash_token(token))
                            .values(revoked_at=datetime.now(UTC)))
        assert done.rowcount == 1


@contextmanager
def _app(svc: Service, **overrides: Any) -> Iterator[TestClient]:
    """A second app on the same database with different settings."""
    app = create_app(svc.settings.model_copy(update=overrides))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# -- storage ---------------------------------------------------------------------------


def test_new_tokens_are_random_and_well_formed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"sct_[A-Za-z0-9_-]{43}", t) for t in tokens)


def test_tokens_are_stored_only_as_sha256(service: Service) -> None:
    tenant = ensure_tenant(service.store, service.tenant)
    extra = create_token(service.store, tenant, {"sign", "read", "keys:admin"}, "ci bot")
    tokens = [service.sign_token, service.read_token, extra]
    with service.store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(api_tokens)).all()]
    stored_hashes = {bytes(r["token_hash"]) for r in rows}
    for token in tokens:
        assert hashlib.sha256(token.encode()).digest() in stored_hashes
        secret_part = token.removeprefix("sct_")
        for row in rows:
            for value in row.values():
                text = value.hex() if isinstance(value, bytes) else str(value)
                raw = bytes(value) if isinstance(value, bytes) else str(value).encode()
                assert secret_part not in text and secret_part.encode() not in raw
    labels = {r["label"] for r in rows}
    assert "ci bot" in labels


def test_sqlite_file_never_holds_a_token(tmp_path: Path) -> None:
    """Not even in free pages or the WAL: the token text never reaches the database."""
    path = tmp_path / "tokens.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        store = Store(engine)
        tenant = ensure_tenant(store, "t-file")
        tokens = [create_token(store, tenant, {"sign"}, "label") for _ in range(5)]
    finally:
        engine.dispose()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("tokens.db*"))
    for token in tokens:
        assert token.removeprefix("sct_").encode() not in data
        assert hash_token(token) in data


# -- revocation and the cache ----------------------------------------------------------


def test_revoked_token_fails_at_once_without_cache(service: Service) -> None:
    """The fixture's app caches nothing (token_cache_seconds=0)."""
    tenant = ensure_tenant(service.store, service.tenant)
    token = create_token(service.store, tenant, {"sign"})
    r = service.client.post("/v1/seals", json=_body(), headers=service.auth(token))
    assert r.status_code == 201, r.text
    _revoke(service, token)
    r = service.client.post("/v1/seals", json=_body(), headers=service.auth(token))
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    # other tokens of the tenant keep working
    r = service.client.post("/v1/seals", json=_body(), headers=service.auth())
    assert r.status_code == 201


def test_token_cache_honours_revocation_after_its_ttl(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(auth_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    tenant = ensure_tenant(service.store, service.tenant)
    token = create_token(service.store, tenant, {"sign"})
    with _app(service, token_cache_seconds=2.0) as client:
        assert client.post("/v1/seals", json=_body(),
                           headers=service.auth(token)).status_code == 201
        _revoke(service, token)
        clock[0] += 1.9  # still within the TTL: the cached lookup answers
        assert client.post("/v1/seals", json=_body(),
                           headers=service.auth(token)).status_code == 201
        clock[0] += 0.2  # past the TTL: the store is asked again and says revoked
        r = client.post("/v1/seals", json=_body(), headers=service.auth(token))
        assert r.status_code == 401, r.text
        assert r.json() == {"code": "unauthenticated", "detail": "invalid token"}
        clock[0] += 100  # and it stays revoked (failures are not cached as successes)
        r = client.post("/v1/seals", json=_body(), headers=service.auth(token))
        assert r.status_code == 401


def test_unknown_tokens_are_not_cached(service: Service) -> None:
    """A miss is never cached, so a token issued just after a miss works at once."""
    authority = TokenAuthority(service.store, ttl=300)
    token = new_token()
    with pytest.raises(Exception, match="invalid token"):
        authority.lookup(hash_token(token))
    tenant = ensure_tenant(service.store, service.tenant)
    service.store.add_token(tenant.id, hash_token(token), {"sign"}, "", datetime.now(UTC))
    principal = authority.lookup(hash_token(token))
    assert principal.tenant == service.tenant and principal.scopes == {"sign"}


@pytest.mark.parametrize(("header", "detail"), [
    (None, "missing bearer token"),
    ("", "missing bearer token"),
    ("Basic abc", "authorization must be 'Bearer <token>'"),
    ("Bearer", "authorization must be 'Bearer <token>'"),
    ("Bearer    ", "authorization must be 'Bearer <token>'"),
    ("Bearer sct_short", "invalid token"),
    ("Bearer sct_" + "é" * 43, "invalid token"),
    ("Bearer sct_" + "A" * 42 + "=", "invalid token"),
    ("Bearer xyz_" + "A" * 43, "invalid token"),
])
def test_parse_header_refuses(header: str | None, detail: str) -> None:
    with pytest.raises(Exception, match=re.escape(detail)) as info:
        TokenAuthority.parse_header(header)
    assert getattr(info.value, "code", None) == "unauthenticated"


def test_parse_header_accepts_any_scheme_case() -> None:
    token = new_token()
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert TokenAuthority.parse_header(f"{scheme} {token}") == token
    assert TokenAuthority.parse_header(f"Bearer {token}  ") == token


# -- scopes ----------------------------------------------------------------------------


@pytest.mark.parametrize(("scopes", "status"), [
    ({"sign"}, 201),
    ({"sign", "read"}, 201),
    ({"sign", "keys:admin"}, 201),
    ({"read"}, 403),
    ({"keys:admin"}, 403),
    ({"read", "keys:admin"}, 403),
])
def test_sign_scope_is_required_to_seal(service: Service, scopes: set[str],
                                        status: int) -> None:
    tenant = ensure_tenant(service.store, service.tenant)
    token = create_token(service.store, tenant, scopes)
    for path, body in (("/v1/seals", _body()), ("/v1/seals/batch", {"items": [_body()]})):
        r = service.client.post(path, json=body, headers=service.auth(token))
        assert r.status_code == status, r.text
        if status == 403:
            assert r.json() == {"code": "forbidden",
                                "detail": "this token lacks the 'sign' scope"}


def test_unknown_scopes_cannot_be_issued(service: Service) -> None:
    tenant = ensure_tenant(service.store, service.tenant)
    with pytest.raises(ValueError, match="unknown scope"):
        create_token(service.store, tenant, {"sign", "admin"})


def test_public_endpoints_ignore_credentials(service: Service) -> None:
    issued = service.client.post("/v1/seals", json=_body(), headers=service.auth()).json()
    revoked = create_token(service.store, ensure_tenant(service.store, service.tenant), {"read"})
    _revoke(service, revoked)
    for headers in ({}, {"authorization": "Bearer garbage"}, {"authorization": "Basic x"},
                    service.auth(service.read_token), service.auth(revoked)):
        r = service.client.get(f"/v1/seals/{issued['seal_id']}", headers=headers)
        assert r.status_code == 200
        assert service.client.get("/.well-known/jwks.json", headers=headers).status_code == 200
        r = service.client.post("/v1/verify", json={"seal": issued["seal"]}, headers=headers)
        assert r.status_code == 200 and r.json()["ok"] is True


# -- tenants ---------------------------------------------------------------------------


def _claim(seal: dict[str, Any]) -> Any:
    return read_claim(loads(parse_envelope(canonicalize(seal)).payload))


def test_each_tenant_signs_with_its_own_key(service: Service) -> None:
    slug_b = f"t-{secrets.token_hex(4)}"
    keyid_b, sign_b, read_b = make_tenant(service.store, service.settings, slug_b)
    assert keyid_b != service.keyid
    body = _body()  # the same content sealed by both tenants
    a = service.client.post("/v1/seals", json=body, headers=service.auth())
    b = service.client.post("/v1/seals", json=body, headers=service.auth(sign_b))
    assert a.status_code == 201 and b.status_code == 201
    claim_a, claim_b = _claim(a.json()["seal"]), _claim(b.json()["seal"])
    assert (claim_a.tenant, claim_a.keyid) == (service.tenant, service.keyid)
    assert (claim_b.tenant, claim_b.keyid) == (slug_b, keyid_b)
    for out, keyid in ((a, service.keyid), (b, keyid_b)):
        sigs = out.json()["seal"]["signatures"]
        assert [s["keyid"] for s in sigs] == [keyid]

    ring = KeyRing.from_jwks(service.client.get("/.well-known/jwks.json").json())
    now = datetime.now(UTC)
    for out, tenant, keyid in ((a, service.tenant, service.keyid), (b, slug_b, keyid_b)):
        verdict = verify_seal(canonicalize(out.json()["seal"]), ring, now=now)
        assert verdict.ok and verdict.tenant == tenant and verdict.keyid == keyid
        r = service.client.post("/v1/verify", json={"seal": out.json()["seal"]})
        assert r.json()["signer"]["tenant"] == tenant and r.json()["signer"]["keyid"] == keyid

    found = service.client.get("/v1/seals", params={"sha256": body["hash"]}).json()["seals"]
    assert {(s["tenant"], s["keyid"]) for s in found} == {(service.tenant, service.keyid),
                                                         (slug_b, keyid_b)}
    # B's read-only token is refused like A's; revoking B's token leaves A alone
    r = service.client.post("/v1/seals", json=_body(), headers=service.auth(read_b))
    assert r.status_code == 403
    _revoke(service, sign_b)
    assert service.client.post("/v1/seals", json=_body(),
                               headers=service.auth(sign_b)).status_code == 401
    assert service.client.post("/v1/seals", json=_body(),
                               headers=service.auth()).status_code == 201


def test_claiming_another_tenant_in_the_body_is_refused(service: Service) -> None:
    """The tenant comes from the token, never from the request."""
    for field in ("tenant", "keyid", "signer"):
        r = service.client.post("/v1/seals", json={**_body(), field: "other"},
                                headers=service.auth())
        assert r.status_code == 422 and r.json()["code"] == "validation_error"


def test_tenant_without_active_key_cannot_sign(service: Service) -> None:
    tenant = ensure_tenant(service.store, f"t-{secrets.token_hex(4)}")
    token = create_token(service.store, tenant, {"sign"})
    r = service.client.post("/v1/seals", json=_body(), headers=service.auth(token))
    assert r.status_code == 503
    assert r.json() == {"code": "key_unavailable",
                        "detail": "this tenant has no active signing key"}
