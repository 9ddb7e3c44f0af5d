"""Run a profile of the catalog on a Docker engine: up (and wait until healthy), and down.

`up` writes the catalog's orchestration file (`generator.stack.orchestrate`, unmodified) to a
temporary directory and runs `docker-compose --profile P up -d` in the background; Compose
creates everything and starts each service once its dependencies are healthy. Meanwhile
fleetform waits for every service of the profile, in dependency order, polling the engine
with exponential backoff and reporting seed 001's events (DEPLOY_START, HEALTH_RETRY,
HEALTH_SUCCESS, HEALTH_TIMEOUT, DEPLOY_SUCCESS, DEPLOY_FAIL) as they happen. A service that
does not become healthy fails, and its dependants are reported as blocked, never waited for.
Nothing is ever stopped or removed by `up`: a failed stack stays for inspection.

`down` removes every container of the project with its anonymous volumes, then the project's
networks; named volumes (the catalog's data volumes) survive. It then asks the engine
whether anything of the project is left.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from generator.catalog.graph import start_order
from generator.catalog.model import Catalog, Runtime
from generator.catalog.profiles import UNPROFILED, compose_profiles, profile_services
from generator.errors import EngineError
from generator.stack.engine import (
    ContainerState,
    LoopRule,
    compose_argv,
    container_logs,
    engine_info,
    existing_volumes,
    now_utc,
    project_containers,
    project_networks,
)
from generator.stack.orchestrate import orchestrate_yaml

COMPOSE_FILE = "docker-compose.orchestrate.yml"


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


def up(catalog: Catalog, options: UpOptions, client: Any, emit: Emit | None = None) -> UpResult:
    """Start `options.profile` with Compose and wait until every service is healthy."""
    edges = stack_services(catalog, options.profile)
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
    with tempfile.TemporaryDirectory(prefix="fleetform-up-") as directory:
        file = Path(directory) / COMPOSE_FILE
        file.write_text(orchestrate_yaml(catalog), encoding="utf-8")
        argv = compose_argv(file, options.project, [options.profile], "up", "-d")
        with _Compose(argv) as compose:
            waits = list(_wait_in_order(order, edges, options, client, compose, deadline, log))
            if all(w.outcome.ok for w in waits):
                compose.finish(options.compose_grace)
            else:
                compose.stop()  # Compose is only waiting for what will not come
    exit_code = compose.exit_code
    output = tuple(compose.lines)
    if exit_code not in (0, None):
        log(
            options.project,
            Event.DEPLOY_FAIL,
            f"docker-compose up exited {exit_code}: {_last_words(output)}",
        )
    waits = [_with_logs(w, client, options.log_tail) for w in waits]
    seconds = time.monotonic() - began
    bad = [w.service for w in waits if not w.outcome.ok]
    if bad:
        log(
            options.project,
            Event.DEPLOY_FAIL,
            f"{len(bad)} of {len(waits)} service(s) not healthy: {', '.join(bad)}"
            " (nothing was stopped)",
        )
    elif exit_code != 0:
        log(
            options.project,
            Event.DEPLOY_FAIL,
            "every service is healthy, but docker-compose failed",
        )
    else:
        log(
            options.project,
            Event.DEPLOY_SUCCESS,
            f"{len(waits)} service(s) healthy in {seconds:.0f}s",
        )
    return UpResult(
        project=options.project,
        profile=options.profile,
        services=tuple(waits),
        compose_exit=exit_code,
        compose_output=output,
        events=tuple(events),
        seconds=seconds,
    )


class _Compose:
    """`docker-compose up -d` in the background, its output collected line by line."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.lines: list[str] = []
        self.exit_code: int | None = None
        self.stopped = False  # fleetform stopped it while it was still waiting
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> _Compose:
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=dict(os.environ),
            )
        except OSError as exc:
            raise EngineError(action="running docker-compose", reason=str(exc)) from exc
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.strip():
                self.lines.append(line.rstrip())

    @property
    def done(self) -> bool:
        return self._proc is None or self._proc.poll() is not None

    @property
    def failed(self) -> bool:
        return self._proc is not None and self._proc.poll() not in (None, 0)

    def last_words(self) -> str:
        return _last_words(self.lines)

    def finish(self, grace: float) -> None:
        """Let Compose end on its own (it returns once it has started everything)."""
        assert self._proc is not None
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.stop()

    def stop(self) -> None:
        """Stop Compose itself if it is still waiting; the containers are left as they are
        (a detached `up` that is interrupted stops nothing)."""
        assert self._proc is not None
        if self._proc.poll() is None:
            self.stopped = True
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __exit__(self, *exc: object) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self.stop()
        if self._reader is not None:
            self._reader.join(timeout=5)
        # Stopped by fleetform: Compose had not failed, it was still waiting.
        self.exit_code = None if self.stopped else self._proc.returncode


def _last_words(lines: Sequence[str]) -> str:
    """Compose's error: its last line that is not progress output."""
    for line in reversed(lines):
        text = line.strip()
        if text and not text.startswith(("Container ", "Network ", "Volume ")):
            return text
    return lines[-1].strip() if lines else "no output"


