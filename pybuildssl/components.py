"""Third-party libraries built from source for Linux artifacts (pure: Recipe -> steps).

Each component is configured with the neutral prefix :data:`DEPS_PREFIX`,
built static and position-independent (``--disable-shared``, ``-fPIC``),
installed with DESTDIR into its own cache directory
(``components/NAME-KEY``) and cached by its inputs like OpenSSL.  Before
CPython's configure the installed trees are merged into one deps prefix
(``WORK/deps``) and CPython is pointed at it with CPPFLAGS/LDFLAGS,
``PKG_CONFIG_LIBDIR`` (so no .pc file of the build host is seen) and
explicit ``*_CFLAGS``/``*_LIBS`` per module (static libraries do not carry
their own dependencies, e.g. readline needs ncursesw).  The extension
modules then contain the libraries: the artifact needs nothing from the host
but glibc's family.

Build paths are kept out of the objects: the work directory and every
dependency's staging root are mapped to neutral paths in debug info
(``-ffile-prefix-map``), as for OpenSSL and CPython.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .steps import Dirs, Step

if TYPE_CHECKING:  # pragma: no cover
    from .recipe import Recipe

#: Where components think they are installed (compiled into nothing that
#: matters at run time except ncurses' terminfo search path, set explicitly).
DEPS_PREFIX = "/opt/pybuildssl/deps"
BUILD_PLACEHOLDER = "/opt/pybuildssl/build"
#: Bump to rebuild every component after a change in how they are built.
LOGIC_VERSION = "1"

#: Where ncurses looks for terminal descriptions on the target (Debian,
#: Fedora/RHEL, SUSE, Arch, Alpine keep them in one of these).
TERMINFO_DIRS = "/etc/terminfo:/lib/terminfo:/usr/share/terminfo:/usr/lib/terminfo"

#: SQLite features distributions enable (Debian's libsqlite3 has these too).
SQLITE_FEATURES = ("-DSQLITE_ENABLE_FTS3", "-DSQLITE_ENABLE_FTS3_PARENTHESIS", "-DSQLITE_ENABLE_FTS4",
                   "-DSQLITE_ENABLE_FTS5", "-DSQLITE_ENABLE_RTREE", "-DSQLITE_ENABLE_DBSTAT_VTAB",
                   "-DSQLITE_ENABLE_MATH_FUNCTIONS", "-DSQLITE_ENABLE_COLUMN_METADATA")


@dataclass(frozen=True)
class Spec:
    name: str
    modules: tuple[str, ...]          # CPython extension modules it feeds
    depends: tuple[str, ...] = ()     # components it is built against
    subdir: str = ""                  # where configure lives inside the source tree


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("zlib", ("zlib", "binascii")),
    Spec("bzip2", ("_bz2",)),
    Spec("xz", ("_lzma",)),
    Spec("libffi", ("_ctypes",)),
    Spec("sqlite", ("_sqlite3",)),
    Spec("ncurses", ("_curses", "_curses_panel")),
    Spec("readline", ("readline",), depends=("ncurses",)),
    Spec("libuuid", ("_uuid",)),
    Spec("gdbm", ("_gdbm", "_dbm")),
    Spec("tcl", ("_tkinter",), subdir="unix"),
    Spec("tk", ("_tkinter",), depends=("tcl",), subdir="unix"),
)}

_AUTOCONF_STATIC = ("--disable-shared", "--enable-static", "--with-pic")


def root(d: "Dirs", name: str):
    """The installed tree of one component (its DESTDIR + DEPS_PREFIX)."""
    return d.component_out[name] / DEPS_PREFIX.lstrip("/")


def deps_root(d: "Dirs"):
    """The merged deps prefix CPython is built against."""
    return d.deps / DEPS_PREFIX.lstrip("/")


def src(d: "Dirs", name: str):
    return d.work / f"{name}-src"


def cflags(recipe: "Recipe", d: "Dirs", name: str) -> str:
    parts = ["-O2", "-g", "-fPIC", f"-ffile-prefix-map={d.work}={BUILD_PLACEHOLDER}"]
    parts += [f"-ffile-prefix-map={root(d, dep)}={DEPS_PREFIX}" for dep in SPECS[name].depends]
    if name == "sqlite":
        parts += SQLITE_FEATURES
    if name == "bzip2":
        parts += ["-D_FILE_OFFSET_BITS=64", "-Wall", "-Winline"]  # what bzip2's Makefile sets
    if recipe.cflags:
        parts.append(recipe.cflags)
    return " ".join(parts)


def env(recipe: "Recipe", d: "Dirs", name: str, base: dict[str, str]) -> dict[str, str]:
    out = {**base, "CFLAGS": cflags(recipe, d, name), "SOURCE_DATE_EPOCH": str(recipe.source_date_epoch)}
    deps = SPECS[name].depends
    if deps:
        inc = [f"-I{root(d, dep)}/include" for dep in deps]
        if "ncurses" in deps:
            inc.append(f"-I{root(d, 'ncurses')}/include/ncursesw")
        out["CPPFLAGS"] = " ".join(inc)
        out["LDFLAGS"] = " ".join(f"-L{root(d, dep)}/lib" for dep in deps)
    return out


def configure_args(recipe: "Recipe", d: "Dirs", name: str) -> list[str]:
    """The configure command of one component (cwd: its source tree, or subdir)."""
    prefix = f"--prefix={DEPS_PREFIX}"
    if name == "zlib":
        args = ["./configure", prefix, "--static"]
    elif name == "xz":
        args = ["./configure", prefix, *_AUTOCONF_STATIC, "--disable-xz", "--disable-xzdec", "--disable-lzmadec",
                "--disable-lzmainfo", "--disable-lzma-links", "--disable-scripts", "--disable-doc", "--disable-nls"]
    elif name == "libffi":
        # lib, not lib64 (x86_64's multi-os directory)
        args = ["./configure", prefix, *_AUTOCONF_STATIC, "--disable-docs", "--disable-multi-os-directory"]
    elif name == "sqlite":
        args = ["./configure", prefix, *_AUTOCONF_STATIC, "--disable-tcl", "--disable-readline",
                "--disable-editline", "--enable-threadsafe"]
    elif name == "ncurses":
        args = ["./configure", prefix, "--without-shared", "--with-normal", "--without-debug", "--without-profile",
                "--without-ada", "--without-cxx", "--without-cxx-binding", "--without-manpages", "--without-progs",
                "--without-tack", "--without-tests", "--enable-widec", "--disable-db-install",
                "--disable-stripping", f"--with-terminfo-dirs={TERMINFO_DIRS}",
                "--with-default-terminfo-dir=/usr/share/terminfo"]
    elif name == "readline":
        args = ["./configure", prefix, *_AUTOCONF_STATIC, "--with-curses", "--disable-install-examples",
                "bash_cv_termcap_lib=libncursesw"]
    elif name == "libuuid":
        args = ["./configure", prefix, *_AUTOCONF_STATIC, "--disable-all-programs", "--enable-libuuid",
                "--disable-nls", "--without-python", "--without-systemd", "--without-udev", "--without-tinfo",
                "--without-ncursesw", "--without-ncurses", "--without-readline", "--disable-bash-completion",
                "--disable-asciidoc", "--disable-poman", "--disable-makeinstall-chown",
                "--disable-makeinstall-setuid"]
    elif name == "gdbm":
        args = ["./configure", prefix, *_AUTOCONF_STATIC, "--enable-libgdbm-compat", "--without-readline",
                "--disable-nls"]
    elif name == "tcl":
        args = ["./configure", prefix, "--disable-shared", "--enable-threads"]
    elif name == "tk":
        args = ["./configure", prefix, "--disable-shared", "--enable-threads", f"--with-tcl={root(d, 'tcl')}/lib",
                "--with-x"]
    else:  # bzip2: no configure
        return []
    return args + list(recipe.components[name].configure_args)


def steps(recipe: "Recipe", d: "Dirs", name: str, base_env: dict[str, str]) -> list["Step"]:
    """configure, make and install of one component (fetch/extract/patch come from plan.py)."""
    e = env(recipe, d, name, base_env)
    s = src(d, name)
    cwd = str(s / SPECS[name].subdir) if SPECS[name].subdir else str(s)
    out = d.component_out[name]
    make = ("make", f"-j{d.jobs}")
    if name == "bzip2":
        # A plain Makefile: CC/CFLAGS on the command line (it sets its own).
        mk = [f"CC={e.get('CC', 'cc')}", f"CFLAGS={e['CFLAGS']}"]
        return [
            Step("bzip2.make", name, (*make, "libbz2.a", *mk), cwd, e),
            Step("bzip2.install", name, ("make", "install", f"PREFIX={out}{DEPS_PREFIX}", *mk), cwd, e),
        ]
    result: list[Step] = []
    if name == "libffi":
        # Debian's orig is the git tree without configure: generate it then.
        result.append(Step("libffi.autoreconf", name, ("pybuildssl:autoreconf", cwd), cwd, e))
    if name == "sqlite":
        # Debian's orig is the full tree: its amalgamation is generated with tclsh.
        result.append(Step("sqlite.check-tools", name, ("pybuildssl:require-tclsh-unless", "sqlite3.c"), cwd, e))
    result.append(Step(f"{name}.configure", name, tuple(configure_args(recipe, d, name)), cwd, e))
    if name == "zlib":
        result.append(Step("zlib.make", name, (*make, "libz.a"), cwd, e))
    elif name == "sqlite":
        result.append(Step("sqlite.make", name, (*make, "libsqlite3.la"), cwd, e))
    else:
        result.append(Step(f"{name}.make", name, make, cwd, e))
    if name == "sqlite":
        # Only the library and its header: `make install` would also build the
        # sqlite3 shell (the amalgamation compiled a second time, ~1 min).
        result.append(Step("sqlite.install", name, ("pybuildssl:install-files", f"{out}{DEPS_PREFIX}",
                                                    "lib=.libs/libsqlite3.a", "include=sqlite3.h",
                                                    "include=sqlite3ext.h|src/sqlite3ext.h"), cwd, {}))
        return result
    install = "install-static" if name == "readline" else "install"
    result.append(Step(f"{name}.install", name, ("make", install, f"DESTDIR={out}"), cwd, e))
    return result


# ------------------------------------------------------------------ CPython ---

def cpython_env(recipe: "Recipe", d: "Dirs") -> dict[str, str]:
    """What CPython's configure needs to find the merged deps prefix, and only it."""
    if not recipe.components:
        return {}
    r = deps_root(d)
    inc, lib = f"-I{r}/include", f"-L{r}/lib"
    c = recipe.components
    out = {
        # __DATE__/__TIME__ in sys.version come from it: reproducible builds
        "SOURCE_DATE_EPOCH": str(recipe.source_date_epoch),
        "CPPFLAGS": inc,
        "LDFLAGS": lib,
        # PKG_CONFIG_LIBDIR replaces pkg-config's default search path: no .pc
        # file of the build host (libb2, tk, X11, ...) leaks into the build.
        "PKG_CONFIG_LIBDIR": f"{r}/lib/pkgconfig",
        "PKG_CONFIG_PATH": f"{r}/lib/pkgconfig",
    }
    libs = {
        "zlib": [("ZLIB", "-lz")],
        "bzip2": [("BZIP2", "-lbz2")],
        "xz": [("LIBLZMA", "-llzma")],
        "libffi": [("LIBFFI", "-lffi")],
        "sqlite": [("LIBSQLITE3", "-lsqlite3 -lm -lpthread -ldl")],
        "ncurses": [("CURSES", "-lncursesw"), ("PANEL", "-lpanelw -lncursesw")],
        "readline": [("LIBREADLINE", "-lreadline -lncursesw")],
        "libuuid": [("LIBUUID", "-luuid")],
        "gdbm": [("GDBM", "-lgdbm")],
        "tk": [("TCLTK", "-ltk8.6 -ltcl8.6 -lX11 -lz -lm -lpthread -ldl")],
    }
    for name, pairs in libs.items():
        if name not in c:
            continue
        for var, flags in pairs:
            # what each library's .pc file says: CPython's configure trusts it for the
            # header's place (a found "uuid" means <uuid.h>, in include/uuid/)
            cf = {"CURSES": f"{inc} {inc}/ncursesw", "PANEL": f"{inc} {inc}/ncursesw",
                  "LIBUUID": f"{inc}/uuid"}.get(var, inc)
            out[f"{var}_CFLAGS"] = cf
            out[f"{var}_LIBS"] = f"{lib} {flags}"
    return out


def cpython_configure_args(recipe: "Recipe") -> list[str]:
    """Modules switched off explicitly, so nothing on the build host can bring them back."""
    if recipe.os != "linux":
        return []
    args = ["--with-system-expat=no", "--with-system-libmpdec=no"]
    c = recipe.components
    if "gdbm" not in c:
        args += ["py_cv_module__gdbm=n/a", "py_cv_module__dbm=n/a"]
    else:
        args.append("--with-dbmliborder=gdbm")
    if "tk" not in c:
        args.append("py_cv_module__tkinter=n/a")
    return args


def merge_step(recipe: "Recipe", d: "Dirs") -> list["Step"]:
    if not recipe.components:
        return []
    return [Step("cpython.deps", "cpython",
                 ("pybuildssl:merge-deps", str(d.deps), *(str(d.component_out[n]) for n in recipe.components)),
                 str(d.work), {})]
