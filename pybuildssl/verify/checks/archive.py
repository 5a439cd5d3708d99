"""Checks of the archive as shipped: safe extraction, the manifest and the file modes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

from ... import archive, fsutil, layouts, package, pyprefix
from ...errors import ArchiveError
from ...manifest import Manifest, ManifestError
from ..registry import Check
from ..report import FAIL, PASS, SKIP, Report
from ..target import Target, timing


def extract(path: Path, dest: Path, r: Report) -> Target | None:
    """``archive.extract``: the artifact (or a copy of a prefix) at ``dest``; None if refused.

    A manifest that is not JSON is a FAIL finding; one that is JSON but misses
    a key or holds a wrong type is bad input (:class:`ManifestError`, exit 2).
    """
    members: list[tarfile.TarInfo] = []
    with timing(r):
        if path.is_dir():
            shutil.copytree(path, dest, symlinks=True, copy_function=fsutil.link_or_copy)
            r.add("archive.extract", SKIP, f"a directory was given; copied to {dest}")
        else:
            try:
                archive.extract(path, dest, strip_top=True, members_out=members)
            except (ArchiveError, tarfile.TarError, EOFError, OSError) as e:
                msg = e.message if isinstance(e, ArchiveError) else f"{type(e).__name__}: {e}"
                r.add("archive.extract", FAIL, f"refused: {msg}")
                return None
        manifest = None
        mfile = dest / package.MANIFEST
        where = str(path / package.MANIFEST) if path.is_dir() else f"{package.TOP}/{package.MANIFEST} in {path}"
        if mfile.is_file():
            try:
                data = json.loads(mfile.read_bytes())
            except ValueError as e:
                if path.is_dir():
                    raise ManifestError(f"{where} is not JSON: {e}") from None
                r.add("archive.extract", FAIL, f"PYBUILDSSL.json is not JSON: {e}")
                return None
            manifest = Manifest.from_dict(data, source=where)
        if not path.is_dir():
            r.add("archive.extract", "pass", f"{len(members)} members extracted safely into {dest}")
    return Target(input=path, root=dest, manifest=manifest, members=members,
                  os=manifest.target.os if manifest else layouts.host_os())


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
    r.add("manifest.present", PASS, f"recipe {t.manifest.recipe.name}, target {t.manifest.target.triple}")
    files = t.manifest.files
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
        pyprefix.check_sysconfigdata(p.read_text(encoding="utf-8"))
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


CHECKS = [
    Check("archive.extract", "the archive extracts safely into a fresh directory whose path holds a space and "
          "non-ASCII characters: every link is resolved against the tree as extracted so far and "
          "must stay inside, nothing is written through a link, a hard link names a regular file "
          "already extracted, no devices (FAIL names the member; nothing is left behind); SKIP "
          "when a directory was given (it is copied there instead)", False, extract),
    Check("archive.manifest-first", "the manifest `PYBUILDSSL.json` is the archive's first member",
          False, check_archive),
    Check("manifest.present", "the artifact carries a pybuildssl manifest; SKIP for any other Python "
          "(manifest checks are then skipped)", False, check_manifest),
    Check("manifest.tree", "every file matches the sha256 the manifest records, and no file is missing or extra; "
          "after an installer (uv) only its own changes pass: a _sysconfigdata still a plain literal, "
          "its bytecode as compiled from that source, bin/python, BUILD, EXTERNALLY-MANAGED (docs/uv.md)",
          False, check_manifest),
    Check("hygiene.world-writable", "no file or directory is world-writable", False, check_hygiene),
    Check("hygiene.setuid", "no setuid or setgid bits", False, check_hygiene),
]
