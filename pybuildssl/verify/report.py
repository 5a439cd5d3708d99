"""Findings and how they are shown: a table for people, JSON, JUnit XML, GitHub annotations."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable
from xml.sax.saxutils import escape, quoteattr

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
REPORT_SCHEMA = 1

#: Which checks are essential (verify's reason to exist: the interpreter runs,
#: ssl works and real handshakes trust the system store and refuse the rest) is
#: said beside each check, in the registry of :mod:`.checks`, which declares
#: them here when the verify package loads (this module stays a leaf).  When
#: one of them is skipped (no mount namespaces, another OS's artifact) nothing
#: was proven, so the verdict is "incomplete", never OK, unless the user
#: accepts skipped checks (``--allow-skipped``).  ``layout.*`` matches every vendor.
_ESSENTIAL: set[str] = set()
#: The exit code of an incomplete verification (0 ok, 1 failed, 2 bad input).
EXIT_INCOMPLETE = 3


def declare_essential(check_ids: Iterable[str]) -> None:
    _ESSENTIAL.update(check_ids)


def essential(check_id: str) -> bool:
    return check_id in _ESSENTIAL or any(e.endswith("*") and check_id.startswith(e[:-1]) for e in _ESSENTIAL)


@dataclass
class Finding:
    id: str          # stable, e.g. "tls.unknown-ca"
    status: str      # pass | fail | warn | skip
    detail: str      # one line
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    target: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    allow_skipped: bool = False

    def add(self, id: str, status: str, detail: str, **data: Any) -> Finding:
        f = Finding(id, status, detail, data=data)
        self.findings.append(f)
        return f

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == FAIL]

    @property
    def unproven(self) -> list[Finding]:
        """Essential checks that were skipped."""
        return [f for f in self.findings if f.status == SKIP and essential(f.id)]

    @property
    def verdict(self) -> str:
        """fail, incomplete (essential checks skipped and not accepted), or pass."""
        if self.failed:
            return "fail"
        if self.unproven and not self.allow_skipped:
            return "incomplete"
        return "pass"

    @property
    def exit_code(self) -> int:
        return {"fail": 1, "incomplete": EXIT_INCOMPLETE, "pass": 0}[self.verdict]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in (PASS, FAIL, WARN, SKIP)}
        for f in self.findings:
            out[f.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"schema": REPORT_SCHEMA, "target": self.target, "verdict": self.verdict,
                "skipped_accepted": self.allow_skipped,
                "counts": self.counts(), "seconds": round(self.seconds, 2),
                "findings": [asdict(f) for f in self.findings]}


def table(report: Report, color: bool = False) -> str:
    marks = {PASS: ("PASS", "32"), FAIL: ("FAIL", "1;31"), WARN: ("WARN", "33"), SKIP: ("SKIP", "2")}
    width = max([len(f.id) for f in report.findings] + [10])
    lines = [f"verify {report.target}"]
    for f in report.findings:
        word, code = marks[f.status]
        mark = f"\033[{code}m{word}\033[0m" if color else word
        lines.append(f"  {mark}  {f.id:<{width}}  {f.detail}")
    c = report.counts()
    verdict = {"fail": "FAILED", "incomplete": "INCOMPLETE", "pass": "OK"}[report.verdict]
    lines.append(f"{verdict}: {c[PASS]} passed, {c[FAIL]} failed, {c[WARN]} warnings, {c[SKIP]} skipped "
                 f"in {report.seconds:.1f}s")
    unproven = report.unproven
    if report.verdict == "incomplete":
        lines.append(f"  not proven: {', '.join(f.id for f in unproven)} did not run ({unproven[0].detail}); "
                     "run verify where they can, or pass --allow-skipped to accept an unproven artifact")
    elif unproven and report.allow_skipped:
        lines.append(f"  accepted as skipped (--allow-skipped): {', '.join(f.id for f in unproven)}")
    return "\n".join(lines)


def junit(report: Report) -> str:
    c = report.counts()
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuites name="pybuildssl verify" tests="{len(report.findings)}" failures="{c[FAIL]}" '
           f'skipped="{c[SKIP]}" time="{report.seconds:.3f}">',
           f'  <testsuite name={quoteattr(report.target)} tests="{len(report.findings)}" failures="{c[FAIL]}" '
           f'skipped="{c[SKIP]}" time="{report.seconds:.3f}">']
    for f in report.findings:
        out.append(f'    <testcase classname="pybuildssl.verify" name={quoteattr(f.id)} time="{f.seconds:.3f}">')
        if f.status == FAIL:
            out.append(f"      <failure message={quoteattr(f.detail)}>{escape(f.detail)}</failure>")
        elif f.status == SKIP:
            out.append(f"      <skipped message={quoteattr(f.detail)}/>")
        elif f.status == WARN:
            out.append(f"      <system-out>{escape('warning: ' + f.detail)}</system-out>")
        out.append("    </testcase>")
    out += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(out)


def github_annotations(report: Report) -> str:
    lines = []
    for f in report.findings:
        if f.status in (FAIL, WARN):
            kind = "error" if f.status == FAIL else "warning"
            lines.append(f"::{kind} title=pybuildssl verify {f.id}::{f.detail}")
    return "\n".join(lines)


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def dumps(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
