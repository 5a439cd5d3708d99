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
from typing import Callable

from . import __version__, cachelock, components as components_mod, package, plan as plan_mod, platforms, relocate, sources as sources_mod, toolchain, trust
from .errors import BuildError, PrerequisiteError, SourceError
from .plan import Plan, Step, make_plan
from .recipe import Recipe
from .runner import Runner
from .ui import UI, human_size
from . import elf

STAMP = ".complete.json"


def default_cache_dir() -> Path:
    env = os.environ.get("PYBUILDSSL_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "pybuildssl" if xdg else Path.home() / ".cache" / "pybuildssl"


def toolchain_id(runner: Runner) -> str:
    cc = os.environ.get("CC", "cc")
    out = runner.capture([cc, "--version"])
    return (out.stdout.splitlines() or [cc])[0].strip()


# ------------------------------------------------------------ prerequisites ---

def check_prerequisites(recipe: Recipe, runner: Runner) -> None:
    """Name every missing tool and header, with the command that installs them."""
    plat = platforms.get(recipe.os)
    prereqs: dict[str, str] = getattr(plat, "PREREQUISITES", {})
    missing: list[tuple[str, str]] = []
    for what, pkg in prereqs.items():
        if what == "cc" and recipe.toolchain == "zig":
            continue  # Zig brings its own compiler
        if what in ("autoreconf", "automake", "libtoolize") and "libffi" not in recipe.components:
            continue
        if what.endswith(".h"):
            if not _header_check(runner, what):
                missing.append((what, pkg))
        elif shutil.which(os.environ.get("CC", "cc") if what == "cc" else what) is None:
            missing.append((what, pkg))
    if missing:
        names = ", ".join(w for w, _ in missing)
        pkgs = " ".join(sorted({p for _, p in missing}))
        raise PrerequisiteError(f"the build host lacks: {names}",
                                hint=f"install them: apt-get install -y {pkgs}")


def _header_check(runner: Runner, header: str) -> bool:
    cc = os.environ.get("CC", "cc")
    r = runner.capture([cc, "-E", "-x", "c", "-", "-o", os.devnull], input=f"#include <{header}>\n", timeout=60)
    return r.returncode == 0


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
        self.ssl_patch = trust.render_patch(recipe.os, fallback=[tuple(x) for x in recipe.fallback],
                                            windows_mode=recipe.windows_mode)
        self._toolchain: toolchain.Toolchain | None = None
        self._fetched: dict[str, Path] = {}
        self._used_pins: dict[str, str] = {}
        self._step: Step | None = None

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
        artifact, manifest, packaged = self._package(plan)
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
                self._used_pins[component] = json.loads((out / STAMP).read_text()).get("source_sha256", "")
            else:
                cached[component] = True
            return checked
        if not checked:
            check_prerequisites(self.recipe, self.runner)
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
            stamp["source_sha256"] = self._used_pins.get(component, "")
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
        action = action.split(":", 1)[1]
        handler: Callable[..., None] = getattr(self, "_do_" + action.replace("-", "_"))
        self._step = step
        handler(plan, log, *args)

    def _source(self, component: str) -> sources_mod.Source:
        if component in ("openssl", "cpython"):
            return getattr(self.recipe, component)
        return self.recipe.components[component]

    def _do_fetch(self, plan: Plan, log: Path, component: str, sha256: str) -> None:
        path, pin = self.sources.fetch_pinned(self._source(component))
        self._fetched[component] = path
        self._used_pins[component] = pin

    def _do_extract(self, plan: Plan, log: Path, component: str, dest: str) -> None:
        archive = self._fetched.get(component) or self.sources.fetch(self._source(component))
        sources_mod.extract(archive, Path(dest))

    def _do_autoreconf(self, plan: Plan, log: Path, src: str) -> None:
        """Generate configure when the tree has none (a git snapshot such as Debian's libffi orig)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        if (Path(src) / "configure").is_file():
            log.write_text("configure is present: nothing to generate\n")
            return
        if shutil.which("autoreconf") is None:
            raise PrerequisiteError(f"{Path(src).name}: this source tree has no configure script and "
                                    "autoreconf is missing", hint="apt-get install -y autoconf automake libtool")
        self.runner.run(["autoreconf", "-fi"], cwd=src, env=self._step.env if self._step else {}, log=log,
                        step=self._step.name if self._step else "autoreconf")

    def _do_require_tclsh_unless(self, plan: Plan, log: Path, generated: str) -> None:
        cwd = Path(self._step.cwd) if self._step else Path(".")
        if (cwd / generated).is_file() or shutil.which("tclsh"):
            return
        raise PrerequisiteError(f"this SQLite source is the full tree (no {generated}): generating the "
                                "amalgamation needs tclsh, which is missing", hint="apt-get install -y tcl")

    def _do_install_files(self, plan: Plan, log: Path, dest: str, *specs: str) -> None:
        """Copy built files into DEST/SUBDIR: each spec is ``SUBDIR=FILE[|FILE...]`` (the first that exists)."""
        cwd = Path(self._step.cwd) if self._step else Path(".")
        lines = []
        for spec in specs:
            sub, _, choices = spec.partition("=")
            src = next((cwd / c for c in choices.split("|") if (cwd / c).is_file()), None)
            if src is None:
                raise BuildError(f"{self._step.name if self._step else 'install'}: none of {choices} was built in {cwd}",
                                 step=self._step.name if self._step else "install", log_path=str(log))
            target = Path(dest) / sub / src.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            lines.append(f"{src} -> {target}")
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("\n".join(lines) + "\n")

    def _do_merge_deps(self, plan: Plan, log: Path, dest: str, *outs: str) -> None:
        """One deps prefix for CPython: every component's tree, hard-linked (copied across devices)."""
        root = Path(dest)
        if root.exists():
            shutil.rmtree(root)
        lines = []
        for out in outs:
            base = Path(out)
            for dirpath, dirs, files in os.walk(base):
                rel = Path(dirpath).relative_to(base)
                (root / rel).mkdir(parents=True, exist_ok=True)
                for name in files:
                    if rel == Path(".") and name == STAMP:
                        continue
                    s, t = Path(dirpath) / name, root / rel / name
                    if t.exists() or t.is_symlink():
                        t.unlink()
                    if s.is_symlink():
                        os.symlink(os.readlink(s), t)
                        continue
                    try:
                        os.link(s, t)
                    except OSError:
                        shutil.copy2(s, t)
            lines.append(out)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("merged:\n" + "\n".join(lines) + "\n")

    def _do_apply_patch(self, plan: Plan, log: Path, name: str, sha256: str) -> None:
        from .recipe import builtin_dir

        path = builtin_dir() / "patches" / name
        if not path.is_file():
            raise BuildError(f"recipe patch {name} not found in {path.parent}", step="patch")
        actual = sources_mod.sha256_file(path)
        if actual != sha256:
            raise BuildError(f"recipe patch {name}: sha256 {actual} does not match the pin {sha256}",
                             step="patch", hint="update the pin in the recipe after reviewing the patch")
        cwd = self._step.cwd if self._step else (
            plan.dirs.openssl_src if "openssl" in str(log.name) else plan.dirs.cpython_src)
        self.runner.run(["patch", "-p1", "--forward", "-i", str(path)], cwd=cwd, log=log, step="patch")

    def _do_patch_ssl(self, plan: Plan, log: Path, ssl_py: str) -> None:
        r = self.recipe
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as f:
            trust.patch_source_tree(Path(ssl_py).parent.parent, r.os, fallback=[tuple(x) for x in r.fallback],
                                    windows_mode=r.windows_mode, log=lambda m: f.write(m + "\n"))

    def _do_set_rpath(self, plan: Plan, log: Path, prefix: str, rpath: str) -> None:
        exe = relocate.interpreter(Path(prefix))
        if self.recipe.cpython_shared:
            self.runner.run(["patchelf", "--set-rpath", rpath, str(exe)], log=log, step="cpython.rpath")

    def _do_macos_install_names(self, plan: Plan, log: Path, prefix: str, loader: str) -> None:
        raise BuildError("macOS install-name fix-ups run only on a macOS build host",
                         step="cpython.install-names")

    def _do_relocate(self, plan: Plan, log: Path, prefix: str, old: str, *pairs: str) -> None:
        root = Path(prefix)
        # OLD=NEW, split at the last "=": an old string may hold one (a compiler
        # command with -fno-sanitize=undefined), a new one never does.
        replacements = [tuple(p.rsplit("=", 1)) for p in pairs]
        changed = relocate.relocate_tree(root, old, replacements)  # type: ignore[arg-type]
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("\n".join(changed) + "\n")
        jobs = [(root / c, root / c, None) for c in changed if c.endswith(".py")]
        # Bytecode compiled under DESTDIR (ensurepip's pip) names the staging
        # path: compile it again as if it lived at the install prefix.
        jobs += relocate.pycs_mentioning(root, str(root))
        self._recompile(root, old, jobs, log)

    def _recompile(self, prefix: Path, old: str, jobs: list, log: Path) -> None:
        """Write checked-hash .pyc files whose co_filename is under the neutral prefix."""
        if not jobs:
            return
        code = ("import json, py_compile, sys\n"
                "for src, cfile, dfile, opt in json.load(sys.stdin):\n"
                "    for o in ([opt] if opt is not None else [0, 1, 2]):\n"
                "        py_compile.compile(src, cfile=cfile if opt is not None else None, dfile=dfile,\n"
                "                           optimize=o, doraise=True)\n")
        todo = []
        for src, pyc, opt in jobs:
            dfile = old + "/" + src.relative_to(prefix).as_posix()
            todo.append([str(src), str(pyc) if opt is not None else None, dfile, opt])
        env = {"SOURCE_DATE_EPOCH": str(self.recipe.source_date_epoch)}
        argv = [str(relocate.interpreter(prefix)), "-E", "-s", "-c", code]
        res = self.runner.capture(argv, env={**os.environ, **env}, input=json.dumps(todo), timeout=600)
        with open(log, "a") as f:
            f.write(f"recompiled {len(todo)} modules\n{res.stdout}{res.stderr}")
        if res.returncode != 0:
            raise BuildError("recompiling relocated bytecode failed", step="cpython.relocate",
                             log_path=str(log), log_tail=res.stderr[-2000:])

    def _do_strip(self, plan: Plan, log: Path, prefix: str) -> None:
        root = Path(prefix)
        lib = relocate.find_version_dir(root)
        for sub in ("test", "idlelib/idle_test", "tkinter/test", "lib2to3/tests"):
            if (lib / sub).is_dir():
                shutil.rmtree(lib / sub)
        if self.recipe.cpython_shared:
            # The static libpython (~50 MB) is only for embedding Python statically;
            # the shared build's interpreter and extensions use libpython3.X.so.
            for a in lib.glob("config-*/libpython*.a"):
                a.unlink()
        binaries = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and elf.is_elf(p)]
        if binaries:
            # --strip-unneeded: debug info and the static symbol tables; the
            # dynamic symbols every loader and extension needs stay.
            self.runner.run(["strip", "--strip-unneeded", *map(str, binaries)], log=log, step="cpython.strip")

    def _do_package(self, plan: Plan, log: Path, prefix: str, name: str) -> None:  # pragma: no cover
        raise AssertionError("packaging is done by Builder._package")

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
                            patch_sha256=sources_mod.sha256_text(self.ssl_patch),
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
        key = sources_mod.sha256_text(json.dumps([plan.keys["cpython"], r.digest(), epoch, package.MANIFEST_SCHEMA,
                               self.build_paths()]))[:16]
        cached = self.cache_dir / "artifacts" / key / plan.artifact_name
        dest = self.dist_dir / plan.artifact_name
        packaged = False
        if cached.is_file():
            self.ui.step(f"package: cached ({cached})")
            manifest = package.read_manifest(cached)
        else:
            with self.ui.timed("package"):
                files = package.file_table(plan.dirs.prefix)
                manifest = self.manifest(plan, files)
                package.write_archive(plan.dirs.prefix, manifest, cached, compression=r.compression, mtime=epoch)
            packaged = True
        self.dist_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dist_dir / f".{plan.artifact_name}.tmp"
        shutil.copyfile(cached, tmp)
        os.replace(tmp, dest)
        self.ui.info(f"artifact: {dest} ({human_size(dest.stat().st_size)}, sha256 {sources_mod.sha256_file(dest)})")
        return dest, manifest, packaged

