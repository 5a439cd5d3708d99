"""Files and trees: copying Python prefixes cheaply (hard links where the filesystem allows),
and writing files so that nothing is ever half-written (a temp file beside, then os.replace)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

#: Parts of lib/pythonX.Y an interpreter does not need to start and use ssl.
NOT_NEEDED_TO_RUN = ("test", "site-packages", "idlelib", "tkinter", "turtledemo", "ensurepip")


def link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def copy_prefix(src: Path, dst: Path, *, skip: Iterable[str] = NOT_NEEDED_TO_RUN,
                subdirs: Iterable[str] = ("bin", "lib")) -> Path:
    """Copy what an interpreter needs to run from ``dst`` (by default bin/ and lib/,
    without the test suite and site-packages).

    Files are hard links where possible: safe only for callers that never write
    a file in place (pybuildssl's patch and py_compile write a temp file and
    rename it).
    """
    skipped = set(skip)

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {n for n in names if n in skipped and re.search(r"/lib/python3\.\d+t?$", directory)}

    dst.mkdir(parents=True)
    for sub in subdirs:
        if (src / sub).is_dir():
            shutil.copytree(src / sub, dst / sub, symlinks=True, ignore=ignore, copy_function=link_or_copy)
    for lib in (dst / "lib").glob("python3.*"):
        if "site-packages" in skipped:
            (lib / "site-packages").mkdir(exist_ok=True)
    return dst


def write_texts_atomic(files: dict[Path, str]) -> None:
    """Write every file to a temp file beside it, then publish them all with ``os.replace``:
    on an error nothing is half-written and no temp file is left."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
            temps.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
        for tmp, path in temps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)


@contextlib.contextmanager
def staged_file(dest: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file to write ``dest`` through: a temp file beside it, published with
    ``os.replace`` when the block ends normally, removed when it raises."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}-")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
