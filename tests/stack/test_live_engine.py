"""`fleetform verify --live` against a real Docker engine and the real Compose v2 binary: the
generated Dockerfile built, the generated compose file run, the generated health-check.sh run
on this machine. No mocks: what is asserted is what the engine reports.

The tests share the `engine` fixture of tests/conftest.py (failed without an engine, skipped
only under FLEETFORM_REQUIRE_ENGINE=0) and the live catalog of tests/stack/live_setup.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from click.testing import Result

from generator.catalog.validation import open_catalog
from generator.stack import live_phases as phases
from generator.stack.build_context import DOCKERFILE, tar_context
from generator.stack.compose import ComposeProject
from generator.stack.engine import compose_binary
from tests.stack.live_setup import NODE_BASE, PYTHON_BASE, project_resources

pytestmark = pytest.mark.engine


def test_live_node_service_with_an_image_dependency_is_healthy(
    clean_engine: Any, live_catalog: Path, run: Callable[..., Result]
) -> None:
    result = run("verify", "--live", "--format", "json", "-c", live_catalog, "web")
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    (web,) = document["services"]
    assert (web["built"], web["started"], web["healthy"]) == (True, True, True)
    assert web["health_check_exit"] == 0
    assert any(
        "HEALTH_SUCCESS http://127.0.0.1:41040/ready is healthy" in line
        for line in web["health_check_output"]
    ), web["health_check_output"]
    assert web["standins"] == [NODE_BASE, "fleetform-test/live-cache:1"]
    assert web["skeleton"] == ["package-lock.json", "package.json", "server.js"]
    assert web["image"].startswith("fleetform-test/web:verify-")
    assert web["leftovers"] == [] and web["detail"] == ""
    assert set(web["seconds"]) == {"build", "start", "healthy", "check", "teardown"}
    assert f"web: building {web['image']} from infrastructure/Dockerfile" in result.stderr
    # Torn down: the project, the built image, the stand-in tags it made.
    assert project_resources(clean_engine, web["project"]) == []
    for tag in (web["image"], NODE_BASE, "fleetform-test/live-cache:1"):
        with pytest.raises(docker.errors.ImageNotFound):
            clean_engine.images.get(tag)


def test_live_service_never_healthy_fails_and_shows_health_check_output(
    clean_engine: Any, live_catalog: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    workspace = tmp_path / "workspace"
    rendered = run("generate", "-c", live_catalog, "-w", workspace, "stuck")
    assert rendered.exit_code == 0, rendered.stdout + rendered.stderr
    repo = workspace / "stuck"
    # The repository's local env file reaches its container, as with `make local-up`: here it
    # tells the stand-in never to answer its health path.
    (repo / "infrastructure" / ".env").write_text("NEVER_HEALTHY=1\n", encoding="utf-8")
    before = _snapshot(repo)

    result = run(
        "verify", "--live", "-c", live_catalog, "-w", workspace, "--wait-timeout", "12", "stuck"
    )

    assert result.exit_code == 1, result.stdout + result.stderr
    report = result.stdout
    assert re.match(
        r"stuck: FAILED: built \(\d+\.\ds\), started \(\d+\.\ds\), not healthy \(\d+\.\ds\),"
        r" health-check.sh exit 1 \(\d+\.\ds\), torn down \(\d+\.\ds\)\n",
        report,
    ), report
    assert "  why: its container did not become healthy: running, health starting" in report
    assert "  --- infrastructure/scripts/health-check.sh (exit 1)" in report
    assert "HEALTH_TIMEOUT http://127.0.0.1:41041/health is not healthy after 3 attempts" in report
    assert "NEVER_HEALTHY=1: /health will never answer" in report  # its container's log
    assert "stand-in python (not the real one): not running app" in report
    assert re.search(
        r"\nverify --live: 0 of 1 service\(s\) built, started and healthy in \d+s\n$", report
    )
    assert project_resources(clean_engine, "fleetform-verify-stuck-") == []
    with pytest.raises(docker.errors.ImageNotFound):
        clean_engine.images.get(PYTHON_BASE)
    assert _snapshot(repo) == before  # the skeleton went to a copy, the log file elsewhere


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# The stand-in application traps SIGTERM itself, which would hide a missing init: the stop
# test runs, in the generated image and under the generated compose file, a process with no
# handler of its own instead (busybox sleep), as `node .` or `python -m app` is without one.
# As PID 1 such a process ignores SIGTERM, and `docker stop` waits out the grace period.
NO_HANDLER = """\
services:
  stuck:
    command: ["sleep", "600"]
    stop_grace_period: 4s
