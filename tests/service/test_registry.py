"""The key registry in the service: lifecycle through the store, statements and history,
admin endpoints, scheduled rotation, concurrency, and the 0002 → 0003 migration."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from sceau import KeyRing, KeyStatus, canonicalize, verify_seal
from sceau.checkpoint import LogKey
from sceau.errors import InvalidKeyTransitionError, NotFoundError
from sceau.keyhistory import (
    TrustAnchor,
    read_statement,
    required_signers,
    verify_key_history,
)
from sceau.strictjson import loads
from sceau_service import Settings, create_app
from sceau_service.admin import create_token, custody_for, ensure_tenant, root_custody_for
from sceau_service.db import make_engine, signing_keys
from sceau_service.migrate import upgrade
from sceau_service.registry import Registry
from sceau_service.store import Store, TenantRow

from ..conftest import TEST_PASSPHRASE
from .conftest import Service

T0 = datetime(2026, 5, 1, 9, 0, 0, tzinfo=UTC)


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url,
                    key_passphrase=SecretStr(TEST_PASSPHRASE), token_cache_seconds=0,
                    keyring_cache_seconds=0, key_check_seconds=0)


def _registry(store: Store, settings: Settings, clock: Any = None) -> Registry:
    return Registry(store, custody_for(settings), root_custody=root_custody_for(settings),
                    clock=clock or (lambda: datetime.now(UTC)))


def _tenant(store: Store) -> TenantRow:
    return ensure_tenant(store, f"r-{secrets.token_hex(4)}")


def _history(store: Store, registry: Registry, tenant: TenantRow) -> list[bytes]:
    return [env for _, env in store.statements(tenant.id)]


def _statuses(registry: Registry, tenant: TenantRow) -> dict[str, KeyStatus]:
    return {k.keyid: k.status for k in registry.keys(tenant) if k.role == "signing"}


@pytest.fixture
def setup(database_url: str, tmp_path: Path) -> Any:
    settings = _settings(tmp_path, database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    yield store, settings
    engine.dispose()


# -- lifecycle through the store -------------------------------------------------------------


def test_lifecycle_statements_and_history(setup: Any) -> None:
    store, settings = setup
    clock = [T0]
    registry = _registry(store, settings, lambda: clock[0])
    tenant = _tenant(store)

    pending = registry.create_pending_key(tenant)
    assert pending.version is None  # no active key yet: no statement
    assert _statuses(registry, tenant) == {pending.keyid: KeyStatus.PENDING}

    clock[0] += timedelta(hours=1)
    first = registry.rotate(tenant)  # activates the pending key
    assert (first.outgoing, first.incoming, first.version) == (None, pending.keyid, 1)

    clock[0] += timedelta(days=1)
    second = registry.rotate(tenant)  # no pending key: a new one
    assert second.outgoing == pending.keyid and second.incoming not in (None, pending.keyid)
    assert second.version == 2
    assert _statuses(registry, tenant) == {pending.keyid: KeyStatus.RETIRED,
                                           second.incoming: KeyStatus.ACTIVE}
    rows = {k.keyid: k for k in registry.keys(tenant)}
    assert rows[second.incoming].not_before == clock[0]
    assert rows[pending.keyid].not_before == T0 and rows[pending.keyid].not_after is None

    clock[0] += timedelta(days=1)
    revoked = registry.revoke(tenant, pending.keyid, T0 + timedelta(minutes=90))
    assert revoked.version == 3 and revoked.outgoing == revoked.incoming == second.incoming
    with pytest.raises(InvalidKeyTransitionError):  # the compromise time moves earlier only
        registry.revoke(tenant, pending.keyid, T0 + timedelta(hours=2))

    clock[0] += timedelta(days=1)
    forced = registry.revoke(tenant, second.incoming, clock[0] - timedelta(hours=1))
    assert forced.outgoing == second.incoming and forced.incoming not in (None,
                                                                          second.incoming)
    assert forced.version == 4
    assert store.count_active(tenant.id) == 1
    assert store.active_keyid(tenant.id) == forced.incoming

    with pytest.raises(NotFoundError):
        registry.revoke(tenant, "A" * 43, None)
    with pytest.raises(NotFoundError):
        registry.rotate(tenant, to="A" * 43)

    # The statements chain, each signed by exactly the keys SPEC.md §6.2.3 requires.
    envs = _history(store, registry, tenant)
    statements = [read_statement(e) for e in envs]
    assert [s.version for s in statements] == [1, 2, 3, 4]
    for prev, cur, env in zip([None, *statements], statements, envs, strict=False):
        sigs = {s["keyid"] for s in loads(env)["signatures"]}
        assert sigs == set(required_signers(cur, prev))
    assert {s["keyid"] for s in loads(envs[1])["signatures"]} == {pending.keyid,
                                                                  second.incoming}
    # ... and the last statement is what the JWKS says.
    last = statements[-1]
    assert {k.keyid: k for k in last.keys} == {r.keyid: r.record()
                                               for r in store.list_keys(tenant.id)}


def test_root_key_cosigns_key_changes(setup: Any) -> None:
    store, settings = setup
    registry = _registry(store, settings)
    tenant = _tenant(store)
    first = registry.rotate(tenant)
    root = registry.create_root_key(tenant)
    assert root.incoming == first.incoming  # the signing key is unchanged
    assert [k.role for k in registry.keys(tenant)].count("root") == 1
    assert root.keyid not in {k.keyid for k in store.list_keys(tenant.id)}  # not in JWKS
    rotated = registry.rotate(tenant)  # adds a key: the root must sign
    env = _history(store, registry, tenant)[-1]
    assert {s["keyid"] for s in loads(env)["signatures"]} == {
        first.incoming, rotated.incoming, root.keyid}
    assert read_statement(env).root_keyid == root.keyid
    # A new root retires the old one; both sign the statement that changes it.
    root2 = registry.create_root_key(tenant)
    env = _history(store, registry, tenant)[-1]
    assert {root.keyid, root2.keyid} <= {s["keyid"] for s in loads(env)["signatures"]}
    roles = {k.keyid: (k.role, k.status) for k in registry.keys(tenant)}
    assert roles[root.keyid] == ("root", KeyStatus.RETIRED)
    assert roles[root2.keyid] == ("root", KeyStatus.ACTIVE)
    assert store.count_active(tenant.id) == 1


def test_root_key_needs_its_custody(setup: Any, tmp_path: Path) -> None:
    """With the root key offline (another passphrase), adding keys fails cleanly; a key
    published ahead is activated without it."""
    store, settings = setup
    root_settings = settings.model_copy(
        update={"root_key_passphrase": SecretStr("another-root-passphrase-0123")})
    offline = _registry(store, root_settings)
    tenant = _tenant(store)
    offline.rotate(tenant)
    offline.create_root_key(tenant)
    pending = offline.create_pending_key(tenant)  # the operator, root at hand
    online = Registry(store, custody_for(settings))  # the service: no root custody
    before = store.statements(tenant.id)
    with pytest.raises(Exception, match="key"):
        online.rotate(tenant, new=True)
    assert store.statements(tenant.id) == before  # nothing half-done
    change = online.rotate(tenant)  # activating the published key needs no root
    assert change.incoming == pending.keyid


def test_one_active_key_is_enforced_by_the_database(setup: Any) -> None:
    store, settings = setup
    registry = _registry(store, settings)
    tenant = _tenant(store)
    registry.rotate(tenant)
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(signing_keys).values(
            keyid="B" * 43, tenant_id=tenant.id, public_key=secrets.token_bytes(32),
            status="active", custody="file", created_at=T0, role="signing"))
    assert store.count_active(tenant.id) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_rotations_never_make_two_active_keys(setup: Any) -> None:
    """Two connections rotating one tenant at once (PostgreSQL): each rotation waits for
    the other's lock; every one lands, one active key, statements 1..n with no gap."""
    store, settings = setup
    tenant = _tenant(store)
    _registry(store, settings).rotate(tenant)
    rounds = 6
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        registry = _registry(store, settings)
        for _ in range(rounds):
            barrier.wait()
            try:
                registry.rotate(tenant, new=True)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_active(tenant.id) == 1
    versions = [v for v, _ in store.statements(tenant.id)]
    assert versions == list(range(1, 2 * rounds + 2))
    statuses = [k.status for k in store.list_keys(tenant.id)]
    assert statuses.count(KeyStatus.ACTIVE) == 1
    assert statuses.count(KeyStatus.RETIRED) == 2 * rounds
    # The chain verifies from the first key.
    doc = _document(store, settings, tenant)
    first = read_statement(store.statements(tenant.id)[0][1]).active.keyid
    verified = verify_key_history(doc, TrustAnchor(tenant.slug, keyid=first),
                                  now=datetime.now(UTC))
    assert verified.version == 2 * rounds + 1


