"""Acting on files: patch (and revert) an installed prefix or a source tree, atomically, with a record."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from .. import layouts
from ..errors import PatchError
from ..hashing import sha256_bytes
from . import (BACKUP_SUFFIX, PATCH_VERSION, RECORD_NAME, TARGET_OSES, Log, apply_to_text, check_ssl_py,
               is_patched, render_patch, strip_from_text)
from .bytecode import _refresh_bytecode
from .locations import detect_target_os, find_ssl_py, supported_range, unsupported_ssl_py


def _sha256(data: bytes) -> str:
    return sha256_bytes(data)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _atomic_write(path: Path, data: bytes, like: os.stat_result | None = None) -> None:
    """Write via a temp file in the same directory and os.replace; keep mode (and owner)."""
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if like is not None:
            os.chmod(tmp, like.st_mode & 0o7777)
            if hasattr(os, "chown"):
                try:
                    os.chown(tmp, like.st_uid, like.st_gid)
                except OSError:
                    pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _diff(path: Path, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"{path} (current)", tofile=f"{path} (new)"))


def patch_source_tree(cpython_src_dir: str | os.PathLike, target_os: str, *,
                      fallback: Iterable[Sequence[str]] | None = None,
                      windows_mode: str = "enumeration", log: Log | None = None) -> Path:
    """Patch ``Lib/ssl.py`` of a CPython source tree in place (build time).

    Idempotent.  No backup: a source tree is extracted afresh for each build.
    """
    log = log or (lambda _msg: None)
    ssl_py = Path(cpython_src_dir) / "Lib" / "ssl.py"
    if not ssl_py.is_file():
        raise PatchError(f"no Lib/ssl.py under {cpython_src_dir}",
                         hint="give the top directory of an extracted CPython source tree")
    block = render_patch(target_os, fallback=fallback, windows_mode=windows_mode)
    data = ssl_py.read_bytes()
    new = _encode(apply_to_text(_decode(data), block))
    if new != data:
        _atomic_write(ssl_py, new, ssl_py.stat())
        log(f"patched {ssl_py} (trust fallback for {target_os})")
    return ssl_py


@dataclasses.dataclass(frozen=True)
class FileResult:
    """What happened to one ssl.py."""

    ssl_py: Path
    #: "patched", "unchanged" (already patched with these bytes), "reverted",
    #: "not-patched" (revert of a pristine file); with dry_run the same words
    #: say what *would* happen.
    action: str
    original_sha256: str
    result_sha256: str
    backup: Path | None
    record: Path | None
    bytecode: tuple[str, ...] = ()
    diff: str = ""


@dataclasses.dataclass(frozen=True)
class PatchResult:
    prefix: Path
    target_os: str
    revert: bool
    dry_run: bool
    files: tuple[FileResult, ...]

    @property
    def changed(self) -> bool:
        return any(f.action in ("patched", "reverted") for f in self.files)

    @property
    def diff(self) -> str:
        return "".join(f.diff for f in self.files)


def patch_prefix(prefix: str | os.PathLike, *, target_os: str | None = None,
                 revert: bool = False, dry_run: bool = False, log: Log | None = None,
                 fallback: Iterable[Sequence[str]] | None = None,
                 windows_mode: str = "enumeration", refresh_bytecode: bool = True) -> PatchResult:
    """Patch (or with ``revert``, unpatch) every stdlib ssl.py of an installed Python.

    Keeps the pristine file as ``ssl.py.pybuildssl-orig`` and records what it
    did in ``pybuildssl-patch.json`` beside it; refreshes ``ssl.*.pyc`` with
    the distribution's own interpreter (or removes them when it cannot run).
    ``dry_run`` changes nothing: the result's ``diff`` holds what would change.
    """
    log = log or (lambda _msg: None)
    root = Path(prefix)
    if not root.is_dir():
        raise PatchError(f"{root}: no such directory",
                         hint="give the installation prefix (the directory holding bin/ and lib/)")
    files = find_ssl_py(root)
    others = unsupported_ssl_py(root)
    if not files and others:
        path, line = others[0]
        raise PatchError(f"{root} holds Python {line} ({path.relative_to(root)}); "
                         f"pybuildssl patches {supported_range()} only",
                         hint=f"give the prefix of a {supported_range()} installation")
    for path, line in others:
        log(f"skipping {path}: Python {line} is outside {supported_range()}")
    if not files:
        raise PatchError(f"no ssl.py under {root}",
                         hint="give the installation prefix: the directory holding lib/pythonX.Y/ "
                              "(Lib\\ on Windows); for python-build-standalone, python/install")
    if target_os is not None and target_os not in TARGET_OSES:
        raise PatchError(f"unknown target os {target_os!r}", hint="valid: " + ", ".join(TARGET_OSES))
    if fallback is not None:
        fallback = [tuple(x) for x in fallback]
    os_name = target_os or detect_target_os(files[0])
    if fallback is None:
        fallback = [] if os_name == "windows" else layouts.load().fallback(os_name)
    block = "" if revert else render_patch(os_name, fallback=fallback, windows_mode=windows_mode)
    results = []
    for ssl_py in files:
        try:
            if revert:
                results.append(_revert_one(root, ssl_py, dry_run, log, refresh_bytecode))
            else:
                results.append(_patch_one(root, ssl_py, block, os_name, fallback, windows_mode,
                                          dry_run, log, refresh_bytecode))
        except OSError as e:
            where = e.filename or ssl_py
            raise PatchError(f"cannot {'revert' if revert else 'patch'} {ssl_py}: "
                             f"{where}: {e.strerror or e}",
                             hint="run as the owner of the installation (or with sudo); "
                                  "files already written are consistent: run the same "
                                  "command again") from None
    return PatchResult(prefix=root, target_os=os_name, revert=revert, dry_run=dry_run,
                       files=tuple(results))


def _patch_one(root: Path, ssl_py: Path, block: str, os_name: str,
               fallback: list[tuple[str, str]], windows_mode: str,
               dry_run: bool, log: Log, refresh_bytecode: bool) -> FileResult:
    backup = ssl_py.with_name(ssl_py.name + BACKUP_SUFFIX)
    record = ssl_py.with_name(RECORD_NAME)
    st = ssl_py.stat()
    current = ssl_py.read_bytes()
    text = _decode(current)
    pristine = _encode(strip_from_text(text))
    check_ssl_py(_decode(pristine), str(ssl_py))
    new = _encode(apply_to_text(text, block))
    action = "unchanged" if new == current else "patched"
    diff = _diff(ssl_py, text, _decode(new)) if new != current else ""
    if dry_run:
        log(f"would patch {ssl_py}" if action == "patched" else f"{ssl_py} is already patched")
        return FileResult(ssl_py, action, _sha256(pristine), _sha256(new), backup, record, (), diff)

    if backup.exists():
        if backup.read_bytes() != pristine:
            # ssl.py was replaced since the last patch (a reinstall or an upgrade):
            # what is there now, without our block, is the original to keep.
            log(f"{ssl_py} changed since it was last patched: refreshing {backup.name}")
            _atomic_write(backup, pristine, st)
    else:
        _atomic_write(backup, pristine, st)
    if action == "unchanged" and _record_matches(record, new):
        log(f"{ssl_py} is already patched")
        return FileResult(ssl_py, action, _sha256(pristine), _sha256(new), backup, record, (), "")
    if action == "patched":
        _atomic_write(ssl_py, new, st)
        log(f"patched {ssl_py}")
    notes = _refresh_bytecode(root, ssl_py, log) if refresh_bytecode else ()
    payload = {
        "tool": "pybuildssl",
        "patch_version": PATCH_VERSION,
        "time": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "ssl_py": ssl_py.name,
        "backup": backup.name,
        "target_os": os_name,
        "original_sha256": _sha256(pristine),
        "patched_sha256": _sha256(new),
        "fallback": [list(x) for x in fallback],
        "bytecode": list(notes),
    }
    if os_name == "windows":
        payload["windows_mode"] = windows_mode
    _atomic_write(record, (json.dumps(payload, indent=2) + "\n").encode("utf-8"))
    return FileResult(ssl_py, action, _sha256(pristine), _sha256(new), backup, record,
                      tuple(notes), diff)


def _record_matches(record: Path, patched: bytes) -> bool:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("patched_sha256") == _sha256(patched)


def _revert_one(root: Path, ssl_py: Path, dry_run: bool, log: Log,
                refresh_bytecode: bool) -> FileResult:
    backup = ssl_py.with_name(ssl_py.name + BACKUP_SUFFIX)
    record = ssl_py.with_name(RECORD_NAME)
    st = ssl_py.stat()
    current = ssl_py.read_bytes()
    text = _decode(current)
    if not is_patched(text):
        log(f"{ssl_py} is not patched")
        if not dry_run:
            for leftover in (backup, record):
                if leftover.exists():
                    leftover.unlink()
        sha = _sha256(current)
        return FileResult(ssl_py, "not-patched", sha, sha, None, None)
    stripped = _encode(strip_from_text(text))
    if backup.exists():
        original = backup.read_bytes()
        if original != stripped:
            raise PatchError(
                f"{backup} does not match {ssl_py} without its pybuildssl block",
                hint=f"one of them was edited; inspect both, then move the one to keep to {ssl_py}")
    else:
        log(f"{backup.name} is missing: removing the block from {ssl_py} instead")
        original = stripped
    diff = _diff(ssl_py, text, _decode(original))
    if dry_run:
        log(f"would revert {ssl_py}")
        return FileResult(ssl_py, "reverted", _sha256(original), _sha256(original), backup,
                          record, (), diff)
    _atomic_write(ssl_py, original, st)
    log(f"reverted {ssl_py}")
    for leftover in (backup, record):
        if leftover.exists():
            leftover.unlink()
    notes = _refresh_bytecode(root, ssl_py, log) if refresh_bytecode else ()
    return FileResult(ssl_py, "reverted", _sha256(original), _sha256(original), None, None,
                      tuple(notes), diff)
