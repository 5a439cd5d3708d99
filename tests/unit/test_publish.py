"""SHA256SUMS, the uv downloads list and the CycloneDX SBOM beside artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pybuildssl import package, pins, plan, publish, recipe, sbom
from pybuildssl.errors import UsageError


#: The pinned CPython 3.13 release the recipes default to.
V = pins.load().release("cpython", "3.13").version


def manifest(name="linux-x86_64-generic", *sets, **target):
    r = recipe.load(name, list(sets))
    comps = [{"name": n, "version": s.version, "sha256": s.sha256, "url": s.urls[0], "license": s.license,
              "modules": ["_x"]} for n, s in r.components.items()]
    return {
        "recipe": {"name": r.name, "resolved": r.to_dict()},
        "target": {"os": r.os, "arch": r.arch, "libc": r.libc, **target},
        "build_tag": plan.build_tag(r), "build_time": "2023-11-14T22:13:20Z",
        "cpython": {"version": r.cpython.version}, "openssl": {"version": r.openssl.version},
        "trust": {"patch_sha256": "ab" * 32, "opt_out_env": "PYBUILDSSL_NO_FALLBACK"},
        "sources": [{"name": s.name, "version": s.version, "sha256": s.sha256, "url": s.urls[0],
                     "license": s.license} for s in (r.openssl, r.cpython)],
        "components": comps,
    }


def test_uv_entry_has_every_field_uv_reads():
    key, e = publish.uv_entry(manifest(), "file:///d/x.tar.gz", "cd" * 32)
    assert key == f"cpython-{V}-linux-x86_64-gnu"
    assert e == {"name": "cpython", "arch": {"family": "x86_64", "variant": None}, "os": "linux", "libc": "gnu",
                 "major": 3, "minor": 13, "patch": int(V.split(".")[2]), "prerelease": "", "url": "file:///d/x.tar.gz",
                 "sha256": "cd" * 32, "variant": None, "build": "openssl3.5.9.generic"}


@pytest.mark.parametrize("name,key", [
    ("macos-arm64", f"cpython-{V}-darwin-aarch64-none"),
    ("windows-x86_64", f"cpython-{V}-windows-x86_64-none"),
    ("linux-aarch64-generic", f"cpython-{V}-linux-aarch64-gnu"),
])
def test_uv_keys_use_uvs_words(name, key):
    assert publish.uv_entry(manifest(name), "u", "0" * 64)[0] == key


def test_prerelease_and_bad_versions():
    m = manifest()
    m["cpython"]["version"] = "3.14.0rc1"
    key, e = publish.uv_entry(m, "u", "0" * 64)
    assert key == "cpython-3.14.0rc1-linux-x86_64-gnu" and (e["patch"], e["prerelease"]) == (0, "rc1")
    m["cpython"]["version"] = "3.14"
    with pytest.raises(UsageError, match="not X.Y.Z"):
        publish.uv_entry(m, "u", "0" * 64)


def test_a_free_threaded_build_is_uvs_freethreaded_variant_beside_the_default():
    """`uv python install 3.13+freethreaded` picks it; both fit in one list."""
    key, e = publish.uv_entry(manifest("linux-x86_64-generic", "cpython.free_threaded=true"), "u", "0" * 64)
    assert key == f"cpython-{V}+freethreaded-linux-x86_64-gnu" and e["variant"] == "freethreaded"
    both = publish.downloads_list([("t.tar.gz", manifest("linux-x86_64-generic", "cpython.free_threaded=true"), "u1",
                                    "1" * 64), ("g.tar.gz", manifest(), "u2", "2" * 64)])
    assert list(both) == [f"cpython-{V}+freethreaded-linux-x86_64-gnu", f"cpython-{V}-linux-x86_64-gnu"]


def test_two_artifacts_for_one_platform_are_refused():
    rows = [("a.tar.gz", manifest("linux-x86_64-generic"), "u1", "1" * 64),
            ("b.tar.gz", manifest("linux-x86_64-rhel"), "u2", "2" * 64)]
    with pytest.raises(UsageError, match=f"a.tar.gz and b.tar.gz are both cpython-{V}-linux-x86_64-gnu") as e:
        publish.downloads_list(rows)
    assert "publish-index" in e.value.hint
    both = publish.downloads_list([rows[0], ("m.tar.gz", manifest("macos-arm64"), "u3", "3" * 64)])
    assert list(both) == [f"cpython-{V}-darwin-aarch64-none", f"cpython-{V}-linux-x86_64-gnu"]


def test_sha256sums_format_and_urls(tmp_path):
    assert publish.sha256sums({"b": "2" * 64, "a": "1" * 64}) == f"{'1' * 64}  a\n{'2' * 64}  b\n"
    p = tmp_path / "cpython-3.13.15+openssl3.5.9.generic-x86_64-unknown-linux-gnu-install_only.tar.gz"
    assert publish.archive_url(None, p).endswith("/cpython-3.13.15%2Bopenssl3.5.9.generic-x86_64-unknown-linux-gnu"
                                                 "-install_only.tar.gz")
    assert publish.archive_url("https://h.example/py/", p) == \
        "https://h.example/py/cpython-3.13.15%2Bopenssl3.5.9.generic-x86_64-unknown-linux-gnu-install_only.tar.gz"
    with pytest.raises(UsageError, match="--base-url"):
        publish.check_base_url("h.example/py")


def test_names_follow_python_build_standalone():
    assert plan.artifact_name(recipe.load("linux-x86_64-rhel")) == \
        f"cpython-{V}+openssl3.5.9.rhel-x86_64-unknown-linux-gnu-install_only.tar.gz"
    assert plan.artifact_name(recipe.load("linux-x86_64-generic", ["build.strip=true"])).endswith(
        "-install_only_stripped.tar.gz")
    assert plan.artifact_name(recipe.load("macos-arm64")).startswith(f"cpython-{V}+openssl3.5.9.default-aarch64-apple-darwin")
    for name in recipe.available():
        tag = plan.build_tag(recipe.load(name))
        assert "-" not in tag and "+" not in tag


def _fake_archive(dist: Path, name: str, m: dict) -> Path:
    root = dist.parent / ("root-" + name)
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python3.13").write_text("x")
    return package.write_archive(root, m, dist / name, compression="gz", mtime=1700000000)


def test_publish_writes_everything_atomically_and_refuses_bad_input(tmp_path):
    dist = tmp_path / "dist"
    r = recipe.load("linux-x86_64-generic")
    a = _fake_archive(dist, plan.artifact_name(r), manifest())
    written = publish.publish(dist)
    assert sorted(p.name for p in written) == sorted([a.name + ".cdx.json", "python-downloads.json", "SHA256SUMS"])
    data = json.loads((dist / "python-downloads.json").read_text())
    (entry,) = data.values()
    assert entry["url"] == a.resolve().as_uri() and entry["sha256"] == publish.hashing.sha256_file(a)
    sums = (dist / "SHA256SUMS").read_text().splitlines()
    assert f"{entry['sha256']}  {a.name}" in sums and len(sums) == 2
    # a second artifact for the same platform: refused, nothing changed, no temp file left
    before = {p.name: p.read_bytes() for p in dist.iterdir()}
    _fake_archive(dist, plan.artifact_name(recipe.load("linux-x86_64-rhel")), manifest("linux-x86_64-rhel"))
    with pytest.raises(UsageError, match="both"):
        publish.publish(dist)
    after = {p.name: p.read_bytes() for p in dist.iterdir()}
    assert {k: v for k, v in after.items() if k in before} == before and not any(n.startswith(".") for n in after)
    with pytest.raises(UsageError, match="no artifact"):
        publish.publish(tmp_path / "empty")
    (dist / "cpython-junk.tar.gz").write_bytes(b"junk")
    with pytest.raises(UsageError, match="not a pybuildssl artifact"):
        publish.publish(dist, archives=[dist / "cpython-junk.tar.gz"])


def _cyclonedx_validator():
    return sbom.schema_validator()


def test_sbom_validates_against_the_published_cyclonedx_1_5_schema():
    m = manifest()
    doc = sbom.cyclonedx(m, "x.tar.gz", "ef" * 32)
    v = _cyclonedx_validator()
    errors = sorted(v.iter_errors(doc), key=str)
    assert not errors, errors[0]
    by = {c["name"]: c for c in doc["components"]}
    for name in ("cpython", "openssl", "zlib", "bzip2", "xz", "libffi", "sqlite", "ncurses", "readline", "libuuid"):
        c = by[name]
        assert c["version"] and len(c["hashes"][0]["content"]) == 64 and c["externalReferences"][0]["url"]
        assert c["licenses"] and "id" in c["licenses"][0]["license"]
    assert "alternative" not in by["zlib"].get("description", "")
    m["components"][0]["pinned_as"] = "alternative"
    alt = sbom.cyclonedx(m, "x.tar.gz", "ef" * 32)["components"]
    assert "alternative pinned tarball" in [c for c in alt if c["name"] == m["components"][0]["name"]][0]["description"]
    assert by["cpython"]["licenses"][0]["license"]["id"] == "PSF-2.0"
    assert by["openssl"]["licenses"][0]["license"]["id"] == "Apache-2.0"
    assert by["pybuildssl ssl trust patch"]["hashes"][0]["content"] == "ab" * 32
    assert by["cpython"]["pedigree"]["patches"]
    # something the schema must refuse: the validator is not a no-op
    broken = json.loads(json.dumps(doc))
    broken["components"][0]["licenses"] = [{"license": {"id": "Not-A-Licence"}}]
    assert list(v.iter_errors(broken))


def test_sbom_lists_the_winstore_patch_with_its_sha256():
    r = recipe.load("windows-x86_64-winstore")
    m = manifest("windows-x86_64-winstore")
    doc = sbom.cyclonedx(m, "w.tar.gz", "01" * 32)
    (p,) = [c for c in doc["components"] if c["name"] == "openssl-winstore-default-paths.patch"]
    assert p["hashes"][0]["content"] == r.openssl.patches[0]["sha256"]
    assert not list(_cyclonedx_validator().iter_errors(doc))


def test_every_source_pin_has_an_spdx_licence():
    import cyclonedx.schema

    ids = set(json.loads((Path(cyclonedx.schema.__file__).parent / "_res" / "spdx.SNAPSHOT.schema.json")
                         .read_text())["enum"])
    r = recipe.load("linux-x86_64-generic", ["components.gdbm=true", "components.tkinter=true"])
    for s in (r.openssl, r.cpython, *r.components.values()):
        assert s.license in ids, (s.name, s.license)


def test_publish_index_cli_says_what_is_wrong_with_exit_code_2(tmp_path, capsys):
    from pybuildssl import cli

    assert cli.main(["publish-index", "--dist", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no artifact" in err and str(tmp_path) in err and "pybuildssl build" in err
    assert cli.main(["publish-index", "--dist", str(tmp_path), "--base-url", "ftp://x"]) == 2
    assert "--base-url ftp://x" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
