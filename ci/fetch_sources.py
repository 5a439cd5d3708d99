#!/usr/bin/env python3
"""Fetch the tarballs our recipes pin (OpenSSL, CPython, the Linux library
components) through apt.

CI machines here reach the internet only through package registries, so the
sources are taken from Debian's source archive (``*.orig.tar.*``).  Most of
Debian's orig tarballs are byte-identical to the upstream release tarballs;
some are not (zlib's ``dfsg`` repack, libffi's git snapshot, SQLite's full
tree).  What each one may be is decided against the recipe (``--recipe``):

* its sha256 is the recipe's upstream pin: the recipe's version, printed as
  overrides (no-ops, kept so that callers see every version);
* its sha256 is one of the recipe's ``alternatives`` for that source: nothing
  is printed, the recipe already pins it (``--source-dir`` finds it by sha256);
* neither, and Debian marks it as repacked (``+dfsg``, ``+ds``, ``+repack``,
  ``+really``): refused, with the alternative to add to the recipe once
  someone has checked it;
* neither, not marked: taken as upstream's tarball of Debian's version and
  printed as overrides (the versions apt offers become the build's).

This script

1. adds a ``deb-src`` sources file for ``--suite`` (default: trixie, plus its
   -updates and -security suites) when missing; the archive URIs are taken
   from the machine's existing apt configuration, never hard-wired;
2. runs ``apt-get update`` on that file only (apt verifies the signed
   InRelease files);
3. lists the versions ``apt-cache showsrc PKG`` offers from that suite,
   newest first, and runs ``apt-get source --download-only PKG=VERSION`` in a
   fresh directory until one yields both the ``.dsc`` and the orig tarball
   (mirrors sometimes list versions whose files are not there yet or any more);
4. checks: .dsc sha256/size == Sources index; orig sha256/size == Sources
   index == the .dsc's own Checksums-Sha256; the .dsc's OpenPGP signature via
   ``gpgv`` when a Debian developers keyring is installed (``--require-signature``
   installs ``debian-keyring`` and makes that check mandatory);
5. copies the orig tarball into ``--dest`` (Debian's file name; files already
   there with the right sha256 are reused, not downloaded again) and writes the
   recipe override file (TOML, for ``pybuildssl build --overrides FILE``) to
   stdout or ``--overrides-out FILE``, or, with ``--json``, a JSON object.

Progress goes to stderr; stdout carries only the result.  Python 3.9+ stdlib.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

PROG = "fetch_sources"
DEFAULT_PACKAGES = (("openssl", "openssl"), ("cpython", "python3.13"),
                    # the Linux library components (recipe section = Debian source package)
                    ("zlib", "zlib"), ("bzip2", "bzip2"), ("xz", "xz-utils"), ("libffi", "libffi"),
                    ("sqlite", "sqlite3"), ("ncurses", "ncurses"), ("readline", "readline"),
                    ("libuuid", "util-linux"))
DEFAULT_RECIPE = "linux-x86_64-generic"
DEFAULT_SUITE = "trixie"
ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Debian developers (and maintainers) keyrings, shipped by package debian-keyring.
DEVELOPER_KEYRINGS = (
    "/usr/share/keyrings/debian-keyring.gpg",
    "/usr/share/keyrings/debian-maintainers.gpg",
)
DEVELOPER_KEYRING_PACKAGE = "debian-keyring"
SOURCES_DIR = "/etc/apt/sources.list.d"
APT_HELPER = "/usr/lib/apt/apt-helper"
ORIG_EXTENSIONS = ("gz", "xz", "bz2", "lzma")
# Version suffixes Debian uses for repacked (i.e. not byte-identical) tarballs.
REPACK_RE = re.compile(r"[+~.](dfsg|ds|repack)\d*", re.IGNORECASE)
# "1.3.dfsg+really1.3.1": Debian's version ordering trick; the content is 1.3.1.
REALLY_RE = re.compile(r"^.*\+really(?=\d)")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class FetchError(Exception):
    """A failure reported to the user as one clear message (no traceback)."""


# ---------------------------------------------------------------------------
# Pure parsing (unit-tested without subprocesses)
# ---------------------------------------------------------------------------

def parse_deb822(text: str) -> List[Dict[str, str]]:
    """Split deb822 text (Sources index, ``apt-cache showsrc``, .dsc body) into
    paragraphs.  Field names are lower-cased (they are case-insensitive);
    continuation lines are joined with ``\\n`` (a lone ``.`` is an empty line).
    """
    paragraphs: List[Dict[str, str]] = []
    current: Dict[str, str] = {}
    last: Optional[str] = None
    for raw in text.splitlines():
        if not raw.strip():
            if current:
                paragraphs.append(current)
            current, last = {}, None
            continue
        if raw.startswith("#"):
            continue
        if raw[0] in " \t":
            if last is None:
                raise ValueError(f"continuation line without a field: {raw!r}")
            value = raw.strip()
            current[last] += "\n" + ("" if value == "." else value)
            continue
        name, sep, value = raw.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"not a deb822 field line: {raw!r}")
        last = name.strip().lower()
        current[last] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


def parse_checksums(value: str) -> Dict[str, Tuple[str, int]]:
    """Parse a ``Checksums-Sha256`` field value into {file name: (sha256, size)}."""
    result: Dict[str, Tuple[str, int]] = {}
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3 or not SHA256_RE.match(parts[0].lower()) or not parts[1].isdigit():
            raise ValueError(f"malformed Checksums-Sha256 line: {line!r}")
        digest, size, name = parts
        if name in result and result[name] != (digest.lower(), int(size)):
            raise ValueError(f"conflicting Checksums-Sha256 entries for {name}")
        result[name] = (digest.lower(), int(size))
    return result


def upstream_version(debian_version: str) -> str:
    """Debian version -> upstream version: drop the epoch and the Debian revision.

    ``1:3.5.7-1~deb13u2`` -> ``3.5.7``.  Native packages (no revision) have no
    orig tarball and repacked tarballs (+dfsg, +ds, +repack) are not
    byte-identical to upstream: both are errors.
    """
    upstream, repacked, _ = split_upstream(debian_version)
    if repacked:
        raise FetchError(
            f"Debian version {debian_version!r} marks a repacked tarball; it is not "
            "byte-identical to the upstream release")
    return upstream


def split_upstream(debian_version: str) -> Tuple[str, bool, str]:
    """(Debian's upstream version string, repacked?, the upstream version it holds).

    ``1:1.3.dfsg+really1.3.1-1`` -> (``1.3.dfsg+really1.3.1``, True, ``1.3.1``);
    ``8.6.16+dfsg-1`` -> (``8.6.16+dfsg``, True, ``8.6.16``); ``3.5.7-1`` ->
    (``3.5.7``, False, ``3.5.7``).  The first is what the orig tarball is named after.
    """
    version = debian_version.strip()
    if ":" in version:
        epoch, _, version = version.partition(":")
        if not epoch.isdigit():
            raise FetchError(f"malformed Debian version {debian_version!r}")
    if "-" not in version:
        raise FetchError(
            f"Debian version {debian_version!r} has no Debian revision: a native "
            "package has no upstream (orig) tarball")
    upstream = version.rsplit("-", 1)[0]
    if not upstream or not upstream[0].isdigit():
        raise FetchError(f"malformed Debian version {debian_version!r}")
    really = REALLY_RE.sub("", upstream)
    repacked = bool(REPACK_RE.search(upstream)) or really != upstream
    return upstream, repacked, REPACK_RE.sub("", really)


def orig_tarball_name(source: str, upstream: str, names: Iterable[str]) -> str:
    """The one ``SOURCE_UPSTREAM.orig.tar.EXT`` among ``names`` (else FetchError)."""
    wanted = {f"{source}_{upstream}.orig.tar.{ext}" for ext in ORIG_EXTENSIONS}
    found = sorted(n for n in names if n in wanted)
    if len(found) != 1:
        origs = sorted(n for n in names if ".orig" in n and not n.endswith(".asc"))
        raise FetchError(
            f"expected exactly one orig tarball named {source}_{upstream}.orig.tar.* "
            f"but the source lists {origs or 'none'}")
    return found[0]


def dsc_name(source: str, debian_version: str) -> str:
    version = debian_version.partition(":")[2] if ":" in debian_version else debian_version
    return f"{source}_{version}.dsc"


def clearsigned_body(text: str) -> Tuple[str, bool]:
    """Return (signed text, was_clearsigned) of a possibly clearsigned message.

    Only the text between the armor header block and the signature is kept, with
    dash-escaping undone; anything outside the signed part is dropped.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "-----BEGIN PGP SIGNED MESSAGE-----":
        return text, False
    i = 1
    while i < len(lines) and lines[i].strip():  # armor headers (Hash: ...)
        i += 1
    body: List[str] = []
    for line in lines[i + 1:]:
        if line.strip() == "-----BEGIN PGP SIGNATURE-----":
            return "\n".join(body) + "\n", True
        body.append(line[2:] if line.startswith("- ") else line)
    raise ValueError("clearsigned message without a signature block")


def dsc_checksums(dsc_text: str) -> Dict[str, Tuple[str, int]]:
    """{file name: (sha256, size)} from the signed part of a .dsc."""
    body, _ = clearsigned_body(dsc_text)
    paragraphs = parse_deb822(body)
    if not paragraphs:
        raise ValueError("empty .dsc")
    value = paragraphs[0].get("checksums-sha256")
    if not value:
        raise ValueError(".dsc has no Checksums-Sha256 field")
    return parse_checksums(value)


def check_entry(what: str, expected: Tuple[str, int], actual: Tuple[str, int],
                source: str) -> None:
    """Raise FetchError unless (sha256, size) ``actual`` equals ``expected``."""
    if expected[0].lower() != actual[0].lower() or int(expected[1]) != int(actual[1]):
        raise FetchError(
            f"checksum mismatch for {what}: {source} says sha256={expected[0]} "
            f"size={expected[1]}, got sha256={actual[0]} size={actual[1]}")


@dataclass
class Candidate:
    package: str
    version: str
    checksums: Dict[str, Tuple[str, int]]
    conflict: bool = False
    suites: List[str] = field(default_factory=list)


def candidates_from_showsrc(text: str, package: str) -> List[Candidate]:
    """Source versions of ``package`` in ``apt-cache showsrc`` output, in order
    of appearance, one per version.  ``showsrc`` also matches binary package
    names, so paragraphs of other source packages are ignored.  A version listed
    twice with different checksums is kept but marked ``conflict``.
    """
    by_version: Dict[str, Candidate] = {}
    for par in parse_deb822(text):
        if par.get("package") != package or "version" not in par:
            continue
        sums = parse_checksums(par.get("checksums-sha256", ""))
        version = par["version"]
        if version in by_version:
            if by_version[version].checksums != sums:
                by_version[version].conflict = True
            continue
        by_version[version] = Candidate(package, version, sums)
    return list(by_version.values())


def sort_newest_first(versions: Sequence[str],
                      compare: Callable[[str, str], int]) -> List[str]:
    return sorted(versions, key=functools.cmp_to_key(compare), reverse=True)


def sources_file_text(suite: str, main_uri: str, security_uri: Optional[str],
                      keyring: str = ARCHIVE_KEYRING) -> str:
    text = (
        "# Written by pybuildssl ci/fetch_sources.py: Debian source indexes used\n"
        "# only to fetch upstream tarballs (*.orig.tar.*).  Safe to delete.\n"
        "Types: deb-src\n"
        f"URIs: {main_uri}\n"
        f"Suites: {suite} {suite}-updates\n"
        "Components: main\n"
        f"Signed-By: {keyring}\n"
    )
    if security_uri:
        text += (
            "\n"
            "Types: deb-src\n"
            f"URIs: {security_uri}\n"
            f"Suites: {suite}-security\n"
            "Components: main\n"
            f"Signed-By: {keyring}\n"
        )
    return text


def pick_archive_uris(targets: Sequence[Dict[str, str]],
                      exclude_entry_prefix: str) -> Tuple[Optional[str], Optional[str]]:
    """(main archive URI, security archive URI) from ``apt-get indextargets``
    records of the existing configuration (only Debian-origin ones)."""
    main = security = None
    for t in targets:
        if t.get("sourcesentry", "").startswith(exclude_entry_prefix):
            continue
        if t.get("origin") != "Debian":
            continue
        uri = t.get("repo-uri", "").rstrip("/")
        if not uri:
            continue
        release = t.get("release", "")
        is_security = (t.get("label") == "Debian-Security"
                       or release.endswith("-security") or release.endswith("/updates"))
        if is_security:
            security = security or uri
        else:
            main = main or uri
    return main, security


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


def indextargets(*filters: str) -> List[Dict[str, str]]:
    proc = run(["apt-get", "indextargets", *filters], check=True,
               what="apt-get indextargets")
    return parse_deb822(proc.stdout)


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
        if os.path.exists(APT_HELPER):
            cmd = [APT_HELPER, "cat-file", filename]
        elif not filename.endswith((".lz4", ".gz", ".xz", ".zst", ".bz2", ".lzma")):
            cmd = ["cat", filename]
        else:
            raise FetchError(f"{APT_HELPER} is missing; cannot read {filename}")
        env = dict(os.environ, LC_ALL="C")
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True,
                              errors="replace") as proc:
            assert proc.stdout is not None
            package = None
            for line in proc.stdout:
                line = line.rstrip("\n")
                if not line:
                    package = None
                elif line in heads:
                    package = line.split(":", 1)[1].strip()
                elif package and line.startswith("Version:"):
                    key = (package, line.split(":", 1)[1].strip())
                    found.setdefault(key, []).append(release)
        if proc.returncode != 0:
            raise FetchError(f"could not read {filename} (exit {proc.returncode})")
    return found


