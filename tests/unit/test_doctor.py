"""`pybuildssl doctor`: facts in, diagnosis out (no subprocess, no network).

Two kinds of input:

* probe facts recorded on this project's CI machine (a Debian 12 host, pyenv
  CPython 3.12 linked to Debian's OpenSSL, OPENSSLDIR /usr/lib/ssl) under
  vendor layouts in mount namespaces: tests/fixtures/doctor/*.json;
* facts constructed here (:func:`make`) for cases a machine does not show on
  demand: a stale patch, the opt-out, a broken openssl.cnf, no ssl at all.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from pybuildssl import cli, doctor, trust
from pybuildssl.doctor import FAIL, OK, WARN

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures" / "doctor"
SCHEMA = REPO / "docs" / "json-schema" / "doctor-v1.json"

HOST = doctor.Host(os="linux", vendor="debian", arch="x86_64", patch_version=1,
                   recipes=("linux-x86_64-debian", "linux-x86_64-generic", "linux-x86_64-rhel"))
PYENV = "/root/.pyenv/versions/3.12.1"
RHEL_BUNDLE = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
RHEL_HASHDIR = "/etc/pki/ca-trust/extracted/pem/directory-hash"
DEB_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DEB_DIR = "/etc/ssl/certs"
C_FILE, C_DIR = "/usr/lib/ssl/cert.pem", "/usr/lib/ssl/certs"

#: Words a fix must never contain: doctor never suggests turning verification off.
INSECURE = re.compile(r"CERT_NONE|verify\s*=\s*False|check_hostname|PYTHONHTTPSVERIFY|--trusted-host|"
                      r"NODE_TLS_REJECT_UNAUTHORIZED|--insecure|\bcurl -k\b|_create_unverified_context", re.I)


def recorded(name: str) -> dict:
    return json.loads((FIX / f"{name}.json").read_text())


def ids(d: doctor.Diagnosis) -> list[str]:
    return [p.id for p in d.problems]


def fix_ids(d: doctor.Diagnosis) -> list[str]:
    return [f.id for f in d.fixes]


def commands(d: doctor.Diagnosis) -> list[list[str]]:
    return [f.commands for f in d.fixes]


# ------------------------------------------------------- constructed facts ----

def _loc(kind: str, path: str, verdict: str, unsafe_ok: str | None = None, n: int = 3) -> dict:
    item = {"kind": kind, "path": path, "exists": verdict != "missing", "verdict": verdict,
            "verdict_unsafe_ok": unsafe_ok or verdict, "mode": "0o644", "uid": 0}
    if verdict != "missing":
        item["certs" if kind == "file" else "hashed"] = n if (unsafe_ok or verdict) == "usable" else 0
    return item


def make(*, good: tuple = (), unsafe: tuple = (), bad: tuple = (), env: dict | None = None,
         patched: bool = False, source: str | None = None, baked: list | None = None, fallback_used=None,
         ctx: dict | None = None, ssl_ok: bool = True, version=(3, 12, 1), built=None,
         implementation: str = "cpython", patch_version: int = 1, handshake: dict | None = None) -> dict:
    """Probe facts: every location is missing unless listed as good, unsafe ((kind, path, why)) or bad
    ((kind, path, verdict)).  The compiled defaults are Debian's /usr/lib/ssl."""
    env = dict(env or {})
    table = {}
    for kind, path in good:
        table[(kind, path)] = _loc(kind, path, "usable")
    for kind, path, why in unsafe:
        table[(kind, path)] = _loc(kind, path, "unsafe: " + why, "usable")
    for kind, path, verdict in bad:
        table[(kind, path)] = _loc(kind, path, verdict)

    def get(kind, path):
        return table.get((kind, path)) or _loc(kind, path, "missing")

    requested = doctor.request_locations(env, HOST)
    facts: dict = {"probe": 1,
                   "python": {"version": ".".join(map(str, version)), "version_info": list(version),
                              "executable": f"{PYENV}/bin/python3", "prefix": PYENV, "base_prefix": PYENV,
                              "implementation": implementation, "platform": "linux"},
                   "env": env, "handshakes": [handshake] if handshake else [], "modules": {}}
    if not ssl_ok:
        facts["ssl"] = {"ok": False, "error": "ModuleNotFoundError: No module named '_ssl'"}
        facts["locations"] = [{"kind": k, "path": p, "exists": False} for k, p in requested]
        return facts
    compiled = [get("file", C_FILE), get("dir", C_DIR)]
    file_env = env.get("SSL_CERT_FILE")
    eff_file = get("file", file_env) if file_env is not None else compiled[0]
    fb = table.get(fallback_used) if fallback_used else None
    loaded = sum(x.get("certs", 0) for x in (eff_file, fb) if x and x["kind"] == "file"
                 and x["verdict_unsafe_ok"] == "usable")
    s = {"ok": True, "OPENSSL_VERSION": "OpenSSL 3.0.19 27 Jan 2026", "OPENSSL_VERSION_INFO": [3, 0, 0, 19, 0],
         "built_against": built or [3, 0, 0, 19, 0], "module_file": f"{PYENV}/lib/python3.12/lib-dynload/_ssl.so",
         "ssl_py": f"{PYENV}/lib/python3.12/ssl.py",
         "verify_paths": {"cafile": None, "capath": None, "openssl_cafile_env": "SSL_CERT_FILE",
                          "openssl_cafile": C_FILE, "openssl_capath_env": "SSL_CERT_DIR", "openssl_capath": C_DIR},
         "patched": patched,
         "default_context": ctx or {"ok": True, "stats": {"x509": loaded, "crl": 0, "x509_ca": loaded}}}
    if patched:
        checked = []
        if fallback_used:
            checked.append(["fallback", fallback_used[0], fallback_used[1], "usable"])
        s.update(resolve={"source": source, "cafile": fallback_used[1] if fallback_used and fallback_used[0] == "file"
                          else None, "capath": None, "checked": checked, "patch_version": patch_version,
                          "target_os": "linux"},
                 patch_version=patch_version,
                 fallback=[list(x) for x in (baked if baked is not None else HOST.table.fallback("linux"))])
    facts["ssl"] = s
    facts["compiled_locations"] = compiled
    facts["locations"] = [get(k, p) for k, p in requested]
    return facts


