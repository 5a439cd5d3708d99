"""A :class:`~.model.Diagnosis` for people (:func:`render_text`) and for programs (:func:`to_json`).

``--json`` follows ``docs/json-schema/doctor-v1.json``, versioned by its
top-level ``"schema"``.
"""

from __future__ import annotations

from typing import Any, Callable

from .model import ERROR, FAIL, INFO, OK, SCHEMA_VERSION, WARN, WARNING, Diagnosis


def to_json(d: Diagnosis) -> dict[str, Any]:
    from .. import __version__

    return {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "pybuildssl", "version": __version__},
        "seconds": None if d.seconds is None else round(d.seconds, 3),
        "verdict": {"status": d.status, "works": d.works, "summary": d.summary, "via": d.via},
        "interpreter": d.interpreter,
        "openssl": d.openssl,
        "compiled": d.compiled,
        "reported": d.reported,
        "env": d.env,
        "locations": [x.to_json() for x in d.locations],
        "host": d.host,
        "patch": d.patch,
        "problems": [p.to_json() for p in d.problems],
        "fixes": [f.to_json(i) for i, f in enumerate(d.fixes, 1)],
        "check_url": d.check_url,
    }


Paint = Callable[[str, str], str]


def render_text(d: Diagnosis, *, color: bool = False, verbose: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    mark = {OK: paint("✓", "32"), WARN: paint("!", "33"), FAIL: paint("✗", "31")}
    lines = [f"{mark[d.status]} {paint(d.summary, '1')}", f"  trust comes from: {d.via}"]
    for section in (_interpreter(d), _compiled(d), _environment(d), _host(d), _locations(d, paint, verbose),
                    _problems(d, paint), _check_url(d, mark), _fixes(d, paint)):
        if section:
            lines += [""] + section
    if d.seconds is not None:
        lines += ["", paint(f"doctor took {d.seconds:.2f}s", "2")]
    return "\n".join(lines)


def _interpreter(d: Diagnosis) -> list[str]:
    i, o, p = d.interpreter, d.openssl, d.patch
    lines = ["Interpreter"]
    if i.get("version"):
        venv = f" (venv of {i['base_prefix']})" if i.get("venv") else ""
        lines.append(f"  Python     {i.get('implementation')} {i['version']}  {i.get('executable')}{venv}")
    else:
        lines.append(f"  Python     {i.get('executable')}")
    if o.get("version"):
        built = o.get("built_against")
        lines.append(f"  OpenSSL    {o['version']}" + (f"  (built against {built})" if built else ""))
    if p.get("present"):
        lines.append(f"  ssl patch  pybuildssl v{p.get('version')}: source {p.get('source')}"
                     + (f", {p.get('cafile') or p.get('capath')}" if p.get("source") == "fallback" else ""))
    elif o.get("version"):
        would = p.get("would_use")
        lines.append("  ssl patch  none" + (f" (it would fall back to {would})" if would else ""))
    return lines


def _compiled(d: Diagnosis) -> list[str]:
    c = d.compiled
    if not c:
        return []
    lines = [f"OpenSSL's compiled defaults (OPENSSLDIR {c.get('openssldir')})"]
    by = {(x.kind, x.path): x for x in d.locations}
    for key, kind in (("cafile", "file"), ("capath", "dir")):
        loc = by.get((kind, c.get(key)))
        lines.append(f"  {key:<8} {c.get(key)}  {loc.describe() if loc else ''}")
    if d.reported:
        lines.append(f"  get_default_verify_paths(): cafile={d.reported.get('cafile')} "
                     f"capath={d.reported.get('capath')}")
    return lines


def _environment(d: Diagnosis) -> list[str]:
    if not d.env:
        return []
    lines = ["Environment"]
    for e in d.env:
        status = f"  ({e['status']})" if e.get("status") else ""
        lines.append(f"  {e['name']}={e['value']}{status}")
    return lines


def _host(d: Diagnosis) -> list[str]:
    h = d.host
    lines = [f"This host: {h['vendor']} ({h['description']})"]
    examined = any(x.usable is not None for x in d.locations)
    if not examined:
        lines.append("  CA store   not examined (the probe did not run inside the interpreter)")
    elif h.get("store"):
        sv = h.get("store_vendor")
        lines.append(f"  CA store   {h['store']}" + (f"  (laid out like {sv})" if sv and sv != h["vendor"] else ""))
    elif h.get("unsafe_store"):
        lines.append(f"  CA store   {h['unsafe_store']}  (UNSAFE: refused by the pybuildssl fallback)")
    else:
        lines.append("  CA store   none usable found")
    a = h.get("add_ca") or {}
    if a.get("command"):
        where = f"put it in {a['dir']}/NAME{a.get('suffix') or ''}, then " if a.get("dir") else ""
        lines.append(f"  add a CA   {where}{a['command']}")
    return lines


def _locations(d: Diagnosis, paint: Paint, verbose: bool) -> list[str]:
    shown = [x for x in d.locations if verbose or x.exists or x.origins and
             any(not o.startswith("fallback") for o in x.origins)]
    if not shown:
        return []
    lines = ["Locations" + ("" if verbose else " (existing, or named; -v for all)")]
    for x in shown:
        ok = paint("✓", "32") if x.good else (paint("!", "33") if x.usable else paint("✗", "31"))
        lines.append(f"  {ok} {x.kind:<4} {x.path}  {x.describe()}  [{', '.join(x.origins) or 'table'}]")
    return lines


def _problems(d: Diagnosis, paint: Paint) -> list[str]:
    if not d.problems:
        return []
    sev = {ERROR: paint("✗", "31"), WARNING: paint("!", "33"), INFO: paint("·", "2")}
    return ["Problems"] + [f"  {sev[p.severity]} {p.id}: {p.message}" for p in d.problems]


def _check_url(d: Diagnosis, mark: dict[str, str]) -> list[str]:
    u = d.check_url
    if not u:
        return []
    return [f"Check {u['url']}: {mark[OK] if u['ok'] else mark[FAIL]} {u['title']}", f"  {u['explanation']}"]


def _fixes(d: Diagnosis, paint: Paint) -> list[str]:
    if not d.fixes:
        return []
    lines = ["Fixes, best first"]
    for n, f in enumerate(d.fixes, 1):
        lines.append(f"  {n}. {f.title}")
        lines += [f"       {paint(cmd, '1')}" for cmd in f.commands]
        if f.note:
            lines.append(f"     ({f.note})")
    return lines