# ---------------------------------------------------------------------------
# Download and verification
# ---------------------------------------------------------------------------

@dataclass
class Result:
    key: str
    package: str
    debian_version: str
    version: str
    sha256: str
    size: int
    path: str
    signature_checked: bool
    signer: Optional[str] = None
    repacked: bool = False
    holds: str = ""              # the upstream version the tarball holds
    pinned_as: str = "override"  # "primary", "alternative" or "override" (see the module doc)
    dsc_checked: bool = True


_HASHED: Dict[Tuple[str, int, int], str] = {}


def find_cached(dest: Path, sha256: str, size: int) -> Optional[Path]:
    """A file in ``dest`` (any name) with this sha256 and size, if there is one."""
    for p in sorted(dest.iterdir()):
        if p.name.startswith(".") or not p.is_file():
            continue
        try:
            st = p.stat()
            if st.st_size != size:
                continue
            key = (str(p), st.st_size, st.st_mtime_ns)
            if key not in _HASHED:
                _HASHED[key] = sha256_file(p)[0]
            if _HASHED[key] == sha256:
                return p
        except OSError:
            continue
    return None


def apt_source(package: str, version: str, workdir: Path) -> subprocess.CompletedProcess:
    return run(["apt-get", "source", "--download-only", "--only-source",
                f"{package}={version}"],
               cwd=str(workdir))


