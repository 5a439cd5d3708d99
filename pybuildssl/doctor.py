"""``pybuildssl doctor``: will HTTPS verification work in this Python, and if not, what fixes it.

Deciding and acting are kept apart:

* :func:`collect` acts: it runs the verifier's probe (``verify/probe.py``,
  stdlib only) once inside the interpreter, with the caller's own
  environment (the variables in effect are part of the diagnosis), and
  gathers the few facts about this host that the diagnosis needs
  (:class:`Host`).
* :func:`diagnose` decides: probe facts + host facts in, a :class:`Diagnosis`
  out.  Pure: unit tests feed it recorded or constructed facts.
* :func:`to_json` and :func:`render_text` present it.  ``--json`` follows
  ``docs/json-schema/doctor-v1.json``, versioned by its top-level ``"schema"``.

How the verdict is reached (the trust contract, docs/trust-contract.md):
OpenSSL loads ``SSL_CERT_FILE`` instead of its compiled CA file and
``SSL_CERT_DIR`` instead of its compiled CA directory, each independently;
a pybuildssl-patched ``ssl`` adds the first usable and safe location of its
baked fallback list when neither variable is set and the compiled defaults
are unusable.  Default-context verification works when the probe's
``create_default_context()`` succeeded and either loaded CA certificates
(a bundle) or has a usable hashed directory to look them up in (OpenSSL
reads those lazily, so they never show in ``cert_store_stats()``).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from . import doctor_config, layouts

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

#: CPython versions `pybuildssl patch` supports.
PATCHABLE = ((3, 9), (3, 14))

#: OpenSSL X509_V_ERR_* codes doctor puts into words.
_UNKNOWN_ISSUER = {2, 18, 19, 20, 21, 24}
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH = {62, 63, 64}


# ---------------------------------------------------------------- inputs ----

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
    from . import recipe, trust

    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64" if layouts.host_os() == "linux" else "arm64"}.get(
        machine, machine)
    return Host(os=layouts.host_os(), vendor=layouts.detect_vendor(), arch=arch,
                recipes=tuple(recipe.available()) if recipes is None else recipes,
                patch_version=trust.PATCH_VERSION)


# --------------------------------------------------------------- outputs ----

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


# ----------------------------------------------------------------- facts ----

def _vtuple(info: Any) -> tuple[int, int, int] | None:
    if not info:
        return None
    info = list(info)
    if info[0] >= 3:  # 3.x: (major, minor, 0, patch, status)
        return (info[0], info[1], info[3] if len(info) > 3 else 0)
    return (info[0], info[1], info[2] if len(info) > 2 else 0)


def _vstr(v: tuple[int, ...] | None) -> str | None:
    return ".".join(map(str, v)) if v else None


def _location(kind: str, path: str, raw: Mapping[str, Any] | None) -> Location:
    loc = Location(kind=kind, path=path, origins=[])
    if not path:
        loc.exists, loc.usable, loc.reason = False, False, "empty value"
        return loc
    if raw is None:
        return loc
    loc.exists = raw.get("exists")
    v, vu = raw.get("verdict"), raw.get("verdict_unsafe_ok")
    if vu is not None:
        loc.usable = vu == "usable"
        loc.reason = vu
    elif not loc.exists:
        loc.reason = "missing"
    if v == "usable":
        loc.safe = True
    elif isinstance(v, str) and v.startswith("unsafe: "):
        loc.safe, loc.safety = False, v[len("unsafe: "):]
    for key in ("certs", "hashed", "entries", "mode", "uid"):
        if key in raw:
            setattr(loc, key, raw[key])
    return loc


class _Locations:
    """The probe's location facts, by (kind, path), tagged with where each came from."""

    def __init__(self, facts: Mapping[str, Any]) -> None:
        self.raw: dict[tuple[str, str], Mapping[str, Any]] = {}
        for item in list(facts.get("compiled_locations") or []) + list(facts.get("locations") or []):
            self.raw.setdefault((item["kind"], item["path"]), item)
        self.seen: dict[tuple[str, str], Location] = {}

    def get(self, kind: str, path: str, origin: str | None = None) -> Location:
        key = (kind, path)
        if key not in self.seen:
            self.seen[key] = _location(kind, path, self.raw.get(key))
        loc = self.seen[key]
        if origin and origin not in loc.origins:
            loc.origins.append(origin)
        return loc

    def either(self, path: str, origin: str) -> Location:
        """A bundle or a hashed directory: whichever the path is."""
        d = self.raw.get(("dir", path))
        if d is not None and d.get("exists") and (d.get("hashed") is not None or d.get("entries") is not None):
            return self.get("dir", path, origin)
        return self.get("file", path, origin)


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
        for path in _split(name, env.get(name)):
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


def _split(name: str, value: str | None) -> list[str]:
    if value is None:
        return []
    if name == "SSL_CERT_DIR":  # OpenSSL reads a list, like PATH
        return [p for p in value.split(os.pathsep) if p] or [""]
    return [value]


# -------------------------------------------------------------- diagnose ----

