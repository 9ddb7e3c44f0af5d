"""A service repository whose `.git/config` and hooks run code, through every command that
works in it: generate, update, heal, drift and verify run none of it.

fleetform's own git calls get `generator.git`'s overrides. Copier's (template clones, and in
`update` its `git status`, `diff`, `apply` and index updates) never run in a workspace
repository: `update` hands Copier a scratch clone whose configuration and (empty) hooks are
fleetform's, and Copier's renders of the old and new versions are repositories Copier makes
itself. These tests hold that from the outside: each configured command, each hook, each
filter and diff driver would leave a file in `ran/` naming itself. Copier's git also gets
the environment of fleetform's own (`generator.fleet.copier_git`): a git hook's GIT_DIR and
GIT_INDEX_FILE do not reach it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, catalog_at, commit_all, fleetform, git, init_repo

pytestmark = pytest.mark.slow

SERVICE = "agent-chat"
REPO = "common_npm/agent-chat"
ROLLBACK = "infrastructure/scripts/rollback.sh"
# Every key that names something git runs, as a repository can set it.
COMMANDS = (
    "core.fsmonitor",
    "core.pager",
    "diff.external",
    "filter.evil.clean",
    "filter.evil.smudge",
    "filter.evil.process",
    "diff.evil.textconv",
    "diff.evil.command",
    "merge.evil.driver",
    "core.editor",
    "sequence.editor",
)
HOOKS = (
    "pre-commit",
    "post-commit",
    "post-checkout",
    "post-index-change",
    "reference-transaction",
    "pre-auto-gc",
    "post-rewrite",
)


@dataclass(frozen=True)
class Scene:
    catalog: Path
    workspace: Path
    ran: Path  # where anything the repository configures would leave its mark

    @property
    def repo(self) -> Path:
        return self.workspace / REPO

    def marks(self) -> list[str]:
        return sorted(p.name for p in self.ran.iterdir())


@pytest.fixture(scope="module")
def generated(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile-git")
    catalog = catalog_at(template_repo, base / "catalog.yaml")
    assert fleetform("generate", "-c", catalog, "-w", base / "ws", SERVICE).exit_code == 0
    repo = init_repo(base / "ws" / REPO)
    commit_all(repo, "generated")
    # Drift for heal to heal: a script deleted and an owners' line, committed.
    (repo / ROLLBACK).unlink()
    with (repo / "infrastructure" / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("# the owners' line\n")
    (repo / ".gitattributes").write_text("* filter=evil diff=evil merge=evil\n")
    commit_all(repo, "ours")  # committed before the configuration exists
    return base


def hostile(repo: Path, ran: Path) -> None:
    """Every command key, a hooks path and the repository's own hooks, each leaving a mark."""
    for key in COMMANDS:
        git(repo, "config", key, f"touch {ran}/{key}; cat")
    hooks = repo / ".git" / "evil-hooks"
    hooks.mkdir()
    for name in HOOKS:
        for folder, mark in ((hooks, f"hooksPath-{name}"), (repo / ".git" / "hooks", name)):
            (folder / name).write_text(f"#!/bin/sh\ntouch {ran}/{mark}\n")
            (folder / name).chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    for path in (repo / "infrastructure").rglob("*"):
        if path.is_file():  # stat-dirty: status must read them, through the filter
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


@pytest.fixture
def scene(generated: Path, template_repo: Path, tmp_path: Path) -> Scene:
    shutil.copytree(generated / "ws", tmp_path / "ws", symlinks=True)
    ran = tmp_path / "ran"
    ran.mkdir()
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    scene = Scene(catalog, tmp_path / "ws", ran)
    hostile(scene.repo, ran)
    return scene


def test_the_hostile_configuration_would_run(scene: Scene) -> None:
    """The control: plain git in that repository runs the repository's commands."""
    for args in (("status",), ("diff", "HEAD~1")):
        subprocess.run(["git", *args], cwd=scene.repo, capture_output=True, check=False)
    marks = scene.marks()
    assert "core.fsmonitor" in marks and any(m.startswith(("filter.", "diff.")) for m in marks)


def change_an_answer(catalog: Path) -> None:
    text = catalog.read_text()
    catalog.write_text(text.replace("Conversational front door", "The front door", 1))


def test_generate_runs_nothing_the_repository_configures(scene: Scene) -> None:
    change_an_answer(scene.catalog)
    result = fleetform("generate", "-c", scene.catalog, "-w", scene.workspace, SERVICE)
    assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output
    assert scene.marks() == []


def test_heal_drift_and_verify_run_nothing_the_repository_configures(scene: Scene) -> None:
    for command in ("drift", "heal"):
        result = fleetform(command, "-c", scene.catalog, "-w", scene.workspace, SERVICE)
        assert result.exit_code in (0, 1) and "Traceback" not in result.output, result.output
    assert (scene.repo / ROLLBACK).is_file(), "heal brought the script back"
    verify = fleetform("verify", scene.repo)
    assert "Traceback" not in verify.output, verify.output
    assert scene.marks() == []


def test_update_runs_nothing_the_repository_configures_even_started_from_a_git_hook(
    scene: Scene, tmp_path: Path
) -> None:
    """Copier's update runs (an answer changed) and its result is applied, in a real process
    started as a git hook starts one: GIT_DIR and GIT_INDEX_FILE naming the hook's own
    repository. Copier's git, started by plumbum with the environment as it was, once wrote
    the rendered files into that index (`generator.fleet.copier_git`)."""
    outer = init_repo(tmp_path / "outer")
    (outer / "theirs.txt").write_text("the hook's repository\n")
    git(outer, "add", "theirs.txt")
    index = (outer / ".git" / "index").read_bytes()
    change_an_answer(scene.catalog)
    hook = {"GIT_DIR": str(outer / ".git"), "GIT_INDEX_FILE": str(outer / ".git" / "index")}
    argv = [sys.executable, "-m", "generator", "update", "-c", str(scene.catalog)]
    result = subprocess.run(
        [*argv, "-w", str(scene.workspace), "-j", "1", SERVICE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **hook},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (outer / ".git" / "index").read_bytes() == index
    assert "The front door" in (scene.repo / "infrastructure/helm/Chart.yaml").read_text()
    assert scene.marks() == []
