#!/usr/bin/env python3
"""Build the unpatched ("stock") CPython prefixes the integration tests run
``pybuildssl patch``, ``doctor`` and the sandbox against.

A stock prefix is what pyenv or ``./configure && make install`` gives on this
host: CPython linked against the host's shared OpenSSL (on Debian: OpenSSL 3.x
with OPENSSLDIR ``/usr/lib/ssl``), ``ssl.py`` exactly as released.  Tests must
not depend on pyenv being installed, so this script makes them itself, from
what a CI machine reaches (Debian's apt archive):

* the source is the orig tarball of Debian's own ``python3.X`` source package
  (byte-identical to python.org's release tarball), fetched and checked against
  Debian's signed Sources index by ``ci/fetch_sources.py`` (imported, not
  duplicated): ``python3.9`` from bullseye, ``python3.11`` from bookworm,
  ``python3.13`` from trixie;
* it is built with a plain ``./configure --prefix=P && make && make install``
  against the host's OpenSSL (the Debian ``-dev`` packages below are installed
  with apt-get when missing);
* it is installed into ``$PYBUILDSSL_CACHE/stock-pythons/<version>-<sha12>/``
  (version and the tarball's sha256) through ``make install DESTDIR=staging``
  and one atomic rename, with a lock per prefix, so a second run (or a second
  test session running at the same time) costs nothing.

Progress goes to stderr with the time of each build; ``--json`` prints
``{minor: prefix}`` on stdout.  Python 3.9+ stdlib.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_sources as fs  # noqa: E402  (ci/fetch_sources.py: the one apt source door)
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from pybuildssl import cachelock  # noqa: E402  (a stdlib-only leaf: one builder per prefix)
from pybuildssl.cache import default_cache_dir  # noqa: E402  (a stdlib-only leaf)

PROG = "stock_pythons"
# (minor, Debian source package, suite it comes from): one CPython per Debian
# release still in use, oldest (the project's floor, 3.9) to newest.
STOCK: Tuple[Tuple[str, str, str], ...] = (
    ("3.9", "python3.9", "bullseye"),
    ("3.11", "python3.11", "bookworm"),
    ("3.13", "python3.13", "trixie"),
)
MINORS = tuple(m for m, _, _ in STOCK)
# What a stock build needs on Debian: a compiler and the headers of the host
# libraries CPython's extension modules link to (_ssl/_hashlib: libssl-dev).
APT_PACKAGES = ("build-essential", "pkg-config", "xz-utils", "libssl-dev", "zlib1g-dev",
                "libffi-dev", "libbz2-dev", "liblzma-dev", "libsqlite3-dev",
                "libreadline-dev", "libncurses-dev", "uuid-dev")
STAMP = "STOCK-PYTHON.json"


class StockError(Exception):
    """A failure reported as one message: what failed, where the log is."""


def log(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    return default_cache_dir() / "stock-pythons"


def sources_dest() -> Path:
    """Where orig tarballs live: the same directory ci/setup.sh fills."""
    return cache_root().parent / "debian-sources"


def ensure_apt_packages(packages: Sequence[str] = APT_PACKAGES) -> None:
    missing = [p for p in packages if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True).stdout.strip() != "install ok installed"]
    if not missing:
        return
    if not fs.is_root():
        raise StockError(f"missing Debian packages {' '.join(missing)}; "
                         f"run: sudo apt-get install {' '.join(missing)}")
    log(f"installing {' '.join(missing)}")
    fs.run(["apt-get", "update", "-qq"], check=True, what="apt-get update")
    fs.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
           check=True, what="apt-get install " + " ".join(missing))


# ---------------------------------------------------------------------------
# Which tarball: the newest orig apt lists for the suite (local indexes)
# ---------------------------------------------------------------------------

def suite_indexes(suite: str, update: bool) -> List[Tuple[str, str]]:
    """The suite's Sources index files; adds the deb-src entry and runs
    ``apt-get update`` on it only when missing (or when ``update``)."""
    sources = fs.ensure_sources_file(suite)
    if not update:
        try:
            return fs.suite_index_files(suite)
        except fs.FetchError:
            pass
    fs.apt_update(sources)
    return fs.suite_index_files(suite)


def newest_orig(package: str, suite: str, update: bool) -> Tuple[str, str, str]:
    """(Debian version, upstream version, orig sha256) of the newest ``package``
    in the suite, from apt's local indexes (no download)."""
    in_suite = fs.versions_in_suite(suite_indexes(suite, update), [package])
    proc = fs.run(["apt-cache", "showsrc", "--only-source", package])
    cands = [c for c in fs.candidates_from_showsrc(proc.stdout, package)
             if (package, c.version) in in_suite and not c.conflict]
    if not cands:
        raise StockError(f"apt offers no {package} source in {suite}*")
    newest = fs.sort_newest_first([c.version for c in cands], fs.dpkg_compare)[0]
    cand = next(c for c in cands if c.version == newest)
    upstream, _, holds = fs.split_upstream(newest)
    orig = fs.orig_tarball_name(package, upstream, cand.checksums)
    return newest, holds, cand.checksums[orig][0]


def prefix_for(version: str, sha256: str) -> Path:
    return cache_root() / f"{version}-{sha256[:12]}"


def is_complete(prefix: Path) -> bool:
    return (prefix / STAMP).is_file()


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