def _document(store: Store, settings: Settings, tenant: TenantRow) -> bytes:
    from sceau.keyhistory import build_history_document, sign_history_head

    envs = [e for _, e in store.statements(tenant.id)]
    last = read_statement(envs[-1])
    now = datetime.now(UTC).replace(microsecond=0)
    head = sign_history_head(tenant=tenant.slug, statement=envs[-1], issued=now,
                             expires=now + timedelta(hours=1),
                             signer=custody_for(settings).signer(last.active.keyid))
    return build_history_document(envs, head)


# -- scheduled rotation ----------------------------------------------------------------------


def test_scheduled_rotation(setup: Any) -> None:
    store, settings = setup
    clock = [T0]
    registry = _registry(store, settings, lambda: clock[0])
    tenant, other = _tenant(store), _tenant(store)
    from sceau_keys.lifecycle import RotationPolicy

    registry.set_policy(tenant, RotationPolicy.days(30, 2))
    first = registry.rotate(tenant)
    registry.rotate(other)  # no policy: never rotated by the scheduler
    rows = {k.keyid: k for k in registry.keys(tenant)}
    assert rows[first.keyid].not_after == T0 + timedelta(days=32)

    clock[0] = T0 + timedelta(days=29)
    mine = (tenant.slug, other.slug)  # PostgreSQL is shared with other tests' tenants
    assert registry.rotate_due(mine).rotated == []
    clock[0] = T0 + timedelta(days=30)
    done = registry.rotate_due(mine).rotated
    assert [(c.tenant, c.outgoing) for c in done] == [(tenant.slug, first.incoming)]
    assert registry.rotate_due(mine).rotated == []  # not due any more
    # the outgoing key's window stays open for the overlap
    rows = {k.keyid: k for k in registry.keys(tenant)}
    assert rows[first.keyid].status is KeyStatus.RETIRED
    assert rows[first.keyid].not_after == T0 + timedelta(days=32)
    assert rows[done[0].keyid].not_after == clock[0] + timedelta(days=32)
    registry.set_policy(tenant, RotationPolicy.days(7, 1))  # replaced, not added
    assert len(store.policies(tenant.id)) == 1
    assert store.policies(tenant.id)[0].every_seconds == 7 * 86400


