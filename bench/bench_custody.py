"""Key custody: Ed25519 signing on a SoftHSM2 token vs file keys, raw and on the batch path.

    python -m bench.bench_custody            # 5 runs of 16 batch requests
    python -m bench.bench_custody --quick    # 3 runs of 8

A private SoftHSM2 (its own softhsm2.conf and tokens in a temporary directory, made with
``softhsm2-util``; module from SCEAU_PKCS11_MODULE or Debian's default path).  Two parts:

1. **Signing in this process** (wall clock, seal-sized PAE messages): raw python-pkcs11
   ``C_Sign`` with CKM_EDDSA on one session (the ceiling: what SoftHSM alone does),
   ``Pkcs11Signer.sign`` (the custody: module lock, cached key handle) from one thread and
   from 4, the same beside a CPU-bound Python thread (at the default GIL switch interval
   and at 0.2 ms: the GIL hand-off after each ``C_Sign``), ``Pkcs11Signer.sign_many`` on
   batches of ``--batch-size`` messages (split over the custody's signing processes), and
   a file key's ``LocalSigner.sign`` and ``sign_many`` (OpenSSL in-process).
2. **The batch path**: two real ``sceau-service dev`` processes on SQLite, one with the
   file custody and one with ``SCEAU_CUSTODY=pkcs11`` on its own token, loaded alike with
   ``POST /v1/seals/batch`` (1,000 items per request as ``bench/lua/seal.lua`` makes them,
   4 connections, a fixed number of requests timed as a whole).  Every seal is signed by
   the service's custody, stored and logged as in production.

Runs are interleaved (raw, custody, file, file server, HSM server) so that noise from
other work on the machine hits all alike; figures are medians.  Each rate is given per
second of wall time and per second of CPU time (this process's and its children's for
part 1, which includes SoftHSM2's work and the signing processes'; the server process's and
its children's for part 2), the latter immune to time that other work on a shared machine
takes.  Target: the batch path with SoftHSM >= 80% of raw
SoftHSM signing measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import _server
from bench._common import median, print_table, verdict, write_result
from sceau import LocalSigner
from sceau.envelope import CLAIM_PAYLOAD_TYPE, pae

NAME = "bench_custody"
TARGET_RATIO = 0.80
PIN = "bench-user-pin-1234"
SO_PIN = "bench-so-pin-5678"
_TOKENS = ("bench-raw", "bench-service")


def _softhsm(workdir: Path) -> tuple[str, dict[str, str]] | None:
    """Initialise SoftHSM2 tokens in ``workdir``; returns (module, env) or None."""
    from sceau_keys.pkcs11 import DEFAULT_MODULE
    from sceau_keys.softhsm import init_softhsm2

    util = shutil.which("softhsm2-util")
    module = os.environ.get("SCEAU_PKCS11_MODULE", DEFAULT_MODULE)
    if util is None or not os.path.isfile(module):
        return None
    return module, init_softhsm2(workdir, _TOKENS, so_pin=SO_PIN, pin=PIN, util=util)


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in children.read_text().split()]
    return found


def tree_cpu_seconds(pid: int, exclude: frozenset[int] = frozenset()) -> float:
    """CPU seconds of process ``pid`` and its live descendants, but not those in
    ``exclude`` nor theirs (the custody's signing processes live as long as the custody,
    so none ends during a measurement)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        if p not in exclude:
            total += _proc_cpu(p)
            todo += _children(p)
    return total


#: Processes whose CPU time part 1 does not count: the servers of part 2 (children too).
_SERVER_PIDS: set[int] = set()


