"""``pybuildssl patch`` on python.org's embeddable layout (ssl.pyc in pythonXY.zip).

:func:`pybuildssl.trust.patch_prefix` hands a prefix here when it holds
``python.exe`` and ``pythonXY.zip`` but no ``Lib\\ssl.py``.  The work is
:mod:`pybuildssl.embedzip`'s; this module runs the layout's own python.exe
(natively on Windows, under Wine elsewhere) and reports in
:class:`pybuildssl.trust.PatchResult` terms.  ``--revert`` puts the original
zip back byte for byte (it is kept as ``pythonXY.zip.pybuildssl-orig``).
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import embedzip, hashing, trust, wine
from .errors import PatchError


def layout_python(root: Path, prefix: Path) -> embedzip.PythonRunner:
    """Run the layout's python.exe with host paths: natively on Windows, else under Wine in ``prefix``."""
    exe = root / "python.exe"

    def run(args: list[str]) -> tuple[int, str, str]:
        if sys.platform == "win32":  # pragma: no cover - Windows
            p = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600)
        else:
            try:
                p = wine.run([str(exe), *[wine.windows_path(a) if a.startswith("/") else a for a in args]],
                             prefix, timeout=600)
            except wine.WineMissing as e:
                raise PatchError(f"cannot run {exe}: {e}",
                                 hint="the embeddable layout's ssl.pyc is compiled by its own python.exe") from None
        return p.returncode, p.stdout, p.stderr

    return run


def patch_embeddable(root: Path, *, revert: bool, dry_run: bool, windows_mode: str,
                     log: trust.Log) -> trust.PatchResult:
    zpath = embedzip.find_zip(root)
    assert zpath is not None
    before = hashing.sha256_file(zpath)
    backup = zpath.with_name(zpath.name + embedzip.BACKUP_SUFFIX)
    if dry_run:
        action = ("reverted" if backup.is_file() else "not-patched") if revert else "patched"
        log(f"would {'revert' if revert else 'patch'} {zpath} (ssl.pyc)")
        return _result(root, revert, True, trust.FileResult(zpath, action, before, before, backup, None))
    if revert:
        done = embedzip.revert_layout(root)
        log(f"reverted {zpath}" if done else f"{zpath} is not patched")
        after = hashing.sha256_file(zpath)
        return _result(root, True, False, trust.FileResult(zpath, "reverted" if done else "not-patched",
                                                           after, after, None, None))
    block = trust.render_patch("windows", windows_mode=windows_mode)
    work = Path(tempfile.mkdtemp(prefix="pybuildssl-embed-"))
    try:
        record = {"tool": "pybuildssl", "patch_version": trust.PATCH_VERSION, "target_os": "windows",
                  "windows_mode": windows_mode, "patch_sha256": hashing.sha256_text(block),
                  "time": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()}
        embedzip.patch_layout(root, block, layout_python(root, work / "wineprefix"), work=work / "pyc",
                              record=record)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"patched {zpath} (ssl.pyc from its own bytecode plus the block, windows_mode {windows_mode})")
    return _result(root, False, False, trust.FileResult(
        zpath, "patched", hashing.sha256_file(backup), hashing.sha256_file(zpath), backup,
        root / embedzip.RECORD_NAME))


def _result(root: Path, revert: bool, dry_run: bool, f: "trust.FileResult") -> trust.PatchResult:
    return trust.PatchResult(prefix=root, target_os="windows", revert=revert, dry_run=dry_run, files=(f,))
