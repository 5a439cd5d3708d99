"""Execute a Plan: component cache, staging, atomic publish.

Layout of the cache (``$PYBUILDSSL_CACHE``, else ``$XDG_CACHE_HOME/pybuildssl``,
else ``~/.cache/pybuildssl``), outside any checkout:

    sources/SHA256/FILE          checked downloads
    components/openssl-KEY/      OpenSSL installed with DESTDIR (+ .complete.json)
    components/NAME-KEY/         each library component (Linux: zlib, xz, ...) likewise
    components/cpython-KEY/      CPython installed, patched, relocated (+ .complete.json)
    zig/                         Zig's own cache (compiled libc stubs), when Zig is the toolchain
    artifacts/KEY/ARCHIVE        packaged archives
    work/KEY/                    source and build trees (removed after success)
    locks/NAME.lock              one builder per component and work tree at a time (flock)
    logs/RECIPE-KEY/STEP.log     one log per step

A component directory counts only once its ``.complete.json`` stamp is
written, so a failed or interrupted build is never reused.  The archive goes
to ``dist/`` by temp file + ``os.replace``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import (__version__, actions, cachelock, hashing, components as components_mod, package, plan as plan_mod, platforms,
               prerequisites, relocate, sources as sources_mod, toolchain)
from .actions import STAMP
from .cache import default_cache_dir
from .errors import BuildError, PrerequisiteError, SourceError
from .plan import Plan, make_plan
from .recipe import Recipe
from .runner import Runner
from .steps import Step
from .ui import UI, human_size


# ------------------------------------------------------------------ builder ---

@dataclass
class BuildResult:
    artifact: Path
    manifest: dict
    timings: dict[str, float]
    cached: dict[str, bool]
    #: library components (Linux): name -> {"cached": bool, "seconds": float}
    components: dict[str, dict] = None  # type: ignore[assignment]


class Builder:
    def __init__(self, recipe: Recipe, *, cache_dir: Path | None = None, dist_dir: Path = Path("dist"),
                 source_dirs: list[Path] | None = None, offline: bool = False, jobs: int = 0,
                 ui: UI | None = None, runner: Runner | None = None,
                 sources: sources_mod.Sources | None = None) -> None:
        self.recipe = recipe
        self.ui = ui or UI()
        self.runner = runner or Runner(self.ui)
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.dist_dir = Path(dist_dir)
        dirs = list(source_dirs or []) + sources_mod.source_dirs_from_env()
        self.sources = sources or sources_mod.Sources(self.cache_dir, dirs, ui=self.ui, offline=offline)
        self.jobs = jobs or recipe.jobs or os.cpu_count() or 2
        self.ssl_patch = plan_mod.render_ssl_patch(recipe)
        self._toolchain: toolchain.Toolchain | None = None
        self._context: actions.Context | None = None
        self._packaged: tuple[Path, dict, bool] | None = None

    # -- planning ------------------------------------------------------------
    def plan(self, toolchain_: "str | toolchain.Toolchain | None" = None) -> Plan:
        if toolchain_ is None:
            if self._toolchain is None:
                self._toolchain = toolchain.identify(self.recipe, self.runner.capture, self.cache_dir)
            toolchain_ = self._toolchain
        return make_plan(self.recipe, cache_dir=self.cache_dir, jobs=self.jobs, toolchain=toolchain_,
                         ssl_patch=self.ssl_patch)

    def log_dir(self, plan: Plan) -> Path:
        return self.cache_dir / "logs" / f"{self.recipe.name}-{plan.keys['cpython']}"

    # -- executing -------------------------------------------------------------
    def build(self) -> BuildResult:
        t0 = time.monotonic()
        plan = self.plan()
        # The work tree is keyed like CPython, the components by their own keys: one builder
        # of each at a time in this cache (parallel CI jobs share caches).
        with cachelock.held(self.cache_dir, f"work-{plan.keys['cpython']}", waiting=self.ui.info):
            timings: dict[str, float] = {}
            cached: dict[str, bool] = {}
            libs: dict[str, dict] = {}
            checked = False
            for component in plan.order:
                out = plan.out_dir(component)
                with cachelock.held(self.cache_dir, out.name, waiting=self.ui.info):
                    checked = self._component(plan, component, out, checked, timings, cached, libs)
            if plan.dirs.work.exists():
                shutil.rmtree(plan.dirs.work, ignore_errors=True)
        for step in plan.component_steps("package"):
            self._run_step(plan, step)
        if self._packaged is None:  # pragma: no cover  (make_plan always ends with the package step)
            raise BuildError("the plan has no package step", step="package")
        artifact, manifest, packaged = self._packaged
        cached["package"] = not packaged
        timings["total"] = time.monotonic() - t0
        return BuildResult(artifact=artifact, manifest=manifest, timings=timings, cached=cached, components=libs)

    def _component(self, plan: Plan, component: str, out: Path, checked: bool,
                   timings: dict, cached: dict, libs: dict) -> bool:
        """Reuse or build one component (its lock held); returns whether prerequisites were checked."""
        is_lib = component not in ("openssl", "cpython")
        if (out / STAMP).is_file():
            self.ui.step(f"{component}: cached ({out})")
            if is_lib:
                libs[component] = {"cached": True, "seconds": 0.0}
                self._ctx(plan).used_pins[component] = json.loads((out / STAMP).read_text()).get("source_sha256", "")
            else:
                cached[component] = True
            return checked
        if not checked:
            prerequisites.check(self.recipe)
            toolchain.install(plan.toolchain)
            checked = True
        if out.exists():
            shutil.rmtree(out)
        start = time.monotonic()
        for step in plan.component_steps(component):
            timings[step.name] = self._run_step(plan, step)
        seconds = round(time.monotonic() - start, 1)
        stamp = {"key": plan.keys[component], "recipe": self.recipe.name, "seconds": seconds,
                 "toolchain": plan.toolchain.id}
        if is_lib:
            stamp["source_sha256"] = self._ctx(plan).used_pins.get(component, "")
            libs[component] = {"cached": False, "seconds": seconds}
        else:
            cached[component] = False
        (out / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        return checked

    def _run_step(self, plan: Plan, step: Step) -> float:
        start = time.monotonic()
        log = self.log_dir(plan) / f"{step.name}.log"
        with self.ui.timed(step.name):
            if step.internal:
                try:
                    self._internal(plan, step, log)
                except (BuildError, SourceError, PrerequisiteError):
                    raise
                except (OSError, ValueError, subprocess.SubprocessError) as e:
                    raise BuildError(f"step {step.name!r} failed: {e}", step=step.name, log_path=str(log),
                                     hint=f"read the log: {log}") from None
            else:
                Path(step.cwd).mkdir(parents=True, exist_ok=True)
                self.runner.run(step.argv, cwd=step.cwd, env=step.env, log=log, step=step.name)
        return time.monotonic() - start

    # -- in-process steps ----------------------------------------------------
    def _internal(self, plan: Plan, step: Step, log: Path) -> None:
        action, *args = step.argv
        name = action.split(":", 1)[1]
        if name not in actions.ACTIONS:
            raise BuildError(f"step {step.name!r}: no in-process action {name!r}", step=step.name)
        actions.ACTIONS[name](self._ctx(plan), step, log, *args)

    @property
    def _used_pins(self) -> dict[str, str]:
        """component -> the sha256 its source matched (an alternative pin, or the recipe's)."""
        return self._context.used_pins if self._context else {}

    def _ctx(self, plan: Plan) -> actions.Context:
        if self._context is None:
            def package_(prefix: Path, name: str) -> None:
                self._packaged = self._package(plan)
            self._context = actions.Context(self.recipe, self.runner, self.sources, package_)
        return self._context

    # -- packaging -------------------------------------------------------------
    def manifest(self, plan: Plan, files: dict):  # -> pybuildssl.manifest.Manifest
        from . import targets
        from .manifest import (ComponentPin, CPythonInfo, Manifest, OpenSSLInfo, RecipeInfo, SourcePin,
                               TargetInfo, Toolchain, TrustInfo)

        r = self.recipe
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or r.source_date_epoch)
        return Manifest(
            schema=package.MANIFEST_SCHEMA,
            tool="pybuildssl",
            recipe=RecipeInfo(name=r.name, sha256=r.digest(), resolved=r.to_dict()),
            target=TargetInfo(os=r.os, arch=r.arch, vendor=r.vendor, libc=r.libc, triple=r.target,
                              glibc=r.glibc, target_triple=plan_mod.target_triple(r)),
            build_tag=plan_mod.build_tag(r),
            tool_version=__version__,
            # installers (uv) parse _sysconfigdata as data and replace this placeholder in it
            sysconfig_placeholder=relocate.SYSCONFIG_PLACEHOLDER,
            toolchain=Toolchain(kind=plan.toolchain.kind, id=plan.toolchain.id),
            # how OpenSSL is linked is what the target's configure does with these options
            openssl=OpenSSLInfo(version=r.openssl.version, openssldir=r.openssldir,
                                options=list(r.openssl_options),
                                linkage=targets.openssl_linkage(r.os, r.openssl_options)),
            cpython=CPythonInfo(version=r.cpython.version, shared=r.cpython_shared,
                                interpreter="bin/" + relocate.interpreter(plan.dirs.prefix).name),
            trust=TrustInfo(fallback=[list(x) for x in r.fallback], windows_mode=r.windows_mode,
                            patch_sha256=hashing.sha256_text(self.ssl_patch),
                            opt_out_env="PYBUILDSSL_NO_FALLBACK"),
            sources=[SourcePin(name=s.name, version=s.version, sha256=s.sha256, url=s.urls[0], license=s.license)
                     for s in (r.openssl, r.cpython)],
            # libraries linked statically into the extension modules (Linux)
            components=[
                ComponentPin(name=n, version=s.version, sha256=self._used_pins.get(n) or s.sha256,
                             pinned_as=s.pinned_as(self._used_pins.get(n) or s.sha256), url=s.urls[0],
                             license=s.license, modules=list(components_mod.SPECS[n].modules))
                for n, s in r.components.items()
            ],
            component_keys=dict(plan.keys),
            build_prefix=platforms.get(r.os).PYTHON_PREFIX,
            # verify searches every file for these: no build path may be left behind
            build_paths=self.build_paths(),
            build_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
            build_time_note="SOURCE_DATE_EPOCH of the build, so that archives are reproducible",
            files=files,
        )

    def build_paths(self) -> list[str]:
        """Where the build happened: what no file of the artifact may name.

        The work trees, the staged components and the generated toolchain
        wrappers; not the whole cache, which may also hold the build's own
        tools (a virtualenv with Zig, whose include paths debug info names as
        it names gcc's).
        """
        root = self.cache_dir.resolve()
        return [str(root / sub) for sub in ("work", "components", "toolchain")]

    def _package(self, plan: Plan) -> tuple[Path, dict, bool]:
        r = self.recipe
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or r.source_date_epoch)
        key = hashing.sha256_text(json.dumps([plan.keys["cpython"], r.digest(), epoch, package.MANIFEST_SCHEMA,
                               self.build_paths()]))[:16]
        cached = self.cache_dir / "artifacts" / key / plan.artifact_name
        dest = self.dist_dir / plan.artifact_name
        packaged = False
        if cached.is_file():
            self.ui.step(f"package: cached ({cached})")
            manifest = package.read_manifest(cached)
        else:
            files = package.file_table(plan.dirs.prefix)
            typed = self.manifest(plan, files)
            package.write_archive(plan.dirs.prefix, typed, cached, compression=r.compression, mtime=epoch)
            manifest = typed.to_dict()  # the same plain data read_manifest gives for a cached one
            packaged = True
        self.dist_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dist_dir / f".{plan.artifact_name}.tmp"
        shutil.copyfile(cached, tmp)
        os.replace(tmp, dest)
        self.ui.info(f"artifact: {dest} ({human_size(dest.stat().st_size)}, sha256 {hashing.sha256_file(dest)})")
        return dest, manifest, packaged

