"""Linux targets: static OpenSSL linked into _ssl/_hashlib, $ORIGIN rpaths."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _posix
from ._posix import OPENSSL_PREFIX, PYTHON_PREFIX  # noqa: F401  (the Platform protocol)
from ..errors import RecipeError
from ..plan import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Dirs
    from ..recipe import Recipe

OPENSSL_TARGETS = {"x86_64": "linux-x86_64", "aarch64": "linux-aarch64"}

#: Debian packages the build needs (tool or header -> package).
PREREQUISITES = {
    "cc": "gcc", "make": "make", "perl": "perl", "patchelf": "patchelf",
    "ffi.h": "libffi-dev", "zlib.h": "zlib1g-dev", "bzlib.h": "libbz2-dev", "lzma.h": "liblzma-dev",
    "sqlite3.h": "libsqlite3-dev", "readline/readline.h": "libreadline-dev",
    "ncursesw/curses.h": "libncurses-dev", "uuid/uuid.h": "uuid-dev",
}


def _check(recipe: "Recipe") -> None:
    if recipe.libc == "musl":
        raise RecipeError(
            f"{recipe.path}: target.libc is 'musl', but pybuildssl has no musl toolchain yet",
            hint="a glibc build is not an Alpine artifact: build linux-x86_64-generic "
                 "(whose fallback list covers Alpine's store) or wait for musl support")
    if recipe.arch not in OPENSSL_TARGETS:
        raise RecipeError(f"{recipe.path}: target.arch {recipe.arch!r} is not a Linux arch",
                          hint="valid: " + ", ".join(OPENSSL_TARGETS))


def openssl_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    return _posix.openssl_steps(recipe, d, OPENSSL_TARGETS[recipe.arch], {})


def cpython_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    configure = _posix.cpython_configure(recipe, d, [])
    env = _posix.cpython_env(recipe, d, {})
    fixups = [
        # --with-openssl-rpath cannot carry $ORIGIN; patchelf sets it after the build.
        Step("cpython.rpath", "cpython", ("pybuildssl:set-rpath", str(d.prefix), "$ORIGIN/../lib"),
             str(d.prefix), {}),
        _posix.relocate_step(d),
    ]
    return _posix.cpython_steps(recipe, d, configure, env, fixups)
