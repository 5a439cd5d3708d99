"""Host-side checks: facts in, findings out.  Every finding has a stable id.

Each ``check_*`` function appends findings to a :class:`Report` and never
raises for a broken artifact: a broken artifact is a FAIL finding.  All
findings are gathered before the verdict.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import layouts, package, relocate, trust
from . import elf
from .report import FAIL, PASS, SKIP, WARN, Report

PROBE = Path(__file__).with_name("probe.py")

#: glibc's own libraries: what a portable Linux artifact may need from the host.
#: Not libcrypt.so.1: glibc 2.38 dropped libcrypt and distributions ship
#: libxcrypt's instead, so a recipe that needs it must say so in
#: ``verify.allow_libraries`` (CPython 3.13 removed _crypt; nothing needs it).
GLIBC_FAMILY = ("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1",
                "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libresolv.so.2")
#: Modules a complete CPython build provides (checked by import).
STDLIB_MODULES = ("ssl", "hashlib", "sqlite3", "ctypes", "lzma", "bz2", "zlib", "readline", "curses",
                  "uuid", "decimal", "json", "venv", "ensurepip")


@dataclass
class Target:
    """What is verified: a relocated prefix, and what the archive said about it."""

    input: Path
    root: Path
    manifest: dict[str, Any] | None
    members: list[tarfile.TarInfo] = field(default_factory=list)  # raw archive members, if any
    os: str = "linux"

    @property
    def interpreter(self) -> Path:
        if self.manifest and self.manifest.get("cpython", {}).get("interpreter"):
            return self.root / self.manifest["cpython"]["interpreter"]
        if self.os == "windows":
            return self.root / "python.exe"
        return relocate.interpreter(self.root)

    @property
    def runnable(self) -> bool:
        return self.os == layouts.host_os()


# ------------------------------------------------------------------- probe ---

def probe_request(t: Target, *, handshakes: list[dict] = (), locations: list = None,
                  modules: tuple[str, ...] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    table = layouts.load()
    host = layouts.host_os()
    if locations is None:
        locations = [list(x) for x in table.fallback(host)]
    return {"block": trust.render_patch(host), "locations": locations,
            "handshakes": list(handshakes), "modules": list(modules)}


def run_probe(interpreter: Path, request: dict[str, Any], *, runner: Callable | None = None,
              env: dict[str, str] | None = None, timeout: float = 60) -> tuple[dict | None, str]:
    """(facts, error text).  ``runner(argv, env, input)`` lets a sandbox run it."""
    argv = [str(interpreter), "-I", "-B", str(PROBE)]
    if env is None:
        from .sandbox import clean_env

        env = clean_env()
    data = json.dumps(request)
    try:
        if runner is not None:
            proc = runner(argv, env, data)
        else:
            proc = subprocess.run(argv, input=data, capture_output=True, text=True, env=env, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{type(e).__name__}: {e}"
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return None, f"exit code {proc.returncode}: " + " | ".join(tail)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, "the probe printed no JSON: " + (proc.stderr or proc.stdout)[-300:]


# ---------------------------------------------------------------- manifest ---

def check_archive(t: Target, r: Report) -> None:
    if not t.members:
        r.add("archive.manifest-first", SKIP, "not an archive (a directory was given)")
        return
    first = t.members[0].name
    ok = first == f"{package.TOP}/{package.MANIFEST}"
    r.add("archive.manifest-first", PASS if ok else FAIL,
          f"first member is {first}" + ("" if ok else f", expected {package.TOP}/{package.MANIFEST}"))


def check_manifest(t: Target, r: Report) -> None:
    if t.manifest is None:
        r.add("manifest.present", SKIP, "no PYBUILDSSL.json: not a pybuildssl artifact; manifest checks skipped")
        r.add("manifest.tree", SKIP, "no manifest")
        return
    r.add("manifest.present", PASS, f"recipe {t.manifest['recipe']['name']}, target {t.manifest['target']['triple']}")
    files: dict[str, dict] = t.manifest.get("files", {})
    problems: list[str] = []
    installer: list[str] = []
    seen: set[str] = set()
    for rel, entry in files.items():
        p = t.root / rel
        seen.add(rel)
        if entry["type"] == "link":
            if not p.is_symlink() or os.readlink(p) != entry["target"]:
                problems.append(f"{rel}: link changed or missing")
        elif not p.is_file() or p.is_symlink():
            problems.append(f"{rel}: missing")
        else:
            h = hashlib.sha256(p.read_bytes()).hexdigest()
            if h != entry["sha256"]:
                ok = _installer_rewrote(p, rel) or _recompiled(t, p, rel)
                (installer if ok else problems).append(f"{rel}: sha256 differs")
    for dirpath, dirs, names in os.walk(t.root):
        for n in names:
            rel = (Path(dirpath) / n).relative_to(t.root).as_posix()
            if rel != package.MANIFEST and rel not in seen:
                (installer if _installer_added(t.root, rel) else problems).append(f"{rel}: not in the manifest")
    if problems:
        r.add("manifest.tree", FAIL, f"{len(problems)} differences, e.g. " + "; ".join(problems[:3]),
              problems=problems[:50])
    else:
        r.add("manifest.tree", PASS, f"{len(files)} entries match their sha256" + (
            f" but for what an installer changes ({'; '.join(installer)})" if installer else ""))


#: What an installer of python-build-standalone-shaped archives changes (uv: it rewrites
#: _sysconfigdata for its location, adds bin/python, a BUILD file and PEP 668's EXTERNALLY-MANAGED;
#: Python then writes that module's bytecode again).  Accepted only in this
#: shape: the rewritten file must still be a plain literal (no code), the link a sibling name.
_SYSCONFIGDATA = re.compile(r"^lib/python3\.\d+t?/_sysconfigdata_[\w.-]*\.py$")


def _installer_rewrote(p: Path, rel: str) -> bool:
    if not _SYSCONFIGDATA.match(rel):
        return False
    try:
        relocate.check_sysconfigdata(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return True


_SYSCONFIGDATA_PYC = re.compile(r"^(lib/python3\.\d+t?)/__pycache__/(_sysconfigdata_[\w.-]*?)\.[\w-]+?(\.opt-[12])?\.pyc$")

#: Run by the target interpreter: is PYC exactly what compiling PY gives, and checked against it?
_PYC_CHECK = r"""
import importlib.util, marshal, sys
py, pyc, opt = sys.argv[1], sys.argv[2], int(sys.argv[3])
data, src = open(pyc, "rb").read(), open(py, "rb").read()
ok = (data[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(data[4:8], "little") == 3
      and data[8:16] == importlib.util.source_hash(src))
if ok:
    code = marshal.loads(data[16:])
    ok = code == compile(src, code.co_filename, "exec", dont_inherit=True, optimize=opt)
print("same" if ok else "differs")
"""


def _recompiled(t: Target, p: Path, rel: str) -> bool:
    """The bytecode of an installer-rewritten _sysconfigdata, as Python writes it again on import:
    accepted only if it is a checked-hash pyc of the current source and its code is that source's."""
    m = _SYSCONFIGDATA_PYC.match(rel)
    if not m:
        return False
    src = t.root / m.group(1) / (m.group(2) + ".py")
    if not _installer_rewrote(src, src.relative_to(t.root).as_posix()):
        return False
    opt = m.group(3)[-1] if m.group(3) else "0"
    try:
        r = subprocess.run([str(t.interpreter), "-I", "-c", _PYC_CHECK, str(src), str(p), opt],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and r.stdout.strip() == "same"


def _installer_added(root: Path, rel: str) -> bool:
    p = root / rel
    if rel == "BUILD":
        return p.is_file() and not p.is_symlink() and p.stat().st_size < 256
    if re.fullmatch(r"lib/python3\.\d+t?/EXTERNALLY-MANAGED", rel):  # PEP 668 marker
        return (p.is_file() and not p.is_symlink() and p.stat().st_size < 1024
                and p.read_bytes().startswith(b"[externally-managed]"))
    if rel == "bin/python":
        return p.is_symlink() and re.fullmatch(r"python3(\.\d+t?)?", os.readlink(p)) is not None
    return False


# ------------------------------------------------------------------ python ---

def check_python(t: Target, facts: dict | None, err: str, r: Report) -> None:
    if facts is None:
        r.add("python.starts", FAIL, f"{t.interpreter} did not run from {t.root}: {err}")
        return
    py = facts["python"]
    r.add("python.starts", PASS, f"Python {py['version']} runs from {t.root}")
    root = os.path.realpath(t.root)
    outside = [f"sys.{k}={py[k]}" for k in ("prefix", "base_prefix", "exec_prefix")
               if os.path.realpath(py[k]) != root]
    outside += [f"sysconfig {k}={v}" for k, v in py["paths"].items()
                if v and not os.path.realpath(v).startswith(root)]
    outside += [f"config var {k}={v}" for k, v in py["config"].items()
                if k in ("prefix", "exec_prefix", "LIBDIR", "INCLUDEPY", "LIBPL", "BINDIR")
                and v and not os.path.realpath(v).startswith(root)]
    r.add("python.prefix", FAIL if outside else PASS,
          ("paths outside the new location: " + "; ".join(outside[:4])) if outside
          else "sys.prefix, sysconfig paths and config vars follow the new location")


def check_ssl(t: Target, facts: dict | None, r: Report, expect: str | None) -> None:
    if facts is None:
        for cid in ("ssl.import", "ssl.version", "trust.patch", "trust.default-paths"):
            r.add(cid, SKIP, "the interpreter did not run")
        return
    s = facts["ssl"]
    if not s.get("ok"):
        r.add("ssl.import", FAIL, f"import ssl failed: {s.get('error')}")
        for cid in ("ssl.version", "trust.patch", "trust.default-paths"):
            r.add(cid, SKIP, "ssl does not import")
        return
    r.add("ssl.import", PASS, f"{s['OPENSSL_VERSION']} ({os.path.basename(s.get('module_file') or '_ssl')})")
    have = openssl_version(s["OPENSSL_VERSION_INFO"])
    want = expect or (t.manifest or {}).get("openssl", {}).get("version")
    problems = []
    if have < (3, 2, 0):
        problems.append(f"OpenSSL {'.'.join(map(str, have))} is older than 3.2")
    if want and ".".join(map(str, have)) != want:
        problems.append(f"linked OpenSSL is {'.'.join(map(str, have))}, expected {want}")
    built = s.get("built_against")
    if built and openssl_version(built)[:2] != have[:2]:
        problems.append(f"built against {'.'.join(map(str, openssl_version(built)))} "
                        f"but running {'.'.join(map(str, have))}")
    r.add("ssl.version", FAIL if problems else PASS,
          "; ".join(problems) if problems else f"OpenSSL {'.'.join(map(str, have))}"
          + (" as the manifest says" if want else ""))
    check_patch(t, facts, r)
    check_default_paths(facts, r)


def openssl_version(info: list[int] | tuple[int, ...]) -> tuple[int, int, int]:
    """ssl.OPENSSL_VERSION_INFO -> (major, minor, patch).

    From 3.0 on OpenSSL's number is MNN00PP0, which CPython splits as
    (major, minor, 0, patch, status): 3.5.7 is (3, 5, 0, 7, 0).
    """
    if info[0] >= 3:
        return (info[0], info[1], info[3])
    return (info[0], info[1], info[2])


def check_patch(t: Target, facts: dict, r: Report) -> None:
    s = facts["ssl"]
    if t.manifest is None:
        r.add("trust.patch", PASS if s.get("patched") else WARN,
              "ssl carries the pybuildssl patch" if s.get("patched")
              else "ssl is not patched: `pybuildssl patch PREFIX` adds the fallback")
        return
    if not s.get("patched"):
        r.add("trust.patch", FAIL, f"{s.get('ssl_py')} has no pybuildssl hook (ssl._pybuildssl_resolve missing)")
        return
    tr = t.manifest.get("trust", {})
    text = Path(s["ssl_py"]).read_text(encoding="utf-8") if s.get("ssl_py") else ""
    want_fb = tr.get("fallback")
    if want_fb is not None and s.get("fallback") != want_fb:
        r.add("trust.patch", FAIL, "the baked fallback list differs from the manifest's")
        return
    block = trust.render_patch(t.os, fallback=[tuple(x) for x in want_fb or []],
                               windows_mode=tr.get("windows_mode", "enumeration"))
    if hashlib.sha256(block.encode()).hexdigest() != tr.get("patch_sha256"):
        r.add("trust.patch", WARN, "this pybuildssl renders a different patch than the one that built the "
              "artifact; the hook is present but its text was not compared")
        return
    if block not in text:
        r.add("trust.patch", FAIL, f"the ssl patch in {s['ssl_py']} is not the one the manifest records")
        return
    r.add("trust.patch", PASS, f"hook present (patch v{s.get('patch_version')}), "
          f"{len(s.get('fallback') or [])} fallback locations")


def _where(resolve: dict | None) -> str:
    if not resolve:
        return "stock CPython rules"
    return {"env": "SSL_CERT_FILE/SSL_CERT_DIR", "compiled": "OpenSSL's compiled defaults",
            "fallback": "the baked fallback list", "none": "nothing usable",
            "disabled": "fallback disabled by PYBUILDSSL_NO_FALLBACK"}.get(resolve.get("source"), "?")


def check_default_paths(facts: dict, r: Report, cid: str = "trust.default-paths") -> None:
    s = facts["ssl"]
    vp = s.get("verify_paths") or {}
    resolve = s.get("resolve") or s.get("would_resolve")
    usable = []
    for kind, key in (("file", "cafile"), ("dir", "capath")):
        path = vp.get(key)
        if not path:
            continue
        # The probe judged it inside the interpreter, with the patch's own rules.
        verdict = (s.get("verify_paths_usable") or {}).get(key) or next(
            (loc.get("verdict_unsafe_ok") for loc in facts.get("locations", [])
             if loc["path"] == path and loc["kind"] == kind), "not examined")
        if verdict == "usable":
            usable.append(f"{key}={path}")
    source = _where(s.get("resolve")) if s.get("patched") else "stock CPython rules"
    if usable:
        r.add(cid, PASS, f"{', '.join(usable)} (from {source})", verify_paths=vp, resolve=resolve)
    else:
        r.add(cid, FAIL, f"get_default_verify_paths() names no usable store (cafile={vp.get('cafile')}, "
              f"capath={vp.get('capath')}, openssl_cafile={vp.get('openssl_cafile')})",
              verify_paths=vp, resolve=resolve)


# ------------------------------------------------------------- relocation ---

def elf_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names):
            p = Path(dirpath) / n
            if not p.is_symlink() and p.is_file() and elf.is_elf(p):
                out.append(p)
    return out


def check_elf(t: Target, r: Report) -> list[elf.ELFInfo]:
    if t.os != "linux":
        for cid in ("reloc.rpath", "libs.external"):
            r.add(cid, SKIP, f"ELF checks apply to Linux artifacts; this is {t.os} (checked on its own runner)")
        return []
    infos: list[elf.ELFInfo] = []
    bad_rpath: list[str] = []
    for p in elf_files(t.root):
        try:
            info = elf.read(p)
        except (elf.NotELF, ValueError, IndexError, OSError) as e:
            bad_rpath.append(f"{p.relative_to(t.root)}: unreadable ELF ({e})")
            continue
        infos.append(info)
        for rp in info.rpath + info.runpath:
            if rp and not rp.startswith("$ORIGIN"):
                bad_rpath.append(f"{p.relative_to(t.root)}: {rp}")
    r.add("reloc.rpath", FAIL if bad_rpath else PASS,
          ("non-relative RPATH/RUNPATH: " + "; ".join(bad_rpath[:4])) if bad_rpath
          else f"{len(infos)} ELF files; every RPATH/RUNPATH is $ORIGIN-relative", entries=bad_rpath)
    provided = {p.name for p in t.root.rglob("*.so*")}
    allowed = set(GLIBC_FAMILY) | set((t.manifest or {}).get("recipe", {}).get("resolved", {})
                                      .get("verify", {}).get("allow_libraries", []))
    external: dict[str, list[str]] = {}
    for info in infos:
        for lib in info.needed:
            if lib not in provided:
                external.setdefault(lib, []).append(os.path.relpath(info.path, t.root))
    bad = {k: v for k, v in external.items() if k not in allowed}
    extra_allowed = sorted(k for k in external if k in allowed and k not in GLIBC_FAMILY)
    if bad:
        r.add("libs.external", FAIL, "needed from outside the artifact and not allowed: "
              + ", ".join(f"{k} (by {v[0]})" for k, v in sorted(bad.items())), external=sorted(external))
    else:
        r.add("libs.external", WARN if extra_allowed else PASS,
              ("only glibc's family" if not extra_allowed else
               "glibc's family plus, allowed by the recipe: " + ", ".join(extra_allowed)),
              external=sorted(external))
    return infos


def _vtuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def check_glibc_floor(t: Target, infos: list[elf.ELFInfo], r: Report) -> None:
    """glibc.floor: no ELF file needs a GLIBC_ symbol version above the recipe's floor.

    Every offender is listed (file and versions above the floor).  Without a
    floor the finding is skipped and says what the artifact does need.
    """
    if t.os != "linux":
        r.add("glibc.floor", SKIP, f"glibc applies to Linux artifacts; this is {t.os}")
        return
    m = t.manifest or {}
    floor = m.get("target", {}).get("glibc") or m.get("recipe", {}).get("resolved", {}).get("target", {}).get("glibc")
    need: dict[str, tuple[int, ...]] = {}
    above: dict[str, list[str]] = {}
    for info in infos:
        rel = os.path.relpath(info.path, t.root)
        top = info.max_version("GLIBC_")
        if top is None:
            continue
        need[rel] = top
        if floor:
            versions = sorted({v for vs in info.version_needs.values() for v in vs
                               if v.startswith("GLIBC_") and _glibc_above(v, _vtuple(floor))}, key=_glibc_key)
            if versions:
                above[rel] = versions
    highest = max(need.values(), default=None)
    hi_text = "GLIBC_" + ".".join(map(str, highest)) if highest else "no GLIBC_ version"
    by = sorted(k for k, v in need.items() if v == highest)[:3] if highest else []
    if not floor:
        r.add("glibc.floor", SKIP, f"the recipe sets no glibc floor (target.glibc); the artifact needs {hi_text}"
              + (f" (by {', '.join(by)})" if by else ""), highest=hi_text)
        return
    if above:
        entries = [f"{k}: {', '.join(v)}" for k, v in sorted(above.items())]
        r.add("glibc.floor", FAIL, f"{len(above)} ELF files need glibc above the floor {floor}: " + "; ".join(entries),
              floor=floor, highest=hi_text, offenders=entries)
    else:
        r.add("glibc.floor", PASS, f"{len(need)} ELF files need at most {hi_text} (floor {floor})",
              floor=floor, highest=hi_text)


def _glibc_key(v: str) -> tuple[int, ...]:
    try:
        return _vtuple(v[len("GLIBC_"):])
    except ValueError:
        return ()


def _glibc_above(v: str, floor: tuple[int, ...]) -> bool:
    key = _glibc_key(v)
    return bool(key) and key > floor


def check_build_paths(t: Target, r: Report) -> None:
    m = t.manifest or {}
    needles = [p for p in m.get("build_paths", []) if p]
    placeholder = m.get("build_prefix")
    hits: list[str] = []
    scanned = 0
    for dirpath, dirs, names in os.walk(t.root):
        for n in names:
            p = Path(dirpath) / n
            if p.is_symlink() or not p.is_file() or n == package.MANIFEST:
                continue
            scanned += 1
            data = p.read_bytes()
            rel = p.relative_to(t.root).as_posix()
            for needle in needles:
                if needle.encode() in data:
                    hits.append(f"{rel} contains the build path {needle}")
            if placeholder and placeholder.encode() in data and not _binary(p, data):
                hits.append(f"{rel} still names the build prefix {placeholder}")
            if data.startswith(b"#!/") and (p.parent.name == "bin" or os.access(p, os.X_OK)):
                interp = data[2:data.find(b"\n")].split()[0].decode("utf-8", "replace") if b"\n" in data else ""
                if interp and interp not in ("/bin/sh", "/usr/bin/env", "/bin/bash") and not interp.startswith(
                        "/usr/bin/env"):
                    hits.append(f"{rel}: shebang {interp} is an absolute interpreter path")
    r.add("reloc.build-paths", FAIL if hits else PASS,
          ("; ".join(hits[:4]) + (f" (+{len(hits) - 4} more)" if len(hits) > 4 else "")) if hits
          else f"{scanned} files: no build or staging path in binaries, scripts, sysconfig or pkg-config data",
          hits=hits[:100])


def _binary(p: Path, data: bytes) -> bool:
    return data[:4] == b"\x7fELF" or p.suffix in (".pyc", ".a", ".o") or b"\0" in data[:8192]


def check_openssldir(t: Target, r: Report) -> None:
    """OPENSSLDIR must not be a place an unprivileged user could plant openssl.cnf in."""
    m = t.manifest or {}
    d = m.get("openssl", {}).get("openssldir")
    if not d:
        r.add("openssl.openssldir", SKIP, "no manifest: OPENSSLDIR unknown (doctor reports it from the interpreter)")
        return
    if t.os == "windows":
        from ..platforms import windows

        problem = windows.openssldir_problem(d)
        r.add("openssl.openssldir", FAIL if problem else PASS,
              f"OPENSSLDIR {d} {problem}" if problem else f"OPENSSLDIR {d} is writable by administrators only")
        return
    build_like = [p for p in m.get("build_paths", []) if p and d.startswith(p)]
    if build_like or not d.startswith("/") or d.startswith(("/tmp/", "/var/tmp/", "/home/", "/root/")):
        r.add("openssl.openssldir", FAIL, f"OPENSSLDIR {d} is a build or user-writable location")
    else:
        r.add("openssl.openssldir", PASS, f"OPENSSLDIR {d} (the target's own trust and openssl.cnf location)")


def check_openssl_dirs(t: Target, r: Report) -> None:
    m = t.manifest or {}
    opts = m.get("openssl", {}).get("options", [])
    if not m:
        r.add("reloc.openssl-dirs", SKIP, "no manifest: OpenSSL's build options are unknown")
    elif "no-module" in opts and m.get("openssl", {}).get("linkage") == "static":
        r.add("reloc.openssl-dirs", PASS, "OpenSSL is static with providers built in (no-module): "
              "MODULESDIR/ENGINESDIR are never searched")
    else:
        mods = [p for p in t.root.rglob("ossl-modules")]
        r.add("reloc.openssl-dirs", WARN if not mods else PASS,
              "providers load from MODULESDIR; set OPENSSL_MODULES or build with no-module" if not mods
              else f"provider modules shipped in {mods[0].relative_to(t.root)}")


# ---------------------------------------------------------------- hygiene ---

def check_hygiene(t: Target, r: Report) -> None:
    writable, setid = [], []
    if t.members:
        for m in t.members:
            if m.issym() or m.islnk():
                continue
            if m.mode & 0o002:
                writable.append(m.name)
            if m.mode & 0o6000:
                setid.append(m.name)
    else:
        for dirpath, dirs, names in os.walk(t.root):
            for n in dirs + names:
                p = Path(dirpath) / n
                st = p.lstat()
                if stat.S_ISLNK(st.st_mode):
                    continue
                if st.st_mode & 0o002:
                    writable.append(str(p.relative_to(t.root)))
                if st.st_mode & 0o6000:
                    setid.append(str(p.relative_to(t.root)))
    r.add("hygiene.world-writable", FAIL if writable else PASS,
          ("world-writable: " + ", ".join(writable[:5])) if writable else "no world-writable entries")
    r.add("hygiene.setuid", FAIL if setid else PASS,
          ("setuid/setgid: " + ", ".join(setid[:5])) if setid else "no setuid or setgid bits")


@contextmanager
def timing(r: Report) -> Iterator[None]:
    """Spread the time of a block over the findings it added (for JUnit)."""
    before = len(r.findings)
    start = time.monotonic()
    yield
    added = r.findings[before:]
    for f in added:
        f.seconds = (time.monotonic() - start) / max(1, len(added))


# -------------------------------------------------------------------- TLS ---

@dataclass
class TLSWorld:
    """A trusted test CA, an unknown one, and three loopback servers."""

    ca: Any
    servers: dict[str, Any]

    def handshakes(self, clients: tuple[str, ...] = ("urllib", "http.client", "set_default_verify_paths")) -> list[dict]:
        out = [{"id": f"trusted/{c}", "url": self.servers["trusted"].url(), "client": c} for c in clients]
        out.append({"id": "unknown-ca", "url": self.servers["unknown"].url(), "client": "urllib"})
        out.append({"id": "wrong-host", "url": self.servers["wrong"].url(), "client": "urllib"})
        return out


@contextmanager
def tls_world() -> Iterator[TLSWorld]:
    from .tls import CA, HTTPSServer

    ca = CA("pybuildssl verify CA")
    other = CA("pybuildssl verify unknown CA")
    with HTTPSServer(ca.issue("localhost", "127.0.0.1")) as good, \
            HTTPSServer(other.issue("localhost", "127.0.0.1")) as unknown, \
            HTTPSServer(ca.issue("wrong.invalid")) as wrong:
        yield TLSWorld(ca=ca, servers={"trusted": good, "unknown": unknown, "wrong": wrong})


def _judge(hs: list[dict]) -> tuple[list[str], list[str]]:
    """(problems, notes) for a set of handshake results from the probe."""
    problems, notes = [], []
    for h in hs:
        if h["id"].startswith("trusted/"):
            if not h.get("ok"):
                problems.append(f"{h['client']} did not trust the system CA: {h.get('error')}")
        elif h.get("ok"):
            problems.append(f"{h['id']}: the handshake succeeded but must be refused")
        elif h["id"] == "unknown-ca" and h.get("kind") != "cert-verify":
            problems.append(f"unknown-ca failed for another reason than verification: {h.get('error')}")
        elif h["id"] == "wrong-host" and "hostname" not in (h.get("verify_message") or h.get("error") or "").lower() \
                and "match" not in (h.get("error") or "").lower():
            problems.append(f"wrong-host failed for another reason than the hostname: {h.get('error')}")
        else:
            notes.append(f"{h['id']} refused")
    return problems, notes


def check_tls(t: Target, r: Report, vendors: list[str], *, host_vendor: str) -> None:
    """Real handshakes under each vendor layout, in private mount namespaces."""
    from . import sandbox

    ids = ["tls.trusted", "tls.unknown-ca", "tls.wrong-host"] + [f"layout.{v}" for v in vendors if v != host_vendor]
    if not t.runnable:
        for cid in ids:
            r.add(cid, SKIP, f"needs a {t.os} host: run `pybuildssl verify` there")
        return
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as e:
        for cid in ids:
            r.add(cid, SKIP, f"mount namespaces unavailable: {e.reason}")
        return
    with tls_world() as world:
        request = probe_request(t, handshakes=world.handshakes())
        for vendor in [host_vendor] + [v for v in vendors if v != host_vendor]:
            with timing(r):
                layout = sandbox.layout_for(vendor, [world.ca.cert_pem])

                def runner(argv, env, data, layout=layout):
                    return sandbox.run_in_layout(layout, argv, env=env, input=data, timeout=60)

                facts, err = run_probe(t.interpreter, request, runner=runner)
                if facts is None:
                    r.add(f"layout.{vendor}" if vendor != host_vendor else "tls.trusted", FAIL,
                          f"the probe did not run under the {vendor} layout: {err}")
                    continue
                hs = facts["handshakes"]
                if not facts["ssl"].get("ok"):
                    for cid in (["tls.trusted", "tls.unknown-ca", "tls.wrong-host"] if vendor == host_vendor
                                else [f"layout.{vendor}"]):
                        r.add(cid, FAIL, f"no handshake possible: import ssl failed ({facts['ssl'].get('error')})")
                    continue
                if vendor == host_vendor:
                    _host_findings(r, vendor, facts, hs)
                else:
                    problems, notes = _judge(hs)
                    res = facts["ssl"].get("resolve") or facts["ssl"].get("would_resolve") or {}
                    where = res.get("cafile") or res.get("capath") or "compiled defaults"
                    r.add(f"layout.{vendor}", FAIL if problems else PASS,
                          "; ".join(problems) if problems else
                          f"trusted via {where} ({_where(facts['ssl'].get('resolve'))}); unknown CA and wrong host refused",
                          handshakes=hs)


def _host_findings(r: Report, vendor: str, facts: dict, hs: list[dict]) -> None:
    trusted = [h for h in hs if h["id"].startswith("trusted/")]
    bad = [h for h in trusted if not h.get("ok")]
    res = facts["ssl"].get("resolve") or {}
    r.add("tls.trusted", FAIL if bad else PASS,
          ("; ".join(f"{h['client']}: {h.get('error')}" for h in bad)) if bad else
          f"a CA in the {vendor} system store is trusted by " + ", ".join(h["client"] for h in trusted)
          + f" (from {_where(res) if res else 'stock rules'})", handshakes=trusted)
    for hid, cid, want in (("unknown-ca", "tls.unknown-ca", "certificate verify failed"),
                           ("wrong-host", "tls.wrong-host", "hostname mismatch")):
        h = next(x for x in hs if x["id"] == hid)
        problems, _ = _judge([h])
        r.add(cid, FAIL if problems else PASS, problems[0] if problems else f"refused: {h.get('error')}"[:200],
              handshake=h)