def _rate(fn: Callable[[], object], seconds: float, per_call: int = 1) -> tuple[float, float]:
    """Items per second of wall time and per second of CPU time of this process and its
    children but the servers (SoftHSM2 runs in this process or in the custody's signing
    processes, so its work is counted), over about ``seconds``; each call of ``fn``
    handles ``per_call`` items."""
    n = 0
    calls = max(1, 50 // per_call)
    me = os.getpid()
    start, cpu0 = time.perf_counter(), tree_cpu_seconds(me, frozenset(_SERVER_PIDS))
    deadline = start + seconds
    while True:
        for _ in range(calls):
            fn()
        n += calls * per_call
        now = time.perf_counter()
        if now >= deadline:
            cpu = tree_cpu_seconds(me, frozenset(_SERVER_PIDS)) - cpu0
            return n / (now - start), n / max(cpu, 1e-9)


def _threaded_rate(fn: Callable[[], object], threads: int,
                   seconds: float) -> tuple[float, float]:
    """As :func:`_rate`, with ``threads`` threads calling ``fn`` at once (total calls)."""
    counts = [0] * threads
    start, cpu0 = time.perf_counter(), time.process_time()
    deadline = start + seconds

    def work(i: int) -> None:
        while time.perf_counter() < deadline:
            for _ in range(20):
                fn()
            counts[i] += 20

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return sum(counts) / wall, sum(counts) / max(cpu, 1e-9)


def _beside_busy_thread(fn: Callable[[], object], switch_interval: float,
                        seconds: float) -> tuple[float, float]:
    """:func:`_rate` of ``fn`` while another thread runs pure Python, with the
    interpreter's GIL switch interval set to ``switch_interval`` meanwhile: how long a
    thread coming back from the token (GIL released in ``C_Sign``) waits for the GIL."""
    stop = threading.Event()

    def busy() -> None:
        x = 0
        while not stop.is_set():
            x += sum(range(100))

    before = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval)
    thread = threading.Thread(target=busy)
    thread.start()
    try:
        return _rate(fn, seconds)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(before)


def _batch_body(items: int) -> bytes:
    """A batch request body like ``bench/lua/seal.lua``'s: fresh random hashes."""
    one = [{"hash": secrets.token_hex(32), "size": 1 + secrets.randbelow(10**9),
            "media_type": "image/jpeg", "title": "photo.jpg"} for _ in range(items)]
    return json.dumps({"items": one}).encode()


