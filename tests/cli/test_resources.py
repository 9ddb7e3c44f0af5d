"""The bundled files, as fleetform finds them when it runs from this checkout.

An installed fleetform is tests/cli/test_installed.py's subject (slow: it builds the wheel).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import resources
from tests.helpers import ROOT

BUNDLED = ["catalog.yaml", "schemas", "copier.yml", "template"]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_file_is_a_link_to_the_top_level_one(name: str) -> None:
    """The layout is fixed: generator/resources links to the top level, and a wheel build
    copies what the links point at."""
    bundled = Path(resources.__file__).parent / name
    assert bundled.is_symlink()
    assert bundled.resolve() == (ROOT / name).resolve()


def test_from_a_checkout_the_template_is_the_checkout() -> None:
    """Copier renders the checkout by commit (a git repository), not the linked copy."""
    assert resources.running_from_checkout()
    assert resources.TEMPLATE_ROOT == ROOT
    assert (resources.TEMPLATE_ROOT / resources.TEMPLATE_INCLUDES).is_dir()


def test_bundled_paths_name_what_they_say() -> None:
    assert resources.BUNDLED_CATALOG.resolve() == ROOT / "catalog.yaml"
    assert sorted(p.name for p in resources.SCHEMA_DIR.glob("*.json")) == [
        "catalog.schema.json",
        "fleet-result.schema.json",
        "graph.schema.json",
        "service.schema.json",
    ]
