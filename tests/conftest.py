"""Shared fixtures: real files in temporary directories, the real CLI through CliRunner."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from click.testing import CliRunner, Result

from generator.cli import cli

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CATALOG = ROOT / "catalog.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

SMALL_CATALOG = """\
version: 1
name: demo
groups:
  core: {ports: "8000-8099", cluster: core}
  data: {ports: "6000-6099", cluster: core}
  apps: {ports: "3000-3009", cluster: services}
services:
  api:
    group: apps
    runtime: node
    port: 3000
    depends_on: [db, cache]
  worker:
    group: apps
    runtime: python
    port: 3001
    depends_on: [api]
  db:
    group: data
    runtime: image
    image: postgres:15-alpine
    port: 5433
    container_port: 5432
    port_exception: existing database, clients hard-code 5433
  cache:
    group: data
    runtime: image
    image: redis:7-alpine
    port: 6000
    container_port: 6379
"""


TEMPLATE_TAG = "v1.0.0"
# The engine tests run wherever the tests run; only FLEETFORM_REQUIRE_ENGINE=0 lets them skip.
REQUIRE_ENGINE = os.environ.get("FLEETFORM_REQUIRE_ENGINE") != "0"
_NOT_TEMPLATE = shutil.ignore_patterns(
    ".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/<case>/ from the current template (review the diff!)",
    )


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "test")
    return path


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree (the template and fleetform) committed and tagged in a temp repo.

    Copier renders from git, so the tests render exactly what is on disk now, committed or not.
    """
    repo = tmp_path_factory.mktemp("fleetform-template") / "fleetform"
    shutil.copytree(ROOT, repo, ignore=_NOT_TEMPLATE, symlinks=True)
    init_repo(repo)
    commit_all(repo, "fleetform template")
    git(repo, "tag", TEMPLATE_TAG)
    return repo


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented text to a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def small_catalog(write: Callable[[str, str], Path]) -> Path:
    return write("catalog.yaml", SMALL_CATALOG)


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run the fleetform CLI in-process, stdout and stderr kept apart."""

    def _run(*args: str | Path) -> Result:
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return _run


def engine_unusable(reason: str) -> NoReturn:
    """Fail an engine test with the reason; skip it only when the person running the tests
    said so with FLEETFORM_REQUIRE_ENGINE=0 (a machine where no engine can be installed)."""
    message = f"no usable Docker engine for the engine tests: {reason}"
    if REQUIRE_ENGINE:
        pytest.fail(f"{message} (FLEETFORM_REQUIRE_ENGINE=0 skips these tests instead)")
    pytest.skip(f"{message}; skipped as asked by FLEETFORM_REQUIRE_ENGINE=0")


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """The engine of DOCKER_HOST (default socket), with Compose and a static busybox."""
    # Imported here: the engine modules load the Docker SDK, which most tests do not need.
    from generator.engine import EngineUnavailableError, compose_binary, connect
    from generator.errors import ToolMissingError
    from generator.standin import BusyboxMissingError, static_busybox

    try:
        client = connect()
        compose_binary()
        static_busybox()
    except (EngineUnavailableError, ToolMissingError, BusyboxMissingError) as exc:
        engine_unusable(str(exc))
    yield client
    client.close()
