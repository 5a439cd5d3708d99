"""Recipe -> Plan: every step ``build`` would run (argv, env, cwd), decided purely.

Nothing here touches the disk or runs anything; ``pybuildssl plan`` prints a
Plan, ``pybuildssl build`` executes one (:mod:`pybuildssl.build`).

Steps whose argv[0] starts with ``pybuildssl:`` are done in-process by the
executor (fetch, extract, the ssl patch, relocation fix-ups, packaging); the
others are commands.

Components are cached by their inputs (:func:`component_keys`): the OpenSSL
key covers its source pin, patches, Configure arguments and the compiler;
the CPython key covers its own inputs *and* the OpenSSL key and the rendered
ssl patch, so a change to CPython's knobs alone rebuilds no OpenSSL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

from .recipe import Recipe

#: Bump to invalidate cached components after a change in how they are built.
OPENSSL_LOGIC_VERSION = "1"
CPYTHON_LOGIC_VERSION = "3"


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

    @property
    def openssl_src(self) -> Path:
        return self.work / "openssl-src"

    @property
    def cpython_src(self) -> Path:
        return self.work / "cpython-src"

    @property
    def cpython_build(self) -> Path:
        return self.work / "cpython-build"


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    keys: Mapping[str, str]
    dirs: Dirs
    steps: tuple[Step, ...]
    artifact_name: str

    def component_steps(self, component: str) -> list[Step]:
        return [s for s in self.steps if s.component == component]

    def to_json(self) -> dict:
        return {
            "recipe": self.recipe.name,
            "recipe_sha256": self.recipe.digest(),
            "target": {"os": self.recipe.os, "arch": self.recipe.arch, "vendor": self.recipe.vendor},
            "openssldir": self.recipe.openssldir,
            "fallback": [list(x) for x in self.recipe.fallback],
            "component_keys": dict(self.keys),
            "artifact": self.artifact_name,
            "steps": [{**asdict(s), "argv": list(s.argv), "env": dict(s.env)} for s in self.steps],
        }


def _h(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def component_keys(recipe: Recipe, *, toolchain: str, ssl_patch: str) -> dict[str, str]:
    """Cache keys from each component's inputs (pure)."""
    r = recipe.raw
    openssl = _h(OPENSSL_LOGIC_VERSION, toolchain, recipe.os, recipe.arch, recipe.libc,
                 r["openssl"], r["build"]["cflags"])
    cpython = _h(CPYTHON_LOGIC_VERSION, openssl, r["cpython"], r["build"]["cflags"], r["build"]["strip"],
                 r["build"]["source_date_epoch"], ssl_patch)
    return {"openssl": openssl, "cpython": cpython}


def artifact_name(recipe: Recipe) -> str:
    return (f"cpython-{recipe.cpython.version}-openssl-{recipe.openssl.version}-"
            f"{recipe.name}.tar.{recipe.compression}")


def make_plan(recipe: Recipe, *, cache_dir: Path, jobs: int, toolchain: str, ssl_patch: str) -> Plan:
    from . import platforms

    plat = platforms.get(recipe.os)
    keys = component_keys(recipe, toolchain=toolchain, ssl_patch=ssl_patch)
    openssl_out = cache_dir / "components" / f"openssl-{keys['openssl']}"
    cpython_out = cache_dir / "components" / f"cpython-{keys['cpython']}"
    dirs = Dirs(
        work=cache_dir / "work" / keys["cpython"],
        openssl_out=openssl_out,
        openssl_root=openssl_out / plat.OPENSSL_PREFIX.lstrip("/"),
        cpython_out=cpython_out,
        prefix=cpython_out / plat.PYTHON_PREFIX.lstrip("/"),
        jobs=jobs,
    )
    fetch = [
        Step(f"{c}.fetch", c, ("pybuildssl:fetch", c, src.sha256), str(dirs.work), {})
        for c, src in (("openssl", recipe.openssl), ("cpython", recipe.cpython))
    ]
    extract_openssl = Step("openssl.extract", "openssl", ("pybuildssl:extract", "openssl", str(dirs.openssl_src)),
                           str(dirs.work), {})
    extract_cpython = Step("cpython.extract", "cpython", ("pybuildssl:extract", "cpython", str(dirs.cpython_src)),
                           str(dirs.work), {})
    patches = [
        Step(f"{c}.patch", c, ("pybuildssl:apply-patch", p["file"], p["sha256"]),
             str(dirs.openssl_src if c == "openssl" else dirs.cpython_src), {})
        for c, src in (("openssl", recipe.openssl), ("cpython", recipe.cpython)) for p in src.patches
    ]
    steps = [
        fetch[0], extract_openssl, *[p for p in patches if p.component == "openssl"],
        *plat.openssl_steps(recipe, dirs),
        fetch[1], extract_cpython, *[p for p in patches if p.component == "cpython"],
        *plat.cpython_steps(recipe, dirs),
        Step("package", "package", ("pybuildssl:package", str(dirs.prefix), artifact_name(recipe)),
             str(dirs.prefix), {}),
    ]
    return Plan(recipe=recipe, keys=keys, dirs=dirs, steps=tuple(steps), artifact_name=artifact_name(recipe))
