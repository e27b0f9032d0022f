"""Run every benchmark in `bench/` one after the other with its default arguments.

Each script prints its own figures; this runner adds a header per script and exits
non-zero when any of them fails. Run on an otherwise idle machine: the figures are
wall-clock and CPU times.

    .venv/bin/python bench/run_all.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ORDER = (
    "recognizer_speed",
    "decode_speed",
    "synth_speed",
    "page_speed",
    "ingest_speed",
    "keyword_recall",
    "index_speed",
    "http_search",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=ORDER, help="run just these")
    args = parser.parse_args()
    failed = []
    for name in args.only or ORDER:
        print(f"\n=== bench/{name}.py ===", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, str(BENCH / f"{name}.py")], cwd=BENCH.parent)
        print(f"=== {name}: exit {rc}, {time.perf_counter() - start:.0f} s ===", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