def diagnose(facts: Mapping[str, Any] | None, host: Host, *, probe_error: str = "",
             interpreter: str = "", check_url: str | None = None) -> Diagnosis:
    """Facts in, diagnosis out.  Pure: reads nothing, runs nothing."""
    problems: list[Problem] = []
    fixes: list[Fix] = []
    table = host.table
    vendor = table.vendors.get(host.vendor)
    host_info = _host_info(host, vendor)
    if facts is None:
        problems.append(Problem("python.starts", ERROR,
                                f"{interpreter or 'the interpreter'} did not run the probe: {probe_error}"))
        fixes.append(Fix("reinstall", "Check that the path is a working CPython 3.9+ interpreter",
                         [f"{shlex.quote(interpreter or 'python3')} -c 'import ssl; print(ssl.OPENSSL_VERSION)'"]))
        return Diagnosis(status=FAIL, works=False, summary="the interpreter did not run", via="nothing",
                         interpreter={"executable": interpreter or None}, openssl={}, compiled={}, reported={},
                         env=[], locations=[], host=host_info, patch={"present": False}, problems=problems,
                         fixes=fixes, check_url=_url_result(None, check_url) if check_url else None)

    py = facts.get("python") or {}
    s = facts.get("ssl") or {}
    env: dict[str, str] = dict(facts.get("env") or {})
    locs = _Locations(facts)
    version = tuple(py.get("version_info") or (0, 0, 0))[:2]
    base_prefix = py.get("base_prefix") or py.get("prefix") or ""
    cpython = py.get("implementation", "cpython") == "cpython"
    patchable = cpython and PATCHABLE[0] <= version <= PATCHABLE[1]
    interp = {"executable": py.get("executable") or interpreter or None, "version": py.get("version"),
              "implementation": py.get("implementation"), "prefix": py.get("prefix"),
              "base_prefix": base_prefix or None, "venv": bool(py.get("prefix") and py.get("prefix") != base_prefix),
              "patchable": patchable}
    if not patchable:
        problems.append(Problem("python.version", WARNING,
                                f"{py.get('implementation', '?')} {py.get('version', '?')}: `pybuildssl patch` "
                                "supports CPython 3.9 to 3.14 only"))

    # -- ssl, OpenSSL --
    linked, built = _vtuple(s.get("OPENSSL_VERSION_INFO")), _vtuple(s.get("built_against"))
    openssl = {"version": s.get("OPENSSL_VERSION"), "linked": _vstr(linked), "built_against": _vstr(built),
               "module": s.get("module_file")}
    if not s.get("ok"):
        problems.append(Problem("ssl.import", ERROR, f"import ssl fails: {s.get('error', '?')}"))
        fixes.append(Fix("reinstall", "Use (or build) a Python whose ssl module imports",
                         [f"pybuildssl build {_recipe(host, host.vendor)}"],
                         "this interpreter was built without OpenSSL, or cannot find the libssl it was linked to"))
        return Diagnosis(status=FAIL, works=False, summary="the ssl module does not import", via="nothing",
                         interpreter=interp, openssl=openssl, compiled={}, reported={}, env=_env_report(env, locs),
                         locations=_shown(locs), host=host_info, patch={"present": False}, problems=problems,
                         fixes=fixes, check_url=_url_result(None, check_url) if check_url else None)
    if linked and built and linked[:2] != built[:2]:
        problems.append(Problem("ssl.version", WARNING,
                                f"_ssl was built against OpenSSL {_vstr(built)} but runs with {_vstr(linked)}"))

    vp = s.get("verify_paths") or {}
    cafile, capath = vp.get("openssl_cafile"), vp.get("openssl_capath")
    compiled = {"openssldir": os.path.dirname(cafile) if cafile else None, "cafile": cafile, "capath": capath,
                "cafile_env": vp.get("openssl_cafile_env"), "capath_env": vp.get("openssl_capath_env")}
    reported = {"cafile": vp.get("cafile"), "capath": vp.get("capath")}
    c_file = locs.get("file", cafile, "compiled") if cafile else None
    c_dir = locs.get("dir", capath, "compiled") if capath else None
    compiled_ok = bool((c_file and c_file.usable) or (c_dir and c_dir.usable))
    compiled["usable"] = compiled_ok

    # -- environment --
    env_locs: dict[str, list[Location]] = {}
    for name, (kind, _who) in LOCATION_VARS.items():
        if name in env:
            env_locs[name] = [locs.either(p, f"env:{name}") if kind == "either" else locs.get(kind, p, f"env:{name}")
                              for p in _split(name, env[name])]
    ossl_env = [n for n in OPENSSL_VARS if n in env]

    # -- the host's store (from the table) and the store vendor --
    for v in table.vendors_for_os(host.os):
        for kind, path in v.locations:
            locs.get(kind, path, f"vendor:{v.name}" if v.name == host.vendor else None)
    fallback_list = table.fallback(host.os) if host.os in layouts.POSIX_OSES else []
    for kind, path in fallback_list:
        locs.get(kind, path, "fallback")
    host_order = list(vendor.locations if vendor else ()) + [x for x in fallback_list
                                                             if not vendor or x not in vendor.locations]
    host_locs = [locs.get(k, p) for k, p in host_order]
    best_file = next((x for x in host_locs if x.kind == "file" and x.good), None)
    best_dir = next((x for x in host_locs if x.kind == "dir" and x.good), None)
    best = best_file or best_dir
    unsafe_store = next((x for x in host_locs if x.usable and x.safe is False), None)
    store_vendor = _store_vendor(host, locs)
    host_info["store"] = best.path if best else None
    host_info["store_kind"] = best.kind if best else None
    host_info["store_vendor"] = store_vendor
    host_info["unsafe_store"] = unsafe_store.path if unsafe_store is not None and best is None else None
    if store_vendor and store_vendor != host.vendor and not (vendor and any(
            locs.get(k, p).usable for k, p in vendor.locations)):
        # the store is another vendor's: say how *that* vendor adds a CA
        said = (f"this host says it is {host.vendor} (/etc/os-release)" if vendor else
                "this host's /etc/os-release names no vendor of the layout table")
        vendor = table.vendors[store_vendor]
        host_info["add_ca"] = _host_info(host, vendor)["add_ca"]
        problems.append(Problem("vendor.mismatch", INFO, f"{said}, but its CA store is laid out like "
                                f"{store_vendor}'s"))

    # -- the patch --
    patched = bool(s.get("patched"))
    resolve = s.get("resolve") if patched else None
    baked = [tuple(x) for x in (s.get("fallback") or [])] if patched else []
    source = (resolve or {}).get("source") or ("env" if ossl_env else "compiled" if compiled_ok else "none")
    fb_loc = None
    if patched and source == "fallback" and resolve:
        # explain=True lists what was checked; the last usable fallback entry is the one loaded
        hit = [c for c in resolve.get("checked") or [] if c[0] == "fallback" and c[3] == "usable"]
        if hit:
            fb_loc = locs.get(hit[-1][1], hit[-1][2], "fallback")
    # What the patch would choose with no trust variable set: the first good baked (or table) location.
    would_list = baked if patched else [tuple(x) for x in fallback_list]
    would = next((locs.get(k, p) for k, p in would_list if locs.get(k, p).good), None)
    opt_out = env.get("PYBUILDSSL_NO_FALLBACK", "")
    opt_out_on = bool(opt_out) and opt_out != "0"
    patch = {"present": patched, "version": s.get("patch_version") if patched else None,
             "source": source if patched else None,
             "cafile": (resolve or {}).get("cafile"), "capath": (resolve or {}).get("capath"),
             "fallback": [list(x) for x in baked] if patched else None,
             "would_use": would.path if would else None}

    # -- what the default context really uses --
    eff_files = env_locs.get("SSL_CERT_FILE") if "SSL_CERT_FILE" in env else ([c_file] if c_file else [])
    eff_dirs = env_locs.get("SSL_CERT_DIR") if "SSL_CERT_DIR" in env else ([c_dir] if c_dir else [])
    ctx = s.get("default_context") or {}
    loaded = int((ctx.get("stats") or {}).get("x509_ca") or 0)
    dir_ok = any(d.usable for d in eff_dirs) or bool(fb_loc and fb_loc.kind == "dir" and fb_loc.usable)
    file_ok = any(f.usable for f in eff_files) or bool(fb_loc and fb_loc.kind == "file" and fb_loc.usable)
    works = bool(ctx.get("ok")) and (loaded > 0 or dir_ok)
    in_use = [x for x in eff_files + eff_dirs if x.usable] + ([fb_loc] if fb_loc and fb_loc.usable else [])
    via = _via(ossl_env, env, eff_files, eff_dirs, fb_loc, loaded, works)

    if not ctx.get("ok") and doctor_config.is_vendor_config_failure(ctx.get("error", ""), facts.get("openssl_config")):
        _vendor_config(problems, fixes, ctx.get("error", "?"), facts["openssl_config"], host, store_vendor)
    elif not ctx.get("ok"):
        err = ctx.get("error", "?")
        problems.append(Problem("ssl.config", ERROR, f"ssl.create_default_context() raises {err}"))
        if "OPENSSL_CONF" in env:
            fixes.append(Fix("unset-openssl-conf", "Remove OPENSSL_CONF, which names a configuration OpenSSL "
                             "cannot load", ["unset OPENSSL_CONF"], f"it is {env['OPENSSL_CONF']}"))
        cnf = os.path.join(compiled["openssldir"], "openssl.cnf") if compiled["openssldir"] else "openssl.cnf"
        fixes.append(Fix("rebuild", "Rebuild with an OPENSSLDIR whose openssl.cnf this OpenSSL can read",
                         [f"pybuildssl build {_recipe(host, store_vendor or host.vendor)}"],
                         f"OpenSSL reads {cnf} at its first use; a vendor file naming modules this "
                         "OpenSSL lacks fails as soon as ssl comes first"))
    elif file_ok and loaded == 0 and not dir_ok:
        bad = next((f for f in eff_files if f.usable), fb_loc)
        problems.append(Problem("store.unloadable", ERROR,
                                f"{bad.path if bad else 'the CA bundle'} holds PEM markers but OpenSSL loaded no "
                                "certificate from it (damaged or not certificates)", bad.path if bad else None))

    # -- trust variables --
    for name, items in env_locs.items():
        kind, who = LOCATION_VARS[name]
        for loc in items:
            if not loc.usable:
                harm = ERROR if (name in OPENSSL_VARS and not works) else WARNING
                what = loc.reason if loc.usable is not None else "not probed"
                if name in OPENSSL_VARS:
                    extra = (f" OpenSSL reads it instead of the compiled CA {'file' if kind == 'file' else 'directory'}"
                             " and silently loads nothing" + ("; it also turns the pybuildssl fallback off"
                                                              if patched else ""))
                else:
                    extra = f" ({who} will fail)"
                problems.append(Problem("env.unusable", harm, f"{name}={env[name]}: {what}.{extra}", name))
            elif loc.safe is False:
                problems.append(Problem("env.unsafe", WARNING,
                                        f"{name}={loc.path} is unsafe ({loc.safety}): another user could add a CA that "
                                        f"{who} would trust", name))
    if ossl_env and works and not compiled_ok:
        one = len(ossl_env) == 1
        problems.append(Problem("env.overrides", INFO,
                                f"verification works because {' and '.join(ossl_env)} {'is' if one else 'are'} "
                                f"set; without {'it' if one else 'them'}, OPENSSLDIR "
                                f"{compiled['openssldir']} has no usable store"))
    for loc in in_use:
        if loc.safe is False and not any(loc in v for v in env_locs.values()):
            problems.append(Problem("store.unsafe", WARNING,
                                    f"{loc.path} is in use and unsafe ({loc.safety}): another user could add a CA that "
                                    "this Python trusts", loc.path))

    # -- why it fails, and the fixes --
    if ctx.get("ok") and not works:
        _store_failure(problems, fixes, host=host, vendor=vendor, env=env, env_locs=env_locs, ossl_env=ossl_env,
                       compiled=compiled, c_file=c_file, c_dir=c_dir, patched=patched, source=source,
                       baked=baked, would=would, best=best, best_file=best_file, best_dir=best_dir,
                       unsafe_store=unsafe_store, base_prefix=base_prefix, patchable=patchable,
                       opt_out_on=opt_out_on, store_vendor=store_vendor, host_locs=host_locs,
                       executable=interp["executable"])
    if patched and works and host.os in layouts.POSIX_OSES:
        stale = []
        if (s.get("patch_version") or 0) < host.patch_version:
            stale.append(f"patch version {s.get('patch_version')} < {host.patch_version}")
        if best and (best.kind, best.path) not in baked and baked:
            stale.append(f"its fallback list lacks {best.path}")
        if stale:
            problems.append(Problem("patch.stale", INFO, "the pybuildssl patch is older than this pybuildssl: "
                                    + "; ".join(stale)))

    # fixes for warnings on a working setup
    for p in problems:
        if p.id == "env.unusable" and p.severity == WARNING and p.subject in OPENSSL_VARS:
            _add_fix(fixes, Fix("unset-env", f"Remove {p.subject}: it points at nothing usable",
                                [f"unset {p.subject}"], "verification works without it"))
        elif p.id == "env.unsafe":
            for loc in env_locs.get(p.subject or "", []):
                if loc.usable and loc.safe is False and _chmod_fix(loc):
                    _add_fix(fixes, _chmod_fix(loc))
        elif p.id == "store.unsafe":
            for loc in in_use:
                if loc.path == p.subject and _chmod_fix(loc):
                    _add_fix(fixes, _chmod_fix(loc))

    url = _url_result(facts, check_url) if check_url else None
    if url and not url["ok"]:
        problems.append(Problem("url.failed", ERROR, f"{check_url}: {url['title']}", check_url))
        for fx in _url_fixes(url, works=works, env=env, vendor=vendor, host=host):
            _add_fix(fixes, fx)

    if not works:
        status = FAIL
        summary = "default-context HTTPS verification will FAIL in this Python"
    elif any(p.severity == ERROR for p in problems):
        status, summary = FAIL, "default-context verification works, but " + next(
            p.message for p in problems if p.severity == ERROR)
    elif any(p.severity == WARNING for p in problems):
        status, summary = WARN, "default-context HTTPS verification works, with warnings"
    else:
        status, summary = OK, "default-context HTTPS verification works"
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    problems.sort(key=lambda p: order[p.severity])
    return Diagnosis(status=status, works=works, summary=summary, via=via, interpreter=interp, openssl=openssl,
                     compiled=compiled, reported=reported, env=_env_report(env, locs), locations=_shown(locs),
                     host=host_info, patch=patch, problems=problems, fixes=fixes, check_url=url)


