"""Run every benchmark (``make bench``) and print a summary of the targets.

    python -m bench.run_all            # full: 64 MB + 2 GB files, 10 s service runs (~5 min)
    python -m bench.run_all --quick    # 64 MB file, shorter loops, 3 s service runs (~1.5 min)
    python -m bench.run_all --only core,service --no-postgres

Each benchmark prints its own tables and writes ``bench/results/<name>.json``; this
writes ``bench/results/run_all.json`` with the summary.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from bench import (
    bench_core,
    bench_custody,
    bench_hashing,
    bench_log,
    bench_lookup,
    bench_media,
    bench_service,
    bench_verify,
)
from bench._common import print_table, verdict, write_result

BENCHMARKS = ("hashing", "core", "service", "log", "media", "verify", "lookup", "custody")


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; returns 0 (targets missed are reported, not errors)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller files, shorter runs")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--no-postgres", action="store_true",
                        help="service benchmark on SQLite only")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {sorted(unknown)}")

    quick = ["--quick"] if args.quick else []
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "hashing": lambda: bench_hashing.main(["--sizes", "64M" if args.quick else "64M,2G"]),
        "core": lambda: bench_core.main(quick),
        "service": lambda: bench_service.main(
            quick + (["--no-postgres"] if args.no_postgres else [])),
        "log": lambda: bench_log.main(quick + (["--no-postgres"] if args.no_postgres else [])),
        "media": lambda: bench_media.main(quick),
        "verify": lambda: bench_verify.main(quick),
        "lookup": lambda: bench_lookup.main(
            quick + (["--no-postgres"] if args.no_postgres else [])),
        "custody": lambda: bench_custody.main(quick),
    }
    results: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    for name in only:
        print(f"\n{'=' * 30} bench_{name} {'=' * 30}", flush=True)
        start = time.monotonic()
        results[name] = runs[name]()
        seconds[name] = time.monotonic() - start

    rows = summary_rows(results)
    print(f"\n{'=' * 30} summary {'=' * 30}")
    print_table("Targets (docs/benchmarks.md)", ["benchmark", "measured", "target", "status"],
                rows, left=4)
    write_result("run_all", {"quick": args.quick, "seconds": seconds,
                             "summary": [dict(zip(("benchmark", "measured", "target",
                                                   "status"), r, strict=True))
                                         for r in rows]})
    return 0


def summary_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    """One line per target from the benchmarks' results."""
    rows: list[list[str]] = []
    if "hashing" in results:
        h = results["hashing"]
        for f in h["files"]:
            size = bench_hashing.size_label(f["size_bytes"])
            ours = f["gb_per_s_median"][bench_hashing.SCEAU]
            rows.append([f"hash_file {size}", f"{ours:.2f} GB/s = {f['ratio']:.0%} of hashlib",
                         f">= {h['target_ratio']:.0%}",
                         verdict(f["ratio"] >= h["target_ratio"])])
        mem = h["memory"]
        grow = max(m["growth_mb"] for m in mem["children"] if m["method"] == "sceau")
        rows.append(["hash_file peak memory", f"+{grow:.1f} MB over import, any size",
                     "flat, < 64 MB", verdict(mem["flat_under_64mb"])])
    if "core" in results:
        c = results["core"]
        us = c["verify"]["ops"]["sceau.verify_seal (envelope bytes)"]["us_per_op"]
        rows.append(["verify_seal (no media hash)", f"{us:.0f} µs",
                     f"< {c['verify']['target_us']:.0f} µs", verdict(c["verify"]["target_met"])])
        rows.append(["seal one claim vs raw sign", f"{c['seal']['ratio_to_raw_sign']:.0%}",
                     "(reported)", "-"])
        rows.append(["canonicalize vs rfc8785",
                     f"{c['canonicalize']['speedup_vs_rfc8785']:.1f}x", "(reported)", "-"])
    if "service" in results and "single" in results["service"]:
        s = results["service"]
        for name, r in s["single"].items():
            if not name.startswith("sceau-service"):
                continue
            rows.append([f"POST /v1/seals, {name.split(', ')[1]}",
                         f"{r['req_per_s']:,.0f} req/s, p99 {r['p99_ms']:.1f} ms",
                         ">= 2,500 req/s, p99 < 25 ms",
                         verdict(s["targets_met"][f"single {name}"])])
        for name, r in s["batch"].items():
            rows.append([f"POST /v1/seals/batch, {name.split(', ')[1]}",
                         f"{r['seals_per_s']:,.0f} seals/s", ">= 15,000 seals/s",
                         verdict(s["targets_met"][f"batch {name}"])])
    if "verify" in results:
        v = results["verify"]
        rows.append(["POST /v1/verify, 5 MB JPEG upload",
                     f"{v['sceau_http_ms_median']:.1f} ms = "
                     f"{v['ratio_sceau_over_c2pa']:.1f}x c2pa Reader", "(reported)", "-"])
    if "custody" in results and "skipped" not in results["custody"]:
        k = results["custody"]
        rows.append(["batch seals/s, SoftHSM2 custody",
                     f"{k['hsm_batch_seals_per_s']:,.0f} seals/s = "
                     f"{k['ratio_hsm_batch_to_raw']:.0%} of raw SoftHSM2 "
                     f"({k['softhsm_raw_signs_per_s']:,.0f}/s)",
                     f">= {k['target_ratio']:.0%}", verdict(k["target_met"])])
    if "lookup" in results and "results" in results["lookup"]:
        lk = results["lookup"]
        for backend, per in lk["results"].items():
            for key in ("warm c=1", "warm c=4"):
                r = per[key]
                rows.append([f"POST /v1/lookup 50 hashes, {lk['seals']:,} seals, {backend}, "
                             f"{key.split()[1]}",
                             f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms",
                             f"p99 < {lk['target_p99_ms']:g} ms",
                             verdict(lk["targets_met"][f"{backend} {key}"])])
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
