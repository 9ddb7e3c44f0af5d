"""`fleetform up`, `down` and `status` against a real Docker engine and the real Compose v2
binary, running the generated orchestration file unmodified with stand-in images
(tests/engine/). No mocks: what is asserted is what the engine reports.

The engine tests are marked `engine`. A session fixture checks the engine: when none
answers they fail with the reason (`make test` starts one first), or are skipped when
FLEETFORM_REQUIRE_ENGINE=0. The tests below the engine ones need no engine: the
matrix rules on hand-made container states, the backoff, the log line, the exit codes.

Timing: the bundled `minimal` profile takes about 2 minutes, because ossa and agent-buildkit
have the application health class (a 60 s interval; Docker 20.10 runs the first probe one
interval after start and knows no `start_interval`) and agent-buildkit starts only once ossa
is healthy. The test catalog uses the infrastructure class (10 s).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from click.testing import Result

from generator.catalog.model import Catalog
from generator.catalog.validation import open_catalog
from generator.stack.engine import PROJECT_LABEL, project_containers
from generator.stack.up import stack_services
from tests.helpers import BUNDLED_CATALOG, engine_unusable, fleetform
from tests.stack import standin

pytestmark = pytest.mark.engine


# Seed 001's log line.
LOG_LINE = re.compile(
    r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[(INFO|WARN|ERROR)\] \[[a-z0-9-]+\] "
    r"(DEPLOY_START|DEPLOY_SUCCESS|DEPLOY_FAIL|HEALTH_RETRY|HEALTH_SUCCESS|HEALTH_TIMEOUT): .+"
)


# The test catalog: db (healthy, a named volume), crashy (exits after 1 s, for ever),
# broken (never healthy, needs db) and needs-broken (needs broken: can never start).
# Infrastructure health class everywhere: 10 s interval.
FAULTS = """\
version: 1
name: fleetform-faults
groups:
  data: {ports: "41000-41009", cluster: core}
  apps: {ports: "41010-41019", cluster: services}
services:
  db:
    group: data
    runtime: image
    image: fleetform-test/db:1
    port: 41000
    container_port: 5432
    volume: /var/lib/data
    health: {command: [pg_isready], class: infrastructure}
  crashy:
    group: data
    runtime: image
    image: fleetform-test/crashy:1
    port: 41001
    container_port: 8080
    health: {command: [redis-cli, ping], class: infrastructure}
  broken:
    group: apps
    runtime: node
    registry: fleetform-test
    port: 41010
    depends_on: [db]
    health: {class: infrastructure}
  needs-broken:
    group: apps
    runtime: python
    registry: fleetform-test
    port: 41011
    depends_on: [broken]
    health: {path: /ready, class: infrastructure}
profiles:
  faults: {groups: [apps]}
"""


FAULT_KNOBS = {"broken": {"NEVER_HEALTHY": "1"}, "crashy": {"CRASH_AFTER": "1"}}


@dataclass
class EventLog:
    """The engine's container events of one project, streamed live from a thread (the
    engine keeps only its last 256 events, and health probes alone emit three each)."""

    client: Any
    project: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stream = self.client.events(
            since=datetime.now(UTC) - timedelta(seconds=1),
            decode=True,
            filters={"type": "container", "label": f"{PROJECT_LABEL}={self.project}"},
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                self.events.append(event)
        except Exception:  # the stream ends with an error when closed from another thread
            return

    def close(self) -> None:
        self.stream.close()
        self.thread.join(timeout=5)

    def first(self, service: str, action: str) -> int:
        """Time (ns) of the first `action` event of `service`'s container."""
        times = [
            int(e["timeNano"])
            for e in self.events
            if e.get("Action") == action
            and e["Actor"]["Attributes"].get("com.docker.compose.service") == service
        ]
        assert times, f"no {action!r} event for {service}"
        return min(times)


@dataclass
class Stack:
    catalog: Catalog
    catalog_path: Path
    profile: str
    up: Result
    events: EventLog


