#!/usr/bin/env python3
"""For every pin in pybuildssl/data/pins.toml, the newest upstream patch release of its line
that each source knows; with --write, the pins file updated (atomically).

    python ci/track_pins.py [--extra-suite sid --extra-suite forky] [--no-update] [--no-upstream] [--write]

Two kinds of source are consulted.  Debian's Sources indices are signed: each lists the
orig tarball of a release (byte-identical to upstream's release tarball) with its sha256
and size, and apt verifies each index's InRelease signature against the Debian archive
keyring.  The indices of the machine's own apt configuration are read as they are; the
extra suites (default: sid and forky, where new upstream releases arrive first) through a
private apt state in $PYBUILDSSL_CACHE/apt-extra, which leaves the machine's configuration
alone.  A listed file need not be served by the mirror: the pin is the sha256, and
ci/fetch_sources.py fetches what is served.

The upstream sites, when the network reaches them (ci/upstream_index.py says which
document states each format): python.org's downloads API (the sha256_sum of
Python-X.Y.Z.tar.xz, or the SHA256 in the SBOM published beside it) and OpenSSL's GitHub
releases (the openssl-X.Y.Z.tar.gz.sha256 file each release carries).  They are
authenticated by HTTPS only, not signed; a site that does not answer is one line of
report ("python.org: not reachable (...); Debian's indices only"), not an error.
--no-upstream skips them; PYBUILDSSL_UPSTREAM_PYTHON_ORG, PYBUILDSSL_UPSTREAM_GITHUB_API
and PYBUILDSSL_UPSTREAM_GITHUB replace their base URLs.

Each pin moves to the newest release a source knows.  A release a signed index lists is
written from the index (signed = true); one only an upstream site knows is written with
signed = false and, as evidence, the URL its sha256 was read from; one whose sha256 is not
published upstream is reported, never written.  Two sources giving one release different
sha256s is reported as CHECK BY HAND and neither is written.

CPython line X.Y is Debian's source package pythonX.Y; OpenSSL's lines are all in the
package openssl (a release counts for the line it belongs to).  Repacked tarballs
(+dfsg, +ds, ...) are not upstream's and are ignored.  Exit 0 when every pin is the
newest known (or --write brought it there), 1 when a newer release is known and not
written (no --write, or its sha256 is unknown or disputed), 2 on bad input or an
unreadable Debian index.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from debian_apt import (  # noqa: E402
    index_lines, log, private_state_options, trusted_sources_indices, update_private_state,
)
from debian_index import (  # noqa: E402
    FetchError, paragraphs_of, orig_tarball_name, parse_checksums, split_upstream,
)
from upstream_index import Upstream, upstream_releases  # noqa: E402
from pybuildssl import pins  # noqa: E402
from pybuildssl.cache import default_cache_dir  # noqa: E402
from pybuildssl.errors import RecipeError  # noqa: E402

DEFAULT_EXTRA_SUITES = ("sid", "forky")


@dataclass(frozen=True)
class Listed:
    """One upstream release as a signed index lists it."""

    version: str
    sha256: str
    size: int
    orig: str
    package: str
    debian_version: str
    release: str


def package_for(product: str, line: str) -> str:
    return f"python{line}" if product == "cpython" else "openssl"


def _version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def listed_releases(paragraphs: Iterable[Tuple[str, Dict[str, str]]]) -> Dict[str, List[Listed]]:
    """{source package: [Listed]} from (release, Sources paragraph) pairs; repacks left out."""
    out: Dict[str, List[Listed]] = {}
    for release, par in paragraphs:
        package, debian_version = par.get("package", ""), par.get("version", "")
        try:
            upstream, repacked, _ = split_upstream(debian_version)
            checksums = parse_checksums(par.get("checksums-sha256", ""))
            orig = orig_tarball_name(package, upstream, checksums)
        except (FetchError, ValueError):
            continue
        if repacked or not pins.RELEASE_RE.match(upstream):
            continue
        sha, size = checksums[orig]
        out.setdefault(package, []).append(Listed(upstream, sha, size, orig, package, debian_version, release))
    return out


def newest(table: pins.Pins, listed: Dict[str, List[Listed]]) -> Dict[Tuple[str, str], Optional[Listed]]:
    """{(product, line): the newest listed release of that line, or None}."""
    out: Dict[Tuple[str, str], Optional[Listed]] = {}
    for product in pins.PRODUCTS:
        for line in table.line_names(product):
            mine = [x for x in listed.get(package_for(product, line), []) if pins.line_of(x.version) == line]
            out[(product, line)] = max(mine, key=lambda x: _version_key(x.version), default=None)
    return out


def updated(table: pins.Pins, found: Dict[Tuple[str, str], Optional[Listed]],
            upstream: Optional[Dict[Tuple[str, str], Upstream]] = None,
            listed: Optional[Dict[str, List[Listed]]] = None) -> Tuple[pins.Pins, List[str]]:
    """The pins with every line moved to its newest known release, and one report line per pin.

    ``upstream``: what the upstream sites publish ({(product, line): Upstream}); ``listed``: every
    release the signed indices list, to check upstream's sha256 against Debian's."""
    lines: Dict[str, Dict[str, pins.Pin]] = {p: dict(table.lines[p]) for p in pins.PRODUCTS}
    debian = debian_sha256s(listed or {})
    report = []
    for (product, line), best in found.items():
        up = (upstream or {}).get((product, line))
        bad = upstream_conflict(up, debian.get((product, up.version)) if up else None)
        pin, text = debian_step(table.lines[product][line], best, bad)
        if up is not None:
            pin, more = upstream_step(pin, up, bad)
            text += f"; {more}"
        lines[product][line] = pin
        report.append(text)
    return pins.Pins(lines), report


def debian_sha256s(listed: Dict[str, List[Listed]]) -> Dict[Tuple[str, str], str]:
    """{(product, version): sha256} of every release a signed index lists."""
    return {("cpython" if x.package.startswith("python") else "openssl", x.version): x.sha256
            for xs in listed.values() for x in xs}


def upstream_conflict(up: Optional[Upstream], debian_sha: Optional[str]) -> Optional[str]:
    """The version whose sha256 upstream and a signed index disagree on (then neither is written)."""
    if up is not None and up.sha256 and debian_sha and up.sha256 != debian_sha:
        return up.version
    return None


def debian_step(pin: pins.Pin, best: Optional[Listed], bad: Optional[str]) -> Tuple[pins.Pin, str]:
    """The pin after Debian's newest listed release of its line, and the report so far."""
    head = f"{pin.product} {pin.line}: pinned {pin.version} ({'signed' if pin.signed else 'unsigned'})"
    if best is None:
        return pin, f"{head}; no signed index here lists this line"
    where = f"{best.release}: {best.package} {best.debian_version}"
    if _version_key(best.version) < _version_key(pin.version):
        return pin, f"{head}; newest listed {best.version} ({where}) is older: kept"
    if best.version == pin.version and best.sha256 != pin.sha256:
        return pin, (f"{head}; {where} lists sha256 {best.sha256}, the pin says {pin.sha256}: "
                     "CHECK BY HAND (kept)")
    if best.version == pin.version and pin.signed:
        return pin, f"{head}; newest listed ({where})"
    if best.version == bad:
        return pin, f"{head}; newest listed {best.version} ({where}) sha256 {best.sha256}: not taken"
    evidence = f"Debian {best.release} Sources: {best.package} {best.debian_version}, {best.orig}"
    new = replace(pin, version=best.version, sha256=best.sha256, size=best.size, signed=True, evidence=evidence)
    verb = "signed source for the same release" if best.version == pin.version else "NEWER"
    return new, f"{head}; {verb}: {best.version} sha256 {best.sha256} ({where})"


