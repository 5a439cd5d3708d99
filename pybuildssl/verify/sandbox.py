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

import base64
import dataclasses
import functools
import json
import os
import posixpath
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence, Union

from .. import layouts
from ..errors import PybuildsslError
from . import tls

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


# ------------------------------------------------------------ the layout ----

@dataclass(frozen=True)
class FileSpec:
    path: str
    content: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class DirSpec:
    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


Entry = Union[FileSpec, DirSpec, tuple]  # a link is a (path, target) pair


def _norm(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/") or posixpath.normpath(path) != path \
            or path.startswith("//"):
        raise ValueError(f"not a normalised absolute path: {path!r}")
    return path


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _coverable(root: str) -> bool:
    """May a tmpfs hide this directory?  Never /, /etc, /usr, /usr/lib, ..."""
    parts = root.strip("/").split("/")
    return len(parts) >= (3 if parts[0] == "usr" else 2)


def _minimal(roots: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for r in sorted({_norm(r) for r in roots}):
        if not any(_under(r, kept) for kept in out):
            out.append(r)
    return tuple(out)


@dataclass(frozen=True)
class Layout:
    """What a trust store looks like inside the sandbox.

    ``hide``: directories covered by an empty tmpfs (normalised to a minimal,
    sorted set).  ``dirs``, ``files``, ``links`` (``(path, target)`` pairs):
    what is created there; every path must lie strictly inside a hidden root
    (a :class:`DirSpec` may name a root itself to set its mode or owner), and
    no entry may sit below a link (it would write through it).
    """

    hide: tuple[str, ...]
    files: tuple[FileSpec, ...] = ()
    dirs: tuple[DirSpec, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    name: str = "custom"

    def __post_init__(self) -> None:
        hide = _minimal(self.hide)
        for root in hide:
            if not _coverable(root):
                raise ValueError(f"refusing to hide {root!r}: too close to / "
                                 "(hide a directory below it)")
        object.__setattr__(self, "hide", hide)
        object.__setattr__(self, "files", tuple(sorted(self.files, key=lambda f: f.path)))
        object.__setattr__(self, "dirs", tuple(sorted(self.dirs, key=lambda d: d.path)))
        object.__setattr__(self, "links", tuple(sorted((tuple(x) for x in self.links))))
        seen: dict[str, str] = {}
        for kind, path in ([("file", f.path) for f in self.files]
                           + [("dir", d.path) for d in self.dirs]
                           + [("link", p) for p, _ in self.links]):
            _norm(path)
            if path in seen:
                raise ValueError(f"{path}: listed twice (as {seen[path]} and {kind})")
            seen[path] = kind
            if not any(_under(path, r) and (path != r or kind == "dir") for r in hide):
                raise ValueError(f"{path}: not inside a hidden root {list(hide)}; "
                                 "the sandbox writes only on its own tmpfs mounts")
        link_paths = {p for p, _ in self.links}
        for path in seen:
            parent = posixpath.dirname(path)
            while parent != "/":
                if parent in link_paths:
                    raise ValueError(f"{path}: below the link {parent}")
                if seen.get(parent) == "file":
                    raise ValueError(f"{path}: below the file {parent}")
                parent = posixpath.dirname(parent)

    # -- reading --
    def entry(self, path: str) -> Entry | None:
        for f in self.files:
            if f.path == path:
                return f
        for d in self.dirs:
            if d.path == path:
                return d
        for link in self.links:
            if link[0] == path:
                return link
        return None

    def file(self, path: str) -> FileSpec:
        e = self.entry(path)
        if not isinstance(e, FileSpec):
            raise KeyError(f"{path}: not a file of layout {self.name!r}")
        return e

    def listdir(self, path: str) -> list[str]:
        """Sorted names the layout puts directly inside ``path`` (links not followed)."""
        names = {p[len(path.rstrip("/")) + 1:] for p in self.paths()
                 if posixpath.dirname(p) == path}
        return sorted(names)

    def paths(self) -> list[str]:
        return sorted([f.path for f in self.files] + [d.path for d in self.dirs]
                      + [p for p, _ in self.links])

    # -- editing (each returns a new Layout) --
    def add(self, *entries: Entry) -> "Layout":
        """Add entries; one at the same path is replaced.  Parents must be listed or added."""
        new = {(e.path if isinstance(e, (FileSpec, DirSpec)) else e[0]) for e in entries}
        base = self.remove(*new, recursive=False)
        return dataclasses.replace(
            base,
            files=base.files + tuple(e for e in entries if isinstance(e, FileSpec)),
            dirs=base.dirs + tuple(e for e in entries if isinstance(e, DirSpec)),
            links=base.links + tuple(tuple(e) for e in entries
                                     if not isinstance(e, (FileSpec, DirSpec))),
        )

    def remove(self, *paths: str, recursive: bool = True) -> "Layout":
        """Drop entries at ``paths`` (and, when recursive, everything below them)."""
        def gone(p: str) -> bool:
            return any((_under(p, x) if recursive else p == x) for x in paths)
        return dataclasses.replace(
            self,
            files=tuple(f for f in self.files if not gone(f.path)),
            dirs=tuple(d for d in self.dirs if not gone(d.path)),
            links=tuple(x for x in self.links if not gone(x[0])),
        )

    def modify(self, path: str, *, mode: int | None = None, uid: int | None = None,
               gid: int | None = None, content: bytes | None = None) -> "Layout":
        """Change one file's or directory's mode, owner or content."""
        e = self.entry(path)
        if not isinstance(e, (FileSpec, DirSpec)):
            raise KeyError(f"{path}: no file or directory of layout {self.name!r} there")
        changes = {k: v for k, v in (("mode", mode), ("uid", uid), ("gid", gid)) if v is not None}
        if content is not None:
            if not isinstance(e, FileSpec):
                raise ValueError(f"{path}: a directory has no content")
            changes["content"] = content
        return self.add(dataclasses.replace(e, **changes))

    def to_spec(self) -> dict:
        """The JSON-able form the child script reads."""
        return {
            "hide": list(self.hide),
            "dirs": [[d.path, d.mode, d.uid, d.gid] for d in self.dirs],
            "files": [[f.path, base64.b64encode(f.content).decode("ascii"), f.mode, f.uid, f.gid]
                      for f in self.files],
            "links": [list(x) for x in self.links],
        }


def default_hide(os_name: str = "linux") -> tuple[str, ...]:
    """Every trust root of every vendor of ``os_name`` (minimal set)."""
    return _minimal(layouts.load().trust_roots(os_name))


def layout_empty(os_name: str = "linux") -> Layout:
    """Every trust root hidden and nothing there."""
    return Layout(hide=default_hide(os_name), name="empty")


@functools.lru_cache(maxsize=4)
def _read_host_bundle(path: str) -> tuple[bytes, ...]:
    with open(path, "rb") as f:
        return tuple(tls.split_pem(f.read()))


def host_roots_pem() -> list[bytes]:
    """The host's CA certificates: the first readable CA file of the host vendor
    (or, for an unknown host, of the OS fallback list)."""
    table = layouts.load()
    host_os = layouts.host_os()
    vendor = layouts.detect_vendor(table)
    candidates = []
    if vendor in table.vendors:
        candidates += list(table.vendors[vendor].cafiles)
    candidates += [p for kind, p in table.fallback(host_os) if kind == "file"]
    for path in candidates:
        if os.path.isfile(path):
            certs = _read_host_bundle(path)
            if certs:
                return list(certs)
    raise FileNotFoundError("no CA bundle found on this host; pass host_roots=False "
                            "or a list of PEM certificates")


def _resolve(path: str, links: Mapping[str, str]) -> str:
    for _ in range(16):
        if path not in links:
            return path
        target = links[path]
        path = target if target.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(path), target))
    raise ValueError(f"link loop at {path}")


def layout_for(vendor_name: str, cas_pem: Sequence[bytes] = (), *,
               host_roots: bool | Sequence[bytes] = True,
               admin_added: Sequence[bytes] = ()) -> Layout:
    """The trust store of ``vendor_name`` (from the layout table), trusting ``cas_pem``.

    * the first CA file (followed through the vendor's links: Arch's first is
      itself a link) holds the bundle: the host's roots (``host_roots=True``,
      or a list of PEM certificates, or none) plus ``cas_pem``;
    * other CA files are the vendor's links, or copies when no link is listed;
    * each hashed directory holds the same certificates as ``<hash>.<n>``;
    * decoys exist with a README and no hash links; OPENSSLDIR exists;
    * ``admin_added`` CAs are where the vendor's admin tool leaves them: the
      source file in ``admin_add.dir`` and, in each output listed in
      ``admin_add.writes`` (bundle, ``<hash>.0``), next to the others.

    Pure: the same inputs give the same Layout (``host_roots=True`` reads the
    host bundle, the one input from outside).
    """
    table = layouts.load()
    v = table.vendor(vendor_name)
    hide = _minimal(list(default_hide("linux")) + list(default_hide(v.os)))
    roots = host_roots_pem() if host_roots is True else list(host_roots or [])
    trusted = [c for blob in [*roots, *cas_pem] for c in tls.split_pem(blob)]
    admin = [c for blob in admin_added for c in tls.split_pem(blob)]
    links = dict(v.links)

    writes = [str(w) for w in v.admin_add.get("writes", [])]
    write_files = {w for w in writes if "<hash>" not in w}
    write_dirs = {posixpath.dirname(w) for w in writes if "<hash>" in w}
    if admin and not (v.admin_add.get("dir") or writes):
        raise ValueError(f"vendor {vendor_name!r} has no file-based way to add a CA "
                         f"({v.admin_add.get('command', '')})")

    def gets_admin_file(path: str) -> bool:
        return bool(admin) and (path in write_files or _resolve(path, links) in write_files)

    files: dict[str, FileSpec] = {}
    dirs: dict[str, DirSpec] = {}

    def bundle(path: str) -> bytes:
        return b"".join(trusted + (admin if gets_admin_file(path) else []))

    for i, cafile in enumerate(v.cafiles):
        if cafile in links:
            if i == 0:  # the first CA file is a link: the bundle lives at its target
                real = _resolve(cafile, links)
                files[real] = FileSpec(real, bundle(cafile))
            continue
        files.setdefault(cafile, FileSpec(cafile, bundle(cafile)))

    for capath in v.capaths:
        real = _resolve(capath, links)
        dirs[real] = DirSpec(real)
        with_admin = bool(admin) and (capath in write_dirs or real in write_dirs)
        for name, pem in tls.hashed_names(trusted + (admin if with_admin else [])):
            files[f"{real}/{name}"] = FileSpec(f"{real}/{name}", pem)

    for decoy in v.decoys:
        if decoy in links:
            continue
        dirs[decoy] = DirSpec(decoy)
        readme = f"{decoy}/README"
        files.setdefault(readme, FileSpec(readme, (
            f"pybuildssl sandbox, vendor {vendor_name}: this directory exists on the "
            "vendor's systems but holds no <hash>.<n> links: it is not a usable CApath.\n"
        ).encode()))

    if v.openssldir and v.openssldir not in links:
        dirs.setdefault(v.openssldir, DirSpec(v.openssldir))

    if admin:
        adir = str(v.admin_add.get("dir") or "")
        if adir:
            dirs.setdefault(adir, DirSpec(adir))
            suffix = str(v.admin_add.get("suffix") or ".pem")
            for i, pem in enumerate(admin, 1):
                p = f"{adir}/pybuildssl-admin-{i}{suffix}"
                files[p] = FileSpec(p, pem)

    # Every parent directory, up to the hidden root, is listed (tests can then
    # change its mode or owner).
    link_paths = set(links)
    for path in list(files) + list(dirs) + list(link_paths):
        parent = posixpath.dirname(path)
        while parent not in link_paths and any(
                _under(parent, r) and parent != r for r in hide):
            if parent in files:
                raise ValueError(f"layout table: {path} is below the file {parent}")
            dirs.setdefault(parent, DirSpec(parent))
            parent = posixpath.dirname(parent)

    return Layout(hide=hide, files=tuple(files.values()), dirs=tuple(dirs.values()),
                  links=tuple(sorted(links.items())), name=vendor_name)


# ---------------------------------------------------------- environment ----

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
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                out, err = proc.communicate()
                raise subprocess.TimeoutExpired(argv, timeout, out, err) from None
        status = b""
        while True:
            chunk = os.read(status_r, 65536)
            if not chunk:
                break
            status += chunk
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
