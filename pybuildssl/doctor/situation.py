"""What the facts mean: which store the default context uses, whether it works, what the host has.

:func:`read` turns the probe's facts and the host's into a :class:`Situation`,
the one input of every rule.  Pure: reads nothing, runs nothing.

How it is decided (the trust contract, docs/trust-contract.md): OpenSSL
loads ``SSL_CERT_FILE`` instead of its compiled CA file and ``SSL_CERT_DIR``
instead of its compiled CA directory, each independently; a
pybuildssl-patched ``ssl`` adds the first usable and safe location of its
baked fallback list when neither variable is set and the compiled defaults
are unusable.  Default-context verification works when the probe's
``create_default_context()`` succeeded and either loaded CA certificates (a
bundle) or has a usable hashed directory to look them up in (OpenSSL reads
those lazily, so they never show in ``cert_store_stats()``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import layouts
from .facts import LOCATION_VARS, OPENSSL_VARS, Host, split_paths
from .handshake import url_result
from .locations import Locations
from .model import Location

#: CPython versions `pybuildssl patch` supports.
PATCHABLE = ((3, 9), (3, 14))


@dataclass
class Situation:
    """Everything the rules decide on, filled by :func:`read` one section at a time."""

    host: Host
    locs: Locations
    env: dict[str, str]
    ssl: Mapping[str, Any]
    vendor: Any                 # the layout table's entry for the host's vendor; None: not in the table
    admin_vendor: Any           # whose way of adding a CA applies (the store's vendor on a mismatch)
    host_info: dict[str, Any]
    check_url: str | None
    python: Mapping[str, Any] = field(default_factory=dict)            # the probe's "python" facts
    openssl_config: Mapping[str, Any] | None = None                   # the probe's "openssl_config" facts
    # the interpreter and its OpenSSL
    interp: dict[str, Any] = field(default_factory=dict)
    base_prefix: str = ""
    patchable: bool = False
    openssl: dict[str, Any] = field(default_factory=dict)
    linked: tuple[int, int, int] | None = None
    built: tuple[int, int, int] | None = None
    # OpenSSL's compiled defaults
    compiled: dict[str, Any] = field(default_factory=dict)
    reported: dict[str, Any] = field(default_factory=dict)
    c_file: Location | None = None
    c_dir: Location | None = None
    # trust variables: name -> the locations it names; the OpenSSL ones that are set
    env_locs: dict[str, list[Location]] = field(default_factory=dict)
    ossl_env: list[str] = field(default_factory=list)
    # the host's store, from the layout table
    host_locs: list[Location] = field(default_factory=list)
    best_file: Location | None = None
    best_dir: Location | None = None
    unsafe_store: Location | None = None   # the first usable but unsafe one (there may be a good one too)
    store_vendor: str | None = None
    mismatch: str = ""          # why the store's vendor differs from os-release's ("" if it does not)
    # the patch
    patched: bool = False
    baked: list[tuple] = field(default_factory=list)
    source: str = "none"
    fb_loc: Location | None = None
    would: Location | None = None
    opt_out_on: bool = False
    patch: dict[str, Any] = field(default_factory=lambda: {"present": False})
    # the default context
    ctx: Mapping[str, Any] = field(default_factory=dict)
    loaded: int = 0
    eff_files: list[Location] = field(default_factory=list)
    eff_dirs: list[Location] = field(default_factory=list)
    file_ok: bool = False
    dir_ok: bool = False
    works: bool = False
    in_use: list[Location] = field(default_factory=list)
    via: str = "nothing usable"
    url: dict[str, Any] | None = None

    @property
    def ssl_ok(self) -> bool:
        return bool(self.ssl.get("ok"))

    @property
    def compiled_ok(self) -> bool:
        return bool(self.compiled.get("usable"))

    @property
    def best(self) -> Location | None:
        """The host's good store: a bundle before a directory."""
        return self.best_file or self.best_dir

    @property
    def no_store(self) -> bool:
        """The default context was made but has nothing to verify with."""
        return bool(self.ctx.get("ok")) and not self.works


