"""The one list of valid recipe keys (:data:`SCHEMA`): type, default, doc and choices of each.

Recipe validation, ``--set`` parsing and the recipe reference in docs/recipes.md
(``ci/gen_docs.py``) all read it.  Imports only the targets leaf (the OS list, the Windows trust modes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import targets

MIN_OPENSSL = (3, 2, 0)
OSES = targets.OSES
ARCHES = ("x86_64", "aarch64", "arm64")
COMPRESSIONS = ("gz", "xz", "zst")
WINDOWS_TRUST_MODES = targets.WINDOWS_TRUST_MODES
#: Build profiles: what cpython.optimizations and cpython.lto default to.
PROFILES = ("release", "fast")
TOOLCHAINS = ("auto", "zig", "cc")
#: Third-party libraries built from source for Linux artifacts, in build order
#: (pybuildssl/components.py says how each is built and what it feeds).
COMPONENTS = ("zlib", "bzip2", "xz", "libffi", "sqlite", "ncurses", "readline", "libuuid",
              "gdbm", "tcl", "tk")


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    required: bool = False


def _source_schema(what: str, required: bool = True) -> dict[str, Key]:
    need = "" if required else " (required when the component is built)"
    return {
        "version": Key(str, None, f"{what} version" + (", a release X.Y.Z or a line X.Y (its release pinned in "
                                                        "pybuildssl/data/pins.toml)" if required else "") + need,
                       required=required),
        "url": Key(str, None, "upstream URL; `{version}` is replaced" + need, required=required),
        "mirrors": Key(list, [], "further URLs tried in order after `url`"),
        "sha256": Key(str, None, "sha256 of the archive (64 hex digits)" + need
                      + ("; from pybuildssl/data/pins.toml for a line or a pinned release" if required else "")),
        "size": Key(int, 0, "size in bytes (0: not checked)"),
        "license": Key(str, "", "SPDX licence expression of this source (what the SBOM and manifest say)"),
        "configure_args": Key(list, [], "extra arguments appended to the configure command"),
        "patches": Key(list, [], "files under recipes/patches/, each `{file = ..., sha256 = ...}`"),
        "alternatives": Key(list, [], "other pinned tarballs of the same version (a distribution's repack), "
                                      "each `{sha256 = ..., size = N, file = ..., url = ..., note = ...}`; "
                                      "found in the cache or a --source-dir by sha256"),
    }


#: The one list of valid recipe keys.  Section -> key -> Key.
SCHEMA: dict[str, dict[str, Key]] = {
    "": {
        "description": Key(str, "", "one line saying what the recipe is for"),
        "extends": Key(str, "", "name of a recipe whose values this one starts from"),
    },
    "target": {
        "os": Key(str, None, "operating system of the artifact", OSES, required=True),
        "arch": Key(str, None, "CPU architecture", ARCHES, required=True),
        "vendor": Key(str, "generic", "trust-store vendor from the layout table, `generic` or `auto` (the build host's)"),
        "libc": Key(str, "glibc", "C library (linux): glibc or musl", ("glibc", "musl", "")),
        "glibc": Key(str, "", "glibc floor (linux), X.Y: no ELF file may need a GLIBC_ symbol version above it; "
                              "reached with Zig (`build.toolchain`); empty: the build host's glibc"),
    },
    "openssl": {
        **_source_schema("OpenSSL"),
        "openssldir": Key(str, "", "OPENSSLDIR; empty: from the layout table for target.vendor"),
        "options": Key(list, ["no-shared", "no-module", "no-engine", "no-apps", "no-docs", "no-tests"],
                       "OpenSSL Configure options (see docs/recipes.md for why these)"),
    },
    "cpython": {
        **_source_schema("CPython"),
        "optimizations": Key(bool, None, "--enable-optimizations (PGO; its training runs offline); "
                                         "unset: on in the release profile (`build.profile`)"),
        "lto": Key(bool, None, "--with-lto; unset: on in the release profile (`build.profile`)"),
        "shared": Key(bool, True, "--enable-shared (libpython as a shared library, $ORIGIN rpath)"),
        "free_threaded": Key(bool, False, "--disable-gil: the free-threaded build (CPython 3.13+, "
                                          "experimental upstream in 3.13; Linux and macOS; "
                                          "bin/python3.Xt, lib/python3.Xt; `freethreaded` in the artifact's name)"),
    },
    "trust": {
        "fallback": Key(bool, True, "bake the vendor fallback list into ssl.py"),
        "windows_mode": Key(str, "enumeration", "Windows trust source", WINDOWS_TRUST_MODES),
    },
    "build": {
        "profile": Key(str, "release", "`release`: CPython with PGO and LTO (with Zig through its clang "
                                       "wrapper and LLVM's profile tools; a Zig build for another architecture "
                                       "gets LTO only: see docs/building.md); `fast`: neither (development and CI); "
                                       "cpython.optimizations/lto set explicitly win", PROFILES),
        "jobs": Key(int, 0, "parallel make jobs (0: CPU count)"),
        "strip": Key(bool, False, "strip debug info and symbol tables, drop the test suite and (shared builds) the static libpython"),
        "compression": Key(str, "gz", "artifact compression", COMPRESSIONS),
        "source_date_epoch": Key(int, 1700000000, "mtime of every archive member (SOURCE_DATE_EPOCH wins)"),
        "verify": Key(bool, True, "run `pybuildssl verify` after the build"),
        "cflags": Key(str, "", "extra CFLAGS for every component"),
        "toolchain": Key(str, "auto", "C toolchain: `zig` (targets `target.glibc`), `cc` (the host's $CC), "
                                      "`auto` (zig when a glibc floor is set on Linux)", TOOLCHAINS),
    },
    "components": {
        "tkinter": Key(bool, False, "build Tcl/Tk and _tkinter (Linux: the artifact then needs libX11 from the host)"),
        "gdbm": Key(bool, False, "build GNU dbm and the _gdbm/_dbm modules (GPL-3.0)"),
    },
    "verify": {
        "allow_libraries": Key(list, [], "shared libraries the artifact may need besides glibc's family"),
    },
}

for _c in COMPONENTS:
    SCHEMA[_c] = _source_schema(_c, required=False)

#: python.org's official Windows binaries, which a Linux host assembles into a
#: Windows artifact (pybuildssl/windows_assemble.py): the embeddable
#: zip, and the NuGet ``python`` package for a full layout.
WINDOWS_BINARIES = ("python_embed", "python_nuget")
WINDOWS_LAYOUTS = {"embeddable": "python_embed", "nuget": "python_nuget"}
#: Sections only Windows recipes carry (kept out of other recipes' resolved data and digest).
WINDOWS_SECTIONS = ("windows", *WINDOWS_BINARIES)
SCHEMA["windows"] = {
    "layout": Key(str, "embeddable", "what a Linux host assembles: python.org's `embeddable` zip "
                                     "(stdlib as .pyc in pythonXY.zip) or its `nuget` package (Lib\\*.py, include\\, libs\\)",
                  tuple(WINDOWS_LAYOUTS)),
    "method_linux": Key(str, "assemble", "build method on a Linux host: `assemble` (python.org's binaries + OpenSSL "
                                         "cross-built with mingw-w64) or `unsupported`", ("assemble", "unsupported")),
    "method_windows": Key(str, "msvc", "build method on a Windows host: `msvc` (PCbuild from the cpython source pin)",
                          ("msvc",)),
}
SCHEMA["python_embed"] = _source_schema("python.org's Windows embeddable zip of CPython", required=False)
SCHEMA["python_nuget"] = _source_schema("python.org's NuGet `python` package (.nupkg)", required=False)

SOURCE_SECTIONS = ("openssl", "cpython")
