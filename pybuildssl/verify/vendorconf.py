"""Vendor OpenSSL configurations: does ``ssl`` work whatever OpenSSL's first user is?

RHEL 9's ``openssl.cnf`` (and Fedora's and Amazon Linux 2023's, from the same
patch set) sets ``config_diagnostics = 1`` and crypto-policies put
``rh-allow-sha1-signatures`` in its ``alg_section``: upstream OpenSSL 3 fails
its first ``SSL_CTX_new`` on that file (``[CONF: MODULE_INITIALIZATION_ERROR]``
from ``ssl.create_default_context()``) when ``ssl`` is OpenSSL's first user;
with one libcrypto per process, ``hashlib`` first hides the failure in that
thread only (the failed load is remembered; only the thread that ran it skips
the check later).  A pybuildssl artifact fails in every order: ``_ssl`` and
``_hashlib`` each link their own static OpenSSL.

The files are the vendor's, as shipped (``pybuildssl/data/vendor-cnf/``,
``configs.toml`` says where each goes).  A layout lays them out over the
layout table's trust store of the vendor and links ``openssl.cnf`` into the
interpreter's OPENSSLDIR when that differs from the vendor's, as on a host
whose ``/etc/ssl/openssl.cnf`` is the vendor's or with ``OPENSSL_CONF`` set to
it.  :func:`check` runs one client per first-user order (``ssl``, ``hashlib``,
``hashlib`` then ``ssl`` in a thread) and asks for a handshake with a CA of
the system store and for the TLS 1.3 suites the policy allows.
"""

from __future__ import annotations

import functools
import json
import posixpath
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

from .. import _toml, layouts
from ..manifest import Manifest
from .report import FAIL, PASS, SKIP, Report

#: First-user orders every layout is tried in.
ORDERS = ("ssl", "hashlib", "thread")

CLIENT = r"""
import json, sys, threading
order, url = sys.argv[1], sys.argv[2]
out = {"order": order}
if order in ("hashlib", "thread"):
    import hashlib  # OpenSSL reads its configuration now, before ssl
    out["sha256"] = hashlib.sha256(b"pybuildssl").hexdigest()[:12]
import ssl, socket, urllib.parse
def go():
    try:
        ctx = ssl.create_default_context()
        out["tls13"] = [c["name"] for c in ctx.get_ciphers() if c.get("protocol") == "TLSv1.3"]
        u = urllib.parse.urlsplit(url)
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=u.hostname) as t:
                out.update(ok=True, version=t.version(), cipher=t.cipher()[0])
    except Exception as e:
        out.update(ok=False, error="%s: %s" % (type(e).__name__, e))
if order == "thread":
    th = threading.Thread(target=go)
    th.start()
    th.join()
else:
    go()
print(json.dumps(out))
"""


@dataclass(frozen=True)
class VendorConfig:
    name: str
    vendor: str
    policy: str
    description: str
    files: tuple[tuple[str, str], ...]   # (path in the namespace, file under data/vendor-cnf)
    dirs: tuple[str, ...]
    ciphersuites: tuple[str, ...]

    @property
    def cnf_path(self) -> str:
        return next(p for p, _ in self.files if posixpath.basename(p) == "openssl.cnf")


def _data() -> Path:
    return Path(str(resources.files("pybuildssl").joinpath("data/vendor-cnf")))


@functools.lru_cache(maxsize=1)
def load() -> dict[str, VendorConfig]:
    """``configs.toml``: layout name -> :class:`VendorConfig`."""
    raw = _toml.loads((_data() / "configs.toml").read_text("utf-8"))
    table = layouts.load()
    out = {}
    for name, e in raw.items():
        table.vendor(e["vendor"], where=f"configs.toml [{name}] vendor")
        out[name] = VendorConfig(name=name, vendor=e["vendor"], policy=e["policy"],
                                 description=e["description"], files=tuple(sorted(e["files"].items())),
                                 dirs=tuple(e.get("dirs", ())), ciphersuites=tuple(e["ciphersuites"]))
    return out


def names() -> list[str]:
    return list(load())


def read(rel: str) -> bytes:
    return (_data() / rel).read_bytes()


