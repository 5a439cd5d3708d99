"""Recipe -> Plan: every step ``build`` would run (argv, env, cwd), decided purely.

Nothing here touches the disk or runs anything; ``pybuildssl plan`` prints a
Plan, ``pybuildssl build`` executes one (:mod:`pybuildssl.build`).

Steps whose argv[0] starts with ``pybuildssl:`` are done in-process by the
executor (fetch, extract, the ssl patch, relocation fix-ups, packaging); the
others are commands.

Components are cached by their inputs (:func:`component_keys`): the OpenSSL
key covers its source pin, patches, Configure arguments and the toolchain;
each library component (Linux: zlib, xz, sqlite, ... see components.py) has
its own key from its pin, the toolchain and the keys of what it is built
against; the CPython key covers its own inputs *and* every other key and
the rendered ssl patch.  A change to one library rebuilds it and CPython,
nothing else; a change to CPython's knobs alone rebuilds no library.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

from .hashing import sha256_json
from . import components as components_mod, platforms, toolchain as tc, trust
from .recipe import Recipe
from .steps import Dirs, Step
from .toolchain import Toolchain

#: Bump to invalidate cached components after a change in how they are built.
OPENSSL_LOGIC_VERSION = "3"
CPYTHON_LOGIC_VERSION = "5"  # 5: _sysconfigdata stays a literal; sysconfig relocates
#: What --strip does (build.py _do_strip); enters the key of stripped builds only.
STRIP_LOGIC_VERSION = "2"


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    keys: Mapping[str, str]
    dirs: Dirs
    steps: tuple[Step, ...]
    artifact_name: str
    toolchain: Toolchain = Toolchain("cc", "cc")

    def component_steps(self, component: str) -> list[Step]:
        return [s for s in self.steps if s.component == component]

    @property
    def order(self) -> list[str]:
        """Cached components in build order: openssl, the libraries, cpython."""
        return ["openssl", *self.dirs.component_out, "cpython"]

    def out_dir(self, component: str) -> Path:
        if component == "openssl":
            return self.dirs.openssl_out
        if component == "cpython":
            return self.dirs.cpython_out
        return self.dirs.component_out[component]

    def to_json(self) -> dict:
        return {
            "recipe": self.recipe.name,
            "recipe_sha256": self.recipe.digest(),
            "target": {"os": self.recipe.os, "arch": self.recipe.arch, "vendor": self.recipe.vendor},
            "openssldir": self.recipe.openssldir,
            "glibc_floor": self.recipe.glibc,
            "toolchain": {"kind": self.toolchain.kind, "id": self.toolchain.id},
            "components": {n: {"version": c.version, "sha256": c.sha256,
                               "alternatives": [a.sha256 for a in c.alternatives]}
                           for n, c in self.recipe.components.items()},
            "fallback": [list(x) for x in self.recipe.fallback],
            "component_keys": dict(self.keys),
            "artifact": self.artifact_name,
            "steps": [{**asdict(s), "argv": list(s.argv), "env": dict(s.env)} for s in self.steps],
        }


def _h(*parts: object) -> str:
    return sha256_json(parts, 16)


def _toolchain(recipe: Recipe, toolchain: "str | Toolchain", cache_dir: Path = Path("/cache")) -> Toolchain:
    """A Toolchain; a bare string is an id (plans made without looking at the host)."""
    if isinstance(toolchain, Toolchain):
        return toolchain
    if recipe.toolchain == "zig":
        return tc.describe(recipe, zig="zig", zig_version=toolchain, cache_dir=cache_dir)
    return Toolchain("cc", toolchain)


def component_keys(recipe: Recipe, *, toolchain: "str | Toolchain", ssl_patch: str) -> dict[str, str]:
    """Cache keys from each component's inputs (pure)."""
    tc_ = _toolchain(recipe, toolchain)
    tid = tc_.id
    # A source's licence is what the SBOM says, not a build input: it changes no key.
    r = {section: ({k: v for k, v in values.items() if k != "license"} if isinstance(values, dict) else values)
         for section, values in recipe.raw.items()}
    openssl = _h(OPENSSL_LOGIC_VERSION, tid, recipe.os, recipe.arch, recipe.libc,
                 r["openssl"], r["build"]["cflags"])
    keys = {"openssl": openssl}
    for name in recipe.components:
        spec = components_mod.SPECS[name]
        keys[name] = _h(components_mod.LOGIC_VERSION, name, tid, recipe.os, recipe.arch, recipe.libc,
                        r[name], r["build"]["cflags"], r["build"]["source_date_epoch"],
                        {dep: keys[dep] for dep in spec.depends}, _commands(recipe, name))
    parts: list[object] = [CPYTHON_LOGIC_VERSION, openssl, r["cpython"], r["build"]["cflags"], r["build"]["strip"],
                           r["build"]["source_date_epoch"], ssl_patch]
    if recipe.components:
        parts.append({n: keys[n] for n in recipe.components})
    if tc_.cpython_id:
        parts.append(tc_.cpython_id)
    if recipe.cpython_lto:  # its links get the prefix maps too (platforms/_posix.cpython_env)
        parts.append("lto links: LDFLAGS_NODIST file-prefix-map; gcc: strip-static-lto")
    if recipe.strip:
        parts.append(f"strip {STRIP_LOGIC_VERSION}")
    keys["cpython"] = _h(*parts)
    return keys


