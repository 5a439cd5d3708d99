"""What a plan is made of: a Step (one command or in-process action) and the Dirs a build works in.

A leaf: plan, components and every platform build Steps from here; nothing
here imports anything of pybuildssl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class Step:
    name: str
    component: str
    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def internal(self) -> bool:
        return self.argv[0].startswith("pybuildssl:")


@dataclass(frozen=True)
class Dirs:
    """Where a build works.  Computed from the cache dir and component keys."""

    work: Path            # CACHE/work/KEY: sources and build trees (removed after success)
    openssl_out: Path     # CACHE/components/openssl-KEY (DESTDIR of OpenSSL's install)
    openssl_root: Path    # openssl_out + OPENSSL_PREFIX: what CPython is pointed at
    cpython_out: Path     # CACHE/components/cpython-KEY (DESTDIR of CPython's install)
    prefix: Path          # cpython_out + PYTHON_PREFIX: the installed tree
    jobs: int
    #: CACHE/components/NAME-KEY for each library component (Linux), in build order
    component_out: Mapping[str, Path] = field(default_factory=dict)

    @property
    def deps(self) -> Path:
        """The merged deps prefix's DESTDIR (components' trees, for CPython's configure)."""
        return self.work / "deps"

    @property
    def openssl_src(self) -> Path:
        return self.work / "openssl-src"

    @property
    def cpython_src(self) -> Path:
        return self.work / "cpython-src"

    @property
    def cpython_build(self) -> Path:
        return self.work / "cpython-build"
