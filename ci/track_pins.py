#!/usr/bin/env python3
"""For every pin in pybuildssl/data/pins.toml, the newest upstream patch release of its line
that a signed source lists; with --write, the pins file updated (atomically).

    python ci/track_pins.py [--extra-suite sid --extra-suite forky] [--no-update] [--write]

The source is Debian's Sources indices: each lists the orig tarball of a release (byte-
identical to upstream's release tarball) with its sha256 and size, and apt verifies
each index's InRelease signature against the Debian archive keyring.  The indices of
the machine's own apt configuration are read as they are; the extra suites (default:
sid and forky, where new upstream releases arrive first) through a private apt state
in $PYBUILDSSL_CACHE/apt-extra, which leaves the machine's configuration alone.  A
listed file need not be served by the mirror: the pin is the sha256, and
ci/fetch_sources.py fetches what is served.  Upstream sites (python.org, openssl.org)
publish no signed sha256 list this script could read; they are not consulted.

CPython line X.Y is Debian's source package pythonX.Y; OpenSSL's lines are all in the
package openssl (a release counts for the line it belongs to).  Repacked tarballs
(+dfsg, +ds, ...) are not upstream's and are ignored.  Exit 0 when every pin is the
newest listed (or --write brought it there), 1 when a newer release is listed and
--write was not given, 2 on bad input or an unreadable index.
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


def updated(table: pins.Pins, found: Dict[Tuple[str, str], Optional[Listed]]) -> Tuple[pins.Pins, List[str]]:
    """The pins with every line moved to its newest listed release, and one report line per pin."""
    lines: Dict[str, Dict[str, pins.Pin]] = {p: dict(table.lines[p]) for p in pins.PRODUCTS}
    report = []
    for (product, line), best in found.items():
        pin = table.lines[product][line]
        head = f"{product} {line}: pinned {pin.version} ({'signed' if pin.signed else 'unsigned'})"
        if best is None:
            report.append(f"{head}; no signed index here lists this line")
            continue
        where = f"{best.release}: {best.package} {best.debian_version}"
        if _version_key(best.version) < _version_key(pin.version):
            report.append(f"{head}; newest listed {best.version} ({where}) is older: kept")
        elif best.version == pin.version and best.sha256 != pin.sha256:
            report.append(f"{head}; {where} lists sha256 {best.sha256}, the pin says {pin.sha256}: "
                          "CHECK BY HAND (kept)")
        elif best.version == pin.version and pin.signed:
            report.append(f"{head}; newest listed ({where})")
        else:
            evidence = f"Debian {best.release} Sources: {best.package} {best.debian_version}, {best.orig}"
            lines[product][line] = replace(pin, version=best.version, sha256=best.sha256, size=best.size,
                                           signed=True, evidence=evidence)
            verb = "signed source for the same release" if best.version == pin.version else "NEWER"
            report.append(f"{head}; {verb}: {best.version} sha256 {best.sha256} ({where})")
    return pins.Pins(lines), report


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
    new, report = updated(table, newest(table, listed_releases(paragraphs)))
    print("\n".join(report))
    changed = new != table
    if changed and args.write:
        write_atomically(args.pins, pins.render(new, header_of(args.pins.read_text(encoding="utf-8"))))
        log(f"wrote {args.pins}")
        return 0
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
