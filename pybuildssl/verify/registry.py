"""What a verify check is: an id, what it proves, whether it is essential, and
the function that adds its finding.

``pybuildssl/verify/checks/*.py`` each declare a ``CHECKS`` list of these,
beside the functions; ``checks/__init__.py`` joins them into the registry
from which ``docs/verify-checks.md`` is generated and the verdict learns which
skipped checks leave it incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Check:
    #: Stable finding id; ``*`` stands for a vendor name (``layout.*``).
    id: str
    #: One paragraph for docs/verify-checks.md: what PASS proves, when it is SKIP or WARN.
    description: str
    #: Essential checks are verify's reason to exist: when one is skipped nothing
    #: was proven and the verdict is incomplete (unless ``--allow-skipped``).
    essential: bool
    #: The function that adds this finding (several ids may share one).
    fn: Callable[..., object]

    def matches(self, finding_id: str) -> bool:
        if self.id.endswith("*"):
            return finding_id.startswith(self.id[:-1])
        return finding_id == self.id
