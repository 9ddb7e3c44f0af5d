"""`fleetform campaign run|status` on a real fleet: real Copier, real bare remotes on disk whose
`pre-receive` hook records every push (its ref updates and `GIT_PUSH_OPTION_*`), as a GitLab
server receives `merge_request.*` push options.

One module-scoped fleet of four repositories, generated at v1.0.0, committed and pushed to its
remote, then cloned into the campaign's workspace; the template gets a v2.0.0 (a line added at
the end of the Makefile, a line of the Dockerfile changed):

- ALPHA changes cleanly;
- BRAVO's owners changed the Dockerfile line v2 changes: a conflict, pushed as a Draft;
- CHARLIE is already at v2 on its default branch: unchanged, no branch;
- DELTA's remote has a `fleetform/v2` branch someone else pushed: refused, never overwritten.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import Result

from generator.catalog.validation import open_catalog
from generator.errors import UsageError
from generator.fleet.campaign.branch import AUTHOR, TRAILER
from generator.fleet.campaign.shard import in_shard, parse_shard, shard_of
from tests.helpers import TEMPLATE_TAG, commit_all, fleetform, git, replace_line
from tests.remotes import (
    PUSH_LOG,
    ZERO,
    RefUpdate,
    accept_pushes,
    catalog_with_remotes,
    publish,
    publish_workspace,
    pushes,
    refuse_pushes,
)

pytestmark = pytest.mark.slow

V2 = "v2.0.0"
CAMPAIGN = "v2"
BRANCH = f"fleetform/{CAMPAIGN}"
ALPHA, BRAVO, CHARLIE, DELTA = "alpha", "bravo", "charlie", "delta"
SERVICES = (ALPHA, BRAVO, CHARLIE, DELTA)
DOCKERFILE = "infrastructure/Dockerfile"
MAKEFILE = "infrastructure/Makefile"
V1_LINE = "# changes here are overwritten by `copier update`."
V2_LINE = "# changes here are overwritten by `copier update` (v2)."
V2_MAKEFILE_LINE = "# v2: a line the template adds at the end"
OWNERS_LINE = "# the owners' own line, where v2 changes it"

CATALOG = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3009", cluster: services}
services:
  alpha: {group: apps, runtime: node, port: 3000}
  bravo: {group: apps, runtime: node, port: 3001}
  charlie: {group: apps, runtime: python, port: 3002}
  delta: {group: apps, runtime: node, port: 3003}
"""


@dataclass(frozen=True)
class Fleet:
    base: Path
    template: Path
    catalog: Path
    workspace: Path
    remotes: dict[str, Path]
    first: Result | None = None  # the module's campaign run with --push


def campaign(fleet: Fleet, *args: str | Path) -> Result:
    return fleetform(
        "campaign", "run", *args, "-c", fleet.catalog, "-w", fleet.workspace, "--vcs-ref", V2
    )


