"""The transparency log in the service, on SQLite and PostgreSQL: every seal is logged with
its proof inside it, the log endpoints, key rotation, the switch, trusted time in
``POST /v1/verify``, and hostile queries on the log endpoints."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select, update

from sceau import KeyRing, canonicalize, parse_envelope, verify_seal
from sceau.checkpoint import LogKey, open_checkpoint
from sceau.claim import build_claim
from sceau.encoding import b64url_decode
from sceau.envelope import seal_claim
from sceau.logproof import LogProof, check_log, seal_leaf_hash
from sceau.merkle import verify_consistency, verify_inclusion
from sceau.verify import Status
from sceau_service import Settings, create_app
from sceau_service.admin import create_log_key, custody_for
from sceau_service.db import log_nodes, log_state, make_engine, signing_keys
from sceau_service.migrate import upgrade
from sceau_service.store import Store

from ..conftest import TEST_PASSPHRASE
from .conftest import Service, make_tenant
from .test_hostile import assert_error

SEALS, BATCH = "/v1/seals", "/v1/seals/batch"


def _item() -> dict[str, Any]:
    return {"hash": secrets.token_hex(32), "size": 1, "media_type": "image/png"}


def _log_keys(client: TestClient) -> list[LogKey]:
    doc = client.get("/v1/log/key").json()
    return [LogKey.from_vkey(k["vkey"]) for k in doc["keys"]]


def _ring(client: TestClient) -> KeyRing:
    return KeyRing.from_jwks(client.get("/.well-known/jwks.json").json())


def test_every_seal_carries_a_verifying_log_proof(service: Service) -> None:
    c = service.client
    singles = [c.post(SEALS, json=_item(), headers=service.auth()).json() for _ in range(3)]
    batch = c.post(BATCH, json={"items": [_item() for _ in range(5)]},
                   headers=service.auth()).json()["seals"]
    keys, ring = _log_keys(c), _ring(c)
    now = datetime.now(UTC)
    indexes = []
    for out in [*singles, *batch]:
        envelope = canonicalize(out["seal"])
        assert c.get(f"/v1/seals/{out['seal_id']}").content == envelope  # stored with log
        verdict = verify_seal(envelope, ring, now=now, log_keys=keys, require_log=True)
        assert verdict.ok, verdict.status_codes
        assert Status.LOG_INCLUDED in verdict.status_codes
        assert verdict.trusted_time is not None
        assert abs((verdict.trusted_time - now).total_seconds()) < 60
        indexes.append(out["seal"]["log"]["index"])
    # One sequence: consecutive entries, the batch's in request order, one checkpoint.
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes)
    assert indexes[3:] == list(range(indexes[3], indexes[3] + 5))
    assert len({s["seal"]["log"]["checkpoint"] for s in batch}) == 1


def test_log_endpoints(service: Service) -> None:
    c = service.client
    outs = [c.post(SEALS, json=_item(), headers=service.auth()).json() for _ in range(4)]
    keys = _log_keys(c)
    r = c.get("/v1/log/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.headers["cache-control"] == "no-cache"
    latest = open_checkpoint(r.text, keys)
    size, root = latest.checkpoint.size, latest.checkpoint.root
    # Inclusion by seal id, leaf hash and index; the answer is a valid log member.
    for out in outs:
        sid = out["seal_id"]
        by_id = c.get("/v1/log/proof", params={"seal_id": sid}).json()
        leaf = seal_leaf_hash(sid)
        assert by_id["leaf_hash"] == leaf.hex() and by_id["seal_id"] == sid
        by_hash = c.get("/v1/log/proof", params={"leaf_hash": leaf.hex()}).json()
        by_index = c.get("/v1/log/proof", params={"index": by_id["index"]}).json()
        assert by_id == by_hash == by_index
        assert by_id["tree_size"] == size
        member = {k: by_id[k] for k in ("index", "proof", "checkpoint")}
        assert check_log(member, sid, keys).outcome.value == "included"
        # And in the tree of the seal's own checkpoint, which is immutable.
        own = open_checkpoint(out["seal"]["log"]["checkpoint"], keys).checkpoint
        r = c.get("/v1/log/proof", params={"seal_id": sid, "tree_size": own.size})
        assert "immutable" in r.headers["cache-control"] and "checkpoint" not in r.json()
        assert [b64url_decode(h) for h in r.json()["proof"]] == list(
            LogProof.from_json(out["seal"]["log"]).proof)
        # Consistency from the seal's checkpoint to the latest.
        cons = c.get("/v1/log/consistency", params={"first": own.size}).json()
        assert cons["second"] == size and cons["checkpoint"] == latest.text
        verify_consistency(own.size, size, [b64url_decode(h) for h in cons["proof"]],
                           own.root, root)
    # Entries: the seals in order, with their leaf hashes.
    first = outs[0]["seal"]["log"]["index"]
    entries = c.get("/v1/log/entries", params={"start": first, "end": first + 4}).json()
    assert [e["seal_id"] for e in entries["entries"]] == [o["seal_id"] for o in outs]
    for e in entries["entries"]:
        assert e["leaf_hash"] == seal_leaf_hash(e["seal_id"]).hex()
        proof = c.get("/v1/log/proof", params={"index": e["index"]}).json()["proof"]
        verify_inclusion(e["index"], size, bytes.fromhex(e["leaf_hash"]),
                         [b64url_decode(h) for h in proof], root)
    doc = c.get("/v1/log/key").json()
    assert doc["origin"] == latest.checkpoint.origin
    assert sum(k["status"] == "active" for k in doc["keys"]) == 1


def test_verify_endpoint_reports_trusted_time(service: Service) -> None:
    c = service.client
    out = c.post(SEALS, json=_item(), headers=service.auth()).json()
    verdict = c.post("/v1/verify", json={"seal": out["seal"]}).json()
    assert verdict["ok"] and Status.LOG_INCLUDED in verdict["status_codes"]
    assert verdict["time"]["attested"] is True and verdict["time"]["trusted_time"]
    assert verdict["log"]["index"] == out["seal"]["log"]["index"]
    # A tampered proof is caught by the service's verifier too.
    tampered = dict(out["seal"])
    tampered["log"] = {**out["seal"]["log"], "index": out["seal"]["log"]["index"] + 1}
    verdict = c.post("/v1/verify", json={"seal": tampered}).json()
    assert not verdict["ok"] and Status.LOG_PROOF_INVALID in verdict["status_codes"]


@contextmanager
def _app(database_url: str, data_dir: Path, **overrides: Any) -> Iterator[Service]:
    settings = Settings(data_dir=data_dir, database_url=database_url,
                        key_passphrase=SecretStr(TEST_PASSPHRASE), token_cache_seconds=0,
                        keyring_cache_seconds=0, **overrides)
    engine = make_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    slug = f"l-{secrets.token_hex(4)}"
    keyid, sign, read = make_tenant(store, settings, slug)
    try:
        with TestClient(create_app(settings, clock=overrides.pop("clock", None) or
                                   (lambda: datetime.now(UTC))),
                        raise_server_exceptions=False) as client:
            yield Service(client, settings, store, slug, keyid, sign, read)
    finally:
        engine.dispose()


def test_stolen_key_outside_the_service(database_url: str, tmp_path: Path) -> None:
    """A thief with the tenant's private key seals outside the service and backdates the
    seal before the key's compromise: without the log it verifies; requiring the log, it
    fails with sceau.log.missing.  The service's own seals, logged after the compromise,
    fail by the log's time."""
    with _app(database_url, tmp_path / "data", verify_require_log=True) as svc:
        c = svc.client
        logged = c.post(SEALS, json=_item(), headers=svc.auth()).json()
        stolen = custody_for(svc.settings).signer(svc.keyid)
        claim = build_claim(sha256=bytes(32), size=1, media_type="image/png",
                            tenant=svc.tenant, keyid=svc.keyid,
                            created=datetime.now(UTC) - timedelta(days=30))
        forged = seal_claim(claim, stolen).to_json()
        compromised = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        with svc.store.engine.begin() as conn:
            conn.execute(update(signing_keys).where(signing_keys.c.keyid == svc.keyid)
                         .values(compromised_since=compromised,
                                 not_before=compromised - timedelta(days=60)))
        ring, keys = _ring(c), _log_keys(c)
        offline = verify_seal(canonicalize(forged), ring, now=datetime.now(UTC))
        assert offline.ok  # the v1 gap: the signer's time is before the compromise
        verdict = c.post("/v1/verify", json={"seal": forged}).json()
        assert not verdict["ok"]
        assert verdict["status_codes"][:2] == [Status.SIGNATURE_VALIDATED, Status.LOG_MISSING]
        assert "not in the transparency log" in verdict["summary"]
        # The logged seal was logged after the compromise time: revoked at the log's time.
        mine = verify_seal(canonicalize(logged["seal"]), ring, now=datetime.now(UTC),
                           log_keys=keys, require_log=True)
        assert Status.CREDENTIAL_REVOKED in mine.status_codes