def _vendor_config(problems: list[Problem], fixes: list[Fix], err: str, cfg: Mapping[str, Any], host: Host,
                   store_vendor: str | None) -> None:
    """ssl fails on the host's openssl.cnf (config_diagnostics on, vendor-only keys): doctor_config."""
    message, title, commands, note = doctor_config.explain(err, cfg)
    problems.append(Problem("ssl.vendor-config", ERROR, message, cfg.get("path")))
    fixes.append(Fix("openssl-conf-wrapper", title, commands, note))
    fixes.append(Fix("rebuild", "Rebuild with this pybuildssl: its OpenSSL never fails on the host's openssl.cnf",
                     [f"pybuildssl build {_recipe(host, store_vendor or host.vendor)}"],
                     "any recipe: the OpenSSL patch openssl-host-config-tolerant.patch, not the OPENSSLDIR, "
                     "is what helps (docs/vendor-config.md)"))


def _add_fix(fixes: list[Fix], fix: Fix) -> None:
    if not any(f.id == fix.id and f.commands == fix.commands for f in fixes):
        fixes.append(fix)


def _chmod_fix(loc: Location) -> Fix | None:
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


def _store_failure(problems: list[Problem], fixes: list[Fix], *, host: Host, vendor, env, env_locs, ossl_env,
                   compiled, c_file, c_dir, patched, source, baked, would, best, best_file, best_dir,
                   unsafe_store, base_prefix, patchable, opt_out_on, store_vendor, host_locs,
                   executable) -> None:
    """Why the default context has no usable store, and the ranked fixes."""
    odir = compiled["openssldir"] or "?"
    c_desc = ", ".join(f"{x.kind == 'file' and 'cafile' or 'capath'} {x.path}: {x.describe()}"
                       for x in (c_file, c_dir) if x)
    prefix = shlex.quote(base_prefix) if base_prefix else "PREFIX"
    export = _export_fix(best_file, best_dir)
    rebuild = Fix("rebuild", "Rebuild this Python for this host (OPENSSLDIR from the layout table, the fallback "
                  "list baked in)", [f"pybuildssl build {_recipe(host, store_vendor or host.vendor)}"])
    patch_fix = Fix("patch", "Patch this Python so that it falls back to the system store (the pybuildssl "
                    "trust contract; `--revert` undoes it)", [f"pybuildssl patch {prefix}"],
                    _patch_note(host, base_prefix))

    if not compiled["usable"] and not ossl_env:
        problems.append(Problem("store.compiled", ERROR, f"OPENSSLDIR {odir} holds no usable CA store ({c_desc})"))
    elif not compiled["usable"]:
        problems.append(Problem("store.compiled", INFO, f"OPENSSLDIR {odir} holds no usable CA store either "
                                f"({c_desc})"))
    if best is None and unsafe_store is None:
        names = ", ".join(x.path for x in host_locs[:4])
        problems.append(Problem("store.host-missing", ERROR,
                                f"no usable CA store on this host: none of the layout table's locations "
                                f"({names}, ...) holds a certificate"))
    elif best is None and unsafe_store is not None:
        problems.append(Problem("store.host-unsafe", ERROR,
                                f"{unsafe_store.path} holds the system's CAs but is unsafe ({unsafe_store.safety}): "
                                "the pybuildssl fallback refuses it", unsafe_store.path))

    def unset_would_work() -> bool:
        return bool(compiled["usable"]) or bool((patched and would is not None and not opt_out_on))

    if ossl_env:
        # Explicit configuration wins: OpenSSL reads the variables, the fallback stays off.
        if unset_would_work():
            how = "OpenSSL's compiled defaults" if compiled["usable"] else f"the pybuildssl fallback ({would.path})"
            fixes.append(Fix("unset-env", f"Remove {' and '.join(ossl_env)}: then {how} "
                             f"{'provide' if compiled['usable'] else 'provides'} the store",
                             [f"unset {n}" for n in ossl_env]))
        broken = [n for n in ossl_env if not all(x.usable for x in env_locs.get(n, []))]
        same = (_export_fix(None, best_dir) if broken == ["SSL_CERT_DIR"] and best_dir is not None
                else _export_fix(best_file, best_dir))
        if same is not None:
            fixes.append(same)
        if not patched and not compiled["usable"] and patchable and would is not None:
            fixes.append(Fix("patch", "Patch this Python and drop the variable, so that no configuration is needed",
                             [f"unset {n}" for n in ossl_env] + [f"pybuildssl patch {prefix}"],
                             _patch_note(host, base_prefix)))
    elif patched:
        if source == "disabled" or opt_out_on:
            problems.append(Problem("patch.disabled", ERROR, "PYBUILDSSL_NO_FALLBACK is set: the patched ssl does "
                                    "not fall back" + (f" to {would.path}, which is usable" if would else "")))
            fixes.append(Fix("unset-opt-out", "Remove PYBUILDSSL_NO_FALLBACK so the patch can fall back",
                             ["unset PYBUILDSSL_NO_FALLBACK"]))
        elif best is not None and (best.kind, best.path) not in baked:
            problems.append(Problem("patch.stale", ERROR, f"the patch's fallback list lacks {best.path}, where "
                                    "this host keeps its CAs"))
            if patchable:
                fixes.append(Fix("repatch", "Patch again with this pybuildssl (its fallback list knows this host)",
                                 [f"pybuildssl patch {prefix}"], _patch_note(host, base_prefix)))
        if unsafe_store is not None and best is None and _chmod_fix(unsafe_store):
            fixes.append(_chmod_fix(unsafe_store))
        if export is not None:
            fixes.append(export)
    else:
        problems.append(Problem("patch.absent", ERROR if would is not None else INFO,
                                "this Python is not patched: nothing falls back to "
                                + (would.path if would is not None else "the system store")))
        if unsafe_store is not None and best is None and _chmod_fix(unsafe_store):
            fixes.append(_chmod_fix(unsafe_store))
        if patchable and (would is not None or unsafe_store is not None):
            fixes.append(patch_fix)
        if export is not None:
            fixes.append(export)
    if best is not None and not ossl_env:  # with the variables set, a rebuilt Python reads them too
        fixes.append(rebuild)
    if best is None and unsafe_store is None:
        cmd = str((vendor.admin_add if vendor else {}).get("command") or "update-ca-certificates")
        fixes.append(Fix("install-store", "Install your distribution's ca-certificates package, then "
                         "regenerate the store", [cmd], "then run doctor again"))
        fixes.append(Fix("certifi", "Last resort, if the system store cannot be installed: Mozilla's bundle from "
                         "certifi", [f"export SSL_CERT_FILE=\"$({shlex.quote(executable or 'python3')} -m certifi)\""],
                         "needs certifi installed; it does not hold your organisation's CAs and is not "
                         "updated by the system"))