def remote_branch(fleet: Fleet, service: str, branch: str = BRANCH) -> str:
    remote = fleet.remotes[service]
    return git(remote, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")


def make_v2(template: Path) -> None:
    makefile = template / "template" / MAKEFILE
    makefile.write_text(f"{makefile.read_text()}\n{V2_MAKEFILE_LINE}\n", "utf-8")
    replace_line(template / "template" / "infrastructure" / "Dockerfile.jinja", V1_LINE, V2_LINE)
    commit_all(template, "v2")
    git(template, "tag", V2)


@pytest.fixture(scope="module")
def fleet(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = tmp_path_factory.mktemp("campaign")
    template = base / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    catalog = catalog_with_remotes(template, base / "catalog.yaml", base / "remotes", text=CATALOG)
    owners = base / "owners"  # the owners' own repositories, where their commits come from
    generated = fleetform("generate", "-c", catalog, "-w", owners, "--jobs", "2")
    assert generated.exit_code == 0, generated.output
    remotes = publish_workspace(open_catalog(catalog).catalog, owners)
    replace_line(owners / BRAVO / DOCKERFILE, V1_LINE, OWNERS_LINE)
    publish(owners / BRAVO, remotes[BRAVO], message="the owners' Dockerfile line")
    make_v2(template)
    updated = fleetform("update", "-c", catalog, "-w", owners, "--vcs-ref", V2, CHARLIE)
    assert updated.exit_code == 0, updated.output
    publish(owners / CHARLIE, remotes[CHARLIE], message="v2 by hand")
    (owners / DELTA / "NOTES.md").write_text("a teammate's own work\n", "utf-8")
    commit_all(owners / DELTA, "someone's own commit on the campaign branch")
    git(owners / DELTA, "push", "-q", str(remotes[DELTA]), f"HEAD:refs/heads/{BRANCH}")
    for remote in remotes.values():  # the owners' pushes are the fixture's, not the test's
        (remote / PUSH_LOG).unlink(missing_ok=True)
    workspace = base / "workspace"
    cloned = fleetform("clone", "-c", catalog, "-w", workspace, "--jobs", "2")
    assert cloned.exit_code == 0, cloned.output
    made = Fleet(base, template, catalog, workspace, remotes)
    return replace(made, first=campaign(made, CAMPAIGN, "--push", "--jobs", "2"))


def test_each_repository_ends_its_own_way_and_the_run_says_so(fleet: Fleet) -> None:
    assert fleet.first is not None
    out = fleet.first.stdout
    assert fleet.first.exit_code == 1, out + fleet.first.stderr  # a conflict and a refusal
    states = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:5]}
    assert states == {ALPHA: "pushed", BRAVO: "conflict", CHARLIE: "unchanged", DELTA: "refused"}
    assert f"{BRANCH} on the remote holds" in out and "fleetform did not make" in out
    assert "campaign v2: 1 unchanged, 1 pushed, 1 conflict, 1 refused" in out
    # A progress line per repository on stderr.
    assert sorted(line.split("] ")[1] for line in fleet.first.stderr.splitlines()) == [
        f"{ALPHA}: pushed",
        f"{BRAVO}: conflict",
        f"{CHARLIE}: unchanged",
        f"{DELTA}: refused",
    ]


def test_the_pushed_branch_is_one_commit_on_the_default_branch_with_the_update(
    fleet: Fleet,
) -> None:
    remote = fleet.remotes[ALPHA]
    commit = remote_branch(fleet, ALPHA)
    main = git(remote, "rev-parse", "refs/heads/main")
    assert git(remote, "rev-parse", f"{commit}^@") == main  # one parent: the default branch
    assert git(remote, "show", f"{commit}:{MAKEFILE}").endswith(V2_MAKEFILE_LINE)
    assert V2_LINE in git(remote, "show", f"{commit}:{DOCKERFILE}")
    assert f"_commit: {V2}" in git(remote, "show", f"{commit}:.copier-answers.yml")
    changed = git(remote, "diff", "--name-only", main, commit).splitlines()
    assert {DOCKERFILE, MAKEFILE, ".copier-answers.yml"} <= set(changed)
    message = git(remote, "log", "-1", "--format=%B", commit)
    assert message.splitlines()[0] == f"fleetform: {TEMPLATE_TAG} -> {V2}"
    assert f"- {MAKEFILE}" in message and f"{TRAILER}: {CAMPAIGN}" in message
    who = git(remote, "log", "-1", "--format=%an <%ae> %cn <%ce>", commit)
    assert who == f"{AUTHOR[0]} <{AUTHOR[1]}> {AUTHOR[0]} <{AUTHOR[1]}>"


def test_the_push_carries_gitlabs_merge_request_options_once(fleet: Fleet) -> None:
    [record] = pushes(fleet.remotes[ALPHA])
    commit = remote_branch(fleet, ALPHA)
    assert record.accepted and record.updates == (RefUpdate(ZERO, commit, f"refs/heads/{BRANCH}"),)
    title = git(fleet.remotes[ALPHA], "log", "-1", "--format=%s", commit)
    assert title == f"fleetform: {TEMPLATE_TAG} -> {V2}"
    options = list(record.options)
    assert options[:3] == [
        "merge_request.create",
        "merge_request.target=main",
        f"merge_request.title={title}",
    ]
    assert options[4:] == ["merge_request.label=fleetform", "merge_request.remove_source_branch"]
    description = options[3].removeprefix("merge_request.description=")
    assert description.startswith(f"fleetform campaign {CAMPAIGN}: {title}.")
    assert MAKEFILE in description and "\n" not in description


