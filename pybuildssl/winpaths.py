"""Which Windows paths only administrators can write (a leaf: stdlib only).

One rule, read by the Windows recipes' checks (platforms/windows.py) and by
verify (the OPENSSLDIR, ENGINESDIR and MODULESDIR compiled into libcrypto).
"""

from __future__ import annotations

import ntpath


#: Roots under which only administrators can create or change files on a
#: default Windows installation (system drive C:).  C:\ itself, C:\ProgramData,
#: C:\Users and even parts of C:\Windows (Temp, Tasks, tracing) let ordinary
#: users create files or directories: never OPENSSLDIR.
ADMIN_ONLY_ROOTS = ("C:\\Program Files\\", "C:\\Program Files (x86)\\")


def openssldir_problem(path: str) -> str | None:
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
