"""The template as a team shares it: one URL every repository records, whoever renders.

Real git remotes: a bare "origin" repository on disk, and two teammates' checkouts of it at
different paths. fleetform runs from a checkout (PYTHONPATH points `generator` at it, so its
template is that checkout) and records the origin URL, reading the checkout as a cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.fleet.recorded import read_recorded
from generator.fleet.template import repository_identity, same_source
from tests.helpers import BUNDLED_CATALOG, TEMPLATE_TAG, catalog_at, commit_all, git, init_repo

SERVICES = ("agent-chat", "ossa")
REPO = "common_npm/agent-chat"


def fleetform_from(checkout: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`fleetform` as that checkout's own code runs it (its template is the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    argv = [sys.executable, "-m", "generator", *(str(a) for a in args)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=checkout, check=False)


@pytest.fixture
def team(template_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """origin (bare, tagged) and two teammates' clones of it."""
    origin = tmp_path / "srv" / "fleetform.git"
    git(tmp_path, "clone", "-q", "--bare", str(template_repo), str(origin))
    alice, bob = tmp_path / "alice" / "fleetform", tmp_path / "bob" / "src" / "fleetform"
    for checkout in (alice, bob):
        git(tmp_path, "clone", "-q", str(origin), str(checkout))
    return origin, alice, bob


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("git@gitlab.example.com:llm/fleetform.git", "https://gitlab.example.com/llm/fleetform"),
        (
            "ssh://git@gitlab.example.com:2222/llm/fleetform.git",
            "git+https://GitLab.example.com/llm/fleetform.git/",
        ),
        ("/srv/fleetform.git", "file:///srv/fleetform.git"),
        ("/srv/fleetform.git", "git+file:///srv/fleetform.git"),
    ],
)
def test_spellings_of_one_repository_are_one_template(a: str, b: str) -> None:
    assert same_source(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://gitlab.example.com/llm/fleetform", "https://gitlab.example.com/llm/other"),
        ("https://gitlab.example.com/llm/fleetform", "https://github.com/llm/fleetform"),
        ("/srv/fleetform.git", "/srv/fleetform"),  # a clone is not its origin
    ],
)
def test_other_repositories_are_other_templates(a: str, b: str) -> None:
    assert repository_identity(a) != repository_identity(b)


