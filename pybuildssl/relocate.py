"""Relocation fix-ups for an installed CPython tree (POSIX).

CPython is configured with a neutral ``--prefix`` (``/opt/pybuildssl/python``)
and installed with DESTDIR.  Afterwards nothing in the tree may depend on
that prefix or on any build path:

* ``bin/python3.X`` gets RUNPATH ``$ORIGIN/../lib`` (patchelf; CPython's
  ``--with-openssl-rpath`` cannot carry ``$ORIGIN``);
* ``_sysconfigdata_*.py`` stays what CPython writes, a header comment and
  one literal dict, because installers parse and rewrite it (uv reads it as
  data and replaces python-build-standalone's ``/install`` placeholder with
  the install location).  The neutral prefix in it becomes that same
  placeholder, and ``sysconfig`` itself gets a small hook that maps the
  prefix the file was written for (its own ``prefix`` value, or the
  placeholder) to ``sys.base_prefix`` when the values are loaded: a tree
  unpacked by hand or moved after an installer rewrote it still reports
  its own paths;
* the config Makefile computes ``prefix`` from its own location;
* pkg-config files use ``${pcfiledir}``;
* script shebangs become a ``/bin/sh`` polyglot that runs the interpreter
  next to the script;
* ``python3.X-config`` uses the prefix it already computes from ``$0``.

The compiled-in PREFIX inside libpython stays: CPython only falls back to it
when it cannot find its landmarks next to the executable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

# The prefix layout rules live in a leaf that verify reads too.
from .pyprefix import SYSCONFIGDATA_HEADER, check_sysconfigdata, find_version_dir, interpreter  # noqa: F401

SHEBANG_TEMPLATE = """#!/bin/sh
'''exec' "$(dirname -- "$(readlink -f -- "$0" 2>/dev/null || echo "$0")")/{interp}" "$0" "$@"
' '''
"""


#: python-build-standalone's build prefix: what installers (uv) replace in ``_sysconfigdata``.
SYSCONFIG_PLACEHOLDER = "/install"
HOOK_MARK = "# pybuildssl: relocatable sysconfig"

#: Inserted into ``sysconfig`` before ``_init_posix``; its loaded values go through it.
SYSCONFIG_HOOK = HOOK_MARK + ''' (values written for another prefix follow sys.base_prefix)
def _pybuildssl_relocate(build_time_vars):
    import re
    here = sys.base_prefix
    written = build_time_vars.get('prefix')
    olds = [o for o in (written, %(placeholder)r) if isinstance(o, str) and o and o != here]
    if not olds:
        return build_time_vars
    # a whole path component at a word boundary: "/install/lib", "-L/install/lib", "--prefix=/install"
    pat = re.compile(r"(?:(?<![^\\s=:,\\x22\\x27])|(?<=-[LIR]))(?:%%s)(?=[/\\s:,\\x22\\x27]|$)"
                     %% "|".join(re.escape(o) for o in sorted(olds, key=len, reverse=True)))
    def swap(m):
        # already here (an install under a directory named like the placeholder): keep
        done = len(here) > len(m.group(0)) and m.string.startswith(here, m.start())
        return m.group(0) if done else here
    return {k: pat.sub(swap, v) if isinstance(v, str) else v for k, v in build_time_vars.items()}

''' % {"placeholder": SYSCONFIG_PLACEHOLDER}


def rewrite_sysconfigdata(path: Path, old: str) -> bool:
    """Swap the neutral prefix for the placeholder, keeping the file a literal dict."""
    text = path.read_text(encoding="utf-8")
    if old not in text:
        return False
    text = text.replace(old, SYSCONFIG_PLACEHOLDER)
    check_sysconfigdata(text)
    path.write_text(text, encoding="utf-8")
    return True


def patch_sysconfig_module(path: Path) -> bool:
    """Give ``sysconfig`` (``sysconfig/__init__.py`` or ``sysconfig.py``) the relocation hook."""
    text = path.read_text(encoding="utf-8")
    if HOOK_MARK in text:
        return False
    anchor = "    build_time_vars = _temp.build_time_vars\n    vars.update(build_time_vars)\n"
    if anchor not in text or text.count("\ndef _init_posix(vars):\n") != 1:
        raise ValueError(f"{path}: _init_posix does not load build_time_vars as expected; "
                         "the relocation hook cannot be placed")
    text = text.replace(anchor, "    build_time_vars = _pybuildssl_relocate(_temp.build_time_vars)\n"
                                "    vars.update(build_time_vars)\n")
    text = text.replace("\ndef _init_posix(vars):\n", "\n" + SYSCONFIG_HOOK + "\ndef _init_posix(vars):\n")
    path.write_text(text, encoding="utf-8")
    return True


def rewrite_makefile(path: Path, old: str) -> bool:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    if old not in text:
        return False
    # lib/pythonX.Y/config-X.Y-*/Makefile: the prefix is three levels up.
    computed = "$(abspath $(dir $(lastword $(MAKEFILE_LIST)))../../..)"
    text = re.sub(r"^prefix=[ \t]*" + re.escape(old) + r"[ \t]*$", "prefix=\t\t" + computed, text,
                  flags=re.M)
    text = text.replace(old, "$(prefix)")
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    return True


def rewrite_pkgconfig(path: Path, old: str) -> bool:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        return False
    text = re.sub(r"^prefix=.*$", "prefix=${pcfiledir}/../..", text, flags=re.M)
    text = text.replace(old, "${prefix}")
    path.write_text(text, encoding="utf-8")
    return True


def rewrite_config_script(path: Path, old: str) -> bool:
    """bin/python3.X-config (shell): it already derives prefix_real from $0."""
    text = path.read_text(encoding="utf-8")
    if old not in text or "prefix_real" not in text:
        return False
    # prefix_build is only a sed pattern to swap for prefix_real; make every
    # literal the computed prefix itself, so the swaps become no-ops.
    text = text.replace(f'prefix_build="{old}"', 'prefix_build="$prefix_real"')
    # CPython's installed_prefix() does not quote: it breaks in a directory
    # whose name has a space, the first thing a relocation test tries.
    text = text.replace('RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))',
                        'RESULT=$(dirname "$(cd "$(dirname "$1")" && pwd -P)")')
    text = text.replace("    echo $RESULT\n", '    echo "$RESULT"\n')
    head, sep, tail = text.partition("prefix_real=$(installed_prefix \"$0\")")
    if sep:
        text = head + sep + tail.replace(old, "$prefix_real")
    path.write_text(text, encoding="utf-8")
    return old not in text


def rewrite_shebang(path: Path, old: str) -> bool:
    with open(path, "rb") as f:
        first = f.readline()
    if not first.startswith(b"#!") or old.encode() not in first:
        return False
    interp = first[2:].strip().split(b"/")[-1].decode()
    rest = path.read_bytes()[len(first):]
    mode = path.stat().st_mode
    path.write_bytes(SHEBANG_TEMPLATE.format(interp=interp).encode() + rest)
    os.chmod(path, mode)
    return True


FILE_PREFIX_MAP = re.compile(r"-ffile-prefix-map=[^\s'\"]+[ \t]*")


def replace_one(text: str, old: str, new: str) -> str:
    """``old`` -> ``new`` in ``text``: a path (it has a "/") wherever it occurs, a command name
    (``clang``) only as a whole word (not inside ``code.profclangd`` or ``libclang``)."""
    if "/" in old:
        return text.replace(old, new)
    return re.sub(rf"(?<![\w.+/-]){re.escape(old)}(?![\w.+-])", new, text)


def replace_build_paths(path: Path, replacements: list[tuple[str, str]]) -> bool:
    """Replace build paths (OpenSSL's staging root, the work dir) in a text file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    new = text
    for old, placeholder in replacements:
        new = replace_one(new, old, placeholder)
    # The build's own -ffile-prefix-map flags mean nothing to extensions built later.
    new = FILE_PREFIX_MAP.sub("", new)
    if new == text:
        return False
    mode = path.stat().st_mode
    path.write_text(new, encoding="utf-8")
    os.chmod(path, mode)
    return True


def relocate_tree(prefix: Path, old: str, replacements: list[tuple[str, str]] = (),  # type: ignore[assignment]
                  log: Callable[[str], None] = lambda s: None) -> list[str]:
    """Apply every text fix-up; return the files changed (relative paths).

    ``replacements`` (build path -> neutral placeholder) are applied first, to
    every text file of the config directory, the sysconfig data, pkg-config
    files and scripts.
    """
    changed: list[str] = []
    libdir = find_version_dir(prefix)

    def note(p: Path, did: bool) -> None:
        rel = str(p.relative_to(prefix))
        if did and rel not in changed:
            changed.append(rel)

    if replacements:
        candidates = [*libdir.glob("_sysconfig*"), *libdir.glob("config-*/*"), *libdir.glob("build-details.json"),
                      *(prefix / "lib" / "pkgconfig").glob("*.pc"), *(prefix / "bin").iterdir()]
        for p in candidates:
            if p.is_file() and not p.is_symlink():
                note(p, replace_build_paths(p, list(replacements)))

    for p in libdir.glob("_sysconfigdata_*.py"):
        note(p, rewrite_sysconfigdata(p, old))
    for p in (libdir / "sysconfig" / "__init__.py", libdir / "sysconfig.py"):
        if p.is_file():
            note(p, patch_sysconfig_module(p))
    for p in libdir.glob("config-*/Makefile"):
        note(p, rewrite_makefile(p, old))
    for p in (prefix / "lib" / "pkgconfig").glob("*.pc"):
        if not p.is_symlink():
            note(p, rewrite_pkgconfig(p, old))
    for p in sorted((prefix / "bin").iterdir()):
        if p.is_symlink() or not p.is_file():
            continue
        if p.name.endswith("-config"):
            note(p, rewrite_config_script(p, old))
        else:
            note(p, rewrite_shebang(p, old))
    for p in libdir.glob("config-*/python-config.py"):
        note(p, rewrite_shebang(p, old))
    for c in changed:
        log(f"relocated {c}")
    return changed


def pycs_mentioning(prefix: Path, needle: str) -> list[tuple[Path, Path, int]]:
    """(source, pyc, optimization level) for bytecode whose code objects name ``needle``.

    ``make install`` compiles ensurepip's packages (pip) under DESTDIR, so
    their ``co_filename`` is a staging path; these must be compiled again.
    """
    out = []
    raw = needle.encode()
    for pyc in sorted(prefix.rglob("__pycache__/*.pyc")):
        if raw not in pyc.read_bytes():
            continue
        stem = pyc.name.split(".")[0]
        opt = 0
        for part in pyc.name.split(".")[1:-1]:
            if part.startswith("opt-"):
                opt = int(part[4:])
        src = pyc.parent.parent / f"{stem}.py"
        if src.is_file():
            out.append((src, pyc, opt))
    return out


def text_files_mentioning(prefix: Path, needles: list[str], *, limit: int = 50) -> list[tuple[str, str]]:
    """(relative path, needle) for files under ``prefix`` that still contain a needle."""
    enc = [n.encode() for n in needles if n]
    hits: list[tuple[str, str]] = []
    for root, dirs, files in os.walk(prefix):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            if p.is_symlink() or not p.is_file():
                continue
            try:
                data = p.read_bytes()
            except OSError:
                continue
            for n in enc:
                if n in data:
                    hits.append((str(p.relative_to(prefix)), n.decode()))
                    if len(hits) >= limit:
                        return hits
    return hits
