#!/usr/bin/env python3
"""An older Debian root to run an artifact in: does it start on glibc 2.31?

``debootstrap --variant=minbase --include=ca-certificates bullseye`` from the
Debian mirror the machine's apt already uses (never a hard-wired host), cached
by date under ``$PYBUILDSSL_CACHE/oldroot/`` (a root older than a day is
made again; older ones are removed), copied for each use so every run starts
clean.  :func:`check_artifact` copies an artifact in, adds a test CA the
Debian way (``/usr/local/share/ca-certificates`` + ``update-ca-certificates``
inside the root), and runs a script under ``chroot`` that imports the
extension modules and makes a verified HTTPS request to a loopback server
whose certificate that CA issued.  The chroot runs in private mount and PID
namespaces with a /proc of its own (glibc resolves ``$ORIGIN`` in RUNPATH
through /proc/self/exe, as on any real system; nothing is mounted on the
host) and shares the host's network namespace, so 127.0.0.1 is the same
loopback.

    python3 ci/oldroot.py ARTIFACT      # prints the check's JSON; exit 1 when it fails

Needs root (debootstrap, chroot, unshare) and the debootstrap package (ci/setup.sh
installs it).
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from pybuildssl.cache import default_cache_dir  # noqa: E402  (a stdlib-only leaf)

SUITE = "bullseye"            # Debian 11, glibc 2.31
SUITE_GLIBC = "2.31"
WHERE = "/opt/moved python"   # inside the root: a path with a space, not the build prefix
TEST_CA_NAME = "pybuildssl-oldroot-test.crt"

#: What runs inside the root, with the artifact's own interpreter.
CHECK_SCRIPT = r"""
import json, os, sys
out = {"glibc": os.confstr("CS_GNU_LIBC_VERSION"), "modules": {}, "python": sys.version.split()[0]}
for name in ("ssl", "sqlite3", "ctypes", "lzma", "bz2", "zlib", "readline", "curses", "uuid",
             "_curses_panel", "_hashlib", "decimal", "pyexpat"):
    try:
        __import__(name)
        out["modules"][name] = "ok"
    except Exception as e:
        out["modules"][name] = f"{type(e).__name__}: {e}"
try:
    import bz2, ctypes, lzma, sqlite3, uuid, zlib
    data = b"pybuildssl" * 100
    assert lzma.decompress(lzma.compress(data)) == data
    assert bz2.decompress(bz2.compress(data)) == data
    assert zlib.decompress(zlib.compress(data)) == data
    con = sqlite3.connect(":memory:")
    out["sqlite"] = con.execute("select sqlite_version()").fetchone()[0]
    con.execute("create virtual table t using fts5(x)")
    out["ctypes_getpid"] = ctypes.CDLL(None).getpid() == os.getpid()
    out["uuid"] = str(uuid.uuid4()).count("-") == 4
    import readline
    out["readline"] = getattr(readline, "_READLINE_LIBRARY_VERSION", "?")
except Exception as e:
    out["functional"] = f"{type(e).__name__}: {e}"
import ssl, urllib.request
out["openssl"] = ssl.OPENSSL_VERSION
out["verify_paths"] = ssl.get_default_verify_paths()._asdict()
try:
    with urllib.request.urlopen(sys.argv[1], timeout=20) as r:
        out["https"] = [r.status, r.read(64).decode("ascii", "replace")]