def test_teammates_at_other_paths_record_and_follow_the_origin_url(
    team: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    origin, alice, bob = team
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(BUNDLED_CATALOG, catalog)  # no template.src: each teammate's own checkout
    workspace = tmp_path / "ws"
    generated = fleetform_from(alice, "generate", "-c", catalog, "-w", workspace, *SERVICES)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    recorded = read_recorded(workspace / REPO)
    assert recorded.src == str(origin), "repositories record the origin URL, not a checkout"
    assert recorded.commit == TEMPLATE_TAG
    for service in SERVICES:
        commit_all(init_repo(workspace / _repo(service)), "generated")
    drift = fleetform_from(bob, "drift", "-c", catalog, "-w", workspace, *SERVICES)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    # A new release, pushed by alice, fetched by bob: bob updates alice's repositories.
    makefile = alice / "template" / "infrastructure" / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# v2\n")
    commit_all(alice, "v2")
    git(alice, "tag", "v2.0.0")
    git(alice, "push", "-q", "origin", "HEAD", "v2.0.0")
    git(bob, "pull", "-q", "--tags", "origin", "HEAD")
    updated = fleetform_from(
        bob, "update", "-c", catalog, "-w", workspace, "--vcs-ref", "v2.0.0", *SERVICES
    )
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "agent-chat  updated  v1.0.0 -> v2.0.0" in updated.stdout
    assert read_recorded(workspace / REPO).src == str(origin)


def _repo(service: str) -> str:
    return {"agent-chat": REPO, "ossa": "ossa"}[service]


def test_a_checkout_without_origin_refuses_workspace_writes_but_previews(
    team: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, alice, _ = team
    git(alice, "remote", "remove", "origin")
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(BUNDLED_CATALOG, catalog)
    written = fleetform_from(alice, "generate", "-c", catalog, "-w", tmp_path / "ws", "agent-chat")
    assert written.returncode == 2
    assert written.stderr.count("\n") == 1 and "set template.src in the catalog" in written.stderr
    assert not (tmp_path / "ws").exists()
    preview = fleetform_from(alice, "generate", "-c", catalog, "-o", tmp_path / "out", "agent-chat")
    assert preview.returncode == 0, preview.stderr
    assert (tmp_path / "out" / REPO / "infrastructure" / "Dockerfile").is_file()


def test_a_tag_added_after_rendering_is_neither_drift_nor_an_update(
    template_repo: Path, tmp_path: Path
) -> None:
    template = tmp_path / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    (template / "NOTES.md").write_text("an untagged commit after v1.0.0\n")
    head = commit_all(template, "after v1")
    catalog = catalog_at(template, tmp_path / "catalog.yaml", ref=head)
    workspace = tmp_path / "ws"
    from tests.helpers import fleetform

    assert fleetform("generate", "-c", catalog, "-w", workspace, "agent-chat").exit_code == 0
    recorded = read_recorded(workspace / REPO).commit
    assert recorded.startswith("v1.0.0-1-g"), recorded  # git describe of an untagged commit
    commit_all(init_repo(workspace / REPO), "generated")
    git(template, "tag", "v2.0.0")  # the rendered commit becomes a release
    drift = fleetform("drift", "-c", catalog, "-w", workspace, "agent-chat")
    assert drift.exit_code == 0, drift.output
    assert f"v2.0.0 (newest; recorded as {recorded})" in drift.stdout
    update = fleetform(
        "update", "-c", catalog, "-w", workspace, "--vcs-ref", "v2.0.0", "agent-chat"
    )
    assert update.exit_code == 0, update.output
    assert "agent-chat  up to date" in update.stdout
    again = fleetform(
        "generate",
        "-c",
        catalog_at(template, catalog, ref="v2.0.0"),
        "-w",
        tmp_path / "new",
        "agent-chat",
    )
    assert again.exit_code == 0
    assert read_recorded(tmp_path / "new" / REPO).commit == "v2.0.0", (
        "a tagged commit records its tag"
    )


def test_a_dirty_template_is_refused_for_workspaces_and_rendered_in_previews(
    template_repo: Path, tmp_path: Path
) -> None:
    from tests.helpers import fleetform

    template = tmp_path / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    (template / "template" / "notes.txt").write_text("work in progress\n")
    catalog = catalog_at(template, tmp_path / "catalog.yaml")
    refused = fleetform("generate", "-c", catalog, "-w", tmp_path / "ws", "agent-chat")
    assert refused.exit_code == 2
    assert "has uncommitted changes (template/notes.txt)" in refused.stderr
    assert not (tmp_path / "ws").exists()
    preview = fleetform("generate", "-c", catalog, "-o", tmp_path / "out", "agent-chat")
    assert preview.exit_code == 0
    assert "this preview renders them" in preview.stderr


def test_a_bad_ref_is_one_line_once_per_run(template_repo: Path, tmp_path: Path) -> None:
    from tests.helpers import fleetform

    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml", ref="v9.9.9")
    for target in ("-w", "-o"):
        result = fleetform("generate", "-c", catalog, target, tmp_path / target, *SERVICES)
        assert result.exit_code == 2
        assert result.stderr == (
            f"fleetform: error: template {template_repo}: no git revision 'v9.9.9'"
            " (a tag, branch or commit)\n"
        )
    unreachable = (
        catalog_at(tmp_path / "nowhere.git", tmp_path / "catalog.yaml")
        .read_text()
        .replace(str(tmp_path / "nowhere.git"), "https://git.invalid/x/y.git")
    )
    (tmp_path / "catalog.yaml").write_text(unreachable)
    result = fleetform(
        "generate", "-c", tmp_path / "catalog.yaml", "-o", tmp_path / "o2", *SERVICES
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
