"""The trust boundary, attacked: repository content must never make fleetform read, write or
delete outside the repository, nor run code it points at.

Every attack is real: tampered manifests and answers files, committed symlinks, hostile
`.git/config`s with fsmonitor and filter drivers, a bare repository committed inside a service
repository. Each test keeps a "treasure" outside the repository and proves it untouched, and
a "marker" that any command run by git would create, and proves it absent.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from generator.fleet.manifest import MANIFEST
from generator.fleet.recorded import ANSWERS_FILE
from tests.helpers import catalog_at, commit_all, fleetform, git, init_repo

SERVICE = "agent-chat"
REPO = "common_npm/agent-chat"
SECRET = b"the operator's secret\n"


@dataclass(frozen=True)
class Scene:
    catalog: Path
    workspace: Path
    repo: Path
    outside: Path  # a directory beside the workspace, holding the treasure
    treasure: Path
    marker: Path  # created by any command a hostile configuration gets git to run

    def generate(self, *args: str) -> Result:
        return fleetform("generate", "-c", self.catalog, "-w", self.workspace, SERVICE, *args)

    def untouched(self) -> None:
        assert self.treasure.read_bytes() == SECRET
        assert sorted(p.name for p in self.outside.iterdir()) == ["treasure"]
        assert not self.marker.exists(), "repository content ran a command"


@pytest.fixture(scope="module")
def generated(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated, committed repository, copied afresh for every test."""
    base = tmp_path_factory.mktemp("attacks")
    catalog = catalog_at(template_repo, base / "catalog.yaml")
    result = fleetform("generate", "-c", catalog, "-w", base / "ws", SERVICE)
    assert result.exit_code == 0, result.output
    init_repo(base / "ws" / REPO)
    commit_all(base / "ws" / REPO, "generated")
    return base


@pytest.fixture
def scene(generated: Path, template_repo: Path, tmp_path: Path) -> Iterator[Scene]:
    shutil.copytree(generated / "ws", tmp_path / "ws", symlinks=True)
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "treasure").write_bytes(SECRET)
    yield Scene(
        catalog,
        tmp_path / "ws",
        tmp_path / "ws" / REPO,
        outside,
        outside / "treasure",
        tmp_path / "PWNED",
    )


def tamper_manifest(repo: Path, name: str) -> None:
    manifest = json.loads((repo / MANIFEST).read_text())
    manifest["files"][name] = "0" * 64
    (repo / MANIFEST).write_text(json.dumps(manifest))


# ------------------------------------------------------------------ the manifest


@pytest.mark.parametrize("entry", ["../../../outside/treasure", "ABSOLUTE", ".git/HEAD"])
def test_a_manifest_naming_a_path_outside_refuses_the_repository(scene: Scene, entry: str) -> None:
    name = str(scene.treasure) if entry == "ABSOLUTE" else entry
    tamper_manifest(scene.repo, name)
    head = (scene.repo / ".git" / "HEAD").read_bytes()
    for args in ((), ("--dry-run", "--diff"), ("--backup",)):
        result = scene.generate(*args)
        assert result.exit_code == 1, result.output
        assert f"{SERVICE}  refused" in result.stdout
        assert f"{MANIFEST}: {name!r}" in result.stdout
        assert "nothing was read, written or deleted" in result.stdout
        assert SECRET.decode() not in result.stdout
        scene.untouched()
        assert (scene.repo / ".git" / "HEAD").read_bytes() == head


# ------------------------------------------------------------------ symlinks


def test_a_committed_symlink_is_never_written_through(scene: Scene) -> None:
    dockerfile = scene.repo / "infrastructure" / "Dockerfile"
    dockerfile.unlink()
    dockerfile.symlink_to(scene.treasure)
    refused = scene.generate()
    assert refused.exit_code == 1
    assert "would overwrite files fleetform did not write: infrastructure/Dockerfile" in (
        refused.stdout
    )
    diff = scene.generate("--dry-run", "--diff")
    assert SECRET.decode() not in diff.stdout, "the link's target was read"
    scene.untouched()
    backed_up = scene.generate("--backup")
    assert backed_up.exit_code == 0, backed_up.output
    scene.untouched()
    assert not dockerfile.is_symlink() and dockerfile.read_text().startswith("#")
    backup = dockerfile.with_name("Dockerfile.pre-fleetform")
    assert backup.is_symlink() and backup.readlink() == scene.treasure


def test_a_directory_that_is_a_link_out_of_the_repository_refuses_it(scene: Scene) -> None:
    scripts = scene.repo / "infrastructure" / "scripts"
    shutil.rmtree(scripts)
    scripts.symlink_to(scene.outside, target_is_directory=True)
    for args in ((), ("--backup",), ("--dry-run", "--diff")):
        result = scene.generate(*args)
        assert result.exit_code == 1, result.output
        assert "goes through the symlink infrastructure/scripts" in result.stdout
        scene.untouched()


def test_a_link_where_fleetform_used_to_stage_is_replaced_never_followed(scene: Scene) -> None:
    """Earlier fleetform versions staged `<file>.fleetform-new` beside each file."""
    staged = scene.repo / "infrastructure" / "Makefile.fleetform-new"
    staged.symlink_to(scene.treasure)
    (scene.repo / "infrastructure" / "Makefile").write_text("edited by fleetform's rival\n")
    assert scene.generate("--backup").exit_code == 0
    scene.untouched()


