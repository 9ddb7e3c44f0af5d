"""The health matrix's verdicts from container states (no engine: states built in the test)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from generator.catalog.model import Catalog
from generator.catalog.validation import open_catalog
from generator.stack.engine import ContainerState, LoopRule
from generator.stack.status import Verdict, judge

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


RULES = """\
version: 1
name: rules
groups:
  core: {ports: "7000-7099", cluster: core}
services:
  db: {group: core, runtime: image, image: db:1, port: 7000, container_port: 5432}
  api: {group: core, runtime: node, port: 7001, depends_on: [db]}
  web: {group: core, runtime: node, port: 7002, depends_on: [api]}
  site: {group: core, runtime: ddev, port: 7003}
"""


def container(
    service: str,
    *,
    state: str = "running",
    health: str = "healthy",
    restarts: int = 0,
    started: timedelta = timedelta(hours=1),
    created: timedelta = timedelta(days=1),
    published: dict[str, tuple[int, ...]] | None = None,
) -> ContainerState:
    ports: dict[str, dict[str, tuple[int, ...]]] = {
        "db": {"5432/tcp": (7000,)},
        "api": {"7001/tcp": (7001,)},
        "web": {"7002/tcp": (7002,)},
    }
    return ContainerState(
        id=service,
        name=f"rules-{service}-1",
        service=service,
        state=state,
        health=health,
        restart_count=restarts,
        created=NOW - created,
        started=NOW - started,
        exit_code=0 if state == "running" else 1,
        published=published if published is not None else ports[service],
    )


@pytest.fixture
def rules(write: Callable[[str, str], Path]) -> Catalog:
    return open_catalog(write("catalog.yaml", RULES)).catalog


def verdicts(catalog: Catalog, *containers: ContainerState) -> dict[str, str]:
    matrix = judge(catalog, "rules", containers, profile=None, rule=LoopRule(), now=NOW)
    return {s.service: s.verdict.value for s in matrix.services}


def test_all_healthy_is_ok_and_ddev_is_external(rules: Catalog) -> None:
    ok = [container("db"), container("api"), container("web")]
    assert verdicts(rules, *ok) == {"db": "ok", "api": "ok", "web": "ok", "site": "external"}
    assert judge(rules, "rules", ok, profile=None, rule=LoopRule(), now=NOW).ok


def test_an_unhealthy_dependency_explains_its_dependants_down_the_chain(rules: Catalog) -> None:
    matrix = judge(
        rules,
        "rules",
        [container("db", health="unhealthy"), container("api", state="created")],
        profile=None,
        rule=LoopRule(),
        now=NOW,
    )
    by_service = {s.service: s for s in matrix.services}
    assert by_service["db"].verdict is Verdict.UNHEALTHY
    assert by_service["api"].verdict is Verdict.DEPENDENCY
    assert by_service["web"].verdict is Verdict.DEPENDENCY  # no container at all
    assert by_service["web"].causes == by_service["api"].causes == ("db",)


def test_restart_loop_needs_enough_restarts_and_a_recent_one(rules: Catalog) -> None:
    recent = timedelta(seconds=20)
    loops = verdicts(rules, container("db", restarts=3, started=recent, created=recent * 3))
    assert loops["db"] == "restart loop"
    # Three restarts long ago, stable since: not a loop.
    assert verdicts(rules, container("db", restarts=3, started=timedelta(hours=2)))["db"] == "ok"
    assert verdicts(rules, container("db", restarts=2, started=recent))["db"] == "ok"
    matrix = judge(
        rules,
        "rules",
        [container("db", restarts=3, started=recent)],
        profile=None,
        rule=LoopRule(restarts=4, minutes=5),
        now=NOW,
    )
    assert matrix.services[0].verdict is Verdict.OK


def test_port_drift_when_the_catalog_port_is_not_the_published_one(rules: Catalog) -> None:
    drifted = container("db", published={"5432/tcp": (7050,)})
    matrix = judge(rules, "rules", [drifted], profile=None, rule=LoopRule(), now=NOW)
    db = matrix.services[0]
    assert db.verdict is Verdict.PORT_DRIFT
    assert db.detail == "5432/tcp published on 7050, catalog says 7000"
    unpublished = container("db", published={})
    assert verdicts(rules, unpublished)["db"] == "port drift"
