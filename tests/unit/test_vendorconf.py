"""Vendor-configuration layouts: the data, the layouts, the judgement (pure)."""

from __future__ import annotations

import pytest

from pybuildssl.errors import VerifyError
from pybuildssl.verify import parse_layouts, vendorconf


def test_every_layout_has_its_vendor_files_with_diagnostics_on():
    configs = vendorconf.load()
    assert {"rhel-config", "rhel-config-legacy", "rhel-config-future", "rhel-config-fips"} <= set(configs)
    for name, rel in vendorconf.iter_files():
        assert vendorconf.read(rel), (name, rel)
    cnf = vendorconf.read("rhel9/openssl.cnf").decode()
    assert "\nconfig_diagnostics = 1\n" in cnf
    assert ".include = /etc/crypto-policies/back-ends/opensslcnf.config" in cnf
    for policy, allow in (("DEFAULT", "no"), ("LEGACY", "yes"), ("FUTURE", "no")):
        text = vendorconf.read(f"crypto-policies/{policy}-opensslcnf.config").decode()
        assert f"[evp_properties]\nrh-allow-sha1-signatures = {allow}" in text
        suites = next(x for x in text.splitlines() if x.startswith("Ciphersuites = "))
        key = {"DEFAULT": "rhel-config", "LEGACY": "rhel-config-legacy", "FUTURE": "rhel-config-future"}[policy]
        assert suites.split(" = ")[1].split(":") == list(configs[key].ciphersuites)


def test_the_layout_links_the_vendor_file_into_the_interpreters_openssldir():
    lay = vendorconf.layout("rhel-config-fips", host_roots=False, openssldir="/etc/ssl")
    assert ("/etc/ssl/openssl.cnf", "/etc/pki/tls/openssl.cnf") in lay.links
    assert "/etc/crypto-policies" in lay.hide
    assert b"Options = RHNoEnforceEMSinFIPS" in lay.file("/etc/crypto-policies/back-ends/opensslcnf.config").content
    assert b"fips = fips_sect" in lay.file("/etc/pki/tls/openssl.d/pybuildssl-fips-and-engine.cnf").content
    # the vendor's own OPENSSLDIR: nothing to link
    assert not any(p.endswith("openssl.cnf") for p, _ in vendorconf.layout(
        "rhel-config", host_roots=False, openssldir="/etc/pki/tls").links)


def test_judge_reports_each_first_user_order_and_a_policy_not_in_force():
    c = vendorconf.load()["rhel-config-future"]
    ok = {"ok": True, "tls13": list(c.ciphersuites)}
    assert vendorconf.judge(c, [dict(ok, order=o) for o in vendorconf.ORDERS]) == []
    bad = vendorconf.judge(c, [
        {"order": "ssl", "ok": False,
         "error": "SSLError: [CONF: MODULE_INITIALIZATION_ERROR] module initialization error"},
        dict(ok, order="hashlib", tls13=["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"]),
        {"order": "thread", "ok": False, "error": "SSLError: unknown error (_ssl.c:3063)"},
    ])
    assert bad[0].startswith("ssl first: SSLError: [CONF: MODULE_INITIALIZATION_ERROR]")
    assert bad[1].startswith("hashlib first: the FUTURE policy is not in force")
    assert bad[2].startswith("hashlib first, ssl in a thread: SSLError: unknown error")


def test_layouts_option_knows_the_config_layouts_and_all_includes_them():
    assert parse_layouts("rhel-config", "debian") == ["rhel-config"]
    assert set(vendorconf.names()) <= set(parse_layouts("all", "debian"))
    with pytest.raises(VerifyError) as e:
        parse_layouts("rhel-konfig", "debian")
    assert "rhel-config" in e.value.hint