# -- migration from 0002 -----------------------------------------------------------------------


def test_migration_upgrades_a_0002_database(isolated_database_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, isolated_database_url)
    engine = make_engine(isolated_database_url)
    try:
        upgrade(engine, "0002")
        signer = custody_for(settings).generate()
        with engine.begin() as conn:
            tid = conn.execute(text(
                "INSERT INTO tenants (slug, name, created_at) VALUES ('old', 'Old', :t) "
                "RETURNING id"), {"t": T0.replace(tzinfo=None)}).scalar_one()
            conn.execute(text(
                "INSERT INTO signing_keys (keyid, tenant_id, public_key, status, custody, "
                "created_at, not_before) VALUES (:k, :tid, :p, 'active', 'file', :t, :t)"),
                {"k": signer.keyid, "tid": tid, "p": signer.public_key,
                 "t": T0.replace(tzinfo=None)})
        upgrade(engine)
        store = Store(engine)
        (key,) = store.list_keys(tid)
        assert (key.keyid, key.role, key.status) == (signer.keyid, "signing", KeyStatus.ACTIVE)
        assert store.key_series(tid) == 0
        tenant = store.tenant_by_slug("old")
        change = _registry(store, settings).rotate(tenant)
        assert change.outgoing == signer.keyid and change.version == 1
        doc = _document(store, settings, tenant)
        verified = verify_key_history(doc, TrustAnchor("old", keyid=change.incoming),
                                      now=datetime.now(UTC))
        assert {k.keyid for k in verified.statement.keys} == {signer.keyid, change.incoming}
    finally:
        engine.dispose()


# -- admin endpoints ---------------------------------------------------------------------------


def _admin(service: Service) -> str:
    return create_token(service.store, service.store.tenant_by_slug(service.tenant),
                        {"keys:admin", "read"})


