"""The bundled catalog and every example are valid and conflict-free, as shipped."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from generator.catalog.model import Runtime
from generator.catalog.validation import open_catalog
from tests.helpers import BUNDLED_CATALOG, EXAMPLES


@pytest.mark.parametrize("path", [BUNDLED_CATALOG, *EXAMPLES], ids=lambda p: p.name)
def test_validate_and_ports_check_pass(path: Path, run: Callable[..., Result]) -> None:
    validate = run("validate", "-c", path, "--format", "json")
    assert validate.exit_code == 0, validate.stdout
    assert json.loads(validate.stdout)["errors"] == 0
    ports = run("ports", "check", "-c", path)
    assert ports.exit_code == 0, ports.stdout + ports.stderr
    assert ports.stdout == ""


def test_bundled_catalog_models_the_whole_seed_platform() -> None:
    catalog = open_catalog(BUNDLED_CATALOG).catalog
    by_group: dict[str, list[str]] = {}
    for service in catalog.services.values():
        by_group.setdefault(service.group, []).append(service.id)
    runtimes = [s.runtime for s in catalog.services.values()]
    assert runtimes.count(Runtime.NODE) >= 16
    assert runtimes.count(Runtime.MODEL) == 4
    assert all(s.gpu >= 1 for s in catalog.services.values() if s.runtime is Runtime.MODEL)
    assert {"ossa", "agent-buildkit", "llm-platform"} <= set(catalog.services)
    assert catalog.services["llm-platform"].runtime is Runtime.DDEV
    assert {
        "minimal",
        "development",
        "full",
        "api-services",
        "web-services",
        "model-services",
        "workflow",
        "all",
    } <= set(catalog.profiles)
    assert {g.cluster.value for g in catalog.groups.values()} == {"core", "services", "models"}


def test_bundled_catalog_publishes_its_schema_for_editors() -> None:
    first = BUNDLED_CATALOG.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./schemas/catalog.schema.json"


def test_the_readme_example_catalog_is_valid(tmp_path: Path, run: Callable[..., Result]) -> None:
    readme = (BUNDLED_CATALOG.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("```yaml\nversion: 1\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "catalog.yaml"
    path.write_text("version: 1\n" + example, encoding="utf-8")
    result = run("validate", "-c", path)
    assert (result.exit_code, result.stdout) == (0, ""), result.stdout
