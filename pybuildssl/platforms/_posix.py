"""What Linux and macOS share: OpenSSL's Configure/make and CPython's configure/make."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..steps import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..steps import Dirs
    from ..recipe import Recipe

OPENSSL_PREFIX = "/opt/pybuildssl/openssl"
PYTHON_PREFIX = "/opt/pybuildssl/python"
#: What build paths become in the artifact (debug info, sysconfig data).
BUILD_PLACEHOLDER = "/opt/pybuildssl/build"


def openssl_steps(recipe: "Recipe", d: "Dirs", target: str, env: dict[str, str]) -> list[Step]:
    configure = [
        "perl", "./Configure", target,
        f"--prefix={OPENSSL_PREFIX}",
        "--libdir=lib",  # linux-x86_64 defaults to lib64; CPython looks only in DIR/lib
        f"--openssldir={recipe.openssldir}",
        *recipe.openssl_options,
        *recipe.openssl.configure_args,
    ]
    if recipe.cflags:
        configure.append(recipe.cflags)
    src = str(d.openssl_src)
    return [
        Step("openssl.configure", "openssl", tuple(configure), src, env),
        Step("openssl.make", "openssl", ("make", f"-j{d.jobs}"), src, env),
        Step("openssl.install", "openssl",
             ("make", "install_sw", f"DESTDIR={d.openssl_out}"), src, env),
    ]


def cpython_configure(recipe: "Recipe", d: "Dirs", extra: list[str]) -> list[str]:
    args = [
        # Relative: __FILE__ strings in the binaries then carry no build path.
        f"../{d.cpython_src.name}/configure",
        f"--prefix={PYTHON_PREFIX}",
        f"--with-openssl={d.openssl_root}",
        "--with-openssl-rpath=no",  # static OpenSSL: nothing to find at run time
        "--with-ensurepip=install",
    ]
    if recipe.cpython_shared:
        args.append("--enable-shared")
    if recipe.cpython_optimizations:
        args.append("--enable-optimizations")
    if recipe.cpython_lto:
        args.append("--with-lto")
    if recipe.cpython_free_threaded:
        args.append("--disable-gil")
    return args + extra + list(recipe.cpython.configure_args)


def cpython_env(recipe: "Recipe", d: "Dirs", base: dict[str, str]) -> dict[str, str]:
    """CFLAGS that keep the work directory and OpenSSL's staging root out of debug info.

    With LTO the link compiles too (gcc's link-time units take the link's directory as their
    DW_AT_comp_dir), so the interpreter's links get the same maps (LDFLAGS_NODIST: not recorded
    for extensions)."""
    maps = f"-ffile-prefix-map={d.work}={BUILD_PLACEHOLDER} -ffile-prefix-map={d.openssl_root}={OPENSSL_PREFIX}"
    cflags = f"{maps} {recipe.cflags}" if recipe.cflags else maps
    return {**base, "CFLAGS": cflags, **({"LDFLAGS_NODIST": maps} if recipe.cpython_lto else {})}


def relocate_step(d: "Dirs", extra: tuple[str, ...] = ()) -> Step:
    """Rewrite the install prefix and every build path left in text files.

    Each further argument is ``OLD=NEW`` (split at the last ``=``), applied in
    order; ``extra`` pairs come before the work directory's, which contains them.
    """
    return Step("cpython.relocate", "cpython",
                ("pybuildssl:relocate", str(d.prefix), PYTHON_PREFIX,
                 f"{d.openssl_root}={OPENSSL_PREFIX}", *extra, f"{d.work}={BUILD_PLACEHOLDER}"),
                str(d.prefix), {})


def _check_optimizations(recipe: "Recipe", d: "Dirs") -> list[Step]:
    """After configure: PGO and LTO asked for must have become compiler flags (CPython's configure
    leaves them empty, silently, for a compiler it does not know by name)."""
    wanted = [w for w, on in (("pgo", recipe.cpython_optimizations), ("lto", recipe.cpython_lto)) if on]
    if not wanted:
        return []
    build = str(d.cpython_build)
    return [Step("cpython.check-optimizations", "cpython",
                 ("pybuildssl:check-optimizations", f"{build}/Makefile", *wanted), build, {})]


def cpython_steps(recipe: "Recipe", d: "Dirs", configure: list[str], env: dict[str, str],
                  fixups: list[Step]) -> list[Step]:
    build = str(d.cpython_build)
    # SOURCE_DATE_EPOCH makes compileall write checked-hash .pyc files: valid
    # whatever the files' mtimes are after packaging, and reproducible.
    install_env = {**env, "SOURCE_DATE_EPOCH": str(recipe.source_date_epoch)}
    steps = [
        Step("cpython.patch-ssl", "cpython", ("pybuildssl:patch-ssl", str(d.cpython_src / "Lib" / "ssl.py")),
             str(d.cpython_src), {}),
        Step("cpython.configure", "cpython", tuple(configure), build, env),
        *_check_optimizations(recipe, d),
        Step("cpython.make", "cpython", ("make", f"-j{d.jobs}"), build, env),
        Step("cpython.install", "cpython", ("make", "install", f"DESTDIR={d.cpython_out}"), build, install_env),
        *fixups,
    ]
    if recipe.strip:
        steps.append(Step("cpython.strip", "cpython", ("pybuildssl:strip", str(d.prefix)), str(d.prefix), {}))
    return steps