def diag(facts, **kw) -> doctor.Diagnosis:
    return doctor.diagnose(facts, HOST, **kw)


# -------------------------------------------------------- recorded facts ----

def test_debian_host_stock_python_works_and_needs_nothing():
    d = diag(recorded("debian-stock"))
    assert (d.status, d.works) == (OK, True)
    assert d.problems == [] and d.fixes == []
    assert d.compiled["openssldir"] == "/usr/lib/ssl"
    assert d.openssl == {"version": "OpenSSL 3.0.19 27 Jan 2026", "linked": "3.0.19", "built_against": "3.0.19",
                         "module": d.openssl["module"]}
    assert d.host["store"] == DEB_BUNDLE and d.host["store_vendor"] == "debian"
    assert "compiled cafile /usr/lib/ssl/cert.pem" in d.via


def test_openssldir_without_a_store_patch_first_then_the_real_bundle_then_a_rebuild():
    """Debian-built Python (OPENSSLDIR /usr/lib/ssl) on an RHEL layout."""
    d = diag(recorded("rhel-stock"))
    assert (d.status, d.works) == (FAIL, False)
    assert {"store.compiled", "patch.absent", "vendor.mismatch"} <= set(ids(d))
    assert fix_ids(d) == ["patch", "env-file", "rebuild"]
    assert commands(d) == [[f"pybuildssl patch {PYENV}"], [f"export SSL_CERT_FILE={RHEL_BUNDLE}"],
                           ["pybuildssl build linux-x86_64-rhel"]]
    assert d.host["store"] == RHEL_BUNDLE and d.host["store_vendor"] == "rhel"
    assert d.patch["would_use"] == RHEL_HASHDIR  # the patch prefers the hashed directory
    # the host calls itself Debian but the store is RHEL's: adding a CA is RHEL's way
    assert d.host["add_ca"]["command"] == "update-ca-trust extract"


