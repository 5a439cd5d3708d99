"""macOS targets: darwin64 OpenSSL (static), CPython with ``@loader_path``-relative install names.

Planned exactly here and executed on macOS runners (CI); nothing runs on Linux.

* OpenSSL: ``perl ./Configure darwin64-arm64-cc|darwin64-x86_64-cc`` (the
  "-cc" names are OpenSSL's aliases of darwin64-arm64 / darwin64-x86_64),
  static (``no-shared``, linked into ``_ssl``/``_hashlib``), OPENSSLDIR from
  the layout table (``/private/etc/ssl``: Apple's ``cert.pem`` lives there).
* ``MACOSX_DEPLOYMENT_TARGET`` for every compile and link, so the artifact
  runs on the oldest macOS the recipe names (:data:`DEPLOYMENT_TARGETS`).
* ``--enable-shared`` links ``bin/pythonX.Y`` to ``lib/libpythonX.Y.dylib``
  by the absolute install name ``PREFIX/lib/libpythonX.Y.dylib``
  (Makefile.pre.in: ``-install_name $(prefix)/lib/libpython$(LDVERSION).dylib``).
  Extension modules are bundles linked with ``-undefined dynamic_lookup``:
  they name no libpython.  So two files change after ``make install``:
  the dylib's id becomes ``@rpath/libpythonX.Y.dylib`` and the
  executable's reference ``@loader_path/../lib/libpythonX.Y.dylib``; both
  are then signed ad hoc again (install_name_tool invalidates the signature,
  and arm64 macOS refuses to run unsigned code).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import _posix
from ._posix import OPENSSL_PREFIX, PYTHON_PREFIX  # noqa: F401  (the Platform protocol)
from ..errors import RecipeError
from ..steps import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..steps import Dirs
    from ..recipe import Recipe

OPENSSL_TARGETS = {"arm64": "darwin64-arm64-cc", "x86_64": "darwin64-x86_64-cc"}
#: The oldest macOS each arch's artifact supports: 11.0 is the first release on
#: Apple silicon; 10.15 for Intel (python.org's 3.13 installer goes down to
#: 10.13, but nothing older than the runners' macOS is ever tested).
DEPLOYMENT_TARGETS = {"arm64": "11.0", "x86_64": "10.15"}
#: Where the executable finds libpython, relative to itself (bin/ -> lib/).
LOADER_PATH = "@loader_path/../lib"
#: Tools the build needs (Xcode Command Line Tools provide them all).
PREREQUISITES = {"cc": "Xcode Command Line Tools (xcode-select --install)",
                 "make": "Xcode Command Line Tools", "perl": "macOS (/usr/bin/perl)",
                 "install_name_tool": "Xcode Command Line Tools", "codesign": "macOS"}
INSTALL_HINT = "install the Xcode Command Line Tools: xcode-select --install"


def prerequisites(recipe: "Recipe") -> dict[str, str]:
    return dict(PREREQUISITES)


def install_hint(missing: dict[str, str]) -> str:
    return INSTALL_HINT


def _check(recipe: "Recipe") -> None:
    if recipe.arch not in OPENSSL_TARGETS:
        raise RecipeError(f"{recipe.path}: target.arch {recipe.arch!r} is not a macOS arch",
                          hint="valid: " + ", ".join(OPENSSL_TARGETS))


def _env(recipe: "Recipe") -> dict[str, str]:
    _check(recipe)
    return {"MACOSX_DEPLOYMENT_TARGET": DEPLOYMENT_TARGETS[recipe.arch]}


def python_xy(recipe: "Recipe") -> str:
    m = re.match(r"(\d+)\.(\d+)", recipe.cpython.version)
    if not m:  # pragma: no cover  (recipe.py checks X.Y.Z)
        raise RecipeError(f"{recipe.path}: cpython.version {recipe.cpython.version!r} is not X.Y.Z")
    return f"{m.group(1)}.{m.group(2)}"


def openssl_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    env = _env(recipe)
    return _posix.openssl_steps(recipe, d, OPENSSL_TARGETS[recipe.arch], env)


def install_name_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    """install_name_tool + codesign on exactly the files that name libpython."""
    if not recipe.cpython_shared:
        return []
    xy = python_xy(recipe)
    dylib_name = f"libpython{xy}.dylib"
    dylib = f"{d.prefix}/lib/{dylib_name}"
    exe = f"{d.prefix}/bin/python{xy}"
    built_name = f"{PYTHON_PREFIX}/lib/{dylib_name}"
    cwd = str(d.prefix)
    return [
        Step("cpython.install-name-id", "cpython",
             ("install_name_tool", "-id", f"@rpath/{dylib_name}", dylib), cwd, {}),
        Step("cpython.install-name-exe", "cpython",
             ("install_name_tool", "-change", built_name, f"{LOADER_PATH}/{dylib_name}", exe), cwd, {}),
        Step("cpython.codesign", "cpython", ("codesign", "--force", "--sign", "-", dylib, exe), cwd, {}),
    ]


def cpython_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    env = _posix.cpython_env(recipe, d, _env(recipe))
    configure = _posix.cpython_configure(recipe, d, [])
    fixups = [*install_name_steps(recipe, d), _posix.relocate_step(d)]
    return _posix.cpython_steps(recipe, d, configure, env, fixups)
