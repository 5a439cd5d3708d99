"""macOS targets: darwin64 OpenSSL, @loader_path install names (planned; built on macOS runners)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _posix
from ._posix import OPENSSL_PREFIX, PYTHON_PREFIX  # noqa: F401
from ..errors import RecipeError
from ..plan import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Dirs
    from ..recipe import Recipe

OPENSSL_TARGETS = {"arm64": "darwin64-arm64-cc", "x86_64": "darwin64-x86_64-cc"}
#: The oldest macOS each arch's artifact supports (Apple silicon starts at 11).
DEPLOYMENT_TARGETS = {"arm64": "11.0", "x86_64": "10.15"}


def _env(recipe: "Recipe") -> dict[str, str]:
    if recipe.arch not in OPENSSL_TARGETS:
        raise RecipeError(f"{recipe.path}: target.arch {recipe.arch!r} is not a macOS arch",
                          hint="valid: " + ", ".join(OPENSSL_TARGETS))
    return {"MACOSX_DEPLOYMENT_TARGET": DEPLOYMENT_TARGETS[recipe.arch]}


def openssl_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    return _posix.openssl_steps(recipe, d, OPENSSL_TARGETS[recipe.arch], _env(recipe))


def cpython_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    env = _posix.cpython_env(recipe, d, _env(recipe))
    configure = _posix.cpython_configure(recipe, d, [])
    fixups = [
        Step("cpython.install-names", "cpython",
             ("pybuildssl:macos-install-names", str(d.prefix), "@loader_path/../lib"), str(d.prefix), {}),
        _posix.relocate_step(d),
    ]
    return _posix.cpython_steps(recipe, d, configure, env, fixups)
