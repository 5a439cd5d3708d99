"""verify's Windows checks that need no Windows: PE imports, compiled OpenSSL directories."""

from __future__ import annotations

import struct
from pathlib import Path

from pybuildssl.verify import checks, pe
from pybuildssl.verify.checks import windows as vw
from pybuildssl.verify.report import Report


def make_pe(imports: list[str]) -> bytes:
    """A minimal PE32+ file: headers, one section holding an import directory."""
    sect_rva, sect_raw = 0x1000, 0x200
    body = bytearray()
    desc_size = 20 * (len(imports) + 1)
    names_at = desc_size
    descs, names = bytearray(), bytearray()
    for name in imports:
        descs += struct.pack("<IIIII", 0, 0, 0, sect_rva + names_at + len(names), 0)
        names += name.encode() + b"\0"
    descs += b"\0" * 20
    body += descs + names
    body += b"\0" * (-len(body) % 0x200)
    dos = bytearray(b"MZ" + b"\0" * 58) + struct.pack("<I", 0x40)
    coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 240, 0x22)
    opt = bytearray(240)
    struct.pack_into("<H", opt, 0, 0x20B)
    struct.pack_into("<I", opt, 108, 16)                       # NumberOfRvaAndSizes
    struct.pack_into("<II", opt, 112 + 8, sect_rva, desc_size)  # data directory 1: imports
    section = struct.pack("<8sIIIIIIHHI", b".idata", len(body), sect_rva, len(body), sect_raw, 0, 0, 0, 0, 0)
    head = dos + b"PE\0\0" + coff + opt + section
    return bytes(head + b"\0" * (sect_raw - len(head)) + body)


def test_the_pe_reader_lists_imports():
    data = make_pe(["KERNEL32.dll", "libcrypto-3.dll"])
    assert pe._parse(Path("x.dll"), data).imports == ("KERNEL32.dll", "libcrypto-3.dll")
    assert pe._parse(Path("x.dll"), data).machine == "x86_64"


def _target(tmp_path: Path) -> checks.Target:
    return checks.Target(input=tmp_path, root=tmp_path, manifest=None, os="windows")


def test_every_import_shipped_or_system_passes_and_a_missing_one_is_named(tmp_path):
    (tmp_path / "_ssl.pyd").write_bytes(make_pe(["libssl-3.dll", "KERNEL32.dll", "api-ms-win-crt-runtime-l1-1-0.dll"]))
    (tmp_path / "libssl-3.dll").write_bytes(make_pe(["libcrypto-3.dll"]))
    r = Report(target="t")
    vw.check_pe_imports(_target(tmp_path), r)
    (f,) = r.findings
    assert f.status == "fail" and "libcrypto-3.dll (needed by libssl-3.dll) is not shipped" in f.detail
    (tmp_path / "libcrypto-3.dll").write_bytes(make_pe(["bcrypt.dll"]))
    r = Report(target="t")
    vw.check_pe_imports(_target(tmp_path), r)
    assert r.findings[0].status == "pass" and "3 PE files" in r.findings[0].detail


def test_compiled_directories_must_be_admin_only(tmp_path):
    good = (b'xx OPENSSLDIR: "C:/Program Files/Common Files/SSL"\0 ENGINESDIR: "C:/Program Files/Common Files/'
            b'lib64/engines-3"\0MODULESDIR: "C:/Program Files/Common Files/lib64/ossl-modules"\0')
    (tmp_path / "libcrypto-3.dll").write_bytes(good)
    r = Report(target="t")
    vw.check_compiled_dirs(_target(tmp_path), r)
    assert r.findings[0].status == "pass", r.findings[0].detail
    (tmp_path / "libcrypto-3.dll").write_bytes(good.replace(b"C:/Program Files/Common Files/SSL",
                                                            b"C:/msys64/home/builder/ssl"))
    r = Report(target="t")
    vw.check_compiled_dirs(_target(tmp_path), r)
    assert r.findings[0].status == "fail" and "OPENSSLDIR C:/msys64/home/builder/ssl" in r.findings[0].detail
    assert "CVE-2019-1552" in r.findings[0].detail


def test_the_winstore_verdict_follows_the_mode():
    trusted = {"handshakes": [{"id": "trusted/urllib", "client": "urllib", "ok": True},
                              {"id": "unknown-ca", "client": "urllib", "ok": False}]}
    refused = {"handshakes": [{"id": "trusted/urllib", "client": "urllib", "ok": False, "error": "verify failed"},
                              {"id": "unknown-ca", "client": "urllib", "ok": False}]}
    for facts, mode, want in ((trusted, "both", "pass"), (refused, "both", "fail"), (refused, "winstore", "fail"),
                              (refused, "enumeration", "pass"), (trusted, "enumeration", "fail")):
        r = Report(target="t")
        vw.check_winstore(facts, mode, r)
        assert r.findings[0].status == want, (mode, r.findings[0].detail)
