"""The pipeline `fleetform ci` writes, run end to end by gitlab-ci-local (shell executor).

A catalog repository (a real git repository) holds a catalog of three generated services
whose remotes are bare repositories on disk that record every push and its push options, as
GitLab receives them (`tests/remotes.py`), and the `.gitlab-ci.yml` of `fleetform ci
--shards 2`. gitlab-ci-local (npm, on Node 22: `scripts/test-deps.sh` installs both into
node_modules/) runs it with the variables a pipeline gets, fleetform on PATH from this venv
(`FLEETFORM_REQUIREMENT` empty: a runner image that carries fleetform), each job in its own
build folder (`--shell-isolation`), so ledgers travel between jobs only as artifacts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.catalog.validation import open_catalog
from generator.fleet.campaign.shard import shard_of
from tests.helpers import ROOT, commit_all, fleetform, git, init_repo
from tests.remotes import branches, catalog_with_remotes, publish_workspace, pushes, remote_of

pytestmark = pytest.mark.slow  # two pipelines, each job a fleetform process or three

GITLAB_CI_LOCAL = ROOT / "node_modules" / ".bin" / "gitlab-ci-local"
NODE = ROOT / "node_modules" / ".bin" / "node"
CAMPAIGN = "owners"
SERVICES = {"api": "apps/api", "worker": "apps/worker", "chat": "apps/chat"}
REPOS = list(SERVICES.values())

FLEET = """\
version: 1
name: ci-demo
defaults:
  owner: team-a
groups:
  apps: {ports: "3000-3009", cluster: services}
  data: {ports: "6000-6099", cluster: core}
services:
  api: {group: apps, runtime: node, port: 3000, repo: apps/api, depends_on: [cache]}
  worker: {group: apps, runtime: python, port: 3001, repo: apps/worker}
  chat: {group: apps, runtime: node, port: 3002, repo: apps/chat, depends_on: [api]}
  cache:
    group: data
    runtime: image
    image: redis:7-alpine
    port: 6000
    container_port: 6379
"""


@pytest.fixture(scope="module")
def catalog_repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalog repository, its services published at the first owner, and the catalog
    then changed (a new owner): what a campaign rolls out to every repository."""
    if not GITLAB_CI_LOCAL.exists() or not NODE.exists():
        pytest.fail("gitlab-ci-local is not in node_modules/: run scripts/test-deps.sh")
    base = tmp_path_factory.mktemp("ci-pipeline")
    repo = init_repo(base / "fleet-catalog")
    catalog = catalog_with_remotes(
        template_repo, repo / "catalog.yaml", base / "remotes", text=FLEET
    )
    seeded = fleetform("generate", "-c", catalog, "-w", base / "seed", "-q")
    assert seeded.exit_code == 0, seeded.output
    publish_workspace(open_catalog(catalog).catalog, base / "seed")
    catalog.write_text(catalog.read_text("utf-8").replace("team-a", "team-b"), "utf-8")
    written = fleetform("ci", "-c", catalog, "--shards", "2", "-o", repo / ".gitlab-ci.yml")
    assert written.exit_code == 0, written.output
    # gitlab-ci-local reads the project's path from origin; its state stays out of git.
    (repo / ".gitignore").write_text(".gitlab-ci-local/\n", "utf-8")
    git(repo, "remote", "add", "origin", "git@gitlab.example.com:platform/fleet-catalog.git")
    commit_all(repo, "catalog, owners moved to team-b; its pipeline")
    return repo


def gitlab_ci_local(repo: Path, home: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    """The whole pipeline of `repo` for a pipeline source and variables, as GitLab would run
    it, every job on this machine's shell; HOME is the test's, so nothing touches the user's."""
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": os.pathsep.join(
            [str(NODE.parent), str(Path(sys.executable).parent), os.environ["PATH"]]
        ),
        "NO_COLOR": "1",
    }
    argv = [
        str(NODE),
        str(GITLAB_CI_LOCAL),
        "--force-shell-executor",
        "--shell-isolation",
        "--no-color",
        "--ignore-predefined-vars",
        "CI_PIPELINE_SOURCE",
        "--variable",
        "FLEETFORM_REQUIREMENT=",
        *(arg for variable in variables for arg in ("--variable", variable)),
    ]
    return subprocess.run(
        argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_a_campaign_pipeline_pushes_one_branch_per_repository_and_reports_them_all(
    catalog_repo: Path, tmp_path: Path
) -> None:
    run = gitlab_ci_local(
        catalog_repo, tmp_path / "home", "CI_PIPELINE_SOURCE=web", f"CAMPAIGN={CAMPAIGN}"
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    for job in ("plan", "campaign: [1/2]", "campaign: [2/2]", "report"):
        assert f"PASS  {job}" in log, log
    # Each shard job pushed its own share of the fleet (both non-empty here), none twice.
    for index in (1, 2):
        share = sorted(s for s in SERVICES if shard_of(s, 2) == index)
        assert share, "the services chosen no longer fill both shards"
        pushed = sorted(
            line.split()[3]
            for line in log.splitlines()
            if line.startswith(f"campaign: [{index}/2] > ") and line.split()[4:5] == ["pushed"]
        )
        assert pushed == share, log
    for job in ("validate", "ports", "dry-run"):  # a merge request's jobs
        assert f"PASS  {job}" not in log, log

    remotes = catalog_repo.parent / "remotes"
    for repo in REPOS:
        remote = remote_of(remotes, repo)
        assert set(branches(remote)) == {"main", f"fleetform/{CAMPAIGN}"}, repo
        [push] = pushes(remote)
        assert push.accepted
        assert [u.ref for u in push.updates] == [f"refs/heads/fleetform/{CAMPAIGN}"]
        assert "merge_request.create" in push.options
        assert push.option("merge_request.target") == ["main"]
        assert push.option("merge_request.label") == ["fleetform"]
        assert "merge_request.remove_source_branch" in push.options
        assert push.option("merge_request.title")[0].startswith("catalog: ")

    # The report job's Markdown names every repository, from both shards' ledgers.
    report_lines = [line for line in log.splitlines() if line.startswith("report ")]
    report = "\n".join(report_lines)
    for service in SERVICES:
        assert f"| {service} | pushed |" in report, report
    artifact = catalog_repo / ".gitlab-ci-local" / "artifacts" / "report" / "campaign-report.md"
    assert artifact.is_file(), sorted(p.name for p in artifact.parent.parent.iterdir())


def test_a_merge_request_pipeline_checks_and_lists_what_it_would_touch(
    catalog_repo: Path, tmp_path: Path
) -> None:
    remotes = catalog_repo.parent / "remotes"
    before = {repo: branches(remote_of(remotes, repo)) for repo in REPOS}
    run = gitlab_ci_local(catalog_repo, tmp_path / "home", "CI_PIPELINE_SOURCE=merge_request_event")
    log = run.stdout + run.stderr
    assert run.returncode == 0, log
    for job in ("validate", "ports", "dry-run"):
        assert f"PASS  {job}" in log, log
    for job in ("plan", "campaign", "report"):
        assert f"PASS  {job}" not in log, log
    dry_run = [line for line in log.splitlines() if line.startswith("dry-run ")]
    for service in SERVICES:
        assert any(service in line and "would update" in line for line in dry_run), dry_run
    # Nothing was pushed: a merge request only looks.
    assert {repo: branches(remote_of(remotes, repo)) for repo in REPOS} == before
    shutil.rmtree(tmp_path / "home")
