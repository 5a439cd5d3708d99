"""Deterministic zip artifacts (Windows) with the manifest first.

The zip twin of :mod:`pybuildssl.package`: one top directory ``python/``,
whose first member is ``python/PYBUILDSSL.json`` (every file with its sha256);
members sorted by path; every date the build's SOURCE_DATE_EPOCH (zip dates
cannot precede 1980; they are local-time fields with 2-second steps);
attributes normalised (0755 for .exe/.dll/.pyd and directories, 0644
otherwise, "made on Unix" so that the modes are kept); deflate at a fixed
level.  Same tree and manifest in, same bytes out (tests/unit/test_package_zip.py).
Written to a temp file beside the destination, published with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from . import manifest as manifest_mod
from .fsutil import staged_file
from .package import MANIFEST, MANIFEST_SCHEMA, TOP, _walk, file_table  # noqa: F401  (one manifest format)

EXECUTABLE_SUFFIXES = (".exe", ".dll", ".pyd")
#: Zip dates start in 1980.
MIN_DATE = (1980, 1, 1, 0, 0, 0)


def _date(epoch: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(epoch)
    return max(MIN_DATE, (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec - t.tm_sec % 2))


def _info(name: str, date: tuple, mode: int) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date)
    zi.create_system = 3  # Unix: external_attr carries the mode
    zi.external_attr = mode << 16
    zi.compress_type = zipfile.ZIP_DEFLATED if not name.endswith("/") else zipfile.ZIP_STORED
    if name.endswith("/"):
        zi.external_attr |= 0x10  # MS-DOS directory bit
    return zi


def _mode(rel: str, is_dir: bool) -> int:
    if is_dir:
        return 0o40755
    return 0o100755 if rel.lower().endswith(EXECUTABLE_SUFFIXES) else 0o100644


def write_zip(root: Path, manifest: dict[str, Any], dest: Path, *, mtime: int) -> Path:
    """Pack ``root`` as ``python/`` with the manifest first; publish atomically at ``dest``."""
    date = _date(mtime)
    with staged_file(dest) as raw, zipfile.ZipFile(raw, "w", compresslevel=6) as z:
        data = manifest.to_json() if isinstance(manifest, manifest_mod.Manifest) else manifest_mod.dumps(manifest)
        z.writestr(_info(f"{TOP}/{MANIFEST}", date, 0o100644), data)
        z.writestr(_info(f"{TOP}/", date, _mode("", True)), b"")
        for p in _walk(root):  # sorted by path, depth first
            rel = p.relative_to(root).as_posix()
            if rel == MANIFEST:
                continue
            if p.is_dir():
                z.writestr(_info(f"{TOP}/{rel}/", date, _mode(rel, True)), b"")
            else:
                z.writestr(_info(f"{TOP}/{rel}", date, _mode(rel, False)), p.read_bytes())
    return dest


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of a zip artifact (its first member)."""
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        if not infos or infos[0].filename != f"{TOP}/{MANIFEST}":
            raise ValueError(f"{archive}: the first member is not {TOP}/{MANIFEST}")
        return json.loads(z.read(infos[0]))


def extract(archive: Path, dest: Path, *, under: str | None = None) -> list[str]:
    """Extract the files below ``under`` (default: the single top directory, if any) into
    ``dest`` (replaced); refuse any member that would land outside.  Returns every member
    name in archive order.  Raises ValueError naming the member and the archive.
    """
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        for info in infos:
            p = PurePosixPath(info.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or ":" in info.filename:
                raise ValueError(f"{archive}: member {info.filename!r} would land outside the tree")
        if under is None:
            tops = {PurePosixPath(i.filename).parts[0] for i in infos if i.filename.strip("/")}
            single = len(tops) == 1 and any(i.filename.startswith(next(iter(tops)) + "/") for i in infos)
            under = next(iter(tops)) if single else ""
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for info in infos:
            rel = PurePosixPath(info.filename)
            if under:
                if not info.filename.startswith(under.rstrip("/") + "/"):
                    continue
                rel = rel.relative_to(under)
            if info.is_dir() or not str(rel).strip("/") or str(rel) == ".":
                (dest / rel).mkdir(parents=True, exist_ok=True)
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as f, open(target, "wb") as g:
                shutil.copyfileobj(f, g)
            os.chmod(target, 0o755 if rel.suffix.lower() in EXECUTABLE_SUFFIXES else 0o644)
        return [i.filename for i in infos]
