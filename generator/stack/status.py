"""The health matrix (seed 000's "orchestrator with health matrix"): what the engine runs for
each catalog service of a compose project, and one verdict per service.

Per service: its containers, their state, health, restart count, uptime, and the host ports
they publish against the catalog's. Verdicts, worst first:

- restart loop: a container restarted at least N times and its last start is within the
  last M minutes (defaults 3 in 5; `generator.stack.engine.LoopRule` says how exact that is);
- not running: no container, or none running (created, exited, dead, paused, restarting);
- unhealthy, starting: what the container's health check says;
- port drift: a catalog port is not published on its catalog host port;
- ok.
A service that is not running, unhealthy or starting while one of its dependencies is not
ok is "dependency unhealthy": the dependency explains it, and the matrix names the root.
DDEV services are "external": another tool runs them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from generator.catalog.graph import start_order, transitive
from generator.catalog.model import Catalog, Runtime, Service
from generator.catalog.profiles import always_on_roots, dependency_edges, profile_services
from generator.stack.engine import (
    Connect,
    ContainerState,
    LoopRule,
    now_utc,
    project_containers,
)


class Verdict(StrEnum):
    OK = "ok"
    EXTERNAL = "external"
    PORT_DRIFT = "port drift"
    STARTING = "starting"
    UNHEALTHY = "unhealthy"
    NOT_RUNNING = "not running"
    RESTART_LOOP = "restart loop"
    DEPENDENCY = "dependency unhealthy"

    @property
    def ok(self) -> bool:
        return self in (Verdict.OK, Verdict.EXTERNAL)


# A dependant's own failure of these kinds is explained by a failing dependency.
_EXPLAINABLE = (Verdict.NOT_RUNNING, Verdict.UNHEALTHY, Verdict.STARTING)
# A dependency in one of these states can hold its dependants back.
_BLOCKING = (
    Verdict.NOT_RUNNING,
    Verdict.UNHEALTHY,
    Verdict.STARTING,
    Verdict.RESTART_LOOP,
    Verdict.DEPENDENCY,
)
# Worst first: a service's verdict is the worst of its containers'.
_SEVERITY = [
    Verdict.RESTART_LOOP,
    Verdict.NOT_RUNNING,
    Verdict.UNHEALTHY,
    Verdict.STARTING,
    Verdict.PORT_DRIFT,
    Verdict.OK,
]


@dataclass(frozen=True)
class PortCheck:
    name: str
    catalog: int  # the host port the catalog gives it
    container_port: int
    protocol: str
    published: tuple[int, ...]  # host ports it is published on

    @property
    def drift(self) -> bool:
        return self.catalog not in self.published

    def __str__(self) -> str:
        if not self.drift:
            return str(self.catalog)
        actual = ",".join(map(str, self.published)) or "unpublished"
        return f"{actual} (catalog {self.catalog})"


@dataclass(frozen=True)
class ContainerRow:
    container: ContainerState
    verdict: Verdict
    detail: str
    ports: tuple[PortCheck, ...]
    uptime: float | None


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    runtime: str
    verdict: Verdict
    detail: str
    containers: tuple[ContainerRow, ...]
    depends_on: tuple[str, ...]
    causes: tuple[str, ...] = ()  # for dependency unhealthy: the failing root services


@dataclass(frozen=True)
class HealthMatrix:
    project: str
    checked_at: datetime
    rule: LoopRule
    services: tuple[ServiceStatus, ...]

    @property
    def ok(self) -> bool:
        return all(s.verdict.ok for s in self.services)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in self.services:
            counts[status.verdict.value] = counts.get(status.verdict.value, 0) + 1
        return counts


def expected_services(
    catalog: Catalog, containers: Sequence[ContainerState], profile: str | None
) -> set[str]:
    """The services the matrix covers: the profile's, or without one the core cluster and
    every service that has a container in the project, with what they depend on."""
    if profile is not None:
        return profile_services(catalog, profile)
    present = {c.service for c in containers if c.service in catalog.services}
    return transitive(dependency_edges(catalog), always_on_roots(catalog) | present)


WATCH_SECONDS = 2  # `status --watch`: how often the matrix is read again


def health_matrices(
    catalog: Catalog,
    project: str,
    connect: Connect,
    *,
    profile: str | None = None,
    rule: LoopRule | None = None,
    watch: bool = False,
) -> Iterator[HealthMatrix]:
    """`fleetform status`: the health matrix once or, with `watch`, again every WATCH_SECONDS
    until the caller stops reading (Ctrl-C). An unknown profile is a `UsageError` before
    `connect` is called."""
    if profile is not None:
        profile_services(catalog, profile)
    client = connect()
    while True:
        yield health_matrix(catalog, project, client, profile=profile, rule=rule)
        if not watch:
            return
        time.sleep(WATCH_SECONDS)


def health_matrix(
    catalog: Catalog,
    project: str,
    client: Any,
    *,
    profile: str | None = None,
    rule: LoopRule | None = None,
    now: datetime | None = None,
) -> HealthMatrix:
    """The health matrix of `project` as the engine sees it now."""
    rule = rule or LoopRule()
    containers = project_containers(client, project)
    now = now or now_utc()
    return judge(catalog, project, containers, profile=profile, rule=rule, now=now)


def judge(
    catalog: Catalog,
    project: str,
    containers: Sequence[ContainerState],
    *,
    profile: str | None,
    rule: LoopRule,
    now: datetime,
) -> HealthMatrix:
    """The matrix from containers already read: a pure function, so it is tested as one."""
    expected = expected_services(catalog, containers, profile)
    edges = {
        sid: [d.name for d in catalog.services[sid].depends_on if d.name in expected]
        for sid in expected
    }
    statuses: dict[str, ServiceStatus] = {}
    for sid in start_order(edges):
        service = catalog.services[sid]
        own = [c for c in containers if c.service == sid]
        status = _service_status(service, own, tuple(sorted(edges[sid])), rule, now)
        statuses[sid] = _explained(status, statuses)
    return HealthMatrix(project, now, rule, tuple(statuses.values()))


def _service_status(
    service: Service,
    containers: Sequence[ContainerState],
    depends_on: tuple[str, ...],
    rule: LoopRule,
    now: datetime,
) -> ServiceStatus:
    def status(verdict: Verdict, detail: str, rows: tuple[ContainerRow, ...] = ()) -> ServiceStatus:
        return ServiceStatus(service.id, service.runtime.value, verdict, detail, rows, depends_on)

    if service.runtime is Runtime.DDEV:
        return status(Verdict.EXTERNAL, "managed by DDEV")
    if not containers:
        return status(Verdict.NOT_RUNNING, "no container")
    rows = tuple(_container_row(service, c, rule, now) for c in containers)
    worst = min(rows, key=lambda r: _SEVERITY.index(r.verdict))
    detail = worst.detail
    if len(rows) > 1 and worst.verdict is not Verdict.OK:
        detail = f"{worst.container.name}: {detail}"
    return status(worst.verdict, detail, rows)


def _container_row(
    service: Service, c: ContainerState, rule: LoopRule, now: datetime
) -> ContainerRow:
    ports = tuple(
        PortCheck(
            name=p.name,
            catalog=p.port,
            container_port=p.container_port,
            protocol=p.protocol,
            published=c.published.get(f"{p.container_port}/{p.protocol}", ()),
        )
        for p in service.ports
    )
    uptime = c.uptime(now)
    drift = [p for p in ports if p.drift]
    if c.looping(rule, now):
        verdict = Verdict.RESTART_LOOP
        exited = f", exit code {c.exit_code}" if c.state != "running" else ""
        detail = (
            f"restarted {c.restart_count} times, last {duration(c.since_start(now) or 0)} ago"
            f" ({c.state}{exited})"
        )
    elif c.state != "running":
        verdict = Verdict.NOT_RUNNING
        detail = c.state if c.state != "exited" else f"exited with code {c.exit_code}"
        if c.state == "created":
            detail = "created, never started"
    elif c.health == "unhealthy":
        verdict = Verdict.UNHEALTHY
        detail = f"health check failing: {c.last_probe}" if c.last_probe else "health check failing"
    elif c.health == "starting":
        verdict, detail = Verdict.STARTING, "health check not passed yet"
    elif drift:
        verdict = Verdict.PORT_DRIFT
        detail = "; ".join(
            f"{p.container_port}/{p.protocol} published on "
            f"{','.join(map(str, p.published)) or 'no host port'}, catalog says {p.catalog}"
            for p in drift
        )
    else:
        verdict, detail = (
            Verdict.OK,
            "healthy" if c.health == "healthy" else "running (no health check)",
        )
    if drift and verdict is not Verdict.PORT_DRIFT:
        detail += f"; also port drift ({', '.join(str(p) for p in drift)})"
    return ContainerRow(c, verdict, detail, ports, uptime)


def _explained(status: ServiceStatus, earlier: dict[str, ServiceStatus]) -> ServiceStatus:
    """A failure explained by a failing dependency becomes "dependency unhealthy", naming
    the root causes (the failing services whose own failure nothing explains)."""
    if status.verdict not in _EXPLAINABLE:
        return status
    failing = [earlier[d] for d in status.depends_on if earlier[d].verdict in _BLOCKING]
    if not failing:
        return status
    causes = tuple(sorted({c for f in failing for c in (f.causes or (f.service,))}))
    detail = (
        f"{status.detail}; depends on {', '.join(f'{c} ({earlier[c].verdict})' for c in causes)}"
    )
    return replace(status, verdict=Verdict.DEPENDENCY, detail=detail, causes=causes)


def duration(seconds: float) -> str:
    """A span as people read it: 42s, 3m05s, 2h10m, 4d03h."""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600:02d}h"