def upstream_step(pin: pins.Pin, up: Upstream, bad: Optional[str]) -> Tuple[pins.Pin, str]:
    """The pin after the upstream site's newest release (written unsigned only when no signed
    index lists it), and the report's upstream part."""
    said = f"{up.site} {up.version}" + (f" sha256 {up.sha256} ({up.url})" if up.sha256 else "")
    if up.version == bad:
        return pin, f"{said}: a signed index lists another sha256: CHECK BY HAND (not written)"
    if not up.sha256 or up.size is None:
        return pin, f"{up.site} {up.version}, sha256 unknown ({up.note or 'no size given'}): not written"
    if up.version == pin.version:
        agree = "agrees" if up.sha256 == pin.sha256 else f"the pin says {pin.sha256}: CHECK BY HAND (kept)"
        return pin, f"{said}: {agree}"
    if _version_key(up.version) < _version_key(pin.version):
        return pin, f"{said}: older"
    evidence = f"{up.site}: sha256 of {up.filename} read from {up.url} (HTTPS-authenticated, not signed)"
    new = replace(pin, version=up.version, sha256=up.sha256, size=up.size, signed=False, evidence=evidence)
    return new, f"NEWER upstream: {said} (unsigned)"


def behind(table: pins.Pins, found: Dict[Tuple[str, str], Optional[Listed]],
           upstream: Dict[Tuple[str, str], Upstream]) -> List[Tuple[str, str]]:
    """The lines where some source knows a release newer than the pin (after any write)."""
    out = []
    for (product, line), best in found.items():
        up = upstream.get((product, line))
        known = [x.version for x in (best, up) if x is not None]
        if any(_version_key(v) > _version_key(table.lines[product][line].version) for v in known):
            out.append((product, line))
    return out


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def header_of(text: str) -> str:
    """The comment block before the first table of the pins file (kept when it is rewritten)."""
    lines = text.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith("["))
    return "".join(lines[:first])


