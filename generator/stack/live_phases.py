"""The phases of `fleetform verify --live` for one service, in the order `generator.stack.live`
runs them: read the compose file, prepare the build context, plan and build the stand-ins, build
the image, start the project, wait until healthy, run health-check.sh; then `tear_down`, which
undoes what the results so far say was made. Each phase is a function returning a frozen
result: why it failed (`failure`, "" when it did not), the log lines that show it, and what it
found or made.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import docker.errors

from generator.catalog.model import Catalog
from generator.stack import compose
from generator.stack.build_context import (
    DOCKERFILE,
    add_skeleton,
    base_images,
    build_context,
    tar_context,
    without_digests,
)
from generator.stack.compose import ComposeProject
from generator.stack.engine import (
    ContainerState,
    LoopRule,
    container_logs,
    now_utc,
    project_containers,
)
from generator.stack.standin import images as standin

SERVICE_COMPOSE_FILE = "infrastructure/docker-compose.yml"
HEALTH_CHECK = "infrastructure/scripts/health-check.sh"
_BUILT_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})$")

Emit = Callable[[str], None]
Logs = tuple[tuple[str, tuple[str, ...]], ...]  # (source, its last lines)


@dataclass(frozen=True)
class Target:
    """One service to check, and what all its phases share."""

    catalog: Catalog
    service: str
    repo: Path
    compose: ComposeProject  # its own compose file, a project of its own, IMAGE_TAG set
    scratch: Path  # a temporary directory: the build context, the health-check log
    volumes_before: frozenset[str]  # the engine's volumes before the run: never removed
    wait_timeout: float  # docker-compose up plus the wait for healthy
    check_attempts: int  # health-check.sh -n
    check_max_wait: int  # health-check.sh -w (seconds)
    log_tail: int
    emit: Emit

    def say(self, line: str) -> None:
        self.emit(f"{self.service}: {line}")

    @property
    def context(self) -> Path:
        return self.scratch / "context"


@dataclass(frozen=True, kw_only=True)
class PhaseResult:
    phase: ClassVar[str] = "build"  # the phase it is timed and reported under
    failure: str = ""  # why it failed, in one line; "" when it did not
    logs: Logs = ()

    @property
    def ok(self) -> bool:
        return not self.failure


@dataclass(frozen=True, kw_only=True)
class ComposeImages(PhaseResult):
    images: Mapping[str, str] = field(default_factory=dict)  # service -> image


@dataclass(frozen=True, kw_only=True)
class PreparedContext(PhaseResult):
    image: str = ""  # the tag to build, as the compose file names the service's image
    skeleton: tuple[str, ...] = ()  # files added to the build context
    wanted: tuple[standin.StandIn, ...] = ()  # the FROM images, the dependencies' images


@dataclass(frozen=True, kw_only=True)
class StandInPlan(PhaseResult):
    needed: tuple[standin.StandIn, ...] = ()  # to build: the engine has no real image of them
    made: tuple[str, ...] = ()  # tags of those that did not exist: the teardown removes them
    real: tuple[str, ...] = ()  # images the engine had, used as they are

    @property
    def standins(self) -> tuple[str, ...]:
        return tuple(item.image for item in self.needed)


@dataclass(frozen=True, kw_only=True)
class StandInsBuilt(PhaseResult):
    pass


@dataclass(frozen=True, kw_only=True)
class BuiltImage(PhaseResult):
    tag: str
    layers: tuple[str, ...] = ()  # image ids the build printed, its untagged stages among them


@dataclass(frozen=True, kw_only=True)
class Started(PhaseResult):
    phase: ClassVar[str] = "start"


@dataclass(frozen=True, kw_only=True)
class Healthy(PhaseResult):
    phase: ClassVar[str] = "healthy"


@dataclass(frozen=True, kw_only=True)
class HealthCheck(PhaseResult):
    phase: ClassVar[str] = "check"
    exit_code: int  # -1: it did not end in time
    output: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TornDown(PhaseResult):
    phase: ClassVar[str] = "teardown"
    leftovers: tuple[str, ...] = ()  # anything the teardown could not remove


R = TypeVar("R", bound=PhaseResult)


def found(results: Sequence[PhaseResult], kind: type[R]) -> R | None:
    """The result of phase `kind` among `results`, if that phase ran."""
    return next((r for r in results if isinstance(r, kind)), None)


# ------------------------------------------------------------------ build


def read_compose_images(target: Target) -> ComposeImages:
    """Service -> image, as Compose reads the file (IMAGE_TAG set)."""
    resolved = target.scratch / "compose.json"
    run = compose.run(
        target.compose, "config", "--format", "json", "--output", str(resolved), timeout=60
    )
    if not run.ok:
        return ComposeImages(
            failure=f"docker-compose config failed: {run.reason}",
            logs=(("docker-compose config", run.tail(target.log_tail)),),
        )
    services = json.loads(resolved.read_text(encoding="utf-8")).get("services") or {}
    return ComposeImages(
        images={name: str(spec.get("image", "")) for name, spec in services.items()}
    )


def prepare_context(target: Target, images: ComposeImages) -> PreparedContext:
    """The build context in the scratch directory, a skeleton added where the repository has
    no application, and the stand-ins the build and the compose file want."""
    dependencies = {name: image for name, image in images.images.items() if name != target.service}
    image = images.images.get(target.service, "")
    if not image:
        failure = f"{SERVICE_COMPOSE_FILE} has no service {target.service!r} with an image"
        return PreparedContext(failure=failure)
    try:
        bases = base_images((target.repo / DOCKERFILE).read_text(encoding="utf-8"))
    except ValueError as exc:
        return PreparedContext(image=image, failure=f"{DOCKERFILE}: {exc}")
    build_context(target.repo, target.context)
    without_digests(target.context)
    service = target.catalog.services[target.service]
    skeleton = add_skeleton(target.context, service.runtime, target.service, service.health.path)
    runtimes = [
        standin.StandIn(
            image=base,
            service=target.service,
            ports=(),
            health_path=service.health.path,
            runtime=True,
        )
        for base in bases
    ]
    services = [_dependency_standin(target.catalog, n, i) for n, i in dependencies.items()]
    return PreparedContext(image=image, skeleton=tuple(skeleton), wanted=(*runtimes, *services))


def _dependency_standin(catalog: Catalog, name: str, image: str) -> standin.StandIn:
    if name in catalog.services:
        return standin.service_standin(catalog, name, {}, image=image)
    return standin.StandIn(image=image, service=name, ports=(), health_path="/health")


def plan_standins(client: Any, wanted: Sequence[standin.StandIn]) -> StandInPlan:
    """Stand in for the images the engine lacks; use the ones it has as they are."""
    needed: list[standin.StandIn] = []
    made: list[str] = []
    real: list[str] = []
    for item in wanted:
        kind = standin.image_kind(client, item.image)
        if kind == "real":
            real.append(item.image)
            continue
        needed.append(item)
        if kind is None:
            made.append(item.image)
    return StandInPlan(needed=tuple(needed), made=tuple(made), real=tuple(real))


def build_standins(client: Any, target: Target, plan: StandInPlan) -> StandInsBuilt:
    if not plan.needed:
        return StandInsBuilt()
    target.say(f"stand-ins for {', '.join(plan.standins)}")
    try:
        standin.build(client, plan.needed)
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        reason = " ".join(str(exc).split())
        return StandInsBuilt(failure=f"the stand-in images could not be built: {reason}")
    return StandInsBuilt()


def build_image(client: Any, target: Target, image: str) -> BuiltImage:
    """`docker build -f infrastructure/Dockerfile` of the context, tagged `image`."""
    target.say(f"building {image} from {DOCKERFILE}")
    archive = io.BytesIO()
    tar_context(target.context, archive)
    archive.seek(0)
    try:
        _image, log = client.images.build(
            fileobj=archive,
            custom_context=True,
            dockerfile=DOCKERFILE,
            tag=image,
            rm=True,
            forcerm=True,
            pull=False,
        )
    except docker.errors.BuildError as exc:
        lines = _build_lines(exc.build_log)
        return BuiltImage(
            tag=image,
            layers=_layers(lines),
            failure=f"docker build failed: {' '.join(str(exc.msg).split())}",
            logs=(("docker build", tuple(lines[-target.log_tail :])),),
        )
    except docker.errors.APIError as exc:
        return BuiltImage(tag=image, failure=f"docker build failed: {exc.explanation or exc}")
    return BuiltImage(tag=image, layers=_layers(_build_lines(log)))


def _build_lines(log: Any) -> list[str]:
    return [
        line
        for chunk in log
        for line in str(chunk.get("stream") or chunk.get("error") or "").splitlines()
    ]


def _layers(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(match.group(1) for line in lines if (match := _BUILT_LAYER.match(line)))


# ------------------------------------------------------------------ run


def start_project(client: Any, target: Target, deadline: float) -> Started:
    """The repository's compose file, unmodified, as the project of this run."""
    target.say(f"docker-compose up (project {target.compose.name})")
    remaining = max(1.0, deadline - time.monotonic())
    run = compose.run(
        target.compose, "up", "-d", "--no-build", "--pull", "never", timeout=remaining
    )
    if run.ok:
        return Started()
    if run.exit_code is None:
        failure = f"docker-compose up did not finish within {target.wait_timeout:.0f}s"
    else:
        failure = f"docker-compose up exited {run.exit_code}: {run.reason}"
    logs = (("docker-compose up", run.tail(target.log_tail)), *_dependency_logs(client, target))
    return Started(failure=failure, logs=logs)


