"""doctor for a Windows python.exe: which trust sources the facts show (pure)."""

from __future__ import annotations

from pybuildssl.doctor import windows as dw

STOCK = {"python": "3.13.2", "executable": "Z:\\p\\python.exe", "openssl": "OpenSSL 3.0.15", "env": {},
         "stores": ["CA", "ROOT"], "patched": False, "windows_mode": None,
         "enumerated": {"x509_ca": 147}, "winstore_wired": False, "under_wine": True}


def test_stock_python_trusts_through_enumeration_only():
    assert [s["source"] for s in dw.sources(STOCK)] == ["enumeration"]
    assert "147 CA certificates" in dw.sources(STOCK)[0]["detail"]


def test_winstore_mode_has_no_enumeration_and_names_winstore():
    f = dict(STOCK, stores=[], windows_mode="winstore", patched=True, winstore_wired=True,
             enumerated={"x509_ca": 0})
    assert [s["source"] for s in dw.sources(f)] == ["winstore"]
    f["sources"] = dw.sources(f)
    text = dw.render(f)
    assert "trust mode: winstore" in text and "wired into the default verify paths: yes" in text


def test_both_and_env_in_the_order_openssl_consults_them():
    f = dict(STOCK, winstore_wired=True, env={"SSL_CERT_FILE": "C:\\ca.pem"})
    assert [s["source"] for s in dw.sources(f)] == ["env", "enumeration", "winstore"]


def test_nothing_is_said_plainly():
    f = dict(STOCK, stores=[], winstore_wired=False)
    f["sources"] = dw.sources(f)
    assert "nothing: no store" in dw.render(f)


def test_which_paths_are_windows_pythons(tmp_path):
    (tmp_path / "python.exe").write_bytes(b"MZ")
    assert dw.is_windows_python(str(tmp_path)) and dw.is_windows_python(str(tmp_path / "python.exe"))
    assert not dw.is_windows_python(None) and not dw.is_windows_python("/usr/bin/python3")
