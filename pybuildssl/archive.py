"""Safe extraction of tar archives: verify runs it on artifacts it has never seen.

One streaming pass over the archive; the tree is written into a private
staging directory (``mkdtemp``, mode 0700) next to the destination and
published by one rename.  Every member is checked against the tree *as
extracted so far*, an in-memory model of what this extraction wrote (the
filesystem outside the staging directory is never looked at, and no link is
ever followed on disk):

1. A member's name is relative and has no ``..`` component.
2. Nothing is written through a link.  Each parent of a member must be a
   directory this extraction created, never a symlink; a member whose own
   name is an existing symlink is refused; every entry is created afresh
   (``O_EXCL | O_NOFOLLOW``, ``mkdir``, ``symlink``, ``link`` all fail on
   anything already there), so a filesystem that folds case or Unicode cannot
   alias one entry to another unnoticed.  A regular file named twice is
   replaced (unlinked, then created), never written in place, so a hard link
   to it is not written through either.
3. A symlink's target is resolved through the model, hop by hop, and must
   stay inside the destination.  At the end every symlink is resolved again
   against the final tree (a link may point through one that comes later),
   and against the single top directory when that is what gets published.
   Loops are refused.
4. A hard link must name a regular file already extracted inside (resolved
   the same way, the last component not followed); it is made to that file's
   real path.
5. Only regular files, directories, symlinks and hard links are extracted.

This is done by hand, not with ``tarfile``'s extraction filters, so that it
behaves the same on every Python the package supports (3.9 patch releases
have no filters).  Modes are normalised the way the ``tar`` filter does
(no setuid/setgid/sticky, no group or other write), plus owner read/write
(and search for directories); ownership is the extracting user's.
"""

from __future__ import annotations

import copy
import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

from .errors import ArchiveError

DIR, FILE, SYMLINK = "directory", "regular file", "symlink"
#: Symlink hops allowed while resolving one path (Linux's MAXSYMLINKS), and the longest
#: link target (Linux's PATH_MAX less one): resolving a hostile chain stays cheap.
MAX_HOPS, MAX_TARGET = 40, 4095
_CREATE = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
           | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
HINT = ("nothing was extracted; an archive that pybuildssl or a source release writes never holds "
        "such a member: do not use this file")


