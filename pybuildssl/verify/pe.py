"""Just enough of the PE format (Windows .exe/.dll/.pyd) for verify: the DLLs a file imports.

Standard library only.  Reads the headers, the section table and the import
directory (delay-load imports too: CPython's extensions use none, but a DLL
found only there would still be needed).  Anything malformed raises
:class:`PEError` naming the file and what is wrong.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MACHINES = {0x8664: "x86_64", 0xAA64: "arm64", 0x14C: "x86"}
#: DLLs every Windows 10+ installation has (and Wine provides): what an
#: artifact may import without shipping.  The api-ms-win-* names are API sets
#: resolved by the loader (the Universal CRT's among them).
SYSTEM_DLLS = frozenset(n.lower() for n in (
    "kernel32.dll", "advapi32.dll", "user32.dll", "gdi32.dll", "ws2_32.dll", "crypt32.dll",
    "bcrypt.dll", "ntdll.dll", "shell32.dll", "ole32.dll", "oleaut32.dll", "rpcrt4.dll",
    "shlwapi.dll", "version.dll", "winmm.dll", "iphlpapi.dll", "secur32.dll", "msvcrt.dll",
    "ucrtbase.dll", "comctl32.dll", "comdlg32.dll", "setupapi.dll", "userenv.dll", "wtsapi32.dll",
    "winhttp.dll", "wininet.dll", "dnsapi.dll", "mswsock.dll", "netapi32.dll", "psapi.dll",
    "imm32.dll", "cabinet.dll", "dbghelp.dll", "propsys.dll", "pathcch.dll", "mpr.dll",
    "wbemuuid.dll", "wbemcomn.dll", "normaliz.dll", "sspicli.dll", "crypt32.dll", "ncrypt.dll",
    "winspool.drv", "uxtheme.dll", "dwmapi.dll", "cfgmgr32.dll", "powrprof.dll", "wldap32.dll",
    "wsock32.dll", "msi.dll", "tcl86t.dll",
))
SYSTEM_PREFIXES = ("api-ms-win-", "ext-ms-win-")


class PEError(Exception):
    pass


@dataclass(frozen=True)
class PEInfo:
    path: Path
    machine: str
    timestamp: int
    imports: tuple[str, ...]   # DLL names as the file spells them, load order


def is_pe(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:2] != b"MZ":
                return False
            (off,) = struct.unpack_from("<I", head, 0x3C)
            f.seek(off)
            return f.read(4) == b"PE\0\0"
    except OSError:
        return False


def read(path: Path) -> PEInfo:
    data = Path(path).read_bytes()
    try:
        return _parse(Path(path), data)
    except (struct.error, IndexError, ValueError) as e:
        raise PEError(f"{path}: malformed PE file ({e})") from None


def _parse(path: Path, data: bytes) -> PEInfo:
    if data[:2] != b"MZ":
        raise PEError(f"{path}: not a PE file (no MZ header)")
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    if data[pe:pe + 4] != b"PE\0\0":
        raise PEError(f"{path}: not a PE file (no PE signature)")
    machine, nsections, timestamp, _, _, opt_size, _ = struct.unpack_from("<HHIIIHH", data, pe + 4)
    opt = pe + 24
    magic = struct.unpack_from("<H", data, opt)[0]
    dirs = opt + (112 if magic == 0x20B else 96)  # PE32+ or PE32
    ndirs = struct.unpack_from("<I", data, dirs - 4)[0]
    sections = []
    sec = opt + opt_size
    for i in range(nsections):
        vsize, vaddr, rawsize, rawptr = struct.unpack_from("<IIII", data, sec + 40 * i + 8)
        sections.append((vaddr, max(vsize, rawsize), rawptr))

    def offset(rva: int) -> int:
        for vaddr, size, rawptr in sections:
            if vaddr <= rva < vaddr + size:
                return rva - vaddr + rawptr
        raise ValueError(f"RVA {rva:#x} is in no section")

    def cstring(rva: int) -> str:
        o = offset(rva)
        return data[o:data.index(b"\0", o)].decode("ascii", "replace")

    names: list[str] = []
    for index, size in ((1, 20), (13, 32)):  # import table, delay-load import table
        if ndirs <= index:
            continue
        rva, length = struct.unpack_from("<II", data, dirs + 8 * index)
        if not rva or not length:
            continue
        o = offset(rva)
        while True:
            entry = data[o:o + size]
            if len(entry) < size or not any(entry):
                break
            name_rva = struct.unpack_from("<I", entry, 12 if index == 1 else 4)[0]
            if name_rva:
                names.append(cstring(name_rva))
            o += size
    return PEInfo(path, MACHINES.get(machine, hex(machine)), timestamp, tuple(names))


def is_system_dll(name: str) -> bool:
    low = name.lower()
    return low in SYSTEM_DLLS or low.startswith(SYSTEM_PREFIXES)
