"""Running Windows programs on a Linux host with Wine (a leaf: imports nothing above it).

Debian's ``wine64`` package installs the 64-bit loader as
``/usr/lib/wine/wine64`` (not on PATH).  Every run here uses a fresh
``WINEPREFIX`` of the caller's choosing: a prefix is where Wine keeps its
registry and certificate stores, so a fresh one holds exactly what the host's
CA bundle was when it was made (Wine's crypt32 imports that bundle into the
ROOT store), and nothing a previous run left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Sequence

#: Where to look for the 64-bit loader, in order.
CANDIDATES = ("wine64", "/usr/lib/wine/wine64", "wine")
#: Debian packages that provide Wine and the cross compiler (ci/setup.sh installs them).
PACKAGES = "wine64 gcc-mingw-w64-x86-64"


class WineMissing(Exception):
    """No Wine here: one sentence saying what to install."""


def command() -> list[str]:
    """argv prefix that starts a 64-bit Windows program."""
    for cand in CANDIDATES:
        path = shutil.which(cand) or (cand if os.path.isfile(cand) and os.access(cand, os.X_OK) else None)
        if path:
            return [path]
    raise WineMissing(f"Wine is not installed (Debian: apt-get install {PACKAGES}; ci/setup.sh does)")


def available() -> bool:
    try:
        command()
        return True
    except WineMissing:
        return False


def env(prefix: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a run in ``prefix``: quiet, no Mono/Gecko prompts, 64-bit."""
    # The host's Python and trust settings are not the Windows program's.
    out = {k: v for k, v in (base if base is not None else os.environ).items()
           if not k.startswith(("PYTHON", "SSL_CERT_", "OPENSSL_"))}
    out.update(WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEARCH="win64",
               WINEDLLOVERRIDES="mscoree,mshtml=")
    return out


def windows_path(path: Path | str) -> str:
    """A host path as a Windows program sees it (Wine maps / to Z:)."""
    return "Z:" + str(PurePosixPath(os.path.abspath(path))).replace("/", "\\")


def wineserver(wine: Sequence[str]) -> list[str]:
    cand = Path(wine[0]).with_name("wineserver")
    return [str(cand)] if cand.is_file() else ["wineserver"]


def run(argv: Sequence[str], prefix: Path, *, input: str | None = None, timeout: float = 300,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run one Windows program (argv[0] a host path) in ``prefix``; the prefix's server is stopped after."""
    wine = command()
    e = env(prefix)
    try:
        return subprocess.run([*wine, *argv], env=e, input=input, capture_output=True, text=True,
                              timeout=timeout, cwd=str(cwd) if cwd else None,
                              stdin=None if input is not None else subprocess.DEVNULL)
    finally:
        stop_server(wine, e)


#: ``-k`` kills the prefix's wineserver without waiting for it to exit; ``-w`` waits.  A server
#: still exiting answers the next Wine whose prefix directory gets the same device and inode (a
#: tmpfs reuses inode numbers at once), and serves it the old prefix's registry: its ROOT store.
STOP = (("-k",), ("-w",))


def stop_server(wine: Sequence[str], env: dict[str, str]) -> None:
    for args in STOP:
        subprocess.run([*wineserver(wine), *args], env=env, capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=60)
