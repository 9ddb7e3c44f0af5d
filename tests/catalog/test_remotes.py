"""Remote URL patterns and branch names: what the catalog accepts, and the model it gives."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from generator.catalog.load import load_catalog
from generator.catalog.remotes import branch_problem, pattern_problem
from tests.helpers import BUNDLED_CATALOG

# Every rule of git's refname check, each side of it (git 2.39's `check-ref-format --branch`).
BRANCHES = [
    "main", "develop", "release/2026.1", "feature/a-b_c", "@", "x@", "é", "HEAD/x", "a.b",
    "refs/heads/x", "HEAD", "-x", "-", "a..b", "a..", "a.lock", "a/b.lock/c", "x.lock/y",
    ".a", "a/.b", "a/", "/a", "a//b", "a b", "a\tb", "a~", "a^", "a:b", "a?", "a*", "a[",
    "a\\b", "a@{b", "@{-1}", "a.", "a/b.", "a\x7f", "lock", ".lock", "a.lockx",
]  # fmt: skip


@pytest.mark.parametrize("name", BRANCHES)
def test_branch_names_are_refused_exactly_when_git_refuses_them(name: str, tmp_path: Path) -> None:
    # Outside any repository, so `@{-1}` and `@` cannot resolve to a checked-out branch.
    git = subprocess.run(
        ["git", "check-ref-format", "--branch", name], cwd=tmp_path, capture_output=True
    )
    assert (branch_problem(name) == "") == (git.returncode == 0), (name, branch_problem(name))


@pytest.mark.parametrize(
    "pattern",
    [
        "git@gitlab.example.com:llm-ecosystem/{repo}.git",
        "gitlab.example.com:team/{id}",
        "ssh://git@gitlab.example.com:2222/team/{repo}.git",
        "https://gitlab.example.com/team/{repo}.git",
        "http://[::1]:8080/team/{repo}",
        "file:///srv/git/{repo}.git",
        "/srv/git/{repo}.git",
    ],
)
def test_the_url_forms_a_platform_uses_are_accepted(pattern: str) -> None:
    assert pattern_problem(pattern) == ""


@pytest.mark.parametrize(
    "pattern",
    [
        "ext::sh -c id",
        "ext::{repo}",
        "fd::0",
        "transport::x/{repo}",
        "-u/{repo}",
        "--upload-pack=id:{repo}",
        "ssh://-oProxyCommand=id/{repo}",
        "git@-oProxyCommand=id:{repo}",
        "https://h/{repo} x",
        "https://h/{repo}{",
        "https://h/{Repo}",
        "https://user:token@h/{repo}",
        "ftp://h/{repo}",
        "file://relative/{repo}",
        "relative/{repo}",
        "git@h:-{repo}",
    ],
)
def test_urls_git_would_run_or_misread_are_refused(pattern: str) -> None:
    assert pattern_problem(pattern) != ""


def test_the_model_expands_the_pattern_per_service_and_defaults_the_branch(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "version: 1\nname: demo\n"
        "defaults:\n  remote: 'file:///srv/{repo}.git'\n"
        "groups:\n  apps: {ports: '3000-3099', cluster: services}\n"
        "services:\n"
        "  api: {group: apps, runtime: node, port: 3000, repo: team/api}\n"
        "  web: {group: apps, runtime: node, port: 3001, remote: 'git@h:x/{id}.git',"
        " default_branch: trunk}\n"
        "  db: {group: apps, runtime: image, image: 'postgres:16', port: 3002}\n",
        encoding="utf-8",
    )
    services = load_catalog(catalog).services
    assert (services["api"].remote, services["api"].default_branch) == (
        "file:///srv/team/api.git",
        "main",
    )
    assert (services["web"].remote, services["web"].default_branch) == ("git@h:x/web.git", "trunk")
    assert services["db"].remote is None  # fleetform keeps no repository for it


def test_the_bundled_catalog_names_a_remote_for_every_generated_service() -> None:
    catalog = load_catalog(BUNDLED_CATALOG)
    remotes = {s.id: s.remote for s in catalog.generated_services()}
    assert remotes["agent-chat"] == "git@gitlab.example.com:llm-ecosystem/common_npm/agent-chat.git"
    assert None not in remotes.values()
