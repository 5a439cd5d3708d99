"""A CycloneDX 1.5 SBOM for an artifact, made from its manifest alone (pure).

What the archive holds: CPython, OpenSSL, every library linked statically
into the extension modules (each with version, source URL, sha256 of the
tarball that was built and its SPDX licence from ``recipes/_common.toml``),
and the patches applied on top: the ssl trust patch (sha256 of the rendered
block) and every recipe patch (the Windows winstore patch), each with its
sha256.  Tests validate the output against the published CycloneDX 1.5
JSON schema.
"""

from __future__ import annotations

import uuid
from typing import Any

from . import __version__

SPEC_VERSION = "1.5"
SUFFIX = ".cdx.json"

_NAMESPACE = uuid.UUID("6f1c3c2e-8f0a-4c39-9d51-7d1f0a3b2c11")  # pybuildssl's own UUID5 namespace


def _licenses(spdx: str) -> list[dict[str, Any]]:
    if not spdx:
        return []
    if any(op in spdx.split() for op in ("AND", "OR", "WITH")):
        return [{"expression": spdx}]
    return [{"license": {"id": spdx}}]


def _purl(name: str, version: str, url: str) -> str:
    from urllib.parse import quote

    return f"pkg:generic/{quote(name)}@{quote(version)}?download_url={quote(url, safe='')}"


def _source_component(src: dict[str, Any], kind: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    extra = dict(extra or {})
    if src.get("pinned_as") == "alternative":
        # the tarball built is another pinned archive of the same version (a distribution's repack)
        extra["description"] = (extra.get("description", "") + "; built from an alternative pinned tarball "
                                "of this version (sha256 above), not the one at the URL").lstrip("; ")
    c: dict[str, Any] = {
        "type": kind, "bom-ref": f"source:{src['name']}", "name": src["name"], "version": src["version"],
        "hashes": [{"alg": "SHA-256", "content": src["sha256"]}],
        "licenses": _licenses(src.get("license", "")),
        "purl": _purl(src["name"], src["version"], src["url"]),
        "externalReferences": [{"type": "distribution", "url": src["url"]}],
    }
    c.update(extra)
    return c


def _patches(manifest: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{source name: [patch component]}: the trust patch on CPython's ssl.py, recipe patches on their source."""
    out: dict[str, list[dict[str, Any]]] = {}
    trust = manifest.get("trust", {})
    if trust.get("patch_sha256"):
        out.setdefault("cpython", []).append({
            "type": "file", "bom-ref": "patch:ssl-trust", "name": "pybuildssl ssl trust patch",
            "version": trust["patch_sha256"][:12],
            "description": "Lib/ssl.py: falls back to the target system's CA store "
                           f"(opt-out: {trust.get('opt_out_env', '')})",
            "hashes": [{"alg": "SHA-256", "content": trust["patch_sha256"]}]})
    resolved = manifest.get("recipe", {}).get("resolved", {})
    for section, values in sorted(resolved.items()):
        for p in (values.get("patches") or []) if isinstance(values, dict) else []:
            out.setdefault(section, []).append({
                "type": "file", "bom-ref": f"patch:{section}:{p['file']}", "name": p["file"],
                "version": p["sha256"][:12], "description": f"recipe patch applied to {section}",
                "hashes": [{"alg": "SHA-256", "content": p["sha256"]}]})
    return out


def cyclonedx(manifest: dict[str, Any], archive_name: str, archive_sha256: str) -> dict[str, Any]:
    """The SBOM document for the archive ``archive_name`` (sha256 ``archive_sha256``)."""
    patches = _patches(manifest)
    components: list[dict[str, Any]] = []
    for src in manifest.get("sources", []):
        mine = patches.get(src["name"], [])
        extra = {"pedigree": {"patches": [
            {"type": "unofficial", "diff": {"text": {"contentType": "text/plain",
                                                     "content": f"{p['name']} sha256:{p['hashes'][0]['content']}"}}}
            for p in mine]}} if mine else {}
        components.append(_source_component(src, "application" if src["name"] == "cpython" else "library", extra))
    for comp in manifest.get("components", []):
        desc = "linked statically into " + ", ".join(comp.get("modules", []))
        components.append(_source_component(comp, "library", {"description": desc}))
    for mine in patches.values():
        components.extend(mine)
    target = manifest.get("target", {})
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid5(_NAMESPACE, archive_sha256)}",
        "version": 1,
        "metadata": {
            "timestamp": manifest.get("build_time", "1970-01-01T00:00:00Z"),
            "tools": {"components": [{"type": "application", "name": "pybuildssl",
                                      "version": manifest.get("tool_version", __version__)}]},
            "component": {
                "type": "application", "bom-ref": "artifact", "name": archive_name,
                "version": manifest.get("cpython", {}).get("version", ""),
                "hashes": [{"alg": "SHA-256", "content": archive_sha256}],
                "description": f"CPython for {target.get('target_triple') or target.get('triple', '')} "
                               f"(recipe {manifest.get('recipe', {}).get('name', '')}) with OpenSSL "
                               f"{manifest.get('openssl', {}).get('version', '')} linked statically",
            },
        },
        "components": components,
        "dependencies": [{"ref": "artifact", "dependsOn": [c["bom-ref"] for c in components]}],
    }


def schema_validator():
    """A jsonschema validator for the published CycloneDX 1.5 JSON schema, as the
    ``cyclonedx-python-lib`` package ships it (a test dependency, not a runtime one)."""
    import json
    from pathlib import Path

    import jsonschema
    from referencing import Registry, Resource

    try:
        import cyclonedx.schema
    except ImportError:
        raise ImportError("validating an SBOM needs the published schema: pip install cyclonedx-python-lib") from None
    res = Path(cyclonedx.schema.__file__).parent / "_res"
    docs = {n: json.loads((res / n).read_text(encoding="utf-8")) for n in
            ("bom-1.5.SNAPSHOT.schema.json", "spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")}
    # the bom schema names the other two relatively, resolved against its $id's directory
    registry = Registry().with_resources(
        [("http://cyclonedx.org/schema/" + n, Resource.from_contents(d)) for n, d in docs.items()])
    schema = docs["bom-1.5.SNAPSHOT.schema.json"]
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