def test_checkpoint_times_never_go_back(isolated_database_url: str, tmp_path: Path) -> None:
    times = iter([datetime(2026, 5, 1, 12, 0, tzinfo=UTC), datetime(2026, 5, 1, 11, 0,
                                                                   tzinfo=UTC)])
    clock_now = [datetime(2026, 5, 1, 12, 0, tzinfo=UTC)]

    def clock() -> datetime:
        return clock_now[0]

    with _app(isolated_database_url, tmp_path / "data", clock=clock) as svc:
        c = svc.client
        keys = _log_keys(c)
        stamps = []
        for when in times:
            clock_now[0] = when
            out = c.post(SEALS, json=_item(), headers=svc.auth()).json()
            stamps.append(open_checkpoint(out["seal"]["log"]["checkpoint"], keys).timestamp)
        assert stamps[1] == stamps[0]  # the replica whose clock is behind does not go back


def test_log_key_rotation(isolated_database_url: str, tmp_path: Path) -> None:
    with _app(isolated_database_url, tmp_path / "data") as svc:
        c = svc.client
        before = c.post(SEALS, json=_item(), headers=svc.auth()).json()
        origin = c.get("/v1/log/key").json()["origin"]
        create_log_key(svc.store, custody_for(svc.settings))
        after = c.post(SEALS, json=_item(), headers=svc.auth()).json()
        doc = c.get("/v1/log/key").json()
        assert doc["origin"] == origin
        assert [k["status"] for k in doc["keys"]] == ["active", "retired"]
        keys = _log_keys(c)
        new, old = (LogKey.from_vkey(k["vkey"]) for k in doc["keys"])
        assert open_checkpoint(after["seal"]["log"]["checkpoint"], [new]).checkpoint.size == 2
        for out in (before, after):
            assert verify_seal(canonicalize(out["seal"]), _ring(c), now=datetime.now(UTC),
                               log_keys=keys, require_log=True).ok
        # The latest checkpoint is the new key's; the old key alone no longer opens it.
        with pytest.raises(Exception, match="known key"):
            open_checkpoint(c.get("/v1/log/checkpoint").text, [old])
        with pytest.raises(Exception, match="never changes"):
            create_log_key(svc.store, custody_for(svc.settings), "another.example/log")


