"""Which services a command works on: the ones named, else every generated service."""

from __future__ import annotations

from collections.abc import Sequence

from generator.catalog.model import Catalog
from generator.errors import UsageError


def select_services(catalog: Catalog, names: Sequence[str]) -> list[str]:
    """The generatable services to work on: the named ones, else all of them."""
    generated = [s.id for s in catalog.generated_services()]
    if not names:
        return generated
    unknown = [n for n in names if n not in catalog.services]
    if unknown:
        raise UsageError(message=f"unknown service(s): {', '.join(unknown)}")
    skipped = [n for n in names if n not in generated]
    if skipped:
        raise UsageError(message=f"not generated (image or ddev services): {', '.join(skipped)}")
    return list(dict.fromkeys(names))
