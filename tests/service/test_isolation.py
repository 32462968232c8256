"""Tenant isolation, route by route: tenant A's token can never sign with, rotate, revoke or
read tenant B's private state.

``ROUTES`` classifies every route the app serves (the test fails when a new route is not in
it): ``tenant`` routes act on the ``{tenant}`` in the path and must refuse any other tenant
exactly as a tenant that does not exist; ``sign`` routes act on the token's own tenant
(there is no tenant in the request); ``public`` routes need no token and answer the same
with or without one.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from sceau import canonicalize, parse_envelope, read_claim
from sceau.strictjson import loads
from sceau_service.admin import create_token
from sceau_service.store import Store

from .conftest import Service, make_tenant

ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/seals"): "sign",
    ("POST", "/v1/seals/batch"): "sign",
    ("GET", "/v1/seals"): "public",
    ("GET", "/v1/seals/{seal_id}"): "public",
    ("POST", "/v1/verify"): "public",
    ("POST", "/v1/lookup"): "public",
    ("GET", "/.well-known/jwks.json"): "public",
    ("GET", "/v1/tenants/{tenant}/keys/history"): "public",
    ("GET", "/v1/log/checkpoint"): "public",
    ("GET", "/v1/log/key"): "public",
    ("GET", "/v1/log/proof"): "public",
    ("GET", "/v1/log/consistency"): "public",
    ("GET", "/v1/log/entries"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("GET", "/v1/tenants/{tenant}/keys"): "tenant",
    ("POST", "/v1/tenants/{tenant}/keys"): "tenant",
    ("POST", "/v1/tenants/{tenant}/keys/rotate"): "tenant",
    ("POST", "/v1/tenants/{tenant}/keys/{keyid}/revoke"): "tenant",
    ("GET", "/v1/tenants/{tenant}/rotation-policy"): "tenant",
    ("PUT", "/v1/tenants/{tenant}/rotation-policy"): "tenant",
}

#: A valid body for each tenant route (so that only the tenant check can refuse it).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/tenants/{tenant}/keys"): {"activate": True},
    ("POST", "/v1/tenants/{tenant}/keys/rotate"): {},
    ("POST", "/v1/tenants/{tenant}/keys/{keyid}/revoke"): {"compromised_since": None},
    ("PUT", "/v1/tenants/{tenant}/rotation-policy"): {"every_days": 30, "overlap_days": 1},
}
TENANT_ROUTES = sorted(k for k, v in ROUTES.items() if v == "tenant")
ALL_SCOPES = {"sign", "read", "keys:admin"}


def _item() -> dict[str, Any]:
    return {"hash": secrets.token_hex(32), "size": 1, "media_type": "image/png"}


def _private_state(store: Store, slug: str) -> tuple[object, ...]:
    tenant = store.tenant_by_slug(slug)
    return (store.list_keys(tenant.id, role=None), store.statements(tenant.id),
            store.policies(tenant.id), store.key_series(tenant.id))


@pytest.fixture
def two(service: Service) -> tuple[Service, str, str, str]:
    """Tenant A (the service's), A's all-scope token, tenant B and B's all-scope token."""
    b = f"t-{secrets.token_hex(4)}"
    make_tenant(service.store, service.settings, b)
    a_all = create_token(service.store, service.store.tenant_by_slug(service.tenant),
                         ALL_SCOPES)
    b_all = create_token(service.store, service.store.tenant_by_slug(b), ALL_SCOPES)
    return service, a_all, b, b_all


def test_every_route_is_classified(service: Service) -> None:
    served = {(method.upper(), path)
              for path, ops in service.client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
              for method in ops}
    assert served == set(ROUTES), "classify new routes in ROUTES (and test them)"


@pytest.mark.parametrize("route", TENANT_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_token_never_reaches_another_tenant(two: tuple[Service, str, str, str],
                                             route: tuple[str, str]) -> None:
    svc, a_all, b, b_all = two
    method, path = route
    b_key = svc.store.active_keyid(svc.store.tenant_by_slug(b).id)
    body = BODIES.get(route)
    before = _private_state(svc.store, b)

    def call(tenant: str, keyid: str | None, token: str) -> Any:
        url = path.format(tenant=tenant, keyid=keyid or b_key)
        return svc.client.request(method, url, json=body, headers=svc.auth(token))

    # A's token, with every scope, on B's path (and B's key): as if B did not exist.
    theirs = call(b, b_key, a_all)
    nobody = call("no-such-tenant", b_key, a_all)
    assert (theirs.status_code, theirs.json()) == (404, {"code": "not_found",
                                                         "detail": "no such tenant"})
    assert (nobody.status_code, nobody.json()) == (theirs.status_code, theirs.json())
    if "{keyid}" in path:  # A's own path with B's key id: B's key is not A's to touch
        mine = call(svc.tenant, b_key, a_all)
        assert (mine.status_code, mine.json()["code"]) == (404, "not_found")
    assert _private_state(svc.store, b) == before

    # B's own token on the same request gets past the tenant check: the route is live.
    ok = call(b, b_key, b_all)
    assert ok.status_code in (200, 201, 404), ok.text
    if ok.status_code == 404:  # only "no policy yet" may be missing
        assert path.endswith("rotation-policy") and method == "GET"


def test_a_token_signs_only_with_its_own_tenant_key(two: tuple[Service, str, str, str]
                                                    ) -> None:
    svc, a_all, b, b_all = two
    c = svc.client
    b_tenant = svc.store.tenant_by_slug(b)
    b_keys = {k.keyid for k in svc.store.list_keys(b_tenant.id)}
    a_tenant = svc.store.tenant_by_slug(svc.tenant)
    sealed = [c.post("/v1/seals", json=_item(), headers=svc.auth(a_all)).json()["seal"],
              *[s["seal"] for s in c.post("/v1/seals/batch", json={"items": [_item()] * 2},
                                         headers=svc.auth(a_all)).json()["seals"]]]
    # B rotates; A still signs with A's key, B with B's new key.
    rotated = c.post(f"/v1/tenants/{b}/keys/rotate", json={}, headers=svc.auth(b_all)).json()
    sealed.append(c.post("/v1/seals", json=_item(), headers=svc.auth(a_all)).json()["seal"])
    a_keys = {k.keyid for k in svc.store.list_keys(a_tenant.id)}
    for seal in sealed:
        claim = read_claim(loads(parse_envelope(canonicalize(seal)).payload))
        assert claim.tenant == svc.tenant and claim.keyid in a_keys
        (sig,) = seal["signatures"]
        assert sig["keyid"] in a_keys and sig["keyid"] not in b_keys
        assert sig["keyid"] != rotated["incoming"]
    b_seal = c.post("/v1/seals", json=_item(), headers=svc.auth(b_all)).json()["seal"]
    assert b_seal["signatures"][0]["keyid"] == rotated["incoming"]
    # Naming another tenant or key in the body is refused, never honoured.
    for field, value in (("tenant", b), ("keyid", rotated["incoming"]), ("signer", b)):
        r = c.post("/v1/seals", json={**_item(), field: value}, headers=svc.auth(a_all))
        assert (r.status_code, r.json()["code"]) == (422, "validation_error")
        r = c.post("/v1/seals/batch", json={"items": [{**_item(), field: value}]},
                   headers=svc.auth(a_all))
        assert (r.status_code, r.json()["code"]) == (422, "validation_error")


def test_public_routes_answer_the_same_with_any_token(two: tuple[Service, str, str, str]
                                                      ) -> None:
    svc, a_all, b, b_all = two
    c = svc.client
    b_seal = c.post("/v1/seals", json=_item(), headers=svc.auth(b_all)).json()
    gets = ["/.well-known/jwks.json", f"/v1/tenants/{b}/keys/history",
            f"/v1/seals/{b_seal['seal_id']}", "/v1/log/key", "/healthz"]
    for url in gets:
        anonymous = c.get(url)
        with_a = c.get(url, headers=svc.auth(a_all))
        assert anonymous.status_code == with_a.status_code == 200, url
        if "history" not in url:  # the history head may be re-signed between calls
            assert anonymous.content == with_a.content, url
        assert b"custody" not in anonymous.content and b'"d":' not in anonymous.content
