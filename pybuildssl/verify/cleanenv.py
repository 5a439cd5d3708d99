"""The environment a verified interpreter runs with: the host's, minus everything
that changes trust or Python's behaviour.  Stdlib only."""

from __future__ import annotations

import os
from typing import Mapping


_DROP_PREFIXES = ("PYTHON", "PIP_", "PIPX_", "UV_", "SSL_CERT_", "OPENSSL_", "GIT_SSL_",
                  "REQUESTS_", "CURL_", "CONDA_", "PYBUILDSSL_")
_DROP_PARTS = ("CA_BUNDLE", "CA_CERT", "CACERT", "CAINFO", "CAPATH", "SSL_CERT",
               "SSL_ROOTS")
_DROP_NAMES = {"NODE_EXTRA_CA_CERTS", "NODE_OPTIONS", "NIX_SSL_CERT_FILE", "LD_PRELOAD",
               "LD_LIBRARY_PATH", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__", "PYENV_VERSION"}
_PROXIES = {"http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy"}


def _drops(name: str) -> bool:
    upper = name.upper()
    return (upper.startswith(_DROP_PREFIXES) or upper in _DROP_NAMES
            or any(part in upper for part in _DROP_PARTS) or name.lower() in _PROXIES)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus everything that changes trust or Python's behaviour.

    Drops PYTHON*, PIP_*, PYBUILDSSL_* (the fallback opt-out must not leak in
    from the host), SSL_CERT_*, OPENSSL_*, every *CA_BUNDLE / *CA_CERT* /
    *CAINFO style variable (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, AWS_CA_BUNDLE,
    NODE_EXTRA_CA_CERTS, GIT_SSL_CAINFO, NIX_SSL_CERT_FILE, ...), the proxies,
    LD_PRELOAD/LD_LIBRARY_PATH (they pick the libssl), and sets NO_PROXY=*.
    Keeps PATH, HOME, LANG and the rest.  ``extra`` is applied last.
    """
    env = {k: v for k, v in os.environ.items() if not _drops(k)}
    env["NO_PROXY"] = env["no_proxy"] = "*"
    env.setdefault("PATH", os.defpath)
    if extra:
        env.update(extra)
    return env
