"""The published pre-commit hooks, run by the real pre-commit on a temporary repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.fleet.ports_snapshot import SNAPSHOT
from tests.helpers import ROOT, catalog_at, commit_all, fleetform, git, init_repo

pytestmark = pytest.mark.slow  # real pre-commit, its own venv

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


@pytest.fixture
def hook_repo(template_repo: Path) -> tuple[Path, str]:
    return template_repo, git(template_repo, "rev-parse", "HEAD")


def run_hooks(
    service: Path, hook_repo: tuple[Path, str], home: Path
) -> subprocess.CompletedProcess[str]:
    repo, rev = hook_repo
    (service / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo}\n    rev: {rev}\n    hooks:\n"
        "      - id: fleetform-validate\n      - id: fleetform-ports\n",
        encoding="utf-8",
    )
    git(service, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--all-files", "--color", "never"],
        cwd=service,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_hooks_pass_then_catch_a_port_collision(
    tmp_path: Path, hook_repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("pre-commit-home")
    service = tmp_path / "platform"
    init_repo(service)
    shutil.copy(ROOT / "tests" / "conftest.py", service / "unrelated.py")
    (service / "catalog.yaml").write_text(
        'version: 1\nname: demo\ngroups:\n  apps: {ports: "3000-3099", cluster: services}\n'
        "services:\n  api: {group: apps, runtime: node, port: 3000}\n",
        encoding="utf-8",
    )
    compose = service / "docker-compose.yml"
    compose.write_text("services:\n  api:\n    ports: ['3000:3000']\n", encoding="utf-8")
    clean = run_hooks(service, hook_repo, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "fleetform validate" in clean.stdout and "Passed" in clean.stdout

    compose.write_text(
        "services:\n  api:\n    ports: ['3000:3000']\n  cache:\n    ports: ['3000:6379']\n",
        encoding="utf-8",
    )
    broken = run_hooks(service, hook_repo, home)
    assert broken.returncode == 1
    assert (
        "docker-compose.yml:5:13: error: port 3000/tcp is claimed more than once:"
        " api (catalog.yaml:6:43), cache (docker-compose.yml:5:13)"
    ) in broken.stdout


# A small fleet: two generated services and a database, each on a port of its own.
FLEET = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3099", cluster: services}
  data: {ports: "6000-6099", cluster: core}
services:
  api: {group: apps, runtime: node, port: 3000, depends_on: [db]}
  worker: {group: apps, runtime: python, port: 3001}
  db: {group: data, runtime: image, image: "postgres:16-alpine", port: 6000, container_port: 5432}
"""
COMPOSE = "infrastructure/docker-compose.yml"


def test_the_ports_hook_holds_a_generated_repository_against_the_fleet(
    tmp_path: Path,
    hook_repo: tuple[Path, str],
    template_repo: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """No catalog in a service repository: the hook (same id, no arguments) checks the compose
    file against the repository's snapshot of the fleet's ports. A port change regenerated
    from the catalog passes; another service's port is refused where it is published."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    workspace = tmp_path / "ws"
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml", text=FLEET)
    assert fleetform("generate", "-c", catalog, "-w", workspace, "api").exit_code == 0
    service = workspace / "api"
    init_repo(service)
    commit_all(service, "generated")
    assert not (service / "catalog.yaml").exists()
    first = run_hooks(service, hook_repo, home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"fleetform ports check.*Passed", first.stdout), first.stdout

    # The catalog moves api to 3005; the repository is regenerated: compose file and snapshot.
    moved = catalog_at(template_repo, tmp_path / "moved.yaml", text=FLEET.replace("3000", "3005"))
    assert fleetform("generate", "-c", moved, "-w", workspace, "api").exit_code == 0
    compose = service / COMPOSE
    assert '"127.0.0.1:3005:3005/tcp"' in compose.read_text(encoding="utf-8")
    regenerated = run_hooks(service, hook_repo, home)
    assert regenerated.returncode == 0, regenerated.stdout + regenerated.stderr

    # An owner publishes api on worker's port: refused at the entry, naming worker.
    text = compose.read_text(encoding="utf-8")
    compose.write_text(
        text.replace('"127.0.0.1:3005:3005/tcp"', '"127.0.0.1:3001:3005/tcp"'), encoding="utf-8"
    )
    line = next(n for n, s in enumerate(compose.read_text().splitlines(), 1) if ":3001:" in s)
    col = compose.read_text().splitlines()[line - 1].index('"') + 1
    refused = run_hooks(service, hook_repo, home)
    assert refused.returncode == 1, refused.stdout
    worker_entry = next(
        n
        for n, s in enumerate((service / SNAPSHOT).read_text().splitlines(), 1)
        if '"service": "worker"' in s
    )
    assert (
        f"{COMPOSE}:{line}:{col}: error: port 3001/tcp is claimed more than once:"
        f" worker ({SNAPSHOT}:{worker_entry}:5), api ({COMPOSE}:{line}:{col})"
    ) in refused.stdout, refused.stdout