def _seal(service: Service) -> dict[str, Any]:
    r = service.client.post("/v1/seals", json={"hash": secrets.token_hex(32), "size": 1,
                                               "media_type": "image/png"},
                            headers=service.auth())
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()["seal"]
    return out


def _verify_all(client: TestClient, seals: list[dict[str, Any]]) -> list[str]:
    ring = KeyRing.from_jwks(client.get("/.well-known/jwks.json").json())
    log_keys = [LogKey.from_vkey(k["vkey"]) for k in client.get("/v1/log/key").json()["keys"]]
    keyids = []
    for seal in seals:
        verdict = verify_seal(canonicalize(seal), ring, now=datetime.now(UTC),
                              log_keys=log_keys, require_log=True)
        assert verdict.ok, verdict.status_codes
        keyids.append(seal["signatures"][0]["keyid"])
    return keyids


def test_admin_endpoints(service: Service) -> None:
    c, admin = service.client, _admin(service)
    base = f"/v1/tenants/{service.tenant}"
    before = _seal(service)

    r = c.post(f"{base}/keys/rotate", json={}, headers=service.auth(admin))
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["outgoing"] == service.keyid and rotated["incoming"] != service.keyid
    assert rotated["version"] == 2
    after = _seal(service)  # this replica signs with the new key at once
    assert after["signatures"][0]["keyid"] == rotated["incoming"]
    assert _verify_all(c, [before, after]) == [service.keyid, rotated["incoming"]]

    jwks = {k["kid"]: k for k in c.get("/.well-known/jwks.json").json()["keys"]}
    assert jwks[service.keyid]["sceau_status"] == "retired"
    assert jwks[rotated["incoming"]]["sceau_status"] == "active"
    assert "sceau_not_before" in jwks[rotated["incoming"]]
    assert all("d" not in k and "custody" not in k for k in jwks.values())

    r = c.post(f"{base}/keys", json={}, headers=service.auth(admin))
    assert r.status_code == 201
    pending = r.json()["kid"]
    assert {k["kid"]: k["status"] for k in r.json()["keys"]}[pending] == "pending"
    r = c.post(f"{base}/keys/rotate", json={"to": pending}, headers=service.auth(admin))
    assert r.status_code == 200 and r.json()["incoming"] == pending

    listed = c.get(f"{base}/keys", headers=service.auth(service.read_token))
    assert listed.status_code == 200
    keys = listed.json()["keys"]
    assert sorted(k["status"] for k in keys) == ["active", "retired", "retired"]
    assert {k["custody"] for k in keys} == {"file"} and listed.json()["policy"] is None

    since = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = c.post(f"{base}/keys/{pending}/revoke", json={"compromised_since": since},
               headers=service.auth(admin))
    assert r.status_code == 200, r.text
    assert r.json()["outgoing"] == pending and r.json()["incoming"] not in (None, pending)
    revoked = {k["kid"]: k for k in r.json()["keys"]}[pending]
    assert revoked["status"] == "revoked" and revoked["compromised_since"] == since

    # bad input: stable 4xx codes
    for body, code in (({"compromised_since": "2026-01-01"}, "validation_error"),
                       ({"compromised_since": "2999-01-01T00:00:00Z"}, "validation_error"),
                       ({}, "validation_error"),
                       ({"compromised_since": None, "x": 1}, "validation_error")):
        r = c.post(f"{base}/keys/{service.keyid}/revoke", json=body,
                   headers=service.auth(admin))
        assert (r.status_code, r.json()["code"]) == (422, code), (body, r.text)
    r = c.post(f"{base}/keys/{pending}/revoke", json={"compromised_since": None},
               headers=service.auth(admin))
    assert (r.status_code, r.json()["code"]) == (409, "invalid_key_transition")
    r = c.post(f"{base}/keys/{'A' * 43}/revoke", json={"compromised_since": None},
               headers=service.auth(admin))
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = c.post(f"{base}/keys/rotate", json={"to": service.keyid},
               headers=service.auth(admin))
    assert (r.status_code, r.json()["code"]) == (409, "invalid_key_transition")

    # policy
    assert c.get(f"{base}/rotation-policy", headers=service.auth(admin)).status_code == 404
    r = c.put(f"{base}/rotation-policy", json={"every_days": 30, "overlap_days": 2},
              headers=service.auth(admin))
    assert r.status_code == 200 and r.json()["every_days"] == 30
    assert r.json()["next_rotation"] is not None
    r = c.get(f"{base}/rotation-policy", headers=service.auth(service.read_token))
    assert r.status_code == 200 and r.json()["overlap_days"] == 2
    r = c.put(f"{base}/rotation-policy", json={"every_days": 3, "overlap_days": 3},
              headers=service.auth(admin))
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")


