"""The C toolchain a build uses: the host's ``cc`` or Zig aimed at a glibc floor.

A Linux artifact runs on a system only if its glibc is at least the newest
``GLIBC_x.y`` symbol version any of its ELF files needs.  Compiling against
the build host's glibc makes that the host's version (2.36 on Debian 12).
Zig's ``zig cc`` (clang, shipped with stub libraries of every glibc version
and the matching headers) links against the glibc named in the target
triple, ``x86_64-linux-gnu.2.17``, without a container or an old sysroot.
PyPI's ``ziglang`` package carries it, so ``pip`` installs it like any other
build dependency (ci/setup.sh does).

Deciding (pure): :func:`describe` turns a recipe and a located zig binary into
a :class:`Toolchain`: an id for cache keys and the environment every compile
step gets.  Acting: :func:`find_zig` and :func:`identify` look at the host.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from .errors import PrerequisiteError

#: The ziglang release this project builds and tests with (ci/setup.sh installs it).
ZIG_TESTED = "0.15.2"
ZIG_INSTALL_HINT = (f"pip install 'ziglang=={ZIG_TESTED}' into the Python that runs pybuildssl "
                    "(or set PYBUILDSSL_ZIG=/path/to/zig); or build for the host's glibc: "
                    "--set target.glibc= ")
#: Zig's target triples (the glibc floor is appended: x86_64-linux-gnu.2.17).
ZIG_TRIPLES = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}
#: Flags every zig compile gets.  zig cc compiles without -O in Debug mode,
#: which turns on UBSan traps: configure's test programs (built without -O)
#: must behave as with any other compiler.
ZIG_FLAGS = ("-fno-sanitize=undefined",)


@dataclass(frozen=True)
class Toolchain:
    kind: str                     # "cc" or "zig"
    id: str                       # enters every component's cache key
    env: Mapping[str, str] = field(default_factory=dict)  # CC, CXX, ... for every compile step
    #: Strings that name the build host's toolchain in installed text files
    #: (sysconfig's CC), each with what it becomes in the artifact.
    relocations: tuple[tuple[str, str], ...] = ()

    @property
    def cc(self) -> str:
        return self.env.get("CC", os.environ.get("CC", "cc"))


def zig_target(recipe) -> str:
    return f"{ZIG_TRIPLES[recipe.arch]}.{recipe.glibc}"


def describe(recipe, *, zig: str = "zig", zig_version: str = "?", cache_dir: Path | None = None,
             cc_id: str = "cc") -> Toolchain:
    """The toolchain ``recipe`` asks for (pure)."""
    if recipe.toolchain != "zig":
        return Toolchain("cc", cc_id)
    if recipe.os != "linux" or recipe.arch not in ZIG_TRIPLES:
        from .errors import RecipeError

        raise RecipeError(f"{recipe.path}: build.toolchain 'zig' is for Linux x86_64/aarch64 targets",
                          hint="use build.toolchain = \"cc\" for this target")
    if not recipe.glibc:
        from .errors import RecipeError

        raise RecipeError(f"{recipe.path}: build.toolchain is 'zig' but target.glibc is empty",
                          hint="set target.glibc (for example 2.17) or build.toolchain = \"cc\"")
    target = zig_target(recipe)
    flags = " ".join(ZIG_FLAGS)
    cc = f"{zig} cc -target {target} {flags}"
    cxx = f"{zig} c++ -target {target} {flags}"
    env = {"CC": cc, "CXX": cxx}
    if cache_dir is not None:
        # zig caches compiled libc stubs and compiler-rt: keep them with ours.
        env["ZIG_GLOBAL_CACHE_DIR"] = str(cache_dir / "zig")
        env["ZIG_LOCAL_CACHE_DIR"] = str(cache_dir / "zig")
    return Toolchain("zig", f"zig {zig_version} {target} {flags}", env,
                     relocations=((cxx, "c++"), (cc, "cc")))


# ------------------------------------------------------------------ acting ---

def find_zig() -> str | None:
    """PYBUILDSSL_ZIG, the ``ziglang`` package of this Python, or ``zig`` on PATH."""
    env = os.environ.get("PYBUILDSSL_ZIG")
    if env:
        return env
    try:
        import importlib.util

        spec = importlib.util.find_spec("ziglang")
        if spec and spec.origin:
            exe = Path(spec.origin).parent / "zig"
            if exe.is_file() and os.access(exe, os.X_OK):
                return str(exe)
    except (ImportError, ValueError):  # pragma: no cover
        pass
    return shutil.which("zig")


def identify(recipe, capture: Callable, cache_dir: Path) -> Toolchain:
    """Locate and identify the toolchain on this host; PrerequisiteError when it is missing.

    ``capture(argv)`` runs a command and returns a CompletedProcess (the runner's door).
    """
    if recipe.toolchain == "zig":
        zig = find_zig()
        if not zig:
            raise PrerequisiteError(
                f"recipe {recipe.name} has a glibc floor ({recipe.glibc}), which needs Zig, and none was found",
                hint=ZIG_INSTALL_HINT)
        out = capture([zig, "version"])
        if out.returncode != 0:
            raise PrerequisiteError(f"{zig} version failed: {out.stderr.strip()[-300:]}", hint=ZIG_INSTALL_HINT)
        return describe(recipe, zig=zig, zig_version=out.stdout.strip(), cache_dir=cache_dir)
    cc = os.environ.get("CC", "cc")
    out = capture([cc, "--version"])
    return Toolchain("cc", (out.stdout.splitlines() or [cc])[0].strip())
