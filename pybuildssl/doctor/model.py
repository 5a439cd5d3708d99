"""doctor's vocabulary: verdicts, severities, every problem and fix id, and the result types.

Nothing here reads or runs anything; every other doctor module builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

OK, WARN, FAIL = "ok", "warn", "fail"
ERROR, WARNING, INFO = "error", "warning", "info"

#: Every problem doctor can report: id -> what it means (docs/doctor.md lists them all).
PROBLEMS: dict[str, str] = {
    "python.starts": "the interpreter did not run, or the probe inside it printed no facts",
    "python.version": "not CPython 3.9 to 3.14: `pybuildssl patch` does not apply to it",
    "ssl.import": "`import ssl` fails: the _ssl extension or the libssl it needs is missing",
    "ssl.config": "ssl.create_default_context() raises, usually because of a broken openssl.cnf",
    "ssl.vendor-config": "the host's openssl.cnf turns errors fatal (config_diagnostics) and holds keys "
                         "only the vendor's OpenSSL knows (RHEL 9, Fedora, Amazon Linux 2023)",
    "ssl.version": "the linked OpenSSL is not the major.minor version _ssl was built against",
    "store.compiled": "OpenSSL's compiled defaults (OPENSSLDIR) hold no usable CA store",
    "store.unloadable": "a CA bundle looks usable but OpenSSL loaded no certificate from it",
    "store.unsafe": "the CA store in use can be written by a user other than root and you",
    "store.host-missing": "no usable CA store at any location the layout table knows",
    "store.host-unsafe": "the system store exists but another user could write it: the fallback refuses it",
    "env.overrides": "SSL_CERT_FILE / SSL_CERT_DIR replace OpenSSL's defaults and turn the pybuildssl fallback off",
    "env.unusable": "a trust variable names a missing or unusable location",
    "env.unsafe": "a trust variable names a location another user could write",
    "patch.absent": "the interpreter has no pybuildssl patch: nothing falls back to the system store",
    "patch.disabled": "PYBUILDSSL_NO_FALLBACK turns the pybuildssl fallback off",
    "patch.stale": "the patch's baked fallback list misses this host's store, or an older patch version",
    "vendor.mismatch": "/etc/os-release names one vendor, the CA store is laid out like another's",
    "url.failed": "--check-url: the handshake with the default context failed",
}

#: Every fix doctor can suggest: id -> what it does.
FIXES: dict[str, str] = {
    "unset-env": "remove a trust variable that points at nothing usable",
    "env-file": "point SSL_CERT_FILE at this host's real CA bundle",
    "env-dir": "point SSL_CERT_DIR at this host's real hashed directory",
    "patch": "patch the interpreter's ssl module so it falls back to the system store",
    "repatch": "patch again, so the baked fallback list is this pybuildssl's",
    "unset-opt-out": "remove PYBUILDSSL_NO_FALLBACK",
    "chmod": "make the store writable by root only",
    "rebuild": "build a Python whose OPENSSLDIR and fallback list suit this host",
    "install-store": "install the system's CA certificates",
    "certifi": "last resort: Mozilla's bundle from certifi (it lacks your organisation's CAs)",
    "unset-openssl-conf": "remove OPENSSL_CONF, which names a configuration OpenSSL cannot load",
    "add-ca": "add the server's CA to the system store",
    "reinstall": "use a Python whose ssl module imports",
    "openssl-conf-wrapper": "OPENSSL_CONF naming a file that includes the host's openssl.cnf with errors not fatal",
}

#: Trust variables that name a CA location: name -> (kind, who reads it).


@dataclass
class Location:
    """One place a CA store may be, as the probe saw it."""

    kind: str
    path: str
    origins: list[str]
    exists: bool | None = None
    usable: bool | None = None      # None: not probed (ssl did not import)
    reason: str = "not probed"      # "usable" or why not
    safe: bool | None = None        # None: not decided (missing, or unusable anyway)
    safety: str = ""                # why not safe
    certs: int | None = None
    hashed: int | None = None
    entries: int | None = None
    mode: str | None = None
    uid: int | None = None

    @property
    def good(self) -> bool:
        """Usable and safe: what the pybuildssl fallback accepts."""
        return bool(self.usable and self.safe)

    def describe(self) -> str:
        if self.usable:
            what = (f"{self.certs} certificate{'s' if self.certs != 1 else ''}" if self.kind == "file"
                    else f"{self.hashed} hashed entr{'ies' if self.hashed != 1 else 'y'}")
            return what + ("" if self.safe is not False else f"; UNSAFE: {self.safety}")
        if self.safe is False:
            return f"unsafe: {self.safety}"
        return self.reason

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "origins": list(self.origins),
                "exists": self.exists, "usable": self.usable, "reason": self.reason,
                "safe": self.safe, "safety": self.safety or None, "certs": self.certs,
                "hashed": self.hashed, "entries": self.entries, "mode": self.mode, "uid": self.uid}


@dataclass
class Problem:
    id: str
    severity: str
    message: str
    subject: str | None = None    # the variable or path it is about

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "message": self.message, "subject": self.subject}


@dataclass
class Fix:
    id: str
    title: str
    commands: list[str]
    note: str = ""

    def to_json(self, rank: int) -> dict[str, Any]:
        return {"rank": rank, "id": self.id, "title": self.title, "commands": list(self.commands),
                "note": self.note or None}


@dataclass
class Diagnosis:
    status: str
    works: bool
    summary: str
    via: str
    interpreter: dict[str, Any]
    openssl: dict[str, Any]
    compiled: dict[str, Any]
    reported: dict[str, Any]
    env: list[dict[str, Any]]
    locations: list[Location]
    host: dict[str, Any]
    patch: dict[str, Any]
    problems: list[Problem]
    fixes: list[Fix]
    check_url: dict[str, Any] | None = None
    seconds: float | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.status == FAIL else 0



@dataclass
class Findings:
    """What rules found: problems in the order found, fixes best first (one given twice is kept once)."""

    problems: list[Problem] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)

    def problem(self, id: str, severity: str, message: str, subject: str | None = None) -> None:
        self.problems.append(Problem(id, severity, message, subject))

    def fix(self, fix: Fix | None) -> None:
        if fix is not None and not any(f.id == fix.id and f.commands == fix.commands for f in self.fixes):
            self.fixes.append(fix)

    def extend(self, other: Findings) -> None:
        self.problems.extend(other.problems)
        for f in other.fixes:
            self.fix(f)