@pytest.mark.parametrize(("method", "path", "body", "scope"), [
    ("GET", "/keys", None, "read"),
    ("GET", "/rotation-policy", None, "read"),
    ("POST", "/keys", {}, "keys:admin"),
    ("POST", "/keys/rotate", {}, "keys:admin"),
    ("POST", "/keys/{keyid}/revoke", {"compromised_since": None}, "keys:admin"),
    ("PUT", "/rotation-policy", {"every_days": 30}, "keys:admin"),
])
def test_scopes(service: Service, method: str, path: str, body: Any, scope: str) -> None:
    tenant = service.store.tenant_by_slug(service.tenant)
    url = f"/v1/tenants/{service.tenant}" + path.format(keyid=service.keyid)
    for scopes in ({"sign"}, {"read"}, {"keys:admin"}, {"sign", "read", "keys:admin"}):
        token = create_token(service.store, tenant, scopes)
        r = service.client.request(method, url, json=body, headers=service.auth(token))
        if scope in scopes:
            assert r.status_code in (200, 201, 404, 409), r.text  # past the scope check
        else:
            assert (r.status_code, r.json()["code"]) == (403, "forbidden"), (scopes, r.text)
    r = service.client.request(method, url, json=body)
    assert (r.status_code, r.json()["code"]) == (401, "unauthenticated")