def read(facts: Mapping[str, Any], host: Host, *, interpreter: str = "",
         check_url: str | None = None) -> Situation:
    """The probe's facts and the host's, read.  With ``ssl`` not importing, only the interpreter part."""
    vendor = host.table.vendors.get(host.vendor)
    s = Situation(host=host, locs=Locations(facts), env=dict(facts.get("env") or {}), ssl=facts.get("ssl") or {},
                  vendor=vendor, admin_vendor=vendor, host_info=host_info(host, vendor), check_url=check_url,
                  python=facts.get("python") or {}, openssl_config=facts.get("openssl_config"))
    _read_interpreter(s, s.python, interpreter)
    if not s.ssl_ok:
        return s
    _read_compiled(s)
    _read_env(s)
    _read_host_store(s)
    _read_patch(s)
    _read_context(s)
    s.url = url_result(facts, check_url) if check_url else None
    return s


def _read_interpreter(s: Situation, py: Mapping[str, Any], interpreter: str) -> None:
    version = tuple(py.get("version_info") or (0, 0, 0))[:2]
    s.base_prefix = py.get("base_prefix") or py.get("prefix") or ""
    cpython = py.get("implementation", "cpython") == "cpython"
    s.patchable = cpython and PATCHABLE[0] <= version <= PATCHABLE[1]
    s.interp = {"executable": py.get("executable") or interpreter or None, "version": py.get("version"),
                "implementation": py.get("implementation"), "prefix": py.get("prefix"),
                "base_prefix": s.base_prefix or None,
                "venv": bool(py.get("prefix") and py.get("prefix") != s.base_prefix), "patchable": s.patchable}
    s.linked, s.built = _vtuple(s.ssl.get("OPENSSL_VERSION_INFO")), _vtuple(s.ssl.get("built_against"))
    s.openssl = {"version": s.ssl.get("OPENSSL_VERSION"), "linked": vstr(s.linked), "built_against": vstr(s.built),
                 "module": s.ssl.get("module_file")}


def _read_compiled(s: Situation) -> None:
    vp = s.ssl.get("verify_paths") or {}
    cafile, capath = vp.get("openssl_cafile"), vp.get("openssl_capath")
    s.compiled = {"openssldir": os.path.dirname(cafile) if cafile else None, "cafile": cafile, "capath": capath,
                  "cafile_env": vp.get("openssl_cafile_env"), "capath_env": vp.get("openssl_capath_env")}
    s.reported = {"cafile": vp.get("cafile"), "capath": vp.get("capath")}
    s.c_file = s.locs.get("file", cafile, "compiled") if cafile else None
    s.c_dir = s.locs.get("dir", capath, "compiled") if capath else None
    s.compiled["usable"] = bool((s.c_file and s.c_file.usable) or (s.c_dir and s.c_dir.usable))


def _read_env(s: Situation) -> None:
    for name in LOCATION_VARS:
        if name in s.env:
            s.env_locs[name] = s.locs.named_by(name, s.env[name])
    s.ossl_env = [n for n in OPENSSL_VARS if n in s.env]


def _read_host_store(s: Situation) -> None:
    """The host's store (from the table) and the vendor whose layout it has."""
    host, locs, table, vendor = s.host, s.locs, s.host.table, s.vendor
    for v in table.vendors_for_os(host.os):
        for kind, path in v.locations:
            locs.get(kind, path, f"vendor:{v.name}" if v.name == host.vendor else None)
    for kind, path in _fallback_list(host):
        locs.get(kind, path, "fallback")
    host_order = list(vendor.locations if vendor else ()) + [x for x in _fallback_list(host)
                                                             if not vendor or x not in vendor.locations]
    s.host_locs = [locs.get(k, p) for k, p in host_order]
    s.best_file = next((x for x in s.host_locs if x.kind == "file" and x.good), None)
    s.best_dir = next((x for x in s.host_locs if x.kind == "dir" and x.good), None)
    s.unsafe_store = next((x for x in s.host_locs if x.usable and x.safe is False), None)
    s.store_vendor = _store_vendor(host, locs)
    best, unsafe = s.best, s.unsafe_store
    s.host_info.update(store=best.path if best else None, store_kind=best.kind if best else None,
                       store_vendor=s.store_vendor, unsafe_store=unsafe.path if unsafe and best is None else None)
    if s.store_vendor and s.store_vendor != host.vendor and not (vendor and any(
            locs.get(k, p).usable for k, p in vendor.locations)):
        # the store is another vendor's: say how *that* vendor adds a CA
        said = (f"this host says it is {host.vendor} (/etc/os-release)" if vendor else
                "this host's /etc/os-release names no vendor of the layout table")
        s.admin_vendor = table.vendors[s.store_vendor]
        s.host_info["add_ca"] = host_info(host, s.admin_vendor)["add_ca"]
        s.mismatch = f"{said}, but its CA store is laid out like {s.store_vendor}'s"


