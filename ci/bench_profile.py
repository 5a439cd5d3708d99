#!/usr/bin/env python3
"""Release profile (PGO + LTO) against the fast profile, same CPython, side by side.

    python ci/bench_profile.py --release REL.tar.gz --fast FAST.tar.gz \
        [--rounds 3] [--benchmark NAME ...] [--build-seconds release=S --build-seconds fast=S] [--json OUT]

Both artifacts are unpacked into a temporary directory; each gets pyperf (from the
package index).  The benchmarks are pyperformance's own scripts (its
``data-files/benchmarks/bm_*/run_benchmark.py``, from the pyperformance package
installed with the test dependencies), run by each artifact's interpreter with
``pyperf --fast``, interleaved: every round runs every benchmark once per profile,
the order of the two profiles alternating, so that load from elsewhere on the
machine falls on both alike.  Printed: each benchmark's mean per profile (the mean
over rounds of pyperf's mean), the ratio fast/release (above 1: release is faster),
their geometric mean, and the build time of each profile when given
(``--build-seconds PROFILE=SECONDS``: the wall time of the build that made the
artifact, measured by the caller; this script builds nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pybuildssl import archive, package, relocate  # noqa: E402

DEFAULT_BENCHMARKS = ("nbody", "richards", "float", "json_loads", "regex_v8", "deltablue", "go", "raytrace")
PYPERF = "pyperf==2.11.0"
PROFILES = ("release", "fast")


def benchmark_scripts(names: list[str]) -> dict[str, Path]:
    """pyperformance's run_benchmark.py of each benchmark."""
    try:
        import pyperformance
    except ImportError:
        sys.exit("bench_profile: pyperformance is not installed (pip install pyperformance; "
                 "ci/setup.sh installs the test dependencies)")
    root = Path(pyperformance.__file__).resolve().parent / "data-files" / "benchmarks"
    out = {}
    for name in names:
        script = root / f"bm_{name}" / "run_benchmark.py"
        if not script.is_file():
            sys.exit(f"bench_profile: no benchmark {name!r} in {root}")
        out[name] = script
    return out


def prepare(artifact: Path, dest: Path) -> tuple[Path, dict]:
    """The artifact unpacked, its interpreter with pyperf; (interpreter, manifest)."""
    manifest = package.read_manifest(artifact)
    prefix = archive.extract(artifact, dest, strip_top=True)
    python = relocate.interpreter(prefix)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--root-user-action=ignore", PYPERF],
                   check=True, stdout=subprocess.DEVNULL)
    return python, manifest


def run_once(python: Path, script: Path, out: Path) -> tuple[float, float]:
    """(mean, fastest value) in seconds of one pyperf --fast run of ``script``."""
    out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    subprocess.run([str(python), str(script), "--fast", "--quiet", "-o", str(out)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(out))
    (bench,) = suite.get_benchmarks()
    return bench.mean(), min(bench.get_values())


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def measure(pythons: dict[str, Path], scripts: dict[str, Path], rounds: int, work: Path) -> dict[str, dict]:
    """{benchmark: {profile: [(mean, fastest) per round]}}, interleaved."""
    times: dict[str, dict[str, list[tuple[float, float]]]] = {b: {p: [] for p in PROFILES} for b in scripts}
    for r in range(rounds):
        order = PROFILES if r % 2 == 0 else tuple(reversed(PROFILES))
        for name, script in scripts.items():
            for profile in order:
                mean, fastest = run_once(pythons[profile], script, work / f"{name}-{profile}.json")
                times[name][profile].append((mean, fastest))
                print(f"  round {r + 1} {name:<11} {profile:<8} mean {mean * 1e3:9.2f} ms  fastest "
                      f"{fastest * 1e3:9.2f} ms", file=sys.stderr, flush=True)
    return times


def report(times: dict[str, dict[str, list[tuple[float, float]]]], build_seconds: dict[str, float]) -> dict:
    """Per benchmark: the mean of the rounds' means and the fastest value of all rounds, per
    profile, and fast/release of each.  On a machine others load, the fastest value is the
    steadier estimate (interference only ever adds time); both are printed."""
    rows = []
    for name, per in times.items():
        mean = {p: sum(m for m, _ in per[p]) / len(per[p]) for p in PROFILES}
        fastest = {p: min(f for _, f in per[p]) for p in PROFILES}
        rows.append({"benchmark": name, "release_ms": mean["release"] * 1e3, "fast_ms": mean["fast"] * 1e3,
                     "fast_over_release": mean["fast"] / mean["release"],
                     "release_fastest_ms": fastest["release"] * 1e3, "fast_fastest_ms": fastest["fast"] * 1e3,
                     "fastest_fast_over_release": fastest["fast"] / fastest["release"]})
    return {"rows": rows,
            "geometric_mean_fast_over_release": geometric_mean([r["fast_over_release"] for r in rows]),
            "geometric_mean_fastest_fast_over_release": geometric_mean([r["fastest_fast_over_release"] for r in rows]),
            "build_seconds": build_seconds}


def print_table(result: dict, versions: dict[str, str], rounds: int) -> None:
    print(f"CPython {versions['release']} (release: PGO+LTO) vs {versions['fast']} (fast: neither); "
          f"pyperf --fast, {rounds} interleaved rounds; ratios fast/release (above 1: release is faster)")
    print(f"{'benchmark':<12} {'release ms':>11} {'fast ms':>11} {'ratio':>7}   {'fastest rel':>11} "
          f"{'fastest fast':>12} {'ratio':>7}")
    for r in result["rows"]:
        print(f"{r['benchmark']:<12} {r['release_ms']:>11.2f} {r['fast_ms']:>11.2f} {r['fast_over_release']:>7.3f}   "
              f"{r['release_fastest_ms']:>11.2f} {r['fast_fastest_ms']:>12.2f} {r['fastest_fast_over_release']:>7.3f}")
    print(f"{'geometric mean':<36} {result['geometric_mean_fast_over_release']:>7.3f}   {'':>24} "
          f"{result['geometric_mean_fastest_fast_over_release']:>7.3f}")
    for profile, seconds in result["build_seconds"].items():
        print(f"build time ({profile}): {seconds:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--release", type=Path, required=True, help="artifact built with build.profile=release")
    p.add_argument("--fast", type=Path, required=True, help="artifact built with build.profile=fast")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--benchmark", action="append", help=f"default: {' '.join(DEFAULT_BENCHMARKS)}")
    p.add_argument("--build-seconds", action="append", default=[], metavar="PROFILE=SECONDS")
    p.add_argument("--json", type=Path, help="also write the figures there")
    args = p.parse_args(argv)
    build_seconds = {}
    for item in args.build_seconds:
        profile, _, seconds = item.partition("=")
        if profile not in PROFILES or not seconds.replace(".", "", 1).isdigit():
            p.error(f"--build-seconds {item!r}: expected release=SECONDS or fast=SECONDS")
        build_seconds[profile] = float(seconds)
    scripts = benchmark_scripts(args.benchmark or list(DEFAULT_BENCHMARKS))
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        work = Path(tmp)
        pythons, versions = {}, {}
        for profile in PROFILES:
            pythons[profile], manifest = prepare(getattr(args, profile), work / profile)
            versions[profile] = manifest["cpython"]["version"]
        if versions["release"] != versions["fast"]:
            p.error(f"not the same CPython: release {versions['release']}, fast {versions['fast']}")
        result = report(measure(pythons, scripts, args.rounds, work), build_seconds)
    print_table(result, versions, args.rounds)
    if args.json:
        args.json.write_text(json.dumps({"cpython": versions["release"], "rounds": args.rounds, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
