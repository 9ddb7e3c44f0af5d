"""What tests share: paths, the small catalog, real git repositories and the one CLI runner.

Fixtures stay in `tests/conftest.py`; everything a test module imports comes from here.
"""

from __future__ import annotations

import os
import re
import subprocess
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import pytest
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
GOLDEN = TESTS / "golden"
CORPUS = TESTS / "corpus"
FIXTURES = TESTS / "fixtures"
BUNDLED_CATALOG = ROOT / "catalog.yaml"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TEMPLATE_TAG = "v1.0.0"

# The engine tests run wherever the tests run; only FLEETFORM_REQUIRE_ENGINE=0 lets them skip.
REQUIRE_ENGINE = os.environ.get("FLEETFORM_REQUIRE_ENGINE") != "0"

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


def fleetform(*args: str | Path, env: Mapping[str, str] | None = None) -> Result:
    """Run the fleetform CLI in-process, stdout and stderr kept apart.

    An exception that is not click's own exit fails the test with its traceback: fleetform
    must never crash, whatever it is given.
    """
    # Imported here: the CLI module imports the library, and conftest loads before it.
    from generator.cli import cli

    argv = [str(a) for a in args]
    result = CliRunner(env=env).invoke(cli, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"fleetform {' '.join(argv)} crashed:\n{trace}\noutput:\n{result.output}")
    return result


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


def git_state(repo: Path) -> tuple[str, ...]:
    """What git says of a repository's work tree and index (status, staged entries), to
    compare two repositories or one before and after; () where there is no repository."""
    if not (repo / ".git").is_dir():
        return ()
    return tuple(git(repo, *args) for args in (("status", "--porcelain"), ("ls-files", "--stage")))


def replace_line(path: Path, old: str, new: str) -> None:
    """Replace the one line of `path` that is `old` (failing unless exactly one is)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines.count(old) == 1, f"{old!r} is not one line of {path}"
    path.write_text("\n".join(new if line == old else line for line in lines), "utf-8")


def summary_row(result: Result, service: str) -> str:
    """The line of `service` in a fleet command's summary table, columns joined by ` | `."""
    rows = [line for line in result.stdout.splitlines() if line.split("  ")[0] == service]
    assert len(rows) == 1, result.stdout
    return re.sub(r"\s{2,}", " | ", rows[0])


def catalog_at(
    template: Path,
    dest: Path,
    *,
    ref: str = TEMPLATE_TAG,
    text: str | None = None,
    source: Path = BUNDLED_CATALOG,
) -> Path:
    """A catalog (`text`, else the file `source`) taking its template from `template` at `ref`."""
    body = source.read_text(encoding="utf-8") if text is None else text
    dest.write_text(f"{body}\ntemplate:\n  src: {template}\n  ref: {ref}\n", "utf-8")
    return dest


def engine_unusable(reason: str) -> NoReturn:
    """Fail an engine test with the reason; skip it only when the person running the tests
    said so with FLEETFORM_REQUIRE_ENGINE=0 (a machine where no engine can be installed)."""
    message = f"no usable Docker engine for the engine tests: {reason}"
    if REQUIRE_ENGINE:
        pytest.fail(f"{message} (FLEETFORM_REQUIRE_ENGINE=0 skips these tests instead)")
    pytest.skip(f"{message}; skipped as asked by FLEETFORM_REQUIRE_ENGINE=0")
