"""The HTTP service under load: ``POST /v1/seals`` and ``POST /v1/seals/batch`` with wrk.

    python -m bench.bench_service               # 2 s warm-up, 3 runs of 10 s per load
    python -m bench.bench_service --quick       # 1 s warm-up, 3 runs of 3 s
    python -m bench.bench_service --no-postgres

A real ``sceau-service`` process (one uvicorn worker, as ``sceau-service dev`` starts it)
runs on a random loopback port with a fresh data dir: SQLite, and a second row on
PostgreSQL when it is reachable (a fresh database ``sceau_bench_<random>``, dropped
afterwards).  wrk (``bench/lua/seal.lua``) POSTs a JSON body with a fresh random-looking
SHA-256 per seal and the bearer token; every answer waits for the store commit.  Answers
outside 2xx are counted by status (wrk's "Non-2xx or 3xx responses"), and the first one's
body is shown.

Ceilings in the same run:

* single seals: a bare FastAPI + uvicorn app (``bench/bare_app.py``, same uvicorn
  settings) whose endpoint only signs a claim-sized message with Ed25519, loaded with the
  same wrk script, connections and duration;
* batches: the raw Ed25519 signing rate in this process (pyca/cryptography, one core).

The loads are interleaved (bare, SQLite, PostgreSQL, then again) so machine noise hits
all alike; the figures are medians of the runs.  wrk and the server share the machine's
cores: the table shows the CPU each used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import _server
from bench._common import calibrate, median, print_table, time_per_op, verdict, write_result
from sceau.envelope import CLAIM_PAYLOAD_TYPE, pae

NAME = "bench_service"
LUA = Path(__file__).resolve().parent / "lua" / "seal.lua"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_SINGLE_RPS = 2500.0
TARGET_SINGLE_P99_MS = 25.0
TARGET_BATCH_SEALS = 15000.0
WRK_MISSING = ("wrk is not installed: the service benchmark needs it.\n"
               "  Debian/Ubuntu: apt-get update && apt-get install -y wrk\n"
               "  (https://github.com/wg/wrk); then rerun python -m bench.bench_service")


def wrk_once(url: str, token: str, *, connections: int, seconds: float, threads: int,
             items: int = 0, server: _server.Server | None = None) -> dict[str, Any]:
    """One wrk run; returns its figures, the server's and wrk's CPU use."""
    if server is not None:
        # A measured run starts once the previous one's background work is over (the
        # SQLite server checkpoints a quarter-second after its last commit) and its dirty
        # pages are on disk: another server's database writes would otherwise be flushed
        # during this run, and PostgreSQL's commit fsyncs would wait behind them.
        time.sleep(1.0)
        os.sync()
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
           "--timeout", "30s", "-s", str(LUA), url, "--", token, str(items)]
    cpu0 = server.cpu_seconds() if server else 0.0
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, check=False, capture_output=True, encoding="utf-8",
                          errors="replace")
    wall = time.monotonic() - start
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1 = server.cpu_seconds() if server else 0.0
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"no WRKJSON line in wrk output:\n{proc.stdout}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", proc.stdout)
    secs = raw["duration_us"] / 1e6
    errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return {
        "requests": raw["requests"],
        "seconds": secs,
        "req_per_s": raw["requests"] / secs,
        "seals_per_s": raw["requests"] * max(items, 1) / secs,
        "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "non_2xx_by_status": raw["non_2xx_by_status"],
        "first_non_2xx": raw["first_non_2xx"],
        "socket_errors": errors,
        "server_cpu_pct": 100 * (cpu1 - cpu0) / wall if server else None,
        "wrk_cpu_pct": 100 * ((children1.ru_utime - children0.ru_utime)
                              + (children1.ru_stime - children0.ru_stime)) / wall,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs (totals for error counts)."""
    keys = ("req_per_s", "seals_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms",
            "server_cpu_pct", "wrk_cpu_pct")
    out: dict[str, Any] = {k: median([r[k] for r in runs]) for k in keys
                           if all(r[k] is not None for r in runs)}
    out["non_2xx"] = sum(r["non_2xx"] for r in runs)
    by_status: dict[str, int] = {}
    for r in runs:
        for status, n in r["non_2xx_by_status"].items():
            by_status[status] = by_status.get(status, 0) + n
    out["non_2xx_by_status"] = by_status
    out["first_non_2xx"] = next((r["first_non_2xx"] for r in runs if r["first_non_2xx"]), "")
    out["socket_errors"] = sum(r["socket_errors"] for r in runs)
    out["requests"] = sum(r["requests"] for r in runs)
    out["runs"] = runs
    return out