def test_the_patched_copy_works_through_the_fallback():
    d = diag(recorded("rhel-patched"))
    assert (d.status, d.works) == (OK, True)
    assert d.patch["present"] and d.patch["source"] == "fallback" and d.patch["cafile"] == RHEL_BUNDLE
    assert d.via.startswith(f"the pybuildssl fallback: {RHEL_BUNDLE}")
    assert ids(d) == ["vendor.mismatch"] and d.fixes == []
    assert d.reported["cafile"] == RHEL_BUNDLE and d.compiled["cafile"] == C_FILE


def test_ssl_cert_file_at_a_missing_file_turns_the_fallback_off():
    d = diag(recorded("rhel-patched-missing-ssl-cert-file"))
    assert (d.status, d.works) == (FAIL, False)
    p = next(p for p in d.problems if p.id == "env.unusable")
    assert p.severity == "error" and p.subject == "SSL_CERT_FILE" and "missing" in p.message
    assert "turns the pybuildssl fallback off" in p.message
    assert commands(d)[0] == ["unset SSL_CERT_FILE"]
    assert commands(d)[1] == [f"export SSL_CERT_FILE={RHEL_BUNDLE}"]
    assert "rebuild" not in fix_ids(d)  # a rebuilt Python would read the variable too


def test_an_empty_hashed_directory_in_ssl_cert_dir():
    d = diag(recorded("rhel-stock-empty-ssl-cert-dir"))
    assert (d.status, d.works) == (FAIL, False)
    p = next(p for p in d.problems if p.id == "env.unusable")
    assert p.subject == "SSL_CERT_DIR" and "no <hash>.<n> entries" in p.message
    assert commands(d)[0] == [f"export SSL_CERT_DIR={RHEL_HASHDIR}"]
    assert ["unset SSL_CERT_DIR", f"pybuildssl patch {PYENV}"] in commands(d)


def test_a_world_writable_bundle_is_refused_and_chmod_is_the_fix():
    d = diag(recorded("fedora-patched-world-writable"))
    assert (d.status, d.works) == (FAIL, False)
    p = next(p for p in d.problems if p.id == "store.host-unsafe")
    assert p.subject == RHEL_BUNDLE and "world-writable" in p.message
    assert commands(d)[0] == [f"chmod o-w {RHEL_BUNDLE}"]
    assert d.host["store"] is None and d.host["unsafe_store"] == RHEL_BUNDLE
    # never "export SSL_CERT_FILE=<the unsafe bundle>"
    assert not any(RHEL_BUNDLE in c and "export" in c for cs in commands(d) for c in cs)


def test_no_store_anywhere_install_it_and_certifi_only_last():
    d = diag(recorded("empty-stock"))
    assert (d.status, d.works) == (FAIL, False)
    assert "store.host-missing" in ids(d)
    assert fix_ids(d) == ["install-store", "certifi"]
    assert d.fixes[0].commands == ["update-ca-certificates"]


# ----------------------------------------------------- constructed facts ----

def test_compiled_defaults_usable_means_ok():
    d = diag(make(good=[("file", C_FILE), ("dir", C_DIR), ("file", DEB_BUNDLE), ("dir", DEB_DIR)]))
    assert d.status == OK and d.works and d.fixes == []


def test_missing_ssl_cert_file_with_a_working_capath_is_a_warning_with_unset():
    d = diag(make(good=[("file", C_FILE), ("dir", C_DIR), ("file", DEB_BUNDLE)],
                  env={"SSL_CERT_FILE": "/nonexistent/ca.pem"}))
    assert (d.status, d.works) == (WARN, True)  # the compiled capath still serves
    p = next(p for p in d.problems if p.id == "env.unusable")
    assert p.severity == "warning"
    assert commands(d) == [["unset SSL_CERT_FILE"]]


def test_empty_ssl_cert_file_disables_the_compiled_cafile():
    d = diag(make(good=[("file", C_FILE), ("file", DEB_BUNDLE)], env={"SSL_CERT_FILE": ""}))
    assert not d.works  # OpenSSL reads "" instead of the compiled file; no capath here
    p = next(p for p in d.problems if p.id == "env.unusable")
    assert "empty value" in p.message
    assert commands(d)[0] == ["unset SSL_CERT_FILE"]


