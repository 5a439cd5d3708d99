"""Relocation fix-ups on text files (the ELF part is covered by the integration build)."""

from __future__ import annotations

import os

import pytest

from pybuildssl import relocate

OLD = "/opt/pybuildssl/python"


HEADER = "# system configuration generated and used by the sysconfig module\n"


def _sysconfigdata(tmp_path, prefix=OLD):
    p = tmp_path / "_sysconfigdata__linux_x86_64-linux-gnu.py"
    # the shape CPython's pprint writes: one literal, long values as concatenated strings
    p.write_text(HEADER + "build_time_vars = {'CONFIG_ARGS': \"'--prefix=%s' \"\n"
                 "                \"'--enable-shared'\",\n 'INSTALL': '/usr/bin/install -c',\n"
                 " 'LDFLAGS': '-L%s/lib -Wl,-rpath,%s/lib',\n 'LIBDIR': '%s/lib',\n"
                 " 'Py_ENABLE_SHARED': 1,\n 'prefix': '%s'}\n" % ((prefix,) * 5))
    return p


def _hook(base_prefix):
    """The hook relocate puts into sysconfig, run against a given sys.base_prefix."""
    import types

    ns = {"sys": types.SimpleNamespace(base_prefix=base_prefix)}
    exec(relocate.SYSCONFIG_HOOK, ns)
    return ns["_pybuildssl_relocate"]


def test_sysconfigdata_stays_a_literal_with_the_placeholder(tmp_path):
    p = _sysconfigdata(tmp_path)
    assert relocate.rewrite_sysconfigdata(p, OLD)
    text = p.read_text()
    assert OLD not in text and text.startswith(HEADER + "build_time_vars = {")
    data = relocate.check_sysconfigdata(text)
    assert data["LIBDIR"] == "/install/lib" and data["Py_ENABLE_SHARED"] == 1
    assert data["CONFIG_ARGS"] == "'--prefix=/install' '--enable-shared'"
    assert not relocate.rewrite_sysconfigdata(p, OLD)  # idempotent


def test_check_sysconfigdata_refuses_what_installers_cannot_parse():
    good = HEADER + "build_time_vars = {'a': 'b', 'n': -1}\n"
    assert relocate.check_sysconfigdata(good) == {"a": "b", "n": -1}
    bad = {
        "header": "# other\nbuild_time_vars = {}\n",
        "code": HEADER + "import sys as _sys\nbuild_time_vars = {'prefix': _sys.base_prefix}\n",
        "literal": HEADER + "build_time_vars = {'prefix': '/'.join(['', 'x'])}\n",
        "escape": HEADER + "build_time_vars = {'a': 'tab\\there'}\n",
        "float": HEADER + "build_time_vars = {'a': 1.5}\n",
    }
    for what, text in bad.items():
        with pytest.raises(ValueError):
            relocate.check_sysconfigdata(text)
        assert what  # each case refused


def test_hook_maps_the_placeholder_at_path_boundaries_only(tmp_path):
    p = _sysconfigdata(tmp_path)
    relocate.rewrite_sysconfigdata(p, OLD)
    v = _hook("/opt/moved here")(relocate.check_sysconfigdata(p.read_text()))
    assert v["LIBDIR"] == "/opt/moved here/lib" and v["prefix"] == "/opt/moved here"
    assert v["LDFLAGS"] == "-L/opt/moved here/lib -Wl,-rpath,/opt/moved here/lib"
    assert v["CONFIG_ARGS"] == "'--prefix=/opt/moved here' '--enable-shared'"
    assert v["INSTALL"] == "/usr/bin/install -c"  # not a path under the prefix
    assert v["Py_ENABLE_SHARED"] == 1


def test_hook_after_an_installer_rewrote_the_file_and_after_a_move(tmp_path):
    # uv replaces whole /install... words; -L/install/lib stays for the hook
    uv = {"prefix": "/home/u/py/cpython-3.13.5-linux-x86_64-gnu", "LIBDIR": "/home/u/py/cpython-3.13.5-linux-x86_64-gnu/lib",
          "LDFLAGS": "-L/install/lib", "PYTHON_BUILD_STANDALONE": 1}
    here = _hook(uv["prefix"])(uv)
    assert here["LIBDIR"] == uv["LIBDIR"] and here["LDFLAGS"] == f"-L{uv['prefix']}/lib"
    moved = _hook("/srv/python")(uv)
    assert moved["LIBDIR"] == "/srv/python/lib" and moved["prefix"] == "/srv/python"
    # an install dir under a directory named like the placeholder is left alone
    odd = {"prefix": "/install/pythons/cpython-3.13", "LIBDIR": "/install/pythons/cpython-3.13/lib"}
    assert _hook("/install/pythons/cpython-3.13")(odd) == odd
    # moved to a parent of where it was written for
    assert _hook("/u")({"prefix": "/u/cpy", "LIBDIR": "/u/cpy/lib"})["LIBDIR"] == "/u/lib"