@contextmanager
def _stack(
    client: Any,
    catalog_path: Path,
    profile: str,
    knobs: dict[str, dict[str, str]],
    wait_timeout: int,
) -> Iterator[Stack]:
    """Bring PROFILE up with `fleetform up` on stand-ins; afterwards remove everything the
    test made: the project, the named volumes it created, the stand-in tags."""
    catalog = open_catalog(catalog_path).catalog
    project = catalog.name
    if project_containers(client, project):
        engine_unusable(
            f"project {project!r} already has containers on this engine; not touching it"
            f" (fleetform down -c {catalog_path} {profile})"
        )
    volumes_before = {v.name for v in client.volumes.list()}
    wanted = set(stack_services(catalog, profile))
    images = [s for s in standin.standins(catalog, knobs) if s.service in wanted]
    try:
        tags = standin.build(client, images)
    except standin.RealImageError as exc:
        engine_unusable(str(exc))
    events = EventLog(client, project)
    try:
        result = fleetform("up", "-c", catalog_path, profile, "--wait-timeout", str(wait_timeout))
        yield Stack(catalog, catalog_path, profile, result, events)
    finally:
        events.close()
        fleetform("down", "-c", catalog_path, profile)
        for volume in client.volumes.list(filters={"label": f"{PROJECT_LABEL}={project}"}):
            if volume.name not in volumes_before:
                volume.remove()
        standin.remove(client, tags)


@pytest.fixture(scope="module")
def minimal(engine: Any) -> Iterator[Stack]:
    with _stack(engine, BUNDLED_CATALOG, "minimal", {}, wait_timeout=240) as stack:
        yield stack


