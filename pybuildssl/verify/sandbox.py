"""Lay out a vendor's trust store in a private mount namespace and run a command there.

A pure function decides (:func:`layout_for`, :func:`layout_empty`, the
:class:`Layout` editing methods); one function acts (:func:`run_in_layout`),
through a small stdlib-only child script that runs inside
``unshare --mount --propagation unchanged``, makes every mount of the new
namespace private itself, and then ``exec``\\ s the command.

Chroots and containers.  ``unshare --propagation private`` remounts ``/``,
which fails where ``/`` is not a mount point: in a chroot ("cannot change
root filesystem propagation: Invalid argument"), where release pipelines
often run.  So the child does it: ``/`` first; when ``/`` is not a mount point
it reaches the namespace's real root with the escape that chroot(2)
documents (the working directory kept outside a nested root, then ``..``
until it stops), makes that mount and every mount below it private, and
returns to the chroot.  All of it happens in the new namespace only, before
anything is mounted, so nothing can propagate to the namespace it came from.

Inside the namespace, every trust root of every vendor of the OS (from
:func:`pybuildssl.layouts.Table.trust_roots`) is covered by an empty tmpfs, so
the host's own store disappears; then the layout's directories, files and
links are created on those tmpfs mounts.  Nothing outside them is written.

Missing mount points (say ``/etc/pki`` on a Debian host).  The host is never
modified, not even by an empty directory: the child finds the deepest
existing ancestor (``/etc``) and *shadows* it inside the namespace: it opens
the ancestor with ``O_PATH``, mounts a tmpfs over it, recreates every entry
(symlinks as symlinks, files and directories as recursive bind mounts of the
originals, reached through ``/proc/self/fd``, so ``/etc/hosts`` and friends
are the real ones), then creates the missing directory in that tmpfs and
mounts the hiding tmpfs on it.  ``/`` is never shadowed, and a hidden root
must lie at least two levels down (three under ``/usr``): ``/etc`` itself
can be shadowed but never hidden.  A hidden root that the layout does not
populate is present as an empty directory (for OpenSSL the same as absent).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Mapping, Sequence

from ..errors import PybuildsslError
from .cleanenv import clean_env
from .trustlayout import (DirSpec, FileSpec, Layout, _under, default_hide, host_roots_pem,  # noqa: F401
                          layout_empty, layout_for)

__all__ = [
    "FileSpec", "DirSpec", "Layout", "SandboxError", "SandboxUnavailable",
    "layout_for", "layout_empty", "default_hide", "host_roots_pem",
    "run_in_layout", "check_available", "clean_env", "CHILD_SCRIPT",
]


class SandboxUnavailable(PybuildsslError):
    """Mount namespaces cannot be used here; callers report ``skipped: <reason>``."""

    exit_code = 1

    def __init__(self, reason: str) -> None:
        super().__init__(f"sandbox unavailable: {reason}",
                         hint="run as root, or enable unprivileged user namespaces")
        self.reason = reason


class SandboxError(PybuildsslError):
    """The sandbox started but could not lay out the store or start the command."""

    exit_code = 1



# ------------------------------------------------------------ the child ----
# argv: <status fd> <spec fd>.  Writes "S" on the status pipe at start, "E<msg>"
# on failure (exit 125); the pipe closes on exec, so "S" alone means the
# command is running.  Stdlib only; runs as `python -I -S`.
CHILD_SCRIPT = r'''
import base64, ctypes, json, os, posixpath, sys
status = int(sys.argv[1])
os.write(status, b"S")
def fail(msg):
    os.write(status, ("E" + msg).encode("utf-8", "replace"))
    os._exit(125)
try:
    with os.fdopen(int(sys.argv[2]), "rb") as f:
        spec = json.load(f)
    libc = ctypes.CDLL(None, use_errno=True)
    MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MNT_DETACH = 2, 4, 4096, 16384, 2
    MS_PRIVATE = 1 << 18
    def mount(src, tgt, fstype, flags, data=None):
        enc = lambda s: None if s is None else s.encode()
        if libc.mount(enc(src), enc(tgt), enc(fstype), ctypes.c_ulong(flags), enc(data)):
            e = ctypes.get_errno()
            raise OSError(e, "mount %s on %s: %s" % (fstype or src, tgt, os.strerror(e)))
    def privatize():
        """Every mount of this new namespace private, in a chroot too (see the module doc)."""
        try:
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            return "/"
        except OSError as e:
            if e.errno != 22:  # EINVAL: / is not a mount point (a chroot)
                raise
        top, cwd = os.open("/", os.O_RDONLY | os.O_DIRECTORY), os.open(".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fchdir(top)
            os.chroot(os.path.dirname(os.path.realpath(sys.executable)))
            while True:  # the working directory is outside the root now: climb to the real top
                here, up = os.stat("."), os.stat("..")
                if (here.st_dev, here.st_ino) == (up.st_dev, up.st_ino):
                    break
                os.chdir("..")
            mount(None, ".", None, MS_REC | MS_PRIVATE)
        finally:
            os.fchdir(top)
            os.chroot(".")
            os.fchdir(cwd)
            os.close(top)
            os.close(cwd)
        return "chroot"
    # 0. nothing below may propagate back
    privatize()
    def chown(target, uid, gid, name):
        try:
            os.chown(target, uid, gid)
        except OSError as e:
            raise OSError(e.errno, "chown %s to %d:%d: %s%s" % (
                name, uid, gid, e.strerror, " (in a user namespace only uid/gid 0 "
                "is mapped: run as root for other owners)" if os.getuid() == 0 and
                e.errno == 22 else ""))
    def real_dir(p):
        return os.path.isdir(p) and os.path.realpath(p) == p
    shadowed = set()
    def shadow(anc, skip):
        """Cover directory anc with a tmpfs that re-exposes its entries except skip."""
        if anc in shadowed:
            victim = posixpath.join(anc, skip)
            if os.path.ismount(victim):
                libc.umount2(victim.encode(), MNT_DETACH)
            if os.path.islink(victim) or os.path.isfile(victim):
                os.unlink(victim)
            elif os.path.isdir(victim):
                os.rmdir(victim)
            return
        st = os.stat(anc)
        fd = os.open(anc, os.O_PATH | os.O_DIRECTORY)
        names = os.listdir(anc)
        mount("tmpfs", anc, "tmpfs", MS_NOSUID | MS_NODEV, "mode=%o" % (st.st_mode & 0o7777))
        try:
            os.chown(anc, st.st_uid, st.st_gid)
        except OSError:  # user namespace: the host's root is not mapped
            pass
        for name in names:
            if name == skip:
                continue
            src, dst = "/proc/self/fd/%d/%s" % (fd, name), posixpath.join(anc, name)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
                continue
            if os.path.isdir(src):
                os.mkdir(dst)
            else:
                open(dst, "w").close()
            mount(src, dst, None, MS_BIND | MS_REC)
        os.close(fd)
        shadowed.add(anc)
    # 1. mount points for hidden roots that are missing (or not real directories)
    for root in spec["hide"]:
        parts = root.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            p = "/" + "/".join(parts[:i])
            if not real_dir(p):
                anc = posixpath.dirname(p)
                if anc == "/":
                    fail("cannot hide %s: %s is missing and / is never shadowed" % (root, p))
                shadow(anc, posixpath.basename(p))
                os.makedirs(root, 0o755, exist_ok=True)
                break
    # 2. hide
    for root in spec["hide"]:
        mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    # 3. lay out
    for path, mode, uid, gid in spec["dirs"]:
        os.makedirs(path, 0o755, exist_ok=True)
    for path, target in spec["links"]:
        os.makedirs(posixpath.dirname(path), 0o755, exist_ok=True)
        os.symlink(target, path)
    for path, data, mode, uid, gid in spec["files"]:
        os.makedirs(posixpath.dirname(path), 0o755, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.write(fd, base64.b64decode(data))
        chown(fd, uid, gid, path)
        os.fchmod(fd, mode)
        os.close(fd)
    for path, mode, uid, gid in reversed(spec["dirs"]):
        chown(path, uid, gid, path)
        os.chmod(path, mode)
    # 4. run
    os.set_inheritable(status, False)
    if spec.get("cwd"):
        os.chdir(spec["cwd"])
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as e:
        fail("cannot run %s: %s" % (argv[0], e.strerror or e))
except SystemExit:
    raise
except BaseException as e:
    fail("%s: %s" % (type(e).__name__, e))
'''


# ----------------------------------------------------------- the action ----

def _unshare_argv() -> list[str]:
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"mount namespaces are Linux-only (this is {sys.platform})")
    unshare = shutil.which("unshare")
    if not unshare:
        raise SandboxUnavailable("the unshare command (util-linux) is not installed")
    # the child script makes the new namespace's mounts private itself (chroots too)
    if os.geteuid() == 0:
        return [unshare, "--mount", "--propagation", "unchanged"]
    return [unshare, "--user", "--map-root-user", "--mount", "--propagation", "unchanged"]


def _launcher_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}


@functools.lru_cache(maxsize=1)
def _probe() -> str | None:
    """Why a layout cannot be made here, or None: the whole path once, with nothing laid out."""
    true = shutil.which("true") or "/bin/true"
    try:
        r = run_in_layout(Layout(hide=()), [true], env={}, timeout=30)
    except (SandboxUnavailable, SandboxError) as e:
        return getattr(e, "reason", None) or str(e)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{true} in a private mount namespace: {e}"
    if r.returncode != 0:
        return f"{true} in a private mount namespace: exit {r.returncode}: {r.stderr.strip()}"
    return None


def check_available() -> None:
    """Raise :class:`SandboxUnavailable` unless :func:`run_in_layout` can work here."""
    reason = _probe()
    if reason:
        raise SandboxUnavailable(reason)


def _communicate(proc: subprocess.Popen, input: str | None, timeout: float,
                 argv: list[str]) -> tuple[str, str]:
    """(stdout, stderr); on timeout the whole process group is killed first."""
    try:
        return proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(argv, timeout, out, err) from None


def _read_all(fd: int) -> bytes:
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data
        data += chunk


def run_in_layout(layout: Layout, argv: Sequence[str | os.PathLike], *,
                  env: Mapping[str, str] | None = None, timeout: float = 60,
                  cwd: str | os.PathLike | None = None,
                  input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` with ``layout`` as the trust store; output captured as text.

    ``env`` defaults to :func:`clean_env` (it is used as given otherwise).
    Raises :class:`SandboxUnavailable` when namespaces cannot be used,
    :class:`SandboxError` when the layout cannot be made or the command
    cannot be started, :class:`subprocess.TimeoutExpired` after killing the
    whole process group.  The command's own failure is just its return code.
    """
    prefix = _unshare_argv()
    argv = [os.fspath(a) for a in argv]
    if not argv:
        raise ValueError("argv is empty")
    spec = layout.to_spec()
    spec.update(argv=argv, env=dict(clean_env() if env is None else env),
                cwd=os.fspath(cwd) if cwd is not None else None)
    status_r, status_w = os.pipe()
    try:
        with tempfile.TemporaryFile(prefix="pybuildssl-sandbox-") as spec_file:
            spec_file.write(json.dumps(spec).encode("utf-8"))
            spec_file.flush()
            spec_file.seek(0)
            cmd = prefix + [sys.executable, "-I", "-S", "-B", "-c", CHILD_SCRIPT,
                            str(status_w), str(spec_file.fileno())]
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=_launcher_env(), pass_fds=(status_w, spec_file.fileno()),
                start_new_session=True)
            os.close(status_w)
            status_w = -1
            out, err = _communicate(proc, input, timeout, argv)
        status = _read_all(status_r)
    finally:
        os.close(status_r)
        if status_w >= 0:
            os.close(status_w)
    if not status.startswith(b"S"):
        raise SandboxUnavailable(f"{' '.join(prefix)}: "
                                 f"{err.strip() or f'exit {proc.returncode}'}")
    if status.startswith(b"SE"):
        raise SandboxError(f"sandbox ({layout.name}): {status[2:].decode('utf-8', 'replace')}",
                           hint=err.strip() or None)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
