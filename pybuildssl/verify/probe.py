"""The probe: runs INSIDE the interpreter under test and reports facts as JSON.

Standard library only, Python 3.9+.  ``verify`` and ``doctor`` run it as
``PYTHON -I probe.py`` with a clean environment and a JSON request on stdin:

    {"block": "<rendered ssl patch for this OS>",   # the usability/safety rules
     "locations": [["file", "/etc/ssl/cert.pem"], ...],
     "handshakes": [{"id": "...", "url": "https://localhost:PORT/", "client": "urllib"}],
     "modules": ["sqlite3", ...],
     "compiled_locations": true}                     # optional: also describe the
                                                     # openssl_cafile/capath locations

It never decides pass or fail: it reports; the host turns facts into findings.
``ssl`` is the FIRST module of OpenSSL's users to be imported (before hashlib
or urllib), because OpenSSL reads its configuration file at its first use and
a broken vendor openssl.cnf only shows when ``ssl`` comes first.
"""

import json
import os
import sys

TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT",
             "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE", "NIX_SSL_CERT_FILE",
             "HTTPLIB2_CA_CERTS", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "OPENSSL_CONF", "OPENSSL_MODULES",
             "PYBUILDSSL_NO_FALLBACK")
PEM = b"-----BEGIN CERTIFICATE-----"


def _err(e):
    return "%s: %s" % (type(e).__name__, e)


def python_facts():
    import sysconfig

    return {
        "version": sys.version.split()[0],
        "version_info": list(sys.version_info[:3]),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "exec_prefix": sys.exec_prefix,
        "platform": sys.platform,
        "implementation": sys.implementation.name,
        "paths": sysconfig.get_paths(),
        "config": {k: sysconfig.get_config_var(k) for k in ("prefix", "exec_prefix", "LIBDIR", "INCLUDEPY",
                                                            "LIBPL", "BINDIR", "CONFIG_ARGS", "LDFLAGS")},
    }


def ssl_facts(block):
    out = {"ok": False}
    try:
        import ssl
    except Exception as e:  # the _ssl extension is missing or does not load
        out["error"] = _err(e)
        return out, None, None
    out["ok"] = True
    out["OPENSSL_VERSION"] = ssl.OPENSSL_VERSION
    out["OPENSSL_VERSION_INFO"] = list(ssl.OPENSSL_VERSION_INFO)
    api = getattr(ssl, "_OPENSSL_API_VERSION", None)
    out["built_against"] = list(api) if api else None
    import _ssl

    out["module_file"] = getattr(_ssl, "__file__", None)
    out["ssl_py"] = ssl.__file__
    try:
        out["verify_paths"] = ssl.get_default_verify_paths()._asdict()
    except Exception as e:
        out["verify_paths_error"] = _err(e)
    patched = hasattr(ssl, "_pybuildssl_resolve")
    out["patched"] = patched
    if patched:
        try:
            out["resolve"] = ssl._pybuildssl_resolve(explain=True)
            out["patch_version"] = getattr(ssl, "_PYBUILDSSL_PATCH_VERSION", None)
            out["fallback"] = [list(x) for x in getattr(ssl, "_PYBUILDSSL_FALLBACK", ())]
        except Exception as e:
            out["resolve_error"] = _err(e)
    rules = None
    if block:
        # The same rules the patch applies, run here on a throwaway class so an
        # unpatched interpreter is probed with the very same definitions.
        ns = dict(vars(ssl))
        ns["SSLContext"] = type("SSLContext", (ssl.SSLContext,), {})
        ns["get_default_verify_paths"] = getattr(ssl, "_pybuildssl_stock_get_default_verify_paths",
                                                 ssl.get_default_verify_paths)
        exec(compile(block, "<pybuildssl rules>", "exec"), ns)
        rules = ns
        if not patched:
            try:
                out["would_resolve"] = ns["_pybuildssl_resolve"](explain=True)
            except Exception as e:
                out["would_resolve_error"] = _err(e)
        # Is what get_default_verify_paths() names usable?  By the same rules.
        vp = out.get("verify_paths") or {}
        out["verify_paths_usable"] = {
            key: ns["_pybuildssl_probe"](kind, vp[key], False) or "usable"
            for kind, key in (("file", "cafile"), ("dir", "capath")) if vp.get(key)}
    try:
        ctx = ssl.create_default_context()
        out["default_context"] = {"ok": True, "stats": ctx.cert_store_stats()}
    except Exception as e:
        out["default_context"] = {"ok": False, "error": _err(e)}
    return out, ssl, rules


def location_facts(locations, rules):
    out = []
    for kind, path in locations:
        item = {"kind": kind, "path": path, "exists": os.path.exists(path)}
        if rules is not None:
            item["verdict"] = rules["_pybuildssl_probe"](kind, path, True) or "usable"
            item["verdict_unsafe_ok"] = rules["_pybuildssl_probe"](kind, path, False) or "usable"
        try:
            if kind == "file" and os.path.isfile(path):
                with open(path, "rb") as f:
                    item["certs"] = f.read().count(PEM)
            elif kind == "dir" and os.path.isdir(path):
                names = os.listdir(path)
                if rules is not None:  # the patch's own name rule, not a copy
                    item["hashed"] = sum(1 for n in names if rules["_pybuildssl_hash_entry"](n) == "cert")
                item["entries"] = len(names)
            st = os.stat(path)
            item["mode"] = oct(st.st_mode & 0o7777)
            item["uid"] = st.st_uid
        except OSError as e:
            item["error"] = _err(e)
        out.append(item)
    return out


