#!/usr/bin/env python3
"""Portable-Linux benchmark: components cold and warm, sizes, start-up against a stock build.

    python ci/bench_portable.py [--recipe NAME] [--cache DIR] [--jobs 2] [--baseline PYTHON]
                                [--no-floor] [--json OUT] [-- --set k=v ...]

1. Cold build of the recipe in a fresh cache (``--cache`` to reuse one) with
   ``--jobs`` (2): seconds per component (OpenSSL, each library, CPython),
   the libraries together, and the whole build.  Zig's own cache starts
   empty too, so the first compile's libc stubs are included.
2. Warm rebuild: the same build again, everything from the cache.
3. ``--strip``: CPython again with build.strip=true (the libraries and
   OpenSSL come from the cache: the rebuild is CPython's alone).
4. Sizes: compressed archive and unpacked tree, with and without --strip.
5. Start-up in one run, interleaved: ``python -I -c pass`` and
   ``python -I -c "import ssl, sqlite3"`` from the unpacked artifact against
   ``--baseline`` (default: the stock CPython 3.13 of ci/stock_pythons.py, built
   on this host the usual way against the system's shared libraries; built
   first if missing), median of N, as ratios.
6. With ``--no-floor``: also a cold build with ``--set target.glibc=``
   (host gcc, no floor) and the old-root check of ci/oldroot.py on both
   artifacts, the figure that shows the Debian 11 test bites.

Sources come from --source-dir / PYBUILDSSL_SOURCE_DIRS, overrides from the
arguments, over the override file PYBUILDSSL_OVERRIDES (``ci/fetch_sources.py --overrides-out``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pybuildssl import archive, recipe, sources  # noqa: E402
from pybuildssl.build import Builder  # noqa: E402
from pybuildssl.ui import UI  # noqa: E402


def default_baseline() -> Path:
    """bin/python3.13 of the stock CPython 3.13 prefix (ci/stock_pythons.py; built if missing)."""
    sys.path.insert(0, str(REPO / "ci"))
    import stock_pythons

    return stock_pythons.ensure("3.13") / "bin" / "python3.13"


def unpacked_size(archive: Path) -> int:
    with tarfile.open(archive) as tf:
        return sum(m.size for m in tf.getmembers() if m.isfile())


def build(name: str, sets: list[str], cache: Path, dist: Path, jobs: int, source_dirs: list[Path]) -> dict:
    files = [os.environ["PYBUILDSSL_OVERRIDES"]] if os.environ.get("PYBUILDSSL_OVERRIDES") else []
    r = recipe.load(name, sets, override_files=files)
    # one dist directory per build: every variant's archive has the same name
    dist = Path(tempfile.mkdtemp(prefix="build-", dir=dist))
    start = time.monotonic()
    res = Builder(r, cache_dir=cache, dist_dir=dist, source_dirs=source_dirs, jobs=jobs,
                  ui=UI(stream=io.StringIO())).build()
    total = time.monotonic() - start
    per: dict[str, float] = {}
    for step, secs in res.timings.items():
        comp = step.split(".", 1)[0]
        if step != "total":
            per[comp] = per.get(comp, 0.0) + secs
    libs = {n: round(per.get(n, 0.0), 1) for n in r.components}
    return {"artifact": str(res.artifact), "seconds": round(total, 1),
            "openssl": round(per.get("openssl", 0.0), 1), "cpython": round(per.get("cpython", 0.0), 1),
            "libraries": libs, "libraries_total": round(sum(libs.values()), 1),
            "cached": {**res.cached, **{n: v["cached"] for n, v in (res.components or {}).items()}},
            "compressed": Path(res.artifact).stat().st_size, "unpacked": unpacked_size(Path(res.artifact))}


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    return time.perf_counter() - start


def startup(artifact_python: Path, baseline: Path, n: int) -> dict:
    cases = {"pass": "pass", "import ssl, sqlite3": "import ssl, sqlite3"}
    out: dict = {}
    for label, code in cases.items():
        a_times, b_times = [], []
        for argv in ([str(artifact_python), "-I", "-c", code], [str(baseline), "-I", "-c", code]):
            _time(argv)  # warm the page cache
        for _ in range(n):  # interleaved: both see the same machine state
            a_times.append(_time([str(artifact_python), "-I", "-c", code]))
            b_times.append(_time([str(baseline), "-I", "-c", code]))
        a, b = statistics.median(a_times), statistics.median(b_times)
        out[label] = {"artifact_ms": round(a * 1000, 2), "baseline_ms": round(b * 1000, 2), "ratio": round(a / b, 3)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="linux-x86_64-generic")
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--source-dir", type=Path, action="append", default=[])
    ap.add_argument("--baseline", type=Path, help="default: the stock CPython 3.13 (ci/stock_pythons.py)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--no-floor", action="store_true", help="also build without the glibc floor and run the old-root check")
    ap.add_argument("--json", type=Path)
    ap.add_argument("sets", nargs="*", help="recipe overrides (key=value; a leading --set is accepted)")
    args = ap.parse_args()
    sets = [s for s in args.sets if s != "--set"]
    baseline = args.baseline or default_baseline()  # first: a bad --baseline fails before the builds
    if not baseline.is_file():
        print(f"bench_portable: --baseline {baseline}: no such interpreter", file=sys.stderr)
        return 2
    source_dirs = args.source_dir + sources.source_dirs_from_env()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="pybuildssl-bench-portable-"))
    dist = Path(tempfile.mkdtemp(prefix="pybuildssl-bench-dist-"))
    fig: dict = {"recipe": args.recipe, "cpus": os.cpu_count(), "jobs": args.jobs, "cache": str(cache)}

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    fresh = not (cache / "components").is_dir()
    fig["cold_is_cold"] = fresh  # False: --cache named a used cache, "cold" is then a first build in it
    say(f"* {'cold' if fresh else 'first (reused cache)'} build in {cache}")
    fig["cold"] = build(args.recipe, sets, cache, dist, args.jobs, source_dirs)
    say(f"  {fig['cold']['seconds']} s: OpenSSL {fig['cold']['openssl']} s, libraries {fig['cold']['libraries_total']} s "
        f"{fig['cold']['libraries']}, CPython {fig['cold']['cpython']} s")
    say("* warm rebuild")
    fig["warm"] = build(args.recipe, sets, cache, dist, args.jobs, source_dirs)
    say(f"  {fig['warm']['seconds']} s, cached {fig['warm']['cached']}")
    say("* --strip (CPython only)")
    fig["strip"] = build(args.recipe, sets + ["build.strip=true"], cache, dist, args.jobs, source_dirs)
    say(f"  {fig['strip']['seconds']} s; {fig['strip']['compressed'] / 1e6:.1f} MB compressed, "
        f"{fig['strip']['unpacked'] / 1e6:.1f} MB unpacked (unstripped {fig['cold']['compressed'] / 1e6:.1f} / "
        f"{fig['cold']['unpacked'] / 1e6:.1f} MB)")

    with tempfile.TemporaryDirectory(prefix="pybuildssl-bench-run-") as tmp:
        from pybuildssl import package, relocate

        prefix = archive.extract(Path(fig["strip"]["artifact"]), Path(tmp) / "moved python")
        interp = prefix / package.read_manifest(Path(fig["strip"]["artifact"]))["cpython"]["interpreter"]
        say(f"* start-up: {interp} against {baseline}, median of {args.runs}")
        fig["startup"] = startup(interp, baseline, args.runs)
        for k, v in fig["startup"].items():
            say(f"  {k}: {v['artifact_ms']} ms vs {v['baseline_ms']} ms, ratio {v['ratio']}")
        del relocate

    if args.no_floor:
        import importlib.util

        spec = importlib.util.spec_from_file_location("oldroot", REPO / "ci" / "oldroot.py")
        oldroot = importlib.util.module_from_spec(spec)
        sys.modules["oldroot"] = oldroot
        spec.loader.exec_module(oldroot)  # type: ignore[union-attr]
        say("* cold build without the floor (host cc)")
        fig["no_floor"] = build(args.recipe, sets + ["target.glibc="], cache, dist, args.jobs, source_dirs)
        say(f"  {fig['no_floor']['seconds']} s: OpenSSL {fig['no_floor']['openssl']} s, libraries "
            f"{fig['no_floor']['libraries_total']} s, CPython {fig['no_floor']['cpython']} s")
        template = oldroot.ensure_root()
        for label in ("cold", "no_floor"):
            with tempfile.TemporaryDirectory(prefix="pybuildssl-oldroot-") as tmp:
                check = oldroot.check_artifact(Path(fig[label]["artifact"]), Path(tmp), template=template)
            problems = oldroot.judge(check)
            fig[label]["debian11"] = problems or "ok"
            say(f"  Debian 11 check, {label}: {problems or 'ok'}")

    text = json.dumps(fig, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