def test_a_conflict_is_pushed_as_a_draft_with_its_markers_and_label(fleet: Fleet) -> None:
    remote = fleet.remotes[BRAVO]
    [record] = pushes(remote)
    options = list(record.options)
    assert record.option("merge_request.title") == [f"Draft: fleetform: {TEMPLATE_TAG} -> {V2}"]
    assert "merge_request.label=fleetform::conflict" in options
    description = next(o for o in options if o.startswith("merge_request.description="))
    assert f"resolve before merging: {DOCKERFILE}" in description
    dockerfile = git(remote, "show", f"{remote_branch(fleet, BRAVO)}:{DOCKERFILE}")
    assert "<<<<<<< before updating" in dockerfile and OWNERS_LINE in dockerfile
    assert V2_LINE in dockerfile


def test_unchanged_gets_no_branch_and_a_foreign_branch_is_never_overwritten(
    fleet: Fleet,
) -> None:
    assert remote_branch(fleet, CHARLIE) == ""
    assert pushes(fleet.remotes[CHARLIE]) == []
    delta = fleet.remotes[DELTA]
    assert git(delta, "log", "-1", "--format=%s", BRANCH) == (
        "someone's own commit on the campaign branch"
    )
    assert pushes(delta) == []


def test_the_workspace_repository_gets_the_branch_and_nothing_else(fleet: Fleet) -> None:
    repo = fleet.workspace / ALPHA
    assert git(repo, "rev-parse", BRANCH) == remote_branch(fleet, ALPHA)
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "HEAD") == git(fleet.remotes[ALPHA], "rev-parse", "main")
    assert not (fleet.workspace / CHARLIE / ".git" / "refs" / "heads" / "fleetform").exists()


def test_a_rerun_skips_what_is_done_and_pushes_nothing_again(fleet: Fleet) -> None:
    before = {sid: pushes(remote) for sid, remote in fleet.remotes.items()}
    again = campaign(fleet, CAMPAIGN, "--push", "--format", "json")
    data = json.loads(again.stdout)
    skipped = {r["service"]: r["skipped"] for r in data["repositories"]}
    # The refused one is looked at again (its cause may be gone); the others are final.
    assert skipped == {ALPHA: True, BRAVO: True, CHARLIE: True, DELTA: False}
    assert {sid: pushes(remote) for sid, remote in fleet.remotes.items()} == before


def test_status_merges_the_ledgers_as_a_table_json_and_markdown(fleet: Fleet) -> None:
    table = fleetform("campaign", "status", CAMPAIGN, "-w", fleet.workspace)
    assert table.exit_code == 1  # a conflict and a refusal
    rows = {line.split()[0]: line.split()[1] for line in table.stdout.splitlines()[1:5]}
    assert rows == {ALPHA: "pushed", BRAVO: "conflict", CHARLIE: "unchanged", DELTA: "refused"}
    data = json.loads(
        fleetform("campaign", "status", CAMPAIGN, "-w", fleet.workspace, "--format", "json").stdout
    )
    alpha = next(r for r in data["repositories"] if r["service"] == ALPHA)
    assert alpha["commit"] == remote_branch(fleet, ALPHA) and alpha["push"] == "created"
    assert data["counts"]["pushed"] == 1
    markdown = fleetform(
        "campaign", "status", CAMPAIGN, "-w", fleet.workspace, "--format", "markdown"
    ).stdout
    assert markdown.startswith(f"## fleetform campaign {CAMPAIGN}\n")
    assert f"| {ALPHA} | pushed | `{alpha['commit'][:12]}` | created |" in markdown


def test_a_moved_base_is_rebuilt_and_pushed_with_lease(fleet: Fleet) -> None:
    owners = fleet.base / "owners" / ALPHA
    old = remote_branch(fleet, ALPHA)
    (owners / "README.md").write_text("the owners moved on\n", "utf-8")
    main = publish(owners, fleet.remotes[ALPHA], message="the owners' next commit")
    again = campaign(fleet, CAMPAIGN, "--push", ALPHA)
    assert again.exit_code == 0, again.stdout + again.stderr
    new = remote_branch(fleet, ALPHA)
    assert new != old and git(fleet.remotes[ALPHA], "rev-parse", f"{new}^@") == main
    record = pushes(fleet.remotes[ALPHA])[-1]
    assert record.updates == (RefUpdate(old, new, f"refs/heads/{BRANCH}"),)
    assert "updated (with lease)" in again.stdout
    assert git(fleet.workspace / ALPHA, "rev-parse", BRANCH) == new