def test_a_repository_directory_that_is_a_link_out_of_the_workspace_is_refused(
    scene: Scene,
) -> None:
    moved = scene.outside / "agent-chat"
    shutil.move(scene.repo, moved)
    scene.repo.symlink_to(moved, target_is_directory=True)
    before = sorted(p.relative_to(moved).as_posix() for p in moved.rglob("*"))
    for command in ("generate", "update", "drift"):
        result = fleetform(command, "-c", scene.catalog, "-w", scene.workspace, SERVICE)
        assert result.exit_code == 1, result.output
        assert f"workspace: {REPO!r} is a symlink" in result.stdout, command
    assert sorted(p.relative_to(moved).as_posix() for p in moved.rglob("*")) == before
    assert scene.treasure.read_bytes() == SECRET


def test_an_answers_file_that_is_a_link_is_not_read(scene: Scene) -> None:
    answers = scene.repo / ANSWERS_FILE
    answers.unlink()
    answers.symlink_to(scene.treasure)
    commit_all(scene.repo, "answers as a link")
    for command in ("update", "drift"):
        result = fleetform(command, "-c", scene.catalog, "-w", scene.workspace, SERVICE)
        assert result.exit_code == 1, result.output
        assert f"{ANSWERS_FILE}: is not a regular file" in result.stdout
        assert SECRET.decode() not in result.output
    scene.untouched()


# ------------------------------------------------------------------ no foreign code


def hostile_config(repo: Path, marker: Path) -> None:
    """fsmonitor, a filter driver for every file and a diff driver: each would run `touch`."""
    git(repo, "config", "core.fsmonitor", f"touch {marker}; false")
    git(repo, "config", "filter.evil.clean", f"touch {marker}; cat")
    git(repo, "config", "filter.evil.smudge", f"touch {marker}; cat")
    git(repo, "config", "filter.evil.process", f"touch {marker}")
    git(repo, "config", "diff.evil.textconv", f"touch {marker}; cat")
    git(repo, "config", "core.pager", f"touch {marker}; cat")
    hooks = repo / ".git" / "hooks"
    for hook in ("post-checkout", "post-index-change", "reference-transaction", "post-commit"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)


def test_a_hostile_git_config_runs_nothing_on_update(scene: Scene) -> None:
    (scene.repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    commit_all(scene.repo, "attributes")  # committed before the configuration exists
    hostile_config(scene.repo, scene.marker)
    os.utime(scene.repo / "infrastructure" / "Makefile")  # stat-dirty: status would filter
    # A catalog change, so that the update runs Copier and applies its result.
    text = scene.catalog.read_text()
    scene.catalog.write_text(text.replace("Conversational front door", "The front door", 1))
    for args in (("--dry-run",), ()):
        result = fleetform("update", "-c", scene.catalog, "-w", scene.workspace, SERVICE, *args)
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
        scene.untouched()
    drift = fleetform("drift", "-c", scene.catalog, "-w", scene.workspace, SERVICE)
    assert "Traceback" not in drift.output
    scene.untouched()


def test_drift_never_follows_a_recorded_template_into_a_bare_repository_in_the_repo(
    scene: Scene,
) -> None:
    """A bare repository committed inside the service repository, its config running code:
    the recorded `_src_path` points at it. Both drift and update report and refuse."""
    bare = scene.repo / "vendor" / "template.git"
    git(scene.repo, "init", "-q", "--bare", str(bare))
    git(bare, "config", "core.fsmonitor", f"touch {scene.marker}; false")
    answers = scene.repo / ANSWERS_FILE
    text = answers.read_text()
    recorded = text.split("_src_path: ", 1)[1].split("\n", 1)[0]
    answers.write_text(text.replace(f"_src_path: {recorded}", f"_src_path: {bare}"))
    commit_all(scene.repo, "point at our own template")
    for command in ("drift", "update"):
        result = fleetform(command, "-c", scene.catalog, "-w", scene.workspace, SERVICE)
        assert result.exit_code == 1, result.output
        assert f"made from the template {bare}, but the catalog's template is" in result.stdout
    scene.untouched()


def test_an_alias_bomb_in_the_answers_file_is_refused_at_once(scene: Scene) -> None:
    levels = "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    (scene.repo / ANSWERS_FILE).write_text(
        "_src_path: x\n_commit: v1\na0: &a0 [x, x, x, x, x, x, x, x, x]\n" + levels
    )
    commit_all(scene.repo, "bomb")
    for command in ("update", "drift"):
        result = fleetform(command, "-c", scene.catalog, "-w", scene.workspace, SERVICE)
        assert result.exit_code == 1, result.output
        assert "a YAML alias bomb?" in result.stdout


def test_a_rendered_path_that_is_a_directory_in_the_repository_refuses_it(scene: Scene) -> None:
    dockerfile = scene.repo / "infrastructure" / "Dockerfile"
    dockerfile.unlink()
    dockerfile.mkdir()
    (dockerfile / "kept").write_text("the owners' file\n")
    for args in ((), ("--backup",)):
        result = scene.generate(*args)
        assert result.exit_code == 1, result.output
        assert "'infrastructure/Dockerfile' is a directory in the repository" in result.stdout
        assert (dockerfile / "kept").read_text() == "the owners' file\n"