def test_world_writable_ssl_cert_file_in_use_works_but_warns():
    d = diag(make(good=[("dir", C_DIR)], unsafe=[("file", "/tmp/ca.pem", "world-writable")],
                  env={"SSL_CERT_FILE": "/tmp/ca.pem"}))
    assert (d.status, d.works) == (WARN, True)
    assert "env.unsafe" in ids(d)
    assert commands(d) == [["chmod o-w /tmp/ca.pem"]]


def test_world_writable_compiled_bundle_in_use_works_but_warns():
    d = diag(make(unsafe=[("file", C_FILE, "world-writable")], good=[("file", DEB_BUNDLE)]))
    assert (d.status, d.works) == (WARN, True)
    assert next(p for p in d.problems if p.id == "store.unsafe").subject == C_FILE
    assert commands(d) == [[f"chmod o-w {C_FILE}"]]


def test_parent_directory_and_foreign_owner_get_their_own_commands():
    d = diag(make(unsafe=[("file", RHEL_BUNDLE, "'/etc/pki/ca-trust/extracted/pem' is world-writable")]))
    assert commands(d)[0] == ["chmod o-w /etc/pki/ca-trust/extracted/pem"]
    d = diag(make(unsafe=[("file", RHEL_BUNDLE, f"'{RHEL_BUNDLE}' is owned by uid 4242")]))
    assert commands(d)[0] == [f"chown root:root {RHEL_BUNDLE}", f"chmod 644 {RHEL_BUNDLE}"]
    d = diag(make(unsafe=[("file", RHEL_BUNDLE, "'/etc/pki' is writable by group 100")]))
    assert commands(d)[0] == ["chmod g-w /etc/pki"]
    # the patch's older wording, from a probe of an older patch
    d = diag(make(unsafe=[("file", RHEL_BUNDLE, "owned by uid 4242")]))
    assert commands(d)[0] == [f"chown root:root {RHEL_BUNDLE}", f"chmod 644 {RHEL_BUNDLE}"]


def test_a_store_below_a_sticky_world_writable_directory_gets_no_chmod():
    d = diag(make(unsafe=[("file", RHEL_BUNDLE, "'/tmp' is world-writable (sticky)")]))
    assert not [c for c in commands(d) if c and c[0].startswith("chmod o-w /tmp")]


def test_works_only_because_of_the_variable_says_so():
    d = diag(make(good=[("file", RHEL_BUNDLE)], env={"SSL_CERT_FILE": RHEL_BUNDLE}))
    assert (d.status, d.works) == (OK, True)
    p = next(p for p in d.problems if p.id == "env.overrides")
    assert p.severity == "info" and "SSL_CERT_FILE" in p.message and "/usr/lib/ssl" in p.message


def test_opt_out_on_a_patched_python():
    d = diag(make(good=[("file", RHEL_BUNDLE)], patched=True, source="disabled",
                  env={"PYBUILDSSL_NO_FALLBACK": "1"}))
    assert (d.status, d.works) == (FAIL, False)
    assert "patch.disabled" in ids(d)
    assert commands(d)[0] == ["unset PYBUILDSSL_NO_FALLBACK"]


def test_opt_out_zero_does_not_count():
    d = diag(make(good=[("file", RHEL_BUNDLE)], patched=True, source="fallback",
                  fallback_used=("file", RHEL_BUNDLE), env={"PYBUILDSSL_NO_FALLBACK": "0"}))
    assert d.works and "patch.disabled" not in ids(d)


def test_patch_whose_list_lacks_this_hosts_store_is_stale():
    d = diag(make(good=[("file", RHEL_BUNDLE)], patched=True, source="none", baked=[("file", DEB_BUNDLE)]))
    assert (d.status, d.works) == (FAIL, False)
    assert "patch.stale" in ids(d)
    assert fix_ids(d)[0] == "repatch" and commands(d)[0] == [f"pybuildssl patch {PYENV}"]


def test_older_patch_version_is_noted_when_it_works():
    facts = make(good=[("file", RHEL_BUNDLE)], patched=True, source="fallback",
                 fallback_used=("file", RHEL_BUNDLE), patch_version=0)
    d = diag(facts)
    assert d.works and d.status == OK
    assert next(p for p in d.problems if p.id == "patch.stale").severity == "info"


def test_ssl_that_does_not_import():
    d = diag(make(ssl_ok=False))
    assert (d.status, d.works) == (FAIL, False)
    assert ids(d) == ["ssl.import"] and fix_ids(d) == ["reinstall"]


