"""`fleetform clone`: real bare remotes on disk (tests/remotes.py), real git, the real CLI.

One fleet is seeded per module (generate, then publish each repository to its remote); each
test clones it into a workspace of its own.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from generator.catalog.load import load_catalog
from generator.fleet.campaign.shard import in_shard
from tests.helpers import ROOT, SMALL_CATALOG, catalog_at, commit_all, fleetform, git
from tests.remotes import catalog_with_remotes, commit_of, publish_workspace

SCHEMA = json.loads((ROOT / "schemas" / "fleet-result.schema.json").read_text(encoding="utf-8"))
SERVICES = ("api", "worker")  # SMALL_CATALOG's generated services, repo = id


@dataclass(frozen=True)
class Fleet:
    catalog: Path
    remotes: dict[str, Path]  # service -> bare remote
    seed: Path  # the owners' workspace the remotes were published from


@pytest.fixture(scope="module")
def fleet(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = tmp_path_factory.mktemp("clone")
    catalog = catalog_with_remotes(
        template_repo, base / "catalog.yaml", base / "remotes", text=SMALL_CATALOG
    )
    seed = base / "seed"
    generated = fleetform("generate", "-c", catalog, "-w", seed, "-q")
    assert generated.exit_code == 0, generated.output
    remotes = publish_workspace(load_catalog(catalog), seed)
    assert sorted(remotes) == sorted(SERVICES)
    return Fleet(catalog, remotes, seed)


def push_change(fleet: Fleet, service: str, text: str) -> str:
    """An owner pushes a new commit to the service's default branch: its id."""
    repo = fleet.seed / service
    (repo / "CHANGES.md").write_text(text, encoding="utf-8")
    commit_all(repo, text.strip())
    git(repo, "push", "-q", str(fleet.remotes[service]), "HEAD:refs/heads/main")
    return commit_of(fleet.remotes[service], "main")