def _dependency_logs(client: Any, target: Target) -> Logs:
    """The last lines of the dependencies that are not running and healthy."""
    return tuple(
        (
            f"{c.name} ({c.state}, health {c.health})",
            tuple(container_logs(client, c.id, target.log_tail)),
        )
        for c in project_containers(client, target.compose.name)
        if c.service != target.service and not _is_healthy(c)
    )


def _is_healthy(container: ContainerState) -> bool:
    """Running, and healthy or without a health check."""
    return container.running and container.health in ("healthy", "none")


def wait_until_healthy(client: Any, target: Target, deadline: float) -> Healthy:
    """Poll the service's own container until it is healthy, unhealthy, loops, or time is up."""
    target.say("waiting for its container to be healthy")
    state = "no container"
    containers: list[ContainerState] = []
    while True:
        containers = [
            c
            for c in project_containers(client, target.compose.name)
            if c.service == target.service
        ]
        if containers:
            c = containers[0]
            state = f"{c.state}, health {c.health}"
            if c.last_probe:
                state += f" (last probe: {c.last_probe[:200]})"
            if _is_healthy(c):
                return Healthy()
            if c.health == "unhealthy" or c.looping(LoopRule(), now_utc()):
                break
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    logs = tuple((c.name, tuple(container_logs(client, c.id, target.log_tail))) for c in containers)
    return Healthy(failure=f"its container did not become healthy: {state}", logs=logs)