def _export_fix(best_file: Location | None, best_dir: Location | None) -> Fix | None:
    if best_file is not None:
        return Fix("env-file", "Point OpenSSL at this host's CA bundle (this shell; add it to your profile to keep "
                   "it)", [f"export SSL_CERT_FILE={shlex.quote(best_file.path)}"],
                   "explicit configuration: the pybuildssl fallback stays off while it is set")
    if best_dir is not None:
        return Fix("env-dir", "Point OpenSSL at this host's hashed CA directory (this shell; add it to your "
                   "profile to keep it)", [f"export SSL_CERT_DIR={shlex.quote(best_dir.path)}"],
                   "explicit configuration: the pybuildssl fallback stays off while it is set")
    return None


def _patch_note(host: Host, base_prefix: str) -> str:
    note = "patches every venv made from this installation too"
    if host.prefix_writable is False:
        note += f"; {base_prefix} is not writable by you: run it as its owner"
    return note


def _recipe(host: Host, vendor: str | None) -> str:
    for name in (f"{host.os}-{host.arch}-{vendor}", f"{host.os}-{host.arch}-generic", f"{host.os}-{host.arch}"):
        if name in host.recipes:
            return name
    return f"{host.os}-{host.arch}-{vendor or 'generic'}"


def _store_vendor(host: Host, locs: _Locations) -> str | None:
    """The vendor whose layout best matches the usable locations (table order breaks ties)."""
    best, best_score = None, (0.0, 0)
    for v in host.table.vendors_for_os(host.os):
        if not v.locations:
            continue
        n = sum(1 for k, p in v.locations if locs.get(k, p).usable)
        score = (n / len(v.locations), n)
        if n and score > best_score:
            best, best_score = v.name, score
    return best


