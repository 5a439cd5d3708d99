"""Deterministic archives with the manifest first.

The archive has one top directory (``python/``); its first member is
``python/PYBUILDSSL.json``, which lists every file with its sha256 so that
``verify`` can check the tree.  Members are sorted, mtimes are the recipe's
SOURCE_DATE_EPOCH, owners are root/0, modes are normalised (0755 for
directories and executables, 0644 otherwise).  The archive is written to a
temp file beside its destination and published with ``os.replace``.
"""

from __future__ import annotations

import gzip
import io
import json
import lzma
import os
import stat
import tarfile
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from .fsutil import staged_file
from .hashing import sha256_file
from . import manifest as manifest_mod

TOP = "python"
MANIFEST = manifest_mod.FILE_NAME
MANIFEST_SCHEMA = manifest_mod.SCHEMA


def _walk(root: Path) -> Iterator[Path]:
    """Every entry below ``root``, depth first, sorted by name (so sorted by path)."""
    for name in sorted(os.listdir(root)):
        p = root / name
        yield p
        if p.is_dir() and not p.is_symlink():
            yield from _walk(p)


def file_table(root: Path) -> dict[str, dict[str, Any]]:
    """{relative path: {type, sha256, size, mode} | {type: link, target}} for every entry."""
    out: dict[str, dict[str, Any]] = {}
    for p in _walk(root):
        rel = p.relative_to(root).as_posix()
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = {"type": "link", "target": os.readlink(p)}
        elif stat.S_ISDIR(st.st_mode):
            continue
        elif stat.S_ISREG(st.st_mode):
            out[rel] = {"type": "file", "sha256": sha256_file(p), "size": st.st_size,
                        "mode": "0755" if st.st_mode & 0o111 else "0644"}
        else:
            raise ValueError(f"{p}: not a regular file, directory or symlink")
    return out


def _normal_mode(st_mode: int) -> int:
    if stat.S_ISDIR(st_mode) or st_mode & 0o111:
        return 0o755
    return 0o644


def _info(name: str, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mtime = mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def _open_compressed(raw: BinaryIO, compression: str) -> BinaryIO:
    if compression == "gz":
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw, mode="wb", preset=6)  # type: ignore[return-value]
    if compression == "zst":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise ValueError("zst compression needs the 'zstandard' package: pip install zstandard") from None
        return zstandard.ZstdCompressor(level=10).stream_writer(raw, closefd=False)  # type: ignore[return-value]
    raise ValueError(f"unknown compression {compression!r}")


def write_archive(root: Path, manifest: "manifest_mod.Manifest | dict[str, Any]", dest: Path, *, compression: str,
                  mtime: int) -> Path:
    """Pack ``root`` as ``python/`` with the manifest first; publish atomically at ``dest``."""
    data = manifest.to_json() if isinstance(manifest, manifest_mod.Manifest) else manifest_mod.dumps(manifest)
    with staged_file(dest) as raw:
        comp = _open_compressed(raw, compression)
        with tarfile.open(fileobj=comp, mode="w", format=tarfile.PAX_FORMAT) as tf:
            ti = _info(f"{TOP}/{MANIFEST}", mtime)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
            ti = _info(TOP, mtime)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(ti)
            for p in _walk(root):
                rel = p.relative_to(root).as_posix()
                if rel != MANIFEST:
                    _add_member(tf, p, f"{TOP}/{rel}", mtime)
        comp.close()
    return dest


def _add_member(tf: tarfile.TarFile, p: Path, name: str, mtime: int) -> None:
    st = p.lstat()
    ti = _info(name, mtime)
    if stat.S_ISLNK(st.st_mode):
        ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, os.readlink(p), 0o777
        tf.addfile(ti)
    elif stat.S_ISDIR(st.st_mode):
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(ti)
    else:
        ti.size, ti.mode = st.st_size, _normal_mode(st.st_mode)
        with open(p, "rb") as f:
            tf.addfile(ti, f)


def read_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of an archive (its first member) without reading the rest."""
    with tarfile.open(archive) as tf:
        first = tf.next()
        if first is None or first.name != f"{TOP}/{MANIFEST}":
            raise ValueError(f"{archive}: the first member is not {TOP}/{MANIFEST}")
        f = tf.extractfile(first)
        assert f is not None
        return json.loads(f.read())
