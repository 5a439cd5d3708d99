"""ci/track_pins.py's upstream fetching for real: urllib over TLS to a loopback HTTPS server that
serves the answers of tests/fixtures/upstream/ at python.org's and GitHub's paths, trusted through
SSL_CERT_FILE (a test CA); and a closed loopback port, reported in one line.

Debian's side is the machine's own signed indices (--extra-suite none --no-update: nothing is
fetched); the assertions are on the lines no suite of a stable Debian carries (CPython 3.10,
3.12 and 3.15, OpenSSL 3.6).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pybuildssl import pins
from pybuildssl.verify import tls

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "upstream"
PROXIES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def served_tree(root: Path) -> None:
    """The fixture answers where the sites serve them (a directory's index.html answers its URL with
    any query); CPython 3.15.2's sha256 changed to disagree with the pin."""
    files = json.loads((FIXTURES / "pythondotorg-api-v2-downloads-release_file.json").read_text())
    for item in files:
        if item["url"].endswith("/Python-3.15.2.tar.xz"):
            item["sha256_sum"] = "e" * 64
    put = {"api/v2/downloads/release/index.html": (FIXTURES / "pythondotorg-api-v2-downloads-release.json").read_text(),
           "api/v2/downloads/release_file/index.html": json.dumps(files),
           "ftp/python/3.11.16/Python-3.11.16.tar.xz.spdx.json":
               (FIXTURES / "release-tools-sbom-Python-3.11.16.tar.xz.spdx.json").read_text(),
           "repos/openssl/openssl/releases": (FIXTURES / "github-rest-list-releases-openssl.json").read_text()}
    for v in ("3.6.6", "3.5.9"):
        put[f"openssl/openssl/releases/download/openssl-{v}/openssl-{v}.tar.gz.sha256"] = \
            (FIXTURES / f"openssl-make-release-openssl-{v}.tar.gz.sha256").read_text()
    for rel, text in put.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def track_pins(pins_file: Path, base: str, ca_file: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXIES}
    env.update(SSL_CERT_FILE=str(ca_file), PYTHONPATH=str(REPO), PYBUILDSSL_UPSTREAM_PYTHON_ORG=base,
               PYBUILDSSL_UPSTREAM_GITHUB_API=base, PYBUILDSSL_UPSTREAM_GITHUB=base)
    env.pop("SSL_CERT_DIR", None)
    return subprocess.run([sys.executable, str(REPO / "ci" / "track_pins.py"), "--pins", str(pins_file),
                           "--extra-suite", "none", "--no-update", *extra],
                          capture_output=True, text=True, env=env, timeout=120, cwd=str(REPO))


@pytest.fixture
def pins_copy(tmp_path) -> Path:
    path = tmp_path / "pins.toml"
    shutil.copyfile(pins.PATH, path)
    return path


def test_upstream_answers_over_verified_tls_move_pins_unsigned(tmp_path, pins_copy):
    ca = tls.CA()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    root = tmp_path / "www"
    served_tree(root)
    with tls.HTTPSServer(ca.issue("127.0.0.1"), directory=root) as srv:
        base = f"https://127.0.0.1:{srv.port}"
        r = track_pins(pins_copy, base, ca_file, "--write")
        requests = list(srv.requests)
    assert r.returncode == 1, r.stdout + r.stderr  # 3.10.22 is known, its sha256 is not
    lines = {x.split(":")[0]: x for x in r.stdout.splitlines()}
    assert "not reachable" not in r.stdout and "Traceback" not in r.stderr
    assert "NEWER upstream: python.org 3.12.15" in lines["cpython 3.12"]
    assert "NEWER upstream: GitHub 3.6.6" in lines["openssl 3.6"]
    assert lines["cpython 3.10"].endswith("python.org 3.10.22, sha256 unknown (python.org gives an md5 only): "
                                          "not written")
    assert "CHECK BY HAND" in lines["cpython 3.15"]
    assert any("GET /api/v2/downloads/release_file/?release=1191 " in q for q in requests)
    new = pins.load(pins_copy)
    py312, ossl36 = new.lines["cpython"]["3.12"], new.lines["openssl"]["3.6"]
    assert (py312.version, py312.size, py312.signed) == ("3.12.15", 20834112, False)
    assert py312.evidence == (f"python.org: sha256 of Python-3.12.15.tar.xz read from "
                              f"{base}/api/v2/downloads/release_file/?release=1191 (HTTPS-authenticated, not signed)")
    assert (ossl36.version, ossl36.size, ossl36.signed) == ("3.6.6", 55101234, False)
    assert ossl36.evidence.endswith(f"{base}/openssl/openssl/releases/download/openssl-3.6.6/"
                                    "openssl-3.6.6.tar.gz.sha256 (HTTPS-authenticated, not signed)")
    assert new.lines["cpython"]["3.15"] == pins.load().lines["cpython"]["3.15"]
    assert new.lines["cpython"]["3.10"] == pins.load().lines["cpython"]["3.10"]


def test_a_server_the_client_does_not_trust_is_not_read(tmp_path, pins_copy):
    ca_file = tmp_path / "other-ca.pem"
    ca_file.write_bytes(tls.CA().cert_pem)  # not the CA that issued the server's certificate
    root = tmp_path / "www"
    served_tree(root)
    with tls.HTTPSServer(tls.CA().issue("127.0.0.1"), directory=root) as srv:
        r = track_pins(pins_copy, f"https://127.0.0.1:{srv.port}", ca_file)
        assert srv.requests == []
    assert "python.org: not reachable ([SSL: CERTIFICATE_VERIFY_FAILED]" in r.stdout
    assert pins_copy.read_bytes() == pins.PATH.read_bytes()


def test_a_closed_port_is_one_line_and_a_normal_exit(tmp_path, pins_copy):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = track_pins(pins_copy, f"https://127.0.0.1:{port}", tmp_path / "absent.pem")
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr
    notes = [x for x in r.stdout.splitlines() if "not reachable" in x]
    assert len(notes) == 2 and notes[0].startswith("python.org: not reachable (")
    assert notes[0].endswith("Connection refused); Debian's indices only")
    assert r.stdout.count("cpython 3.1") == 6 and "NEWER upstream" not in r.stdout
