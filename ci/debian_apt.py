#!/usr/bin/env python3
"""Debian's source archive as CI reads it, through apt: running tools, apt's configuration
(the machine's, or a private state for extra suites) and its signed Sources indices
(``apt-get indextargets``: apt verified each InRelease), without downloading any tarball.
Python 3.9+ stdlib.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from debian_index import (  # noqa: E402  (a sibling script, found beside this one)
    APT_HELPER, ARCHIVE_KEYRING, PROG, SOURCES_DIR, FetchError, parse_deb822, pick_archive_uris, sources_file_text,
)


# ---------------------------------------------------------------------------
# Running tools
# ---------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


def run(cmd: Sequence[str], *, cwd: Optional[str] = None, check: bool = False,
        what: Optional[str] = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, LC_ALL="C", LANG="C", DEBIAN_FRONTEND="noninteractive")
    env.pop("LANGUAGE", None)
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace")
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} not found: is this a Debian system with apt?") from None
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise FetchError(f"{what or ' '.join(cmd)} failed (exit {proc.returncode}):\n{tail}")
    return proc


def dpkg_compare(a: str, b: str) -> int:
    if a == b:
        return 0
    if run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0:
        return -1
    if run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0:
        return 0
    return 1


def indextargets(*filters: str, apt_options: Sequence[str] = ()) -> List[Dict[str, str]]:
    proc = run(["apt-get", *apt_options, "indextargets", *filters], check=True,
               what="apt-get indextargets")
    return parse_deb822(proc.stdout)


def trusted_sources_indices(apt_options: Sequence[str] = ()) -> List[Tuple[str, str]]:
    """[(release, Sources index file)] of every deb-src index apt has, each signed and verified
    (``Trusted: yes``: apt checked its InRelease against the archive keyring)."""
    out = []
    for t in indextargets("Created-By: Sources", apt_options=apt_options):
        if t.get("trusted") == "yes" and Path(t.get("filename", "")).exists():
            out.append((t.get("release") or t.get("codename", "?"), t["filename"]))
    return out


def private_state_options(root: Path) -> List[str]:
    """apt options for a private state under ``root`` (its own sources file and lists):
    suites the machine's configuration does not carry, read without touching it.

    ``Check-Valid-Until=false``: sid's and forky's Release files carry a Valid-Until of a
    week, and a mirror that serves a snapshot (as here) is past it on a fresh machine whose
    apt configuration says nothing (the clean room).  The signature is still checked; only
    the expiry is not, and what is read here (the sha256 of a named upstream release tarball)
    does not go stale: a replayed old index can hide a newer release, never change a pin.
    """
    return ["-o", f"Dir::Etc::SourceList={root / 'extra.sources'}", "-o", "Dir::Etc::SourceParts=-",
            "-o", f"Dir::State::Lists={root / 'lists'}", "-o", "APT::Get::List-Cleanup=0",
            "-o", "Acquire::Check-Valid-Until=false"]


def update_private_state(root: Path, suites: Sequence[str]) -> List[str]:
    """Write ``root``'s sources (deb-src for ``suites`` from the machine's own Debian archive
    URI) and run apt-get update on it; returns the options that read it."""
    main, _ = pick_archive_uris(indextargets(), str(root))
    if main is None:
        raise FetchError("could not find a Debian archive in the apt configuration")
    (root / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    text = ("# Written by pybuildssl's ci scripts: extra deb-src suites, private to this directory.\n"
            f"Types: deb-src\nURIs: {main}\nSuites: {' '.join(suites)}\nComponents: main\n"
            f"Signed-By: {ARCHIVE_KEYRING}\n")
    tmp = root / "extra.sources.tmp"
    tmp.write_text(text)
    os.replace(tmp, root / "extra.sources")
    options = private_state_options(root)
    log(f"apt-get update ({', '.join(suites)}, private state in {root})")
    run(["apt-get", "update", "--error-on=any", *options], check=True, what="apt-get update (extra suites)")
    return options


def index_lines(filename: str) -> Iterator[str]:
    """The text of one (compressed) index file, line by line, read with apt's own helper."""
    if os.path.exists(APT_HELPER):
        cmd = [APT_HELPER, "cat-file", filename]
    elif not filename.endswith((".lz4", ".gz", ".xz", ".zst", ".bz2", ".lzma")):
        cmd = ["cat", filename]
    else:
        raise FetchError(f"{APT_HELPER} is missing; cannot read {filename}")
    env = dict(os.environ, LC_ALL="C")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True, errors="replace") as proc:
        assert proc.stdout is not None
        yield from proc.stdout
    if proc.returncode != 0:
        raise FetchError(f"could not read {filename} (exit {proc.returncode})")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sha256_file(path: Path) -> Tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