def apt_errors(proc: subprocess.CompletedProcess) -> str:
    lines = [re.sub(r"\s*\[IP: [^]]*\]", "", l.strip())
             for l in (proc.stderr + proc.stdout).splitlines()
             if l.startswith("E:") and "Failed to fetch some archives" not in l]
    return "; ".join(lines[:4]) or f"exit {proc.returncode}"


def check_signature(dsc: Path, keyrings: Sequence[str], workdir: Path,
                    required: bool) -> Tuple[bool, Optional[str], Optional[str]]:
    """(checked, signer fingerprint, signed text) for a .dsc via gpgv.

    A BAD signature always fails; a missing keyring or key only fails when
    ``required``.
    """
    present = [k for k in keyrings if Path(k).exists()]
    if not present:
        if required:
            raise FetchError(f"no developer keyring found ({', '.join(keyrings)})")
        return False, None, None
    out = workdir / (dsc.name + ".signed")
    cmd = ["gpgv", "--status-fd", "1", "--output", str(out)]
    for k in present:
        cmd += ["--keyring", k]
    proc = run(cmd + [str(dsc)])
    status = proc.stdout
    if "[GNUPG:] BADSIG" in status:
        raise FetchError(f"BAD OpenPGP signature on {dsc.name}")
    m = re.search(r"^\[GNUPG:\] VALIDSIG (\S+)", status, re.M)
    if proc.returncode == 0 and m and out.exists():
        return True, m.group(1), out.read_text(errors="replace")
    problems = [l[len("[GNUPG:] "):] for l in status.splitlines()
                if l.split()[1:2] and l.split()[1] in
                ("NO_PUBKEY", "EXPKEYSIG", "REVKEYSIG", "EXPSIG", "ERRSIG", "NODATA")]
    reason = "; ".join(problems) or (proc.stderr.strip().splitlines() or
                                     [f"gpgv exit {proc.returncode}"])[-1]
    if required:
        raise FetchError(f"signature check of {dsc.name} failed: {reason}")
    log(f"warning: could not verify the signature of {dsc.name}: {reason}")
    return False, None, None


