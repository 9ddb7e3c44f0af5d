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

The phases are functions with frozen results (`generator.stack.live_phases`); this module picks
the repositories, runs each service's phases and then its teardown, and sums them up: per
service whether it was built, started, healthy and what `health-check.sh` exited with, the time
of each phase, and the last log lines of what failed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.errors import HostToolMissingError, InputError
from generator.fleet.generate import GenerateOptions, Outcome, generate
from generator.fleet.template import catalog_template
from generator.problems import Location, Problem
from generator.stack.build_context import DOCKERFILE
from generator.stack.compose import ComposeProject
from generator.stack.engine import Connect, compose_binary
from generator.stack.live_phases import (
    HEALTH_CHECK,
    SERVICE_COMPOSE_FILE,
    BuiltImage,
    Emit,
    HealthCheck,
    Healthy,
    PhaseResult,
    PreparedContext,
    StandInPlan,
    Started,
    Target,
    TornDown,
    build_image,
    build_standins,
    found,
    plan_standins,
    prepare_context,
    read_compose_images,
    run_health_check,
    start_project,
    tear_down,
    wait_until_healthy,
)
from generator.stack.standin import images as standin

_NEEDED = (DOCKERFILE, SERVICE_COMPOSE_FILE, HEALTH_CHECK)
Timed = list[tuple[PhaseResult, float]]  # each phase's result, and the seconds it took


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
    connect: Connect,
    emit: Emit | None = None,
) -> LiveResult:
    """Build, run and health-check each named generated service (all of them if none).

    Everything `preflight` raises, it raises before anything is started or `connect` called.
    """
    say = emit or (lambda _line: None)
    services = preflight(catalog, names, options)
    client = connect()
    began = time.monotonic()
    with _repositories(catalog, services, options, say) as (repos, failed):
        results = []
        for sid in services:
            if sid in failed:
                results.append(failed[sid])
                continue
            results.append(_verify_service(catalog, sid, repos[sid], options, client, say))
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


def _verify_service(
    catalog: Catalog, sid: str, repo: Path, options: LiveOptions, client: Any, say: Emit
) -> ServiceLive:
    """One service's check, as a project of its own with an image tag of its own."""
    with tempfile.TemporaryDirectory(prefix=f"fleetform-live-{sid}-") as scratch:
        token = secrets.token_hex(4)
        target = Target(
            catalog=catalog,
            service=sid,
            repo=repo,
            compose=ComposeProject(
                file=repo / SERVICE_COMPOSE_FILE,
                name=f"fleetform-verify-{sid}-{token}",
                env={**os.environ, "IMAGE_TAG": f"verify-{token}"},
            ),
            scratch=Path(scratch),
            volumes_before=frozenset(str(v.name) for v in client.volumes.list()),
            wait_timeout=options.wait_timeout,
            check_attempts=options.check_attempts,
            check_max_wait=options.check_max_wait,
            log_tail=options.log_tail,
            emit=say,
        )
        return _service_live(target, _run_phases(target, client))


def _phase_results(target: Target, client: Any) -> Iterator[PhaseResult]:
    """Every phase but the teardown, each result yielded as the phase ends. The first that
    fails ends the run, but a failed wait still runs health-check.sh: its output says why."""
    images = read_compose_images(target)
    yield images
    if not images.ok:
        return
    context = prepare_context(target, images)
    yield context
    if not context.ok:
        return
    plan = plan_standins(client, context.wanted)
    yield plan
    built_standins = build_standins(client, target, plan)
    yield built_standins
    if not built_standins.ok:
        return
    image = build_image(client, target, context.image)
    yield image
    if not image.ok:
        return
    deadline = time.monotonic() + target.wait_timeout  # for docker-compose up and healthy
    started = start_project(client, target, deadline)
    yield started
    if not started.ok:
        return
    yield wait_until_healthy(client, target, deadline)
    yield run_health_check(target)


def _run_phases(target: Target, client: Any) -> Timed:
    """Each phase, timed from the end of the one before, then the teardown whatever
    happened (an error or Ctrl-C included: it undoes what the phases so far made)."""
    timed: Timed = []
    clock = time.monotonic()
    try:
        for result in _phase_results(target, client):
            now = time.monotonic()
            timed.append((result, now - clock))
            clock = now
    finally:
        began = time.monotonic()
        torn = tear_down(client, target, [result for result, _ in timed])
        timed.append((torn, time.monotonic() - began))
    return timed


def _service_live(target: Target, timed: Timed) -> ServiceLive:
    """One service's phase results as one verdict; its detail is the first failure."""
    results = [result for result, _ in timed]
    context = found(results, PreparedContext)
    plan = found(results, StandInPlan)
    check = found(results, HealthCheck)
    torn = found(results, TornDown)
    seconds: dict[str, float] = {}
    for result, spent in timed:
        seconds[result.phase] = seconds.get(result.phase, 0.0) + spent
    return ServiceLive(
        service=target.service,
        repo=str(target.repo),
        project=target.compose.name,
        image=context.image if context is not None else "",
        built=_passed(found(results, BuiltImage)),
        started=_passed(found(results, Started)),
        healthy=_passed(found(results, Healthy)),
        check_exit=check.exit_code if check is not None else None,
        detail=next((result.failure for result in results if result.failure), ""),
        standins=plan.standins if plan is not None else (),
        real_images=plan.real if plan is not None else (),
        skeleton=context.skeleton if context is not None else (),
        check_output=check.output if check is not None else (),
        logs=tuple(entry for result in results for entry in result.logs),
        leftovers=torn.leftovers if torn is not None else (),
        seconds=seconds,
    )


def _passed(result: PhaseResult | None) -> bool:
    return result is not None and result.ok
