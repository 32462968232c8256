"""Helpers shared by the benchmarks: timing loops, medians, tables, machine info, results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return float(statistics.median(values))


#: Timers for in-process loops.  "cpu" (the default) counts this process's CPU time only,
#: so time the hypervisor or other processes take from a noisy shared machine is not
#: billed to the code under test; "wall" is the plain clock.
TIMERS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def calibrate(fn: Callable[[], object], min_time: float = 0.2, timer: str = "cpu") -> int:
    """A loop count for ``fn`` that runs about ``min_time`` seconds (timeit's autorange,
    scaled)."""
    number, elapsed = timeit.Timer(fn, timer=TIMERS[timer]).autorange()
    return max(1, round(number * min_time / max(elapsed, 1e-9)))


def time_per_op(fn: Callable[[], object], number: int, *, repeats: int = 1,
                timer: str = "cpu") -> list[float]:
    """timeit-style: ``repeats`` timed loops of ``number`` calls (garbage collector on, as
    in real use); returns seconds per call for each."""
    t = timeit.Timer(fn, setup="import gc; gc.enable()", timer=TIMERS[timer])
    return [x / number for x in t.repeat(repeat=repeats, number=number)]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
                left: int = 1) -> None:
    """A plain aligned text table: the first ``left`` columns flush left, the rest right."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if n and i >= left else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the machine and a timestamp."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    doc = {"benchmark": name, "when": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": machine(), **data}
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    print(f"\nwrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path


def verdict(ok: bool) -> str:
    """'met' or 'MISSED'."""
    return "met" if ok else "MISSED"