def _host_info(host: Host, vendor) -> dict[str, Any]:
    info: dict[str, Any] = {"os": host.os, "vendor": host.vendor, "arch": host.arch,
                            "description": vendor.description if vendor else "not in the layout table",
                            "cafiles": list(vendor.cafiles) if vendor else [],
                            "capaths": list(vendor.capaths) if vendor else [],
                            "openssldir": vendor.openssldir if vendor else None,
                            "add_ca": None, "store": None, "store_kind": None, "store_vendor": None,
                            "unsafe_store": None}
    if vendor is not None and vendor.admin_add:
        a = vendor.admin_add
        info["add_ca"] = {"dir": a.get("dir") or None, "suffix": a.get("suffix") or None,
                          "command": a.get("command") or None}
    return info


def _via(ossl_env, env, eff_files, eff_dirs, fb_loc, loaded, works) -> str:
    if not works:
        return "nothing usable"
    if fb_loc is not None and fb_loc.usable:
        return f"the pybuildssl fallback: {fb_loc.path} ({fb_loc.describe()})"
    parts = []
    for x in eff_files + eff_dirs:
        if x.usable:
            name = next((n for n in OPENSSL_VARS if n in env and x.path in _split(n, env[n])), None)
            parts.append(f"{name}={x.path}" if name else f"compiled {'cafile' if x.kind == 'file' else 'capath'} "
                         f"{x.path}")
    return ", ".join(parts) + (f" ({loaded} CA certificates loaded)" if loaded else "")