"""


@dataclass
class GeneratedImage:
    target: phases.Target
    tag: str
    builds: list[phases.PhaseResult]  # what the teardown removes


@contextmanager
def generated_image(
    engine: Any, repo: Path, catalog: Path, tmp_path: Path
) -> Iterator[GeneratedImage]:
    """The `stuck` service's image, built from its generated Dockerfile on the stand-in base
    by verify --live's phases; everything it made torn down afterwards by verify --live's
    teardown."""
    token = secrets.token_hex(4)
    scratch = tmp_path / "scratch"
    scratch.mkdir(parents=True)
    target = phases.Target(
        catalog=open_catalog(catalog).catalog,
        service="stuck",
        repo=repo,
        compose=ComposeProject(
            file=repo / phases.SERVICE_COMPOSE_FILE,
            name=f"fleetform-verify-stuck-{token}",
            env={**os.environ, "IMAGE_TAG": f"verify-{token}"},
        ),
        scratch=scratch,
        volumes_before=frozenset(str(v.name) for v in engine.volumes.list()),
        wait_timeout=60,
        check_attempts=1,
        check_max_wait=1,
        log_tail=20,
        emit=lambda _line: None,
    )
    results: list[phases.PhaseResult] = []
    try:
        images = phases.read_compose_images(target)
        context = phases.prepare_context(target, images)
        plan = phases.plan_standins(engine, context.wanted)
        results.append(plan)
        assert phases.build_standins(engine, target, plan).ok
        built = phases.build_image(engine, target, context.image)
        results.append(built)
        assert built.ok, built.failure
        yield GeneratedImage(target, context.image, results)
    finally:
        torn = phases.tear_down(engine, target, results)
        assert torn.leftovers == ()


@contextmanager
def generated_container(
    engine: Any, repo: Path, catalog: Path, override: str, tmp_path: Path
) -> Iterator[Any]:
    """A container of the generated image, started from the generated compose file with
    `override` layered on (removed with the image)."""
    with generated_image(engine, repo, catalog, tmp_path) as image:
        compose = image.target.compose
        override_file = image.target.scratch / "override.yml"
        override_file.write_text(override, encoding="utf-8")
        argv = [compose_binary(), "-f", str(compose.file), "-f", str(override_file)]
        argv += ["-p", compose.name, "up", "-d", "--no-build", "--pull", "never", "stuck"]
        subprocess.run(argv, env=compose.env, check=True, capture_output=True, timeout=120)
        [container] = engine.containers.list(
            filters={"label": f"com.docker.compose.project={compose.name}"}
        )
        yield container


def stopped_exit_code(container: Any) -> int:
    """`docker stop` with the container's own grace period, then the exit code: 143 when
    SIGTERM ended it within the grace period, 137 when the engine had to SIGKILL it after."""
    container.stop()
    container.reload()
    return int(container.attrs["State"]["ExitCode"])


def test_a_generated_container_stops_at_once_under_its_init(
    clean_engine: Any, live_catalog: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    workspace = tmp_path / "workspace"
    assert run("generate", "-c", live_catalog, "-w", workspace, "stuck").exit_code == 0
    repo = workspace / "stuck"

    with generated_container(clean_engine, repo, live_catalog, NO_HANDLER, tmp_path / "a") as c:
        # PID 1 is the engine's init (the generated compose file's `init: true`), not the app.
        top = c.top()
        pid, ppid, cmd = (top["Titles"].index(title) for title in ("PID", "PPID", "CMD"))
        processes = {p[cmd].split()[0]: (p[pid], p[ppid]) for p in top["Processes"]}
        assert processes.keys() == {"/sbin/docker-init", "sleep"}, top
        assert processes["sleep"][1] == processes["/sbin/docker-init"][0]  # its child
        exit_code = stopped_exit_code(c)
    assert exit_code == 143  # SIGTERM, passed on by the init: no SIGKILL needed

    # The same container without the init: SIGTERM is ignored, and the engine kills it once
    # the grace period is over. This is what the generated file's `init: true` prevents.
    without = NO_HANDLER + "    init: false\n"
    with generated_container(clean_engine, repo, live_catalog, without, tmp_path / "b") as c:
        exit_code = stopped_exit_code(c)
    assert exit_code == 137


def test_a_source_change_reuses_the_dependency_layer(
    clean_engine: Any, live_catalog: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    """The generated python Dockerfile installs requirements.txt before it copies the
    source: rebuilt after a change to the application only, the install comes from the cache
    and only the steps from `COPY . .` on run again."""
    workspace = tmp_path / "workspace"
    assert run("generate", "-c", live_catalog, "-w", workspace, "stuck").exit_code == 0
    with generated_image(clean_engine, workspace / "stuck", live_catalog, tmp_path) as image:
        main = image.target.context / "app" / "__main__.py"
        main.write_text(main.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
        archive = io.BytesIO()
        tar_context(image.target.context, archive)
        archive.seek(0)
        _, log = clean_engine.images.build(
            fileobj=archive,
            custom_context=True,
            dockerfile=DOCKERFILE,
            tag=image.tag,
            rm=True,
            forcerm=True,
            pull=False,
        )
        lines = [
            line for chunk in log for line in str(chunk.get("stream", "")).splitlines() if line
        ]
        layers = tuple(
            m[1] for line in lines if (m := re.match(r"^ ---> ([0-9a-f]{12,64})$", line))
        )
        image.builds.append(phases.BuiltImage(tag=image.tag, layers=layers))
    steps: dict[str, bool] = {}  # each builder step: whether it came from the cache
    for index, line in enumerate(lines):
        if line.startswith("Step "):
            steps[line.split(" : ", 1)[1]] = lines[index + 1] == " ---> Using cache"
    install = next(step for step in steps if "-r requirements.txt" in step)
    assert steps["COPY requirements.txt* pyproject.toml* ./"] and steps[install], steps
    assert steps["COPY . ."] is False, steps
