"""The catalog's environments and base images: what a service gets, and what is refused.

The refusals of bad names, settings and images, with their exact lines, are in the bad-input
corpus (`tests/cli/test_bad_input.py`); here is what the model and the answers make of a valid
catalog.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from generator.catalog.validation import open_catalog
from generator.fleet.answers import service_answers
from tests.helpers import SMALL_CATALOG

ENVIRONMENTS = """\
environments:
  local: {}
  qa: {like: staging, deploy: manual, network_policy: false}
  production: {deploy: auto}
"""
DIGEST = "sha256:" + "ab" * 32


def test_services_are_deployed_to_every_environment_of_the_catalog_in_its_order(
    write: Callable[[str, str], Path],
) -> None:
    catalog = open_catalog(write("c.yaml", SMALL_CATALOG + ENVIRONMENTS)).catalog
    assert list(catalog.environments) == ["local", "qa", "production"]
    assert catalog.services["api"].environments == ("local", "qa", "production")
    answers = service_answers(catalog, "api")
    assert answers["environments"] == ["local", "qa", "production"]
    # Only what the catalog says: the template holds each built-in's defaults.
    assert answers["environment_settings"] == {
        "qa": {"like": "staging", "deploy": "manual", "network_policy": False},
        "production": {"deploy": "auto"},
    }


def test_without_environments_a_service_has_the_built_in_three_and_no_settings(
    small_catalog: Path,
) -> None:
    catalog = open_catalog(small_catalog).catalog
    assert list(catalog.environments) == ["local", "staging", "production"]
    answers = service_answers(catalog, "api")
    assert answers["environments"] == ["local", "staging", "production"]
    assert answers["environment_settings"] == {}


def test_a_service_picks_some_of_the_catalogs_environments(
    write: Callable[[str, str], Path],
) -> None:
    text = SMALL_CATALOG.replace("    port: 3001\n", "    port: 3001\n    environments: [qa]\n")
    catalog = open_catalog(write("c.yaml", text + ENVIRONMENTS)).catalog
    answers = service_answers(catalog, "worker")
    assert answers["environments"] == ["qa"]
    assert list(answers["environment_settings"]) == ["qa"]


def test_base_images_come_from_the_defaults_per_runtime_and_the_service_wins(
    write: Callable[[str, str], Path],
) -> None:
    text = SMALL_CATALOG.replace(
        "services:\n",
        f"defaults:\n  base_images: {{node: 'node:22.14.0-alpine@{DIGEST}'}}\nservices:\n",
    ).replace("    port: 3001\n", "    port: 3001\n    base_image: python:3.13.1-slim\n")
    catalog = open_catalog(write("c.yaml", text)).catalog
    assert service_answers(catalog, "api")["base_image"] == f"node:22.14.0-alpine@{DIGEST}"
    assert service_answers(catalog, "worker")["base_image"] == "python:3.13.1-slim"


def test_no_base_image_leaves_the_templates_pin(small_catalog: Path) -> None:
    assert service_answers(open_catalog(small_catalog).catalog, "api")["base_image"] == ""
