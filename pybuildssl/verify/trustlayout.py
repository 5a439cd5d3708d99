"""What a trust store looks like inside the sandbox: pure data and pure functions.

:class:`Layout` (files, directories, links and the roots hidden under an empty
tmpfs), its editing methods, and :func:`layout_for`, which lays out a vendor's
store from the layout table.  :mod:`.sandbox` makes a layout real in a private
mount namespace.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import os
import posixpath
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence, Union

from .. import layouts
from . import tls


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

    _add_decoys_and_admin(v, admin, files, dirs, links)
    _add_parents(hide, links, files, dirs)

    return Layout(hide=hide, files=tuple(files.values()), dirs=tuple(dirs.values()),
                  links=tuple(sorted(links.items())), name=vendor_name)


def _add_decoys_and_admin(v: layouts.Vendor, admin: list[bytes], files: dict[str, FileSpec],
                          dirs: dict[str, DirSpec], links: dict[str, str]) -> None:
    """Decoy directories (a README, no hash links), OPENSSLDIR, and the admin tool's source files."""
    vendor_name = v.name
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


def _add_parents(hide: tuple[str, ...], links: dict[str, str], files: dict[str, FileSpec],
                 dirs: dict[str, DirSpec]) -> None:
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
