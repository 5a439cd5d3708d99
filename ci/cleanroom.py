#!/usr/bin/env python3
"""The README's two commands on a machine that has nothing: a fresh Debian 12 root.

A green CI on a machine where someone once installed a package by hand proves
nothing about a fresh one.  This runs the README as a new user would:

1. a ``debootstrap --variant=minbase bookworm`` root from the Debian mirror the
   machine's apt already uses, cached by date (``ci/oldroot.py``), copied fresh;
2. provisioned the way a fleet's base image is, and no more: the host's locally
   added CAs (``/usr/local/share/ca-certificates/*.crt``; this network inspects
   TLS with a CA that only the host's store trusts; the ``ca-certificates``
   package adds them when the set-up installs it), ``/etc/resolv.conf`` and a
   loopback ``/etc/hosts``;
3. a clean export of the checkout (``git archive HEAD``) at /work/pybuildssl;
4. under ``chroot`` in private mount and PID namespaces with a /proc, /dev and
   /dev/shm of their own: ``bash ci/main.sh --json`` (the README's first
   command), then ``bash ci/test.sh -k SELECTION`` (its second), with an
   environment of PATH, HOME, LANG and CI only.  Nothing from the host's cache:
   no sources, no virtualenv, no components.

Inside, ``/`` is not a mount point (a plain chroot, as release pipelines use),
which is where verify's namespaces used to fail and its TLS checks were skipped.

    python3 ci/cleanroom.py [-k SELECTION] [--keep] [--json]

prints the phases' times and the verify verdict; exit 0 only when the main job
ends with a verified artifact with no skipped check and the tests pass.  Needs
root and debootstrap (ci/setup.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "ci"))
import oldroot  # noqa: E402  (ci/oldroot.py: the cached debootstrap roots)
SUITE = "bookworm"
INSIDE = "/work/pybuildssl"
#: The test selection run through `bash ci/test.sh` in the root: short, but it
#: needs what only the test command installs (pytest, cryptography's CA harness).
DEFAULT_SELECTION = "test_tls_harness"
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "LANG": "C.UTF-8", "CI": "true"}

#: Runs on the host in the new namespaces; $1 is the root, $2 the script to run inside.
#: No bind of the root onto itself: / must stay a non-mount point inside.
LAUNCH = r"""
set -eu
R=$1
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=755,nosuid dev "$R/dev"
for n in null zero full random urandom tty; do
  : > "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"
done
mkdir -p "$R/dev/shm" "$R/dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
exec chroot "$R" /usr/bin/env -i "${@:3}" /bin/bash -c "$2"
"""


def provision(root: Path) -> list[str]:
    """What a fleet's base image would carry; returns the CA files copied in."""
    ca_dir = root / "usr" / "local" / "share" / "ca-certificates"
    ca_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for crt in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt")):
        shutil.copyfile(crt, ca_dir / crt.name)
        copied.append(crt.name)
    resolv = root / "etc" / "resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_bytes(Path("/etc/resolv.conf").read_bytes())
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    return copied


def export_checkout(root: Path, rev: str = "HEAD") -> None:
    """``git archive`` of the checkout: what is committed, nothing else."""
    dest = root / INSIDE.lstrip("/")
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def run_inside(root: Path, script: str, log: Path, *, timeout: float) -> int:
    """``script`` under bash in the chroot; its output goes to ``log`` (and, line by line, to stderr)."""
    argv = ["unshare", "--mount", "--pid", "--fork", "--propagation", "private",
            "bash", "-c", LAUNCH, "launch", str(root), script] + [f"{k}={v}" for k, v in ENV.items()]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={"PATH": ENV["PATH"]})
        killer = threading.Timer(timeout, proc.kill)  # fires even when nothing is printed
        killer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                out.flush()
                sys.stderr.write("  cleanroom| " + line.decode("utf-8", "replace"))
            return proc.wait()
        finally:
            killer.cancel()


