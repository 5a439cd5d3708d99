"""doctor's facts: what this host is, what the probe inside the interpreter reports, and acting.

:func:`collect` is doctor's one act: it runs the probe (``verify/probe.py``,
stdlib only, through the neutral :mod:`pybuildssl.probing`) once inside the
interpreter, with the caller's own environment (the variables in effect are
part of the diagnosis), and gathers the few facts about this host the
diagnosis needs (:class:`Host`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from .. import layouts, probing

#: "either": a bundle or a hashed directory (requests tells them apart with os.path.isdir).
LOCATION_VARS: dict[str, tuple[str, str]] = {
    "SSL_CERT_FILE": ("file", "this Python's ssl module (OpenSSL)"),
    "SSL_CERT_DIR": ("dir", "this Python's ssl module (OpenSSL)"),
    "REQUESTS_CA_BUNDLE": ("either", "requests (and pip's requests)"),
    "CURL_CA_BUNDLE": ("either", "requests when REQUESTS_CA_BUNDLE is unset; curl"),
    "PIP_CERT": ("either", "pip (--cert)"),
    "GIT_SSL_CAINFO": ("file", "git"),
    "NODE_EXTRA_CA_CERTS": ("file", "Node.js (added to its own roots)"),
}
#: Further variables worth showing: name -> what it does.
OTHER_VARS: dict[str, str] = {
    "OPENSSL_CONF": "OpenSSL's configuration file, read at the first use",
    "OPENSSL_MODULES": "where OpenSSL loads provider modules from",
    "PYBUILDSSL_NO_FALLBACK": "turns the pybuildssl fallback off (anything but empty or 0)",
}
OPENSSL_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR")



@dataclass(frozen=True)
class Host:
    """What doctor knows about the machine, besides the probe's facts."""

    os: str
    vendor: str
    arch: str
    recipes: tuple[str, ...] = ()
    patch_version: int = 1
    prefix_writable: bool | None = None
    table: layouts.Table = field(default_factory=layouts.load, compare=False, repr=False)


def host_facts(*, recipes: tuple[str, ...] | None = None) -> Host:
    """This machine (reads /etc/os-release, the layout table and the shipped recipes)."""
    from .. import recipe, trust

    return Host(os=layouts.host_os(), vendor=layouts.detect_vendor(), arch=recipe.host_arch(),
                recipes=tuple(recipe.available()) if recipes is None else recipes,
                patch_version=trust.PATCH_VERSION)



def request_locations(env: Mapping[str, str], host: Host) -> list[list[str]]:
    """What doctor asks the probe to describe (compiled defaults come with ``compiled_locations``).

    The locations trust variables name, the host vendor's store, and the
    OS's whole fallback list from the layout table, without duplicates.
    """
    out: list[list[str]] = []

    def add(kind: str, path: str) -> None:
        if path and [kind, path] not in out:
            out.append([kind, path])

    for name, (kind, _who) in LOCATION_VARS.items():
        for path in split_paths(name, env.get(name)):
            if kind == "either":
                add("file", path)
                add("dir", path)
            else:
                add(kind, path)
    vendor = host.table.vendors.get(host.vendor)
    if vendor is not None:
        for kind, path in vendor.locations:
            add(kind, path)
    for kind, path in host.table.fallback(host.os) if host.os in layouts.POSIX_OSES else []:
        add(kind, path)
    return out


def split_paths(name: str, value: str | None) -> list[str]:
    if value is None:
        return []
    if name == "SSL_CERT_DIR":  # OpenSSL reads a list, like PATH
        return [p for p in value.split(os.pathsep) if p] or [""]
    return [value]



def find_interpreter(given: str | None) -> Path:
    """``--python``: an interpreter, a prefix (or venv) holding one, or a command on PATH."""
    from ..errors import UsageError

    if not given:
        found = shutil.which("python3") or sys.executable
        return Path(found)
    p = Path(given).expanduser()
    if p.is_dir():
        for rel in ("bin/python3", "bin/python", "python.exe", "Scripts/python.exe", "install/bin/python3"):
            if (p / rel).is_file():
                return p / rel
        raise UsageError(f"--python {given}: a directory without bin/python3",
                         hint="give the interpreter itself, or the prefix (or venv) that holds bin/python3")
    if p.is_file():
        return p
    found = shutil.which(given)
    if found:
        return Path(found)
    raise UsageError(f"--python {given}: no such interpreter",
                     hint="give a path such as ~/.pyenv/versions/3.12.1/bin/python3, or a command on PATH")


def collect(interpreter: Path, *, env: Mapping[str, str] | None = None, check_url: str | None = None,
            host: Host | None = None, runner: Callable | None = None,
            timeout: float = 60) -> tuple[dict | None, str, Host]:
    """Run the probe once inside ``interpreter`` (the one subprocess).  (facts, error, host)."""
    host = host or host_facts()
    env = dict(os.environ if env is None else env)
    handshakes = [{"id": "check-url", "url": check_url, "client": "urllib"}] if check_url else []
    request = probing.probe_request(locations=request_locations(env, host), handshakes=handshakes)
    request["compiled_locations"] = True
    facts, err = probing.run_probe(interpreter, request, runner=runner, env=env, timeout=timeout)
    if facts is not None:
        base = (facts.get("python") or {}).get("base_prefix")
        if base:
            lib = Path(base) / "lib"
            writable = os.access(lib if lib.is_dir() else base, os.W_OK)
            host = dataclasses.replace(host, prefix_writable=writable)
    return facts, err, host

