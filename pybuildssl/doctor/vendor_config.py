"""doctor: ``ssl`` fails because of the host's openssl.cnf (pure; the ``vendor_config_fails`` rule calls it).

RHEL 9's ``/etc/pki/tls/openssl.cnf`` (and Fedora's and Amazon Linux 2023's)
sets ``config_diagnostics = 1``, which makes every configuration error fatal,
and crypto-policies add ``rh-allow-sha1-signatures`` to its ``alg_section``:
an upstream OpenSSL refuses that key, so its first ``SSL_CTX_new`` fails
(``[CONF: MODULE_INITIALIZATION_ERROR]``), or, in a Python with one shared
libcrypto where ``hashlib`` came first, ``ssl`` in another thread fails with
``unknown error``.

The fix that works at once: ``OPENSSL_CONF`` naming a small file that
includes the host's and turns diagnostics off again (the ``[default]``
section re-opened after the include); the host's policy still applies
wherever this OpenSSL understands it.  A rebuild with this pybuildssl also
works: its OpenSSL never fails on the host's file (docs/vendor-config.md).
Rebuilding with another OPENSSLDIR does not: every RHEL path reads the same
file.
"""

from __future__ import annotations

import shlex
from typing import Any, Mapping

#: Where the wrapper goes (the user's own configuration directory).
WRAPPER = "$HOME/.config/pybuildssl/openssl.cnf"

#: Error texts of this class (OpenSSL's reason names as CPython prints them).
_SIGNS = ("MODULE_INITIALIZATION_ERROR", "UNKNOWN_MODULE_NAME", "ERROR_IN_SYSTEM_DEFAULT_CONFIG",
          "unknown option", "unknown error")


def wrapper_text(cnf: str) -> str:
    """The OPENSSL_CONF file: the host's configuration, errors not fatal."""
    return (f"# pybuildssl doctor: {cnf} with config_diagnostics off, so that keys this\n"
            "# OpenSSL does not know are skipped instead of failing every TLS context.\n"
            f".include {cnf}\n[default]\nconfig_diagnostics = 0\n")


def is_vendor_config_failure(error: str, cfg: Mapping[str, Any] | None) -> bool:
    """Does ``create_default_context()``'s ``error`` come from a host file with diagnostics on?"""
    if not cfg or not cfg.get("exists") or not any(s in (error or "") for s in _SIGNS):
        return False
    try:
        return int(str(cfg.get("diagnostics") or "0"), 0) > 0
    except ValueError:
        return False


def explain(error: str, cfg: Mapping[str, Any]) -> tuple[str, str, list[str], str]:
    """(problem message, fix title, fix commands, fix note) for this class."""
    cnf = cfg["path"]
    keys = ", ".join(cfg.get("vendor_keys") or []) or "keys or modules this OpenSSL does not have"
    message = (f"ssl.create_default_context() raises {error}: {cnf} sets config_diagnostics = "
               f"{cfg.get('diagnostics')}, which makes every configuration error fatal, and it (or a file it "
               f"includes) holds {keys}, known only to the vendor's own OpenSSL")
    q = shlex.quote(cnf)
    commands = [
        f'mkdir -p "{WRAPPER.rsplit("/", 1)[0]}"',
        f"printf '.include %s\\n[default]\\nconfig_diagnostics = 0\\n' {q} > \"{WRAPPER}\"",
        f'export OPENSSL_CONF="{WRAPPER}"',
    ]
    note = (f"OpenSSL then reads {cnf} with errors not fatal: the system policy (protocols, TLS 1.3 "
            "suites, groups, signature algorithms) still applies where this OpenSSL understands it. "
            "OPENSSL_CONF reaches child processes too; a Python built by this pybuildssl needs none of it")
    return message, "Read the system openssl.cnf with its errors not fatal (OPENSSL_CONF wrapper)", commands, note