def target_triple(recipe: Recipe) -> str:
    """The target triple python-build-standalone names its archives by (x86_64-unknown-linux-gnu)."""
    arch = "aarch64" if recipe.arch in ("aarch64", "arm64") else recipe.arch
    if recipe.os == "macos":
        return f"{arch}-apple-darwin"
    if recipe.os == "windows":
        return f"{arch}-pc-windows-msvc"
    return f"{arch}-unknown-linux-{'musl' if recipe.libc == 'musl' else 'gnu'}"


def build_tag(recipe: Recipe) -> str:
    """What follows ``+`` in the name: the OpenSSL version and the recipe's flavour (``openssl3.5.9.rhel``).

    python-build-standalone puts its release date there; tools split names on ``-``, so the tag
    holds none (any character but letters, digits and dots becomes ``_``).
    """
    flavour = recipe.name
    head = f"{recipe.os}-{recipe.arch}-"
    if flavour.startswith(head):
        flavour = flavour[len(head):]
    elif flavour == head[:-1]:
        flavour = "default"
    return re.sub(r"[^0-9A-Za-z.]", "_", f"openssl{recipe.openssl.version}.{flavour}")


def artifact_name(recipe: Recipe) -> str:
    """python-build-standalone's shape: ``cpython-VERSION+TAG-TRIPLE-install_only[_stripped].tar.EXT``."""
    flavour = "install_only_stripped" if recipe.strip else "install_only"
    if recipe.cpython_free_threaded:
        flavour = f"freethreaded-{flavour}"
    return (f"cpython-{recipe.cpython.version}+{build_tag(recipe)}-{target_triple(recipe)}-"
            f"{flavour}.tar.{recipe.compression}")


def _commands(recipe: Recipe, name: str) -> list:
    """A component's build commands, planned in fixed placeholder directories: a change to how
    it is built (an argument, a flag, a step) changes its key without a manual version bump."""
    fake = Dirs(work=Path("/W"), openssl_out=Path("/O"), openssl_root=Path("/O"), cpython_out=Path("/P"),
                prefix=Path("/P"), jobs=1, component_out={n: Path("/C") / n for n in recipe.components})
    return [[s.name, list(s.argv), sorted(s.env.items())] for s in components_mod.steps(recipe, fake, name, {})]


def render_ssl_patch(recipe: Recipe) -> str:
    """The rendered trust block this recipe's ``ssl`` gets (it enters CPython's key)."""
    return trust.render_patch(recipe.os, fallback=[tuple(x) for x in recipe.fallback],
                              windows_mode=recipe.windows_mode)


def make_plan(recipe: Recipe, *, cache_dir: Path, jobs: int, toolchain: "str | Toolchain",
              ssl_patch: str | None = None) -> Plan:
    plat = platforms.get(recipe.os)
    tc = _toolchain(recipe, toolchain, cache_dir)
    keys = component_keys(recipe, toolchain=tc, ssl_patch=render_ssl_patch(recipe) if ssl_patch is None else ssl_patch)
    openssl_out = cache_dir / "components" / f"openssl-{keys['openssl']}"
    cpython_out = cache_dir / "components" / f"cpython-{keys['cpython']}"
    dirs = Dirs(
        work=cache_dir / "work" / keys["cpython"],
        openssl_out=openssl_out,
        openssl_root=openssl_out / plat.OPENSSL_PREFIX.lstrip("/"),
        cpython_out=cpython_out,
        prefix=cpython_out / plat.PYTHON_PREFIX.lstrip("/"),
        jobs=jobs,
        component_out={n: cache_dir / "components" / f"{n}-{keys[n]}" for n in recipe.components},
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
    libraries: list[Step] = []
    for name, src in recipe.components.items():
        src_dir = components_mod.src(dirs, name)
        libraries += [
            Step(f"{name}.fetch", name, ("pybuildssl:fetch", name, src.sha256), str(dirs.work), {}),
            Step(f"{name}.extract", name, ("pybuildssl:extract", name, str(src_dir)), str(dirs.work), {}),
            *[Step(f"{name}.patch", name, ("pybuildssl:apply-patch", p["file"], p["sha256"]), str(src_dir), {})
              for p in src.patches],
            *components_mod.steps(recipe, dirs, name, dict(tc.env)),
        ]
    steps = [
        fetch[0], extract_openssl, *[p for p in patches if p.component == "openssl"],
        *_with_env(plat.openssl_steps(recipe, dirs), tc),
        *libraries,
        fetch[1], extract_cpython, *[p for p in patches if p.component == "cpython"],
        *components_mod.merge_step(recipe, dirs),
        *_with_env(plat.cpython_steps(recipe, dirs), tc, tc.cpython_env),
        Step("package", "package", ("pybuildssl:package", str(dirs.prefix), artifact_name(recipe)),
             str(dirs.prefix), {}),
    ]
    return Plan(recipe=recipe, keys=keys, dirs=dirs, steps=tuple(steps), artifact_name=artifact_name(recipe),
                toolchain=tc)


def _with_env(steps: list[Step], tc: Toolchain, extra: Mapping[str, str] | None = None) -> list[Step]:
    """The toolchain's environment (CC, ...; then ``extra``) on every command step (a step's own
    values win), and its relocations (what names the build host's toolchain in sysconfig) on the
    relocate step."""
    env = {**tc.env, **(extra or {})}
    out = []
    for s in steps:
        if s.name == "cpython.relocate" and tc.relocations:
            s = Step(s.name, s.component, (*s.argv[:3], *(f"{old}={new}" for old, new in tc.relocations),
                                           *s.argv[3:]), s.cwd, s.env)
        elif env and not s.internal:
            s = Step(s.name, s.component, s.argv, s.cwd, {**env, **s.env})
        out.append(s)
    return out
