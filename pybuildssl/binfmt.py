"""A small ELF reader: dynamic section (NEEDED, RPATH, RUNPATH, SONAME) and
version needs (GLIBC_2.x), from the section headers.  A neutral leaf: build
(strip) and verify (relocation checks) both read binaries through it.  Standard library only,
no binutils needed, fast enough to read every file of an artifact.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

DT_NEEDED, DT_STRTAB, DT_SONAME, DT_RPATH, DT_RUNPATH = 1, 5, 14, 15, 29
SHT_DYNAMIC, SHT_GNU_VERNEED = 6, 0x6FFFFFFE


class NotELF(ValueError):
    pass


@dataclass
class ELFInfo:
    path: str
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)
    soname: str | None = None
    version_needs: dict[str, list[str]] = field(default_factory=dict)  # lib -> ["GLIBC_2.17", ...]

    def max_version(self, prefix: str = "GLIBC_") -> tuple[int, ...] | None:
        best: tuple[int, ...] | None = None
        for versions in self.version_needs.values():
            for v in versions:
                if v.startswith(prefix):
                    try:
                        t = tuple(int(x) for x in v[len(prefix):].split("."))
                    except ValueError:
                        continue
                    best = t if best is None or t > best else best
        return best


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def read(path: Path) -> ELFInfo:
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise NotELF(f"{path}: not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
        sh_fmt = end + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)
        sh_fmt = end + "IIIIIIIIII"
    sections = []
    for i in range(shnum):
        off = shoff + i * shentsize
        if off + struct.calcsize(sh_fmt) > len(data):
            raise NotELF(f"{path}: truncated section headers")
        (name, typ, flags, addr, offset, size, link, info, align, entsize) = struct.unpack_from(sh_fmt, data, off)
        sections.append((typ, offset, size, link, info))
    info = ELFInfo(path=str(path))

    def cstr(table_index: int, pos: int) -> str:
        _, toff, tsize, _, _ = sections[table_index]
        start = toff + pos
        stop = data.index(b"\0", start)
        return data[start:stop].decode("utf-8", "replace")

    dyn_fmt = end + ("qQ" if is64 else "iI")
    dyn_size = struct.calcsize(dyn_fmt)
    for typ, offset, size, link, _ in sections:
        if typ == SHT_DYNAMIC:
            for pos in range(offset, offset + size, dyn_size):
                tag, val = struct.unpack_from(dyn_fmt, data, pos)
                if tag == 0:
                    break
                if tag == DT_NEEDED:
                    info.needed.append(cstr(link, val))
                elif tag == DT_RPATH:
                    info.rpath.extend(cstr(link, val).split(":"))
                elif tag == DT_RUNPATH:
                    info.runpath.extend(cstr(link, val).split(":"))
                elif tag == DT_SONAME:
                    info.soname = cstr(link, val)
        elif typ == SHT_GNU_VERNEED:
            pos = offset
            for _ in range(_count(sections, offset, typ)):
                vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from(end + "HHIII", data, pos)
                lib = cstr(link, vn_file)
                apos = pos + vn_aux
                for _ in range(vn_cnt):
                    vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from(end + "IHHII", data, apos)
                    info.version_needs.setdefault(lib, []).append(cstr(link, vna_name))
                    if not vna_next:
                        break
                    apos += vna_next
                if not vn_next:
                    break
                pos += vn_next
    return info


def _count(sections, offset: int, typ: int) -> int:
    for t, off, size, link, info in sections:
        if t == typ and off == offset:
            return info or 1 << 16  # sh_info holds the number of entries
    return 0