def handshake(ssl, spec):
    """One real HTTPS request with the default context, as users make it."""
    url = spec["url"]
    client = spec.get("client", "urllib")
    res = {"id": spec.get("id", url), "url": url, "client": client}
    try:
        if client == "urllib":
            import urllib.request

            with urllib.request.urlopen(url, timeout=10) as r:
                res["status"] = r.status
                res["body"] = r.read(200).decode("latin-1")
        elif client == "http.client":
            import http.client
            import urllib.parse

            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10,
                                               context=ssl.create_default_context())
            conn.request("GET", u.path or "/")
            r = conn.getresponse()
            res["status"] = r.status
            res["body"] = r.read(200).decode("latin-1")
            conn.close()
        elif client == "set_default_verify_paths":
            # truststore's (and so pip's) way: read the reported paths, then load them.
            import socket
            import urllib.parse

            u = urllib.parse.urlsplit(url)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.set_default_verify_paths()
            with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
                with ctx.wrap_socket(sock, server_hostname=u.hostname) as tls:
                    res["status"] = 0
                    res["body"] = tls.version()
        else:
            raise ValueError("unknown client %r" % client)
        res["ok"] = True
    except Exception as e:
        res["ok"] = False
        res["error"] = _err(e)
        reason = e
        while getattr(reason, "reason", None) is not None and not isinstance(reason, ssl.SSLError):
            reason = reason.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            res["verify_code"] = reason.verify_code
            res["verify_message"] = reason.verify_message
            res["kind"] = "cert-verify"
        elif isinstance(reason, ssl.SSLError):
            res["kind"] = "ssl"
        elif isinstance(reason, OSError):
            res["kind"] = "network"
        else:
            res["kind"] = "other"
    return res


def module_facts(names):
    import importlib

    out = {}
    for name in names:
        try:
            importlib.import_module(name)
            out[name] = "ok"
        except Exception as e:
            out[name] = _err(e)
    return out


def config_facts(verify_paths):
    """The openssl.cnf OpenSSL reads at its first use (OPENSSL_CONF, else
    OPENSSLDIR/openssl.cnf): whether it makes configuration errors fatal and
    which keys only a vendor's OpenSSL knows it (or a file it includes) holds."""
    import re

    cafile = (verify_paths or {}).get("openssl_cafile")
    path = os.environ.get("OPENSSL_CONF") or (os.path.join(os.path.dirname(cafile), "openssl.cnf")
                                              if cafile else None)
    out = {"path": path, "exists": bool(path) and os.path.isfile(path), "diagnostics": None,
           "vendor_keys": [], "includes": []}
    if not out["exists"]:
        return out
    texts = []
    try:
        with open(path, "rb") as f:
            texts.append(f.read(1 << 16).decode("utf-8", "replace"))
    except OSError as e:
        out["error"] = _err(e)
        return out
    for inc in re.findall(r"(?m)^[ \t]*\.include[ \t]*=?[ \t]*(\S+)", texts[0]):
        out["includes"].append(inc)
        names = sorted(os.path.join(inc, n) for n in os.listdir(inc)) if os.path.isdir(inc) else [inc]
        for name in names:
            try:
                with open(name, "rb") as f:
                    texts.append(f.read(1 << 16).decode("utf-8", "replace"))
            except OSError:
                pass
    head = re.split(r"(?m)^[ \t]*\[", texts[0], 1)[0]  # the default section
    m = re.findall(r"(?m)^[ \t]*config_diagnostics[ \t]*=[ \t]*(\S+)", head)
    out["diagnostics"] = m[-1] if m else None
    for key in ("rh-allow-sha1-signatures", "RHNoEnforceEMSinFIPS"):
        if any(re.search(r"(?m)^[^#\n]*" + re.escape(key), t) for t in texts):
            out["vendor_keys"].append(key)
    return out


def main():
    request = json.loads(sys.stdin.read() or "{}")
    facts = {"probe": 1}
    ssl_out, ssl, rules = ssl_facts(request.get("block"))  # ssl first: see the docstring
    facts["ssl"] = ssl_out
    facts["python"] = python_facts()
    facts["env"] = {k: os.environ[k] for k in TRUST_ENV if k in os.environ}
    facts["locations"] = location_facts(request.get("locations", []), rules)
    facts["handshakes"] = [handshake(ssl, h) for h in request.get("handshakes", [])] if ssl else []
    facts["modules"] = module_facts(request.get("modules", []))
    if request.get("compiled_locations"):
        # doctor: OpenSSL's compiled defaults, known only in here, described like the others.
        vp = ssl_out.get("verify_paths") or {}
        compiled = [(k, vp.get(key)) for k, key in (("file", "openssl_cafile"), ("dir", "openssl_capath"))]
        facts["compiled_locations"] = location_facts([(k, p) for k, p in compiled if p], rules)
        facts["openssl_config"] = config_facts(vp)
    sys.stdout.write(json.dumps(facts, default=str))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