def _env_report(env: Mapping[str, str], locs: _Locations) -> list[dict[str, Any]]:
    out = []
    for name, value in env.items():
        item: dict[str, Any] = {"name": name, "value": value}
        if name in LOCATION_VARS:
            kind, who = LOCATION_VARS[name]
            paths = _split(name, value)
            found = [locs.either(p, f"env:{name}") if kind == "either" else locs.get(kind, p, f"env:{name}")
                     for p in paths]
            item.update(read_by=who, usable=all(x.usable for x in found) if found else False,
                        safe=None if any(x.safe is None for x in found) else all(x.safe for x in found),
                        status=found[0].describe() if len(found) == 1 else
                        "; ".join(f"{x.path or '(empty)'}: {x.describe()}" for x in found))
        else:
            item.update(read_by=OTHER_VARS.get(name, ""), usable=None, safe=None, status="")
        out.append(item)
    return out


def _shown(locs: _Locations) -> list[Location]:
    """Every location looked at, compiled and environment first."""
    def rank(loc: Location) -> int:
        o = loc.origins
        return 0 if "compiled" in o else 1 if any(x.startswith("env:") for x in o) else \
            2 if any(x.startswith("vendor:") for x in o) else 3
    return sorted(locs.seen.values(), key=rank)


# ------------------------------------------------------------ check-url ----

def _url_result(facts: Mapping[str, Any] | None, url: str | None) -> dict[str, Any]:
    h = next((x for x in (facts or {}).get("handshakes", []) if x.get("id") == "check-url"), None)
    return explain_handshake(h, url or "")


