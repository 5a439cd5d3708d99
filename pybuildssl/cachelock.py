"""One builder at a time per cache entry: an advisory lock file beside it.

CI pipelines run parallel jobs on one shared cache, and two builds of the same
recipe would otherwise build into the same work tree and component directory
at once (one's ``make install`` ran while the other removed its sources).  A
builder takes ``CACHE/locks/NAME.lock`` with ``flock`` before it builds NAME,
then looks again for the finished entry: whoever waited reuses it.  The lock
goes with the process (a killed build never leaves a stale lock).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows hosts: builds there run one per cache
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def held(cache_dir: Path, name: str, *, waiting: Callable[[str], None] = lambda s: None) -> Iterator[None]:
    """Hold the lock ``name`` of ``cache_dir``; ``waiting`` is told when another process has it."""
    if fcntl is None:
        yield
        return
    locks = Path(cache_dir) / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting(f"waiting for another build of {name} in this cache ({path})")
            start = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            waiting(f"{name}: the other build finished after {time.monotonic() - start:.0f}s")
        yield
    finally:
        os.close(fd)  # releases the lock
