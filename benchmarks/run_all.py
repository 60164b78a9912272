"""Run every benchmark, one fresh process each, and print their RESULT lines together.

    .venv/bin/python benchmarks/run_all.py            # all of them
    .venv/bin/python benchmarks/run_all.py parse_cost round_trip   # a selection

Each script also runs on its own (see docs/performance.md). Nothing here asserts on
time; the exit status is non-zero only if a script fails to run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "parse_cost",
    "round_trip",
    "request_build",
    "round_trips_saved",
    "server_bulk",
    "import_throughput",
    "websocket",
    "sync_step",
    "realtime_latency",
    "server_latency",
    "small_request",
]


def main() -> int:
    chosen = sys.argv[1:] or SCRIPTS
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
        return 2
    results: list[str] = []
    failed = 0
    for name in chosen:
        print(f"\n=== {name} " + "=" * (60 - len(name)), flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py")], capture_output=True, text=True
        )
        print(proc.stdout, end="")
        if proc.returncode != 0:
            failed += 1
            print(proc.stderr, end="")
            results.append(f"{name}: FAILED (exit {proc.returncode})")
        else:
            results += [
                ln[len("RESULT ") :] for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")
            ]
        print(f"({time.perf_counter() - t0:.1f}s)")
    print("\n=== summary " + "=" * 53)
    print("\n".join(results))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
