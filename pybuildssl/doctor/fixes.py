"""Fixes more than one rule suggests: how each is worded and which commands it gives."""

from __future__ import annotations

import re
import shlex

from .facts import Host
from .model import Fix, Location


def chmod_fix(loc: Location) -> Fix | None:
    """Fix the element the patch named ("'PATH' is world-writable", "... writable by group N",
    "... owned by uid N"); None for a sticky world-writable directory such as /tmp (chmod
    would break the system; the store belongs elsewhere, which the warning says)."""
    m = re.search(r"'([^']*)' is (world-writable|writable by group|owned by uid)", loc.safety)
    target, why = (m.group(1), m.group(2)) if m else (
        loc.path, "owned by uid" if "owned by uid" in loc.safety else "world-writable")
    q = shlex.quote(target)
    if "(sticky)" in loc.safety:
        return None
    cmds = {"world-writable": [f"chmod o-w {q}"], "writable by group": [f"chmod g-w {q}"],
            "owned by uid": [f"chown root:root {q}", f"chmod 644 {q}" if loc.kind == "file" and
                             target == loc.path else f"chmod go-w {q}"]}[why]
    return Fix("chmod", f"Let only root write {target}", cmds,
               f"{loc.path} is unsafe ({loc.safety}): another local user could add a CA to it")


def export_fix(best_file: Location | None, best_dir: Location | None) -> Fix | None:
    """Name the host's store in SSL_CERT_FILE (a bundle first) or SSL_CERT_DIR; None without one."""
    if best_file is not None:
        return Fix("env-file", "Point OpenSSL at this host's CA bundle (this shell; add it to your profile to keep "
                   "it)", [f"export SSL_CERT_FILE={shlex.quote(best_file.path)}"],
                   "explicit configuration: the pybuildssl fallback stays off while it is set")
    if best_dir is not None:
        return Fix("env-dir", "Point OpenSSL at this host's hashed CA directory (this shell; add it to your "
                   "profile to keep it)", [f"export SSL_CERT_DIR={shlex.quote(best_dir.path)}"],
                   "explicit configuration: the pybuildssl fallback stays off while it is set")
    return None


def patch_note(host: Host, base_prefix: str) -> str:
    note = "patches every venv made from this installation too"
    if host.prefix_writable is False:
        note += f"; {base_prefix} is not writable by you: run it as its owner"
    return note


def recipe(host: Host, vendor: str | None) -> str:
    """The shipped recipe for this host and ``vendor`` (its name even if none is shipped)."""
    for name in (f"{host.os}-{host.arch}-{vendor}", f"{host.os}-{host.arch}-generic", f"{host.os}-{host.arch}"):
        if name in host.recipes:
            return name
    return f"{host.os}-{host.arch}-{vendor or 'generic'}"

