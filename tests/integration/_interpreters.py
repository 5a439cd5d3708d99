"""Unpatched CPython installations for the integration tests."""

from __future__ import annotations

from pathlib import Path


# TEMPORARY stand-in: replaced by the stockpy branch at merge
def stock_prefix(minor=None):
    return Path("/root/.pyenv/versions/3.12.1")