def test_broken_openssl_conf():
    ctx = {"ok": False, "error": "SSLError: [CONF: UNKNOWN_MODULE_NAME] unknown module name"}
    d = diag(make(good=[("file", C_FILE)], ctx=ctx, env={"OPENSSL_CONF": "/etc/bad.cnf"}))
    assert (d.status, d.works) == (FAIL, False)
    assert "ssl.config" in ids(d)
    assert fix_ids(d)[:2] == ["unset-openssl-conf", "rebuild"]
    d = diag(make(good=[("file", C_FILE)], ctx=ctx))
    assert fix_ids(d) == ["rebuild"] and "/usr/lib/ssl/openssl.cnf" in d.fixes[0].note


RHEL_CNF = {"path": "/etc/pki/tls/openssl.cnf", "exists": True, "diagnostics": "1",
            "vendor_keys": ["rh-allow-sha1-signatures"], "includes": ["/etc/pki/tls/openssl.d"]}


@pytest.mark.parametrize("error", [
    "SSLError: [CONF: MODULE_INITIALIZATION_ERROR] module initialization error (_ssl.c:3123)",
    "SSLError: unknown error (_ssl.c:3063)",  # hashlib came first, ssl in another thread
])
def test_vendor_openssl_conf_names_the_cause_and_a_wrapper_first(error):
    facts = make(good=[("file", C_FILE)], ctx={"ok": False, "error": error})
    facts["openssl_config"] = dict(RHEL_CNF)
    d = diag(facts)
    assert (d.status, d.works) == (FAIL, False)
    assert ids(d) == ["ssl.vendor-config"] or ids(d)[0] == "ssl.vendor-config"
    p = d.problems[0]
    assert p.subject == "/etc/pki/tls/openssl.cnf"
    assert "config_diagnostics = 1" in p.message and "rh-allow-sha1-signatures" in p.message
    assert fix_ids(d)[:2] == ["openssl-conf-wrapper", "rebuild"]
    wrapper = d.fixes[0].commands
    assert wrapper[-1] == 'export OPENSSL_CONF="$HOME/.config/pybuildssl/openssl.cnf"'
    assert "config_diagnostics = 0" in wrapper[1] and "/etc/pki/tls/openssl.cnf" in wrapper[1]
    # the old advice (another OPENSSLDIR) would read the same file: not given
    assert "linux-x86_64-rhel" not in " ".join(d.fixes[1].commands) or "patch" in d.fixes[1].note
    assert not any(INSECURE.search(c) for f in d.fixes for c in f.commands)


def test_a_broken_file_without_diagnostics_stays_ssl_config():
    ctx = {"ok": False, "error": "SSLError: [CONF: UNKNOWN_MODULE_NAME] unknown module name"}
    facts = make(good=[("file", C_FILE)], ctx=ctx)
    facts["openssl_config"] = dict(RHEL_CNF, diagnostics="0")
    assert "ssl.config" in ids(diag(facts)) and "ssl.vendor-config" not in ids(diag(facts))


def test_bundle_with_markers_that_openssl_could_not_load():
    ctx = {"ok": True, "stats": {"x509": 0, "crl": 0, "x509_ca": 0}}
    d = diag(make(good=[("file", C_FILE)], ctx=ctx))
    assert not d.works and "store.unloadable" in ids(d)


def test_hashed_directory_counts_although_nothing_is_loaded_up_front():
    # OpenSSL reads a CApath lazily: cert_store_stats() says 0, verification still works
    d = diag(make(good=[("dir", C_DIR)]))
    assert d.works and d.status == OK


def test_built_against_another_openssl_is_a_warning():
    d = diag(make(good=[("file", C_FILE)], built=[1, 1, 1, 23, 15]))
    assert d.works and d.status == WARN and "ssl.version" in ids(d)
    assert d.openssl["built_against"] == "1.1.1"


def test_old_python_gets_no_patch_suggestion():
    d = diag(make(good=[("file", RHEL_BUNDLE)], version=(3, 8, 18)))
    assert "python.version" in ids(d)
    assert "patch" not in fix_ids(d) and fix_ids(d)[0] == "env-file"