def test_logging_off_and_no_log(isolated_database_url: str, tmp_path: Path) -> None:
    with _app(isolated_database_url, tmp_path / "data", log=False) as svc:
        c = svc.client
        out = c.post(SEALS, json=_item(), headers=svc.auth()).json()
        assert "log" not in out["seal"]
        assert c.get("/v1/log/checkpoint").status_code == 200  # the log exists, unchanged
        size = open_checkpoint(c.get("/v1/log/checkpoint").text, _log_keys(c)).checkpoint.size
        assert size == 0
        # No log at all (a database where no log key was ever created).
        with svc.store.engine.begin() as conn:
            conn.execute(log_state.delete())
    settings = Settings(data_dir=tmp_path / "data", database_url=isolated_database_url,
                        key_passphrase=SecretStr(TEST_PASSPHRASE), token_cache_seconds=0)
    with TestClient(create_app(settings)) as client:
        for path in ("/v1/log/checkpoint", "/v1/log/key", "/v1/log/proof?index=0",
                     "/v1/log/consistency?first=0", "/v1/log/entries?start=0&end=1"):
            r = client.get(path)
            assert r.status_code == 404 and r.json()["code"] == "not_found", path
        r = client.post(SEALS, json=_item(), headers=svc.auth())
        assert r.status_code == 503 and r.json()["code"] == "unavailable"
        verdict = client.post("/v1/verify", json={"seal": out["seal"]}).json()
        assert verdict["ok"] and verdict["log"] is None  # no log keys: v1 behaviour


