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



import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The names below are this script's and, re-exported, the apt door other scripts and the tests use.
from debian_fetch import Result, ensure_developer_keyring, fetch_package  # noqa: E402,F401
from debian_apt import (  # noqa: E402,F401
    apt_update, dpkg_compare, ensure_sources_file, indextargets, is_root, log, private_state_options, run,
    sources_file_path, suite_index_files, trusted_sources_indices, update_private_state, versions_in_suite,
)
from debian_index import (  # noqa: E402,F401
    ARCHIVE_KEYRING, DEFAULT_PACKAGES, DEFAULT_RECIPE, DEFAULT_SUITE, DEVELOPER_KEYRINGS,
    DEVELOPER_KEYRING_PACKAGE, FetchError, candidates_from_showsrc, check_entry, clearsigned_body,
    dsc_checksums, dsc_name, orig_tarball_name, parse_checksums, parse_deb822, pick_archive_uris,
    sort_newest_first, sources_file_text, split_upstream, upstream_version,
)


# ---------------------------------------------------------------------------
# What the recipe says about each tarball
# ---------------------------------------------------------------------------

def recipe_sources(name: str, sets: Sequence[str] = ()) -> Dict[str, object]:
    """{recipe section: pybuildssl.recipe.Source} of recipe ``name`` with ``sets`` (``--set``
    overrides; every component switched on), read with pybuildssl itself from this checkout."""
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
        r = recipe_mod.load(name, [*switches, *sets])
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
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a recipe override, as for pybuildssl build (e.g. openssl.version=3.6: the line to fetch)")
    p.add_argument("--extra-suite", action="append", default=[], metavar="SUITE",
                   help="a further Debian suite (e.g. sid, forky) for the sources a recipe names by line "
                        "(OpenSSL, CPython), read through a private apt state; the newest served release "
                        "of the recipe's line is taken (repeatable)")
    p.add_argument("--no-update", action="store_true",
                   help="skip apt-get update and use the indexes already present")
    return p


#: Recipe sections named by line (a line's newest served release is fetched).
LINED = ("openssl", "cpython")


def _line(source: Optional[object]) -> str:
    """The line (X.Y) of a pinned source: only its releases may stand in for the pin."""
    return ".".join(source.version.split(".")[:2]) if source is not None else ""  # type: ignore[attr-defined]


def _extra_suites(suites: Sequence[str], packages: Sequence[str], update: bool):
    """(apt options, {(package, version): [releases]}) of the extra suites, or None."""
    if not suites:
        return None
    bad = [s for s in suites if not re.match(r"^[a-z][a-z0-9-]*$", s)]
    if bad:
        raise FetchError(f"bad suite name {bad[0]!r}")
    from pybuildssl.cache import default_cache_dir

    state = default_cache_dir() / "apt-extra"
    options = update_private_state(state, suites) if update else private_state_options(state)
    indices = trusted_sources_indices(options)
    if not indices:
        raise FetchError(f"no signed Sources index of {', '.join(suites)} in {state} (drop --no-update)")
    return options, versions_in_suite(indices, packages)


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
        pins = recipe_sources(args.recipe, args.sets)  # first: a broken recipe fails before apt runs
        dest = args.dest
        dest.mkdir(parents=True, exist_ok=True)
        sources = ensure_sources_file(args.suite)
        if not args.no_update:
            apt_update(sources)
        if args.require_signature:
            ensure_developer_keyring(keyrings)
        index_files = suite_index_files(args.suite)
        in_suite = versions_in_suite(index_files, [p for _, p in packages])
        extra = _extra_suites(args.extra_suite, [p for k, p in packages if k in LINED], not args.no_update)
        overrides: Dict[str, Dict[str, object]] = {}
        scratch = Path(tempfile.mkdtemp(prefix=".fetch-sources-", dir=str(dest)))
        try:
            results = []
            for key, package in packages:
                line = _line(pins.get(key)) if key in LINED else ""
                res = fetch_package(key, package, args.suite, in_suite, dest, scratch, keyrings,
                                    args.require_signature, line=line, extra=extra if key in LINED else None)
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