except Exception as e:
    out["https"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
"""


def _fetch_sources():
    spec = importlib.util.spec_from_file_location("fetch_sources", REPO / "ci" / "fetch_sources.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fetch_sources", mod)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def mirror_uri() -> str:
    """The Debian archive URI the machine's apt configuration already uses."""
    fs = _fetch_sources()
    main, _ = fs.pick_archive_uris(fs.indextargets(), str(fs.sources_file_path(fs.DEFAULT_SUITE)))
    if not main:
        raise RuntimeError("apt knows no Debian archive (run apt-get update first)")
    return main


def cache_dir() -> Path:
    return default_cache_dir() / "oldroot"


def ensure_root(*, suite: str = SUITE, include: tuple[str, ...] = ("ca-certificates",),
                today: datetime.date | None = None, log=lambda m: print(m, file=sys.stderr)) -> Path:
    """The cached ``debootstrap --variant=minbase`` root of ``suite`` (plus ``include``) for
    today, made when missing; older ones of the same kind are removed."""
    day = (today or datetime.date.today()).isoformat()
    base = cache_dir()
    kind = f"{suite}-minbase" + "".join(f"+{p}" for p in include)
    root = base / f"{kind}-{day}"
    stamp = root / ".pybuildssl-complete"
    if stamp.is_file():
        return root
    if os.geteuid() != 0:
        raise PermissionError("debootstrap needs root")
    if shutil.which("debootstrap") is None:
        raise FileNotFoundError("debootstrap is missing: apt-get install -y debootstrap")
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob(f"{kind}-2*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{suite}-", dir=base))
    uri = mirror_uri()
    log(f"debootstrap --variant=minbase {suite} from {uri} (cached by date in {base})")
    argv = ["debootstrap", "--variant=minbase"] + ([f"--include={','.join(include)}"] if include else [])
    proc = subprocess.run(argv + [suite, str(tmp), uri], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"debootstrap failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")
    (tmp / ".pybuildssl-complete").write_text(f"{kind} {day} {uri}\n")
    os.replace(tmp, root)
    return root


def in_root(root: Path, argv: list[str]) -> list[str]:
    """argv run inside ``root``: chroot, in private mount and PID namespaces with a /proc of their
    own (glibc resolves ``$ORIGIN`` in RUNPATH through /proc/self/exe, as on any real system);
    nothing is mounted on the host."""
    return ["unshare", "--mount", "--pid", "--fork", f"--mount-proc={root}/proc", "chroot", str(root), *argv]


def fresh_copy(template: Path, dest: Path) -> Path:
    """A private copy of the cached root (cp -a keeps devices, owners and links)."""
    subprocess.run(["cp", "-a", str(template), str(dest)], check=True)
    return dest


def check_artifact(artifact: Path, workdir: Path, *, template: Path | None = None) -> dict:
    """Run CHECK_SCRIPT with the artifact inside a fresh copy of the old root.

    Returns {"returncode", "stdout", "stderr", "result" (the script's JSON or None)}.
    """
    from pybuildssl import archive, package
    from pybuildssl.verify.tls import CA, HTTPSServer

    template = template or ensure_root()
    root = fresh_copy(template, workdir / "root")
    manifest = package.read_manifest(artifact)
    prefix = archive.extract(artifact, root / WHERE.lstrip("/"))
    interp = f"{WHERE}/{manifest['cpython']['interpreter']}"
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    ca = CA("pybuildssl oldroot test CA")
    ca_dir = root / "usr" / "local" / "share" / "ca-certificates"
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / TEST_CA_NAME).write_bytes(ca.cert_pem)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    upd = subprocess.run(in_root(root, ["update-ca-certificates"]), capture_output=True, text=True,
                         env=env, timeout=300)
    if upd.returncode != 0:
        raise RuntimeError(f"update-ca-certificates in the old root failed: {upd.stderr[-1000:]}")
    with HTTPSServer(ca.issue("localhost", "127.0.0.1")) as server:
        proc = subprocess.run(in_root(root, [interp, "-I", "-c", CHECK_SCRIPT, server.url()]),
                              capture_output=True, text=True, env=env, timeout=300)
    result = None
    if proc.returncode == 0 and proc.stdout.strip():
        try:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
        except ValueError:
            result = None
    del prefix
    return {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "result": result}


def judge(check: dict) -> list[str]:
    """Problems with a check_artifact() result (empty: the artifact works on the old root)."""
    res = check["result"]
    if res is None:
        return [f"the interpreter did not run (exit {check['returncode']}): {check['stderr'].strip()[-600:]}"]
    problems = [f"import {k}: {v}" for k, v in res["modules"].items() if v != "ok"]
    if "functional" in res:
        problems.append(res["functional"])
    if not (isinstance(res.get("https"), list) and res["https"][0] == 200):
        problems.append(f"HTTPS to the loopback server: {res.get('https')}")
    if res.get("glibc") != f"glibc {SUITE_GLIBC}":
        problems.append(f"ran on {res.get('glibc')}, not glibc {SUITE_GLIBC}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pybuildssl-oldroot-") as tmp:
        check = check_artifact(Path(args[0]), Path(tmp))
    problems = judge(check)
    print(json.dumps({"problems": problems, **{k: check[k] for k in ("returncode", "result", "stderr")}}, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
