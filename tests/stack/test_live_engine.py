"""`fleetform verify --live` against a real Docker engine and the real Compose v2 binary: the
generated Dockerfile built, the generated compose file run, the generated health-check.sh run
on this machine. No mocks: what is asserted is what the engine reports.

The tests share the `engine` fixture of tests/conftest.py (failed without an engine, skipped
only under FLEETFORM_REQUIRE_ENGINE=0) and the live catalog of tests/stack/live_setup.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from click.testing import Result

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
