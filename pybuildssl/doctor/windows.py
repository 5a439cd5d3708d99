"""``pybuildssl doctor`` for a Windows Python (python.exe), natively or under Wine on Linux.

Where does trust come from in that Python?  Three possible sources, each
reported with the evidence the interpreter itself gives:

* ``env``: SSL_CERT_FILE / SSL_CERT_DIR set (OpenSSL reads them; CPython's
  enumeration still runs in load_default_certs());
* ``enumeration``: CPython's ``load_default_certs()`` copies the certificates of
  the Windows stores ``SSLContext._windows_cert_stores`` names ("CA", "ROOT") into
  the context: counted with ``cert_store_stats()``; empty when a winstore-only
  patch turned it off;
* ``winstore``: OpenSSL 3.2+ looks issuers up in the current user's ROOT store
  during chain building when ``org.openssl.winstore://`` is in the default verify
  paths (pybuildssl's OpenSSL patch); it cannot enumerate, so it shows as a
  wired URI in ``libcrypto-3.dll``, not as a count.

Under Wine the ROOT store is the one Wine made for the prefix (from the host's
CA bundle); ``--python`` names python.exe or its directory.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .. import wine
from ..errors import UsageError

#: Runs inside python.exe (-I): facts as one JSON line.
PROBE = r"""
import json, os, sys
out = {"python": sys.version.split()[0], "executable": sys.executable}
try:
    import ssl
except Exception as e:
    out["ssl_error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out)); sys.exit(0)
out["openssl"] = ssl.OPENSSL_VERSION
out["env"] = {k: os.environ[k] for k in ("SSL_CERT_FILE", "SSL_CERT_DIR") if k in os.environ}
out["stores"] = list(getattr(ssl.SSLContext, "_windows_cert_stores", ()))
out["patched"] = hasattr(ssl, "_pybuildssl_resolve")
out["windows_mode"] = getattr(ssl, "_PYBUILDSSL_WINDOWS_MODE", None)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_default_certs()
out["enumerated"] = ctx.cert_store_stats()
try:
    out["verify_paths"] = ssl.get_default_verify_paths()._asdict()
except Exception as e:
    out["verify_paths"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))
"""

WINSTORE_URI = b"org.openssl.winstore://"


def is_windows_python(path: str | None) -> bool:
    if not path:
        return False
    p = Path(path)
    return p.name.lower() == "python.exe" or (p.is_dir() and (p / "python.exe").is_file())


def _exe(path: str) -> Path:
    p = Path(path)
    exe = p if p.name.lower() == "python.exe" else p / "python.exe"
    if not exe.is_file():
        raise UsageError(f"--python {path}: no python.exe there", hint="name python.exe or its directory")
    return exe


def winstore_wired(exe: Path) -> bool | None:
    """Is org.openssl.winstore:// compiled into the default verify paths of the DLL beside python.exe?"""
    dll = next((p for p in exe.parent.glob("*.dll") if re.fullmatch(r"libcrypto-3(-x64|-arm64)?\.dll", p.name.lower())),
               None)
    return None if dll is None else WINSTORE_URI in dll.read_bytes()


def run(path: str) -> dict[str, Any]:
    """Facts and the trust sources of the Windows Python at ``path``."""
    exe = _exe(path)
    with tempfile.TemporaryDirectory(prefix="pybuildssl-doctor-") as tmp:
        if sys.platform == "win32":  # pragma: no cover - Windows
            p = subprocess.run([str(exe), "-I", "-c", PROBE], capture_output=True, text=True, timeout=300)
        else:
            try:
                p = wine.run([str(exe), "-I", "-c", PROBE], Path(tmp) / "wineprefix", timeout=600)
            except wine.WineMissing as e:
                raise UsageError(f"cannot run {exe}: {e}") from None
    try:
        facts = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise UsageError(f"{exe} did not run the probe (exit {p.returncode}): {p.stderr.strip()[-500:]}") from None
    facts["winstore_wired"] = winstore_wired(exe)
    facts["under_wine"] = sys.platform != "win32"
    facts["sources"] = sources(facts)
    return facts


def sources(f: dict[str, Any]) -> list[dict[str, str]]:
    """Where default trust comes from, in the order OpenSSL consults it."""
    out = []
    if f.get("env"):
        out.append({"source": "env", "detail": ", ".join(f"{k}={v}" for k, v in f["env"].items())})
    n = (f.get("enumerated") or {}).get("x509_ca", 0)
    if f.get("stores"):
        out.append({"source": "enumeration",
                    "detail": f"load_default_certs() copies the Windows {'+'.join(f['stores'])} stores: {n} CA "
                              "certificates (honours the purposes Windows records)"})
    if f.get("winstore_wired"):
        out.append({"source": "winstore", "detail": "OpenSSL looks issuers up in the current user's ROOT store "
                                                    "(org.openssl.winstore:// in the default verify paths)"})
    return out


def render(f: dict[str, Any]) -> str:
    where = " (under Wine)" if f.get("under_wine") else ""
    lines = [f"Python {f.get('python')} at {f.get('executable')}{where}"]
    if "ssl_error" in f:
        return "\n".join(lines + [f"  ✗ import ssl failed: {f['ssl_error']}"])
    mode = f.get("windows_mode") or "stock (not patched)"
    lines += [f"  {f.get('openssl')}; pybuildssl trust mode: {mode}",
              f"  winstore wired into the default verify paths: "
              + {True: "yes", False: "no", None: "unknown (no libcrypto-3.dll beside python.exe)"}[f.get("winstore_wired")],
              "  trust comes from:"]
    for s in f["sources"] or [{"source": "nothing", "detail": "no store: every verified handshake fails"}]:
        lines.append(f"    - {s['source']}: {s['detail']}")
    return "\n".join(lines)
