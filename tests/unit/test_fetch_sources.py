"""ci/fetch_sources.py: the pure parsing and checking logic (no apt, no network)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "fetch_sources.py"
_spec = importlib.util.spec_from_file_location("fetch_sources", SCRIPT)
fs = importlib.util.module_from_spec(_spec)
sys.modules["fetch_sources"] = fs  # dataclasses look the module up
_spec.loader.exec_module(fs)

# `apt-cache showsrc openssl` captured on Debian 12 with trixie deb-src entries
# (host names replaced by example hosts).  Note the third paragraph (from the
# security archive) has no md5 `Files:` field, and the first is Extra-Source-Only.
SHOWSRC_OPENSSL = """\
Package: openssl
Binary: openssl, openssl-provider-legacy, openssl-provider-fips, libssl3t64, libcrypto3-udeb, libssl3-udeb, libssl-dev, libssl-doc
Version: 3.5.7-1~deb13u2
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@lists.example.org>
Uploaders: Maintainer One <one@example.org>, Maintainer Two <two@example.org>
Build-Depends: debhelper-compat (= 13), dpkg-dev (>= 1.22.5), libzstd-dev, zlib1g-dev
Architecture: any all
Standards-Version: 4.7.2
Format: 3.0 (quilt)
Files:
 81887cbcbcfffb723ad8f7dcfdcaef70 2707 openssl_3.5.7-1~deb13u2.dsc
 36608cd5445f708d0c2200aea9682c35 53153930 openssl_3.5.7.orig.tar.gz
 1550a37dc3382ec617b5fd7d4140b92c 833 openssl_3.5.7.orig.tar.gz.asc
 1345084467bf31d9c7caf40647744577 74836 openssl_3.5.7-1~deb13u2.debian.tar.xz
Vcs-Browser: https://git.example.org/debian/openssl
Vcs-Git: https://git.example.org/debian/openssl.git
Checksums-Sha256:
 25904642004d30c5c3da4642a72a7d09f8d9eb6e5ce62dab53c0371114faf8f2 2707 openssl_3.5.7-1~deb13u2.dsc
 a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8 53153930 openssl_3.5.7.orig.tar.gz
 d3d082bee3f658c31db53af625eceecf29d777c7010394bed5787ebcc98abdf2 833 openssl_3.5.7.orig.tar.gz.asc
 593a47654ead460a3b609503733f80bef552ff0802799d3b47784faacc50809f 74836 openssl_3.5.7-1~deb13u2.debian.tar.xz
Homepage: https://openssl.example.org
Package-List: 
 libcrypto3-udeb udeb debian-installer optional arch=any profile=!noudeb profile:v1=!noudeb
 libssl-dev deb libdevel optional arch=any
 openssl deb utils optional arch=any
Testsuite: autopkgtest
Testsuite-Triggers: perl
Extra-Source-Only: yes
Directory: pool/main/o/openssl
Priority: source
Section: libs

Package: openssl
Binary: openssl, openssl-provider-legacy, openssl-provider-fips, libssl3t64, libcrypto3-udeb, libssl3-udeb, libssl-dev, libssl-doc
Version: 3.5.9-1~deb13u1
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@lists.example.org>
Architecture: any all
Format: 3.0 (quilt)
Files:
 58b50f483b0364df24f7c36cd6f48ceb 2707 openssl_3.5.9-1~deb13u1.dsc
 382c33039018809e6351539e9bdcd509 53279637 openssl_3.5.9.orig.tar.gz
 e1c41991a874f12de0a070b6aa2bddbe 931 openssl_3.5.9.orig.tar.gz.asc
 059f223edab19f0710f9d530f7080a7a 54612 openssl_3.5.9-1~deb13u1.debian.tar.xz