def test_sysconfig_module_gets_the_hook_once(tmp_path):
    p = tmp_path / "sysconfig.py"
    p.write_text("import sys\n\ndef _init_posix(vars):\n    name = 'x'\n"
                 "    _temp = __import__(name)\n    build_time_vars = _temp.build_time_vars\n"
                 "    vars.update(build_time_vars)\n")
    assert relocate.patch_sysconfig_module(p)
    text = p.read_text()
    assert "build_time_vars = _pybuildssl_relocate(_temp.build_time_vars)" in text
    assert text.index("def _pybuildssl_relocate") < text.index("def _init_posix")
    compile(text, str(p), "exec")
    assert not relocate.patch_sysconfig_module(p)
    other = tmp_path / "other.py"
    other.write_text("def _init_posix(vars):\n    vars.update(load())\n")
    with pytest.raises(ValueError, match="hook cannot be placed"):
        relocate.patch_sysconfig_module(other)


def test_makefile_computes_its_prefix(tmp_path):
    p = tmp_path / "Makefile"
    p.write_text(f"prefix=\t\t{OLD}\nLIBPL=\t\t{OLD}/lib/python3.13/config\nCONFIG_ARGS= '--prefix={OLD}'\n")
    assert relocate.rewrite_makefile(p, OLD)
    text = p.read_text()
    assert OLD not in text
    assert text.startswith("prefix=\t\t$(abspath $(dir $(lastword $(MAKEFILE_LIST)))../../..)\n")
    assert "LIBPL=\t\t$(prefix)/lib/python3.13/config" in text


def test_pkgconfig_uses_pcfiledir(tmp_path):
    p = tmp_path / "python-3.13.pc"
    p.write_text(f"prefix={OLD}\nexec_prefix=${{prefix}}\nlibdir={OLD}/lib\n")
    assert relocate.rewrite_pkgconfig(p, OLD)
    assert p.read_text() == "prefix=${pcfiledir}/../..\nexec_prefix=${prefix}\nlibdir=${prefix}/lib\n"


def test_shebang_becomes_a_relocatable_polyglot(tmp_path):
    p = tmp_path / "pip3"
    p.write_text(f"#!{OLD}/bin/python3.13\nimport sys\nprint(sys.argv)\n")
    os.chmod(p, 0o755)
    assert relocate.rewrite_shebang(p, OLD)
    text = p.read_text()
    assert OLD not in text and text.startswith("#!/bin/sh\n'''exec' ")
    assert '/python3.13" "$0" "$@"' in text and text.endswith("import sys\nprint(sys.argv)\n")
    assert os.stat(p).st_mode & 0o777 == 0o755
    compile(text, "pip3", "exec")  # still valid Python after the sh lines


def test_config_script_uses_its_computed_prefix(tmp_path):
    p = tmp_path / "python3.13-config"
    p.write_text('#!/bin/sh\nprefix_real=$(installed_prefix "$0")\n'
                 f'prefix="{OLD}"\nLIBPL=$(echo "{OLD}/lib/python3.13/config" | sed "s#$prefix#$prefix_real#")\n')
    assert relocate.rewrite_config_script(p, OLD)
    text = p.read_text()
    assert OLD not in text and 'prefix="$prefix_real"' in text


def test_text_files_mentioning(tmp_path):
    (tmp_path / "a").write_text("nothing")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"\x00\x01/work/build/x\x00")
    assert relocate.text_files_mentioning(tmp_path, ["/work/build"]) == [("d/b", "/work/build")]


def test_config_script_survives_a_space_in_its_path_and_drops_build_flags(tmp_path):
    p = tmp_path / "python3.13-config"
    p.write_text('installed_prefix ()\n{\n    RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))\n'
                 '    echo $RESULT\n}\nprefix_real=$(installed_prefix "$0")\n'
                 f'prefix="{OLD}"\nCFLAGS=$(echo "-ffile-prefix-map=/w=/opt/pybuildssl/build -O3" | sed "s#x#y#")\n')
    assert relocate.rewrite_config_script(p, OLD)
    assert relocate.replace_build_paths(p, [("/nothing", "/x")])
    text = p.read_text()
    assert 'RESULT=$(dirname "$(cd "$(dirname "$1")" && pwd -P)")' in text and 'echo "$RESULT"' in text
    assert "-ffile-prefix-map" not in text and 'CFLAGS=$(echo "-O3"' in text


def test_sysconfig_names_cc_and_ar_not_the_build_hosts_clang():
    """What the relocate step does to sysconfig's text with the clang toolchain's relocations."""
    text = ("'CC': 'clang', 'LDSHARED': 'clang -shared', 'AR': '/c/bin/llvm-ar', "
            "'CONFIG_ARGS': \"'CC=clang'\", 'PGO_PROF_USE_FLAG': '-fprofile-instr-use=\"code.profclangd\"', "
            "'X': '/usr/lib/libclang.so clang-19 clang++'")
    for old, new in (("/c/bin/llvm-ar", "ar"), ("clang", "cc")):
        text = relocate.replace_one(text, old, new)
    assert text == ("'CC': 'cc', 'LDSHARED': 'cc -shared', 'AR': 'ar', 'CONFIG_ARGS': \"'CC=cc'\", "
                    "'PGO_PROF_USE_FLAG': '-fprofile-instr-use=\"code.profclangd\"', "
                    "'X': '/usr/lib/libclang.so clang-19 clang++'")
