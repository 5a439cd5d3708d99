"""The ssl patch for python.org's embeddable layout: ``ssl.pyc`` inside ``pythonXY.zip``.

The embeddable distribution ships the standard library as bytecode only, so
there is no ``ssl.py`` to append the block to.  The patched module is made
from the release's OWN bytecode plus the rendered block, never from another
release's source: a new module code object whose body runs the original code
object (kept verbatim, marshalled) in the module's namespace, then the block.
Bytecode is version-specific, so the new ``ssl.pyc`` is compiled by the
distribution's own ``python.exe`` (under Wine on a Linux host), which checks
that the original's magic number is its own.

Deciding and acting apart: :func:`wrapper_source` and :func:`rewrite_zip` are
pure (bytes in, bytes out); :func:`patch_layout` / :func:`revert_layout` act
on a directory (backup beside the zip, atomic replace, byte-for-byte revert).
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from .errors import PatchError

SSL_MEMBER = "ssl.pyc"
BACKUP_SUFFIX = ".pybuildssl-orig"
RECORD_NAME = "pybuildssl-patch.json"
#: The name the wrapper binds the marshal module to (deleted again at once).
_MARSHAL = "_pybuildssl_marshal"

#: Runs inside the distribution's own interpreter: argv = ORIGINAL_PYC BLOCK OUT_PYC.
#: Exit 3: the original bytecode is not this interpreter's (another minor version).
COMPILE_SCRIPT = r"""
import importlib.util, marshal, sys
orig = open(sys.argv[1], "rb").read()
if orig[:4] != importlib.util.MAGIC_NUMBER:
    sys.stderr.write("magic %s is not this interpreter's %s\n" % (orig[:4].hex(), importlib.util.MAGIC_NUMBER.hex()))
    sys.exit(3)
code = marshal.loads(orig[16:])
block = open(sys.argv[2], encoding="utf-8").read()
src = ("import marshal as %(m)s\nexec(%(m)s.loads(%(c)r), globals())\ndel %(m)s\n"
       % {"m": "_pybuildssl_marshal", "c": orig[16:]}) + block
new = compile(src, code.co_filename, "exec", dont_inherit=True)
open(sys.argv[3], "wb").write(orig[:16] + marshal.dumps(new))
"""

#: (argv, input) -> (returncode, stdout, stderr): how to run the layout's python.exe.
PythonRunner = Callable[[list[str]], "tuple[int, str, str]"]


def find_zip(root: Path) -> Path | None:
    """``pythonXY.zip`` of an embeddable layout (beside python.exe), or None."""
    found = sorted(p for p in root.glob("python3*.zip") if re.fullmatch(r"python3\d+\.zip", p.name))
    return found[0] if found and (root / "python.exe").is_file() else None


def read_member(zip_bytes: bytes, name: str = SSL_MEMBER) -> bytes:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        try:
            return z.read(name)
        except KeyError:
            raise PatchError(f"the standard library zip holds no {name}",
                             hint="give python.org's embeddable distribution (pythonXY.zip with ssl.pyc)") from None


def rewrite_zip(zip_bytes: bytes, name: str, data: bytes) -> bytes:
    """``zip_bytes`` with member ``name`` replaced by ``data``: same order, names, dates,
    attributes and compression for every member (deterministic: same input, same bytes)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = data if info.filename == name else src.read(info)
            new = zipfile.ZipInfo(info.filename, info.date_time)
            new.compress_type = info.compress_type
            new.external_attr = info.external_attr
            new.create_system = info.create_system
            new.comment = info.comment
            dst.writestr(new, body)
    return out.getvalue()


def is_patched_pyc(pyc: bytes) -> bool:
    return _MARSHAL.encode() in pyc[16:]


def compile_patched(original_pyc: bytes, block: str, run_python: PythonRunner, work: Path) -> bytes:
    """The new ssl.pyc, compiled by the layout's own interpreter (``run_python``)."""
    work.mkdir(parents=True, exist_ok=True)
    orig, blk, out = work / "ssl.orig.pyc", work / "block.py", work / "ssl.new.pyc"
    orig.write_bytes(original_pyc)
    blk.write_text(block, encoding="utf-8")
    rc, stdout, stderr = run_python(["-I", "-S", "-c", COMPILE_SCRIPT, str(orig), str(blk), str(out)])
    if rc == 3:
        raise PatchError(f"ssl.pyc is not bytecode of this distribution's interpreter: {stderr.strip()}",
                         hint="the pythonXY.zip and python.exe come from different releases; use one release's files")
    if rc != 0 or not out.is_file():
        raise PatchError(f"the distribution's python.exe could not compile the patched ssl module "
                         f"(exit {rc}): {(stderr or stdout).strip()[-800:]}",
                         hint="check that python.exe runs (under Wine on Linux: apt-get install wine64)")
    return out.read_bytes()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def patch_layout(root: Path, block: str, run_python: PythonRunner, *, work: Path,
                 record: dict | None = None, keep_backup: bool = True) -> Path:
    """Patch ``ssl.pyc`` in ``root``'s pythonXY.zip (idempotent: a patched one is rebuilt from the backup).

    ``keep_backup``: leave ``pythonXY.zip.pybuildssl-orig`` and a record beside it (what
    ``pybuildssl patch`` does, so that ``--revert`` restores it byte for byte); a build
    keeps neither.
    """
    zpath = find_zip(root)
    if zpath is None:
        raise PatchError(f"{root}: no pythonXY.zip beside python.exe",
                         hint="give the directory of python.org's embeddable distribution")
    backup = zpath.with_name(zpath.name + BACKUP_SUFFIX)
    current = zpath.read_bytes()
    original = backup.read_bytes() if backup.is_file() else current
    if is_patched_pyc(read_member(original)):
        raise PatchError(f"{backup if backup.is_file() else zpath} already holds a patched ssl.pyc",
                         hint=f"restore the original {zpath.name} (reinstall), then patch again")
    new_pyc = compile_patched(read_member(original), block, run_python, work)
    patched = rewrite_zip(original, SSL_MEMBER, new_pyc)
    if keep_backup and not backup.is_file():
        _atomic_write(backup, original)
    if patched != current:
        _atomic_write(zpath, patched)
    if keep_backup:
        payload = dict(record or {}, zip=zpath.name, backup=backup.name)
        _atomic_write(root / RECORD_NAME, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())
    return zpath


def revert_layout(root: Path) -> Path | None:
    """Put the original pythonXY.zip back (byte for byte); None when nothing was patched."""
    zpath = find_zip(root)
    if zpath is None:
        raise PatchError(f"{root}: no pythonXY.zip beside python.exe",
                         hint="give the directory of python.org's embeddable distribution")
    backup = zpath.with_name(zpath.name + BACKUP_SUFFIX)
    if not backup.is_file():
        if is_patched_pyc(read_member(zpath.read_bytes())):
            raise PatchError(f"{zpath} is patched but {backup.name} is missing",
                             hint="reinstall python.org's embeddable distribution")
        return None
    os.replace(backup, zpath)
    rec = root / RECORD_NAME
    if rec.is_file():
        rec.unlink()
    return zpath
