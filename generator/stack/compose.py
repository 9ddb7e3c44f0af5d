"""The Compose v2 binary run on one compose project, and a project torn down.

`ComposeProject` is what every command of a project needs: the file, the project name, the
profiles, the environment. `ComposeProcess` runs one command in the background, collecting its
output (stdout and stderr in the order Compose wrote them) line by line while fleetform
watches the engine (`fleetform up`); `run` is the same, waited for.

`teardown` removes a project's containers with their anonymous volumes, then its networks, and
only when asked named volumes. It tries every step whatever the one before did and returns
what it could not do, so each caller decides what a failure means: `fleetform down` raises
it, `verify --live` reports it as left behind.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from generator.catalog.model import Catalog
from generator.errors import EngineError
from generator.stack.engine import (
    PROJECT_LABEL,
    ContainerState,
    compose_argv,
    existing_volumes,
    project_containers,
    project_networks,
)
from generator.stack.orchestrate import orchestrate_yaml

ORCHESTRATION_FILE = "docker-compose.orchestrate.yml"
# Compose's progress lines: never the reason it failed.
_PROGRESS = ("Container ", "Network ", "Volume ")


@dataclass(frozen=True)
class ComposeProject:
    """One compose file run as one project."""

    file: Path
    name: str
    profiles: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def argv(self, *args: str) -> list[str]:
        return compose_argv(self.file, self.name, self.profiles, *args)


@contextmanager
def orchestration_project(
    catalog: Catalog, name: str, profiles: Sequence[str], purpose: str
) -> Iterator[ComposeProject]:
    """The catalog's orchestration file (`generator.stack.orchestrate`, unmodified) in a
    temporary directory, as project `name`, for the time of one command."""
    with tempfile.TemporaryDirectory(prefix=f"fleetform-{purpose}-") as directory:
        file = Path(directory) / ORCHESTRATION_FILE
        file.write_text(orchestrate_yaml(catalog), encoding="utf-8")
        yield ComposeProject(file=file, name=name, profiles=tuple(profiles))


def last_words(lines: Sequence[str]) -> str:
    """Compose's error: its last line that is not progress output."""
    for line in reversed(lines):
        text = line.strip()
        if text and not text.startswith(_PROGRESS):
            return text
    return lines[-1].strip() if lines else "no output"


@dataclass(frozen=True)
class ComposeRun:
    """How one docker-compose command ended."""

    command: str  # the subcommand: up, rm, down, config
    exit_code: int | None  # None: fleetform stopped it while it was still running
    lines: tuple[str, ...]  # its output, blank lines dropped
    timeout: float | None = None  # how long it was given, when it was stopped for that

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def reason(self) -> str:
        """Why it failed, in one line."""
        if self.exit_code is None and self.timeout is not None:
            return f"did not finish within {self.timeout:.0f}s"
        return last_words(self.lines)

    def tail(self, count: int) -> tuple[str, ...]:
        return self.lines[-count:]


