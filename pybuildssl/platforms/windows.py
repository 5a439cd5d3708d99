"""Windows targets: OpenSSL for VC-WIN64A / VC-WIN64-ARM with nmake, CPython's PCbuild.

Every fact below was read in OpenSSL 3.5.7 and CPython 3.13.5's sources.

OpenSSL
    ``perl Configure VC-WIN64A`` (x86_64; NASM assembles the asm) or
    ``VC-WIN64-ARM`` (arm64; no asm), then ``nmake`` and ``nmake install_sw``,
    from a Visual Studio developer prompt for the target.  Shared: PCbuild
    links ``_ssl``/``_hashlib`` against the import libraries ``libcrypto.lib``
    and ``libssl.lib`` and copies the DLLs (PCbuild/openssl.props), and a
    static libcrypto would need crypt32/advapi32 that ``_hashlib.vcxproj`` does
    not link.  DLL names are OpenSSL's own: ``libcrypto-3-x64.dll`` /
    ``libssl-3-x64.dll`` (VC-WIN64A's ``multilib`` is ``-x64``) and
    ``libcrypto-3-arm64.dll`` (VC-WIN64-ARM); CPython's x64 default
    ``-3`` comes from ``VC-WIN64A-masm``, which OpenSSL calls experimental.
    ``no-uplink`` as CPython does: ``_ssl`` hands ``FILE*`` to OpenSSL
    (``load_dh_params``) and there is no applink in python.exe.
    ``--libdir=bin`` puts the import libraries next to the DLLs and PDBs, the
    one directory ``opensslOutDir`` must name.

OPENSSLDIR
    ``C:\\Program Files\\Common Files\\SSL`` (the layout table's Windows
    value, OpenSSL's own default for 64-bit VC targets, and python.org's):
    writable by administrators only, never a build path (CVE-2019-1552).
    Not ``-DOSSL_WINCTX``: with it and no registry key (every machine an
    installer has not touched) the default cert file is NULL and stock
    ``ssl.get_default_verify_paths()`` raises TypeError; see docs/windows.md.

CPython
    ``PCbuild\\build.bat -p x64|ARM64 -c Release -e --no-ssl @pybuildssl.rsp``:
    ``--no-ssl`` keeps get_externals.bat from fetching CPython's prebuilt
    OpenSSL (``openssl-bin-*``), and the response file (written by a step,
    because build.bat splits unquoted arguments at ``=``) sets the global
    properties ``IncludeSSL=true`` (the last ``/p:`` wins, so ``_ssl`` and
    ``_hashlib`` are built after all), ``opensslOutDir``,
    ``opensslIncludeDir`` and ``_DLLSuffix`` (openssl.props sets it without
    a condition; only a global property overrides it, and its ``-3`` would
    copy a ``libcrypto-3.dll`` that VC-WIN64A does not build).
    Then ``PC\\layout`` copies an install-style tree (python.exe, DLLs\\,
    Lib\\, libs\\, include\\, pip, venv, tcl) and ``compileall`` writes
    checked-hash ``.pyc`` files (SOURCE_DATE_EPOCH) so the tree is
    reproducible and valid wherever it is unpacked.

Trust
    The ssl patch is applied to ``Lib\\ssl.py`` before the build (store
    enumeration kept, no POSIX fallback).  ``trust.windows_mode`` "both" or
    "winstore" needs :data:`WINSTORE_PATCH` in ``openssl.patches`` (recipes
    ``windows-*-winstore``); "enumeration" must not have it.  The mode and
    the patch live in the recipe, so the OpenSSL cache key covers both.
"""

from __future__ import annotations

from pathlib import PureWindowsPath
from typing import TYPE_CHECKING

from .. import targets
from ..errors import RecipeError
from ..steps import Step

if TYPE_CHECKING:  # pragma: no cover
    from ..steps import Dirs
    from ..recipe import Recipe

