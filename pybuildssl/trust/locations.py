"""Where a prefix keeps ssl.py, which CPython line it is, and which OS it targets."""

from __future__ import annotations

import re
from pathlib import Path

from .. import layouts


#: The CPython lines (major, minor) whose Lib/ssl.py the patch is written for, oldest and
#: newest.  Each line's ssl.py at its release tag is a test fixture (tests/fixtures/ssl_py/).
SUPPORTED_LINES = ((3, 9), (3, 15))
_STDLIB_DIR_RE = re.compile(r"python(?P<major>\d+)\.(?P<minor>\d+)t?")


def supported_range() -> str:
    """The supported lines as text: "CPython 3.9 to 3.15"."""
    (a, b), (c, d) = SUPPORTED_LINES
    return f"CPython {a}.{b} to {c}.{d}"


def _stdlib_ssl_pys(prefix: Path) -> list[tuple[Path, tuple[int, int] | None]]:
    """(ssl.py, line) of every stdlib a prefix holds; line None for a Windows ``Lib/``."""
    roots = [prefix]
    if (prefix / "install").is_dir():
        roots.append(prefix / "install")
    found: list[tuple[Path, tuple[int, int] | None]] = []
    for root in roots:
        lib = root / "lib"
        if lib.is_dir():
            for d in sorted(lib.iterdir()):
                m = _STDLIB_DIR_RE.fullmatch(d.name)
                if m and (d / "ssl.py").is_file():
                    found.append((d / "ssl.py", (int(m["major"]), int(m["minor"]))))
        if (root / "Lib" / "ssl.py").is_file():
            found.append((root / "Lib" / "ssl.py", None))
    # Case-insensitive file systems see lib/ and Lib/ as one directory.
    unique: dict[tuple[int, int], tuple[Path, tuple[int, int] | None]] = {}
    for p, line in found:
        st = p.stat()
        unique.setdefault((st.st_dev, st.st_ino), (p, line))
    return list(unique.values())


def _supported(line: tuple[int, int] | None) -> bool:
    return line is None or SUPPORTED_LINES[0] <= line <= SUPPORTED_LINES[1]


def find_ssl_py(prefix: Path) -> list[Path]:
    """Every stdlib ssl.py of a supported line in a distribution prefix.

    Accepts a ``make install`` or pyenv prefix (``lib/pythonX.Y/ssl.py``,
    free-threaded ``lib/pythonX.Yt`` too), a Windows layout (``Lib/ssl.py``),
    and python-build-standalone's ``python/`` directory (``install/...``).
    """
    return [p for p, line in _stdlib_ssl_pys(prefix) if _supported(line)]


def unsupported_ssl_py(prefix: Path) -> list[tuple[Path, str]]:
    """(ssl.py, "X.Y") of every stdlib in ``prefix`` whose line the patch does not support."""
    return [(p, f"{line[0]}.{line[1]}") for p, line in _stdlib_ssl_pys(prefix)
            if line is not None and not _supported(line)]


def detect_target_os(ssl_py: Path) -> str:
    """The OS a distribution was built for, read from its stdlib directory."""
    if ssl_py.parent.name == "Lib":
        return "windows"
    names = [p.name for p in ssl_py.parent.glob("_sysconfigdata_*.py")]
    if any("darwin" in n for n in names):
        return "macos"
    if any("linux" in n for n in names):
        return "linux"
    for os_name in ("freebsd", "openbsd", "netbsd"):
        if any(os_name in n for n in names):
            return os_name
    return layouts.host_os()
