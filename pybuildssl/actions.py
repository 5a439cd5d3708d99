"""The in-process steps of a plan: what ``pybuildssl:NAME`` in a Step's argv does.

Each action is ``fn(ctx, step, log, *args)``: it gets the Step itself (its
cwd and env are the plan's, never guessed) and writes what it did to ``log``.
:data:`ACTIONS` maps the name after ``pybuildssl:`` to the function; the
executor (:mod:`pybuildssl.build`) looks nothing else up.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import archive, hashing, relocate, sources as sources_mod, trust
from .errors import BuildError, PrerequisiteError
from .recipe import Recipe, builtin_dir
from .runner import Runner
from .steps import Step
from . import binfmt as elf

#: A component directory counts only once this stamp is written.
STAMP = ".complete.json"


@dataclass
class Context:
    """What the actions of one build share."""

    recipe: Recipe
    runner: Runner
    sources: sources_mod.Sources
    #: packages the installed tree as the named archive (the builder's cache and dist/)
    package: Callable[[Path, str], None]
    #: component -> the downloaded archive, and the sha256 it matched
    fetched: dict[str, Path] = field(default_factory=dict)
    used_pins: dict[str, str] = field(default_factory=dict)

    def source(self, component: str) -> sources_mod.Source:
        if component in ("openssl", "cpython"):
            return getattr(self.recipe, component)
        return self.recipe.components[component]


def _write(log: Path, text: str, mode: str = "w") -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, mode) as f:
        f.write(text)


def fetch(ctx: Context, step: Step, log: Path, component: str, sha256: str) -> None:
    path, pin = ctx.sources.fetch_pinned(ctx.source(component))
    ctx.fetched[component] = path
    ctx.used_pins[component] = pin


def extract(ctx: Context, step: Step, log: Path, component: str, dest: str) -> None:
    tarball = ctx.fetched.get(component) or ctx.sources.fetch(ctx.source(component))
    archive.extract(tarball, Path(dest))


def autoreconf(ctx: Context, step: Step, log: Path, src: str) -> None:
    """Generate configure when the tree has none (a git snapshot such as Debian's libffi orig)."""
    if (Path(src) / "configure").is_file():
        _write(log, "configure is present: nothing to generate\n")
        return
    if shutil.which("autoreconf") is None:
        raise PrerequisiteError(f"{Path(src).name}: this source tree has no configure script and "
                                "autoreconf is missing", hint="apt-get install -y autoconf automake libtool")
    log.parent.mkdir(parents=True, exist_ok=True)
    ctx.runner.run(["autoreconf", "-fi"], cwd=src, env=step.env, log=log, step=step.name)


def require_tclsh_unless(ctx: Context, step: Step, log: Path, generated: str) -> None:
    if (Path(step.cwd) / generated).is_file() or shutil.which("tclsh"):
        return
    raise PrerequisiteError(f"this SQLite source is the full tree (no {generated}): generating the "
                            "amalgamation needs tclsh, which is missing", hint="apt-get install -y tcl")


def install_files(ctx: Context, step: Step, log: Path, dest: str, *specs: str) -> None:
    """Copy built files into DEST/SUBDIR: each spec is ``SUBDIR=FILE[|FILE...]`` (the first that exists)."""
    cwd = Path(step.cwd)
    lines = []
    for spec in specs:
        sub, _, choices = spec.partition("=")
        src = next((cwd / c for c in choices.split("|") if (cwd / c).is_file()), None)
        if src is None:
            raise BuildError(f"{step.name}: none of {choices} was built in {cwd}", step=step.name, log_path=str(log))
        target = Path(dest) / sub / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        lines.append(f"{src} -> {target}")
    _write(log, "\n".join(lines) + "\n")


def merge_deps(ctx: Context, step: Step, log: Path, dest: str, *outs: str) -> None:
    """One deps prefix for CPython: every component's tree, hard-linked (copied across devices)."""
    root = Path(dest)
    if root.exists():
        shutil.rmtree(root)
    for out in outs:
        _link_tree(Path(out), root)
    _write(log, "merged:\n" + "\n".join(outs) + "\n")


def _link_tree(base: Path, root: Path) -> None:
    for dirpath, _dirs, files in os.walk(base):
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


def apply_patch(ctx: Context, step: Step, log: Path, name: str, sha256: str) -> None:
    path = recipe_patch(name, sha256, step.name)
    ctx.runner.run(["patch", "-p1", "--forward", "-i", str(path)], cwd=step.cwd, log=log, step=step.name)


def recipe_patch(name: str, sha256: str, step: str) -> Path:
    """A patch file under recipes/patches/, checked against its pin before anything applies it."""
    path = builtin_dir() / "patches" / name
    if not path.is_file():
        raise BuildError(f"recipe patch {name} not found in {path.parent}", step=step)
    actual = hashing.sha256_file(path)
    if actual != sha256:
        raise BuildError(f"recipe patch {name}: sha256 {actual} does not match the pin {sha256}",
                         step=step, hint="update the pin in the recipe after reviewing the patch")
    return path


def patch_ssl(ctx: Context, step: Step, log: Path, ssl_py: str) -> None:
    r = ctx.recipe
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        trust.patch_source_tree(Path(ssl_py).parent.parent, r.os, fallback=[tuple(x) for x in r.fallback],
                                windows_mode=r.windows_mode, log=lambda m: f.write(m + "\n"))


def set_rpath(ctx: Context, step: Step, log: Path, prefix: str, rpath: str) -> None:
    exe = relocate.interpreter(Path(prefix))
    if ctx.recipe.cpython_shared:
        ctx.runner.run(["patchelf", "--set-rpath", rpath, str(exe)], log=log, step=step.name)


def relocate_tree(ctx: Context, step: Step, log: Path, prefix: str, old: str, *pairs: str) -> None:
    root = Path(prefix)
    # OLD=NEW, split at the last "=": an old string may hold one (a compiler
    # command with -fno-sanitize=undefined), a new one never does.
    replacements = [tuple(p.rsplit("=", 1)) for p in pairs]
    changed = relocate.relocate_tree(root, old, replacements)  # type: ignore[arg-type]
    _write(log, "\n".join(changed) + "\n")
    jobs = [(root / c, root / c, None) for c in changed if c.endswith(".py")]
    # Bytecode compiled under DESTDIR (ensurepip's pip) names the staging
    # path: compile it again as if it lived at the install prefix.
    jobs += relocate.pycs_mentioning(root, str(root))
    _recompile(ctx, step, root, old, jobs, log)


_RECOMPILE = ("import json, py_compile, sys\n"
              "for src, cfile, dfile, opt in json.load(sys.stdin):\n"
              "    for o in ([opt] if opt is not None else [0, 1, 2]):\n"
              "        py_compile.compile(src, cfile=cfile if opt is not None else None, dfile=dfile,\n"
              "                           optimize=o, doraise=True)\n")


def _recompile(ctx: Context, step: Step, prefix: Path, old: str, jobs: list, log: Path) -> None:
    """Write checked-hash .pyc files whose co_filename is under the neutral prefix."""
    if not jobs:
        return
    todo = []
    for src, pyc, opt in jobs:
        dfile = old + "/" + src.relative_to(prefix).as_posix()
        todo.append([str(src), str(pyc) if opt is not None else None, dfile, opt])
    env = {"SOURCE_DATE_EPOCH": str(ctx.recipe.source_date_epoch)}
    argv = [str(relocate.interpreter(prefix)), "-E", "-s", "-c", _RECOMPILE]
    res = ctx.runner.capture(argv, env={**os.environ, **env}, input=json.dumps(todo), timeout=600)
    _write(log, f"recompiled {len(todo)} modules\n{res.stdout}{res.stderr}", "a")
    if res.returncode != 0:
        raise BuildError("recompiling relocated bytecode failed", step=step.name,
                         log_path=str(log), log_tail=res.stderr[-2000:])


def strip(ctx: Context, step: Step, log: Path, prefix: str) -> None:
    root = Path(prefix)
    lib = relocate.find_version_dir(root)
    for sub in ("test", "idlelib/idle_test", "tkinter/test", "lib2to3/tests"):
        if (lib / sub).is_dir():
            shutil.rmtree(lib / sub)
    if ctx.recipe.cpython_shared:
        # The static libpython (~50 MB) is only for embedding Python statically;
        # the shared build's interpreter and extensions use libpython3.X.so.
        for a in lib.glob("config-*/libpython*.a"):
            a.unlink()
    binaries = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and elf.is_elf(p)]
    if binaries:
        # --strip-unneeded: debug info and the static symbol tables; the
        # dynamic symbols every loader and extension needs stay.
        ctx.runner.run(["strip", "--strip-unneeded", *map(str, binaries)], log=log, step=step.name)


