"""ci/upstream_index.py: the parsers on answers in the real formats (tests/fixtures/upstream/README.md
names where each comes from), and the one-line report of a site that does not answer (no network)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pybuildssl import pins

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ci"))
import upstream_index as ui  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "upstream"


def fixture(name: str):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text


RELEASES = fixture("pythondotorg-api-v2-downloads-release.json")
FILES = fixture("pythondotorg-api-v2-downloads-release_file.json")
GITHUB = fixture("github-rest-list-releases-openssl.json")


def test_python_org_newest_final_release_per_line_with_its_pk():
    got = ui.python_releases(RELEASES)
    assert got["3.13"] == ("3.13.18", 1190) and got["3.12"] == ("3.12.15", 1191)
    assert got["3.10"] == ("3.10.22", 1192) and got["2.7"] == ("2.7.18", 444)
    assert "3.16" not in got  # 3.16.0a1 is a pre-release


def test_python_org_source_file_is_the_asked_releases_tar_xz():
    item = ui.python_source_file(FILES, "3.13.18", 1190)
    assert item["sha256_sum"] == "abb0102e6d4ae027509bcb82327d9dd85515b44a3ba8ad538cfc5e9847029f68"
    assert item["filesize"] == 23243936 and item["url"].endswith("/Python-3.13.18.tar.xz")
    assert ui.python_source_file(FILES, "3.13.18", 1150) is None  # another release's file list


def test_python_org_file_with_a_sha256_with_an_md5_only_and_missing():
    url = "https://python.example/api/v2/downloads/release_file/?release=1191"
    u = ui._python_file("3.12.15", ui.python_source_file(FILES, "3.12.15", 1191), url)
    assert (u.sha256, u.size, u.url, u.filename) == (
        "3f1e5a7c9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a", 20834112, url, "Python-3.12.15.tar.xz")
    md5_only = ui._python_file("3.10.22", ui.python_source_file(FILES, "3.10.22", 1192), url)
    assert md5_only.sha256 is None and "md5 only" in md5_only.note
    assert ui._python_file("3.9.99", None, url).note == f"{url} lists no Python-3.9.99.tar.xz"


def test_without_sha256_sum_the_sbom_beside_the_tarball_gives_it(monkeypatch):
    sbom = fixture("release-tools-sbom-Python-3.11.16.tar.xz.spdx.json")
    asked = []
    monkeypatch.setenv("PYBUILDSSL_UPSTREAM_PYTHON_ORG", "https://python.example/")
    monkeypatch.setattr(ui, "get_json", lambda url: asked.append(url) or sbom)
    u = ui._python_file("3.11.16", ui.python_source_file(FILES, "3.11.16", 1141), "unused")
    assert asked == ["https://python.example/ftp/python/3.11.16/Python-3.11.16.tar.xz.spdx.json"]
    assert (u.sha256, u.size, u.url) == (pins.load().lines["cpython"]["3.11"].sha256, 20328716, asked[0])
    assert ui.sbom_sha256(sbom, "Python-3.11.15.tar.xz") is None


def test_github_newest_final_openssl_release_per_line():
    got = ui.openssl_releases(GITHUB)
    assert {line: v for line, (v, _) in got.items()} == {"3.6": "3.6.6", "3.5": "3.5.9", "4.0": "4.0.2"}
    # 3.6.7 is a draft, 4.1.0-alpha1 a pre-release
    assets = got["3.6"][1]
    assert assets["openssl-3.6.6.tar.gz"]["size"] == 55101234 and "openssl-3.6.6.tar.gz.sha256" in assets


@pytest.mark.parametrize("text", ["{h} *openssl-3.6.6.tar.gz\n", "{h}  openssl-3.6.6.tar.gz\n", "{h}\n"])
def test_a_sha256_file_in_each_form_release_sh_and_the_workflow_wrote(text):
    h = fixture("openssl-make-release-openssl-3.6.6.tar.gz.sha256").split()[0]
    assert ui.sha256_file(text.format(h=h), "openssl-3.6.6.tar.gz") == h
    assert ui.sha256_file(f"{h} *openssl-3.6.5.tar.gz", "openssl-3.6.6.tar.gz") is None


def _serve(monkeypatch, answers):
    monkeypatch.setattr(ui, "get", lambda url: answers[url].encode() if isinstance(answers[url], str)
                        else json.dumps(answers[url]).encode())


def test_openssl_tarball_sha256_from_the_sha256_file_cross_checked_with_the_digest(monkeypatch):
    monkeypatch.setenv("PYBUILDSSL_UPSTREAM_GITHUB", "https://gh.example")
    url = "https://gh.example/openssl/openssl/releases/download/openssl-3.6.6/openssl-3.6.6.tar.gz.sha256"
    _serve(monkeypatch, {url: fixture("openssl-make-release-openssl-3.6.6.tar.gz.sha256")})
    assets = ui.openssl_releases(GITHUB)["3.6"][1]
    u = ui._openssl_tarball("3.6.6", assets, "listed")
    assert (u.sha256[:8], u.size, u.url, u.filename) == ("6e1f3a5c", 55101234, url, "openssl-3.6.6.tar.gz")
    assets["openssl-3.6.6.tar.gz"] = dict(assets["openssl-3.6.6.tar.gz"], digest="sha256:" + "0" * 64)
    bad = ui._openssl_tarball("3.6.6", assets, "listed")
    assert bad.sha256 is None and "CHECK BY HAND" in bad.note


def test_the_whole_fetch_of_both_sites(monkeypatch):
    for name in ui.BASES:
        monkeypatch.setenv(name, "https://up.example")
    api = "https://up.example/api/v2/downloads/release_file/?release="
    answers = {"https://up.example/api/v2/downloads/release/": RELEASES,
               "https://up.example/ftp/python/3.11.16/Python-3.11.16.tar.xz.spdx.json":
                   fixture("release-tools-sbom-Python-3.11.16.tar.xz.spdx.json"),
               "https://up.example/repos/openssl/openssl/releases?per_page=100": GITHUB}
    answers.update({f"{api}{pk}": FILES for pk in (1192, 1141, 1191, 1190, 1187, 1188)})
    for v in ("3.6.6", "3.5.9"):
        answers[f"https://up.example/openssl/openssl/releases/download/openssl-{v}/openssl-{v}.tar.gz.sha256"] = \
            fixture(f"openssl-make-release-openssl-{v}.tar.gz.sha256")
    _serve(monkeypatch, answers)
    found, notes = ui.upstream_releases(pins.load())
    assert notes == []
    assert {k: u.version for k, u in found.items()} == {
        ("cpython", "3.10"): "3.10.22", ("cpython", "3.11"): "3.11.16", ("cpython", "3.12"): "3.12.15",
        ("cpython", "3.13"): "3.13.18", ("cpython", "3.14"): "3.14.10", ("cpython", "3.15"): "3.15.2",
        ("openssl", "3.5"): "3.5.9", ("openssl", "3.6"): "3.6.6"}
    assert found[("openssl", "3.5")].sha256 == pins.load().lines["openssl"]["3.5"].sha256


def test_a_site_that_does_not_answer_is_one_line_and_no_finding(monkeypatch):
    def refused(url):
        raise ui.Unusable("[Errno 111] Connection refused")

    monkeypatch.setattr(ui, "get", refused)
    found, notes = ui.upstream_releases(pins.load())
    assert found == {}
    assert notes == ["python.org: not reachable ([Errno 111] Connection refused); Debian's indices only",
                     "GitHub (openssl/openssl releases): not reachable ([Errno 111] Connection refused); "
                     "Debian's indices only"]


def test_an_answer_that_is_not_the_format_is_unusable():
    with pytest.raises(ui.Unusable):
        ui.python_releases({"objects": []})  # the v1 (Tastypie) shape, not v2's list