def test_history_endpoint(service: Service) -> None:
    c, admin = service.client, _admin(service)
    url = f"/v1/tenants/{service.tenant}/keys/history"
    r = c.get(url)
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    etag = r.headers["etag"]
    verified = verify_key_history(r.content, TrustAnchor(service.tenant, keyid=service.keyid),
                                  now=datetime.now(UTC))
    assert verified.version == 1 and verified.statement.active.keyid == service.keyid
    assert c.get(url, headers={"if-none-match": etag}).status_code == 304
    assert b'"d"' not in r.content and b"custody" not in r.content

    rotated = c.post(f"/v1/tenants/{service.tenant}/keys/rotate", json={},
                     headers=service.auth(admin)).json()
    r = c.get(url, headers={"if-none-match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag
    verified = verify_key_history(r.content, TrustAnchor(service.tenant, keyid=service.keyid),
                                  now=datetime.now(UTC))
    assert verified.version == 2 and verified.statement.active.keyid == rotated["incoming"]

    assert c.get("/v1/tenants/no-such-tenant/keys/history").json()["code"] == "not_found"
    bare = ensure_tenant(service.store, f"t-{secrets.token_hex(4)}")  # no key yet
    r = c.get(f"/v1/tenants/{bare.slug}/keys/history")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_history_head_is_resigned_near_expiry(database_url: str, tmp_path: Path) -> None:
    settings = _settings(tmp_path, database_url).model_copy(
        update={"history_head_seconds": 3600})
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    tenant = _tenant(store)
    _registry(store, settings).rotate(tenant)
    clock = [datetime.now(UTC)]
    app = create_app(settings, clock=lambda: clock[0])
    try:
        with TestClient(app) as c:
            url = f"/v1/tenants/{tenant.slug}/keys/history"
            first = c.get(url).content
            heads = [loads(first)["head"]]
            clock[0] += timedelta(minutes=30)  # half the lifetime left: same head
            heads.append(loads(c.get(url).content)["head"])
            clock[0] += timedelta(minutes=20)  # under a quarter left: re-signed
            third = c.get(url).content
            heads.append(loads(third)["head"])
            assert heads[0] == heads[1] != heads[2]
            anchor = TrustAnchor(tenant.slug, keyid=store.active_keyid(tenant.id))
            verify_key_history(third, anchor, now=clock[0])
            clock[0] += timedelta(minutes=15)  # the first head has expired by now
            with pytest.raises(Exception, match="expired"):
                verify_key_history(first, anchor, now=clock[0])
    finally:
        engine.dispose()


def test_another_replica_picks_up_a_rotation(service: Service) -> None:
    """A second app on the same database (another replica) signs with the new key within
    its check interval; every seal it made verifies."""
    settings = service.settings.model_copy(update={"key_check_seconds": 0.0})
    admin = _admin(service)
    with TestClient(create_app(settings), raise_server_exceptions=False) as other:
        def seal() -> dict[str, Any]:
            r = other.post("/v1/seals", json={"hash": secrets.token_hex(32), "size": 1,
                                              "media_type": "image/png"},
                           headers=service.auth())
            assert r.status_code == 201, r.text
            out: dict[str, Any] = r.json()["seal"]
            return out

        seals = [seal()]
        assert seals[0]["signatures"][0]["keyid"] == service.keyid
        rotated = service.client.post(f"/v1/tenants/{service.tenant}/keys/rotate", json={},
                                      headers=service.auth(admin)).json()
        for _ in range(50):
            seals.append(seal())
            if seals[-1]["signatures"][0]["keyid"] == rotated["incoming"]:
                break
        assert seals[-1]["signatures"][0]["keyid"] == rotated["incoming"]
        keyids = _verify_all(service.client, seals)
        assert set(keyids) == {service.keyid, rotated["incoming"]}


def test_keys_are_never_deleted() -> None:
    """No code path deletes a key or a statement."""
    root = Path(__file__).resolve().parents[2] / "service" / "src" / "sceau_service"
    for path in root.rglob("*.py"):
        source = path.read_text()
        for table in ("signing_keys", "key_statements"):
            assert f"delete({table}" not in source, path
            assert f"delete from {table}" not in source.lower(), path


def test_scheduler_runs_in_the_service_and_survives_a_failing_tenant(
        database_url: str, tmp_path: Path) -> None:
    """SCEAU_ROTATE_DUE_SECONDS: the service rotates due keys by itself; a tenant whose key
    custody is elsewhere fails alone."""
    settings = _settings(tmp_path, database_url).model_copy(update={"rotate_due_seconds": 0.1})
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    try:
        from sceau_keys.lifecycle import RotationPolicy

        clock = [datetime.now(UTC) - timedelta(days=40)]
        registry = _registry(store, settings, lambda: clock[0])
        due, broken = _tenant(store), _tenant(store)
        for tenant in (due, broken):
            registry.set_policy(tenant, RotationPolicy.days(30, 5))
        first = registry.rotate(due)
        elsewhere = _registry(store, _settings(tmp_path / "elsewhere", database_url),
                              lambda: clock[0])
        elsewhere.rotate(broken)  # its key file is not in this service's custody
        failed = _registry(store, settings).rotate_due([broken.slug]).failed
        assert [(slug, exc.code) for slug, exc in failed] == [(broken.slug, "key_unavailable")]

        with TestClient(create_app(settings)):
            deadline = datetime.now(UTC) + timedelta(seconds=20)
            while store.active_keyid(due.id) == first.keyid:
                assert datetime.now(UTC) < deadline, "the scheduler never rotated"
                threading.Event().wait(0.05)
        assert store.count_active(due.id) == 1
        assert [v for v, _ in store.statements(due.id)] == [1, 2]
        assert len(store.statements(broken.id)) == 1  # unchanged, and no harm done
    finally:
        engine.dispose()


def test_service_uses_the_root_custody_when_a_change_needs_it(service: Service) -> None:
    """A root key made by the operator: the service's rotations with a new key are
    co-signed by it (the root custody is opened when first needed)."""
    tenant = service.store.tenant_by_slug(service.tenant)
    root = _registry(service.store, service.settings).create_root_key(tenant)
    r = service.client.post(f"/v1/tenants/{service.tenant}/keys/rotate", json={"new": True},
                            headers=service.auth(_admin(service)))
    assert r.status_code == 200, r.text
    env = service.store.statements(tenant.id)[-1][1]
    assert root.keyid in {s["keyid"] for s in loads(env)["signatures"]}
    listed = service.client.get(f"/v1/tenants/{service.tenant}/keys",
                                headers=service.auth(service.read_token)).json()["keys"]
    assert {k["kid"]: k["role"] for k in listed}[root.keyid] == "root"
    jwks = service.client.get("/.well-known/jwks.json").json()["keys"]
    assert root.keyid not in {k["kid"] for k in jwks}