def test_without_push_a_commit_is_made_and_limit_stops_a_canary_wave(fleet: Fleet) -> None:
    canary = campaign(fleet, "canary", "--limit", "1", ALPHA, BRAVO)
    assert canary.exit_code in (0, 1), canary.stdout + canary.stderr
    assert f"stopped at --limit: 1 repository not started: {BRAVO} (rerun" in canary.stdout
    assert "nothing pushed: rerun with --push" in canary.stdout
    assert git(fleet.workspace / ALPHA, "rev-parse", "--verify", "-q", "fleetform/canary")
    assert remote_branch(fleet, ALPHA, "fleetform/canary") == ""
    rest = campaign(fleet, "canary", ALPHA, BRAVO, "--format", "json")
    states = {
        r["service"]: (r["state"], r["skipped"]) for r in json.loads(rest.stdout)["repositories"]
    }
    assert states == {ALPHA: ("committed", True), BRAVO: ("conflict", False)}
    # Pushed after the look: the very commit that was looked at.
    looked_at = git(fleet.workspace / ALPHA, "rev-parse", "fleetform/canary")
    pushed = campaign(fleet, "canary", "--push", ALPHA)
    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    assert remote_branch(fleet, ALPHA, "fleetform/canary") == looked_at


def test_shards_split_the_fleet_with_no_overlap_and_nothing_left_out(fleet: Fleet) -> None:
    ids = [f"service-{i}" for i in range(200)] + list(SERVICES)
    for total in (1, 2, 3, 4, 7):
        shares = [in_shard(ids, (i, total)) for i in range(1, total + 1)]
        assert sorted(sid for share in shares for sid in share) == sorted(ids)
    assert shard_of(ALPHA, 4) == shard_of(ALPHA, 4)  # no salt: the same in every job
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "4", "a/b"):
        with pytest.raises(UsageError):
            parse_shard(bad)
    # Run as CI runs it: each shard its own ledger, and status merges them.
    runs = [campaign(fleet, "shards", "--shard", f"{i}/2", CHARLIE, DELTA) for i in (1, 2)]
    ledgers = sorted((fleet.workspace / ".fleetform" / "campaigns" / "shards").glob("*.json"))
    assert [p.name for p in ledgers] == ["ledger-1-of-2.json", "ledger-2-of-2.json"]
    seen = [row.split()[0] for run in runs for row in run.stdout.splitlines()[1:] if row]
    seen = [sid for sid in seen if sid in SERVICES]
    assert sorted(seen) == [CHARLIE, DELTA]
    status = fleetform(
        "campaign",
        "status",
        "shards",
        *(arg for p in ledgers for arg in ("--ledger", p)),
        "--format",
        "json",
    )
    assert sorted(r["service"] for r in json.loads(status.stdout)["repositories"]) == [
        CHARLIE,
        DELTA,
    ]


def test_a_workspace_repository_of_another_remote_is_refused(fleet: Fleet) -> None:
    repo = fleet.workspace / CHARLIE
    git(repo, "remote", "set-url", "origin", str(fleet.remotes[ALPHA]))
    try:
        refused = campaign(fleet, "foreign", "--push", CHARLIE)
    finally:
        git(repo, "remote", "set-url", "origin", str(fleet.remotes[CHARLIE]))
    assert refused.exit_code == 1
    assert f"its origin is {fleet.remotes[ALPHA]}, not the catalog's remote" in refused.stdout
    assert remote_branch(fleet, ALPHA, "fleetform/foreign") == ""


@pytest.mark.parametrize("name", ["../x", "a b", "x.lock", "a..b", "fleetform/x", ""])
def test_a_campaign_name_that_cannot_name_a_branch_is_refused(fleet: Fleet, name: str) -> None:
    result = campaign(fleet, name)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"fleetform: error: campaign name {name!r}")
    assert len(result.stderr.splitlines()) == 1


def test_what_the_workspace_repository_configures_takes_no_part(fleet: Fleet) -> None:
    """Its config redirects the remote (insteadOf, pushurl), names an fsmonitor command and
    has hooks: the push still goes to the catalog's remote, nothing it names runs."""
    repo = fleet.workspace / ALPHA
    config = repo / ".git" / "config"
    saved = config.read_bytes()
    evil = fleet.base / "evil.git"
    git(fleet.base, "init", "-q", "--bare", str(evil))
    marker = fleet.base / "PWNED"
    real = f"file://{fleet.remotes[ALPHA]}"
    hook = repo / ".git" / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n", "utf-8")
    hook.chmod(0o755)
    git(repo, "config", f"url.file://{evil}.insteadOf", real)
    git(repo, "config", "remote.origin.pushurl", f"file://{evil}")
    git(repo, "config", "core.fsmonitor", f"touch {marker}; false")
    try:
        result = campaign(fleet, "attack", "--push", ALPHA)
    finally:
        config.write_bytes(saved)
        hook.unlink()
    assert result.exit_code == 0, result.stdout + result.stderr
    pushed = remote_branch(fleet, ALPHA, "fleetform/attack")
    assert pushed and pushes(fleet.remotes[ALPHA])[-1].updates[0].new == pushed
    assert git(evil, "for-each-ref") == "" and not marker.exists()
    assert git(repo, "rev-parse", "fleetform/attack") == pushed


