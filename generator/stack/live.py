"""`fleetform verify --live`: build a service's image from its generated Dockerfile, run it
with its generated compose file, and check that its generated `health-check.sh` says healthy.

For each service, one after the other:

1. **Build context.** The repository's files that the build would see, in a temporary
   directory (`generator.stack.build_context`): `infrastructure/Dockerfile.dockerignore` (else the
   root `.dockerignore`) is applied there, because the engine's classic builder (the only one
   its API offers the Docker SDK) reads neither; BuildKit would. A fresh repository
   has no application yet, so when the Dockerfile needs one (node: `package.json`; python and
   model: `requirements.txt`/`pyproject.toml` and the `app` package its CMD runs) a minimal
   skeleton is added, to this copy only, never to the repository.
2. **Stand-ins.** No registry is reachable, so every image the engine does not have is stood
   in for (`generator.stack.standin`): the FROM images of the Dockerfile (tagged with
   exactly those names; stand-in `node`, `npm`, `python`, `pip`, `apt-get` that install
   nothing and serve the health path with busybox httpd) and the images of the compose
   file's dependencies. An image the engine already has is used as it is and never touched.
3. **Build** `docker build -f infrastructure/Dockerfile` of the context, tagged as the compose
   file names the service's image with `IMAGE_TAG=verify-<random>` (a real `:latest` is
   never overwritten).
4. **Run** the repository's `infrastructure/docker-compose.yml` unmodified, with the Compose v2
   binary, as project `fleetform-verify-<service>-<random>` (`up -d --no-build --pull never`),
   and wait for the service's own container to be healthy.
5. **Check**: the repository's `infrastructure/scripts/health-check.sh` on this machine (bash
   and curl or wget), against `127.0.0.1:<port><health path>` (its own defaults), exit 0 wanted.
6. **Tear down**, whatever happened: the project's containers with their anonymous volumes,
   its networks, the named volumes it created (those that existed before are kept), the
   built image and the stand-in tags made (the cached stand-in base stays).

The result says per service whether it was built, started, healthy and what `health-check.sh`
exited with, the time of each phase, and the last log lines of what failed.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker.errors

from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.errors import HostToolMissingError, InputError
from generator.fleet.generate import GenerateOptions, Outcome, generate
from generator.fleet.template import catalog_template
from generator.problems import Location, Problem
from generator.stack import compose
from generator.stack.build_context import (
    DOCKERFILE,
    add_skeleton,
    base_images,
    build_context,
    tar_context,
)
from generator.stack.compose import ComposeProject
from generator.stack.engine import (
    LoopRule,
    compose_binary,
    container_logs,
    now_utc,
    project_containers,
)
from generator.stack.standin import images as standin

SERVICE_COMPOSE_FILE = "infrastructure/docker-compose.yml"
HEALTH_CHECK = "infrastructure/scripts/health-check.sh"
_NEEDED = (DOCKERFILE, SERVICE_COMPOSE_FILE, HEALTH_CHECK)
_BUILT_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})$")

Emit = Callable[[str], None]


@dataclass(frozen=True)
class LiveOptions:
    """Where the repositories are, and how long to wait."""

    workspace: Path | None = None  # use WORKSPACE/<repo> as it is
    out: Path | None = None  # render into OUT/<repo> first, as `generate -o` does
    wait_timeout: float = 300.0  # docker-compose up plus the wait for healthy, per service
    check_attempts: int = 3  # health-check.sh -n
    check_max_wait: int = 10  # health-check.sh -w (seconds)
    log_tail: int = 20


@dataclass(frozen=True)
class ServiceLive:
    """How the live check of one service went."""

    service: str
    repo: str
    project: str = ""
    image: str = ""  # the tag built
    built: bool = False
    started: bool = False
    healthy: bool = False
    check_exit: int | None = None  # None: health-check.sh was not run
    detail: str = ""  # why it failed, in one line; "" when it did not
    standins: tuple[str, ...] = ()  # images stood in for
    real_images: tuple[str, ...] = ()  # images the engine had, used as they are
    skeleton: tuple[str, ...] = ()  # files added to the build context
    check_output: tuple[str, ...] = ()  # what health-check.sh printed
    logs: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (source, last lines) on failure
    leftovers: tuple[str, ...] = ()  # anything the tear-down could not remove
    seconds: Mapping[str, float] = field(default_factory=dict)  # per phase

    @property
    def ok(self) -> bool:
        healthy = self.built and self.started and self.healthy
        return healthy and self.check_exit == 0 and not self.leftovers


@dataclass(frozen=True)
class LiveResult:
    services: tuple[ServiceLive, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.services)


def verify_live(
    catalog: Catalog,
    names: Sequence[str],
    options: LiveOptions,
    client: Any,
    emit: Emit | None = None,
) -> LiveResult:
    """Build, run and health-check each named generated service (all of them if none).

    Everything `preflight` raises, it raises before anything is started.
    """
    say = emit or (lambda _line: None)
    services = preflight(catalog, names, options)
    began = time.monotonic()
    with _repositories(catalog, services, options, say) as (repos, failed):
        results = []
        for sid in services:
            if sid in failed:
                results.append(failed[sid])
                continue
            results.append(_Live(catalog, sid, repos[sid], options, client, say).run())
    if options.workspace is None and options.out is None:
        results = [replace(r, repo=f"{r.repo} (a temporary render, removed)") for r in results]
    return LiveResult(services=tuple(results), seconds=time.monotonic() - began)


def preflight(catalog: Catalog, names: Sequence[str], options: LiveOptions) -> list[str]:
    """What can be checked without the engine, so bad input fails before anything starts:
    the services (`UsageError`), the workspace repositories (`InputError`, every file
    missing), the tools on this machine. Returns the services to verify."""
    services = select_services(catalog, names)
    if options.workspace is not None:
        problems = [
            Problem(
                Location(str(repo / name)),
                f"service {sid!r}: no {name} (render it first: fleetform generate -w WORKSPACE)",
            )
            for sid, repo in _workspace_repos(catalog, services, options.workspace).items()
            for name in _NEEDED
            if not (repo / name).is_file()
        ]
        if problems:
            raise InputError(problems=problems)
    missing = [] if shutil.which("bash") else ["bash"]
    if not (shutil.which("curl") or shutil.which("wget")):
        missing.append("curl or wget")
    if missing:
        raise HostToolMissingError(tools=missing)
    compose_binary()
    standin.static_busybox()
    return services


def _workspace_repos(catalog: Catalog, services: Sequence[str], root: Path) -> dict[str, Path]:
    return {sid: root / catalog.services[sid].repo for sid in services}


@contextmanager
def _repositories(
    catalog: Catalog, services: Sequence[str], options: LiveOptions, say: Emit
) -> Iterator[tuple[dict[str, Path], dict[str, ServiceLive]]]:
    """Each service's repository: the workspace's, else rendered into OUT or a temporary
    preview (removed afterwards). Services whose render failed come back as results."""
    if options.workspace is not None:
        yield _workspace_repos(catalog, services, options.workspace), {}
        return
    preview = None if options.out is not None else tempfile.mkdtemp(prefix="fleetform-live-")
    root = options.out if options.out is not None else Path(str(preview))
    try:
        say(f"rendering {', '.join(services)} into {root}")
        report = generate(
            catalog,
            services,
            GenerateOptions(
                root=root,
                template=catalog_template(catalog),
                jobs=min(len(services), os.cpu_count() or 1),
            ),
        )
        repos, failed = {}, {}
        for result in report.results:
            repos[result.service] = result.repo
            if result.outcome in (Outcome.REFUSED, Outcome.FAILED):
                failed[result.service] = ServiceLive(
                    service=result.service,
                    repo=str(result.repo),
                    detail=f"not rendered: {result.outcome.value}: {result.reason}",
                )
        yield repos, failed
    finally:
        if preview is not None:
            shutil.rmtree(preview, ignore_errors=True)


# ------------------------------------------------------------------ one service


class _Live:
    """The live check of one service; its fields collect what `run` finds out."""

    def __init__(
        self,
        catalog: Catalog,
        sid: str,
        repo: Path,
        options: LiveOptions,
        client: Any,
        say: Emit,
    ) -> None:
        self.catalog, self.sid, self.repo = catalog, sid, repo
        self.options, self.client = options, client
        self._say = say
        token = secrets.token_hex(4)
        self.compose = ComposeProject(
            file=repo / SERVICE_COMPOSE_FILE,
            name=f"fleetform-verify-{sid}-{token}",
            env={**os.environ, "IMAGE_TAG": f"verify-{token}"},
        )
        self.image = ""
        self.built = self.up = self.started = self.healthy = False
        self.check_exit: int | None = None
        self.detail = ""
        self.standins: list[str] = []
        self.made: list[str] = []  # stand-in tags this run created
        self.real: list[str] = []
        self.skeleton: list[str] = []
        self.check_output: list[str] = []
        self.logs: list[tuple[str, tuple[str, ...]]] = []
        self.layers: list[str] = []  # image ids the build printed
        self.leftovers: list[str] = []
        self.seconds: dict[str, float] = {}

    def say(self, line: str) -> None:
        self._say(f"{self.sid}: {line}")

    def fail(self, detail: str) -> None:
        if not self.detail:
            self.detail = detail

    def run(self) -> ServiceLive:
        volumes_before = {str(v.name) for v in self.client.volumes.list()}
        with tempfile.TemporaryDirectory(prefix=f"fleetform-live-{self.sid}-") as scratch:
            try:
                with self._phase("build"):
                    self._build(Path(scratch))
                if self.built:
                    deadline = time.monotonic() + self.options.wait_timeout
                    with self._phase("start"):
                        self._start(deadline)
                    if self.started:
                        with self._phase("healthy"):
                            self._wait_healthy(deadline)
                        with self._phase("check"):
                            self._check(Path(scratch))
            finally:
                with self._phase("teardown"):
                    self._teardown(volumes_before)
        if self.check_exit not in (0, None):
            self.fail(f"health-check.sh exited {self.check_exit}")
        if self.leftovers:
            self.fail(f"left behind: {', '.join(self.leftovers)}")
        return ServiceLive(
            service=self.sid,
            repo=str(self.repo),
            project=self.compose.name,
            image=self.image,
            built=self.built,
            started=self.started,
            healthy=self.healthy,
            check_exit=self.check_exit,
            detail=self.detail,
            standins=tuple(self.standins),
            real_images=tuple(self.real),
            skeleton=tuple(self.skeleton),
            check_output=tuple(self.check_output),
            logs=tuple(self.logs),
            leftovers=tuple(self.leftovers),
            seconds=dict(self.seconds),
        )

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = time.monotonic() - began

    # ---- build

    def _build(self, scratch: Path) -> None:
        images = self._compose_images(scratch)
        if images is None:
            return
        self.image = images.pop(self.sid, "")
        if not self.image:
            self.fail(f"{SERVICE_COMPOSE_FILE} has no service {self.sid!r} with an image")
            return
        try:
            bases = base_images((self.repo / DOCKERFILE).read_text(encoding="utf-8"))
        except ValueError as exc:
            self.fail(f"{DOCKERFILE}: {exc}")
            return
        context = scratch / "context"
        build_context(self.repo, context)
        service = self.catalog.services[self.sid]
        self.skeleton = add_skeleton(context, service.runtime, self.sid, service.health.path)
        wanted = [
            standin.StandIn(
                image=base,
                service=self.sid,
                ports=(),
                health_path=service.health.path,
                runtime=True,
            )
            for base in bases
        ]
        wanted += [self._dependency_standin(name, image) for name, image in images.items()]
        if self._stand_in(wanted):
            self.say(f"building {self.image} from {DOCKERFILE}")
            self.built = self._docker_build(context)

    def _compose_images(self, scratch: Path) -> dict[str, str] | None:
        """Service -> image, as Compose reads the file (IMAGE_TAG set)."""
        resolved = scratch / "compose.json"
        run = compose.run(
            self.compose, "config", "--format", "json", "--output", str(resolved), timeout=60
        )
        if not run.ok:
            self.fail(f"docker-compose config failed: {run.reason}")
            self.logs.append(("docker-compose config", run.tail(self.options.log_tail)))
            return None
        services = json.loads(resolved.read_text(encoding="utf-8")).get("services") or {}
        return {name: str(spec.get("image", "")) for name, spec in services.items()}

    def _dependency_standin(self, name: str, image: str) -> standin.StandIn:
        if name in self.catalog.services:
            return standin.service_standin(self.catalog, name, {}, image=image)
        return standin.StandIn(image=image, service=name, ports=(), health_path="/health")

    def _stand_in(self, wanted: Sequence[standin.StandIn]) -> bool:
        """Stand in for the images the engine lacks; use the ones it has."""
        needed = []
        for item in wanted:
            kind = standin.image_kind(self.client, item.image)
            if kind == "real":
                self.real.append(item.image)
                continue
            needed.append(item)
            self.standins.append(item.image)
            if kind is None:
                self.made.append(item.image)
        if not needed:
            return True
        self.say(f"stand-ins for {', '.join(s.image for s in needed)}")
        try:
            standin.build(self.client, needed)
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            self.fail(f"the stand-in images could not be built: {' '.join(str(exc).split())}")
            return False
        return True

    def _docker_build(self, context: Path) -> bool:
        archive = io.BytesIO()
        tar_context(context, archive)
        archive.seek(0)
        try:
            _image, log = self.client.images.build(
                fileobj=archive,
                custom_context=True,
                dockerfile=DOCKERFILE,
                tag=self.image,
                rm=True,
                forcerm=True,
                pull=False,
            )
        except docker.errors.BuildError as exc:
            lines = self._build_lines(exc.build_log)
            self.fail(f"docker build failed: {' '.join(str(exc.msg).split())}")
            self.logs.append(("docker build", tuple(lines[-self.options.log_tail :])))
            return False
        except docker.errors.APIError as exc:
            self.fail(f"docker build failed: {exc.explanation or exc}")
            return False
        self._build_lines(log)
        return True

    def _build_lines(self, log: Any) -> list[str]:
        lines = []
        for chunk in log:
            for line in str(chunk.get("stream") or chunk.get("error") or "").splitlines():
                lines.append(line)
                match = _BUILT_LAYER.match(line)
                if match:
                    self.layers.append(match.group(1))
        return lines

    # ---- run

    def _start(self, deadline: float) -> None:
        self.say(f"docker-compose up (project {self.compose.name})")
        self.up = True
        remaining = max(1.0, deadline - time.monotonic())
        run = compose.run(
            self.compose, "up", "-d", "--no-build", "--pull", "never", timeout=remaining
        )
        if run.ok:
            self.started = True
            return
        if run.exit_code is None:
            self.fail(f"docker-compose up did not finish within {self.options.wait_timeout:.0f}s")
        else:
            self.fail(f"docker-compose up exited {run.exit_code}: {run.reason}")
        self.logs.append(("docker-compose up", run.tail(self.options.log_tail)))
        self._dependency_logs()

    def _own(self) -> list[Any]:
        return [
            c for c in project_containers(self.client, self.compose.name) if c.service == self.sid
        ]

    def _wait_healthy(self, deadline: float) -> None:
        self.say("waiting for its container to be healthy")
        state = "no container"
        while True:
            containers = self._own()
            if containers:
                c = containers[0]
                state = f"{c.state}, health {c.health}"
                if c.last_probe:
                    state += f" (last probe: {c.last_probe[:200]})"
                if c.running and c.health in ("healthy", "none"):
                    self.healthy = True
                    return
                if c.health == "unhealthy" or c.looping(LoopRule(), now_utc()):
                    break
            if time.monotonic() >= deadline:
                break
            time.sleep(1)
        self.fail(f"its container did not become healthy: {state}")
        for c in containers:
            lines = container_logs(self.client, c.id, self.options.log_tail)
            self.logs.append((c.name, tuple(lines)))

    def _dependency_logs(self) -> None:
        """The last lines of the dependencies that are not running and healthy."""
        for c in project_containers(self.client, self.compose.name):
            if c.service != self.sid and not (c.running and c.health in ("healthy", "none")):
                lines = container_logs(self.client, c.id, self.options.log_tail)
                self.logs.append((f"{c.name} ({c.state}, health {c.health})", tuple(lines)))

    def _check(self, scratch: Path) -> None:
        script = self.repo / HEALTH_CHECK
        self.say(f"{HEALTH_CHECK} -n {self.options.check_attempts}")
        env = {k: v for k, v in self.compose.env.items() if not k.startswith("HEALTH_")}
        env["LOG_FILE"] = str(scratch / "health-check.log")  # not into the repository
        argv = [
            "bash",
            str(script),
            "-n",
            str(self.options.check_attempts),
            "-d",
            "2",
            "-w",
            str(self.options.check_max_wait),
        ]
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=env,
                timeout=self.options.check_max_wait + 30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.check_exit = -1
            self.fail(f"{HEALTH_CHECK} did not end within {self.options.check_max_wait + 30}s")
            return
        self.check_exit = proc.returncode
        self.check_output = (proc.stdout + proc.stderr).splitlines()

    # ---- tear down

    def _teardown(self, volumes_before: set[str]) -> None:
        self.say("tearing down")
        if self.up:  # else nothing was started (and the file may be what failed)
            removal = compose.teardown(
                self.client, self.compose, keep_volumes=volumes_before, compose_timeout=120
            )
            self.leftovers += [str(failure) for failure in removal.failures]
            self.leftovers += removal.leftovers
        self._remove_images()

    def _remove_images(self) -> None:
        """The built image, the build's untagged stages, the stand-ins made."""
        if self.built:
            _remove_image(self.client, self.image, self.leftovers)
        for layer in reversed(self.layers):  # e.g. the builder stage: untagged, no container
            try:
                image = self.client.images.get(layer)
            except docker.errors.ImageNotFound:
                continue
            if not image.tags:
                try:
                    self.client.images.remove(image.id)
                except docker.errors.APIError:
                    continue  # a parent of something else, or in use: not ours to force
        standin.remove(self.client, self.made)


def _remove_image(client: Any, tag: str, leftovers: list[str]) -> None:
    try:
        client.images.remove(tag)
    except docker.errors.ImageNotFound:
        return
    except docker.errors.APIError as exc:
        leftovers.append(f"image {tag}: {exc.explanation or exc}")
