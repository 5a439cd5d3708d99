"""What is verified (:class:`Target`) and the timing of findings."""

from __future__ import annotations

import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .. import layouts, pyprefix
from ..manifest import Manifest
from .report import Report


@dataclass
class Target:
    """What is verified: a relocated prefix, and what the archive said about it.

    ``manifest`` is the artifact's typed manifest (``None`` for a Python
    without one); a dict is accepted for hand-made partial manifests (tests)
    and read with the absent keys at their defaults.
    """

    input: Path
    root: Path
    manifest: Manifest | None
    members: list[tarfile.TarInfo] = field(default_factory=list)  # raw archive members, if any
    os: str = "linux"

    def __post_init__(self) -> None:
        if isinstance(self.manifest, dict):
            self.manifest = Manifest.from_dict(self.manifest, source="the given manifest", partial=True)

    @property
    def interpreter(self) -> Path:
        if self.manifest and self.manifest.cpython.interpreter:
            return self.root / self.manifest.cpython.interpreter
        if self.os == "windows":
            return self.root / "python.exe"
        return pyprefix.interpreter(self.root)

    @property
    def runnable(self) -> bool:
        return self.os == layouts.host_os()


@contextmanager
def timing(r: Report) -> Iterator[None]:
    """Spread the time of a block over the findings it added (for JUnit)."""
    before = len(r.findings)
    start = time.monotonic()
    yield
    added = r.findings[before:]
    for f in added:
        f.seconds = (time.monotonic() - start) / max(1, len(added))


__all__ = ["Target", "timing"]
