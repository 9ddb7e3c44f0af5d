"""`fleetform generate` across the whole bundled catalog, with real Copier and real files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from generator.catalog.validation import open_catalog
from tests.helpers import BUNDLED_CATALOG, TEMPLATE_TAG, catalog_at, commit_all, git

GENERATED = sorted(s.id for s in open_catalog(BUNDLED_CATALOG).catalog.generated_services())


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def first_generation(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Result]:
    """Every generated service of the bundled catalog, rendered once into a workspace."""
    from click.testing import CliRunner

    from generator.cli import cli

    base = tmp_path_factory.mktemp("fleet")
    catalog = catalog_at(template_repo, base / "catalog.yaml")
    workspace = base / "workspace"
    result = CliRunner().invoke(
        cli, ["generate", "-c", str(catalog), "-w", str(workspace), "--jobs", "2"]
    )
    return catalog, workspace, result


def test_generate_renders_every_generated_service(
    first_generation: tuple[Path, Path, Result], template_repo: Path
) -> None:
    catalog_path, workspace, result = first_generation
    assert result.exit_code == 0, result.output
    catalog = open_catalog(catalog_path).catalog
    assert (
        result.stdout.splitlines()[-1] == f"{len(GENERATED)} service(s): {len(GENERATED)} created"
    )
    for sid in GENERATED:
        repo = workspace / catalog.services[sid].repo
        answers = yaml.safe_load((repo / ".copier-answers.yml").read_text())
        assert (answers["service_name"], answers["_commit"]) == (sid, TEMPLATE_TAG)
        assert answers["_src_path"] == str(template_repo)
    # image and ddev services are catalogued only
    assert not (workspace / "postgres").exists()
    assert not any(p.name == "llm-platform" for p in workspace.rglob("*"))


def test_a_second_run_changes_no_byte_and_says_so(
    first_generation: tuple[Path, Path, Result], run: Callable[..., Result]
) -> None:
    catalog, workspace, _ = first_generation
    before = snapshot(workspace)
    again = run("generate", "-c", catalog, "-w", workspace, "--jobs", "2")
    assert again.exit_code == 0
    assert again.stdout.splitlines()[-1] == (
        f"{len(GENERATED)} service(s): {len(GENERATED)} unchanged"
        " (nothing to do: every repository matches the catalog)"
    )
    assert snapshot(workspace) == before


def generate_one_into(
    run: Callable[..., Result], catalog: Path, workspace: Path, *args: str
) -> Result:
    return run("generate", "-c", catalog, "-w", workspace, "agent-chat", *args)


@pytest.fixture
def one_repo(template_repo: Path, tmp_path: Path, run: Callable[..., Result]) -> tuple[Path, Path]:
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    workspace = tmp_path / "ws"
    assert generate_one_into(run, catalog, workspace).exit_code == 0
    return catalog, workspace / "common_npm" / "agent-chat"


def test_dry_run_writes_nothing_and_lists_what_would_change(
    one_repo: tuple[Path, Path], run: Callable[..., Result]
) -> None:
    catalog, repo = one_repo
    makefile = repo / "infrastructure" / "Makefile"
    fleetform_wrote = makefile.read_text()
    (repo / "infrastructure" / "docker-compose.yml").unlink()
    before = snapshot(repo.parent.parent)
    result = generate_one_into(run, catalog, repo.parent.parent, "--dry-run", "--diff")
    assert result.exit_code == 0
    assert snapshot(repo.parent.parent) == before
    rendered = len(json.loads((repo / ".fleetform-manifest.json").read_text())["files"])
    assert f"agent-chat  would be updated  1 new, {rendered - 1} unchanged" in result.stdout
    assert "--- /dev/null\n+++ b/common_npm/agent-chat/infrastructure/docker-compose.yml" in (
        result.stdout
    )
    assert makefile.read_text() == fleetform_wrote


def test_files_fleetform_did_not_write_are_refused_then_backed_up(
    one_repo: tuple[Path, Path], run: Callable[..., Result]
) -> None:
    catalog, repo = one_repo
    makefile = repo / "infrastructure" / "Makefile"
    makefile.write_text("# the team's own Makefile\n")
    refused = generate_one_into(run, catalog, repo.parent.parent)
    assert refused.exit_code == 1
    assert (
        "agent-chat: would overwrite files fleetform did not write: infrastructure/Makefile"
        in refused.stdout
    )
    assert makefile.read_text() == "# the team's own Makefile\n"
    backed_up = generate_one_into(run, catalog, repo.parent.parent, "--backup")
    assert backed_up.exit_code == 0, backed_up.stdout
    backup = repo / "infrastructure" / "Makefile.pre-fleetform"
    assert backup.read_text() == "# the team's own Makefile\n"
    assert makefile.read_text() != backup.read_text()


def test_an_existing_repository_without_fleetform_files_is_migrated_safely(
    template_repo: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    """Seed 000's safe migration: existing infrastructure is listed, never replaced."""
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    repo = tmp_path / "ws" / "common_npm" / "agent-chat"
    (repo / "infrastructure").mkdir(parents=True)
    (repo / "infrastructure" / "Dockerfile").write_text("FROM node:18\n")
    (repo / "README.md").write_text("the service\n")
    result = generate_one_into(run, catalog, tmp_path / "ws")
    assert result.exit_code == 1
    assert "did not write: infrastructure/Dockerfile" in result.stdout
    assert sorted(p.name for p in repo.rglob("*") if p.is_file()) == ["Dockerfile", "README.md"]


