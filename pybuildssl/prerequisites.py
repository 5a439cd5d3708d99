"""Before the first compile: is every tool the plan needs on this host?

What a target needs is the platform's fact (``Platform.prerequisites``), and
so is how to install it (``Platform.install_hint``): a macOS build is told to
run ``xcode-select --install``, a Windows build about Visual Studio, a Linux
build the package manager command of the host it runs on.
"""

from __future__ import annotations

import os
import shutil

from typing import Callable

from . import platforms
from .errors import PrerequisiteError
from .recipe import Recipe


def absent(needed: dict[str, str], which=shutil.which, exists=os.path.isfile) -> dict[str, str]:
    """The tools of ``needed`` (tool -> what provides it) that are not on PATH (``cc``: $CC),
    and the files it names by absolute path (a library such as clang's profile runtime) that
    are not there."""
    cc = os.environ.get("CC", "cc")

    def present(tool: str) -> bool:
        if tool.startswith("/"):
            return exists(tool)
        return which(cc if tool == "cc" else tool) is not None
    return {tool: what for tool, what in needed.items() if not present(tool)}


def require(needed: dict[str, str], install_hint: Callable[[dict[str, str]], str], which=shutil.which,
            exists=os.path.isfile) -> None:
    """Name every missing tool of ``needed``, with ``install_hint``'s command for them."""
    lacking = absent(needed, which, exists)
    if lacking:
        raise PrerequisiteError(f"the build host lacks: {', '.join(lacking)}", hint=install_hint(lacking))


def missing(recipe: Recipe, which=shutil.which, exists=os.path.isfile) -> dict[str, str]:
    """The platform's prerequisites for ``recipe`` that are not on PATH: tool -> what provides it."""
    return absent(platforms.get(recipe.os).prerequisites(recipe), which, exists)


def check(recipe: Recipe, which=shutil.which, exists=os.path.isfile) -> None:
    """Name every missing tool, with the command that installs them on this host."""
    plat = platforms.get(recipe.os)
    require(plat.prerequisites(recipe), plat.install_hint, which, exists)