OPENSSL_TARGETS = {"x86_64": "VC-WIN64A", "arm64": "VC-WIN64-ARM"}
#: build.bat -p values, and PCbuild's output directory ($(ArchName)) for each.
PCBUILD_PLATFORMS = {"x86_64": "x64", "arm64": "ARM64"}
PCBUILD_ARCHNAMES = {"x86_64": "amd64", "arm64": "arm64"}
#: The ``multilib`` part of OpenSSL's DLL names for each Configure target.
OPENSSL_DLL_SUFFIXES = {"x86_64": "-3-x64", "arm64": "-3-arm64"}
#: --prefix compiled into libcrypto (ENGINESDIR/MODULESDIR derive from it; with
#: no-module and no-engine neither is ever searched).  Admin-only, not a build path.
OPENSSL_PREFIX = "C:\\Program Files\\pybuildssl\\openssl"
#: Where ``nmake install_sw DESTDIR=X`` puts the tree: X + the prefix without its drive.
OPENSSL_PREFIX_IN_DESTDIR = ("Program Files", "pybuildssl", "openssl")
#: PC\layout copies straight into the component directory (python.exe at the top).
PYTHON_PREFIX = ""
INTERPRETER = "python.exe"
#: Windows OpenSSL is shared (DLLs in DLLs\); verify and the manifest may ask.
OPENSSL_LINKAGE = targets.openssl_linkage("windows", ())
#: The recipe patch that wires org.openssl.winstore:// into the default verify paths.
WINSTORE_PATCH = "openssl-winstore-default-paths.patch"
WINSTORE_URI = "org.openssl.winstore://"
#: What PC\layout includes (the "default" preset minus tests, symbols and docs).
LAYOUT_OPTIONS = ("--include-stable", "--include-pip", "--include-tcltk", "--include-idle",
                  "--include-venv", "--include-dev")
#: Response file for MSBuild, relative to PCbuild\ (cwd of the build step).
RSP_NAME = "pybuildssl.rsp"

#: Tools the build needs on PATH (a Visual Studio developer prompt for the target
#: arch provides cl, link and nmake), with where they come from.
PREREQUISITES = {
    "perl": "Strawberry Perl (OpenSSL's Configure; not MSYS/Git perl)",
    "nmake": "Visual Studio Build Tools: run from a developer prompt (vcvarsall.bat)",
    "cl": "Visual Studio Build Tools: run from a developer prompt (vcvarsall.bat)",
    "patch": "GNU patch (Git for Windows ships it in usr\\bin)",
}
PREREQUISITES_X86_64 = {"nasm": "NASM 2.09 or newer (VC-WIN64A's assembler)"}
INSTALL_HINT = ("install Visual Studio Build Tools (C++), Strawberry Perl, NASM and Git for Windows, "
                "then build from a developer prompt; docs/windows.md lists the commands")


def prerequisites(recipe: "Recipe") -> dict[str, str]:
    return {**PREREQUISITES, **(PREREQUISITES_X86_64 if recipe.arch == "x86_64" else {})}


def install_hint(missing: dict[str, str]) -> str:
    return INSTALL_HINT + ": " + "; ".join(f"{tool}: {what}" for tool, what in missing.items())


#: Where only administrators can write, and the OPENSSLDIR rule: in the neutral leaf
#: pybuildssl.targets (verify judges manifests with them too).
ADMIN_ONLY_ROOTS = targets.ADMIN_ONLY_ROOTS
openssldir_problem = targets.windows_openssldir_problem


# ----------------------------------------------------------------- checks ---