def _wait_in_order(
    order: Sequence[str],
    edges: dict[str, list[str]],
    options: UpOptions,
    client: Any,
    compose: _Compose,
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
    compose: _Compose,
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


# ------------------------------------------------------------------ down


@dataclass(frozen=True)
class DownResult:
    project: str
    profile: str
    removed: tuple[str, ...]  # containers
    outside_profile: tuple[str, ...]  # services removed that the profile does not run
    networks: tuple[str, ...]  # removed
    anonymous_volumes: tuple[str, ...]  # removed with their containers
    kept_volumes: tuple[str, ...]  # named volumes of the project, kept on purpose
    leftovers: tuple[str, ...]  # anything of the project the engine still has

    @property
    def ok(self) -> bool:
        return not self.leftovers


def down(catalog: Catalog, profile: str, project: str, client: Any) -> DownResult:
    """Remove the project's containers (with their anonymous volumes) and networks.

    Compose only acts on the services of the profiles it is given, so it gets every profile
    of the file: a project has one network, and containers of another profile left on a
    removed network could never start again. Those are named in the result.
    """
    members = profile_services(catalog, profile)
    before = project_containers(client, project)
    networks = project_networks(client, project)
    anonymous = sorted({v for c in before for v in c.anonymous_volumes})
    every_profile = sorted(
        {p for ps in compose_profiles(catalog).values() for p in ps} | {UNPROFILED}
    )
    with tempfile.TemporaryDirectory(prefix="fleetform-down-") as directory:
        file = Path(directory) / COMPOSE_FILE
        file.write_text(orchestrate_yaml(catalog), encoding="utf-8")
        # `rm -v` removes anonymous volumes only; `down -v` would also remove the named
        # data volumes the file declares.
        _run(compose_argv(file, project, every_profile, "rm", "--stop", "--force", "-v"), "rm")
        for container in project_containers(client, project):  # orphans of an older catalog
            _remove(client, container)
        _run(compose_argv(file, project, every_profile, "down", "--remove-orphans"), "down")
    after = project_containers(client, project)
    networks_after = project_networks(client, project)
    volumes_after = existing_volumes(client, anonymous)
    leftovers = [
        *(f"container {c.name}" for c in after),
        *(f"network {n}" for n in networks_after),
        *(f"anonymous volume {v}" for v in volumes_after),
    ]
    return DownResult(
        project=project,
        profile=profile,
        removed=tuple(c.name for c in before if c.name not in {a.name for a in after}),
        outside_profile=tuple(sorted({c.service for c in before} - members)),
        networks=tuple(n for n in networks if n not in networks_after),
        anonymous_volumes=tuple(v for v in anonymous if v not in volumes_after),
        kept_volumes=tuple(_named_volumes(client, project)),
        leftovers=tuple(leftovers),
    )


def _run(argv: list[str], command: str) -> None:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise EngineError(action="running docker-compose", reason=str(exc)) from exc
    if proc.returncode != 0:
        raise EngineError(
            action=f"docker-compose {command}",
            reason=_last_words((proc.stderr or proc.stdout).splitlines()),
        )


def _remove(client: Any, container: ContainerState) -> None:
    import docker.errors

    try:
        client.containers.get(container.id).remove(v=True, force=True)
    except docker.errors.NotFound:
        return
    except docker.errors.APIError as exc:
        raise EngineError(action=f"removing container {container.name}", reason=str(exc)) from exc


def _named_volumes(client: Any, project: str) -> list[str]:
    volumes = client.volumes.list(filters={"label": f"com.docker.compose.project={project}"})
    return sorted(str(v.name) for v in volumes)


# ------------------------------------------------------------------ reports


def up_report(result: UpResult) -> str:
    """What went wrong, after the event lines: the services that never became healthy,
    their dependants that could not start, and the last log lines of each failed container."""
    if result.ok:
        return ""
    lines = [
        f"fleetform up {result.profile}: {len(result.failed)} service(s) did not become healthy,"
        f" {len(result.blocked)} could not start because of them (project {result.project};"
        " nothing was stopped)"
    ]
    lines += [f"  {w.service}: {w.outcome.value}: {w.detail}" for w in result.failed]
    lines += [
        f"  {w.service}: could not start: depends on {', '.join(w.blocked_by)}"
        for w in result.blocked
    ]
    if result.compose_exit not in (0, None):
        words = _last_words(result.compose_output)
        lines.append(f"  docker-compose up exited {result.compose_exit}: {words}")
    for wait in result.failed:
        if wait.logs:
            lines.append(f"--- {wait.service} ({', '.join(wait.containers)}): last log lines")
            lines += [f"  {line}" for line in wait.logs]
    lines.append(
        f"inspect: fleetform status --project {result.project} --profile {result.profile};"
        f" remove: fleetform down {result.profile} --project {result.project}"
    )
    return "\n".join(lines) + "\n"


def down_report(result: DownResult) -> str:
    lines = [f"removed container {name}" for name in result.removed]
    if result.outside_profile:
        lines.append(
            f"also removed, not in profile {result.profile}: {', '.join(result.outside_profile)}"
            " (a project has one network)"
        )
    lines += [f"removed network {name}" for name in result.networks]
    if result.anonymous_volumes:
        lines.append(f"removed {len(result.anonymous_volumes)} anonymous volume(s)")
    if result.kept_volumes:
        lines.append(f"kept named volume(s): {', '.join(result.kept_volumes)}")
    lines += [f"still there: {item}" for item in result.leftovers]
    if result.ok:
        lines.append(f"{result.project}: nothing of the project is left running")
    return "\n".join(lines) + "\n"