def run(workdir: Path, *, selection: str = DEFAULT_SELECTION, log=lambda m: print(m, file=sys.stderr)) -> dict:
    """The whole clean-room run; returns what happened (see :func:`judge`)."""
    res: dict = {"suite": SUITE, "selection": selection, "seconds": {}}
    t = time.monotonic()
    template = oldroot.ensure_root(suite=SUITE, include=(), log=log)
    res["seconds"]["root"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    root = oldroot.fresh_copy(template, workdir / "root")
    res["cas"] = provision(root)
    export_checkout(root)
    res["seconds"]["copy"] = round(time.monotonic() - t, 1)
    res["log"] = str(workdir / "cleanroom.log")
    log(f"cleanroom: bash ci/main.sh in a fresh {SUITE} root (log: {res['log']})")
    t = time.monotonic()
    res["main_exit"] = run_inside(root, f"cd {INSIDE} && bash ci/main.sh --json > /work/main.json",
                                  Path(res["log"]), timeout=3600)
    res["seconds"]["main"] = round(time.monotonic() - t, 1)
    try:
        res["main"] = json.loads((root / "work" / "main.json").read_text())
    except (OSError, ValueError) as e:
        res["main"] = None
        res["main_error"] = str(e)
    log(f"cleanroom: bash ci/test.sh -k {selection}")
    t = time.monotonic()
    res["test_exit"] = run_inside(root, f"cd {INSIDE} && bash ci/test.sh -q -rs -k {selection}",
                                  Path(res["log"]), timeout=1800)
    res["seconds"]["test"] = round(time.monotonic() - t, 1)
    res["tail"] = Path(res["log"]).read_text(errors="replace")[-3000:]
    return res


#: Does a mount made in the sandbox inside a chroot reach the namespace outside?  The root is
#: bind-mounted on A, made shared, and A bound again on B (B is A's peer); in the chroot on A
#: a control (plain ``unshare --propagation unchanged``, then a tmpfs) and then pybuildssl's
#: sandbox run; the numbers printed are the mounts B shows under the root's /etc.
PROPAGATION = r"""
set -eu
K=$1; A=$2; B=$3
mkdir -p "$A" "$B"
mount --bind "$K" "$A"; mount --make-shared "$A"; mount --bind "$A" "$B"
R="$A/root"
mount -t proc proc "$R/proc"
chroot "$R" unshare --mount --propagation unchanged sh -c 'mount -t tmpfs control /etc/ssl'
echo "control $(grep -c " $B/root/etc" /proc/self/mountinfo || true)"
umount "$A/root/etc/ssl" "$B/root/etc/ssl" 2>/dev/null || true
chroot "$R" /usr/bin/env -i PATH=/usr/bin:/bin /root/.cache/pybuildssl/venv/bin/python -c '
from pybuildssl.verify import sandbox
r = sandbox.run_in_layout(sandbox.layout_for("rhel"), ["/bin/sh", "-c", "test -d /etc/pki/tls/certs"])
print("sandbox-exit", r.returncode)'
echo "sandbox $(grep -c " $B/root/etc" /proc/self/mountinfo || true)"
"""


def propagation_check(workdir: Path) -> dict:
    """Run PROPAGATION on the root a :func:`run` left in ``workdir`` (in a private namespace of
    its own, so the host sees nothing); returns {"control": N, "sandbox": N, "sandbox-exit": N}."""
    peers = workdir / "peers"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", PROPAGATION, "check",
                        str(workdir), str(peers / "a"), str(peers / "b")],
                       capture_output=True, text=True, timeout=300, env={"PATH": ENV["PATH"]})
    out = {"stderr": r.stderr[-2000:], "returncode": r.returncode}
    for line in r.stdout.splitlines():
        key, _, value = line.rpartition(" ")
        if key in ("control", "sandbox", "sandbox-exit"):
            out[key] = int(value)
    return out


def judge(res: dict) -> list[str]:
    """What went wrong (empty: both README commands work on a fresh machine)."""
    problems = []
    if res["main_exit"] != 0:
        problems.append(f"bash ci/main.sh exited {res['main_exit']}")
    report = (res.get("main") or {}).get("verify")
    if not report:
        problems.append("the main job printed no verify report: " + res.get("main_error", "verify did not run"))
    else:
        if report["verdict"] != "pass":
            problems.append(f"verify verdict {report['verdict']}")
        bad = [f"{f['id']}: {f['status']} ({f['detail']})" for f in report["findings"] if f["status"] in ("skip", "fail")]
        problems += bad
    if res["test_exit"] != 0:
        problems.append(f"bash ci/test.sh -k {res['selection']} exited {res['test_exit']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", dest="selection", default=DEFAULT_SELECTION, help="the tests to run through ci/test.sh")
    ap.add_argument("--keep", action="store_true", help="keep the root (its path is printed)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pybuildssl-cleanroom-"))
    try:
        res = run(work, selection=args.selection)
        problems = judge(res)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out = {"problems": problems, "seconds": res["seconds"], "cas": res["cas"],
           "verdict": ((res.get("main") or {}).get("verify") or {}).get("verdict"), "kept": str(work) if args.keep else None}
    print(json.dumps(out, indent=1) if args.json else
          "\n".join([f"cleanroom: {k} {v} s" for k, v in res["seconds"].items()]
                    + [f"problem: {p}" for p in problems] + ["cleanroom: OK" if not problems else "cleanroom: FAILED"]))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