class _Tree:
    """What this extraction wrote into ``staging``, keyed by relative path (``a/b``)."""

    def __init__(self, archive: Path, staging: Path) -> None:
        self.archive = archive
        self.staging = str(staging)
        self.kind: dict[str, str] = {"": DIR}
        self.links: dict[str, str] = {}  # symlink -> its target text
        self.dir_attrs: dict[str, tuple[int, float]] = {}  # mode, mtime: set last, deepest first

    def refuse(self, name: str, what: str) -> ArchiveError:
        return ArchiveError(f"archive member {name!r} {what} (archive {self.archive})", hint=HINT)

    def path(self, key: str) -> str:
        return os.path.join(self.staging, key)

    # -- resolution, in the model only ------------------------------------------
    def resolve(self, name: str, start: list[str], target: str, *, floor: int = 0,
                follow_last: bool = True) -> list[str]:
        """The real path (components) of ``target`` seen from directory ``start``.

        Symlinks met on the way are replaced by their targets, as the kernel
        would; a component the tree does not hold is taken as written.  Going
        above ``floor`` components (the destination) or more than
        :data:`MAX_HOPS` hops is refused.
        """
        if not target or len(target) > MAX_TARGET:
            raise self.refuse(name, f"has a link target of {len(target)} characters (1 to {MAX_TARGET} allowed)")
        if target.startswith("/"):
            raise self.refuse(name, f"links to an absolute path {target!r}")
        stack, todo, hops, via = list(start), target.split("/")[::-1], 0, ""
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if len(stack) <= floor:
                    where = "the destination" if floor == 0 else f"the top directory {stack[0]!r}"
                    raise self.refuse(name, f"links outside the tree: {target!r} leaves {where}{via}")
                stack.pop()
                continue
            stack.append(part)
            key = "/".join(stack)
            if key in self.links and (todo or follow_last):
                hops += 1
                if hops > MAX_HOPS:
                    raise self.refuse(name, f"links through a symlink loop ({target!r}{via})")
                stack.pop()
                via = f" through {key!r} -> {self.links[key]!r}"
                todo.extend(self.links[key].split("/")[::-1])
        return stack

    # -- checks before writing -------------------------------------------------------
    def parents(self, name: str, parts: list[str]) -> None:
        """Every parent of ``parts`` is a directory this extraction made (made here if missing)."""
        if self.kind.get("/".join(parts[:-1])) == DIR:
            return
        for i in range(1, len(parts)):
            key = "/".join(parts[:i])
            kind = self.kind.get(key)
            if kind == SYMLINK:
                raise self.refuse(name, f"would be written through the symlink {key!r} -> {self.links[key]!r}")
            if kind == FILE:
                raise self.refuse(name, f"has the regular file {key!r} as a parent directory")
            if kind is None:
                self.write(name, os.mkdir, self.path(key), 0o777)  # umask applies, as with tar
                self.kind[key] = DIR

    def make_room(self, name: str, key: str, kind: str) -> None:
        """Refuse a member over a symlink or a directory; unlink a regular file named again."""
        old = self.kind.get(key)
        if old is None or (old == DIR and kind == DIR):
            return
        if old == SYMLINK:
            raise self.refuse(name, f"would be written over the symlink {key!r} -> {self.links[key]!r}")
        if old == DIR or kind == DIR:
            raise self.refuse(name, f"would replace the {old} {key!r} with a {kind}")
        self.write(name, os.unlink, self.path(key))
        del self.kind[key]

    def write(self, name: str, fn, *args):
        try:
            return fn(*args)
        except (OSError, OverflowError, ValueError) as e:  # also NUL in a name, a timestamp out of range
            raise self.refuse(name, f"cannot be written into {self.staging}: {e}") from None

    # -- the members -------------------------------------------------------------------
    def add(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        name = m.name
        if name.startswith("/") or name.startswith("\\"):
            raise self.refuse(name, "has an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(name, "escapes the destination ('..')")
        if m.isdev() or m.isfifo():
            raise self.refuse(name, "is a device or fifo")
        kind = DIR if m.isdir() else FILE if m.isreg() or m.islnk() else SYMLINK if m.issym() else None
        if kind is None:
            raise self.refuse(name, f"has an unsupported type {m.type!r}")
        if not parts:
            if kind != DIR:
                raise self.refuse(name, "names the destination itself")
            return
        key = "/".join(parts)
        self.parents(name, parts)
        if m.islnk():
            source = self.resolve(name, [], m.linkname, follow_last=False)
            if source == parts:
                raise self.refuse(name, "is a hard link to itself")
            got = self.kind.get("/".join(source))
            if got != FILE:
                what = f"is a {got}" if got else "was not extracted before it"
                raise self.refuse(name, f"is a hard link to {m.linkname!r}, which {what}: a hard link "
                                        "must name a regular file already extracted")
        elif m.issym():
            self.resolve(name, parts[:-1], m.linkname)
        self.make_room(name, key, kind)
        if kind == DIR:
            if key not in self.kind:
                self.write(name, os.mkdir, self.path(key), 0o700)
            self.dir_attrs[key] = ((m.mode & 0o755) | 0o700, m.mtime)
        elif m.islnk():
            self.write(name, os.link, self.path("/".join(source)), self.path(key))
        elif m.issym():
            self.write(name, os.symlink, m.linkname, self.path(key))
            self.links[key] = m.linkname
        else:
            self.write(name, self.write_file, tf, m, self.path(key))
        self.kind[key] = kind

    @staticmethod
    def write_file(tf: tarfile.TarFile, m: tarfile.TarInfo, path: str) -> None:
        fd = os.open(path, _CREATE, 0o600)
        with os.fdopen(fd, "wb") as out:
            src = tf.extractfile(m)
            if src is not None:
                shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            mode = (m.mode & 0o755) | 0o600
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:  # pragma: no cover - Windows
                os.chmod(path, mode)
            os.utime(fd if os.utime in os.supports_fd else path, (m.mtime, m.mtime))

    # -- the end -----------------------------------------------------------------------
    def finish(self, strip_top: bool) -> str:
        """Re-resolve every symlink in the final tree; set directory modes; the key to publish."""
        tops = [k for k in self.kind if k and "/" not in k]
        top = tops[0] if strip_top and len(tops) == 1 and self.kind[tops[0]] == DIR else ""
        for key, target in self.links.items():
            parts = key.split("/")
            self.resolve(key, parts[:-1], target, floor=1 if top else 0)
        for key in sorted(self.dir_attrs, key=lambda k: -k.count("/")):
            mode, mtime = self.dir_attrs[key]
            self.write(key, os.chmod, self.path(key), mode)
            self.write(key, os.utime, self.path(key), (mtime, mtime))
        return top


def _zip_or(archive: Path, error: Exception) -> str:
    try:
        with open(archive, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                return "it is a zip file; pybuildssl extracts tar archives only (plain, gzip, bzip2 or xz)"
    except OSError:
        pass
    return str(error)


def extract(archive: Path, dest: Path, *, strip_top: bool = True,
            members_out: list[tarfile.TarInfo] | None = None) -> Path:
    """Extract ``archive`` safely into ``dest`` (published atomically); return ``dest``.

    With ``strip_top`` the archive's single top directory becomes ``dest``.
    ``members_out`` receives the members as the archive holds them (verify
    inspects their modes).  Raises :class:`ArchiveError` naming the member,
    what is wrong and the archive; then nothing is left in ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        tree = _Tree(archive, staging)
        try:
            tf = tarfile.open(archive, mode="r|*")
        except (tarfile.TarError, OSError) as e:
            raise ArchiveError(f"cannot read archive {archive}: {_zip_or(archive, e)}") from None
        with tf:
            try:
                for m in tf:
                    if members_out is not None:
                        members_out.append(copy.copy(m))
                    tree.add(tf, m)
            except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as e:
                raise ArchiveError(f"archive {archive} is truncated or corrupt: {e}") from None
        top = tree.finish(strip_top)
        os.replace(tree.path(top) if top else staging, dest)
        return dest
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
