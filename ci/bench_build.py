#!/usr/bin/env python3
"""Build benchmark: cold build, no-change rebuild, CPython-only change, sizes.

    python ci/bench_build.py [--recipe NAME] [--cache DIR] [--keep] -- [--set ...]

Prints figures (and --json writes them): total cold time against the sum of
the compile steps (configure, make, install), the toolkit's own overhead,
the warm rebuild, a rebuild after a change to CPython's knobs only (OpenSSL
must come from the cache), the artifact's compressed and unpacked sizes, and
what --strip saves.  Uses a fresh cache directory unless --cache is given.
Sources come from --source-dir / PYBUILDSSL_SOURCE_DIRS like any build.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pybuildssl import recipe  # noqa: E402
from pybuildssl.build import Builder  # noqa: E402
from pybuildssl.ui import UI  # noqa: E402


def unpacked_size(archive: Path) -> int:
    with tarfile.open(archive) as tf:
        return sum(m.size for m in tf.getmembers() if m.isfile())


def build(name: str, sets: list[str], cache: Path, dist: Path, source_dirs: list[Path]) -> tuple[dict, float]:
    r = recipe.load(name, sets)
    start = time.monotonic()
    res = Builder(r, cache_dir=cache, dist_dir=dist, source_dirs=source_dirs, ui=UI(stream=io.StringIO())).build()
    return {"artifact": str(res.artifact), "timings": res.timings, "cached": res.cached}, time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default=recipe.default_for_host())
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--source-dir", type=Path, action="append", default=[])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("sets", nargs="*", help="recipe overrides, e.g. openssl.version=3.5.7")
    args = ap.parse_args()
    sets = [s for s in args.sets if s != "--set"]
    cache = args.cache or Path(tempfile.mkdtemp(prefix="pybuildssl-bench-"))
    dist = Path(tempfile.mkdtemp(prefix="pybuildssl-bench-dist-"))
    fig: dict = {"recipe": args.recipe, "cpus": os.cpu_count()}
    try:
        cold, cold_s = build(args.recipe, sets, cache, dist, args.source_dir)
        t = cold["timings"]
        compile_steps = {k: v for k, v in t.items()
                         if k.split(".")[-1] in ("configure", "make", "install")}
        fig["cold_total_s"] = round(cold_s, 1)
        fig["compile_steps_s"] = round(sum(compile_steps.values()), 1)
        fig["steps_s"] = {k: round(v, 1) for k, v in t.items() if k != "total"}
        fig["overhead_s"] = round(cold_s - sum(compile_steps.values()), 1)
        fig["overhead_pct"] = round(100 * fig["overhead_s"] / max(sum(compile_steps.values()), 1e-9), 1)
        art = Path(cold["artifact"])
        fig["artifact_compressed_bytes"] = art.stat().st_size
        fig["artifact_unpacked_bytes"] = unpacked_size(art)

        warm, warm_s = build(args.recipe, sets, cache, dist, args.source_dir)
        fig["warm_rebuild_s"] = round(warm_s, 2)
        fig["warm_cached"] = warm["cached"]

        change, change_s = build(args.recipe, sets + ['cpython.configure_args=["--without-doc-strings"]'],
                                 cache, dist, args.source_dir)
        fig["cpython_only_change_s"] = round(change_s, 1)
        fig["cpython_only_change_cached"] = change["cached"]

        strip, strip_s = build(args.recipe, sets + ["build.strip=true"], cache, dist, args.source_dir)
        sart = Path(strip["artifact"])
        fig["strip_rebuild_s"] = round(strip_s, 1)
        fig["stripped_compressed_bytes"] = sart.stat().st_size
        fig["stripped_unpacked_bytes"] = unpacked_size(sart)
    finally:
        if not args.keep and not args.cache:
            shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(dist, ignore_errors=True)
    mib = 1 << 20
    print(f"recipe {fig['recipe']} on {fig['cpus']} CPUs")
    print(f"cold build           {fig['cold_total_s']:8.1f} s")
    print(f"  compile steps      {fig['compile_steps_s']:8.1f} s   (configure + make + install)")
    print(f"  pybuildssl's share {fig['overhead_s']:8.1f} s   ({fig['overhead_pct']}% of the compile steps)")
    for k, v in fig["steps_s"].items():
        print(f"    {k:<22} {v:8.1f} s")
    print(f"no-change rebuild    {fig['warm_rebuild_s']:8.2f} s   cached: {fig['warm_cached']}")
    print(f"CPython-only change  {fig['cpython_only_change_s']:8.1f} s   cached: {fig['cpython_only_change_cached']}")
    print(f"artifact             {fig['artifact_compressed_bytes'] / mib:8.1f} MiB compressed, "
          f"{fig['artifact_unpacked_bytes'] / mib:.1f} MiB unpacked")
    print(f"with --strip         {fig['stripped_compressed_bytes'] / mib:8.1f} MiB compressed, "
          f"{fig['stripped_unpacked_bytes'] / mib:.1f} MiB unpacked")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
