"""`pybuildssl ci render`: a CI pipeline for a user's repository, from templates/ci/*.j2.

One job per recipe, each on a runner of the recipe's own OS and architecture
(nothing is cross-built): install pybuildssl, restore the source and build
caches, ``pybuildssl build``, ``pybuildssl verify`` as the gate (JUnit report
uploaded whatever the outcome), then the artifact and its sha256 are
published, and the job summary shows them.

Deciding and rendering are pure (:func:`plan_jobs`, :func:`render`); only the
CLI writes a file.  Every value reaches the YAML as a JSON string (valid
YAML), or, inside shell scripts, only after :func:`_safe` has checked it
holds no character a shell or YAML would read specially.

Third-party actions are pinned by full commit sha (:data:`GITHUB_ACTIONS`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .shipped import shipped_dir
from . import __version__
from .errors import PybuildsslError, RecipeError, UsageError

PROVIDERS = ("github", "gitlab")

#: Output file each provider reads, relative to the repository root.
DEFAULT_OUTPUT = {"github": ".github/workflows/pybuildssl.yml", "gitlab": ".gitlab-ci.yml"}

#: Pinned actions: name -> (full commit sha, the release tag it is).  The shas
#: are those the upstream tags point to (checked against many public
#: workflows that pin the same tags); update them together with the tag.
GITHUB_ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "actions/cache": ("5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
}

#: GitHub-hosted runner labels per (os, arch): the recipe's native machine.
GITHUB_RUNNERS = {
    ("linux", "x86_64"): "ubuntu-24.04",
    ("linux", "aarch64"): "ubuntu-24.04-arm",
    ("macos", "arm64"): "macos-15",
    ("macos", "x86_64"): "macos-15-intel",
    ("windows", "x86_64"): "windows-2022",
    ("windows", "arm64"): "windows-11-arm",
}

#: GitLab.com hosted runner tags.  macOS runners are Apple silicon only: the
#: x86_64 job runs there under Rosetta 2 (``arch -x86_64``).  There are no
#: Windows arm64 runners: pass ``--runner windows-arm64=TAG`` for your own.
GITLAB_RUNNERS = {
    ("linux", "x86_64"): "saas-linux-medium-amd64",
    ("linux", "aarch64"): "saas-linux-medium-arm64",
    ("macos", "arm64"): "saas-macos-medium-m1",
    ("macos", "x86_64"): "saas-macos-medium-m1",
    ("windows", "x86_64"): "saas-windows-medium-amd64",
}
GITLAB_IMAGES = {"linux": "python:3.12-bookworm", "macos": "macos-15-xcode-16"}

#: Visual Studio developer environment per arch (vcvarsall.bat argument).
VCVARS = {"x86_64": "x64", "arm64": "arm64"}

_SAFE = re.compile(r"^[A-Za-z0-9._+\-=<>!~\[\],/@:]+$")


class CIError(PybuildsslError):
    exit_code = 2


@dataclass(frozen=True)
class Job:
    """One pipeline job: everything a template needs, already decided."""

    name: str                 # recipe name (job and artifact names)
    recipe: str               # what `pybuildssl build` is given (name or path)
    os: str
    arch: str
    runner: str
    artifact: str             # file name `pybuildssl build` writes into dist/
    recipe_sha256: str
    sources_key: str          # cache key part: the two source pins
    vcvars: str = ""          # Windows: vcvarsall.bat argument
    nasm: bool = False        # Windows x86_64: VC-WIN64A assembles with NASM
    rosetta: bool = False     # GitLab macOS x86_64 on Apple silicon
    notes: tuple[str, ...] = field(default_factory=tuple)


def _safe(value: str, what: str) -> str:
    if not _SAFE.match(value):
        raise CIError(f"{what} {value!r} has characters that cannot go into a CI script unquoted",
                      hint="use letters, digits and . _ + - = < > ! ~ [ ] , / @ :")
    return value


def _runner_overrides(items: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, label = item.partition("=")
        if not sep or not key or not label:
            raise UsageError(f"--runner {item!r}: expected KEY=LABEL",
                             hint="KEY is a recipe name or OS-ARCH, e.g. --runner windows-arm64=my-arm-runner")
        out[key] = _safe(label, "runner label")
    return out


def plan_jobs(provider: str, recipes: Sequence[str] | None = None, *,
              runners: Mapping[str, str] | None = None) -> tuple[list[Job], list[tuple[str, str]]]:
    """(jobs, skipped) for ``recipes``.

    Default: every shipped recipe that builds and has a hosted runner; the
    others are listed in ``skipped`` with the reason.  A recipe named
    explicitly that cannot get a job is an error instead.
    """
    from . import recipe as recipe_mod
    from .plan import artifact_name, make_plan

    if provider not in PROVIDERS:
        raise UsageError(f"unknown CI provider {provider!r}", hint="valid: " + ", ".join(PROVIDERS))
    runners = dict(runners or {})
    explicit = bool(recipes)
    names = list(recipes) if recipes else list(recipe_mod.available())
    table = GITHUB_RUNNERS if provider == "github" else GITLAB_RUNNERS
    jobs: list[Job] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for given in names:
        r = recipe_mod.load(given)
        try:  # a recipe that refuses to build (alpine: no musl yet) gets no job
            make_plan(r, cache_dir=Path("/ci"), jobs=1, toolchain="ci", ssl_patch="")
        except RecipeError as e:
            if explicit:
                raise CIError(f"recipe {given!r} cannot be built: {e.message}", hint=e.hint) from None
            skipped.append((r.name, "refuses to build: " + e.message.split(": ", 1)[-1]))
            continue
        if r.name in seen:
            raise CIError(f"recipe {r.name!r} is listed twice")
        seen.add(r.name)
        key = (r.os, r.arch)
        runner = runners.get(r.name) or runners.get(f"{r.os}-{r.arch}") or table.get(key)
        if not runner and not explicit:
            skipped.append((r.name, f"no {provider}-hosted runner for {r.os} {r.arch} "
                                    f"(--runner {r.os}-{r.arch}=LABEL names yours)"))
            continue
        if not runner:
            raise CIError(f"{provider}: no hosted runner for {r.os} {r.arch} (recipe {r.name})",
                          hint=f"name your own: --runner {r.os}-{r.arch}=LABEL")
        notes = []
        rosetta = provider == "gitlab" and r.os == "macos" and r.arch == "x86_64" \
            and runner == GITLAB_RUNNERS[("macos", "x86_64")]
        if rosetta:
            notes.append("GitLab's macOS runners are Apple silicon: this job runs x86_64 under Rosetta 2")
        jobs.append(Job(
            name=_safe(r.name, "recipe name"), recipe=_safe(given, "recipe"), os=r.os, arch=r.arch,
            runner=runner, artifact=_safe(artifact_name(r), "artifact name"), recipe_sha256=r.digest(),
            sources_key=f"{r.openssl.sha256[:16]}-{r.cpython.sha256[:16]}",
            vcvars=VCVARS.get(r.arch, "") if r.os == "windows" else "",
            nasm=r.os == "windows" and r.arch == "x86_64", rosetta=rosetta, notes=tuple(notes)))
    if not jobs:
        raise CIError("no recipe to build", hint="name some with --recipes")
    return jobs, skipped


def linux_packages() -> list[str]:
    """Debian/Ubuntu packages a Linux build needs (from the Linux platform's list)."""
    from .platforms import linux

    return sorted(set(linux.PREREQUISITES.values()) | {"patch", "ca-certificates", "pkg-config"})


def _template(name: str) -> str:
    return (shipped_dir("templates") / "ci" / name).read_text("utf-8")


def _env():
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        autoescape=False,
        # GitHub's own expressions are ${{ ... }}: the templates use [[ ]] and [% %].
        variable_start_string="[[", variable_end_string="]]",
        block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]")
    env.filters["q"] = lambda v: json.dumps(str(v))
    return env