def test_clone_clones_every_missing_repository_with_its_remote_as_origin(
    fleet: Fleet, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"  # does not exist yet: clone makes it

    result = fleetform("clone", "-c", fleet.catalog, "-w", workspace, "-j", "2")

    assert result.exit_code == 0, result.output
    for service in SERVICES:
        repo = workspace / service
        assert git(repo, "rev-parse", "HEAD") == commit_of(fleet.remotes[service], "main")
        assert git(repo, "remote", "get-url", "origin") == f"file://{fleet.remotes[service]}"
        assert git(repo, "status", "--porcelain") == ""
        assert f"] {service}: cloned" in result.stderr
    assert "2 service(s): 2 cloned" in result.stdout
    assert list((workspace / ".fleetform" / "stage").iterdir()) == []


def test_the_shards_clones_are_disjoint_and_cover_the_fleet(fleet: Fleet, tmp_path: Path) -> None:
    """`clone --shard I/N` takes the share `campaign run --shard I/N` works on: a CI shard job
    clones only its own repositories, and the N jobs together clone the fleet once."""
    total = 4  # api falls in shard 2 and worker in shard 4: two shards hold none
    cloned: dict[int, set[str]] = {}
    for index in range(1, total + 1):
        workspace = tmp_path / f"shard-{index}"
        result = fleetform(
            "clone", "-c", fleet.catalog, "-w", workspace, "--shard", f"{index}/{total}", "-q"
        )
        assert result.exit_code == 0, result.output
        cloned[index] = {s for s in SERVICES if (workspace / s / ".git").is_dir()}
        assert cloned[index] == set(in_shard(SERVICES, (index, total)))
        assert f"{len(cloned[index])} service(s)" in result.stdout
    assert sorted(s for share in cloned.values() for s in share) == sorted(SERVICES)
    assert [index for index, share in cloned.items() if share] == [2, 4]


def test_clone_into_a_relative_workspace(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = fleetform("clone", "-c", fleet.catalog, "-w", "ws", "-q")

    assert result.exit_code == 0, result.output
    for service in SERVICES:
        assert git(tmp_path / "ws" / service, "rev-parse", "HEAD") == commit_of(
            fleet.remotes[service], "main"
        )


def test_clone_fetches_a_present_repository_and_never_touches_its_work(
    fleet: Fleet, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    assert fleetform("clone", "-c", fleet.catalog, "-w", workspace, "-q").exit_code == 0
    repo = workspace / "api"
    # The owner's work in the clone: a local commit, an uncommitted edit, a staged file.
    (repo / "NOTES.md").write_text("mine\n", encoding="utf-8")
    local = commit_all(repo, "local work")
    (repo / "NOTES.md").write_text("mine, edited\n", encoding="utf-8")
    (repo / "STAGED.md").write_text("staged\n", encoding="utf-8")
    git(repo, "add", "STAGED.md")
    before = (git(repo, "status", "--porcelain"), git(repo, "ls-files", "--stage"))
    pushed = push_change(fleet, "api", "fetched later\n")

    result = fleetform("clone", "-c", fleet.catalog, "-w", workspace, "--format", "json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["command"] == "clone" and report["ok"] is True
    outcomes = {r["service"]: (r["outcome"], r["commit"]) for r in report["repositories"]}
    assert outcomes["api"] == ("fetched", pushed)
    assert git(repo, "rev-parse", "refs/remotes/origin/main") == pushed
    assert git(repo, "rev-parse", "HEAD") == local  # the checked-out branch stays
    assert (git(repo, "status", "--porcelain"), git(repo, "ls-files", "--stage")) == before
    assert (repo / "NOTES.md").read_text(encoding="utf-8") == "mine, edited\n"
    assert not (repo / "CHANGES.md").exists()


def test_clone_refuses_what_is_not_the_catalogs_repository(fleet: Fleet, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    # api: a clone of another remote; worker: a symlink to a repository outside.
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(fleet.remotes["worker"]), str(workspace / "api"))
    git(tmp_path, "clone", "-q", str(fleet.remotes["worker"]), str(other))
    (workspace / "worker").symlink_to(other, target_is_directory=True)
    refs = git(workspace / "api", "for-each-ref")

    result = fleetform("clone", "-c", fleet.catalog, "-w", workspace)

    assert result.exit_code == 1, result.output
    assert "2 service(s): 2 refused" in result.stdout
    assert (
        f"api: {workspace / 'api'}'s origin is {fleet.remotes['worker']}, not the" in result.stdout
    )
    assert "worker: workspace: 'worker' is a symlink; nothing was read" in result.stdout
    assert git(workspace / "api", "for-each-ref") == refs  # not fetched
    assert (workspace / "worker").is_symlink()


def test_clone_refuses_a_directory_that_is_no_repository(fleet: Fleet, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    # What `generate -w` leaves before the owners ever ran `git init`.
    (workspace / "api").mkdir(parents=True)
    (workspace / "api" / "README.md").write_text("not yet a repository\n", encoding="utf-8")

    result = fleetform("clone", "-c", fleet.catalog, "-w", workspace, "api")

    assert result.exit_code == 1, result.output
    assert f"api: {workspace / 'api'} is not a git repository (no .git)" in result.stdout
    assert sorted(p.name for p in (workspace / "api").iterdir()) == ["README.md"]


def test_a_hostile_repository_configuration_runs_nothing_on_fetch(
    fleet: Fleet, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    assert fleetform("clone", "-c", fleet.catalog, "-w", workspace, "-q", "api").exit_code == 0
    repo = workspace / "api"
    ran = tmp_path / "ran"
    ran.mkdir()

    def command(name: str) -> str:
        return f"sh -c 'touch {ran / name}'"

    for key in ("core.fsmonitor", "core.sshCommand", "core.pager", "remote.origin.uploadpack"):
        git(repo, "config", key, command(key))
    git(repo, "config", "alias.fetch", f"!{command('alias')}")
    git(repo, "config", "credential.helper", f"!{command('credential')}")
    for hook in ("reference-transaction", "post-checkout", "post-merge", "pre-auto-gc"):
        path = repo / ".git" / "hooks" / hook
        path.write_text(f"#!/bin/sh\ntouch {ran / hook}\n", encoding="utf-8")
        path.chmod(0o755)
    pushed = push_change(fleet, "api", "hostile fetch\n")

    result = fleetform("clone", "-c", fleet.catalog, "-w", workspace, "api")

    assert result.exit_code == 0, result.output
    assert git(repo, "rev-parse", "refs/remotes/origin/main") == pushed
    assert list(ran.iterdir()) == []


def test_a_repository_rewriting_urls_is_refused_not_fetched(fleet: Fleet, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    assert fleetform("clone", "-c", fleet.catalog, "-w", workspace, "-q", "api").exit_code == 0
    repo = workspace / "api"
    # Through an include: what the repository's config pulls in is its content too.
    decoy = tmp_path / "decoy.git"
    git(tmp_path, "clone", "-q", "--bare", str(fleet.remotes["worker"]), str(decoy))
    (repo / ".git" / "extra.cfg").write_text(
        f'[url "file://{decoy}"]\n\tinsteadOf = file://{fleet.remotes["api"]}\n', encoding="utf-8"
    )
    git(repo, "config", "include.path", "extra.cfg")
    before = git(repo, "for-each-ref")

    result = fleetform("clone", "-c", fleet.catalog, "-w", workspace, "api")

    assert result.exit_code == 1, result.output
    assert "git configuration rewrites URLs (url.file://" in result.stdout
    assert git(repo, "for-each-ref") == before


def test_a_remote_whose_tree_holds_a_git_folder_is_not_cloned(fleet: Fleet, tmp_path: Path) -> None:
    # A commit whose tree has `.git/hooks/post-checkout`: a checkout would plant a hook.
    evil = tmp_path / "evil.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(evil))

    def fed(*args: str, text: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(evil), *args], input=text.encode(), capture_output=True
        )
        return done.stdout.decode().strip()

    tree = fed("hash-object", "-w", "--stdin", text=f"#!/bin/sh\ntouch {tmp_path}/ran\n")
    for entry in ("100755 blob {}\tpost-checkout", "040000 tree {}\thooks", "040000 tree {}\t.git"):
        tree = fed("mktree", text=entry.format(tree) + "\n")
    git(evil, "update-ref", "refs/heads/main", git(evil, "commit-tree", "-m", "evil", tree))
    text = fleet.catalog.read_text(encoding="utf-8").replace(
        "    depends_on: [db, cache]\n", f"    depends_on: [db, cache]\n    remote: {evil}\n"
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(text, encoding="utf-8")
    workspace = tmp_path / "workspace"

    result = fleetform("clone", "-c", catalog, "-w", workspace, "api")

    assert result.exit_code == 1, result.output
    assert "api: git clone: object" in result.stdout and "contains '.git'" in result.stdout
    assert not (workspace / "api").exists() and not (tmp_path / "ran").exists()
    assert list((workspace / ".fleetform" / "stage").iterdir()) == []


def test_failures_and_services_without_a_remote_are_reported(
    fleet: Fleet, template_repo: Path, tmp_path: Path
) -> None:
    # worker's remote does not exist; a catalog without remotes names none for anyone.
    text = fleet.catalog.read_text(encoding="utf-8").replace(
        "    depends_on: [api]\n", "    depends_on: [api]\n    remote: file:///nowhere/worker.git\n"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text(text, encoding="utf-8")
    workspace = tmp_path / "workspace"

    result = fleetform("clone", "-c", broken, "-w", workspace)

    assert result.exit_code == 1, result.output
    assert "worker: git clone: '/nowhere/worker.git' does not appear to be a git repository\n" in (
        result.stdout
    )
    assert not (workspace / "worker").exists()
    assert list((workspace / ".fleetform" / "stage").iterdir()) == []

    plain = catalog_at(template_repo, tmp_path / "plain.yaml", text=SMALL_CATALOG)
    result = fleetform("clone", "-c", plain, "-w", tmp_path / "other")
    assert result.exit_code == 0, result.output
    assert "2 service(s): 2 no remote" in result.stdout
