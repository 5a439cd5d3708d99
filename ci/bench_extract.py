#!/usr/bin/env python3
"""Extraction benchmark: the checked, streaming `archive.extract` against GNU tar.

    python ci/bench_extract.py dist/cpython-*.tar.gz [--runs 5] [--dir /dev/shm]

Prints the archive's members by type, its links, and the median wall and CPU time of
`archive.extract` (the implementation in this checkout: run the script from
another checkout to compare versions) and of `tar -xf` into the same
filesystem.  `--dir` chooses where to unpack (default: a temp dir; verify
unpacks on /dev/shm when there is room).
"""

from __future__ import annotations

import argparse
import collections
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pybuildssl import archive  # noqa: E402


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children): the machine may be shared."""
    def cpu() -> float:
        return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                       resource.getrusage(resource.RUSAGE_CHILDREN)))
    start, start_cpu = time.perf_counter(), cpu()
    fn()
    return time.perf_counter() - start, cpu() - start_cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("archive", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None, help="where to unpack (default: the temp dir)")
    args = ap.parse_args()
    kinds: collections.Counter[str] = collections.Counter()
    links = []
    with tarfile.open(args.archive) as tf:
        for m in tf:
            kinds["symlink" if m.issym() else "hard link" if m.islnk() else "dir" if m.isdir() else
                  "file" if m.isreg() else "other"] += 1
            if m.issym() or m.islnk():
                links.append(f"{m.name} {'->' if m.issym() else 'link to'} {m.linkname}")
    print(f"archive {args.archive} ({args.archive.stat().st_size / (1 << 20):.1f} MiB): "
          + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
    for line in links:
        print(f"  {line}")
    work = Path(tempfile.mkdtemp(prefix="bench-extract-", dir=args.dir))
    try:
        def ours() -> None:
            archive.extract(args.archive, work / "ours", strip_top=True)

        def gnu_tar() -> None:
            out = work / "tar"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            subprocess.run(["tar", "-xf", str(args.archive), "-C", str(out)], check=True)

        rows = [("archive.extract", ours)] + ([("GNU tar -xf", gnu_tar)] if shutil.which("tar") else [])
        for label, fn in rows:
            wall, cpu = zip(*(timed(fn) for _ in range(args.runs)))
            print(f"{label:16} {statistics.median(wall):6.2f} s wall, {statistics.median(cpu):6.2f} s CPU  "
                  f"median of {args.runs} (wall min {min(wall):.2f}, max {max(wall):.2f}) on {work}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