def render(provider: str, recipes: Sequence[str] | None = None, *, install: str | None = None,
           python: str = "3.12", runners: Mapping[str, str] | None = None,
           name: str = "pybuildssl", command: str | None = None) -> str:
    """The pipeline file's text (pure apart from reading recipes and templates)."""
    jobs, skipped = plan_jobs(provider, recipes, runners=runners)
    install = _safe(install or f"pybuildssl=={__version__}", "install spec")
    python = _safe(python, "python version")
    if command is None:
        parts = ["pybuildssl ci render --provider", provider]
        if recipes:
            parts += ["--recipes", ",".join(recipes)]
        command = " ".join(parts)
    tpl = _env().from_string(_template(f"{provider}.yml.j2"))
    return tpl.render(
        jobs=jobs, skipped=skipped, install=install, python=python, workflow_name=name, version=__version__,
        command=command, actions={k: {"sha": v[0], "tag": v[1]} for k, v in GITHUB_ACTIONS.items()},
        linux_packages=linux_packages(), images=GITLAB_IMAGES)


#: The project's own workflow (copy it to .github/workflows/ to run it there).
OWN_WORKFLOW = "ci/github/workflow.yml"


def own_workflow() -> str:
    """The project's own GitHub workflow: every shipped recipe, pybuildssl from the checkout."""
    return render("github", install=".", name="pybuildssl",
                  command=f"pybuildssl ci render --provider github --install . --output {OWN_WORKFLOW}")


def write(text: str, path: Path) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def resolve(recipe_arg: str) -> dict[str, str]:
    """What a GitHub job computes at run time from its recipe: artifact name and cache keys.

    Keeping these out of the rendered file means bumping a recipe's pins
    needs no re-render.  ``python -m pybuildssl.ci resolve RECIPE`` prints
    them as ``key=value`` lines (for ``$GITHUB_OUTPUT``).
    """
    from . import recipe as recipe_mod
    from .plan import artifact_name

    r = recipe_mod.load(recipe_arg)
    return {"artifact": artifact_name(r), "recipe-sha256": r.digest(),
            "sources-key": f"{r.openssl.sha256[:16]}-{r.cpython.sha256[:16]}"}


def split_recipes(values: Sequence[str]) -> list[str]:
    """--recipes a,b --recipes c -> [a, b, c]."""
    return [x.strip() for v in values for x in v.split(",") if x.strip()]


def _main(argv: Sequence[str] | None = None) -> int:
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "resolve":
        print("usage: python -m pybuildssl.ci resolve RECIPE", file=sys.stderr)
        return 2
    try:
        for k, v in resolve(args[1]).items():
            print(f"{k}={v}")
    except PybuildsslError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
