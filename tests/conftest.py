"""Shared fixtures: real files in temporary directories, the real CLI through CliRunner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

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