def test_concurrent_requests_share_batches(isolated_database_url: str, tmp_path: Path) -> None:
    """Concurrent sign requests are grouped; every proof verifies against the final tree."""
    with _app(isolated_database_url, tmp_path / "data") as svc:
        async def burst() -> list[dict[str, Any]]:
            transport = httpx.ASGITransport(app=svc.client.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
                rs = await asyncio.gather(*(ac.post(SEALS, json=_item(), headers=svc.auth())
                                            for _ in range(60)))
            return [r.json() for r in rs]

        outs = svc.client.portal.call(burst)  # type: ignore[union-attr]
        c = svc.client
        keys = _log_keys(c)
        latest = open_checkpoint(c.get("/v1/log/checkpoint").text, keys).checkpoint
        assert latest.size == 60
        checkpoints = {o["seal"]["log"]["checkpoint"] for o in outs}
        assert len(checkpoints) < 60  # grouped
        assert sorted(o["seal"]["log"]["index"] for o in outs) == list(range(60))
        for text in checkpoints:
            cp = open_checkpoint(text, keys).checkpoint
            proof = c.get("/v1/log/consistency",
                          params={"first": cp.size, "second": latest.size}).json()["proof"]
            verify_consistency(cp.size, latest.size, [b64url_decode(h) for h in proof],
                               cp.root, latest.root)
        # O(log n) storage: every perfect subtree of the 60 leaves is stored, no more.
        with svc.store.engine.connect() as conn:
            nodes = conn.execute(select(log_nodes.c.level, log_nodes.c.idx)).all()
        assert len(nodes) == 60 + 30 + 15 + 7 + 3 + 1  # the leaves, then each level


# -- hostile queries ----------------------------------------------------------------------

HEX = "a" * 64
HOSTILE: list[tuple[str, int, str]] = [
    ("/v1/log/proof", 422, "validation_error"),
    ("/v1/log/proof?index=-1", 422, "validation_error"),
    ("/v1/log/proof?index=x", 422, "validation_error"),
    ("/v1/log/proof?index=1.0", 422, "validation_error"),
    ("/v1/log/proof?index=1e3", 422, "validation_error"),
    ("/v1/log/proof?index=%2B1", 422, "validation_error"),
    ("/v1/log/proof?index=01", 422, "validation_error"),
    ("/v1/log/proof?index=%201", 422, "validation_error"),
    ("/v1/log/entries?start=0&end=1.0", 422, "validation_error"),
    ("/v1/log/proof?index=9007199254740992", 422, "validation_error"),
    ("/v1/log/proof?index=" + "9" * 400, 422, "validation_error"),
    ("/v1/log/proof?index=9007199254740991", 422, "validation_error"),
    ("/v1/log/proof?index=0&seal_id=" + HEX, 422, "validation_error"),
    ("/v1/log/proof?leaf_hash=" + HEX.upper(), 422, "validation_error"),
    ("/v1/log/proof?leaf_hash=" + HEX[:-1], 422, "validation_error"),
    ("/v1/log/proof?seal_id=" + HEX + "%0a", 422, "validation_error"),
    ("/v1/log/proof?seal_id=%00", 422, "validation_error"),
    ("/v1/log/proof?seal_id=" + HEX, 404, "not_found"),
    ("/v1/log/proof?leaf_hash=" + HEX, 404, "not_found"),
    ("/v1/log/proof?index=0&tree_size=0", 422, "validation_error"),
    ("/v1/log/proof?index=0&tree_size=9007199254740991", 422, "validation_error"),
    ("/v1/log/proof?index=0&tree_size=9007199254740992", 422, "validation_error"),
    ("/v1/log/consistency", 422, "validation_error"),
    ("/v1/log/consistency?first=-1", 422, "validation_error"),
    ("/v1/log/consistency?first=2&second=1", 422, "validation_error"),
    ("/v1/log/consistency?first=0&second=9007199254740991", 422, "validation_error"),
    ("/v1/log/consistency?first=9007199254740991", 422, "validation_error"),
    ("/v1/log/entries", 422, "validation_error"),
    ("/v1/log/entries?start=0", 422, "validation_error"),
    ("/v1/log/entries?start=1&end=1", 422, "validation_error"),
    ("/v1/log/entries?start=2&end=1", 422, "validation_error"),
    ("/v1/log/entries?start=0&end=1001", 422, "validation_error"),
    ("/v1/log/entries?start=9007199254740990&end=9007199254740991", 422, "validation_error"),
    ("/v1/log/entries?start=-5&end=1", 422, "validation_error"),
    ("/v1/log/nope", 404, "not_found"),
    ("/v1/log", 404, "not_found"),
]


def test_hostile_log_queries(service: Service) -> None:
    service.client.post(SEALS, json=_item(), headers=service.auth())
    for path, status, code in HOSTILE:
        assert_error(service.client.get(path), status, code)
    for method in ("POST", "PUT", "DELETE"):
        for path in ("/v1/log/checkpoint", "/v1/log/key", "/v1/log/proof"):
            r = service.client.request(method, path, content=b"{}",
                                       headers={"content-type": "application/json"})
            assert_error(r, 405, "method_not_allowed")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["proof", "consistency", "entries"]),
       st.dictionaries(st.sampled_from(["index", "leaf_hash", "seal_id", "tree_size", "first",
                                        "second", "start", "end"]),
                       st.one_of(st.integers(-2**60, 2**60).map(str),
                                 st.text(max_size=70), st.just(HEX)), max_size=4))
