"""Shared fixtures: real files in temporary directories, the real CLI through CliRunner."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.helpers import (
    ROOT,
    SMALL_CATALOG,
    TEMPLATE_TAG,
    commit_all,
    engine_unusable,
    fleetform,
    git,
    init_repo,
)

_NOT_TEMPLATE = shutil.ignore_patterns(
    ".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "node_modules"
)


# The fixtures that reach the one Docker engine: tests using them share host ports, image
# names and the engine's state, so under pytest-xdist they all run on one worker, in order.
_ENGINE_FIXTURES = frozenset({"engine", "clean_engine"})


# A wrapper, so the marks are on the items before any plugin's own hook runs: xdist's worker
# hook reads them to put `@group` on the node ids, which is what its scheduler groups by.
@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """Groups for `pytest -n N --dist loadgroup` (what `make test` runs): the engine tests form
    one group, every other module its own, so a module's fixtures are built once, on one worker.
    Without xdist the marks change nothing."""
    for item in items:
        uses_engine = _ENGINE_FIXTURES & set(getattr(item, "fixturenames", ()))
        group = (
            "engine"
            if uses_engine or item.get_closest_marker("engine")
            else item.nodeid.split("::")[0]
        )
        item.add_marker(pytest.mark.xdist_group(group))
    yield
    # In an xdist worker under loadgroup every node id now ends in `@group`; if a pytest or
    # xdist release stops that, the engine tests would run on two workers at once: stop here.
    if getattr(config.option, "loadgroup", False) and items and "@" not in items[0].nodeid:
        raise pytest.UsageError(
            "pytest-xdist did not apply the xdist_group marks (node ids carry no @group):"
            " see the pytest pin in pyproject.toml"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/<case>/ from the current template (review the diff!)",
    )


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

    return fleetform


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """The engine of DOCKER_HOST (default socket), with Compose and a static busybox."""
    # Imported here: the engine modules load the Docker SDK, which most tests do not need.
    from generator.errors import BusyboxMissingError, EngineUnavailableError, ToolMissingError
    from generator.stack.engine import compose_binary, connect
    from generator.stack.standin.images import static_busybox

    try:
        client = connect()
        compose_binary()
        static_busybox()
    except (EngineUnavailableError, ToolMissingError, BusyboxMissingError) as exc:
        engine_unusable(str(exc))
    yield client
    client.close()