def _check(recipe: "Recipe") -> None:
    if recipe.arch not in OPENSSL_TARGETS:
        raise RecipeError(f"{recipe.path}: target.arch {recipe.arch!r} is not a Windows arch",
                          hint="valid: " + ", ".join(OPENSSL_TARGETS))
    problem = openssldir_problem(recipe.openssldir)
    if problem:
        raise RecipeError(f"{recipe.path}: openssl.openssldir {recipe.openssldir!r} {problem}",
                          hint="use C:\\Program Files\\Common Files\\SSL (the default; see docs/windows.md)")
    if any(o.startswith("-DOSSL_WINCTX") for o in (*recipe.openssl_options, *recipe.openssl.configure_args)):
        raise RecipeError(
            f"{recipe.path}: -DOSSL_WINCTX makes OpenSSL read OPENSSLDIR from the registry; without the key "
            "the default CA file is NULL and stock ssl.get_default_verify_paths() raises TypeError",
            hint="leave it out: OPENSSLDIR is compiled in (docs/windows.md explains the choice)")
    patched = WINSTORE_PATCH in winstore_patches(recipe)
    mode = recipe.windows_mode
    if mode in ("winstore", "both") and not patched:
        raise RecipeError(
            f"{recipe.path}: trust.windows_mode is {mode!r} but openssl.patches does not list {WINSTORE_PATCH}",
            hint=f"build the recipe windows-{recipe.arch}-winstore, or set trust.windows_mode=enumeration")
    if mode == "winstore" and not winstore_only_supported():
        raise RecipeError(
            f"{recipe.path}: trust.windows_mode 'winstore' means no store enumeration, but this version's "
            "ssl patch keeps CPython's enumeration in every mode (it would behave as 'both')",
            hint="use trust.windows_mode=both (the windows-*-winstore recipes)")
    if mode == "enumeration" and patched:
        raise RecipeError(
            f"{recipe.path}: openssl.patches lists {WINSTORE_PATCH} but trust.windows_mode is 'enumeration'",
            hint="set trust.windows_mode=both (or winstore), or build the recipe without the patch "
                 f"(windows-{recipe.arch})")


def winstore_only_supported() -> bool:
    """Does the ssl patch turn CPython's store enumeration off in mode "winstore"?

    That mode needs ``SSLContext._windows_cert_stores = ()`` in the rendered
    Windows block; until the template has it, the mode is refused rather than
    silently behaving as "both".
    """
    from .. import trust

    return "_windows_cert_stores" in trust.render_patch("windows", windows_mode="winstore")


def winstore_patches(recipe: "Recipe") -> list[str]:
    return [p["file"] for p in recipe.openssl.patches]


# ---------------------------------------------------------------- OpenSSL ---

def openssl_options(recipe: "Recipe") -> list[str]:
    """The recipe's options for Windows: shared (PCbuild links the DLLs), no uplink."""
    opts = [o for o in recipe.openssl_options if o != "no-shared"]
    if "no-uplink" not in opts:
        opts.append("no-uplink")
    return opts


def _win(path: object) -> PureWindowsPath:
    """A plan path as Windows writes it (plans for Windows are previewed on any host)."""
    return PureWindowsPath(str(path))


def openssl_root(d: "Dirs") -> PureWindowsPath:
    """The installed OpenSSL inside its component directory (DESTDIR + prefix without drive).

    Not ``d.openssl_root``: joining a path that has a drive letter would drop
    the component directory on a Windows host.
    """
    return _win(d.openssl_out).joinpath(*OPENSSL_PREFIX_IN_DESTDIR)


def openssl_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    configure = ("perl", "Configure", OPENSSL_TARGETS[recipe.arch],
                 f"--prefix={OPENSSL_PREFIX}", "--libdir=bin", f"--openssldir={recipe.openssldir}",
                 *openssl_options(recipe), *recipe.openssl.configure_args)
    if recipe.cflags:
        configure += (recipe.cflags,)
    src = str(_win(d.openssl_src))
    return [
        Step("openssl.configure", "openssl", configure, src, {}),
        Step("openssl.make", "openssl", ("nmake",), src, {}),
        Step("openssl.install", "openssl", ("nmake", "install_sw", f"DESTDIR={_win(d.openssl_out)}"), src, {}),
    ]