def _step(argv: Sequence[str], cwd: Path, logf, what: str, env: Dict[str, str]) -> None:
    logf.write(f"\n$ {' '.join(argv)}\n")
    logf.flush()
    proc = subprocess.run(list(argv), cwd=str(cwd), stdout=logf, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise StockError(f"{what} failed (exit {proc.returncode}); see {logf.name}")


def build(tarball: Path, prefix: Path, minor: str, jobs: int) -> float:
    """Configure, make and install ``tarball`` as ``prefix`` (atomically). Seconds."""
    root = prefix.parent
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{prefix.name}-", dir=str(root)))
    log_path = root / f"{prefix.name}.log"
    env = dict(os.environ, LC_ALL="C")
    for var in ("PYTHONHOME", "PYTHONPATH", "CFLAGS", "LDFLAGS", "CPPFLAGS"):
        env.pop(var, None)
    start = time.monotonic()
    try:
        with tarfile.open(tarball) as tf:
            top = tf.getnames()[0].split("/")[0]
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(work, **kwargs)
        src, dest = work / top, work / "destdir"
        with open(log_path, "w") as logf:
            log(f"building {prefix.name} (log: {log_path})")
            _step(["./configure", f"--prefix={prefix}"], src, logf, "configure", env)
            _step(["make", f"-j{jobs}"], src, logf, "make", env)
            _step(["make", "install", f"DESTDIR={dest}"], src, logf, "make install", env)
        staged = dest / prefix.relative_to("/")
        python = staged / "bin" / f"python{minor}"
        check = subprocess.run([str(python), "-c", "import ssl, sys; print(sys.version.split()[0], ssl.OPENSSL_VERSION)"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(env, PYTHONHOME=str(staged)))
        if check.returncode != 0:
            raise StockError(f"the built {python} cannot import ssl (was libssl-dev there?): "
                             f"{check.stdout.strip()[-400:]}; see {log_path}")
        seconds = time.monotonic() - start
        (staged / STAMP).write_text(json.dumps(
            {"tarball": tarball.name, "python": check.stdout.split()[0],
             "openssl": check.stdout.split(None, 1)[1].strip(), "build_seconds": round(seconds, 1)},
            indent=2) + "\n")
        os.rename(staged, prefix)  # atomic publish; the lock keeps others out
        return seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure(minor: str, *, update: bool = False, jobs: int = 2) -> Path:
    """The stock prefix of CPython ``minor``: cached, or fetched and built now."""
    entry = next((e for e in STOCK if e[0] == minor), None)
    if entry is None:
        raise StockError(f"no stock CPython {minor!r}; known: {', '.join(MINORS)}")
    _, package, suite = entry
    debian_version, version, sha256 = newest_orig(package, suite, update)
    prefix = prefix_for(version, sha256)
    if is_complete(prefix):
        log(f"{minor}: {prefix} (cached)")
        return prefix
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with cachelock.held(root, prefix.name, waiting=log):
        if is_complete(prefix):  # built by another process while we waited
            return prefix
        if prefix.exists():
            raise StockError(f"{prefix} exists without {STAMP}: not ours; move it away")
        ensure_apt_packages()
        tarball = fetch(package, suite, sha256)
        seconds = build(tarball, prefix, minor, jobs)
        log(f"{minor}: built {prefix} from Debian's {package} {debian_version} orig in {seconds:.0f} s")
    return prefix


def fetch(package: str, suite: str, sha256: str) -> Path:
    """The orig tarball with ``sha256``: reused from the sources directory,
    else downloaded and checked by fetch_sources."""
    dest = sources_dest()
    dest.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".stock-fetch-", dir=str(dest)))
    try:
        in_suite = fs.versions_in_suite(fs.suite_index_files(suite), [package])
        res = fs.fetch_package(package, package, suite, in_suite, dest, scratch,
                               list(fs.DEVELOPER_KEYRINGS), False)
    except fs.FetchError as exc:
        raise StockError(f"fetching {package} from {suite}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if res.sha256 != sha256:
        raise StockError(f"{package}: the newest orig in the index has sha256 {sha256} but only "
                         f"{res.debian_version} ({res.sha256}) could be downloaded; retry later")
    return Path(res.path)


def ensure_all(minors: Sequence[str] = MINORS, **kw) -> Dict[str, Path]:
    return {m: ensure(m, **kw) for m in minors}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="stock_pythons.py", description=__doc__.split("\n\n")[0])
    p.add_argument("minors", nargs="*", metavar="MINOR", help=f"default: all of {' '.join(MINORS)}")
    p.add_argument("--json", action="store_true", help="print {minor: prefix} as JSON on stdout")
    p.add_argument("--update", action="store_true", help="run apt-get update on the deb-src entries first")
    p.add_argument("-j", "--jobs", type=int, default=2, help="make -j (default: %(default)s)")
    args = p.parse_args(argv)
    unknown = [m for m in args.minors if m not in MINORS]
    if unknown:
        log(f"error: unknown minor {', '.join(unknown)}; known: {', '.join(MINORS)}")
        return 2
    try:
        prefixes = ensure_all(args.minors or MINORS, update=args.update, jobs=args.jobs)
    except (StockError, fs.FetchError) as exc:
        log(f"error: {exc}")
        return 1
    if args.json:
        print(json.dumps({m: str(pth) for m, pth in prefixes.items()}, indent=2))
    else:
        for m, pth in prefixes.items():
            print(f"{m}\t{pth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