def test_interpreter_that_does_not_run():
    d = doctor.diagnose(None, HOST, probe_error="exit code 2: Unknown option: -I", interpreter="/usr/bin/python2")
    assert (d.status, d.works) == (FAIL, False)
    assert ids(d) == ["python.starts"] and "Unknown option" in d.problems[0].message


def test_venv_is_patched_through_its_base_prefix():
    facts = make(good=[("file", RHEL_BUNDLE)])
    facts["python"].update(prefix="/home/u/proj/.venv", executable="/home/u/proj/.venv/bin/python")
    d = diag(facts)
    assert d.interpreter["venv"] is True
    assert commands(d)[0] == [f"pybuildssl patch {PYENV}"]


def test_not_writable_prefix_says_so():
    host = doctor.Host(os="linux", vendor="debian", arch="x86_64", recipes=HOST.recipes, prefix_writable=False)
    d = doctor.diagnose(make(good=[("file", RHEL_BUNDLE)]), host)
    assert "not writable" in d.fixes[0].note


def test_recipe_falls_back_to_generic_for_a_vendor_without_one():
    rhel = [("file", RHEL_BUNDLE), ("dir", RHEL_HASHDIR), ("file", "/etc/pki/tls/certs/ca-bundle.crt"),
            ("file", "/etc/pki/tls/cert.pem")]
    d = diag(make(good=rhel))
    # every RHEL location usable: rhel (fedora's two match too; the table's order breaks the tie)
    assert d.host["store_vendor"] == "rhel"
    assert "pybuildssl build linux-x86_64-rhel" in [c for cs in commands(d) for c in cs]
    d = diag(make(good=rhel[:2]))  # Fedora 43: the compatibility bundles are gone; no fedora recipe
    assert d.host["store_vendor"] == "fedora"
    assert "pybuildssl build linux-x86_64-generic" in [c for cs in commands(d) for c in cs]
    host = doctor.Host(os="linux", vendor="debian", arch="x86_64", recipes=("linux-x86_64-generic",))
    d = doctor.diagnose(make(good=[("file", RHEL_BUNDLE)]), host)
    assert "pybuildssl build linux-x86_64-generic" in [c for cs in commands(d) for c in cs]


def test_request_covers_variables_vendor_and_fallback_list():
    env = {"SSL_CERT_DIR": "/a:/b", "REQUESTS_CA_BUNDLE": "/r", "SSL_CERT_FILE": "/f", "OPENSSL_CONF": "/c"}
    req = doctor.request_locations(env, HOST)
    assert ["dir", "/a"] in req and ["dir", "/b"] in req and ["file", "/f"] in req
    assert ["file", "/r"] in req and ["dir", "/r"] in req   # requests takes a file or a directory
    assert ["file", "/c"] not in req                          # OPENSSL_CONF is not a CA store
    assert req.index(["file", DEB_BUNDLE]) < req.index(["file", RHEL_BUNDLE])  # the host vendor first
    for kind, path in HOST.table.fallback("linux"):
        assert [kind, path] in req
    assert len(req) == len({tuple(x) for x in req})


def test_requests_ca_bundle_may_be_a_directory():
    facts = make(good=[("file", C_FILE), ("dir", "/srv/hashed")], env={"REQUESTS_CA_BUNDLE": "/srv/hashed"})
    d = diag(facts)
    env = {e["name"]: e for e in d.env}
    assert env["REQUESTS_CA_BUNDLE"]["usable"] is True
    assert "env.unusable" not in ids(d)


def test_unusable_requests_bundle_warns_about_requests_not_ssl():
    d = diag(make(good=[("file", C_FILE)], env={"REQUESTS_CA_BUNDLE": "/gone.pem"}))
    assert d.works and d.status == WARN
    p = next(p for p in d.problems if p.id == "env.unusable")
    assert p.subject == "REQUESTS_CA_BUNDLE" and "requests" in p.message


# ----------------------------------------------------------- check-url ----

