"""`fleetform up`: run a profile of the catalog on a Docker engine and wait until it is healthy.

`up` writes the catalog's orchestration file (`generator.stack.orchestrate`, unmodified) to a
temporary directory and runs `docker-compose --profile P up -d` in the background
(`generator.stack.compose`); Compose creates everything and starts each service once its
dependencies are healthy. Meanwhile fleetform waits for every service of the profile, in
dependency order, polling the engine with exponential backoff and reporting seed 001's events
(DEPLOY_START, HEALTH_RETRY, HEALTH_SUCCESS, HEALTH_TIMEOUT, DEPLOY_SUCCESS, DEPLOY_FAIL) as they
happen. A service that does not become healthy fails, and its dependants are reported as
blocked, never waited for. Nothing is ever stopped or removed by `up`: a failed stack stays for
inspection (`generator.stack.down` removes it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from generator.catalog.graph import start_order
from generator.catalog.model import Catalog, Runtime
from generator.catalog.profiles import profile_services
from generator.stack.compose import ComposeProcess, ComposeRun, last_words, orchestration_project
from generator.stack.engine import (
    Connect,
    ContainerState,
    LoopRule,
    container_logs,
    engine_info,
    now_utc,
    project_containers,
)


class Level(StrEnum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class Event(StrEnum):
    """Seed 001's service events; the level of each is the seed's."""

    DEPLOY_START = "DEPLOY_START"
    DEPLOY_SUCCESS = "DEPLOY_SUCCESS"
    DEPLOY_FAIL = "DEPLOY_FAIL"
    HEALTH_RETRY = "HEALTH_RETRY"
    HEALTH_SUCCESS = "HEALTH_SUCCESS"
    HEALTH_TIMEOUT = "HEALTH_TIMEOUT"

    @property
    def level(self) -> Level:
        if self in (Event.DEPLOY_FAIL, Event.HEALTH_TIMEOUT):
            return Level.ERROR
        if self is Event.HEALTH_RETRY:
            return Level.WARN
        return Level.INFO


@dataclass(frozen=True)
class LogEvent:
    """One line of seed 001's log: `[YYYY-mm-dd HH:MM:SS] [LEVEL] [service] EVENT: message`."""

    time: datetime
    service: str
    event: Event
    message: str

    @property
    def level(self) -> Level:
        return self.event.level

    def __str__(self) -> str:
        stamp = self.time.strftime("%Y-%m-%d %H:%M:%S")
        return f"[{stamp}] [{self.level.value}] [{self.service}] {self.event.value}: {self.message}"


