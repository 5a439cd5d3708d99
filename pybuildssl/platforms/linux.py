"""Linux targets: static OpenSSL linked into _ssl/_hashlib, $ORIGIN rpaths.

The libraries CPython's extension modules need (zlib, xz, sqlite, ncurses,
...) are built from source as static components (pybuildssl/components.py)
and the whole build uses the recipe's toolchain (pybuildssl/toolchain.py):
Zig aimed at the recipe's glibc floor, or the host's cc.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _posix
from .. import components, toolchain
from ._posix import OPENSSL_PREFIX, PYTHON_PREFIX  # noqa: F401  (the Platform protocol)
from ..errors import RecipeError
from ..steps import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..steps import Dirs
    from ..recipe import Recipe

OPENSSL_TARGETS = {"x86_64": "linux-x86_64", "aarch64": "linux-aarch64"}

#: Debian packages the build needs (tool -> package).  No library headers:
#: every library is a component built from source.  ``cc`` is checked only
#: for the cc toolchain (Zig brings its own compiler and libc headers).
PREREQUISITES = {
    "cc": "gcc", "make": "make", "perl": "perl", "patchelf": "patchelf", "ar": "binutils", "objcopy": "binutils",
    "patch": "patch",
    # Debian's libffi orig is a git tree without configure (components.py)
    "autoreconf": "autoconf", "automake": "automake", "libtoolize": "libtool",
}


#: The package manager command of each host family (os-release ID / ID_LIKE) and whether it
#: takes Debian's package names.
INSTALLERS = (("debian", "apt-get install -y"), ("ubuntu", "apt-get install -y"))


def prerequisites(recipe: "Recipe") -> dict[str, str]:
    """Tools this recipe's build needs on a Linux host: tool -> Debian package."""
    needed = dict(PREREQUISITES)
    if recipe.toolchain == "zig":
        del needed["cc"]  # Zig brings its own compiler
        if recipe.cpython_optimizations:  # but not LLVM's profile tools (pybuildssl/toolchain.py)
            needed.update(toolchain.pgo_prerequisites(recipe.arch))
    if "libffi" not in recipe.components:
        for tool in ("autoreconf", "automake", "libtoolize"):
            del needed[tool]
    return needed


def install_hint(missing: dict[str, str], os_release: str = "/etc/os-release") -> str:
    """The host's own install command when it is a Debian-family host; else the package names."""
    packages = " ".join(sorted(set(missing.values())))
    try:
        text = open(os_release).read()
    except OSError:
        text = ""
    family = " ".join(line.split("=", 1)[1].strip('"') for line in text.splitlines()
                      if line.startswith(("ID=", "ID_LIKE=")))
    for name, command in INSTALLERS:
        if name in family.split():
            return f"install them: {command} {packages}"
    return f"install the packages that provide them (Debian names: {packages}) with this host's package manager"


def _check(recipe: "Recipe") -> None:
    if recipe.libc == "musl":
        raise RecipeError(
            f"{recipe.path}: target.libc is 'musl', but pybuildssl has no musl toolchain yet",
            hint="a glibc build is not an Alpine artifact: build linux-x86_64-generic "
                 "(whose fallback list covers Alpine's store) or wait for musl support")
    if recipe.arch not in OPENSSL_TARGETS:
        raise RecipeError(f"{recipe.path}: target.arch {recipe.arch!r} is not a Linux arch",
                          hint="valid: " + ", ".join(OPENSSL_TARGETS))


def openssl_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    steps = _posix.openssl_steps(recipe, d, OPENSSL_TARGETS[recipe.arch], {})
    # OpenSSL's own flags have no -g, but zig cc emits debug info anyway (with
    # the work directory in it): -g0, as with gcc.  Not -ffile-prefix-map:
    # OpenSSL records its flags in libcrypto (`openssl version -f`), path included.
    conf = steps[0]
    steps[0] = Step(conf.name, conf.component, (*conf.argv, "-g0"), conf.cwd, conf.env)
    return steps


def cpython_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    configure = _posix.cpython_configure(recipe, d, components.cpython_configure_args(recipe))
    env = _posix.cpython_env(recipe, d, components.cpython_env(recipe, d))
    extra = (f"{components.deps_root(d)}={components.DEPS_PREFIX}",) if recipe.components else ()
    fixups = [
        # --with-openssl-rpath cannot carry $ORIGIN; patchelf sets it after the build.
        Step("cpython.rpath", "cpython", ("pybuildssl:set-rpath", str(d.prefix), "$ORIGIN/../lib"),
             str(d.prefix), {}),
        _posix.relocate_step(d, extra),
    ]
    if recipe.cpython_lto and recipe.toolchain == "cc":  # gcc's fat LTO objects (actions.strip_static_lto)
        fixups.append(Step("cpython.strip-static-lto", "cpython", ("pybuildssl:strip-static-lto", str(d.prefix)),
                           str(d.prefix), {}))
    steps = _posix.cpython_steps(recipe, d, configure, env, fixups)
    if recipe.cpython_optimizations:
        steps = [offline_training(s) if s.name == "cpython.make" else s for s in steps]
    return steps


#: PGO's training run (``make`` runs ``$(PROFILE_TASK)``, CPython's test suite, between its two
#: compilations) must not reach the network.  The whole ``make`` runs in a new network namespace
#: whose only interface is loopback (brought up: the training's socket and ssl tests talk to
#: 127.0.0.1); ``--map-root-user`` lets an unprivileged user create it.  The trust patch is
#: applied before configure (``cpython.patch-ssl``), so training runs the ssl.py that ships, and
#: the profile only steers how the C code is compiled: the patch's Python behaviour cannot change.
OFFLINE_PREFIX = ("unshare", "--net", "--map-root-user", "--", "sh", "-c",
                  'ip link set lo up && exec "$@"', "pgo-offline")


def offline_training(step: Step) -> Step:
    """``step`` (CPython's ``make`` with --enable-optimizations) inside a loopback-only network namespace."""
    return Step(step.name, step.component, (*OFFLINE_PREFIX, *step.argv), step.cwd, step.env)