def verify_download(cand: Candidate, workdir: Path, dsc: str, orig: str,
                    keyrings: Sequence[str], require_signature: bool
                    ) -> Tuple[Tuple[str, int], bool, Optional[str]]:
    dsc_path, orig_path = workdir / dsc, workdir / orig
    check_entry(dsc, cand.checksums[dsc], sha256_file(dsc_path), "the Sources index")
    orig_sum = sha256_file(orig_path)
    check_entry(orig, cand.checksums[orig], orig_sum, "the Sources index")
    checked, signer, signed_text = check_signature(dsc_path, keyrings, workdir,
                                                   require_signature)
    try:
        if signed_text is not None:
            body, clearsigned = signed_text, True  # exactly what gpgv verified
        else:
            body, clearsigned = clearsigned_body(dsc_path.read_text(errors="replace"))
        par = parse_deb822(body)[0]
        in_dsc = parse_checksums(par.get("checksums-sha256", ""))
    except (ValueError, IndexError) as exc:
        raise FetchError(f"cannot parse {dsc}: {exc}") from None
    if not clearsigned:
        if require_signature:
            raise FetchError(f"{dsc} is not signed")
        log(f"warning: {dsc} is not clearsigned")
    if par.get("source") != cand.package or par.get("version") != cand.version:
        raise FetchError(f"{dsc} describes {par.get('source')} {par.get('version')}, "
                         f"expected {cand.package} {cand.version}")
    if orig not in in_dsc:
        raise FetchError(f"{dsc} does not list {orig} in Checksums-Sha256")
    check_entry(orig, in_dsc[orig], orig_sum, dsc)
    return orig_sum, checked, signer


