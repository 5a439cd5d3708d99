"""Real TLS handshakes from inside the artifact, under vendor layouts in private
mount namespaces: the system CA is trusted, an unknown CA and a wrong host refused."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from ... import probing
from ..cleanenv import clean_env
from ..registry import Check
from ..report import FAIL, PASS, SKIP, Report
from ..target import Target, timing
from .ssl import source_text


@dataclass
class TLSWorld:
    """A trusted test CA, an unknown one, and three loopback servers."""

    ca: Any
    servers: dict[str, Any]

    def handshakes(self, clients: tuple[str, ...] = ("urllib", "http.client", "set_default_verify_paths")) -> list[dict]:
        out = [{"id": f"trusted/{c}", "url": self.servers["trusted"].url(), "client": c} for c in clients]
        out.append({"id": "unknown-ca", "url": self.servers["unknown"].url(), "client": "urllib"})
        out.append({"id": "wrong-host", "url": self.servers["wrong"].url(), "client": "urllib"})
        return out


@contextmanager
def tls_world() -> Iterator[TLSWorld]:
    from ..tls import CA, HTTPSServer

    ca = CA("pybuildssl verify CA")
    other = CA("pybuildssl verify unknown CA")
    with HTTPSServer(ca.issue("localhost", "127.0.0.1")) as good, \
            HTTPSServer(other.issue("localhost", "127.0.0.1")) as unknown, \
            HTTPSServer(ca.issue("wrong.invalid")) as wrong:
        yield TLSWorld(ca=ca, servers={"trusted": good, "unknown": unknown, "wrong": wrong})


def _judge(hs: list[dict]) -> tuple[list[str], list[str]]:
    """(problems, notes) for a set of handshake results from the probe."""
    problems, notes = [], []
    for h in hs:
        if h["id"].startswith("trusted/"):
            if not h.get("ok"):
                problems.append(f"{h['client']} did not trust the system CA: {h.get('error')}")
        elif h.get("ok"):
            problems.append(f"{h['id']}: the handshake succeeded but must be refused")
        elif h["id"] == "unknown-ca" and h.get("kind") != "cert-verify":
            problems.append(f"unknown-ca failed for another reason than verification: {h.get('error')}")
        elif h["id"] == "wrong-host" and "hostname" not in (h.get("verify_message") or h.get("error") or "").lower() \
                and "match" not in (h.get("error") or "").lower():
            problems.append(f"wrong-host failed for another reason than the hostname: {h.get('error')}")
        else:
            notes.append(f"{h['id']} refused")
    return problems, notes


def check_tls(t: Target, r: Report, vendors: list[str], *, host_vendor: str) -> None:
    """Real handshakes under each vendor layout, in private mount namespaces."""
    from .. import sandbox

    ids = ["tls.trusted", "tls.unknown-ca", "tls.wrong-host"] + [f"layout.{v}" for v in vendors if v != host_vendor]
    if not t.runnable:
        for cid in ids:
            r.add(cid, SKIP, f"needs a {t.os} host: run `pybuildssl verify` there")
        return
    try:
        sandbox.check_available()
    except sandbox.SandboxUnavailable as e:
        for cid in ids:
            r.add(cid, SKIP, f"mount namespaces unavailable: {e.reason}")
        return
    with tls_world() as world:
        request = probing.probe_request(handshakes=world.handshakes())
        for vendor in [host_vendor] + [v for v in vendors if v != host_vendor]:
            with timing(r):
                layout = sandbox.layout_for(vendor, [world.ca.cert_pem])

                def runner(argv, env, data, layout=layout):
                    return sandbox.run_in_layout(layout, argv, env=env, input=data, timeout=60)

                facts, err = probing.run_probe(t.interpreter, request, env=clean_env(), runner=runner)
                if facts is None:
                    r.add(f"layout.{vendor}" if vendor != host_vendor else "tls.trusted", FAIL,
                          f"the probe did not run under the {vendor} layout: {err}")
                    continue
                hs = facts["handshakes"]
                if not facts["ssl"].get("ok"):
                    for cid in (["tls.trusted", "tls.unknown-ca", "tls.wrong-host"] if vendor == host_vendor
                                else [f"layout.{vendor}"]):
                        r.add(cid, FAIL, f"no handshake possible: import ssl failed ({facts['ssl'].get('error')})")
                    continue
                if vendor == host_vendor:
                    _host_findings(r, vendor, facts, hs)
                else:
                    problems, notes = _judge(hs)
                    res = facts["ssl"].get("resolve") or facts["ssl"].get("would_resolve") or {}
                    where = res.get("cafile") or res.get("capath") or "compiled defaults"
                    r.add(f"layout.{vendor}", FAIL if problems else PASS,
                          "; ".join(problems) if problems else
                          f"trusted via {where} ({source_text(facts['ssl'].get('resolve'))}); "
                          "unknown CA and wrong host refused",
                          handshakes=hs)


def _host_findings(r: Report, vendor: str, facts: dict, hs: list[dict]) -> None:
    trusted = [h for h in hs if h["id"].startswith("trusted/")]
    bad = [h for h in trusted if not h.get("ok")]
    res = facts["ssl"].get("resolve") or {}
    r.add("tls.trusted", FAIL if bad else PASS,
          ("; ".join(f"{h['client']}: {h.get('error')}" for h in bad)) if bad else
          f"a CA in the {vendor} system store is trusted by " + ", ".join(h["client"] for h in trusted)
          + f" (from {source_text(res) if res else 'stock rules'})", handshakes=trusted)
    for hid, cid, want in (("unknown-ca", "tls.unknown-ca", "certificate verify failed"),
                           ("wrong-host", "tls.wrong-host", "hostname mismatch")):
        h = next(x for x in hs if x["id"] == hid)
        problems, _ = _judge([h])
        r.add(cid, FAIL if problems else PASS, problems[0] if problems else f"refused: {h.get('error')}"[:200],
              handshake=h)


CHECKS = [
    Check("tls.trusted", "`urllib`, `http.client` and `set_default_verify_paths()` (pip's truststore path) trust a "
          "loopback server whose CA is only in the host vendor's store (private mount namespace)", True, check_tls),
    Check("tls.unknown-ca", "a server whose CA is not in the store is refused with a certificate verification error",
          True, check_tls),
    Check("tls.wrong-host", "a certificate issued for another name is refused for the hostname", True, check_tls),
    Check("layout.*", "the same handshakes under another vendor's layout (`--layouts`, e.g. `rhel` or `all`): "
          "trusted through the compiled defaults or the baked fallback, unknown CA and wrong host refused. "
          "The vendor-configuration layouts (`rhel-config`, `rhel-config-legacy`, `rhel-config-future`, "
          "`rhel-config-fips`, all in `all`) lay RHEL 9's own `openssl.cnf` (`config_diagnostics = 1`) and "
          "crypto-policies' back-ends, as shipped, over the rhel trust layout, linked into the artifact's "
          "OPENSSLDIR ([vendor-config.md](vendor-config.md)): a client with `ssl` first, one with `hashlib` "
          "first and one with `hashlib` first and `ssl` in a thread each complete a handshake, and the "
          "default context offers exactly the policy's TLS 1.3 suites; an OpenSSL that fails on the file "
          "fails here (`[CONF: MODULE_INITIALIZATION_ERROR]`, `unknown error`)", True, check_tls),
]