@pytest.fixture(scope="module")
def faults(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    path = tmp_path_factory.mktemp("faults") / "catalog.yaml"
    path.write_text(FAULTS, encoding="utf-8")
    with _stack(engine, path, "faults", FAULT_KNOBS, wait_timeout=30) as stack:
        yield stack


def status_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = fleetform("status", "--format", "json", *args)
    return result.exit_code, {s["service"]: s for s in json.loads(result.stdout)["services"]}


def test_minimal_profile_comes_up_healthy(minimal: Stack) -> None:
    assert minimal.up.exit_code == 0, minimal.up.stderr
    lines = minimal.up.stderr.splitlines()
    assert lines and all(LOG_LINE.fullmatch(line) for line in lines), minimal.up.stderr
    expected = {"ossa", "agent-buildkit", "postgres", "redis", "qdrant", "minio"}
    succeeded = {line.split("] [")[2].split("]")[0] for line in lines if "HEALTH_SUCCESS" in line}
    assert succeeded == expected
    assert re.search(
        r"\[llm-ecosystem\] DEPLOY_SUCCESS: 6 service\(s\) healthy in \d+s$", lines[-1]
    )
    code, services = status_json("-c", BUNDLED_CATALOG, "--profile", "minimal")
    assert code == 0, services
    assert {s: v["verdict"] for s, v in services.items()} == {
        **dict.fromkeys(expected, "ok"),
        "llm-platform": "external",  # DDEV's, not compose's
    }


def test_minimal_start_order_respects_depends_on(minimal: Stack) -> None:
    edges = stack_services(minimal.catalog, "minimal")
    checked = 0
    for service, dependencies in edges.items():
        started = minimal.events.first(service, "start")
        for dependency in dependencies:
            healthy = minimal.events.first(dependency, "health_status: healthy")
            assert healthy <= started, f"{service} started before {dependency} was healthy"
            checked += 1
    assert checked >= 3  # ossa -> postgres, redis; agent-buildkit -> ossa


def test_down_removes_containers_networks_anonymous_volumes_keeps_named(
    minimal: Stack, engine: Any
) -> None:
    project = minimal.catalog.name
    before = project_containers(engine, project)
    anonymous = {v for c in before for v in c.anonymous_volumes}
    assert anonymous, "the stand-ins declare VOLUME /scratch: each container has one"
    result = fleetform("down", "-c", BUNDLED_CATALOG, "minimal")
    assert result.exit_code == 0, result.stdout + result.stderr
    label = {"label": f"{PROJECT_LABEL}={project}"}
    assert engine.containers.list(all=True, filters=label) == []
    assert engine.networks.list(filters=label) == []
    for volume in anonymous:
        with pytest.raises(docker.errors.NotFound):
            engine.volumes.get(volume)
    for sid in ("postgres", "redis", "qdrant", "minio"):
        assert engine.volumes.get(f"{project}_{sid}_data")  # named: data survives
    assert f"kept named volume(s): {project}_minio_data" in result.stdout


def test_up_names_the_unhealthy_service_its_dependants_and_their_logs(faults: Stack) -> None:
    assert faults.up.exit_code == 1
    report = faults.up.stderr
    assert re.search(r"^  broken: timeout: not healthy after \d+ attempt", report, re.M), report
    assert "  needs-broken: could not start: depends on broken\n" in report
    assert re.search(
        r"^  crashy: restart loop: fleetform-faults-crashy-1 restarted \d+ times", report, re.M
    )
    assert "--- broken (fleetform-faults-broken-1): last log lines" in report
    assert "NEVER_HEALTHY=1: /health will never answer" in report
    assert "--- crashy (fleetform-faults-crashy-1): last log lines" in report
    assert "CRASH_AFTER=1: exiting with status 1" in report
    assert "[ERROR] [broken] HEALTH_TIMEOUT: " in report
    assert "[ERROR] [needs-broken] DEPLOY_FAIL: not started: depends on broken" in report
    assert "[INFO] [db] HEALTH_SUCCESS: " in report


def test_failed_up_tears_nothing_down(faults: Stack, engine: Any) -> None:
    states = {c.service: c for c in project_containers(engine, "fleetform-faults")}
    assert set(states) == {"db", "crashy", "broken", "needs-broken"}
    assert (states["db"].state, states["db"].health) == ("running", "healthy")
    assert states["broken"].state == "running"
    assert states["needs-broken"].state == "created"  # Compose never got to start it


def test_status_reports_a_crash_loop_as_a_restart_loop(faults: Stack) -> None:
    code, services = status_json("-c", faults.catalog_path)
    assert code == 1
    assert services["crashy"]["verdict"] == "restart loop"
    assert services["crashy"]["containers"][0]["restart_count"] >= 3
    assert services["db"]["verdict"] == "ok"
    # needs-broken never started: broken explains it.
    assert services["needs-broken"]["verdict"] == "dependency unhealthy"
    assert services["needs-broken"]["causes"] == ["broken"]
    table = fleetform("status", "-c", faults.catalog_path, "--loop-restarts", "1000")
    assert "crashy" in table.stdout and "restart loop" not in table.stdout


def test_status_reports_port_drift_after_a_catalog_edit(faults: Stack, tmp_path: Path) -> None:
    edited = tmp_path / "catalog.yaml"
    edited.write_text(FAULTS.replace("port: 41000", "port: 41005"), encoding="utf-8")
    code, services = status_json("-c", edited)
    assert code == 1
    db = services["db"]
    assert db["verdict"] == "port drift"
    assert db["detail"] == "5432/tcp published on 41000, catalog says 41005"
    assert db["containers"][0]["ports"] == [
        {
            "name": "http",
            "catalog": 41005,
            "container_port": 5432,
            "protocol": "tcp",
            "published": [41000],
            "drift": True,
        }
    ]
    table = fleetform("status", "-c", edited).stdout
    assert re.search(r"^db .* 41000 \(catalog 41005\)\s+port drift$", table, re.M), table


BUSY = """\
version: 1
name: fleetform-busy
groups:
  data: {ports: "41020-41029", cluster: core}
services:
  db:
    group: data
    runtime: image
    image: fleetform-test/busy-db:1
    port: 41020
    container_port: 5432
    health: {command: [pg_isready], class: infrastructure}
  app:
    group: data
    runtime: node
    registry: fleetform-test
    port: 41021
    depends_on: [db]
    health: {class: infrastructure}
profiles:
  busy: {}
"""


def test_up_fails_at_once_with_composes_error_when_a_host_port_is_taken(
    engine: Any, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(BUSY, encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 41020))
        taken.listen()
        with _stack(engine, path, "busy", {}, wait_timeout=60) as stack:
            report = stack.up.stderr
            assert stack.up.exit_code == 1
            assert re.search(r"^  db: not started: .*127\.0\.0\.1:41020.*in use", report, re.M)
            assert "  app: could not start: depends on db\n" in report
            assert re.search(r"^  docker-compose up exited 1: ", report, re.M), report
            assert "HEALTH_TIMEOUT" not in report  # Compose gave up: nothing to wait for
            assert "[ERROR] [db] DEPLOY_FAIL: deployment failed: not started: " in report
