"""`fleetform drift`: every generated repository compared with what its recorded template
version renders with the catalog's current answers, on real renders, writing nothing."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.catalog.validation import open_catalog
from generator.fleet.ports_snapshot import SNAPSHOT
from generator.fleet.template import template_version, version_tags
from tests.helpers import (
    BUNDLED_CATALOG,
    catalog_at,
    commit_all,
    fleetform,
    git,
    init_repo,
    summary_row,
)

GENERATED = sorted(s.id for s in open_catalog(BUNDLED_CATALOG).catalog.generated_services())
REPOS = {s.id: s.repo for s in open_catalog(BUNDLED_CATALOG).catalog.generated_services()}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory of this test alone: what drift leaves there is a leak."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return private


@dataclass(frozen=True)
class Workspace:
    template: Path
    catalog: Path
    root: Path


@pytest.fixture(scope="module")
def workspace(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Every generated service rendered at v1.0.0 (the template's newest tag)."""
    base = tmp_path_factory.mktemp("drift")
    catalog = catalog_at(template_repo, base / "catalog.yaml")
    generated = fleetform("generate", "-c", catalog, "-w", base / "ws", "--jobs", "2")
    assert generated.exit_code == 0, generated.output
    return Workspace(template_repo, catalog, base / "ws")


def test_after_generate_every_repository_is_in_sync(
    workspace: Workspace, private_tmp: Path
) -> None:
    before = snapshot(workspace.root)
    result = fleetform("drift", "-c", workspace.catalog, "-w", workspace.root, "--jobs", "2")
    assert result.exit_code == 0, result.output
    for sid in GENERATED:
        assert summary_row(result, sid) == f"{sid} | in sync | v1.0.0 (newest) | -"
    assert result.stdout.splitlines()[-1] == (
        f"{len(GENERATED)} service(s): {len(GENERATED)} in sync"
        " (every repository matches its template version and the catalog)"
    )
    assert snapshot(workspace.root) == before
    assert list(private_tmp.iterdir()) == []  # renders, clones: all removed


def test_a_hand_edit_is_drift_naming_the_file(workspace: Workspace, private_tmp: Path) -> None:
    repo = workspace.root / REPOS["agent-chat"]
    with (repo / "infrastructure" / "Makefile").open("a") as makefile:
        makefile.write("# a target of our own\n")
    # The template hands this file over to the owners (_skip_if_exists): editing it is no drift.
    with (repo / "infrastructure" / "helm" / "values" / "overrides.yaml").open("a") as overrides:
        overrides.write("replicaCount: 3\n")
    before = snapshot(workspace.root)
    result = fleetform("drift", "-c", workspace.catalog, "-w", workspace.root, "agent-chat")
    assert result.exit_code == 1
    # ... and it is counted as the owners' (owned), apart from the one file that differs.
    assert (
        summary_row(result, "agent-chat")
        == "agent-chat | drifted | v1.0.0 (newest) | 1 differ, 1 owned"
    )
    assert "agent-chat: infrastructure/Makefile: edited: not as fleetform wrote it" in result.stdout
    assert snapshot(workspace.root) == before
    assert list(private_tmp.iterdir()) == []


def test_a_catalog_change_is_drift_naming_the_files(workspace: Workspace, tmp_path: Path) -> None:
    text = BUNDLED_CATALOG.read_text(encoding="utf-8")
    assert text.count("    port: 3004\n") == 1
    moved = text.replace("    port: 3004\n", "    port: 3050\n")
    catalog = catalog_at(workspace.template, tmp_path / "catalog.yaml", text=moved)
    result = fleetform("drift", "-c", catalog, "-w", workspace.root, "agent-ops", "ossa")
    assert result.exit_code == 1
    # ossa's own files are as generated; its snapshot of the fleet's ports is not.
    assert summary_row(result, "ossa") == "ossa | drifted | v1.0.0 (newest) | 1 differ"
    assert f"ossa: {SNAPSHOT}: catalog changed since fleetform wrote it" in result.stdout
    assert summary_row(result, "agent-ops").startswith("agent-ops | drifted | v1.0.0 (newest) | ")
    stale = {
        line.split(": ")[1]
        for line in result.stdout.splitlines()
        if line.startswith("agent-ops: ")
        and line.endswith("catalog changed since fleetform wrote it")
    }
    assert {".copier-answers.yml", "infrastructure/docker-compose.yml"} <= stale
    assert "infrastructure/helm/values.yaml" in stale


def test_a_newer_template_tag_is_reported_as_behind(workspace: Workspace, tmp_path: Path) -> None:
    template = tmp_path / "template"
    shutil.copytree(workspace.template, template, symlinks=True)
    catalog = catalog_at(template, tmp_path / "catalog.yaml")
    assert fleetform("generate", "-c", catalog, "-w", tmp_path / "ws", "ossa").exit_code == 0
    (template / "template" / "infrastructure" / "Makefile").write_text("# v2\n")
    commit_all(template, "v2")
    git(template, "tag", "v2.0.0")
    result = fleetform("drift", "-c", catalog, "-w", tmp_path / "ws", "ossa")
    assert result.exit_code == 0  # behind is not drift: `fleetform update` brings it
    assert summary_row(result, "ossa") == "ossa | in sync | v1.0.0 (behind v2.0.0) | -"


def test_missing_and_not_generated_repositories(workspace: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / REPOS["agent-chat"]).mkdir(parents=True)
    (root / REPOS["agent-chat"] / "README.md").write_text("the service\n")
    result = fleetform("drift", "-c", workspace.catalog, "-w", root, "agent-chat", "agent-ops")
    assert result.exit_code == 1
    assert summary_row(result, "agent-chat") == "agent-chat | not generated | - | -"
    assert summary_row(result, "agent-ops") == "agent-ops | missing | - | -"
    assert f"agent-ops: no repository at {root / REPOS['agent-ops']}" in result.stdout
    assert "agent-chat: no .copier-answers.yml: not generated from the template" in result.stdout
    assert result.stdout.splitlines()[-1] == "2 service(s): 1 missing, 1 not generated"


def test_version_tags_sort_as_versions_and_skip_prereleases(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "t")
    (repo / "f").write_text("x\n")
    commit_all(repo, "one")
    for tag in ("v1.9.0", "v1.10.0", "v2.0.0rc1", "latest", "v1.2.0"):
        git(repo, "tag", tag)
    assert version_tags(repo) == ["v1.2.0", "v1.9.0", "v1.10.0"]


def test_a_remote_template_is_not_asked_for_its_tags() -> None:
    version = template_version("https://git.example.com/platform/template.git", "v1.0.0")
    assert (version.behind, version.newest) == (None, None)
    assert version.note == "remote template: newest tag not checked"