def raw_sign_rate(repeats: int) -> dict[str, Any]:
    """Ed25519 signatures per second in this process over a seal-sized PAE message."""
    key = Ed25519PrivateKey.generate()
    message = pae(CLAIM_PAYLOAD_TYPE, b"x" * 655)
    number = calibrate(lambda: key.sign(message), 0.3, "wall")
    samples = [time_per_op(lambda: key.sign(message), number, timer="wall")[0]
               for _ in range(repeats)]
    return {"signs_per_s": 1 / median(samples), "message_bytes": len(message),
            "samples_per_s": [1 / s for s in samples]}


def stored_seals(database_url: str) -> int:
    """How many seals the store holds (every 2xx answer waited for its commit)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM seals")).scalar_one())
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print tables; write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s warm-up, 3 s runs")
    parser.add_argument("--duration", type=float, default=None, help="seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds (2)")
    parser.add_argument("--runs", type=int, default=3, help="runs per load (3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--loads", default="single,batch",
                        help="which loads to run: single, batch or both (default)")
    parser.add_argument("--postgres-url", default=os.environ.get("SCEAU_TEST_POSTGRES_URL",
                                                                 PG_DEFAULT))
    args = parser.parse_args(argv)
    loads = {x.strip() for x in args.loads.split(",") if x.strip()}
    if not loads or loads - {"single", "batch"}:
        parser.error("--loads takes single, batch or single,batch")
    duration = args.duration or (3.0 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)

    if shutil.which("wrk") is None:
        print(WRK_MISSING)
        data = {"skipped": "wrk not installed"}
        write_result(NAME, data)
        return data

    sign = raw_sign_rate(5)
    print(f"raw Ed25519 sign in-process: {sign['signs_per_s']:,.0f}/s", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="sceau-bench-service-"))
    servers: dict[str, _server.Server] = {}
    db_urls: dict[str, str] = {}
    single: dict[str, list[dict[str, Any]]] = {}
    batch: dict[str, list[dict[str, Any]]] = {}
    pg_ctx = _server.postgres_database(args.postgres_url) if not args.no_postgres else None
    try:
        pg_url = pg_ctx.__enter__() if pg_ctx else None
        if "single" in loads:
            servers["bare FastAPI + Ed25519 sign (ceiling)"] = _server.start_bare(workdir)
        (workdir / "sqlite").mkdir()
        servers["sceau-service, SQLite"] = _server.start_service(workdir / "sqlite")
        db_urls["sceau-service, SQLite"] = (
            f"sqlite:///{workdir / 'sqlite' / 'data' / 'sceau.db'}")
        if pg_url:
            (workdir / "pg").mkdir()
            servers["sceau-service, PostgreSQL"] = _server.start_service(workdir / "pg", pg_url)
            db_urls["sceau-service, PostgreSQL"] = pg_url
        load = {"connections": args.connections, "threads": args.threads}
        for name, srv in servers.items() if "single" in loads else ():
            print(f"warm-up {warmup:g} s: {name}", flush=True)
            wrk_once(srv.url, srv.token, seconds=warmup, **load)
        for run in range(args.runs if "single" in loads else 0):
            for name, srv in servers.items():
                res = wrk_once(srv.url, srv.token, seconds=duration, server=srv, **load)
                single.setdefault(name, []).append(res)
                print(f"single run {run + 1}/{args.runs} {name}: {res['req_per_s']:,.0f} req/s"
                      f" p99 {res['p99_ms']:.1f} ms, non-2xx {res['non_2xx']}", flush=True)
        if "batch" in loads:
            bload = {"connections": args.batch_connections, "threads": args.threads,
                     "items": args.batch_size}
            services = {n: s for n, s in servers.items() if n.startswith("sceau-service")}
            for name, srv in services.items():
                print(f"batch warm-up {warmup:g} s: {name}", flush=True)
                wrk_once(srv.url, srv.token, seconds=max(warmup, 2.0), **bload)
            for run in range(args.runs):
                for name, srv in services.items():
                    res = wrk_once(srv.url, srv.token, seconds=duration, server=srv, **bload)
                    batch.setdefault(name, []).append(res)
                    print(f"batch run {run + 1}/{args.runs} {name}: "
                          f"{res['seals_per_s']:,.0f} seals/s, non-2xx {res['non_2xx']}",
                          flush=True)
        stored = {name: stored_seals(url) for name, url in db_urls.items()}
    finally:
        for srv in servers.values():
            _server.stop(srv)
        if pg_ctx:
            pg_ctx.__exit__(None, None, None)
        shutil.rmtree(workdir, ignore_errors=True)

    single_s = {name: summarise(runs) for name, runs in single.items()}
    batch_s = {name: summarise(runs) for name, runs in batch.items()}
    bare_name = next(iter(single_s), "")
    bare_rps = single_s[bare_name]["req_per_s"] if single_s else float("nan")
    rows = []
    for name, s in single_s.items():
        rows.append([name, s["req_per_s"], s["p50_ms"], s["p99_ms"], s["non_2xx"],
                     s["socket_errors"], f"{s['req_per_s'] / bare_rps:.0%}",
                     f"{s['server_cpu_pct']:.0f}%", f"{s['wrk_cpu_pct']:.0f}%"])
    if rows:
        print_table(f"POST /v1/seals, {args.connections} connections, wrk -t{args.threads}, "
                    f"median of {args.runs} x {duration:g} s",
                    ["server", "req/s", "p50 ms", "p99 ms", "non-2xx", "sock err",
                     "vs bare", "server CPU", "wrk CPU"], rows)
    targets: dict[str, Any] = {}
    for name, s in single_s.items():
        if name == bare_name:
            continue
        ok = s["req_per_s"] >= TARGET_SINGLE_RPS and s["p99_ms"] < TARGET_SINGLE_P99_MS
        targets[f"single {name}"] = ok
        print(f"  {name}: {s['req_per_s']:,.0f} req/s (target >= {TARGET_SINGLE_RPS:,.0f}), "
              f"p99 {s['p99_ms']:.1f} ms (target < {TARGET_SINGLE_P99_MS:g}): {verdict(ok)}")
    if batch_s:
        rows = [[name, s["seals_per_s"], s["req_per_s"], s["p50_ms"], s["p99_ms"],
                 s["non_2xx"], f"{s['seals_per_s'] / sign['signs_per_s']:.0%}",
                 f"{s['server_cpu_pct']:.0f}%"] for name, s in batch_s.items()]
        rows.append(["raw Ed25519 sign, in-process (ceiling)", sign["signs_per_s"], "-", "-",
                     "-", "-", "100%", "-"])
        print_table(f"POST /v1/seals/batch, {args.batch_size} items, {args.batch_connections} "
                    f"connections, median of {args.runs} x {duration:g} s",
                    ["server", "seals/s", "req/s", "p50 ms", "p99 ms", "non-2xx",
                     "vs raw sign", "server CPU"], rows)
        for name, s in batch_s.items():
            ok = s["seals_per_s"] >= TARGET_BATCH_SEALS
            targets[f"batch {name}"] = ok
            print(f"  {name}: {s['seals_per_s']:,.0f} seals/s "
                  f"(target >= {TARGET_BATCH_SEALS:,.0f}): {verdict(ok)}")
    for name, s in [*single_s.items(), *[(f"{n} (batch)", b) for n, b in batch_s.items()]]:
        if s["non_2xx"] or s["socket_errors"]:
            print(f"  !! {name}: non-2xx by status {s['non_2xx_by_status']}, socket errors "
                  f"{s['socket_errors']}; first error answer: {s['first_non_2xx'][:200]!r}")
    for name, count in stored.items():
        print(f"  {name}: {count:,} seals in the store after the runs")
    print("  note: wrk and the server share this machine's "
          f"{os.cpu_count()} cores; the server is one uvicorn worker (one core for Python).")
    data = {
        "settings": {"duration_s": duration, "warmup_s": warmup, "runs": args.runs,
                     "connections": args.connections, "wrk_threads": args.threads,
                     "batch_connections": args.batch_connections,
                     "batch_size": args.batch_size},
        "raw_sign": sign,
        "single": single_s,
        "batch": batch_s,
        "service_vs_bare": {n: s["req_per_s"] / bare_rps for n, s in single_s.items()},
        "batch_vs_raw_sign": {n: s["seals_per_s"] / sign["signs_per_s"]
                              for n, s in batch_s.items()},
        "stored_seals": stored,
        "targets": {"single_req_per_s": TARGET_SINGLE_RPS,
                    "single_p99_ms": TARGET_SINGLE_P99_MS,
                    "batch_seals_per_s": TARGET_BATCH_SEALS},
        "targets_met": targets,
    }
    write_result(NAME, data)
    return data


if __name__ == "__main__":
    main()