def run_health_check(target: Target) -> HealthCheck:
    """The repository's health-check.sh on this machine, with its own defaults (the host port
    and health path the catalog gave it)."""
    target.say(f"{HEALTH_CHECK} -n {target.check_attempts}")
    env = {k: v for k, v in target.compose.env.items() if not k.startswith("HEALTH_")}
    env["LOG_FILE"] = str(target.scratch / "health-check.log")  # not into the repository
    argv = ["bash", str(target.repo / HEALTH_CHECK), "-n", str(target.check_attempts)]
    argv += ["-d", "2", "-w", str(target.check_max_wait)]
    limit = target.check_max_wait + 30
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return HealthCheck(exit_code=-1, failure=f"{HEALTH_CHECK} did not end within {limit}s")
    failure = f"health-check.sh exited {proc.returncode}" if proc.returncode != 0 else ""
    output = tuple((proc.stdout + proc.stderr).splitlines())
    return HealthCheck(exit_code=proc.returncode, output=output, failure=failure)


# ------------------------------------------------------------------ tear down


def tear_down(client: Any, target: Target, results: Sequence[PhaseResult]) -> TornDown:
    """Undo what `results` say this run made: the project, the image with its untagged
    stages, the stand-in tags it created (the cached stand-in base stays)."""
    target.say("tearing down")
    plan, image = found(results, StandInPlan), found(results, BuiltImage)
    leftovers: list[str] = []
    # Once the image is built, docker-compose up comes next: the project may exist even if
    # up never returned.
    if image is not None and image.ok:
        removal = compose.teardown(
            client, target.compose, keep_volumes=target.volumes_before, compose_timeout=120
        )
        leftovers += [str(failure) for failure in removal.failures]
        leftovers += removal.leftovers
        leftovers += _remove_image(client, image.tag)
    if image is not None:
        _remove_untagged(client, image.layers)
    if plan is not None:
        standin.remove(client, plan.made)
    failure = f"left behind: {', '.join(leftovers)}" if leftovers else ""
    return TornDown(leftovers=tuple(leftovers), failure=failure)


def _remove_image(client: Any, tag: str) -> list[str]:
    try:
        client.images.remove(tag)
    except docker.errors.ImageNotFound:
        return []
    except docker.errors.APIError as exc:
        return [f"image {tag}: {exc.explanation or exc}"]
    return []


def _remove_untagged(client: Any, layers: Sequence[str]) -> None:
    """The build's untagged images (a builder stage has no tag and no container)."""
    for layer in reversed(layers):
        try:
            image = client.images.get(layer)
        except docker.errors.ImageNotFound:
            continue
        if not image.tags:
            try:
                client.images.remove(image.id)
            except docker.errors.APIError:
                continue  # a parent of something else, or in use: not ours to force
