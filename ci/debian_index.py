#!/usr/bin/env python3
"""Debian's source archive as CI reads it, the pure part: deb822 parsing, Debian versions and
orig tarball names, .dsc checksums and clearsigned text, sources files; no subprocess.

Shared by ci/debian_apt.py (running apt, reading its signed Sources indices),
ci/debian_fetch.py, ci/fetch_sources.py, ci/stock_pythons.py and ci/track_pins.py
(unit-tested in tests/unit/test_fetch_sources.py).  Python 3.9+ stdlib.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
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
    #: apt options that reach the index listing it (a private state's; () for the machine's own)
    apt_options: Tuple[str, ...] = ()


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


def paragraphs_of(lines: Iterable[str], packages: Iterable[str]) -> List[Dict[str, str]]:
    """The deb822 paragraphs of ``packages`` in an index (the others are skipped unparsed)."""
    wanted = {f"Package: {p}" for p in packages}
    out: List[Dict[str, str]] = []
    chunk: List[str] = []
    keep = False
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            if keep:
                out.extend(parse_deb822("\n".join(chunk)))
            chunk, keep = [], False
            continue
        chunk.append(line)
        keep = keep or line in wanted
    if keep:
        out.extend(parse_deb822("\n".join(chunk)))
    return out


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