def test_a_failed_render_leaves_the_repository_untouched(
    template_repo: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    """A template that breaks for one service: that repository keeps every byte, others go on."""
    broken = tmp_path / "broken-template"
    shutil.copytree(template_repo, broken, symlinks=True)
    catalog = catalog_at(broken, tmp_path / "catalog.yaml")
    workspace = tmp_path / "ws"
    assert run("generate", "-c", catalog, "-w", workspace, "agent-chat", "agent-ops").exit_code == 0
    dockerfile = broken / "template" / "infrastructure" / "Dockerfile.jinja"
    dockerfile.write_text(
        "{% if service_name == 'agent-chat' %}{{ no_such_function() }}{% endif %}\n"
        + dockerfile.read_text()
        + "# v2\n"
    )
    commit_all(broken, "break the template for agent-chat")
    git(broken, "tag", "-f", TEMPLATE_TAG)
    before = snapshot(workspace / "common_npm" / "agent-chat")
    result = run("generate", "-c", catalog, "-w", workspace, "agent-chat", "agent-ops")
    assert result.exit_code == 1
    assert "agent-chat  failed" in result.stdout
    assert "agent-ops   updated  " in result.stdout
    assert "agent-chat: service 'agent-chat': render failed: UndefinedError" in result.stdout
    assert snapshot(workspace / "common_npm" / "agent-chat") == before
    assert (
        (workspace / "common_npm" / "agent-ops" / "infrastructure" / "Dockerfile")
        .read_text()
        .endswith("# v2\n")
    )
    leftovers = [p.name for p in (workspace / "common_npm").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_bad_answers_write_nothing_anywhere(
    template_repo: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(
        BUNDLED_CATALOG.read_text().replace(
            "    description: Conversational front door for agents.",
            "    description: Conversational {{ front door }}",
        )
    )
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml", source=source)
    result = run("generate", "-c", catalog, "-w", tmp_path / "ws")
    assert result.exit_code == 2
    assert "services.agent-chat.description: 'Conversational {{ front door }}' is not accepted" in (
        result.stderr
    )
    assert not (tmp_path / "ws").exists()


def test_generate_needs_a_destination(run: Callable[..., Result], small_catalog: Path) -> None:
    result = run("generate", "-c", small_catalog)
    assert result.exit_code == 2
    assert "give --workspace WORKSPACE or --out OUT" in result.stderr


def test_a_relative_workspace_or_preview_folder_works(
    template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., Result]
) -> None:
    """`make generate` passes `-o build/services`: Copier and git run elsewhere, so every
    path fleetform hands them (its temporary folder included) must be absolute."""
    catalog_at(template_repo, tmp_path / "catalog.yaml")
    monkeypatch.chdir(tmp_path)
    for flag, folder in (("-o", "out"), ("-w", "ws")):
        result = run("generate", "-c", "catalog.yaml", flag, folder, "agent-chat", "--jobs", "1")
        assert result.exit_code == 0, result.output
        assert (
            tmp_path / folder / "common_npm" / "agent-chat" / "infrastructure" / "Dockerfile"
        ).is_file()


def test_a_run_with_workers_leaves_the_clones_an_earlier_render_in_this_process_uses(
    template_repo: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    """A library caller renders in its own process (its shared template clone is then the
    process's), runs generate with workers, then renders again in the process: the forked
    workers must not delete the clone they inherited when they end."""
    from generator.fleet.answers import service_answers
    from generator.fleet.render import render_service
    from generator.fleet.template import catalog_template

    path = catalog_at(template_repo, tmp_path / "catalog.yaml")
    catalog = open_catalog(path).catalog
    render_service(
        service_answers(catalog, "agent-chat"), tmp_path / "one", catalog_template(catalog)
    )
    with_workers = run(
        "generate", "-c", path, "-w", tmp_path / "ws2", "--jobs", "2", "agent-chat", "agent-mesh"
    )
    assert with_workers.exit_code == 0, with_workers.output
    again = generate_one_into(run, path, tmp_path / "ws1", "--jobs", "1")
    assert again.exit_code == 0, again.output