def read_indices(packages: Sequence[str], extra_suites: Sequence[str], update: bool,
                 state: Path) -> List[Tuple[str, Dict[str, str]]]:
    indices = trusted_sources_indices()
    if extra_suites:
        options = update_private_state(state, extra_suites) if update else private_state_options(state)
        indices += trusted_sources_indices(options)
    if not indices:
        raise FetchError("apt has no signed deb-src index (run ci/fetch_sources.py once, or drop --no-update)")
    out = []
    for release, filename in indices:
        out += [(release, par) for par in paragraphs_of(index_lines(filename), packages)]
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pins", type=Path, default=pins.PATH, help="the pins file (default: %(default)s)")
    p.add_argument("--extra-suite", action="append", metavar="SUITE",
                   help=f"Debian suites read through a private apt state (default: {' '.join(DEFAULT_EXTRA_SUITES)}; "
                        "--extra-suite none: only the machine's own indices)")
    p.add_argument("--no-update", action="store_true", help="read the extra suites' indices already fetched")
    p.add_argument("--no-upstream", action="store_true",
                   help="do not consult python.org and GitHub (Debian's signed indices only)")
    p.add_argument("--write", action="store_true", help="update the pins file (atomically)")
    args = p.parse_args(argv)
    extra = [s for s in (args.extra_suite or DEFAULT_EXTRA_SUITES) if s != "none"]
    try:
        table = pins.load(args.pins)
        packages = sorted({package_for(pr, ln) for pr in pins.PRODUCTS for ln in table.line_names(pr)})
        paragraphs = read_indices(packages, extra, not args.no_update, default_cache_dir() / "apt-extra")
    except RecipeError as e:
        log(f"error: {e.message}")
        return 2
    except FetchError as e:
        log(f"error: {e}")
        return 2
    upstream, notes = ({}, []) if args.no_upstream else upstream_releases(table)
    listed = listed_releases(paragraphs)
    found = newest(table, listed)
    new, report = updated(table, found, upstream, listed)
    print("\n".join(notes + report))
    changed = new != table
    if changed and args.write:
        write_atomically(args.pins, pins.render(new, header_of(args.pins.read_text(encoding="utf-8"))))
        log(f"wrote {args.pins}")
        return 1 if behind(new, found, upstream) else 0
    return 1 if changed or behind(new, found, upstream) else 0


if __name__ == "__main__":
    sys.exit(main())