def batch_run(srv: _server.Server, *, requests: int, connections: int,
              items: int) -> dict[str, Any]:
    """``requests`` batch requests of ``items`` seals over ``connections`` concurrent
    connections; the whole work is timed (a time-boxed wrk run counts only requests that
    complete inside the box, which at ~1 s per request is too coarse)."""
    bodies = [_batch_body(items) for _ in range(requests)]
    headers = {"Authorization": f"Bearer {srv.token}", "Content-Type": "application/json"}
    statuses: list[int] = []

    def worker(mine: list[bytes]) -> None:
        with httpx.Client(base_url=srv.url, headers=headers, timeout=300) as client:
            for body in mine:
                statuses.append(client.post("/v1/seals/batch", content=body).status_code)

    shares = [bodies[i::connections] for i in range(connections)]
    cpu0 = tree_cpu_seconds(srv.process.pid)
    start = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(worker, shares))
    wall = time.perf_counter() - start
    cpu = tree_cpu_seconds(srv.process.pid) - cpu0
    ok = sum(1 for st in statuses if st == 201)
    return {"seals_per_s": ok * items / wall, "seals_per_cpu_s": ok * items / max(cpu, 1e-9),
            "server_cpu_pct": 100 * cpu / wall, "seconds": wall,
            "non_2xx": len(statuses) - ok}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print tables; write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of 8 requests")
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (5)")
    parser.add_argument("--requests", type=int, default=None,
                        help="batch requests per run (16; --quick 8)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    requests = args.requests or (8 if args.quick else 16)
    sign_seconds = 1.0 if args.quick else 2.0

    workdir = Path(tempfile.mkdtemp(prefix="sceau-bench-custody-"))
    servers: dict[str, _server.Server] = {}
    try:
        hsm = _softhsm(workdir)
        if hsm is None:
            print("SoftHSM2 (softhsm2-util and its module) is not installed: "
                  "apt-get install softhsm2, or set SCEAU_PKCS11_MODULE")
            data: dict[str, Any] = {"skipped": "softhsm2 not installed"}
            write_result(NAME, data)
            return data
        module, env = hsm
        # Read by SoftHSM2 when this process first loads the module (C_Initialize).
        os.environ.update(env)
        import pkcs11

        from sceau_keys.pkcs11 import Pkcs11Custody, default_sign_processes

        # A seal's PAE message: the claim payload is ~650 bytes (bench_service).
        message = pae(CLAIM_PAYLOAD_TYPE, b"x" * 655)
        custody_signer = Pkcs11Custody(module, "bench-raw", PIN).generate()
        # A session of its own sharing the custody's login (PKCS#11 v2.40 §5.6).
        session = pkcs11.lib(module).get_token(token_label="bench-raw").open(rw=True)
        raw_key = session.get_key(pkcs11.ObjectClass.PRIVATE_KEY,
                                  label=custody_signer.keyid)
        file_signer = LocalSigner.generate()
        batch_messages = [message] * args.batch_size
        in_process: dict[str, tuple[Callable[[], object], int]] = {
            "SoftHSM2 raw C_Sign (python-pkcs11)":
                (lambda: raw_key.sign(message, mechanism=pkcs11.Mechanism.EDDSA), 1),
            "SoftHSM2 via Pkcs11Signer.sign": (lambda: custody_signer.sign(message), 1),
            f"SoftHSM2 via Pkcs11Signer.sign_many, {args.batch_size:,}-message batches, "
            f"{default_sign_processes()} signing processes":
                (lambda: custody_signer.sign_many(batch_messages), args.batch_size),
            "file key LocalSigner.sign": (lambda: file_signer.sign(message), 1),
            f"file key LocalSigner.sign_many, {args.batch_size:,}-message batches":
                (lambda: file_signer.sign_many(batch_messages), args.batch_size),
        }
        # Thread safety under load: the module lock serialises C_Sign (docs/DECISIONS.md).
        threaded = "SoftHSM2 via Pkcs11Signer.sign, 4 threads"
        convoy = {f"SoftHSM2 via Pkcs11Signer.sign beside a busy thread, switch {ms:g} ms":
                  ms / 1000 for ms in (sys.getswitchinterval() * 1000, 0.2)}
        for fn, per_call in in_process.values():
            _rate(fn, 0.2, per_call)  # warm-up (and the signing processes' start)

        (workdir / "file").mkdir()
        (workdir / "hsm").mkdir()
        servers["batch, file custody"] = _server.start_service(workdir / "file")
        servers["batch, SoftHSM2 custody"] = _server.start_service(
            workdir / "hsm", extra_env={**env, "SCEAU_CUSTODY": "pkcs11",
                                        "SCEAU_PKCS11_MODULE": module,
                                        "SCEAU_PKCS11_TOKEN_LABEL": "bench-service",
                                        "SCEAU_PKCS11_PIN": PIN})
        _SERVER_PIDS.update(srv.process.pid for srv in servers.values())
        bload = {"connections": args.connections, "items": args.batch_size,
                 "requests": requests}
        for name, srv in servers.items():
            print(f"warm-up: {name}", flush=True)
            batch_run(srv, **{**bload, "requests": args.connections})

        names = [*in_process, threaded, *convoy]
        signs: dict[str, list[float]] = {name: [] for name in names}
        signs_cpu: dict[str, list[float]] = {name: [] for name in names}
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for run in range(runs):
            for name, (fn, per_call) in in_process.items():
                wall, cpu = _rate(fn, sign_seconds, per_call)
                signs[name].append(wall)
                signs_cpu[name].append(cpu)
                print(f"run {run + 1}/{runs} {name}: {wall:,.0f}/s, {cpu:,.0f}/CPU-s",
                      flush=True)
            wall, cpu = _threaded_rate(lambda: custody_signer.sign(message), 4, sign_seconds)
            signs[threaded].append(wall)
            signs_cpu[threaded].append(cpu)
            print(f"run {run + 1}/{runs} {threaded}: {wall:,.0f}/s, {cpu:,.0f}/CPU-s",
                  flush=True)
            for name, interval in convoy.items():
                wall, cpu = _beside_busy_thread(lambda: custody_signer.sign(message),
                                                interval, sign_seconds)
                signs[name].append(wall)
                signs_cpu[name].append(cpu)
                print(f"run {run + 1}/{runs} {name}: {wall:,.0f}/s", flush=True)
            for name, srv in servers.items():
                # Seals per second of the server's own CPU time: what the server does with
                # a core to itself, immune to time other work on the machine takes.
                res = batch_run(srv, **bload)
                batch[name].append(res)
                print(f"run {run + 1}/{runs} {name}: {res['seals_per_s']:,.0f} seals/s, "
                      f"{res['seals_per_cpu_s']:,.0f}/server-CPU-s, "
                      f"non-2xx {res['non_2xx']}", flush=True)
    finally:
        for srv in servers.values():
            _server.stop(srv)
        shutil.rmtree(workdir, ignore_errors=True)

    raw = "SoftHSM2 raw C_Sign (python-pkcs11)"
    ceiling, ceiling_cpu = median(signs[raw]), median(signs_cpu[raw])
    sign_rows = [[name, median(v), min(v), max(v), f"{median(v) / ceiling:.0%}",
                  median(signs_cpu[name]), f"{median(signs_cpu[name]) / ceiling_cpu:.0%}"]
                 for name, v in signs.items()]
    print_table(f"Ed25519 signing in-process, {len(message)}-byte messages, medians of "
                f"{runs} runs", ["signer", "signs/s", "min", "max", "vs SoftHSM raw",
                                 "signs/CPU-s", "vs raw (CPU)"], sign_rows)
    summaries: dict[str, dict[str, Any]] = {
        name: {**{k: median([r[k] for r in rs])
                  for k in ("seals_per_s", "seals_per_cpu_s", "server_cpu_pct", "seconds")},
               "non_2xx": sum(r["non_2xx"] for r in rs), "runs": rs}
        for name, rs in batch.items()}
    batch_rows = [[name, s["seals_per_s"], f"{s['seals_per_s'] / ceiling:.0%}",
                   s["seals_per_cpu_s"], f"{s['seals_per_cpu_s'] / ceiling_cpu:.0%}",
                   f"{s['server_cpu_pct']:.0f}%", s["non_2xx"]]
                  for name, s in summaries.items()]
    print_table(f"POST /v1/seals/batch: {requests} requests of {args.batch_size} items on "
                f"{args.connections} connections, SQLite, medians of {runs} runs",
                ["server", "seals/s", "vs SoftHSM raw", "seals/server-CPU-s",
                 "vs raw (CPU)", "server CPU", "non-2xx"], batch_rows)
    hsm, fil = summaries["batch, SoftHSM2 custody"], summaries["batch, file custody"]
    hsm_batch, file_batch = hsm["seals_per_s"], fil["seals_per_s"]
    ratio = hsm_batch / ceiling
    ratio_cpu = hsm["seals_per_cpu_s"] / ceiling_cpu
    ok = ratio >= TARGET_RATIO and all(s["non_2xx"] == 0 for s in summaries.values())
    print(f"\nbatch path with SoftHSM2: {hsm_batch:,.0f} seals/s = {ratio:.0%} of raw SoftHSM2 "
          f"signing ({ceiling:,.0f}/s); target >= {TARGET_RATIO:.0%}: {verdict(ok)}; "
          f"per CPU-second {ratio_cpu:.0%}; file keys: {file_batch:,.0f} seals/s "
          f"(SoftHSM2/file {hsm_batch / file_batch:.0%})")
    data = {
        "runs": runs, "requests_per_run": requests, "batch_size": args.batch_size,
        "connections": args.connections, "message_bytes": len(message),
        "signs_per_s": {name: {"median": median(v), "samples": v}
                        for name, v in signs.items()},
        "signs_per_cpu_s": {name: {"median": median(v), "samples": v}
                            for name, v in signs_cpu.items()},
        "batch": summaries,
        "softhsm_raw_signs_per_s": ceiling,
        "softhsm_raw_signs_per_cpu_s": ceiling_cpu,
        "hsm_batch_seals_per_s": hsm_batch,
        "file_batch_seals_per_s": file_batch,
        "ratio_hsm_batch_to_raw": ratio,
        "ratio_hsm_batch_to_raw_cpu": ratio_cpu,
        "target_ratio": TARGET_RATIO,
        "target_met": ok,
        "load_note": "machine shared with other work; loadavg at end: "
                     + " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    write_result(NAME, data)
    return data


if __name__ == "__main__":
    main()
