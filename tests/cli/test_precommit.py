"""The published pre-commit hooks, run by the real pre-commit on a temporary repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, git, init_repo

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
