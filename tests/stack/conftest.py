"""Fixtures of the stack tests: the live-verify catalog, and an engine checked clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.stack.standin.images import image_kind
from tests.helpers import TEMPLATE_TAG
from tests.stack.live_setup import LIVE, NODE_BASE, PYTHON_BASE, project_resources


@pytest.fixture
def live_catalog(template_repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(LIVE.format(template=template_repo, ref=TEMPLATE_TAG), encoding="utf-8")
    return path


@pytest.fixture
def clean_engine(engine: Any) -> Iterator[Any]:
    """The engine, checked to hold nothing the tests below create, before and after."""
    if image_kind(engine, NODE_BASE) == "real" or image_kind(engine, PYTHON_BASE) == "real":
        pytest.skip(
            f"this engine holds a real {NODE_BASE} or {PYTHON_BASE} image, which verify --live"
            " builds on as it is; these tests pin the behaviour of the stand-in bases (run them"
            " on an engine without those images, as CI's is)"
        )
    assert project_resources(engine, "fleetform-verify-") == []
    yield engine
    assert project_resources(engine, "fleetform-verify-") == []
