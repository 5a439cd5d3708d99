"""``--check-url``: the probe's handshake result in plain words.  Pure."""

from __future__ import annotations

import re
from typing import Any, Mapping

#: OpenSSL X509_V_ERR_* codes doctor puts into words.
_UNKNOWN_ISSUER = {2, 18, 19, 20, 21, 24}
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH = {62, 63, 64}


def url_result(facts: Mapping[str, Any] | None, url: str | None) -> dict[str, Any]:
    """The ``check-url`` handshake of the probe's facts, explained (``not tried`` without facts)."""
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
    elif err.startswith("HTTPError"):
        m = re.search(r"HTTP Error (\d+)", err)
        out.update(ok=True, outcome="verified", status=int(m.group(1)) if m else None, title="verified",
                   explanation=f"TLS verification succeeded; the server then answered {err.split(': ', 1)[-1]}")
    elif h.get("kind") == "cert-verify":
        out.update(_certificate_refused(h.get("verify_code"), (h.get("verify_message") or err).strip()))
    elif h.get("kind") == "network":
        out.update(outcome="no-network", title="no network",
                   explanation=f"{_network_failure(err.lower())}; no TLS was attempted ({err})")
    elif h.get("kind") == "ssl":
        out.update(outcome="tls", title="TLS handshake failed", explanation=f"{_tls_failure(err)} ({err})")
    else:
        out.update(outcome="other", title="request failed", explanation=err)
    return out


def _certificate_refused(code: Any, msg: str) -> dict[str, str]:
    if code in _NAME_MISMATCH or "mismatch" in msg.lower():
        return dict(outcome="hostname-mismatch", title="hostname mismatch",
                    explanation=f"the certificate is valid, but not for this host name ({msg}): check the "
                    "URL, or whether a proxy or captive portal answers instead")
    if code == _EXPIRED:
        return dict(outcome="expired", title="certificate expired",
                    explanation="the server's certificate (or one in its chain) has expired; if it should "
                    "not have, check this machine's clock (`date -u`)")
    if code == _NOT_YET_VALID:
        return dict(outcome="not-yet-valid", title="certificate not yet valid",
                    explanation="the certificate's validity starts in the future: this machine's clock is "
                    "probably wrong (`date -u`)")
    if code in _UNKNOWN_ISSUER:
        self_signed = code in (18, 19)
        return dict(outcome="unknown-issuer", title="unknown issuer" + (" (self-signed)" if self_signed else ""),
                    explanation="the certificate was issued by a CA this Python does not trust"
                    + (": the chain ends in a self-signed certificate that is not in the store"
                       if self_signed else "") + f" ({msg})")
    return dict(outcome="certificate", title="certificate refused", explanation=msg)


def _network_failure(low: str) -> str:
    if "name or service not known" in low or "gaierror" in low or "nodename nor servname" in low \
            or "name resolution" in low or "no address associated" in low:
        return "the host name does not resolve (DNS)"
    if "refused" in low:
        return "the connection was refused (nothing listens on that port)"
    if "timed out" in low or "timeout" in low:
        return "the connection timed out (a firewall, a proxy needed, or the host is down)"
    if "unreachable" in low:
        return "the network is unreachable"
    return "the connection failed"


def _tls_failure(err: str) -> str:
    if "WRONG_VERSION_NUMBER" in err or "record layer failure" in err.lower():
        return "the server did not answer with TLS (plain HTTP on this port, or an intercepting proxy)"
    if "PROTOCOL_VERSION" in err or "UNSUPPORTED_PROTOCOL" in err:
        return "client and server share no TLS version"
    return "the TLS handshake failed for another reason than the certificate"
