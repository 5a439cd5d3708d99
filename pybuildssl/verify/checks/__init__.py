"""Host-side checks, grouped by concern: facts in, findings out.

Each module declares its checks as ``CHECKS``, a list of
:class:`~pybuildssl.verify.registry.Check` (id, description, essential, the
function that adds the finding), beside the functions themselves:

* ``archive``    the archive as shipped: extraction, the manifest, file modes;
* ``binaries``   ELF files: RPATH/RUNPATH, host libraries, the glibc floor;
* ``relocation`` build paths, OpenSSL's compiled directories, OPENSSLDIR;
* ``python``     the interpreter starts, follows its location, its modules import;
* ``ssl``        OpenSSL's version, the trust patch, the default verify paths;
* ``tls``        real handshakes under vendor layouts.

A check function appends findings to a :class:`~pybuildssl.verify.report.Report`
and never raises for a broken artifact: a broken artifact is a FAIL finding.

To add a group (say Windows checks): write ``checks/windows.py`` with its
functions and its ``CHECKS``, add the module to ``GROUPS`` below (its place
there is its place in docs/verify-checks.md), and call its functions from
:func:`pybuildssl.verify.verify`.  ``python3 ci/gen_docs.py`` then documents
it; the unit tier fails while an id the code adds is missing here.
"""

from __future__ import annotations

from .. import report
from ..registry import Check
from ..target import Target, timing
from . import archive, binaries, python, relocation, ssl, tls
from .archive import check_archive, check_hygiene, check_manifest
from .binaries import GLIBC_FAMILY, check_elf, check_glibc_floor, elf_files
from .python import STDLIB_MODULES, check_modules, check_python
from .relocation import check_build_paths, check_openssl_dirs, check_openssldir
from .ssl import check_default_paths, check_patch, check_ssl, openssl_version
from .tls import TLSWorld, _judge, check_tls, tls_world

#: The groups in the order verify runs them (and the docs list them).
GROUPS = (archive, binaries, relocation, python, ssl, tls)
#: Every check of ``pybuildssl verify``, one entry per finding id.
REGISTRY: tuple[Check, ...] = tuple(c for group in GROUPS for c in group.CHECKS)


report.declare_essential(c.id for c in REGISTRY if c.essential)


def find(finding_id: str) -> Check | None:
    """The registered check a finding id belongs to (``layout.rhel`` -> ``layout.*``)."""
    return next((c for c in REGISTRY if c.matches(finding_id)), None)


def is_essential(finding_id: str) -> bool:
    check = find(finding_id)
    return check is not None and check.essential


__all__ = [
    "GROUPS", "REGISTRY", "Check", "find", "is_essential",
    "Target", "timing", "STDLIB_MODULES",
    "check_archive", "check_manifest", "check_hygiene",
    "GLIBC_FAMILY", "elf_files", "check_elf", "check_glibc_floor",
    "check_build_paths", "check_openssl_dirs", "check_openssldir",
    "check_python", "check_modules",
    "check_ssl", "check_patch", "check_default_paths", "openssl_version",
    "TLSWorld", "tls_world", "check_tls", "_judge",
]
