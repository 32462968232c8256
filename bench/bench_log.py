"""The transparency log: appends per second, sealing with the log on vs off, proof checks.

    python -m bench.bench_log               # 3 runs per measurement, 10 s wrk runs
    python -m bench.bench_log --quick       # 3 runs, fewer entries, 3 s wrk runs
    python -m bench.bench_log --no-postgres --parts appends,verify

Three parts, each a median of several runs, interleaved so machine noise hits all alike:

1. **Appends** (``sceau_service.tlog.TransparencyLog.append_seals``, in this process, wall
   clock): one transaction per batch that stores the seals, appends their leaves and the
   completed subtree nodes, computes every seal's inclusion proof, signs one checkpoint
   (two Ed25519 signatures) and writes each envelope's ``log`` member.  Baseline: the
   same seals stored without the log (``Store.insert_seals``, what the service did
   before).  Batch sizes 1, 64, 512 and 2048 (the group-commit writer's maximum), on
   SQLite and on PostgreSQL when reachable.  Seals are signed before the clock starts.
2. **Service** ``POST /v1/seals`` with wrk (``bench/lua/seal.lua``, the same load as
   ``bench_service``): ``sceau-service dev`` with ``SCEAU_LOG=true`` (the default) and
   with ``SCEAU_LOG=false``, SQLite and PostgreSQL.  Target: logging on >= 70% of off.
   Then ``POST /v1/seals/batch`` of 1000 items on 4 connections, on and off.
3. **Verification** in-process (CPU time): an inclusion proof in a tree of ~1M entries,
   a consistency proof, opening a checkpoint (two Ed25519 verifies), a seal's whole
   ``log`` member, and ``verify_seal`` with and without the log, beside a raw Ed25519
   verify.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _server
from bench._common import median, print_table, verdict, write_result
from bench.bench_core import measure, service_claim
from sceau import KeyRing, KeyStatus, LocalSigner, seal_claim, seal_id, verify_seal
from sceau.checkpoint import Checkpoint, LogSigner, open_checkpoint, sign_checkpoint
from sceau.logproof import LogProof, attach_log, check_log, seal_leaf_hash
from sceau.merkle import (
    Frontier,
    MemorySource,
    NodeID,
    consistency_proof_ids,
    inclusion_proof_ids,
    verify_consistency,
    verify_inclusion,
)

NAME = "bench_log"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_APPENDS = 5000.0
TARGET_ON_VS_OFF = 0.70
BATCHES = (1, 64, 512, 2048)
TENANT = "newsroom"  # bench_core.service_claim's tenant


# -- 1. appends ---------------------------------------------------------------------------


def _rows(store: Any, count: int) -> list[Any]:
    """``count`` signed seals of a fresh tenant, as the writer receives them."""
    from sceau_service.admin import ensure_tenant
    from sceau_service.store import SealRow

    tenant = ensure_tenant(store, f"{TENANT}-{secrets.token_hex(3)}")
    signer = LocalSigner.generate()
    store.add_key(tenant.id, signer.keyid, signer.public_key, KeyStatus.ACTIVE, "file",
                  datetime.now(UTC))
    now = datetime.now(UTC).replace(microsecond=0)
    claim = service_claim(signer)
    claim["signer"]["tenant"] = tenant.slug
    rows = []
    for _ in range(count):
        claim["instanceID"] = f"xmp:iid:{_uuid()}"
        envelope = seal_claim(claim, signer)
        rows.append(SealRow(seal_id(envelope), tenant.id, signer.keyid, "ab" * 32, 3_145_728,
                            "image/jpeg", now, envelope.to_bytes()))
    return rows


def _uuid() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"


@contextmanager
def _database(backend: str, workdir: Path, pg_url: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'log-bench.db'}"
        return
    with _server.postgres_database(pg_url) as url:
        yield url


def bench_appends(backend: str, url: str, workdir: Path, runs: int,
                  entries: int) -> dict[str, Any]:
    """Entries per second appended with the log, and stored without it, per batch size."""
    from sceau_keys import EncryptedFileCustody
    from sceau_service.db import make_engine
    from sceau_service.migrate import upgrade
    from sceau_service.store import Store
    from sceau_service.tlog import TransparencyLog

    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    custody = EncryptedFileCustody(workdir / f"keys-{backend}", _server.BENCH_PASSPHRASE.encode())
    log = TransparencyLog(store, custody, lambda: datetime.now(UTC))
    log.ensure_key("bench.invalid/log")
    samples: dict[str, list[float]] = {}
    try:
        for _ in range(runs):
            for batch in BATCHES:
                count = min(entries, 400) if batch == 1 else entries
                for mode in ("log", "no log"):
                    rows = _rows(store, count)
                    commit: Callable[[Any], object] = (
                        log.append_seals if mode == "log" else store.insert_seals)
                    start = time.perf_counter()
                    for i in range(0, count, batch):
                        commit(rows[i:i + batch])
                    elapsed = time.perf_counter() - start
                    samples.setdefault(f"{batch}|{mode}", []).append(count / elapsed)
        state = log.state()
        size = state.size if state else 0
    finally:
        engine.dispose()
    out: dict[str, Any] = {"log_size_after": size, "rates": {}}
    for key, rates in samples.items():
        out["rates"][key] = {"entries_per_s": median(rates), "samples": rates}
    return out


# -- 2. the service, log on vs off -----------------------------------------------------------


def bench_service(runs: int, duration: float, warmup: float, connections: int,
                  pg_url: str | None, workdir: Path,
                  batch_items: int = 0) -> dict[str, Any]:
    """``POST /v1/seals`` req/s with the log on and off (wrk, as bench_service does); with
    ``batch_items``, also ``POST /v1/seals/batch`` of that many items on 4 connections."""
    from bench.bench_service import summarise, wrk_once

    servers: dict[str, _server.Server] = {}
    with ExitStack() as stack:
        try:
            # One database per server: SQLite files in their data dirs, and two fresh
            # PostgreSQL databases (log on, log off) when the server is reachable.
            urls: dict[str, str | None] = {"SQLite, log on": None, "SQLite, log off": None}
            if pg_url is not None:
                for mode in ("log on", "log off"):
                    url = stack.enter_context(_server.postgres_database(pg_url))
                    if url is not None:
                        urls[f"PostgreSQL, {mode}"] = url
            for name, url in urls.items():
                wd = workdir / name.replace(", ", "-").replace(" ", "_")
                wd.mkdir()
                flag = "true" if name.endswith("log on") else "false"
                servers[name] = _server.start_service(wd, url, {"SCEAU_LOG": flag})
            load = {"connections": connections, "threads": 1}
            for srv in servers.values():
                wrk_once(srv.url, srv.token, seconds=warmup, **load)
            results: dict[str, list[dict[str, Any]]] = {}
            for run in range(runs):
                for name, srv in servers.items():
                    res = wrk_once(srv.url, srv.token, seconds=duration, server=srv, **load)
                    results.setdefault(name, []).append(res)
                    print(f"service run {run + 1}/{runs} {name}: {res['req_per_s']:,.0f} "
                          f"req/s, p99 {res['p99_ms']:.1f} ms, non-2xx {res['non_2xx']}",
                          flush=True)
            if batch_items:
                bload = {"connections": 4, "threads": 1, "items": batch_items}
                for srv in servers.values():
                    wrk_once(srv.url, srv.token, seconds=warmup, **bload)
                for run in range(runs):
                    for name, srv in servers.items():
                        res = wrk_once(srv.url, srv.token, seconds=duration, server=srv,
                                       **bload)
                        results.setdefault(f"batch {name}", []).append(res)
                        print(f"batch run {run + 1}/{runs} {name}: "
                              f"{res['seals_per_s']:,.0f} seals/s, non-2xx "
                              f"{res['non_2xx']}", flush=True)
        finally:
            for srv in servers.values():
                _server.stop(srv)
    return {name: summarise(r) for name, r in results.items()}


# -- 3. verification -----------------------------------------------------------------------


class _SparseSource:
    """Hashes for any node on demand (pseudo-random, stable): proofs in a ~1M-entry tree
    without building it.  Verification cost does not depend on where hashes come from."""

    def __init__(self) -> None:
        self.cache: dict[NodeID, bytes] = {}

    def node_hashes(self, ids: list[NodeID]) -> list[bytes]:
        return [self.cache.setdefault(i, hashlib.sha256(b"%d/%d" % (i.level, i.index))
                                      .digest()) for i in ids]


def bench_verify(repeats: int, min_time: float) -> dict[str, Any]:
    """In-process verification costs (CPU time)."""
    tenant = LocalSigner.from_seed(hashlib.sha256(b"bench log tenant").digest())
    ring = KeyRing([tenant.record(TENANT)])
    log_key = LocalSigner.from_seed(hashlib.sha256(b"bench log key").digest())
    signer = LogSigner("bench.invalid/log", log_key.public_key, log_key.sign)
    envelope = seal_claim(service_claim(tenant), tenant)
    sid = seal_id(envelope)
    # A seal at index 1,000,003 of a log of 1,048,700 entries: build only what the proof
    # needs (the perfect subtrees around the path), then the root from the proof itself.
    size, index = 1_048_700, 1_000_003
    source = _SparseSource()
    leaf = seal_leaf_hash(sid)
    source.cache[NodeID(0, index)] = leaf
    groups = inclusion_proof_ids(index, size)
    flat = [n for g in groups for n in g]
    hashes = source.node_hashes(flat)
    proof, at = [], 0
    for g in groups:
        part = hashes[at:at + len(g)]
        at += len(g)
        acc = part[-1]
        for h in reversed(part[:-1]):
            acc = hashlib.sha256(b"\x01" + h + acc).digest()
        proof.append(acc)
    from sceau.merkle import root_from_inclusion_proof

    root = root_from_inclusion_proof(index, size, leaf, proof)
    stamp = int(datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp())
    note = sign_checkpoint(Checkpoint(signer.name, size, root), signer, stamp)
    logged = attach_log(envelope.to_bytes(), LogProof(index, tuple(proof), note))
    now = datetime(2026, 1, 2, tzinfo=UTC)
    keys = [signer.key]
    member = LogProof(index, tuple(proof), note).to_json()
    verdict_ = verify_seal(logged, ring, now=now, log_keys=keys, require_log=True)
    assert verdict_.ok, verdict_.status_codes
    # A consistency proof between two large sizes, over a real (small) tree for validity.
    leaves = [hashlib.sha256(b"%d" % i).digest() for i in range(3000)]
    small = MemorySource.from_leaves(leaves)
    from sceau.merkle import consistency_proof, tree_root

    cproof = consistency_proof(1337, 3000, small)
    r1, r2 = tree_root(leaves[:1337]), tree_root(leaves)
    assert len(consistency_proof_ids(1_000_000, 1_048_700)) > 0
    public = log_key.record("x").verifier()
    message = note.encode()
    sig = log_key.sign(message)
    ops: dict[str, Callable[[], object]] = {
        f"verify_inclusion ({len(proof)} hashes, tree of {size:,})":
            lambda: verify_inclusion(index, size, leaf, proof, root),
        f"verify_consistency ({len(cproof)} hashes)":
            lambda: verify_consistency(1337, 3000, cproof, r1, r2),
        "open_checkpoint (parse + 2 Ed25519 verifies)": lambda: open_checkpoint(note, keys),
        "check_log (the whole 'log' member)": lambda: check_log(member, sid, keys),
        "verify_seal, no log keys": lambda: verify_seal(logged, ring, now=now),
        "verify_seal, log required": lambda: verify_seal(logged, ring, now=now,
                                                         log_keys=keys, require_log=True),
        "Ed25519 verify, key loaded (scale)": lambda: public.verify(sig, message),
    }
    res = measure(ops, repeats, min_time, "cpu")
    append_rows = [hashlib.sha256(b"a%d" % i).digest() for i in range(2048)]
    frontier = Frontier.empty().append(leaves).frontier
    ops2: dict[str, Callable[[], object]] = {
        "Frontier.append 2048 leaves + their proofs (per leaf)":
            lambda: frontier.append(append_rows, proofs=True),
    }
    res2 = measure(ops2, repeats, min_time, "cpu")
    for r in res2.values():
        r["us_per_op"] /= 2048
        r["ops_per_s"] *= 2048
    return {**res, **res2, "proof_hashes": len(proof)}


# -- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print tables; write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer entries, 3 s wrk runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--entries", type=int, default=None,
                        help="entries per append measurement (8192; quick 4096)")
    parser.add_argument("--duration", type=float, default=None, help="wrk seconds (10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-items", type=int, default=1000,
                        help="items per POST /v1/seals/batch in the service part (0: skip)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-service", action="store_true")
    parser.add_argument("--parts", default="appends,service,verify",
                        help="comma-separated subset of appends,service,verify")
    parser.add_argument("--postgres-url", default=os.environ.get("SCEAU_TEST_POSTGRES_URL",
                                                                 PG_DEFAULT))
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    if args.no_service:
        parts.discard("service")
    entries = args.entries or (4096 if args.quick else 8192)
    duration = args.duration or (3.0 if args.quick else 10.0)
    workdir = Path(tempfile.mkdtemp(prefix="sceau-bench-log-"))
    data: dict[str, Any] = {"settings": {"runs": args.runs, "entries": entries,
                                         "batches": list(BATCHES), "duration_s": duration,
                                         "connections": args.connections}}
    try:
        backends = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
        appends: dict[str, Any] = {}
        for backend in backends if "appends" in parts else []:
            with _database(backend, workdir, args.postgres_url) as url:
                if url is None:
                    continue
                print(f"appends on {backend} ...", flush=True)
                appends[backend] = bench_appends(backend, url, workdir, args.runs, entries)
        data["appends"] = appends
        rows = []
        for backend, res in appends.items():
            for batch in BATCHES:
                on = res["rates"][f"{batch}|log"]["entries_per_s"]
                off = res["rates"][f"{batch}|no log"]["entries_per_s"]
                rows.append([backend, batch, on, off, f"{on / off:.0%}"])
        print_table(f"Appends: entries/s in one transaction per batch (median of "
                    f"{args.runs}, wall clock, {entries:,} entries per run)",
                    ["store", "batch", "with log", "seals only", "log/no log"], rows)
        targets: dict[str, bool] = {}
        for backend, res in appends.items():
            best = res["rates"]["2048|log"]["entries_per_s"]
            targets[f"appends {backend}"] = best >= TARGET_APPENDS
            print(f"  {backend}: {best:,.0f} appends/s at batch 2048 (target >= "
                  f"{TARGET_APPENDS:,.0f}): {verdict(best >= TARGET_APPENDS)}")

        if "service" in parts:
            if shutil.which("wrk") is None:
                print("wrk is not installed: skipping the service part")
            else:
                print("service, log on vs off ...", flush=True)
                svc = bench_service(args.runs, duration, 1.0 if args.quick else 2.0,
                                    args.connections,
                                    None if args.no_postgres else args.postgres_url,
                                    workdir, args.batch_items)
                data["service"] = svc
                rows = []
                for backend in ("SQLite", "PostgreSQL"):
                    on, off = svc.get(f"{backend}, log on"), svc.get(f"{backend}, log off")
                    if on is None or off is None:
                        continue
                    ratio = on["req_per_s"] / off["req_per_s"]
                    targets[f"service {backend} log on/off"] = ratio >= TARGET_ON_VS_OFF
                    rows.append([backend, on["req_per_s"], on["p99_ms"], off["req_per_s"],
                                 off["p99_ms"], f"{ratio:.0%}",
                                 on["non_2xx"] + off["non_2xx"]])
                print_table(f"POST /v1/seals, {args.connections} connections, median of "
                            f"{args.runs} x {duration:g} s (wrk)",
                            ["store", "log on req/s", "p99 ms", "log off req/s", "p99 ms",
                             "on/off", "non-2xx"], rows)
                rows = []
                for backend in ("SQLite", "PostgreSQL"):
                    on = svc.get(f"batch {backend}, log on")
                    off = svc.get(f"batch {backend}, log off")
                    if on is None or off is None:
                        continue
                    rows.append([backend, on["seals_per_s"], on["p99_ms"],
                                 off["seals_per_s"], off["p99_ms"],
                                 f"{on['seals_per_s'] / off['seals_per_s']:.0%}",
                                 on["non_2xx"] + off["non_2xx"]])
                if rows:
                    print_table(f"POST /v1/seals/batch, {args.batch_items} items, 4 "
                                f"connections, median of {args.runs} x {duration:g} s",
                                ["store", "log on seals/s", "p99 ms", "log off seals/s",
                                 "p99 ms", "on/off", "non-2xx"], rows)
                for name, ok in targets.items():
                    if name.startswith("service"):
                        print(f"  {name}: target >= {TARGET_ON_VS_OFF:.0%}: {verdict(ok)}")

        if "verify" in parts:
            print("verification ...", flush=True)
            ver = bench_verify(5 if args.quick else 7, 0.1 if args.quick else 0.3)
            data["verify"] = ver
            rows = [[name, r["us_per_op"], r["ops_per_s"]] for name, r in ver.items()
                    if isinstance(r, dict)]
            print_table("Verification, in-process (median, CPU time)",
                        ["operation", "µs/op", "ops/s"], rows)
        data["targets_met"] = targets
        data["targets"] = {"appends_per_s": TARGET_APPENDS, "log_on_vs_off": TARGET_ON_VS_OFF}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_result(NAME, data)
    return data


if __name__ == "__main__":
    main()
