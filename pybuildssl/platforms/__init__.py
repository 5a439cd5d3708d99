"""One module per target OS, each with the same functions (see :class:`Platform`).

"How does Windows configure OpenSSL?" has one answer: ``windows.openssl_configure``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from . import linux, macos, windows

if TYPE_CHECKING:  # pragma: no cover
    from ..steps import Dirs, Step
    from ..recipe import Recipe


class Platform(Protocol):
    #: OpenSSL's install prefix compiled into libcrypto (ENGINESDIR/MODULESDIR
    #: derive from it).  A fixed, root-owned, neutral path: never a build path.
    OPENSSL_PREFIX: str
    #: CPython's --prefix; the tree is installed with DESTDIR and relocated.
    PYTHON_PREFIX: str

    def openssl_steps(self, recipe: "Recipe", d: "Dirs") -> "list[Step]": ...
    def cpython_steps(self, recipe: "Recipe", d: "Dirs") -> "list[Step]": ...
    #: Tools a build of ``recipe`` needs on PATH: tool -> what provides it.
    def prerequisites(self, recipe: "Recipe") -> dict[str, str]: ...
    #: How to install the missing ones on the host that builds for this target.
    def install_hint(self, missing: dict[str, str]) -> str: ...


REGISTRY: dict[str, ModuleType] = {"linux": linux, "macos": macos, "windows": windows}


def get(os_name: str) -> Platform:
    return REGISTRY[os_name]  # type: ignore[return-value]