def test_a_refused_push_fails_the_repository_and_no_credential_reaches_the_ledger(
    fleet: Fleet,
) -> None:
    secret = "glpat-not-for-the-ledger"
    remote = fleet.remotes[ALPHA]
    refuse_pushes(remote, f"GitLab: denied for https://fleetform:{secret}@gitlab.example.com/alpha")
    try:
        result = campaign(fleet, "denied", "--push", ALPHA)
    finally:
        accept_pushes(remote)
    assert result.exit_code == 1
    assert "https://***@gitlab.example.com/alpha" in result.stdout and secret not in result.stdout
    [entry] = json.loads(
        fleetform("campaign", "status", "denied", "-w", fleet.workspace, "--format", "json").stdout
    )["repositories"]
    assert entry["state"] == "failed" and entry["reason"].startswith("git push: ")
    ledger = fleet.workspace / ".fleetform" / "campaigns" / "denied" / "ledger.json"
    assert secret not in ledger.read_text("utf-8")
    assert remote_branch(fleet, ALPHA, "fleetform/denied") == ""
    # The local branch is set (the commit exists); a rerun pushes it.
    again = campaign(fleet, "denied", "--push", ALPHA)
    assert again.exit_code == 0 and remote_branch(fleet, ALPHA, "fleetform/denied")


def test_a_workspace_branch_with_someone_elses_commit_or_checked_out_is_never_moved(
    fleet: Fleet,
) -> None:
    repo = fleet.workspace / ALPHA
    main = git(repo, "rev-parse", "main")
    git(repo, "branch", "fleetform/mine", "main")  # the operator's own commit, by name
    mine = campaign(fleet, "mine", "--push", ALPHA)
    assert mine.exit_code == 1
    assert f"the workspace repository's fleetform/mine holds {main[:12]}, a commit" in mine.stdout
    assert git(repo, "rev-parse", "fleetform/mine") == main
    assert remote_branch(fleet, ALPHA, "fleetform/mine") == ""
    # fleetform's own branch, checked out by the operator: another key would move it (a
    # ledger of its own, --shard 1/1, leaves the module's ledger as it is).
    ours = git(repo, "rev-parse", BRANCH)
    git(repo, "checkout", "-q", BRANCH)
    try:
        here = fleetform(
            "campaign", "run", CAMPAIGN, "-c", fleet.catalog, "-w", fleet.workspace,
            "--vcs-ref", TEMPLATE_TAG, "--push", "--shard", "1/1", ALPHA,
        )  # fmt: skip
    finally:
        git(repo, "checkout", "-q", "main")
    assert here.exit_code == 1
    assert f"{BRANCH} is checked out in the workspace repository; not moved" in here.stdout
    assert git(repo, "rev-parse", BRANCH) == ours == remote_branch(fleet, ALPHA)


def test_a_link_on_the_remote_is_never_written_through(fleet: Fleet) -> None:
    """The remote's content is anyone's: a Makefile committed as a link out of the repository
    stays a link on the branch, and its target is never written (last: it moves ALPHA's main)."""
    treasure = fleet.base / "treasure"
    treasure.write_text("SECRET\n", "utf-8")
    owners = fleet.base / "owners" / ALPHA
    (owners / MAKEFILE).unlink()
    (owners / MAKEFILE).symlink_to(treasure)
    publish(owners, fleet.remotes[ALPHA], message="a link out of the repository")
    result = campaign(fleet, "links", "--push", ALPHA)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert treasure.read_text("utf-8") == "SECRET\n"
    pushed = remote_branch(fleet, ALPHA, "fleetform/links")
    mode, _, blob = git(fleet.remotes[ALPHA], "ls-tree", pushed, "--", MAKEFILE).split()[:3]
    assert mode == "120000" and git(fleet.remotes[ALPHA], "cat-file", "-p", blob) == str(treasure)
