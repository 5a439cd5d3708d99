"""Host-side verify checks on constructed facts (no interpreter, no subprocess)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from pybuildssl.errors import VerifyError
from pybuildssl.verify import checks, parse_layouts
from pybuildssl.verify.report import FAIL, PASS, Report, junit, table


def target(tmp_path: Path, os_name="linux", openssldir="/etc/ssl", **extra) -> checks.Target:
    manifest = {"openssl": {"openssldir": openssldir}, "build_paths": ["/home/ci/.cache/pybuildssl"], **extra}
    return checks.Target(input=tmp_path, root=tmp_path, manifest=manifest, os=os_name)


@pytest.mark.parametrize("os_name,path,status", [
    ("windows", "C:\\Program Files\\Common Files\\SSL", "pass"),
    ("windows", "C:\\Users\\build\\openssl\\ssl", "fail"),
    ("windows", "C:\\ProgramData\\SSL", "fail"),
    ("linux", "/etc/pki/tls", "pass"),
    ("linux", "/home/ci/.cache/pybuildssl/work/ssl", "fail"),
    ("linux", "/tmp/build/ssl", "fail"),
])
def test_openssldir_must_not_be_writable_by_users(tmp_path, os_name, path, status):
    r = Report("x")
    checks.check_openssldir(target(tmp_path, os_name, path), r)
    (f,) = r.findings
    assert (f.id, f.status) == ("openssl.openssldir", status), f.detail


@pytest.mark.parametrize("info,expected", [
    ((3, 5, 0, 7, 0), (3, 5, 7)),     # OpenSSL 3: MNN00PP0
    ((3, 0, 0, 19, 0), (3, 0, 19)),
    ((1, 1, 1, 23, 15), (1, 1, 1)),
])
def test_openssl_version_info_is_read_the_openssl_3_way(info, expected):
    assert checks.openssl_version(info) == expected


def test_handshake_judgement():
    ok = {"id": "trusted/urllib", "client": "urllib", "ok": True}
    refused = {"id": "unknown-ca", "ok": False, "kind": "cert-verify", "error": "CERTIFICATE_VERIFY_FAILED"}
    wrong = {"id": "wrong-host", "ok": False, "kind": "cert-verify", "verify_message": "Hostname mismatch"}
    assert checks._judge([ok, refused, wrong]) == ([], ["unknown-ca refused", "wrong-host refused"])
    problems, _ = checks._judge([dict(ok, ok=False, error="boom"), dict(refused, ok=True),
                                 dict(wrong, verify_message="self-signed certificate", error="x")])
    assert len(problems) == 3
    assert "did not trust" in problems[0] and "must be refused" in problems[1] and "hostname" in problems[2]


def test_hygiene_reads_the_archive_modes_not_the_extracted_ones(tmp_path):
    t = target(tmp_path)
    a, b = tarfile.TarInfo("python/bin/x"), tarfile.TarInfo("python/lib/y")
    a.mode, b.mode = 0o4755, 0o666
    t.members = [a, b]
    r = Report("x")
    checks.check_hygiene(t, r)
    got = {f.id: (f.status, f.detail) for f in r.findings}
    assert got["hygiene.setuid"][0] == "fail" and "python/bin/x" in got["hygiene.setuid"][1]
    assert got["hygiene.world-writable"][0] == "fail" and "python/lib/y" in got["hygiene.world-writable"][1]


def test_layouts_argument(monkeypatch):
    assert parse_layouts(None, "debian") == ["debian"]
    assert parse_layouts("host,rhel", "debian") == ["debian", "rhel"]
    everything = parse_layouts("all", "debian")
    assert everything[0] == "debian" and {"rhel", "fedora", "suse", "alpine", "arch"} <= set(everything)
    with pytest.raises(VerifyError) as e:
        parse_layouts("slackware", "debian")
    assert "unknown layout 'slackware'" in str(e.value) and "fedora" in e.value.hint


def test_reports_table_and_junit():
    r = Report("a.tar.gz")
    r.add("ssl.import", "pass", "OpenSSL 3.5.7")
    r.add("tls.trusted", "fail", "urllib: <boom & 'quotes'>")
    r.add("layout.suse", "skip", "needs a linux host")
    text = table(r)
    assert "FAIL  tls.trusted" in text and text.endswith("FAILED: 1 passed, 1 failed, 0 warnings, 1 skipped in 0.0s")
    xml = junit(r)
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    assert root.get("tests") == "3" and root.get("failures") == "1" and root.get("skipped") == "1"
    assert r.exit_code == 1 and Report("b").exit_code == 0


def test_skipped_handshakes_make_the_verdict_incomplete_not_ok():
    """A chroot without usable namespaces once gave 'OK: 19 passed, 3 skipped': verify's
    central evidence had silently disappeared."""
    r = Report("a.tar.gz")
    r.add("ssl.import", "pass", "OpenSSL 3.5.7")
    r.add("glibc.floor", "skip", "the recipe sets no glibc floor")  # not essential: still OK
    assert r.verdict == "pass" and r.exit_code == 0
    why = "mount namespaces unavailable: cannot change root filesystem propagation"
    for cid in ("tls.trusted", "tls.unknown-ca", "tls.wrong-host"):
        r.add(cid, "skip", why)
    text = table(r)
    assert r.verdict == "incomplete" and r.exit_code == 3 and r.to_json()["verdict"] == "incomplete"
    assert "INCOMPLETE: 1 passed" in text and "tls.trusted, tls.unknown-ca, tls.wrong-host did not run" in text
    assert why in text and "--allow-skipped" in text and "OK:" not in text
    r.allow_skipped = True
    assert r.verdict == "pass" and r.exit_code == 0 and "accepted as skipped" in table(r)
    # a failure still wins over acceptance
    r.add("tls.trusted", "fail", "boom")
    assert r.verdict == "fail" and r.exit_code == 1


def test_the_cli_takes_allow_skipped_on_verify_and_build():
    from pybuildssl import cli

    assert cli.build_parser().parse_args(["verify", "x.tar.gz", "--allow-skipped"]).allow_skipped
    assert cli.build_parser().parse_args(["build", "--allow-skipped"]).allow_skipped
    assert not cli.build_parser().parse_args(["verify", "x.tar.gz"]).allow_skipped


def _uv_tree(tmp_path):
    from pybuildssl import package, relocate

    lib = tmp_path / "lib" / "python3.13"
    lib.mkdir(parents=True)
    data = lib / "_sysconfigdata__linux_x86_64-linux-gnu.py"
    data.write_text(relocate.SYSCONFIGDATA_HEADER + "build_time_vars = {'LIBDIR': '/install/lib', 'prefix': '/install'}\n")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3.13").write_text("x")
    manifest = {"recipe": {"name": "r"}, "target": {"triple": "linux-x86_64"},
                "files": package.file_table(tmp_path)}
    return checks.Target(input=tmp_path, root=tmp_path, manifest=manifest), data


def test_manifest_accepts_what_uv_changes_and_nothing_more(tmp_path):
    from pybuildssl import relocate

    t, data = _uv_tree(tmp_path)
    # what uv does: rewrite the literal for its location, add bin/python and BUILD
    data.write_text(relocate.SYSCONFIGDATA_HEADER + 'build_time_vars = {\n    "LIBDIR": "%s/lib",\n'
                    '    "PYTHON_BUILD_STANDALONE": 1,\n    "prefix": "%s"\n}\n' % (tmp_path, tmp_path))
    (tmp_path / "bin" / "python").symlink_to("python3.13")
    (tmp_path / "BUILD").write_text("openssl3.5.9.generic")
    (tmp_path / "lib" / "python3.13" / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=uv's\n")
    r = Report(target=str(tmp_path))
    checks.check_manifest(t, r)
    f = r.findings[-1]
    assert f.id == "manifest.tree" and f.status == PASS and "installer" in f.detail, f
    # code in _sysconfigdata runs at import: never accepted
    data.write_text(relocate.SYSCONFIGDATA_HEADER + "import os\nbuild_time_vars = {'prefix': os.sep}\n")
    (tmp_path / "bin" / "evil").write_text("x")
    (tmp_path / "lib" / "python3.13" / "EXTERNALLY-MANAGED").write_text("import os\n")
    (tmp_path / "bin" / "python").unlink()
    (tmp_path / "bin" / "python").symlink_to("/tmp/elsewhere/python")
    r = Report(target=str(tmp_path))
    checks.check_manifest(t, r)
    f = r.findings[-1]
    assert f.status == FAIL
    problems = f.data["problems"]
    assert any("_sysconfigdata" in p and "sha256 differs" in p for p in problems)
    assert any(p.startswith("bin/evil") for p in problems) and any(p.startswith("bin/python") for p in problems)
    assert any(p.startswith("lib/python3.13/EXTERNALLY-MANAGED") for p in problems)