def layout(name: str, cas_pem=(), *, openssldir: str | None = None, host_roots=True):
    """The vendor's trust store with its configuration files, as a sandbox Layout."""
    from . import sandbox

    c = load()[name]
    base = sandbox.layout_for(c.vendor, cas_pem, host_roots=host_roots)
    hide = set(base.hide)
    for path, _ in c.files:
        if not any(sandbox._under(path, h) for h in hide):
            hide.add("/" + "/".join(path.strip("/").split("/")[:2]))  # /etc/crypto-policies
    entries: list = [sandbox.FileSpec(path, read(rel)) for path, rel in c.files]
    entries += [sandbox.DirSpec(d) for d in c.dirs]
    links = list(base.links)
    if openssldir and openssldir != posixpath.dirname(c.cnf_path):
        target = posixpath.join(openssldir, "openssl.cnf")
        if any(sandbox._under(target, h) for h in hide) and base.entry(target) is None:
            links.append((target, c.cnf_path))
    files = base.files + tuple(e for e in entries if isinstance(e, sandbox.FileSpec))
    dirs = base.dirs + tuple(e for e in entries if isinstance(e, sandbox.DirSpec))
    return sandbox.Layout(hide=tuple(hide), files=files, dirs=dirs, links=tuple(links), name=name)


def run_client(interpreter, lay, url: str, order: str, *, env=None) -> dict:
    """One client under ``lay``: a JSON dict (``ok``, ``error``, ``version``, ``tls13``)."""
    from . import sandbox

    r = sandbox.run_in_layout(lay, [str(interpreter), "-I", "-B", "-c", CLIENT, order, url],
                              env=env, timeout=60)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"order": order, "ok": False,
                "error": f"exit code {r.returncode}: " + " | ".join((r.stderr or "").strip().splitlines()[-3:])}


def judge(c: VendorConfig, results: list[dict]) -> list[str]:
    """Problems with one layout's results (empty: it works and the policy is in force)."""
    problems = []
    for res in results:
        first = "hashlib first, ssl in a thread" if res["order"] == "thread" else f"{res['order']} first"
        if not res.get("ok"):
            problems.append(f"{first}: {res.get('error')}")
        elif tuple(res.get("tls13") or ()) != c.ciphersuites:
            problems.append(f"{first}: the {c.policy} policy is not in force: the default context offers "
                            f"TLS 1.3 suites {res.get('tls13')}, the policy allows {list(c.ciphersuites)}")
    return problems


def openssldir_of(manifest: Manifest | None, facts: dict | None) -> str | None:
    d = manifest.openssl.openssldir if manifest else None
    if d:
        return d
    cafile = (((facts or {}).get("ssl") or {}).get("verify_paths") or {}).get("openssl_cafile")
    return posixpath.dirname(cafile) if cafile else None


def check(interpreter, r: Report, wanted: list[str], *, openssldir: str | None, runnable: bool = True,
          os_name: str = "linux") -> None:
    """``layout.NAME`` findings for the vendor-configuration layouts in ``wanted``."""
    from . import sandbox, tls

    if not wanted:
        return
    if not runnable:
        for name in wanted:
            r.add(f"layout.{name}", SKIP, f"needs a {os_name} host: run `pybuildssl verify` there")
        return
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as e:
        for name in wanted:
            r.add(f"layout.{name}", SKIP, f"mount namespaces unavailable: {e.reason}")
        return
    ca = tls.CA("pybuildssl vendor-config CA")
    with tls.HTTPSServer(ca.issue("localhost", "127.0.0.1")) as srv:
        for name in wanted:
            c = load()[name]
            lay = layout(name, [ca.cert_pem], openssldir=openssldir)
            results = [run_client(interpreter, lay, srv.url(), order) for order in ORDERS]
            problems = judge(c, results)
            r.add(f"layout.{name}", FAIL if problems else PASS,
                  "; ".join(problems)[:600] if problems else
                  f"{c.description}: ssl works with ssl first, hashlib first and in a thread; "
                  f"TLS 1.3 suites are the {c.policy} policy's", clients=results)


def iter_files() -> Iterator[tuple[str, str]]:
    """Every (layout, data file) pair, for tests that want them all present."""
    for c in load().values():
        for _, rel in c.files:
            yield c.name, rel