Checksums-Sha256:
 b038dfab5ee111242b7439e07c820d228519273e7fd1f514014b039e929aad9f 2707 openssl_3.5.9-1~deb13u1.dsc
 603f5602e2eef00d77fbd429d34dcd5822bb301757a1bc9cdb24c670f1eb859a 53279637 openssl_3.5.9.orig.tar.gz
 bdccf2057a7c4ae377b40e832cb8c632ae8b532d4fb64cc7b843066eee748f89 931 openssl_3.5.9.orig.tar.gz.asc
 7d5158a87cd24641316b050de419be4ebddb1f180afd7ebaa3bc990036c38ec6 54612 openssl_3.5.9-1~deb13u1.debian.tar.xz
Homepage: https://openssl.example.org
Directory: pool/main/o/openssl
Priority: source
Section: libs

Package: openssl
Binary: openssl, openssl-provider-legacy, openssl-provider-fips, libssl3t64, libcrypto3-udeb, libssl3-udeb, libssl-dev, libssl-doc
Version: 3.5.7-1~deb13u3
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@lists.example.org>
Architecture: any all
Format: 3.0 (quilt)
Vcs-Browser: https://git.example.org/debian/openssl
Checksums-Sha256:
 9cdb0d9daf0773ca5c0f3f5ea1fc59b1106a99e005a5c048948b826e8d3b47e1 2710 openssl_3.5.7-1~deb13u3.dsc
 a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8 53153930 openssl_3.5.7.orig.tar.gz
 d3d082bee3f658c31db53af625eceecf29d777c7010394bed5787ebcc98abdf2 833 openssl_3.5.7.orig.tar.gz.asc
 0a427fdc3e773f4119a7dd5b36d1f0903a163cf4ea15d812bb823b251ff1cbc5 147344 openssl_3.5.7-1~deb13u3.debian.tar.xz
Homepage: https://openssl.example.org
Directory: pool/updates/main/o/openssl
Priority: optional
Section: libs

"""

ORIG_357 = ("a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8", 53153930)

# openssl_3.5.7-1~deb13u2.dsc as downloaded (host names replaced; the signature
# block is kept only as text: these tests do not verify it).
DSC_OPENSSL = """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA512

Format: 3.0 (quilt)
Source: openssl
Binary: openssl, openssl-provider-legacy, openssl-provider-fips, libssl3t64, libcrypto3-udeb, libssl3-udeb, libssl-dev, libssl-doc
Architecture: any all
Version: 3.5.7-1~deb13u2
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@lists.example.org>
Homepage: https://openssl.example.org
Standards-Version: 4.7.2
Vcs-Git: https://git.example.org/debian/openssl.git
Build-Depends: debhelper-compat (= 13), dpkg-dev (>= 1.22.5), libzstd-dev, zlib1g-dev
Package-List:
 libssl-dev deb libdevel optional arch=any
 openssl deb utils optional arch=any
Checksums-Sha1:
 53d331880fbde8e6fe25870d5325a61201f6264d 53153930 openssl_3.5.7.orig.tar.gz
 9408998095f984b36591732286ef1df1ba7ce492 833 openssl_3.5.7.orig.tar.gz.asc
 6d1177d59ef985cff4b6baef95ae748ec724af12 74836 openssl_3.5.7-1~deb13u2.debian.tar.xz
Checksums-Sha256:
 a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8 53153930 openssl_3.5.7.orig.tar.gz
 d3d082bee3f658c31db53af625eceecf29d777c7010394bed5787ebcc98abdf2 833 openssl_3.5.7.orig.tar.gz.asc
 593a47654ead460a3b609503733f80bef552ff0802799d3b47784faacc50809f 74836 openssl_3.5.7-1~deb13u2.debian.tar.xz
Files:
 36608cd5445f708d0c2200aea9682c35 53153930 openssl_3.5.7.orig.tar.gz
 1550a37dc3382ec617b5fd7d4140b92c 833 openssl_3.5.7.orig.tar.gz.asc
 1345084467bf31d9c7caf40647744577 74836 openssl_3.5.7-1~deb13u2.debian.tar.xz