def explain_handshake(h: Mapping[str, Any] | None, url: str = "") -> dict[str, Any]:
    """A probe handshake result in plain words: {"ok", "outcome", "title", "explanation", ...}."""
    out: dict[str, Any] = {"url": (h or {}).get("url", url), "ok": False, "outcome": "other", "title": "",
                           "explanation": "", "error": None, "verify_code": None, "verify_message": None,
                           "status": None}
    if h is None:
        out.update(title="not tried", explanation="the interpreter could not run the handshake")
        return out
    out.update(error=h.get("error"), verify_code=h.get("verify_code"), verify_message=h.get("verify_message"),
               status=h.get("status"))
    err = h.get("error") or ""
    if h.get("ok"):
        out.update(ok=True, outcome="verified", title="verified",
                   explanation=f"the certificate chains to a trusted CA and names the host (HTTP {h.get('status')})")
        return out
    if err.startswith("HTTPError"):
        m = re.search(r"HTTP Error (\d+)", err)
        out.update(ok=True, outcome="verified", status=int(m.group(1)) if m else None, title="verified",
                   explanation=f"TLS verification succeeded; the server then answered {err.split(': ', 1)[-1]}")
        return out
    kind, code = h.get("kind"), h.get("verify_code")
    msg = (h.get("verify_message") or err).strip()
    if kind == "cert-verify":
        if code in _NAME_MISMATCH or "mismatch" in msg.lower():
            out.update(outcome="hostname-mismatch", title="hostname mismatch",
                       explanation=f"the certificate is valid, but not for this host name ({msg}): check the "
                       "URL, or whether a proxy or captive portal answers instead")
        elif code == _EXPIRED:
            out.update(outcome="expired", title="certificate expired",
                       explanation="the server's certificate (or one in its chain) has expired; if it should "
                       "not have, check this machine's clock (`date -u`)")
        elif code == _NOT_YET_VALID:
            out.update(outcome="not-yet-valid", title="certificate not yet valid",
                       explanation="the certificate's validity starts in the future: this machine's clock is "
                       "probably wrong (`date -u`)")
        elif code in _UNKNOWN_ISSUER:
            self_signed = code in (18, 19)
            out.update(outcome="unknown-issuer", title="unknown issuer" + (" (self-signed)" if self_signed else ""),
                       explanation="the certificate was issued by a CA this Python does not trust"
                       + (": the chain ends in a self-signed certificate that is not in the store"
                          if self_signed else "") + f" ({msg})")
        else:
            out.update(outcome="certificate", title="certificate refused", explanation=msg)
        return out
    if kind == "network":
        low = err.lower()
        if "name or service not known" in low or "gaierror" in low or "nodename nor servname" in low \
                or "name resolution" in low or "no address associated" in low:
            why = "the host name does not resolve (DNS)"
        elif "refused" in low:
            why = "the connection was refused (nothing listens on that port)"
        elif "timed out" in low or "timeout" in low:
            why = "the connection timed out (a firewall, a proxy needed, or the host is down)"
        elif "unreachable" in low:
            why = "the network is unreachable"
        else:
            why = "the connection failed"
        out.update(outcome="no-network", title="no network", explanation=f"{why}; no TLS was attempted ({err})")
        return out
    if kind == "ssl":
        if "WRONG_VERSION_NUMBER" in err or "record layer failure" in err.lower():
            why = "the server did not answer with TLS (plain HTTP on this port, or an intercepting proxy)"
        elif "PROTOCOL_VERSION" in err or "UNSUPPORTED_PROTOCOL" in err:
            why = "client and server share no TLS version"
        else:
            why = "the TLS handshake failed for another reason than the certificate"
        out.update(outcome="tls", title="TLS handshake failed", explanation=f"{why} ({err})")
        return out
    out.update(outcome="other", title="request failed", explanation=err)
    return out


def _url_fixes(url: Mapping[str, Any], *, works: bool, env, vendor, host: Host) -> list[Fix]:
    if url["outcome"] != "unknown-issuer" or not works:
        return []  # a store failure has its fixes already; the others are the server's or the network's
    out = []
    for n in OPENSSL_VARS:
        if n in env:
            out.append(Fix("unset-env", f"{n} replaces the system store and lacks this server's CA: remove it",
                           [f"unset {n}"]))
    add = (vendor.admin_add if vendor else {}) or {}
    if add.get("dir"):
        dest = f"{add['dir']}/my-ca{add.get('suffix') or '.pem'}"
        out.append(Fix("add-ca", "If the server's CA is your organisation's (a private index, a TLS-inspecting "
                       "proxy), add it to the system store", [f"cp CA.pem {dest}", str(add.get("command"))],
                       "CA.pem: the issuing CA certificate, from your administrators"))
    elif add.get("command"):
        out.append(Fix("add-ca", "If the server's CA is your organisation's, add it to the system store",
                       [str(add["command"])]))
    return out


# ---------------------------------------------------------------- output ----

def to_json(d: Diagnosis) -> dict[str, Any]:
    from . import __version__

    return {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "pybuildssl", "version": __version__},
        "seconds": None if d.seconds is None else round(d.seconds, 3),
        "verdict": {"status": d.status, "works": d.works, "summary": d.summary, "via": d.via},
        "interpreter": d.interpreter,
        "openssl": d.openssl,
        "compiled": d.compiled,
        "reported": d.reported,
        "env": d.env,
        "locations": [x.to_json() for x in d.locations],
        "host": d.host,
        "patch": d.patch,
        "problems": [p.to_json() for p in d.problems],
        "fixes": [f.to_json(i) for i, f in enumerate(d.fixes, 1)],
        "check_url": d.check_url,
    }