# ---------------------------------------------------------------- CPython ---

def msbuild_properties(recipe: "Recipe", d: "Dirs") -> list[tuple[str, str]]:
    """The global MSBuild properties that point PCbuild at the built OpenSSL."""
    root = openssl_root(d)
    suffix = OPENSSL_DLL_SUFFIXES[recipe.arch]
    return [
        ("IncludeSSL", "true"),                      # after --no-ssl: build _ssl and _hashlib after all
        ("opensslOutDir", str(root / "bin")),        # import libs, DLLs and PDBs (--libdir=bin)
        ("opensslIncludeDir", str(root / "include")),
        ("_DLLSuffix", suffix),                      # which DLLs openssl.props copies next to _ssl.pyd
        ("OpenSSLDLLSuffix", suffix),                # the same, for Tools\msi
    ]


def rsp_lines(recipe: "Recipe", d: "Dirs") -> list[str]:
    """MSBuild response-file lines: one quoted ``/p:NAME=VALUE`` per line.

    Values never end with a backslash (it would escape the closing quote).
    """
    out = []
    for name, value in msbuild_properties(recipe, d):
        if value.endswith("\\") or '"' in value:
            raise RecipeError(f"MSBuild property {name}={value!r} cannot be quoted in a response file",
                              hint="use a cache directory without quotes")
        out.append(f'"/p:{name}={value}"')
    return out


#: Writes argv[1:] as lines to the file argv[0]: perl is on PATH anyway
#: (OpenSSL's Configure), and it takes its arguments verbatim (no batch parsing).
_WRITE_LINES = "open(my $f, q{>}, shift) or die $!; print {$f} map { qq{$_\\n} } @ARGV; close $f or die $!;"


def cpython_steps(recipe: "Recipe", d: "Dirs") -> list[Step]:
    _check(recipe)
    src = _win(d.cpython_src)
    pcbuild = src / "PCbuild"
    build_dir = pcbuild / PCBUILD_ARCHNAMES[recipe.arch]
    python = build_dir / "python.exe"
    prefix = _win(d.prefix)
    build = ("cmd", "/d", "/c", "build.bat", "-p", PCBUILD_PLATFORMS[recipe.arch], "-c", "Release",
             "-e", "--no-ssl", f"@{RSP_NAME}", *recipe.cpython.configure_args)
    if len(build) - build.index(f"@{RSP_NAME}") > 9:
        raise RecipeError(f"{recipe.path}: cpython.configure_args has more than 8 entries",
                          hint="PCbuild\\build.bat passes at most 9 arguments on to MSBuild")
    layout = (str(python), "-E", "-s", str(src / "PC" / "layout"), "-b", str(build_dir),
              "--arch", PCBUILD_ARCHNAMES[recipe.arch], "--copy", str(prefix), *LAYOUT_OPTIONS)
    compileall = (str(prefix / INTERPRETER), "-E", "-s", "-m", "compileall", "-q", "-j", "0",
                  str(prefix / "Lib"))
    epoch = {"SOURCE_DATE_EPOCH": str(recipe.source_date_epoch)}
    env = {"CL": recipe.cflags} if recipe.cflags else {}
    steps = [
        Step("cpython.patch-ssl", "cpython", ("pybuildssl:patch-ssl", str(src / "Lib" / "ssl.py")),
             str(src), {}),
        Step("cpython.msbuild-rsp", "cpython",
             ("perl", "-e", _WRITE_LINES, str(pcbuild / RSP_NAME), *rsp_lines(recipe, d)), str(pcbuild), {}),
        Step("cpython.build", "cpython", build, str(pcbuild), env),
        Step("cpython.layout", "cpython", layout, str(src), {}),
        Step("cpython.compileall", "cpython", compileall, str(prefix), epoch),
    ]
    return steps