@pytest.mark.parametrize("h, outcome, words", [
    ({"ok": True, "status": 200}, "verified", "trusted CA"),
    ({"ok": False, "kind": "other", "error": "HTTPError: HTTP Error 404: Not Found"}, "verified", "404"),
    ({"ok": False, "kind": "cert-verify", "verify_code": 20,
      "verify_message": "unable to get local issuer certificate"}, "unknown-issuer", "does not trust"),
    ({"ok": False, "kind": "cert-verify", "verify_code": 19,
      "verify_message": "self-signed certificate in certificate chain"}, "unknown-issuer", "self-signed"),
    ({"ok": False, "kind": "cert-verify", "verify_code": 62,
      "verify_message": "Hostname mismatch, certificate is not valid for 'x'."}, "hostname-mismatch", "host name"),
    ({"ok": False, "kind": "cert-verify", "verify_code": 10, "verify_message": "certificate has expired"},
     "expired", "expired"),
    ({"ok": False, "kind": "cert-verify", "verify_code": 9, "verify_message": "certificate is not yet valid"},
     "not-yet-valid", "clock"),
    ({"ok": False, "kind": "network", "error": "URLError: <urlopen error [Errno -2] Name or service not known>"},
     "no-network", "does not resolve"),
    ({"ok": False, "kind": "network", "error": "URLError: <urlopen error [Errno 111] Connection refused>"},
     "no-network", "refused"),
    ({"ok": False, "kind": "network", "error": "TimeoutError: timed out"}, "no-network", "timed out"),
    ({"ok": False, "kind": "ssl", "error": "SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number"},
     "tls", "did not answer with TLS"),
])
def test_handshake_failures_in_plain_words(h, outcome, words):
    h = {"id": "check-url", "url": "https://example.test/", "client": "urllib", **h}
    out = doctor.explain_handshake(h)
    assert out["outcome"] == outcome
    assert words in out["explanation"] or words in out["title"]
    assert out["ok"] is (outcome == "verified")


def test_unknown_issuer_with_a_working_store_suggests_adding_the_ca():
    h = {"id": "check-url", "url": "https://idx.test/", "ok": False, "kind": "cert-verify", "verify_code": 20,
         "verify_message": "unable to get local issuer certificate", "error": "URLError: ..."}
    d = diag(make(good=[("file", C_FILE), ("file", DEB_BUNDLE)], handshake=h), check_url="https://idx.test/")
    assert d.works and d.status == FAIL and "url.failed" in ids(d)
    assert d.check_url["outcome"] == "unknown-issuer"
    assert fix_ids(d) == ["add-ca"]
    assert d.fixes[0].commands == ["cp CA.pem /usr/local/share/ca-certificates/my-ca.crt", "update-ca-certificates"]
    d = diag(make(good=[("file", "/tmp/certifi.pem"), ("file", DEB_BUNDLE)], handshake=h,
                  env={"SSL_CERT_FILE": "/tmp/certifi.pem"}), check_url="https://idx.test/")
    assert fix_ids(d)[0] == "unset-env"


def test_unknown_issuer_without_a_store_keeps_the_store_fixes():
    h = {"id": "check-url", "url": "https://idx.test/", "ok": False, "kind": "cert-verify", "verify_code": 20,
         "verify_message": "unable to get local issuer certificate"}
    d = diag(make(good=[("file", RHEL_BUNDLE)], handshake=h), check_url="https://idx.test/")
    assert fix_ids(d)[0] == "patch" and "add-ca" not in fix_ids(d)


# ------------------------------------------------------------- invariants ----

def _all_diagnoses():
    out = [diag(recorded(p.stem)) for p in sorted(FIX.glob("*.json"))]
    out += [diag(make()), diag(make(ssl_ok=False)), doctor.diagnose(None, HOST, probe_error="x"),
            diag(make(unsafe=[("file", RHEL_BUNDLE, "world-writable")])),
            diag(make(good=[("file", RHEL_BUNDLE)], env={"SSL_CERT_FILE": "/x", "SSL_CERT_DIR": "/y"})),
            diag(make(good=[("file", C_FILE)], handshake={"id": "check-url", "url": "https://t/", "ok": True,
                                                          "status": 200}), check_url="https://t/")]
    return out


def test_never_suggests_disabling_verification_and_certifi_is_never_first():
    for d in _all_diagnoses():
        for f in d.fixes:
            for c in f.commands:
                assert not INSECURE.search(c), c
        if d.fixes:
            assert d.fixes[0].id != "certifi"
        assert (d.status == FAIL) == (d.exit_code == 1)
        if not d.works:
            assert d.fixes, d.summary


