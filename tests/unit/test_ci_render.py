"""`pybuildssl ci render`: pipelines validated against the published JSON schemas.

The schemas are the ones check-jsonschema vendors (SchemaStore's GitHub
workflow schema, GitLab's own CI schema), read offline from its package data.
YAML is read with ruamel.yaml (YAML 1.2: ``on`` stays a string).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from pybuildssl import ci, recipe
from pybuildssl.cli import main

try:  # the test dependency `check-jsonschema` brings both (and the schemas)
    import jsonschema
    import ruamel.yaml as ruamel_yaml
    import check_jsonschema  # noqa: F401
except ImportError as e:  # pragma: no cover
    pytest.fail(f"{e}: these tests need `pip install check-jsonschema`", pytrace=False)

REPO = Path(__file__).resolve().parents[2]
SHA_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40})$")


def _schema(name: str) -> dict:
    try:
        pkg = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:  # pragma: no cover
        pytest.fail("the check-jsonschema package is needed for its vendored schemas: pip install check-jsonschema")
    return json.loads(pkg.joinpath(name).read_text("utf-8"))


def _load(text: str):
    return ruamel_yaml.YAML(typ="safe", pure=True).load(text)


def _errors(data, schema_name: str) -> list[str]:
    v = jsonschema.Draft7Validator(_schema(schema_name))
    return [f"{'/'.join(map(str, e.path))}: {e.message[:300]}" for e in v.iter_errors(data)]


def _buildable() -> list[str]:
    """Shipped recipes that plan (a recipe may refuse to build, as alpine did before musl)."""
    from pybuildssl.errors import RecipeError
    from pybuildssl.plan import make_plan

    out = []
    for n in recipe.available():
        try:
            make_plan(recipe.load(n), cache_dir=Path("/ci"), jobs=1, toolchain="ci", ssl_patch="")
        except RecipeError:
            continue
        out.append(n)
    return out


@pytest.fixture
def refusing_recipe(tmp_path, monkeypatch):
    """A recipe that loads but refuses to build (a macOS recipe for aarch64), listed as shipped."""
    path = tmp_path / "macos-refuses.toml"
    path.write_text('extends = "macos-arm64"\ndescription = "refuses"\n\n[target]\narch = "aarch64"\n')
    shipped = recipe.available()
    monkeypatch.setattr(recipe, "available", lambda: {**shipped, "macos-refuses": path})
    return "macos-refuses"


# ------------------------------------------------------------------ GitHub ---

def test_github_workflow_is_valid_and_has_one_job_per_buildable_recipe():
    data = _load(ci.render("github"))
    assert _errors(data, "github-workflows.json") == []
    include = data["jobs"]["build"]["strategy"]["matrix"]["include"]
    assert [e["name"] for e in include] == _buildable()
    by = {e["name"]: e for e in include}
    assert by["linux-aarch64-generic"]["runner"] == "ubuntu-24.04-arm"
    assert by["macos-arm64"]["runner"] == "macos-15" and by["macos-x86_64"]["runner"] == "macos-15-intel"
    assert by["windows-x86_64"]["runner"] == "windows-2022" and by["windows-x86_64"]["vcvars"] == "x64"
    assert by["windows-x86_64"]["nasm"] is True and by["windows-arm64"]["nasm"] is False
    assert by["windows-arm64"]["runner"] == "windows-11-arm" and by["windows-arm64"]["vcvars"] == "arm64"


def test_github_jobs_resolve_pins_at_run_time_so_pin_bumps_need_no_rerender():
    text = ci.render("github")
    for name in recipe.available():
        r = recipe.load(name)
        assert r.digest() not in text and r.openssl.sha256 not in text and r.cpython.sha256[:16] not in text
    assert "python -m pybuildssl.ci resolve \"$RECIPE\"" in text
    r = recipe.load("linux-x86_64-rhel")
    assert ci.resolve("linux-x86_64-rhel") == {
        "artifact": f"cpython-{r.cpython.version}+openssl{r.openssl.version}.rhel-x86_64-unknown-linux-gnu"
                    "-install_only.tar.gz",
        "recipe-sha256": r.digest(), "sources-key": f"{r.openssl.sha256[:16]}-{r.cpython.sha256[:16]}"}


def test_resolve_prints_github_output_lines(capsys):
    assert ci._main(["resolve", "macos-arm64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["artifact", "recipe-sha256", "sources-key"]
    assert ci._main(["resolve", "no-such-recipe"]) == 2
    assert ci._main([]) == 2


def test_github_a_recipe_that_refuses_to_build_is_left_out_with_the_reason(refusing_recipe):
    text = ci.render("github")
    assert "# Not built here: macos-refuses (refuses to build: " in text and "not a macOS arch" in text
    names = [e["name"] for e in _load(text)["jobs"]["build"]["strategy"]["matrix"]["include"]]
    assert "macos-refuses" not in names and "macos-arm64" in names


def test_github_actions_are_pinned_by_full_commit_sha():
    text = ci.render("github")
    data = _load(text)
    uses = [s["uses"] for s in data["jobs"]["build"]["steps"] if "uses" in s]
    assert uses, "the workflow uses actions"
    pinned = set()
    for u in uses:
        m = SHA_PIN.match(u)
        assert m, f"{u} is not pinned by a 40-hex commit sha"
        sha, tag = ci.GITHUB_ACTIONS[m["action"]]
        assert m["sha"] == sha
        assert f"{u} # {tag}" in text, "each pin names the release it is"
        pinned.add(m["action"])
    assert pinned == set(ci.GITHUB_ACTIONS)
    assert {tag.split(".")[0] for _, tag in ci.GITHUB_ACTIONS.values()} == {"v4", "v5"}


def test_github_verify_gates_the_upload_and_the_report_is_always_kept():
    steps = _load(ci.render("github"))["jobs"]["build"]["steps"]
    names = [s.get("name", s.get("uses")) for s in steps]
    verify = names.index("Verify (the gate)")
    report = names.index("Upload the verify report")
    upload = names.index("Upload the artifact")
    assert verify < report < upload and names.index("sha256 and job summary") < upload
    assert steps[report]["if"] == "always()" and "if" not in steps[upload] and "if" not in steps[verify]
    assert "--junit" in steps[verify]["run"]
    assert "GITHUB_STEP_SUMMARY" in steps[names.index("sha256 and job summary")]["run"]
    build = [s for s in steps if s.get("name", "").startswith("Build (")]
    assert all("--no-verify --dist dist" in s["run"] for s in build)
    caches = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
    assert [c["with"]["path"] for c in caches] == ["${{ runner.temp }}/pybuildssl-cache/sources",
                                                   "${{ runner.temp }}/pybuildssl-cache/components"]
    assert names.index("Resolve the recipe (artifact name, cache keys)") < names.index(caches[0]["name"])
    assert "steps.recipe.outputs.recipe-sha256" in caches[1]["with"]["key"]


def test_github_windows_build_runs_in_a_developer_prompt_and_linux_installs_the_build_packages():
    steps = _load(ci.render("github"))["jobs"]["build"]["steps"]
    win = [s for s in steps if s.get("name") == "Build (Windows, in a Visual Studio developer environment)"][0]
    assert win["shell"] == "cmd" and "vcvarsall.bat\" %VCVARS_ARCH%" in win["run"]
    assert win["run"].index("vcvarsall") < win["run"].index("pybuildssl build")
    apt = [s for s in steps if s.get("name") == "Build dependencies (Linux)"][0]
    for pkg in ("patchelf", "autoconf", "libtool", "patch"):
        assert pkg in apt["run"]


# ------------------------------------------------------------------ GitLab ---

def test_gitlab_pipeline_is_valid_and_skips_what_gitlab_cannot_run():
    text = ci.render("gitlab")
    data = _load(text)
    assert _errors(data, "gitlab-ci.json") == []
    jobs = {k: v for k, v in data.items() if k.startswith("pybuildssl:")}
    want = [n for n in _buildable() if not n.startswith("windows-arm64")]
    assert sorted(jobs) == sorted(f"pybuildssl:{n}" for n in want)
    assert "# Not built here: windows-arm64 (no gitlab-hosted runner" in text
    assert data[".pybuildssl"]["artifacts"]["when"] == "always"
    assert data[".pybuildssl"]["artifacts"]["reports"]["junit"] == "reports/verify-*.xml"
    mac = jobs["pybuildssl:macos-x86_64"]
    assert mac["variables"]["RUN"] == "arch -x86_64" and jobs["pybuildssl:macos-arm64"]["variables"]["RUN"] == ""
    keys = [c["key"] for c in jobs["pybuildssl:linux-x86_64-generic"]["cache"]]
    assert keys[0].startswith("pybuildssl-sources-") and keys[1].startswith("pybuildssl-components-linux-x86_64-generic-")


def test_gitlab_scripts_parse_to_the_intended_commands():
    data = _load(ci.render("gitlab", ["linux-x86_64-generic", "windows-x86_64"]))
    linux = data["pybuildssl:linux-x86_64-generic"]
    flat = [c for item in linux["script"] for c in (item if isinstance(item, list) else [item])]
    assert flat[0] == 'pybuildssl build "$RECIPE" --no-verify --dist dist'
    assert flat[2] == '$RUN pybuildssl verify "dist/$ARTIFACT" --junit "reports/verify-$NAME.xml"'
    assert flat.index(flat[2]) < flat.index('cp "dist/$ARTIFACT" publish/'), "publish only after verify"
    win = data["pybuildssl:windows-x86_64"]
    assert any(line.startswith("cmd /c \"`\"$vs\\VC\\Auxiliary\\Build\\vcvarsall.bat`\" x64 && set\"")
               for line in win["before_script"])
    assert all("$LASTEXITCODE" in line for line in win["script"] if line.startswith("pybuildssl "))


def test_gitlab_windows_arm64_needs_a_runner_of_your_own():
    with pytest.raises(ci.CIError) as e:
        ci.render("gitlab", ["windows-arm64"])
    assert "no hosted runner for windows arm64" in e.value.message and "--runner windows-arm64=" in e.value.hint
    data = _load(ci.render("gitlab", ["windows-arm64"], runners={"windows-arm64": "my-arm64"}))
    assert data["pybuildssl:windows-arm64"]["tags"] == ["my-arm64"]
    assert _errors(data, "gitlab-ci.json") == []


# ------------------------------------------------------------------ shared ---

@pytest.mark.parametrize("provider,schema", [("github", "github-workflows.json"), ("gitlab", "gitlab-ci.json")])
def test_the_schema_check_really_checks(provider, schema):
    data = _load(ci.render(provider, ["linux-x86_64-generic"]))
    if provider == "github":
        data["jobs"]["build"]["runs-on"] = 5
        data["jobs"]["build"]["timeout-minutes"] = "long"
    else:
        data["pybuildssl:linux-x86_64-generic"]["when"] = "sometimes"
    assert _errors(data, schema)


def test_explicit_recipes_only_and_paths_work(fixtures):
    data = _load(ci.render("github", ["macos-arm64", str(fixtures / "recipes" / "good-local.toml")]))
    include = data["jobs"]["build"]["strategy"]["matrix"]["include"]
    assert [e["name"] for e in include] == ["macos-arm64", "good-local"]
    assert include[1]["recipe"].endswith("good-local.toml")


def test_a_recipe_that_refuses_to_build_cannot_be_asked_for(refusing_recipe):
    with pytest.raises(ci.CIError) as e:
        ci.render("github", [refusing_recipe])
    assert "cannot be built" in e.value.message and "not a macOS arch" in e.value.message


@pytest.mark.parametrize("bad", ["pybuildssl; rm -rf /", "x y", "$(id)", "a\nb", "'q'"])
def test_unsafe_values_never_reach_a_script(bad):
    with pytest.raises(ci.CIError) as e:
        ci.render("github", ["linux-x86_64-generic"], install=bad)
    assert "cannot go into a CI script" in e.value.message


def test_templates_use_strict_undefined():
    import jinja2

    env = ci._env()
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        env.from_string(ci._template("github.yml.j2")).render(jobs=[])


def test_recipes_option_splits_commas():
    assert ci.split_recipes(["a,b", " c ", ""]) == ["a", "b", "c"]


def test_cli_writes_the_file(tmp_path, capsys):
    out = tmp_path / "wf" / "pybuildssl.yml"
    assert main(["ci", "render", "--provider", "github", "--recipes", "linux-x86_64-generic,macos-arm64",
                 "--output", str(out)]) == 0
    data = _load(out.read_text())
    assert [e["name"] for e in data["jobs"]["build"]["strategy"]["matrix"]["include"]] == \
        ["linux-x86_64-generic", "macos-arm64"]
    assert main(["ci", "render", "--provider", "gitlab", "--recipes", "windows-arm64", "--output", "-"]) == 2
    assert "--runner windows-arm64=" in capsys.readouterr().err


# ------------------------------------------- the project's own workflow ---

def test_the_projects_own_workflow_is_the_rendered_one():
    """ci/github/workflow.yml is `ci render` output; regenerate it when this fails:
    python -c "from pybuildssl import ci; ci.write(ci.own_workflow(), __import__('pathlib').Path('ci/github/workflow.yml'))"
    """
    own = (REPO / "ci" / "github" / "workflow.yml").read_text("utf-8")
    assert own == ci.own_workflow()
    data = _load(own)
    assert _errors(data, "github-workflows.json") == []
    steps = data["jobs"]["build"]["steps"]
    assert any(s.get("run") == "python -m pip install ." for s in steps), "the project installs its checkout"