def _read_patch(s: Situation) -> None:
    ssl = s.ssl
    s.patched = patched = bool(ssl.get("patched"))
    resolve = (ssl.get("resolve") if patched else None) or {}
    s.baked = [tuple(x) for x in (ssl.get("fallback") or [])] if patched else []
    s.source = resolve.get("source") or ("env" if s.ossl_env else "compiled" if s.compiled_ok else "none")
    if patched and s.source == "fallback" and resolve:
        # explain=True lists what was checked; the last usable fallback entry is the one loaded
        hit = [c for c in resolve.get("checked") or [] if c[0] == "fallback" and c[3] == "usable"]
        if hit:
            s.fb_loc = s.locs.get(hit[-1][1], hit[-1][2], "fallback")
    # What the patch would choose with no trust variable set: the first good baked (or table) location.
    would_list = s.baked if patched else [tuple(x) for x in _fallback_list(s.host)]
    s.would = next((s.locs.get(k, p) for k, p in would_list if s.locs.get(k, p).good), None)
    opt_out = s.env.get("PYBUILDSSL_NO_FALLBACK", "")
    s.opt_out_on = bool(opt_out) and opt_out != "0"
    s.patch = {"present": patched, "version": ssl.get("patch_version") if patched else None,
               "source": s.source if patched else None, "cafile": resolve.get("cafile"),
               "capath": resolve.get("capath"), "fallback": [list(x) for x in s.baked] if patched else None,
               "would_use": s.would.path if s.would else None}


def _read_context(s: Situation) -> None:
    """What the default context really uses, and whether it can verify."""
    env, fb = s.env, s.fb_loc
    s.eff_files = s.env_locs["SSL_CERT_FILE"] if "SSL_CERT_FILE" in env else ([s.c_file] if s.c_file else [])
    s.eff_dirs = s.env_locs["SSL_CERT_DIR"] if "SSL_CERT_DIR" in env else ([s.c_dir] if s.c_dir else [])
    s.ctx = s.ssl.get("default_context") or {}
    s.loaded = int((s.ctx.get("stats") or {}).get("x509_ca") or 0)
    s.dir_ok = any(d.usable for d in s.eff_dirs) or bool(fb and fb.kind == "dir" and fb.usable)
    s.file_ok = any(f.usable for f in s.eff_files) or bool(fb and fb.kind == "file" and fb.usable)
    s.works = bool(s.ctx.get("ok")) and (s.loaded > 0 or s.dir_ok)
    s.in_use = [x for x in s.eff_files + s.eff_dirs if x.usable] + ([fb] if fb and fb.usable else [])
    s.via = _via(s)


def _via(s: Situation) -> str:
    if not s.works:
        return "nothing usable"
    if s.fb_loc is not None and s.fb_loc.usable:
        return f"the pybuildssl fallback: {s.fb_loc.path} ({s.fb_loc.describe()})"
    parts = []
    for x in s.eff_files + s.eff_dirs:
        if x.usable:
            name = next((n for n in OPENSSL_VARS if n in s.env and x.path in split_paths(n, s.env[n])), None)
            parts.append(f"{name}={x.path}" if name else f"compiled {'cafile' if x.kind == 'file' else 'capath'} "
                         f"{x.path}")
    return ", ".join(parts) + (f" ({s.loaded} CA certificates loaded)" if s.loaded else "")


def _fallback_list(host: Host) -> list[tuple[str, str]]:
    return list(host.table.fallback(host.os)) if host.os in layouts.POSIX_OSES else []


def _store_vendor(host: Host, locs: Locations) -> str | None:
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


def host_info(host: Host, vendor: Any) -> dict[str, Any]:
    """The ``host`` part of the diagnosis, before its store is known."""
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


def _vtuple(info: Any) -> tuple[int, int, int] | None:
    if not info:
        return None
    info = list(info)
    if info[0] >= 3:  # 3.x: (major, minor, 0, patch, status)
        return (info[0], info[1], info[3] if len(info) > 3 else 0)
    return (info[0], info[1], info[2] if len(info) > 2 else 0)


def vstr(v: tuple[int, ...] | None) -> str | None:
    return ".".join(map(str, v)) if v else None
