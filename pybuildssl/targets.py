"""Facts about target operating systems that build, trust and verify all need.

A leaf: stdlib only.  The one list of the OSes a recipe can target, the
Windows trust modes, the Windows OPENSSLDIR rule and how OpenSSL ends up
linked; ``recipe``, ``trust``, ``platforms`` and ``verify`` import them from here.
"""

from __future__ import annotations

import ntpath
from typing import Iterable

#: What ``target.os`` of a recipe may be.
OSES = ("linux", "macos", "windows")
#: Where a Windows artifact's trust comes from (``trust.windows_mode``).
WINDOWS_TRUST_MODES = ("enumeration", "winstore", "both")

#: Roots under which only administrators can create or change files on a
#: default Windows installation (system drive C:).  C:\ itself, C:\ProgramData,
#: C:\Users and even parts of C:\Windows (Temp, Tasks, tracing) let ordinary
#: users create files or directories: never OPENSSLDIR.
ADMIN_ONLY_ROOTS = ("C:\\Program Files\\", "C:\\Program Files (x86)\\")


def openssl_linkage(os_name: str, options: Iterable[str]) -> str:
    """How OpenSSL is linked into the artifact: "static" or "shared".

    On Windows always shared: PCbuild links libssl/libcrypto DLLs and the
    platform drops ``no-shared`` from the options.  Elsewhere the options are
    passed to Configure as they are: ``no-shared`` builds static libraries only,
    linked into ``_ssl``/``_hashlib``; without it the shared ones are built and
    the linker prefers them.
    """
    if os_name == "windows":
        return "shared"
    return "static" if "no-shared" in options else "shared"


def windows_openssldir_problem(path: str) -> str | None:
    """Why ``path`` must not be a Windows OPENSSLDIR (None when it may).

    Pure: judges the string.  OPENSSLDIR must be an absolute path with a
    drive under a root that only administrators can write on a default
    installation; anything else (a build directory, the user profile,
    C:\\ProgramData, a directory C:\\ itself lets users create, a relative
    path) lets a local user plant openssl.cnf (CVE-2019-1552).
    """
    if not path:
        return "is empty"
    p = path.replace("/", "\\")
    drive, _ = ntpath.splitdrive(p)
    if not drive or not ntpath.isabs(p) or drive.startswith("\\\\"):
        return "is not an absolute path on a drive"
    if ".." in p.split("\\"):
        return "contains '..'"
    low = ntpath.normpath(p).lower() + "\\"
    if not any(low.startswith(root.lower()) for root in ADMIN_ONLY_ROOTS):
        return ("is outside the administrator-only roots ("
                + ", ".join(r.rstrip("\\") for r in ADMIN_ONLY_ROOTS)
                + "): an ordinary user could create it and plant openssl.cnf (CVE-2019-1552)")
    return None