def render_text(d: Diagnosis, *, color: bool = False, verbose: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    mark = {OK: paint("✓", "32"), WARN: paint("!", "33"), FAIL: paint("✗", "31")}
    sev = {ERROR: paint("✗", "31"), WARNING: paint("!", "33"), INFO: paint("·", "2")}
    lines: list[str] = []
    w = lines.append
    i, o, c = d.interpreter, d.openssl, d.compiled
    w(f"{mark[d.status]} {paint(d.summary, '1')}")
    w(f"  trust comes from: {d.via}")
    w("")
    w("Interpreter")
    if i.get("version"):
        venv = f" (venv of {i['base_prefix']})" if i.get("venv") else ""
        w(f"  Python     {i.get('implementation')} {i['version']}  {i.get('executable')}{venv}")
    else:
        w(f"  Python     {i.get('executable')}")
    if o.get("version"):
        built = o.get("built_against")
        w(f"  OpenSSL    {o['version']}" + (f"  (built against {built})" if built else ""))
    if d.patch.get("present"):
        w(f"  ssl patch  pybuildssl v{d.patch.get('version')}: source {d.patch.get('source')}"
          + (f", {d.patch.get('cafile') or d.patch.get('capath')}" if d.patch.get("source") == "fallback" else ""))
    elif o.get("version"):
        would = d.patch.get("would_use")
        w("  ssl patch  none" + (f" (it would fall back to {would})" if would else ""))
    if c:
        w("")
        w(f"OpenSSL's compiled defaults (OPENSSLDIR {c.get('openssldir')})")
        by = {(x.kind, x.path): x for x in d.locations}
        for key, kind in (("cafile", "file"), ("capath", "dir")):
            loc = by.get((kind, c.get(key)))
            w(f"  {key:<8} {c.get(key)}  {loc.describe() if loc else ''}")
        if d.reported:
            w(f"  get_default_verify_paths(): cafile={d.reported.get('cafile')} capath={d.reported.get('capath')}")
    if d.env:
        w("")
        w("Environment")
        for e in d.env:
            status = f"  ({e['status']})" if e.get("status") else ""
            w(f"  {e['name']}={e['value']}{status}")
    h = d.host
    w("")
    w(f"This host: {h['vendor']} ({h['description']})")
    examined = any(x.usable is not None for x in d.locations)
    if not examined:
        w("  CA store   not examined (the probe did not run inside the interpreter)")
    elif h.get("store"):
        sv = h.get("store_vendor")
        w(f"  CA store   {h['store']}" + (f"  (laid out like {sv})" if sv and sv != h["vendor"] else ""))
    elif h.get("unsafe_store"):
        w(f"  CA store   {h['unsafe_store']}  (UNSAFE: refused by the pybuildssl fallback)")
    else:
        w("  CA store   none usable found")
    a = h.get("add_ca") or {}
    if a.get("command"):
        where = f"put it in {a['dir']}/NAME{a.get('suffix') or ''}, then " if a.get("dir") else ""
        w(f"  add a CA   {where}{a['command']}")
    shown = [x for x in d.locations if verbose or x.exists or x.origins and
             any(not o.startswith("fallback") for o in x.origins)]
    if shown:
        w("")
        w("Locations" + ("" if verbose else " (existing, or named; -v for all)"))
        for x in shown:
            ok = paint("✓", "32") if x.good else (paint("!", "33") if x.usable else paint("✗", "31"))
            w(f"  {ok} {x.kind:<4} {x.path}  {x.describe()}  [{', '.join(x.origins) or 'table'}]")
    if d.problems:
        w("")
        w("Problems")
        for p in d.problems:
            w(f"  {sev[p.severity]} {p.id}: {p.message}")
    if d.check_url:
        u = d.check_url
        w("")
        w(f"Check {u['url']}: {mark[OK] if u['ok'] else mark[FAIL]} {u['title']}")
        w(f"  {u['explanation']}")
    if d.fixes:
        w("")
        w("Fixes, best first")
        for n, f in enumerate(d.fixes, 1):
            w(f"  {n}. {f.title}")
            for cmd in f.commands:
                w(f"       {paint(cmd, '1')}")
            if f.note:
                w(f"     ({f.note})")
    if d.seconds is not None:
        w("")
        w(paint(f"doctor took {d.seconds:.2f}s", "2"))
    return "\n".join(lines)


# ---------------------------------------------------------------- acting ----

def find_interpreter(given: str | None) -> Path:
    """``--python``: an interpreter, a prefix (or venv) holding one, or a command on PATH."""
    from .errors import UsageError

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
    from .verify import checks

    host = host or host_facts()
    env = dict(os.environ if env is None else env)
    request = checks.probe_request(None, locations=request_locations(env, host))  # type: ignore[arg-type]
    request["compiled_locations"] = True
    if check_url:
        request["handshakes"] = [{"id": "check-url", "url": check_url, "client": "urllib"}]
    facts, err = checks.run_probe(interpreter, request, runner=runner, env=env, timeout=timeout)
    if facts is not None:
        base = (facts.get("python") or {}).get("base_prefix")
        if base:
            lib = Path(base) / "lib"
            writable = os.access(lib if lib.is_dir() else base, os.W_OK)
            host = dataclasses.replace(host, prefix_writable=writable)
    return facts, err, host


def run(python: str | None = None, *, check_url: str | None = None, env: Mapping[str, str] | None = None,
        runner: Callable | None = None) -> Diagnosis:
    """Find the interpreter, probe it, diagnose: what ``pybuildssl doctor`` does."""
    start = time.monotonic()
    exe = find_interpreter(python)
    facts, err, host = collect(exe, env=env, check_url=check_url, runner=runner)
    d = diagnose(facts, host, probe_error=err, interpreter=str(exe), check_url=check_url)
    d.seconds = time.monotonic() - start
    return d