def test_json_output_matches_the_published_schema():
    import jsonschema
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for d in _all_diagnoses():
        d.seconds = 0.2
        out = json.loads(json.dumps(doctor.to_json(d)))
        errors = sorted(validator.iter_errors(out), key=str)
        assert not errors, [f"{e.json_path}: {e.message}" for e in errors[:5]]
        assert out["schema"] == doctor.SCHEMA_VERSION == 1
        assert all(p["id"] in doctor.PROBLEMS for p in out["problems"])
        assert all(f["id"] in doctor.FIXES for f in out["fixes"])
        assert [f["rank"] for f in out["fixes"]] == list(range(1, len(out["fixes"]) + 1))


def test_text_output_reads_verdict_then_fixes():
    d = diag(recorded("rhel-stock"))
    d.seconds = 0.25
    text = doctor.render_text(d)
    assert text.splitlines()[0] == "✗ default-context HTTPS verification will FAIL in this Python"
    assert f"pybuildssl patch {PYENV}" in text and f"export SSL_CERT_FILE={RHEL_BUNDLE}" in text
    assert text.index("Problems") < text.index("Fixes, best first")
    assert "\033[" not in text and "doctor took 0.25s" in text
    assert "\033[" in doctor.render_text(d, color=True)
    short, full = doctor.render_text(d), doctor.render_text(d, verbose=True)
    assert "/etc/ssl/ca-bundle.pem" not in short and "/etc/ssl/ca-bundle.pem" in full


# -------------------------------------------------------------------- CLI ----

def test_cli_json(monkeypatch, capsys):
    d = diag(recorded("rhel-stock"))
    seen = {}

    def fake_run(python, *, check_url=None, **kw):
        seen.update(python=python, check_url=check_url)
        return d

    monkeypatch.setattr(doctor, "run", fake_run)
    code = cli.main(["doctor", "--python", "/opt/py/bin/python3", "--json", "--check-url", "https://a.test/"])
    assert code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"]["status"] == "fail" and out["fixes"][0]["commands"] == [f"pybuildssl patch {PYENV}"]
    assert seen == {"python": "/opt/py/bin/python3", "check_url": "https://a.test/"}


def test_cli_text_and_exit_code_zero(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "run", lambda python, **kw: diag(recorded("debian-stock")))
    assert cli.main(["doctor"]) == 0
    assert capsys.readouterr().out.startswith("✓ default-context HTTPS verification works")


def test_cli_refuses_a_plain_http_url(capsys):
    assert cli.main(["doctor", "--check-url", "http://example.test/"]) == 2
    assert "not an https:// URL" in capsys.readouterr().err


def test_cli_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["doctor", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--check-url" in out and "pybuildssl doctor --python" in out


# ------------------------------------------------------------------- docs ----

def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "ci" / "gen_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_docs_are_up_to_date():
    for path, text in _gen_docs().outputs(REPO).items():
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.relative_to(REPO)} is out of date: run python3 ci/gen_docs.py"


def test_recipe_reference_lists_every_schema_key():
    from pybuildssl import recipe

    text = (REPO / "docs" / "recipes.md").read_text()
    for section, keys in recipe.SCHEMA.items():
        for key in keys:
            assert f"`{section + '.' if section else ''}{key}`" in text


def test_verify_check_ids_are_found_in_the_code():
    found = _gen_docs().check_ids(REPO)
    assert {"python.starts", "ssl.import", "trust.default-paths", "tls.unknown-ca", "layout.*",
            "manifest.tree", "hygiene.setuid"} <= set(found)
    assert not any(x.endswith((".py", ".exe")) or x.startswith("http.") for x in found)


def test_doctor_docs_name_every_problem_and_fix_id():
    text = (REPO / "docs" / "doctor.md").read_text()
    for pid in list(doctor.PROBLEMS) + list(doctor.FIXES):
        assert f"`{pid}`" in text, pid


def test_trust_contract_doc_names_the_opt_out():
    text = (REPO / "docs" / "trust-contract.md").read_text()
    assert trust.OPT_OUT_ENV in text and "get_default_verify_paths" in text