def _seed(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def fetch_one(key: str, package: str, candidates: List[Candidate], dest: Path,
              scratch: Path, keyrings: Sequence[str], require_signature: bool) -> Result:
    """Try ``candidates`` (newest first) until one downloads and verifies.

    Orig tarballs are seeded into apt's working directory from ``dest`` (files
    of any name with the index's sha256) or from ``scratch/verified`` (origs
    fetched by a failed attempt whose sha256 matched the index): apt skips
    files that are already present with the right checksums.
    """
    tried = []
    staged_dir = scratch / "verified"
    staged_dir.mkdir(exist_ok=True)
    orig_only: List[Tuple[Candidate, str, str]] = []
    for cand in candidates:
        label = f"{package} {cand.version} ({'/'.join(cand.suites)})"
        if cand.conflict:
            log(f"{label}: skipped, the indexes disagree about its checksums")
            tried.append(f"{cand.version}: conflicting index entries")
            continue
        upstream, repacked, holds = split_upstream(cand.version)
        dsc = dsc_name(package, cand.version)
        orig = orig_tarball_name(package, upstream, cand.checksums)
        if dsc not in cand.checksums:
            raise FetchError(f"{label}: the Sources index does not list {dsc}")
        orig_sha, orig_size = cand.checksums[orig]
        cached = find_cached(dest, orig_sha, orig_size)
        staged = staged_dir / orig_sha
        workdir = Path(tempfile.mkdtemp(prefix="attempt-", dir=str(scratch)))
        try:
            if cached is not None:
                _seed(cached, workdir / orig)
                log(f"{label}: {orig} already in {dest} as {cached.name}; "
                    "fetching the .dsc only")
            elif staged.exists():
                _seed(staged, workdir / orig)
                log(f"{label}: reusing the {orig} fetched a moment ago; "
                    "fetching the .dsc only")
            else:
                log(f"{label}: downloading ({orig_size / 1e6:.1f} MB)")
            proc = apt_source(package, cand.version, workdir)
            have = [n for n in (dsc, orig) if (workdir / n).is_file()]
            if len(have) != 2:
                missing = ", ".join(n for n in (dsc, orig) if n not in have)
                log(f"{label}: unavailable (missing {missing}): {apt_errors(proc)}")
                tried.append(f"{cand.version}: missing {missing}")
                if orig in have and not staged.exists() \
                        and sha256_file(workdir / orig) == (orig_sha, orig_size):
                    os.replace(workdir / orig, staged)
                if staged.exists() or cached is not None:
                    orig_only.append((cand, orig, upstream))
                continue
            if proc.returncode != 0:
                log(f"{label}: apt-get reported errors for other files, "
                    f"the .dsc and orig are there: {apt_errors(proc)}")
            (sha, size), checked, signer = verify_download(
                cand, workdir, dsc, orig, keyrings, require_signature)
            if cached is not None:
                final = cached
            else:
                final = dest / orig
                os.replace(workdir / orig, final)
                os.chmod(final, 0o644)
            log(f"{label}: OK -> {final} (sha256 {sha}; signature "
                f"{'checked, key ' + signer if checked else 'not checked'})")
            return Result(key, package, cand.version, upstream, sha, size,
                          str(final.resolve()), checked, signer, repacked, holds)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    if orig_only and not require_signature:
        # Mirrors sometimes lack a .dsc the index lists while the orig is there.
        # The orig's sha256 and size are still those of the Sources index, whose
        # InRelease signature apt verified: enough to know Debian published it.
        cand, orig, upstream = orig_only[0]
        orig_sha, orig_size = cand.checksums[orig]
        cached = find_cached(dest, orig_sha, orig_size)
        final = cached if cached is not None else dest / orig
        if cached is None:
            os.replace(staged_dir / orig_sha, final)
            os.chmod(final, 0o644)
        _, repacked, holds = split_upstream(cand.version)
        log(f"{package} {cand.version}: no .dsc on the mirror; {orig} checked against the "
            f"signed Sources index only -> {final} (sha256 {orig_sha})")
        return Result(key, package, cand.version, upstream, orig_sha, orig_size, str(final.resolve()),
                      False, None, repacked, holds, dsc_checked=False)
    raise FetchError(f"no version of {package} could be downloaded: "
                     + ("; ".join(tried) or "none offered"))


# ---------------------------------------------------------------------------
# What the recipe says about each tarball
# ---------------------------------------------------------------------------

def recipe_sources(name: str) -> Dict[str, object]:
    """{recipe section: pybuildssl.recipe.Source} of recipe ``name`` (every component,
    switched on or not), read with pybuildssl itself from this checkout."""
    repo = Path(__file__).resolve().parent.parent
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        from pybuildssl import recipe as recipe_mod
        from pybuildssl.errors import RecipeError
    except ImportError as exc:  # pragma: no cover - pybuildssl's dependencies missing
        raise FetchError(f"cannot import pybuildssl to read the recipe's pins: {exc}") from None
    switches = [f"components.{k}=true" for k in recipe_mod.SCHEMA["components"]]
    try:
        r = recipe_mod.load(name, switches)
    except RecipeError as exc:
        raise FetchError(f"recipe {name}: {exc.message}") from None
    out: Dict[str, object] = {"openssl": r.openssl, "cpython": r.cpython}
    out.update(r.components)
    return out


def classify(result: Result, source: Optional[object]) -> Dict[str, Dict[str, object]]:
    """Decide what ``result`` is for the recipe (sets ``result.pinned_as``) and
    return the recipe keys to override, as data ({section: {key: value}}).
    Raises FetchError for an unpinned repack."""
    pinned = source.pinned_as(result.sha256) if source is not None else ""  # type: ignore[attr-defined]
    if pinned == "alternative":
        result.pinned_as = "alternative"
        log(f"{result.key}: {Path(result.path).name} is pinned by the recipe as an alternative of "
            f"{result.key} {source.version}; no override needed")  # type: ignore[attr-defined]
        return {}
    if pinned == "primary":
        result.pinned_as = "primary"
        result.version = source.version  # type: ignore[attr-defined]
    elif result.repacked:
        name = Path(result.path).name
        raise FetchError(
            f"Debian's {result.package} {result.debian_version} is a repack ({name}, sha256 "
            f"{result.sha256}, {result.size} bytes) that the recipe does not pin. If it holds "
            f"{result.key} {result.holds} as upstream released it (check what Debian removed), add "
            f'{{ file = "{name}", sha256 = "{result.sha256}", size = {result.size}, note = "..." }} '
            f"to [{result.key}].alternatives in recipes/_common.toml, next to the pins of "
            f"{result.key} {result.holds}")
    else:
        result.pinned_as = "override"
    return {result.key: {"version": result.version, "sha256": result.sha256, "size": result.size}}


def overrides_toml(overrides: Dict[str, Dict[str, object]]) -> str:
    """A recipe override file (``pybuildssl build --overrides FILE``): data,
    never command-line text for a shell to split."""
    lines = ["# Written by ci/fetch_sources.py: the versions and pins of the tarballs",
             "# fetched from Debian's source packages (byte-identical to upstream's).", ""]
    for section in sorted(overrides):
        lines.append(f"[{section}]")
        for key, value in overrides[section].items():
            lines.append(f"{key} = {json.dumps(value)}")  # a JSON string or integer is valid TOML
        lines.append("")
    return "\n".join(lines)





def fetch_package(key: str, package: str, suite: str,
                  in_suite: Dict[Tuple[str, str], List[str]], dest: Path,
                  scratch: Path, keyrings: Sequence[str],
                  require_signature: bool) -> Result:
    proc = run(["apt-cache", "showsrc", "--only-source", package])
    try:
        cands = candidates_from_showsrc(proc.stdout, package)
    except ValueError as exc:
        raise FetchError(f"cannot parse apt-cache showsrc {package}: {exc}") from None
    kept = []
    for c in cands:
        c.suites = in_suite.get((package, c.version), [])
        if c.suites:
            kept.append(c)
        else:
            log(f"{package} {c.version}: ignored, not in {suite}*")
    if not kept:
        raise FetchError(f"apt offers no {package} source in {suite}* "
                         f"(apt-cache showsrc exit {proc.returncode})")
    order = sort_newest_first([c.version for c in kept], dpkg_compare)
    by_version = {c.version: c for c in kept}
    log(f"{package}: candidates newest first: {', '.join(order)}")
    return fetch_one(key, package, [by_version[v] for v in order], dest, scratch,
                     keyrings, require_signature)


def ensure_developer_keyring(keyrings: Sequence[str]) -> None:
    if any(Path(k).exists() for k in keyrings):
        return
    if not is_root():
        raise FetchError(f"--require-signature: {keyrings[0]} is missing and only "
                         f"root can install {DEVELOPER_KEYRING_PACKAGE}")
    log(f"installing {DEVELOPER_KEYRING_PACKAGE} (large) for --require-signature")
    run(["apt-get", "install", "-y", "--no-install-recommends",
         DEVELOPER_KEYRING_PACKAGE], check=True,
        what=f"apt-get install {DEVELOPER_KEYRING_PACKAGE}")


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def parse_package_spec(spec: str) -> Tuple[str, str]:
    key, sep, package = spec.partition("=")
    if not sep or not re.match(r"^[a-z][a-z0-9_]*$", key) \
            or not re.match(r"^[a-z0-9][a-z0-9.+-]+$", package):
        raise argparse.ArgumentTypeError(
            f"expected RECIPE_KEY=DEBIAN_SOURCE_PACKAGE (e.g. openssl=openssl), got {spec!r}")
    return key, package


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fetch_sources.py",
        description="Fetch upstream OpenSSL/CPython tarballs from Debian's source "
                    "archive via apt and print pybuildssl recipe overrides.")
    p.add_argument("--dest", required=True, type=Path,
                   help="directory receiving the tarballs (pass it as --source-dir)")
    p.add_argument("--package", action="append", type=parse_package_spec,
                   metavar="KEY=SOURCE",
                   help="recipe key and Debian source package (repeatable; default: "
                        + " ".join(f"{k}={v}" for k, v in DEFAULT_PACKAGES) + ")")
    p.add_argument("--recipe", default=DEFAULT_RECIPE,
                   help="recipe whose pins decide what each tarball is (default: %(default)s)")
    p.add_argument("--suite", default=DEFAULT_SUITE,
                   help="Debian suite (with its -updates and -security; default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print a JSON object instead")
    p.add_argument("--overrides-out", type=Path, metavar="FILE",
                   help="write the recipe override file (TOML) there, atomically, instead of stdout")
    p.add_argument("--require-signature", action="store_true",
                   help=f"install {DEVELOPER_KEYRING_PACKAGE} if needed and fail unless "
                        "gpgv verifies each .dsc signature")
    p.add_argument("--keyring", action="append", metavar="FILE",
                   help="keyring(s) for the .dsc signature check (default: "
                        + ", ".join(DEVELOPER_KEYRINGS) + ")")
    p.add_argument("--no-update", action="store_true",
                   help="skip apt-get update and use the indexes already present")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    packages = args.package or list(DEFAULT_PACKAGES)
    keys = [k for k, _ in packages]
    if len(set(keys)) != len(keys):
        log("error: a recipe key is given twice in --package")
        return 2
    if not re.match(r"^[a-z][a-z0-9-]*$", args.suite):
        log(f"error: bad suite name {args.suite!r}")
        return 2
    keyrings = args.keyring or list(DEVELOPER_KEYRINGS)
    try:
        for tool in ("apt-get", "apt-cache", "dpkg", "gpgv"):
            if shutil.which(tool) is None:
                raise FetchError(f"{tool} not found: this needs a Debian system with apt")
        pins = recipe_sources(args.recipe)  # first: a broken recipe fails before apt runs
        dest = args.dest
        dest.mkdir(parents=True, exist_ok=True)
        sources = ensure_sources_file(args.suite)
        if not args.no_update:
            apt_update(sources)
        if args.require_signature:
            ensure_developer_keyring(keyrings)
        index_files = suite_index_files(args.suite)
        in_suite = versions_in_suite(index_files, [p for _, p in packages])
        overrides: Dict[str, Dict[str, object]] = {}
        scratch = Path(tempfile.mkdtemp(prefix=".fetch-sources-", dir=str(dest)))
        try:
            results = []
            for key, package in packages:
                res = fetch_package(key, package, args.suite, in_suite, dest, scratch,
                                    keyrings, args.require_signature)
                overrides.update(classify(res, pins.get(key)))
                results.append(res)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except FetchError as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130

    if args.json:
        print(json.dumps({r.key: {"version": r.version, "sha256": r.sha256,
                                  "size": r.size, "path": r.path,
                                  "debian_version": r.debian_version,
                                  "pinned_as": r.pinned_as,
                                  "dsc_checked": r.dsc_checked,
                                  "signature_checked": r.signature_checked}
                          for r in results}, indent=2))
    elif args.overrides_out:
        tmp = args.overrides_out.with_name(args.overrides_out.name + ".tmp")
        tmp.write_text(overrides_toml(overrides), encoding="utf-8")
        os.replace(tmp, args.overrides_out)
        log(f"wrote {args.overrides_out} (use: pybuildssl build --overrides {args.overrides_out})")
    else:
        sys.stdout.write(overrides_toml(overrides))
    return 0


if __name__ == "__main__":
    sys.exit(main())