def strip_static_lto(ctx: Context, step: Step, log: Path, prefix: str) -> None:
    """The config directory's static pieces (libpython3.X.a, python.o) of a gcc LTO build: their
    LTO sections record every compile option (the -ffile-prefix-map arguments name the build
    directory), and their line tables keep the build directory (measured, gcc 12 with fat LTO
    objects); without both, they are plain objects that link with any compiler."""
    lib = relocate.find_version_dir(Path(prefix))
    pieces = [str(p) for pattern in ("config-*/libpython*.a", "config-*/python.o") for p in lib.glob(pattern)
              if p.is_file() and not p.is_symlink()]
    for piece in pieces:  # objcopy rewrites one file a call
        ctx.runner.run(["objcopy", "--remove-section=.gnu.lto_*", "--remove-section=.gnu.debuglto_*",
                        "--strip-debug", piece], log=log, step=step.name)


#: Where configure puts each optimisation's flags in the Makefile when the compiler supports
#: it, and the flag to find there (3.13: LTO's go into CONFIGURE_CFLAGS_NODIST).
OPTIMIZATION_FLAGS = {"pgo": ("PGO_PROF_USE_FLAG", "-f"), "lto": ("CONFIGURE_CFLAGS_NODIST", "-flto")}


def check_optimizations(ctx: Context, step: Step, log: Path, makefile: str, *wanted: str) -> None:
    """Fail unless configure turned each wanted optimisation into flags in ``makefile``."""
    names = {var for var, _ in OPTIMIZATION_FLAGS.values()}
    values = {}
    for line in Path(makefile).read_text(encoding="utf-8", errors="replace").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() in names:
            values[name.strip()] = value.strip()
    missing = [w for w in wanted if OPTIMIZATION_FLAGS[w][1] not in values.get(OPTIMIZATION_FLAGS[w][0], "")]
    _write(log, "".join(f"{OPTIMIZATION_FLAGS[w][0]} = {values.get(OPTIMIZATION_FLAGS[w][0], '')!r}\n"
                        for w in wanted))
    if missing:
        what = " and ".join({"pgo": "PGO (cpython.optimizations)", "lto": "LTO (cpython.lto)"}[w] for w in missing)
        where = ", ".join(f"no {OPTIMIZATION_FLAGS[w][1]}... in {OPTIMIZATION_FLAGS[w][0]}" for w in missing)
        raise BuildError(f"CPython's configure turned {what} into no compiler flags ({where} of {makefile})",
                         hint="it recognises gcc and clang by the compiler's name (a Zig build is configured "
                              "with CC=clang, pybuildssl/toolchain.py); see the configure log, or build "
                              "without them: --set build.profile=fast",
                         step=step.name, log_path=str(log))


def package(ctx: Context, step: Step, log: Path, prefix: str, name: str) -> None:
    ctx.package(Path(prefix), name)


ACTIONS: dict[str, Callable[..., None]] = {
    "fetch": fetch, "extract": extract, "autoreconf": autoreconf,
    "require-tclsh-unless": require_tclsh_unless, "install-files": install_files,
    "merge-deps": merge_deps, "apply-patch": apply_patch, "patch-ssl": patch_ssl,
    "set-rpath": set_rpath, "relocate": relocate_tree, "strip": strip, "package": package,
    "check-optimizations": check_optimizations, "strip-static-lto": strip_static_lto,
}
