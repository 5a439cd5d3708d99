"""sha256, one way everywhere: of bytes, of text, of a file, and of a JSON-able value (cache keys).

A leaf (stdlib only): sources, plan, package, trust, publish, verify and the
ci/ scripts hash through it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode())


def sha256_file(path: "str | Path") -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(value: object, length: int = 64) -> str:
    """The digest of a value's canonical JSON (sorted keys; str() for what JSON cannot hold),
    cut to ``length`` hex digits: how cache keys and recipe digests are made."""
    return sha256_text(json.dumps(value, sort_keys=True, default=str))[:length]