-----BEGIN PGP SIGNATURE-----

iQGzBAEBCgAdFiEEV4kucFIzBRM39v3RBWQfF1cS+lsFAmqLE+wACgkQBWQfF1cS
=AAAA
-----END PGP SIGNATURE-----
"""


# --- deb822 / apt-cache showsrc ---------------------------------------------

def test_parse_deb822_paragraphs_fields_and_continuations():
    pars = fs.parse_deb822(SHOWSRC_OPENSSL)
    assert [p["version"] for p in pars] == ["3.5.7-1~deb13u2", "3.5.9-1~deb13u1",
                                            "3.5.7-1~deb13u3"]
    first = pars[0]
    assert first["package"] == "openssl"
    assert first["extra-source-only"] == "yes"
    assert first["package-list"].splitlines()[0] == ""  # "Package-List: " then lines
    assert "libssl-dev deb libdevel optional arch=any" in first["package-list"]
    assert "files" not in pars[2]


def test_parse_deb822_rejects_garbage():
    with pytest.raises(ValueError):
        fs.parse_deb822(" continuation first\n")
    with pytest.raises(ValueError):
        fs.parse_deb822("no colon here\n")


def test_candidates_from_showsrc():
    cands = fs.candidates_from_showsrc(SHOWSRC_OPENSSL, "openssl")
    assert [c.version for c in cands] == ["3.5.7-1~deb13u2", "3.5.9-1~deb13u1",
                                          "3.5.7-1~deb13u3"]
    c = cands[2]
    assert c.checksums["openssl_3.5.7-1~deb13u3.dsc"] == (
        "9cdb0d9daf0773ca5c0f3f5ea1fc59b1106a99e005a5c048948b826e8d3b47e1", 2710)
    assert c.checksums["openssl_3.5.7.orig.tar.gz"] == ORIG_357
    assert not any(c.conflict for c in cands)


def test_candidates_ignore_other_sources_and_flag_conflicts():
    assert fs.candidates_from_showsrc(SHOWSRC_OPENSSL, "python3.13") == []
    first = SHOWSRC_OPENSSL.split("\n\n")[0] + "\n"
    same = fs.candidates_from_showsrc(first + "\n" + first, "openssl")
    assert len(same) == 1 and not same[0].conflict
    tampered = first.replace("25904642004d30c5", "00000000004d30c5")
    both = fs.candidates_from_showsrc(first + "\n" + tampered, "openssl")
    assert len(both) == 1 and both[0].conflict


def test_sort_newest_first_uses_the_given_comparison():
    order = {"3.5.7-1~deb13u2": 1, "3.5.7-1~deb13u3": 2, "3.5.9-1~deb13u1": 3}
    cmp = lambda a, b: (order[a] > order[b]) - (order[a] < order[b])  # noqa: E731
    assert fs.sort_newest_first(list(order), cmp) == [
        "3.5.9-1~deb13u1", "3.5.7-1~deb13u3", "3.5.7-1~deb13u2"]


# --- versions and names -------------------------------------------------------

@pytest.mark.parametrize("debian,upstream", [
    ("3.5.7-1~deb13u2", "3.5.7"),
    ("3.13.5-2+deb13u5", "3.13.5"),
    ("1:3.5.7-1", "3.5.7"),
    ("3.0.17-1~deb12u2", "3.0.17"),
    ("2.4-rc1-3", "2.4-rc1"),  # only the last hyphen starts the revision
])
def test_upstream_version(debian, upstream):
    assert fs.upstream_version(debian) == upstream


@pytest.mark.parametrize("bad", ["3.5.7", "1:3.5.7", "3.13.5+dfsg-1", "1.0+ds1-2",
                                 "2.0~repack-1", "x:1.0-1", "-1"])
def test_upstream_version_rejects_native_repacked_malformed(bad):
    with pytest.raises(fs.FetchError):
        fs.upstream_version(bad)


def test_orig_and_dsc_names():
    (cand,) = [c for c in fs.candidates_from_showsrc(SHOWSRC_OPENSSL, "openssl")
               if c.version == "3.5.7-1~deb13u2"]
    assert fs.orig_tarball_name("openssl", "3.5.7", cand.checksums) == \
        "openssl_3.5.7.orig.tar.gz"
    assert fs.orig_tarball_name("python3.13", "3.13.5", [
        "python3.13_3.13.5.orig.tar.xz", "python3.13_3.13.5.orig.tar.xz.asc"]) == \
        "python3.13_3.13.5.orig.tar.xz"
    with pytest.raises(fs.FetchError, match="openssl_3.5.8.orig.tar"):
        fs.orig_tarball_name("openssl", "3.5.8", cand.checksums)
    with pytest.raises(fs.FetchError):
        fs.orig_tarball_name("x", "1", ["x_1.orig.tar.gz", "x_1.orig.tar.xz"])
    assert fs.dsc_name("openssl", "3.5.7-1~deb13u2") == "openssl_3.5.7-1~deb13u2.dsc"
    assert fs.dsc_name("foo", "2:1.0-1") == "foo_1.0-1.dsc"


# --- .dsc checks ----------------------------------------------------------------

def test_dsc_checksums_from_signed_part():
    sums = fs.dsc_checksums(DSC_OPENSSL)
    assert sums["openssl_3.5.7.orig.tar.gz"] == ORIG_357
    assert set(sums) == {"openssl_3.5.7.orig.tar.gz", "openssl_3.5.7.orig.tar.gz.asc",
                         "openssl_3.5.7-1~deb13u2.debian.tar.xz"}
    # Checksums-Sha1 lines must not leak in.
    assert all(len(sha) == 64 for sha, _ in sums.values())


def test_clearsigned_body_strips_armor_and_dash_escapes():
    body, signed = fs.clearsigned_body(DSC_OPENSSL)
    assert signed
    assert body.startswith("Format: 3.0 (quilt)\n")
    assert "PGP" not in body and "Hash: SHA512" not in body
    text = ("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n- -----x\n"
            "-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n")
    assert fs.clearsigned_body(text) == ("A: b\n-----x\n", True)
    assert fs.clearsigned_body("A: b\n") == ("A: b\n", False)
    with pytest.raises(ValueError):
        fs.clearsigned_body("-----BEGIN PGP SIGNED MESSAGE-----\n\nA: b\n")


def test_text_after_the_signature_is_ignored():
    forged = DSC_OPENSSL + "\nChecksums-Sha256:\n " + "0" * 64 + " 1 openssl_3.5.7.orig.tar.gz\n"
    assert fs.dsc_checksums(forged)["openssl_3.5.7.orig.tar.gz"] == ORIG_357


def test_dsc_checksum_mismatch_is_detected():
    sums = fs.dsc_checksums(DSC_OPENSSL)
    orig = "openssl_3.5.7.orig.tar.gz"
    fs.check_entry(orig, sums[orig], (ORIG_357[0].upper(), ORIG_357[1]), "the .dsc")
    with pytest.raises(fs.FetchError, match="checksum mismatch for openssl_3.5.7.orig"):
        fs.check_entry(orig, sums[orig], ("f" * 64, ORIG_357[1]), "the .dsc")
    with pytest.raises(fs.FetchError, match="size=53153930"):
        fs.check_entry(orig, sums[orig], (ORIG_357[0], 1), "the .dsc")
    tampered = DSC_OPENSSL.replace("a8c0d28a529ca480f9f3", "b8c0d28a529ca480f9f3")
    with pytest.raises(fs.FetchError):
        fs.check_entry(orig, fs.dsc_checksums(tampered)[orig], ORIG_357, "the .dsc")


def test_malformed_checksums():
    with pytest.raises(ValueError):
        fs.parse_checksums(" abc 12 x.tar.gz\n")
    with pytest.raises(ValueError):
        fs.parse_checksums(" " + "a" * 64 + " twelve x.tar.gz\n")
    with pytest.raises(ValueError):
        fs.dsc_checksums("Format: 3.0 (quilt)\nSource: x\n")


# --- apt configuration helpers -----------------------------------------------------

def test_pick_archive_uris_and_sources_text():
    targets = [
        {"repo-uri": "http://nodes.example.com/node/", "release": "nodistro",
         "origin": "Node Source", "sourcesentry": "/etc/apt/sources.list.d/n.sources:1"},
        {"repo-uri": "http://mirror.example.org/debian/", "release": "bookworm",
         "origin": "Debian", "label": "Debian", "sourcesentry": "/etc/apt/d.sources:1"},
        {"repo-uri": "http://mirror.example.org/debian-security/",
         "release": "bookworm-security", "origin": "Debian", "label": "Debian-Security",
         "sourcesentry": "/etc/apt/d.sources:2"},
        {"repo-uri": "http://other.example.net/debian/", "release": "trixie",
         "origin": "Debian", "sourcesentry": "/etc/apt/sources.list.d/pybuildssl-x:1"},
    ]
    main, sec = fs.pick_archive_uris(targets, "/etc/apt/sources.list.d/pybuildssl-x")
    assert (main, sec) == ("http://mirror.example.org/debian",
                           "http://mirror.example.org/debian-security")
    text = fs.sources_file_text("trixie", main, sec)
    pars = fs.parse_deb822(text)
    assert [p["suites"] for p in pars] == ["trixie trixie-updates", "trixie-security"]
    assert all(p["types"] == "deb-src" and p["signed-by"] == fs.ARCHIVE_KEYRING
               for p in pars)
    assert len(fs.parse_deb822(fs.sources_file_text("trixie", main, None))) == 1
    assert fs.pick_archive_uris(targets[:1], "/nonexistent") == (None, None)


def test_package_spec():
    assert fs.parse_package_spec("cpython=python3.13") == ("cpython", "python3.13")
    for bad in ["openssl", "=openssl", "Open=ssl", "a=b c"]:
        with pytest.raises(argparse.ArgumentTypeError):
            fs.parse_package_spec(bad)


# --- repacks and the recipe's pins ------------------------------------------------

@pytest.mark.parametrize("debian,expected", [
    ("1:1.3.dfsg+really1.3.1-1+deb13u1", ("1.3.dfsg+really1.3.1", True, "1.3.1")),
    ("8.6.16+dfsg-1", ("8.6.16+dfsg", True, "8.6.16")),
    ("6.5+20250216-2", ("6.5+20250216", False, "6.5+20250216")),
    ("3.4.8-2", ("3.4.8", False, "3.4.8")),
])
def test_split_upstream(debian, expected):
    assert fs.split_upstream(debian) == expected


def _result(key, sha, debian_version, **kw):
    upstream, repacked, holds = fs.split_upstream(debian_version)
    return fs.Result(key, key, debian_version, upstream, sha, 123, f"/d/{key}_{upstream}.orig.tar.gz",
                     False, None, repacked, holds, **kw)


def test_classify_against_the_recipes_pins():
    pins = fs.recipe_sources("linux-x86_64-generic")
    zlib = pins["zlib"]
    # Debian's dfsg repack is pinned as an alternative: nothing to override
    r = _result("zlib", zlib.alternatives[0].sha256, "1:1.3.dfsg+really1.3.1-1")
    assert fs.classify(r, zlib) == {} and r.pinned_as == "alternative"
    # the upstream pin: the recipe's own values (the recipe's version spelling, not Debian's)
    nc = pins["ncurses"]
    r = _result("ncurses", nc.sha256, "6.5+20250216-2")
    assert fs.classify(r, nc) == {"ncurses": {"version": "6.5-20250216", "sha256": nc.sha256,
                                              "size": 123}} and r.pinned_as == "primary"
    # an unpinned repack is refused with the entry to add
    r = _result("zlib", "e" * 64, "1:1.3.dfsg+really1.3.2-1")
    with pytest.raises(fs.FetchError) as e:
        fs.classify(r, zlib)
    assert "[zlib].alternatives" in str(e.value) and "e" * 64 in str(e.value) and "zlib 1.3.2" in str(e.value)
    # an unpinned, unmarked orig is taken as upstream's tarball of Debian's version
    r = _result("openssl", "f" * 64, "3.5.7-1~deb13u2")
    assert fs.classify(r, pins["openssl"])["openssl"]["version"] == "3.5.7" and r.pinned_as == "override"


def test_the_default_packages_cover_every_default_component():
    from pybuildssl import recipe

    keys = {k for k, _ in fs.DEFAULT_PACKAGES}
    assert set(recipe.load("linux-x86_64-generic").components) | {"openssl", "cpython"} == keys


def test_the_override_file_is_a_recipe_layer_that_build_reads_as_data(tmp_path):
    """The root cause of the README's first command failing: sets travelled as
    text and a shell split them.  Now they travel as a TOML file."""
    from pybuildssl import cli, recipe

    pins = fs.recipe_sources("linux-x86_64-generic")
    r = _result("openssl", "f" * 64, "3.5.7-1~deb13u2")
    data = fs.classify(r, pins["openssl"])
    data.update(fs.classify(_result("ncurses", pins["ncurses"].sha256, "6.5+20250216-2"), pins["ncurses"]))
    f = tmp_path / "debian sources.toml"  # a space in the path: still one argument
    f.write_text(fs.overrides_toml(data), encoding="utf-8")
    rec = recipe.load("linux-x86_64-generic", override_files=[f])
    assert rec.openssl.version == "3.5.7" and rec.openssl.sha256 == "f" * 64 and rec.openssl.size == 123
    # --set still wins over the file
    rec = recipe.load("linux-x86_64-generic", ["openssl.version=3.5.7", "openssl.sha256=" + "a" * 64, "openssl.size=7"],
                      override_files=[f])
    assert (rec.openssl.sha256, rec.openssl.size) == ("a" * 64, 7)
    # the CLI takes it as one argument
    args = cli.build_parser().parse_args(["build", "--overrides", str(f)])
    assert args.override_files == [f]


def test_a_bad_override_file_names_the_file_and_the_key(tmp_path):
    from pybuildssl import recipe
    from pybuildssl.errors import RecipeError

    f = tmp_path / "o.toml"
    f.write_text('[openssl]\nversoin = "3.5.7"\n', encoding="utf-8")
    with pytest.raises(RecipeError) as e:
        recipe.load("linux-x86_64-generic", override_files=[f])
    assert str(f) in str(e.value) and "versoin" in str(e.value) and "version" in (e.value.hint or "")
    f.write_text('extends = "linux-x86_64-rhel"\n', encoding="utf-8")
    with pytest.raises(RecipeError, match="cannot use 'extends'"):
        recipe.load("linux-x86_64-generic", override_files=[f])


def test_only_releases_of_the_recipes_line_stand_in_for_its_pin():
    import debian_fetch

    assert debian_fetch._in_line("3.5.7-1~deb13u2", "3.5") and debian_fetch._in_line("1:3.5.9-1", "3.5")
    assert not debian_fetch._in_line("3.6.5-1", "3.5") and not debian_fetch._in_line("3.50.1-1", "3.5")
    assert debian_fetch._in_line("3.13.15-1", "3.13") and not debian_fetch._in_line("3.13.5+dfsg-1x", "3.1")
    r = fs.recipe_sources("linux-x86_64-generic", ["openssl.version=3.6"])
    assert fs._line(r["openssl"]) == "3.6" and fs._line(r["cpython"]) == "3.13"
    assert set(fs.LINED) == {"openssl", "cpython"}
