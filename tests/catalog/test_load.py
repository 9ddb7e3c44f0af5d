"""Loading a catalog: defaults, the model, positions of what the schema rejects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from generator.catalog.load import load_catalog
from generator.catalog.model import Autoscaling, HealthClass, Runtime, Tier
from generator.catalog.validation import open_catalog
from generator.errors import InputError


def test_small_catalog_gets_documented_defaults(small_catalog: Path) -> None:
    catalog = load_catalog(small_catalog)
    api = catalog.services["api"]
    assert api.port.container_port == 3000
    assert api.port.protocol == "tcp"
    assert api.resources is Tier.MEDIUM
    assert api.gpu == 0
    assert api.health.path == "/health"
    assert api.health.health_class is HealthClass.APPLICATION
    assert api.autoscaling == Autoscaling(enabled=True, min=2, max=10, cpu=70, memory=80)
    assert api.environments == ("local", "staging", "production")
    assert api.registry == "registry.example.com/demo"
    assert api.repo == "api"
    db = catalog.services["db"]
    assert db.runtime is Runtime.IMAGE
    assert db.port.container_port == 5432
    assert db.health.health_class is HealthClass.INFRASTRUCTURE
    assert [s.id for s in catalog.generated_services()] == ["api", "worker"]


def test_defaults_merge_into_every_service_and_services_override(
    write: Callable[[str, str], Path],
) -> None:
    path = write(
        "c.yaml",
        """\
        version: 1
        name: demo
        defaults:
          owner: data-team
          resources: small
          autoscaling: {min: 3, max: 30}
          health: {path: /healthz}
        groups:
          apps: {ports: "3000-3099", cluster: services}
          gpu: {ports: "5000-5099", cluster: models}
        services:
          a: {group: apps, runtime: node, port: 3000}
          b:
            group: apps
            runtime: python
            port: 3001
            owner: search-team
            autoscaling: {max: 5}
          m: {group: gpu, runtime: model, port: 5000, gpu: 2}
        """,
    )
    catalog = load_catalog(path)
    a, b, m = (catalog.services[n] for n in ("a", "b", "m"))
    assert (a.owner, a.resources, a.health.path) == ("data-team", Tier.SMALL, "/healthz")
    assert (a.autoscaling.min, a.autoscaling.max) == (3, 30)
    assert b.owner == "search-team"
    assert (b.autoscaling.min, b.autoscaling.max) == (3, 5)
    # The catalog-wide tier applies to model services too; their own default is xlarge.
    assert m.resources is Tier.SMALL
    assert m.health.health_class is HealthClass.MODEL


def test_model_service_defaults_to_xlarge(write: Callable[[str, str], Path]) -> None:
    path = write(
        "c.yaml",
        """\
        version: 1
        name: demo
        groups: {gpu: {ports: "5000-5099", cluster: models}}
        services: {m: {group: gpu, runtime: model, port: 5000, gpu: 1}}
        """,
    )
    assert load_catalog(path).services["m"].resources is Tier.XLARGE


def test_positions_point_at_the_key_the_user_wrote(small_catalog: Path) -> None:
    catalog = load_catalog(small_catalog)
    api = catalog.services["api"]
    assert (api.location.line, api.location.col) == (8, 3)
    assert (api.port.location.line, api.port.location.col) == (11, 11)
    assert [(d.name, d.location.line, d.location.col) for d in api.depends_on] == [
        ("db", 12, 18),
        ("cache", 12, 22),
    ]


def test_every_schema_problem_is_reported_not_just_the_first(
    write: Callable[[str, str], Path],
) -> None:
    path = write(
        "c.yaml",
        """\
        version: 1
        name: demo
        groups: {apps: {ports: "3000-3099", cluster: services}}
        services:
          a: {group: apps, runtime: java, port: 3000}
          b: {group: apps, runtime: node, port: 70000, dependson: [a]}
        """,
    )
    with pytest.raises(InputError) as caught:
        load_catalog(path)
    assert [str(p).replace(str(path), "c.yaml") for p in caught.value.problems] == [
        "c.yaml:5:29: error: services.a.runtime: must be one of node, python, model, image,"
        " ddev, got 'java'",
        "c.yaml:6:41: error: services.b.port: 70000 is out of range (maximum 65535)",
        "c.yaml:6:48: error: services.b: unknown key 'dependson'; did you mean 'depends_on'?",
    ]


def test_semantic_errors_make_the_catalog_unusable(write: Callable[[str, str], Path]) -> None:
    path = write(
        "c.yaml",
        """\
        version: 1
        name: demo
        groups: {apps: {ports: "3000-3099", cluster: services}}
        services:
          a: {group: apps, runtime: node, port: 3000, depends_on: [b]}
          b: {group: apps, runtime: node, port: 3001, depends_on: [c]}
          c: {group: apps, runtime: node, port: 3002, depends_on: [a]}
        """,
    )
    with pytest.raises(InputError) as caught:
        open_catalog(path)
    assert [p.message for p in caught.value.problems] == ["dependency cycle: a -> b -> c -> a"]
    assert caught.value.problems[0].location.line == 5
