#!/usr/bin/env python3
"""Verify benchmark: time `verify` on an artifact, and the cost of each extra layout.

    python ci/bench_verify.py dist/cpython-*.tar.gz [--runs 3]

Prints the median wall time of `verify` with the host layout only (extraction
included), with `--layouts all`, the per-layout cost derived from the two,
and the slowest findings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pybuildssl.verify import parse_layouts, verify  # noqa: E402
from pybuildssl import layouts  # noqa: E402


def timed(path: Path, layouts_arg: str | None):
    start = time.monotonic()
    report = verify(path, layouts_arg=layouts_arg)
    return time.monotonic() - start, report


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("artifact", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    host = layouts.detect_vendor()
    n_all = len(parse_layouts("all", host))
    base = [timed(args.artifact, None) for _ in range(args.runs)]
    full = [timed(args.artifact, "all") for _ in range(args.runs)]
    b = statistics.median(t for t, _ in base)
    f = statistics.median(t for t, _ in full)
    report = base[0][1]
    print(f"artifact {args.artifact} ({args.artifact.stat().st_size / (1 << 20):.1f} MiB)")
    print(f"verify, host layout ({host}):     {b:6.2f} s  median of {args.runs}  verdict {report.to_json()['verdict']}")
    print(f"verify, --layouts all ({n_all}):     {f:6.2f} s")
    print(f"per extra layout:                {(f - b) / max(n_all - 1, 1):6.2f} s")
    slow = sorted(report.findings, key=lambda x: -x.seconds)[:5]
    print("slowest findings (host run): " + ", ".join(f"{x.id} {x.seconds:.2f}s" for x in slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
