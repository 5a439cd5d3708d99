#!/usr/bin/env python3
"""How long `pybuildssl doctor` takes, end to end (interpreter start-ups included).

    python3 ci/bench_doctor.py [--python PATH] [--runs N]

Prints each wall time and the median; the target is under one second on a
quiet machine (docs/doctor.md).  A figure, not a test: the machine is noisy.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="the interpreter doctor examines")
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args(argv)
    times = []
    for _ in range(args.runs):
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "pybuildssl", "doctor", "--python", args.python, "--json"],
                       capture_output=True, check=False)
        times.append(time.monotonic() - start)
    print("doctor wall times: " + ", ".join(f"{t:.2f}s" for t in times))
    print(f"median {statistics.median(times):.2f}s over {args.runs} runs (python {args.python})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
