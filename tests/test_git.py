"""fleetform's hardened git (generator/git.py) against a real remote: it keeps the pushing
repository's configured commands and hooks from running, and still lets the receiving
server run its own, which is where GitLab reads merge-request push options."""

from __future__ import annotations

import os
from pathlib import Path

from generator.git import git as hardened_git
from generator.parallel import in_parallel
from tests.helpers import commit_all, git, init_repo
from tests.remotes import ZERO, bare_remote, branches, pushes, refuse_pushes


def test_a_hardened_push_runs_the_remotes_hooks_but_not_the_pushers(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    (work / "README.md").write_text("hello\n", encoding="utf-8")
    head = commit_all(work, "initial")
    # The pushing repository's own hook would run on a plain `git push`.
    marker = tmp_path / "pre-push-ran"
    hook = work / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n", encoding="utf-8")
    hook.chmod(0o755)

    pushed = hardened_git(
        work,
        "push",
        "-o", "merge_request.create",
        "-o", "merge_request.target=main",
        f"file://{remote}",
        "HEAD:refs/heads/fleetform/x",
    )  # fmt: skip

    assert pushed.returncode == 0, pushed.stderr
    assert not marker.exists()
    assert branches(remote) == {"fleetform/x": head}
    [push] = pushes(remote)
    assert push.accepted
    assert [(u.old, u.new, u.ref) for u in push.updates] == [(ZERO, head, "refs/heads/fleetform/x")]
    assert push.options == ("merge_request.create", "merge_request.target=main")
    assert push.option("merge_request.target") == ["main"]


def test_a_refusing_remote_records_the_push_and_keeps_its_branches(tmp_path: Path) -> None:
    remote = bare_remote(tmp_path / "remote.git")
    work = init_repo(tmp_path / "work")
    (work / "a").write_text("a\n", encoding="utf-8")
    commit_all(work, "initial")
    refuse_pushes(remote, "GitLab: protected branch")

    pushed = hardened_git(work, "push", str(remote), "HEAD:refs/heads/main")

    assert pushed.returncode != 0
    assert "GitLab: protected branch" in pushed.stderr
    assert branches(remote) == {}
    assert [p.accepted for p in pushes(remote)] == [False]
    assert git(remote, "config", "receive.advertisePushOptions") == "true"


def _status(repo: Path) -> str:
    return hardened_git(repo, "status", "--porcelain").stdout


def _lost(repo: Path, why: str) -> str:
    return why


def test_a_second_run_in_the_process_sees_a_configuration_changed_since(tmp_path: Path) -> None:
    """What a repository configures is cached for one run only (every fleet run goes through
    `in_parallel`): a filter the repository configures after a first run in this process is
    still kept from running by the second."""
    repo = init_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("a\n", encoding="utf-8")
    (repo / ".gitattributes").write_text("a.txt filter=evil\n", encoding="utf-8")
    commit_all(repo, "initial")
    assert in_parallel(_status, [repo], 1, lost=_lost).results == ("",)
    marker = tmp_path / "clean-filter-ran"
    git(repo, "config", "filter.evil.clean", f"touch {marker}; cat")
    # The same bytes with a new mtime: status must read the file, through its filter.
    stat = (repo / "a.txt").stat()
    os.utime(repo / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert in_parallel(_status, [repo], 1, lost=_lost).results == ("",)
    assert not marker.exists()
    git(repo, "status", "--porcelain")  # the control: plain git does run it
    assert marker.exists()
