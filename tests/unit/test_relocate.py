"""Relocation fix-ups on text files (the ELF part is covered by the integration build)."""

from __future__ import annotations

import os

from pybuildssl import relocate

OLD = "/opt/pybuildssl/python"


def test_sysconfigdata_values_follow_sys_base_prefix(tmp_path):
    p = tmp_path / "_sysconfigdata__linux_x86_64-linux-gnu.py"
    p.write_text("# system configuration\nbuild_time_vars = {'prefix': '%s', 'LDFLAGS': '-L%s/lib -L%s/lib64',"
                 " 'VERSION': '3.13', 'Py_ENABLE_SHARED': 1}\n" % (OLD, OLD, OLD))
    assert relocate.rewrite_sysconfigdata(p, OLD)
    text = p.read_text()
    assert OLD not in text
    import sys

    ns: dict = {}
    exec(compile(text, str(p), "exec"), ns)
    v = ns["build_time_vars"]
    assert v["prefix"] == sys.base_prefix
    assert v["LDFLAGS"] == f"-L{sys.base_prefix}/lib -L{sys.base_prefix}/lib64"
    assert v["VERSION"] == "3.13" and v["Py_ENABLE_SHARED"] == 1
    assert not relocate.rewrite_sysconfigdata(p, OLD)  # idempotent


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