# ---------------------------------------------------------------------------
# apt configuration
# ---------------------------------------------------------------------------

def sources_file_path(suite: str) -> Path:
    return Path(SOURCES_DIR) / f"pybuildssl-{suite}-src.sources"


def ensure_sources_file(suite: str) -> Path:
    path = sources_file_path(suite)
    if path.exists():
        log(f"using existing {path}")
        return path
    if not is_root():
        raise FetchError(f"{path} is missing and only root can create it")
    if not Path(ARCHIVE_KEYRING).exists():
        raise FetchError(f"{ARCHIVE_KEYRING} is missing (package debian-archive-keyring)")
    main, security = pick_archive_uris(indextargets(), str(path))
    if main is None:
        log("no Debian archive known to apt yet; running apt-get update")
        run(["apt-get", "update"], check=True, what="apt-get update")
        main, security = pick_archive_uris(indextargets(), str(path))
    if main is None:
        raise FetchError("could not find a Debian archive in the apt configuration "
                         "(no index target with Origin: Debian)")
    if security is None:
        log(f"warning: no Debian security archive configured; {suite}-security "
            "is left out (older versions only)")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(sources_file_text(suite, main, security))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    log(f"wrote {path} (from the existing apt configuration)")
    return path


def apt_update(sources: Path) -> None:
    if not is_root():
        raise FetchError("apt-get update needs root (use --no-update to rely on the "
                         "indexes already present)")
    log(f"apt-get update ({sources.name} only)")
    run(["apt-get", "update", "--error-on=any",
         "-o", f"Dir::Etc::SourceList={sources}",
         "-o", "Dir::Etc::SourceParts=-",
         "-o", "APT::Get::List-Cleanup=0"],
        check=True, what="apt-get update")


def suite_names(suite: str) -> List[str]:
    return [suite, f"{suite}-updates", f"{suite}-security"]


def suite_index_files(suite: str) -> List[Tuple[str, str]]:
    """[(release, Sources index file)] for the suite family; all must be Trusted."""
    wanted = suite_names(suite)
    result = []
    for t in indextargets("Created-By: Sources"):
        release = t.get("release", "")
        if release not in wanted and t.get("codename", "") not in wanted:
            continue
        if t.get("trusted") != "yes":
            raise FetchError(f"apt does not trust the {release} Sources index "
                             f"({t.get('description', '')}); refusing to use it")
        if not Path(t.get("filename", "")).exists():
            raise FetchError(f"{release} Sources index is missing "
                             f"({t.get('filename')}); run without --no-update")
        result.append((release, t["filename"]))
    if not any(r == suite for r, _ in result):
        raise FetchError(f"apt has no deb-src index for suite {suite!r}; "
                         f"check {sources_file_path(suite)}")
    return result


def versions_in_suite(index_files: Sequence[Tuple[str, str]],
                      packages: Iterable[str]) -> Dict[Tuple[str, str], List[str]]:
    """{(package, version): [releases]} read from the suite's Sources indexes."""
    heads = {f"Package: {p}" for p in packages}
    found: Dict[Tuple[str, str], List[str]] = {}
    for release, filename in index_files:
        package = None
        for line in index_lines(filename):
            line = line.rstrip("\n")
            if not line:
                package = None
            elif line in heads:
                package = line.split(":", 1)[1].strip()
            elif package and line.startswith("Version:"):
                key = (package, line.split(":", 1)[1].strip())
                found.setdefault(key, []).append(release)
    return found
