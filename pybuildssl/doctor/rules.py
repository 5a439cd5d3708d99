"""doctor's rules: one small function per diagnosis, each returning what it found.

A rule reads the :class:`~.situation.Situation` (and, for the follow-up
fixes, the problems earlier rules found) and returns :class:`~.model.Findings`:
problems in the order found, fixes best first.  :data:`RULES` is the
registry; its order is the order of the fixes doctor prints.  Pure: no rule
reads or runs anything.  Every id is listed in ``model.PROBLEMS`` /
``model.FIXES`` and in docs/doctor.md.
"""

from __future__ import annotations

import os
import shlex
from typing import Callable

from .. import layouts
from . import vendor_config
from .facts import LOCATION_VARS, OPENSSL_VARS
from .fixes import chmod_fix, export_fix, patch_note, recipe
from .model import ERROR, INFO, WARNING, Findings, Fix
from .situation import Situation, vstr

Rule = Callable[[Situation, Findings], Findings]


# ------------------------------------------------------ interpreter, ssl ----

def python_version(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if not s.patchable:
        out.problem("python.version", WARNING, f"{s.python.get('implementation', '?')} "
                    f"{s.python.get('version', '?')}: `pybuildssl patch` supports CPython 3.9 to 3.14 only")
    return out


def ssl_version(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if s.linked and s.built and s.linked[:2] != s.built[:2]:
        out.problem("ssl.version", WARNING,
                    f"_ssl was built against OpenSSL {vstr(s.built)} but runs with {vstr(s.linked)}")
    return out


def vendor_mismatch(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if s.mismatch:
        out.problem("vendor.mismatch", INFO, s.mismatch)
    return out


def _vendor_config_failure(s: Situation) -> bool:
    return not s.ctx.get("ok") and vendor_config.is_vendor_config_failure(s.ctx.get("error", ""), s.openssl_config)


def vendor_config_fails(s: Situation, found: Findings) -> Findings:
    """ssl fails on the host's openssl.cnf (config_diagnostics on, vendor-only keys): vendor_config."""
    out = Findings()
    if not _vendor_config_failure(s):
        return out
    cfg = s.openssl_config or {}
    message, title, commands, note = vendor_config.explain(s.ctx.get("error", "?"), cfg)
    out.problem("ssl.vendor-config", ERROR, message, cfg.get("path"))
    out.fix(Fix("openssl-conf-wrapper", title, commands, note))
    out.fix(Fix("rebuild", "Rebuild with this pybuildssl: its OpenSSL never fails on the host's openssl.cnf",
                [f"pybuildssl build {recipe(s.host, s.store_vendor or s.host.vendor)}"],
                "any recipe: the OpenSSL patch openssl-host-config-tolerant.patch, not the OPENSSLDIR, "
                "is what helps (docs/vendor-config.md)"))
    return out


def ssl_config_fails(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if s.ctx.get("ok") or _vendor_config_failure(s):
        return out
    out.problem("ssl.config", ERROR, f"ssl.create_default_context() raises {s.ctx.get('error', '?')}")
    if "OPENSSL_CONF" in s.env:
        out.fix(Fix("unset-openssl-conf", "Remove OPENSSL_CONF, which names a configuration OpenSSL "
                    "cannot load", ["unset OPENSSL_CONF"], f"it is {s.env['OPENSSL_CONF']}"))
    odir = s.compiled["openssldir"]
    cnf = os.path.join(odir, "openssl.cnf") if odir else "openssl.cnf"
    out.fix(Fix("rebuild", "Rebuild with an OPENSSLDIR whose openssl.cnf this OpenSSL can read",
                [f"pybuildssl build {recipe(s.host, s.store_vendor or s.host.vendor)}"],
                f"OpenSSL reads {cnf} at its first use; a vendor file naming modules this "
                "OpenSSL lacks fails as soon as ssl comes first"))
    return out


def store_unloadable(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if s.ctx.get("ok") and s.file_ok and s.loaded == 0 and not s.dir_ok:
        bad = next((f for f in s.eff_files if f.usable), s.fb_loc)
        out.problem("store.unloadable", ERROR,
                    f"{bad.path if bad else 'the CA bundle'} holds PEM markers but OpenSSL loaded no "
                    "certificate from it (damaged or not certificates)", bad.path if bad else None)
    return out


# -------------------------------------------------------- trust variables ----

def trust_variables(s: Situation, found: Findings) -> Findings:
    """Each location a trust variable names: unusable, or unsafe."""
    out = Findings()
    for name, items in s.env_locs.items():
        kind, who = LOCATION_VARS[name]
        for loc in items:
            if not loc.usable:
                harm = ERROR if (name in OPENSSL_VARS and not s.works) else WARNING
                what = loc.reason if loc.usable is not None else "not probed"
                if name in OPENSSL_VARS:
                    extra = (f" OpenSSL reads it instead of the compiled CA {'file' if kind == 'file' else 'directory'}"
                             " and silently loads nothing" + ("; it also turns the pybuildssl fallback off"
                                                              if s.patched else ""))
                else:
                    extra = f" ({who} will fail)"
                out.problem("env.unusable", harm, f"{name}={s.env[name]}: {what}.{extra}", name)
            elif loc.safe is False:
                out.problem("env.unsafe", WARNING, f"{name}={loc.path} is unsafe ({loc.safety}): another user "
                            f"could add a CA that {who} would trust", name)
    return out


def env_overrides(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if s.ossl_env and s.works and not s.compiled_ok:
        one = len(s.ossl_env) == 1
        out.problem("env.overrides", INFO,
                    f"verification works because {' and '.join(s.ossl_env)} {'is' if one else 'are'} "
                    f"set; without {'it' if one else 'them'}, OPENSSLDIR "
                    f"{s.compiled['openssldir']} has no usable store")
    return out


def unsafe_store_in_use(s: Situation, found: Findings) -> Findings:
    out = Findings()
    for loc in s.in_use:
        if loc.safe is False and not any(loc in v for v in s.env_locs.values()):
            out.problem("store.unsafe", WARNING, f"{loc.path} is in use and unsafe ({loc.safety}): another user "
                        "could add a CA that this Python trusts", loc.path)
    return out


# ---------------------------------------- no store: why, and the fixes ----

def compiled_store(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if not s.no_store or s.compiled_ok:
        return out
    odir = s.compiled["openssldir"] or "?"
    c_desc = ", ".join(f"{x.kind == 'file' and 'cafile' or 'capath'} {x.path}: {x.describe()}"
                       for x in (s.c_file, s.c_dir) if x)
    if not s.ossl_env:
        out.problem("store.compiled", ERROR, f"OPENSSLDIR {odir} holds no usable CA store ({c_desc})")
    else:
        out.problem("store.compiled", INFO, f"OPENSSLDIR {odir} holds no usable CA store either ({c_desc})")
    return out


def host_store(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if not s.no_store or s.best is not None:
        return out
    if s.unsafe_store is None:
        names = ", ".join(x.path for x in s.host_locs[:4])
        out.problem("store.host-missing", ERROR, f"no usable CA store on this host: none of the layout table's "
                    f"locations ({names}, ...) holds a certificate")
    else:
        out.problem("store.host-unsafe", ERROR, f"{s.unsafe_store.path} holds the system's CAs but is unsafe "
                    f"({s.unsafe_store.safety}): the pybuildssl fallback refuses it", s.unsafe_store.path)
    return out


def trust_variables_in_the_way(s: Situation, found: Findings) -> Findings:
    """SSL_CERT_FILE / SSL_CERT_DIR set: explicit configuration wins, the fallback stays off."""
    out = Findings()
    if not s.no_store or not s.ossl_env:
        return out
    if s.compiled_ok or (s.patched and s.would is not None and not s.opt_out_on):
        how = "OpenSSL's compiled defaults" if s.compiled_ok else f"the pybuildssl fallback ({s.would.path})"
        out.fix(Fix("unset-env", f"Remove {' and '.join(s.ossl_env)}: then {how} "
                    f"{'provide' if s.compiled_ok else 'provides'} the store", [f"unset {n}" for n in s.ossl_env]))
    broken = [n for n in s.ossl_env if not all(x.usable for x in s.env_locs.get(n, []))]
    out.fix(export_fix(None, s.best_dir) if broken == ["SSL_CERT_DIR"] and s.best_dir is not None
            else export_fix(s.best_file, s.best_dir))
    if not s.patched and not s.compiled_ok and s.patchable and s.would is not None:
        out.fix(Fix("patch", "Patch this Python and drop the variable, so that no configuration is needed",
                    [f"unset {n}" for n in s.ossl_env] + [f"pybuildssl patch {_prefix(s)}"],
                    patch_note(s.host, s.base_prefix)))
    return out


def patch_without_store(s: Situation, found: Findings) -> Findings:
    """Patched, no variable set, and still nothing: the fallback is off, stale, or finds nothing safe."""
    out = Findings()
    if not s.no_store or s.ossl_env or not s.patched:
        return out
    best, would = s.best, s.would
    if s.source == "disabled" or s.opt_out_on:
        out.problem("patch.disabled", ERROR, "PYBUILDSSL_NO_FALLBACK is set: the patched ssl does not fall back"
                    + (f" to {would.path}, which is usable" if would else ""))
        out.fix(Fix("unset-opt-out", "Remove PYBUILDSSL_NO_FALLBACK so the patch can fall back",
                    ["unset PYBUILDSSL_NO_FALLBACK"]))
    elif best is not None and (best.kind, best.path) not in s.baked:
        out.problem("patch.stale", ERROR, f"the patch's fallback list lacks {best.path}, where this host keeps "
                    "its CAs")
        if s.patchable:
            out.fix(Fix("repatch", "Patch again with this pybuildssl (its fallback list knows this host)",
                        [f"pybuildssl patch {_prefix(s)}"], patch_note(s.host, s.base_prefix)))
    if s.unsafe_store is not None and best is None:
        out.fix(chmod_fix(s.unsafe_store))
    out.fix(export_fix(s.best_file, s.best_dir))
    return out


def not_patched(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if not s.no_store or s.ossl_env or s.patched:
        return out
    would = s.would
    out.problem("patch.absent", ERROR if would is not None else INFO, "this Python is not patched: nothing "
                "falls back to " + (would.path if would is not None else "the system store"))
    if s.unsafe_store is not None and s.best is None:
        out.fix(chmod_fix(s.unsafe_store))
    if s.patchable and (would is not None or s.unsafe_store is not None):
        out.fix(Fix("patch", "Patch this Python so that it falls back to the system store (the pybuildssl "
                    "trust contract; `--revert` undoes it)", [f"pybuildssl patch {_prefix(s)}"],
                    patch_note(s.host, s.base_prefix)))
    out.fix(export_fix(s.best_file, s.best_dir))
    return out


def rebuild_or_install_store(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if not s.no_store:
        return out
    if s.best is not None and not s.ossl_env:  # with the variables set, a rebuilt Python reads them too
        out.fix(Fix("rebuild", "Rebuild this Python for this host (OPENSSLDIR from the layout table, the fallback "
                    "list baked in)", [f"pybuildssl build {recipe(s.host, s.store_vendor or s.host.vendor)}"]))
    if s.best is None and s.unsafe_store is None:
        vendor = s.admin_vendor
        cmd = str((vendor.admin_add if vendor else {}).get("command") or "update-ca-certificates")
        out.fix(Fix("install-store", "Install your distribution's ca-certificates package, then "
                    "regenerate the store", [cmd], "then run doctor again"))
        out.fix(Fix("certifi", "Last resort, if the system store cannot be installed: Mozilla's bundle from "
                    "certifi", [f"export SSL_CERT_FILE=\"$({shlex.quote(s.interp['executable'] or 'python3')} "
                                "-m certifi)\""],
                    "needs certifi installed; it does not hold your organisation's CAs and is not "
                    "updated by the system"))
    return out


def _prefix(s: Situation) -> str:
    return shlex.quote(s.base_prefix) if s.base_prefix else "PREFIX"


# ------------------------------------------------------- working, but ----

def stale_patch(s: Situation, found: Findings) -> Findings:
    out = Findings()
    if not (s.patched and s.works and s.host.os in layouts.POSIX_OSES):
        return out
    stale = []
    if (s.ssl.get("patch_version") or 0) < s.host.patch_version:
        stale.append(f"patch version {s.ssl.get('patch_version')} < {s.host.patch_version}")
    if s.best and (s.best.kind, s.best.path) not in s.baked and s.baked:
        stale.append(f"its fallback list lacks {s.best.path}")
    if stale:
        out.problem("patch.stale", INFO, "the pybuildssl patch is older than this pybuildssl: " + "; ".join(stale))
    return out


def warning_fixes(s: Situation, found: Findings) -> Findings:
    """Fixes for the warnings earlier rules found (on a working setup, too)."""
    out = Findings()
    for p in found.problems:
        if p.id == "env.unusable" and p.severity == WARNING and p.subject in OPENSSL_VARS:
            out.fix(Fix("unset-env", f"Remove {p.subject}: it points at nothing usable",
                        [f"unset {p.subject}"], "verification works without it"))
        elif p.id == "env.unsafe":
            for loc in s.env_locs.get(p.subject or "", []):
                if loc.usable and loc.safe is False:
                    out.fix(chmod_fix(loc))
        elif p.id == "store.unsafe":
            for loc in s.in_use:
                if loc.path == p.subject:
                    out.fix(chmod_fix(loc))
    return out


def check_url(s: Situation, found: Findings) -> Findings:
    """--check-url failed: say why; for an unknown issuer on a working store, how to trust it."""
    out = Findings()
    url = s.url
    if not url or url["ok"]:
        return out
    out.problem("url.failed", ERROR, f"{s.check_url}: {url['title']}", s.check_url)
    if url["outcome"] != "unknown-issuer" or not s.works:
        return out  # a store failure has its fixes already; the others are the server's or the network's
    for n in OPENSSL_VARS:
        if n in s.env:
            out.fix(Fix("unset-env", f"{n} replaces the system store and lacks this server's CA: remove it",
                        [f"unset {n}"]))
    add = (s.admin_vendor.admin_add if s.admin_vendor else {}) or {}
    if add.get("dir"):
        dest = f"{add['dir']}/my-ca{add.get('suffix') or '.pem'}"
        out.fix(Fix("add-ca", "If the server's CA is your organisation's (a private index, a TLS-inspecting "
                    "proxy), add it to the system store", [f"cp CA.pem {dest}", str(add.get("command"))],
                    "CA.pem: the issuing CA certificate, from your administrators"))
    elif add.get("command"):
        out.fix(Fix("add-ca", "If the server's CA is your organisation's, add it to the system store",
                    [str(add["command"])]))
    return out


#: The registry, in the order fixes are ranked.
RULES: tuple[Rule, ...] = (
    python_version, ssl_version, vendor_mismatch,
    vendor_config_fails, ssl_config_fails, store_unloadable,
    trust_variables, env_overrides, unsafe_store_in_use,
    compiled_store, host_store, trust_variables_in_the_way, patch_without_store, not_patched,
    rebuild_or_install_store,
    stale_patch, warning_fixes, check_url,
)
