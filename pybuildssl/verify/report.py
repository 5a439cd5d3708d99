"""Findings and how they are shown: a table for people, JSON, JUnit XML, GitHub annotations."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
REPORT_SCHEMA = 1


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

    def add(self, id: str, status: str, detail: str, **data: Any) -> Finding:
        f = Finding(id, status, detail, data=data)
        self.findings.append(f)
        return f

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == FAIL]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in (PASS, FAIL, WARN, SKIP)}
        for f in self.findings:
            out[f.status] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"schema": REPORT_SCHEMA, "target": self.target, "verdict": "fail" if self.failed else "pass",
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
    verdict = "FAILED" if report.failed else "OK"
    lines.append(f"{verdict}: {c[PASS]} passed, {c[FAIL]} failed, {c[WARN]} warnings, {c[SKIP]} skipped "
                 f"in {report.seconds:.1f}s")
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