@dataclass(frozen=True)
class Backoff:
    """Delays between health checks: first, first*factor, ... never above cap (seconds)."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 10.0

    def delay(self, attempt: int) -> float:
        """The pause after failed attempt `attempt` (1-based)."""
        return float(min(self.cap, self.first * self.factor ** max(0, attempt - 1)))


class Outcome(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"  # the health check says so: Compose will not start dependants
    TIMEOUT = "timeout"  # still not healthy when the wait ran out
    RESTART_LOOP = "restart loop"
    NOT_STARTED = "not started"  # Compose gave up before starting it
    BLOCKED = "blocked"  # a dependency failed, so it could not start

    @property
    def ok(self) -> bool:
        return self is Outcome.HEALTHY


@dataclass(frozen=True)
class ServiceWait:
    """How waiting for one service ended."""

    service: str
    outcome: Outcome
    detail: str
    attempts: int = 0
    seconds: float = 0.0
    blocked_by: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    logs: tuple[str, ...] = ()  # the last lines of its container, when it failed


@dataclass(frozen=True)
class UpOptions:
    profile: str
    project: str
    wait_timeout: float = 300.0
    backoff: Backoff = field(default_factory=Backoff)
    loop: LoopRule = field(default_factory=LoopRule)  # a restart loop fails at once
    log_tail: int = 20
    compose_grace: float = 60.0  # how long Compose may take to finish once all are healthy


@dataclass(frozen=True)
class UpResult:
    project: str
    profile: str
    services: tuple[ServiceWait, ...]
    compose_exit: int | None  # None: Compose was still waiting and fleetform stopped it
    compose_output: tuple[str, ...]
    events: tuple[LogEvent, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(s.outcome.ok for s in self.services) and self.compose_exit == 0

    @property
    def failed(self) -> list[ServiceWait]:
        """Services that were started (or meant to be) and did not become healthy."""
        return [s for s in self.services if not s.outcome.ok and s.outcome is not Outcome.BLOCKED]

    @property
    def blocked(self) -> list[ServiceWait]:
        return [s for s in self.services if s.outcome is Outcome.BLOCKED]


Emit = Callable[[LogEvent], None]


def stack_services(catalog: Catalog, profile: str) -> dict[str, list[str]]:
    """The services Compose starts for `profile` (DDEV ones are not Compose's) -> their
    dependencies among them. `UsageError` for an unknown profile."""
    members = profile_services(catalog, profile)
    started = {sid for sid in members if catalog.services[sid].runtime is not Runtime.DDEV}
    return {
        sid: sorted({d.name for d in catalog.services[sid].depends_on} & started)
        for sid in sorted(started)
    }


def up(
    catalog: Catalog, options: UpOptions, connect: Connect, emit: Emit | None = None
) -> UpResult:
    """Start `options.profile` with Compose and wait until every service is healthy; an
    unknown profile is a `UsageError` before `connect` is called."""
    edges = stack_services(catalog, options.profile)
    client = connect()
    order = start_order(edges)
    events: list[LogEvent] = []

    def log(service: str, event: Event, message: str) -> None:
        entry = LogEvent(datetime.now().astimezone(), service, event, message)
        events.append(entry)
        if emit is not None:
            emit(entry)

    began = time.monotonic()
    deadline = began + options.wait_timeout
    engine = engine_info(client)
    log(
        options.project,
        Event.DEPLOY_START,
        f"profile {options.profile} on Docker {engine.version} (API {engine.api_version}):"
        f" {len(order)} service(s) in start order: {', '.join(order)}",
    )
    with (
        orchestration_project(catalog, options.project, [options.profile], "up") as project,
        ComposeProcess(project, "up", "-d") as compose,
    ):
        waits = list(_wait_in_order(order, edges, options, client, compose, deadline, log))
        if all(w.outcome.ok for w in waits):
            compose.finish(options.compose_grace)
        else:
            compose.stop()  # Compose is only waiting for what will not come
    run = compose.result()
    if run.exit_code not in (0, None):
        log(
            options.project,
            Event.DEPLOY_FAIL,
            f"docker-compose up exited {run.exit_code}: {last_words(run.lines)}",
        )
    waits = [_with_logs(w, client, options.log_tail) for w in waits]
    seconds = time.monotonic() - began
    log(options.project, *_closing(waits, run, seconds))
    return UpResult(
        project=options.project,
        profile=options.profile,
        services=tuple(waits),
        compose_exit=run.exit_code,
        compose_output=run.lines,
        events=tuple(events),
        seconds=seconds,
    )


def _closing(waits: Sequence[ServiceWait], run: ComposeRun, seconds: float) -> tuple[Event, str]:
    """The project's last event: how `up` ended."""
    bad = [w.service for w in waits if not w.outcome.ok]
    if bad:
        return (
            Event.DEPLOY_FAIL,
            f"{len(bad)} of {len(waits)} service(s) not healthy: {', '.join(bad)}"
            " (nothing was stopped)",
        )
    if run.exit_code != 0:
        return Event.DEPLOY_FAIL, "every service is healthy, but docker-compose failed"
    return Event.DEPLOY_SUCCESS, f"{len(waits)} service(s) healthy in {seconds:.0f}s"


def _wait_in_order(
    order: Sequence[str],
    edges: dict[str, list[str]],
    options: UpOptions,
    client: Any,
    compose: ComposeProcess,
    deadline: float,
    log: Callable[[str, Event, str], None],
) -> Iterator[ServiceWait]:
    """Wait for each service in dependency order; dependants of a failure are blocked."""
    failed: dict[str, tuple[str, ...]] = {}  # service -> the failed services it waits on
    for sid in order:
        roots = sorted({root for dep in edges[sid] if dep in failed for root in failed[dep]})
        if roots:
            failed[sid] = tuple(roots)
            detail = f"not started: depends on {', '.join(roots)}, which did not become healthy"
            log(sid, Event.DEPLOY_FAIL, detail)
            yield ServiceWait(sid, Outcome.BLOCKED, detail, blocked_by=tuple(roots))
            continue
        needs = f" (after {', '.join(edges[sid])})" if edges[sid] else ""
        log(sid, Event.DEPLOY_START, f"waiting for {sid} to be healthy{needs}")
        wait = _wait_for(sid, options, client, compose, deadline, log)
        if wait.outcome.ok:
            log(sid, Event.DEPLOY_SUCCESS, "deployment completed")
        elif wait.outcome is Outcome.TIMEOUT:  # HEALTH_TIMEOUT said why
            failed[sid] = (sid,)
            log(sid, Event.DEPLOY_FAIL, "deployment failed: health timeout")
        else:
            failed[sid] = (sid,)
            log(sid, Event.DEPLOY_FAIL, f"deployment failed: {wait.outcome.value}: {wait.detail}")
        yield wait


def _wait_for(
    sid: str,
    options: UpOptions,
    client: Any,
    compose: ComposeProcess,
    deadline: float,
    log: Callable[[str, Event, str], None],
) -> ServiceWait:
    began = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        containers = [c for c in project_containers(client, options.project) if c.service == sid]
        spent = time.monotonic() - began
        look = _look(containers, options.loop, now_utc())
        outcome, detail = look.outcome, look.state
        if outcome is Outcome.HEALTHY:
            detail = f"{look.state} after {attempt} attempt(s), {spent:.0f}s"
            log(sid, Event.HEALTH_SUCCESS, detail)
        elif outcome is None and compose.done and all(c.state == "created" for c in containers):
            why = compose.last_words() if compose.failed else "docker-compose did not start it"
            outcome, detail = Outcome.NOT_STARTED, why
        elif outcome is None and time.monotonic() >= deadline:
            outcome = Outcome.TIMEOUT
            detail = f"not healthy after {attempt} attempt(s) in {spent:.0f}s: {look.state}"
            log(sid, Event.HEALTH_TIMEOUT, detail)
        if outcome is not None:
            names = tuple(c.name for c in containers)
            return ServiceWait(sid, outcome, detail, attempt, spent, containers=names)
        pause = min(options.backoff.delay(attempt), deadline - time.monotonic())
        if pause > 0:  # else the next look is the last one
            log(
                sid,
                Event.HEALTH_RETRY,
                f"attempt {attempt}: {look.state}; next check in {_seconds(pause)}",
            )
            time.sleep(pause)


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 1 else f"{value:.1f}s"


@dataclass(frozen=True)
class _Look:
    outcome: Outcome | None  # None: not decided yet, look again
    state: str


def _look(containers: Sequence[ContainerState], loop: LoopRule, now: datetime) -> _Look:
    """What one look at a service's containers decides: healthy, failed for good, or not yet."""
    if not containers:
        return _Look(None, "no container yet")
    pending = []
    for c in containers:
        if c.looping(loop, now):
            exited = f", exit code {c.exit_code}" if c.state != "running" else ""
            return _Look(
                Outcome.RESTART_LOOP,
                f"{c.name} restarted {c.restart_count} times ({c.state}{exited})",
            )
        if c.restart_count and (c.health == "unhealthy" or c.state != "running"):
            # Crashing again and again is a restart loop; let the loop rule say so once the
            # restarts add up, rather than calling the first failed probe "unhealthy".
            pending.append(f"{c.state} after {c.restart_count} restart(s)")
            continue
        if c.health == "unhealthy":
            probe = f": {c.last_probe}" if c.last_probe else ""
            return _Look(Outcome.UNHEALTHY, f"health check failed{probe}")
        if c.state != "running" or c.health not in ("healthy", "none"):
            pending.append(f"{c.state}, health {c.health}" if c.health != "none" else c.state)
    if pending:
        return _Look(None, "; ".join(pending))
    if all(c.health == "none" for c in containers):
        return _Look(Outcome.HEALTHY, "running (no health check)")
    return _Look(Outcome.HEALTHY, "healthy")


def _with_logs(wait: ServiceWait, client: Any, tail: int) -> ServiceWait:
    if wait.outcome.ok or wait.outcome is Outcome.BLOCKED or not wait.containers:
        return wait
    lines: list[str] = []
    for name in wait.containers:
        lines.extend(container_logs(client, name, tail))
    return replace(wait, logs=tuple(lines))