class ComposeProcess:
    """One docker-compose command in the background, its output collected line by line."""

    def __init__(self, project: ComposeProject, *args: str) -> None:
        self.argv = project.argv(*args)
        self.command = args[0]
        self.env = dict(project.env)
        self.lines: list[str] = []
        self.exit_code: int | None = None
        self.stopped = False  # fleetform stopped it while it was still running
        self._timeout: float | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> ComposeProcess:
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=self.env,
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
        return last_words(self.lines)

    def finish(self, timeout: float | None) -> None:
        """Let Compose end on its own (`up -d` returns once it has started everything),
        stopping it after `timeout` seconds (None: no limit)."""
        assert self._proc is not None
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._timeout = timeout
            self.stop()

    def stop(self) -> None:
        """Stop Compose itself if it is still running; the containers are left as they are
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

    def result(self) -> ComposeRun:
        """How it ended; once the `with` block is left."""
        assert self._proc is not None and (self.stopped or self.exit_code is not None)
        return ComposeRun(self.command, self.exit_code, tuple(self.lines), self._timeout)


def run(project: ComposeProject, *args: str, timeout: float | None = None) -> ComposeRun:
    """One docker-compose command, waited for; stopped after `timeout` seconds."""
    with ComposeProcess(project, *args) as process:
        process.finish(timeout)
    return process.result()


# ------------------------------------------------------------------ teardown


@dataclass(frozen=True)
class Failure:
    """A step of the teardown that did not succeed, and the reason Compose or the engine gave."""

    action: str
    reason: str

    def __str__(self) -> str:
        return f"{self.action}: {self.reason}"


@dataclass(frozen=True)
class Teardown:
    """What tearing a project down found, removed, could not do, and left."""

    containers: tuple[ContainerState, ...]  # the project's, as the teardown found them
    removed: tuple[str, ...]  # containers
    networks: tuple[str, ...]  # removed
    anonymous_volumes: tuple[str, ...]  # removed with their containers
    removed_volumes: tuple[str, ...]  # named volumes removed (only those not to keep)
    kept_volumes: tuple[str, ...]  # named volumes of the project kept on purpose
    failures: tuple[Failure, ...]
    leftovers: tuple[str, ...]  # anything of the project the engine still has


def teardown(
    client: Any,
    project: ComposeProject,
    *,
    keep_volumes: Collection[str] | None = None,
    compose_timeout: float | None = None,
) -> Teardown:
    """Remove the project's containers with their anonymous volumes, and its networks.

    Named volumes stay (they hold the services' data) unless `keep_volumes` is given: then
    the project's named volumes that are not in it are removed too. Compose removes what its
    file describes, the engine API whatever else carries the project's label (containers of
    an older file).
    """
    before = project_containers(client, project.name)
    networks = project_networks(client, project.name)
    anonymous = sorted({v for c in before for v in c.anonymous_volumes})
    # `rm -v` removes anonymous volumes only; `down -v` would also remove the named data
    # volumes the file declares (shared with the real stack, for a catalog's own volume).
    failures = _compose(project, compose_timeout, "rm", "--stop", "--force", "-v")
    failures += _remove_containers(client, project_containers(client, project.name))
    failures += _compose(project, compose_timeout, "down", "--remove-orphans")
    removed_volumes, kept_volumes, volume_failures = _named_volumes(
        client, project.name, keep_volumes
    )
    after = project_containers(client, project.name)
    networks_after = project_networks(client, project.name)
    volumes_after = existing_volumes(client, anonymous)
    return Teardown(
        containers=tuple(before),
        removed=tuple(c.name for c in before if c.name not in {a.name for a in after}),
        networks=tuple(n for n in networks if n not in networks_after),
        anonymous_volumes=tuple(v for v in anonymous if v not in volumes_after),
        removed_volumes=removed_volumes,
        kept_volumes=kept_volumes,
        failures=(*failures, *volume_failures),
        leftovers=(
            *(f"container {c.name}" for c in after),
            *(f"network {n}" for n in networks_after),
            *(f"anonymous volume {v}" for v in volumes_after),
        ),
    )


def _compose(project: ComposeProject, timeout: float | None, *args: str) -> list[Failure]:
    result = run(project, *args, timeout=timeout)
    return [] if result.ok else [Failure(f"docker-compose {result.command}", result.reason)]


def _remove_containers(client: Any, containers: Sequence[ContainerState]) -> list[Failure]:
    failures = []
    for container in containers:
        try:
            client.containers.get(container.id).remove(v=True, force=True)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as exc:
            reason = str(exc.explanation or exc)
            failures.append(Failure(f"removing container {container.name}", reason))
    return failures


def _named_volumes(
    client: Any, project: str, keep: Collection[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...], list[Failure]]:
    """The project's named volumes: (removed, kept, failures); all kept when `keep` is None."""
    volumes = client.volumes.list(filters={"label": f"{PROJECT_LABEL}={project}"})
    removed, kept, failures = [], [], []
    for volume in sorted(volumes, key=lambda v: str(v.name)):
        name = str(volume.name)
        if keep is None or name in keep:
            kept.append(name)
            continue
        try:
            volume.remove()
        except docker.errors.APIError as exc:
            failures.append(Failure(f"removing volume {name}", str(exc.explanation or exc)))
            continue
        removed.append(name)
    return tuple(removed), tuple(kept), failures