def test_fuzz_log_queries(service: Service, route: str, params: dict[str, str]) -> None:
    r = service.client.get(f"/v1/log/{route}", params=params)
    assert r.status_code in (200, 404, 422), r.text
    if r.status_code != 200:
        assert_error(r, r.status_code, "not_found" if r.status_code == 404
                     else "validation_error")


def test_envelope_bytes_with_log_are_canonical(service: Service) -> None:
    out = service.client.post(SEALS, json=_item(), headers=service.auth())
    raw = service.client.get(f"/v1/seals/{out.json()['seal_id']}").content
    assert parse_envelope(raw).to_bytes() == raw
    assert hashlib.sha256(parse_envelope(raw).payload).hexdigest() == out.json()["seal_id"]


def test_operator_command_creates_then_rotates_the_log_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sceau_service.cli import main

    monkeypatch.setenv("SCEAU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCEAU_KEY_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.setenv("SCEAU_DATABASE_URL", f"sqlite:///{tmp_path / 'sceau.db'}")
    assert main(["create-log-key", "--origin", "log.example.org"]) == 0
    first = LogKey.from_vkey(capsys.readouterr().out.strip())
    assert first.name == "log.example.org"
    assert main(["create-log-key"]) == 0
    second = LogKey.from_vkey(capsys.readouterr().out.strip())
    assert second.name == first.name and second.public_key != first.public_key
    assert main(["create-log-key", "--origin", "other.example"]) == 2
    assert "never changes" in capsys.readouterr().err
    assert main(["create-log-key", "--origin", "bad origin"]) == 2
    assert "validation_error" in capsys.readouterr().err
