"""`fleetform campaign run --push`, killed with SIGKILL at several points, then run again: every
repository ends with exactly one campaign commit, pushed exactly once, the very commit a run
never killed makes.

The kill points (strace's `inject=SYSCALL:signal=KILL:when=N`, as in tests/fleet/test_faults.py):
a process spawn in the middle of the run (inside Copier's update), the last one (the push
itself), and the ledger's rename after the push: the one moment where the remote has the
branch and the ledger does not know it yet. `make test-faults` (FLEETFORM_FAULTS=all) kills
at every spawn. Each kill runs on its own copy of the remote and the workspace.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fleet.test_faults import ALL, STRACE, fleetform_argv, leftovers, points, run
from tests.helpers import git
from tests.remotes import ZERO, PublishedFleet, RefUpdate, copy_fleet, published_fleet, pushes

pytestmark = pytest.mark.slow

SERVICE = "alpha"
CAMPAIGN = "faults"
BRANCH = f"refs/heads/fleetform/{CAMPAIGN}"
V2 = "v2.0.0"
CATALOG = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3009", cluster: services}
services:
  alpha: {group: apps, runtime: node, port: 3000}
"""
TRACED = "clone,clone3,vfork,fork,rename,renameat,renameat2"


@dataclass(frozen=True)
class Copy:
    catalog: Path
    remote: Path
    workspace: Path
    tmp: Path

    def argv(self) -> list[str]:
        return fleetform_argv(
            "campaign", "run", CAMPAIGN, "-c", self.catalog, "-w", self.workspace,
            "--vcs-ref", V2, "--push", "-j", "1", "--format", "json",
        )  # fmt: skip


@pytest.fixture(scope="module")
def pristine(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> PublishedFleet:
    return published_fleet(template_repo, tmp_path_factory.mktemp("campaign-faults"), CATALOG)


def copy_of(pristine: PublishedFleet, name: str) -> Copy:
    """The remote and the workspace copied, the catalog and the clone's origin pointing at
    the copied remote."""
    copy = copy_fleet(pristine, name, [SERVICE])
    return Copy(copy.catalog, copy.remotes[SERVICE], copy.workspace, copy.tmp)


def counts(copy: Copy) -> dict[str, int]:
    """How often the run calls each traced syscall itself (no fault injected)."""
    assert STRACE, "strace is missing: scripts/test-deps.sh installs it"
    log = copy.tmp.parent / "strace.log"
    result = run([STRACE, "-qq", "-o", str(log), "-e", f"trace={TRACED}", *copy.argv()], copy.tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    names = [line.split("(")[0] for line in log.read_text().splitlines()]
    renames = sum(names.count(n) for n in ("rename", "renameat", "renameat2"))
    rename = next(n for n in ("rename", "renameat", "renameat2") if n in names)
    return {"vfork": names.count("vfork"), rename: renames}


def killed(copy: Copy, syscall: str, at: int) -> subprocess.CompletedProcess[str]:
    assert STRACE
    inject = f"inject={syscall}:signal=KILL:when={at}"
    argv = [STRACE, "-qq", "-o", "/dev/null", "-e", f"trace={TRACED}", "-e", inject, *copy.argv()]
    return run(argv, copy.tmp)


def campaign_pushes(remote: Path) -> list[tuple[RefUpdate, ...]]:
    return [p.updates for p in pushes(remote) if any(u.ref == BRANCH for u in p.updates)]


def test_killed_anywhere_then_rerun_pushes_the_one_commit_exactly_once(
    pristine: PublishedFleet,
) -> None:
    reference = copy_of(pristine, "reference")
    spawns = counts(reference)
    commit = git(reference.remote, "rev-parse", BRANCH)
    assert campaign_pushes(reference.remote) == [(RefUpdate(ZERO, commit, BRANCH),)]
    rename = next(name for name in spawns if name != "vfork")
    vforks = spawns["vfork"]
    assert vforks > 10, f"{spawns}: is strace tracing the right process?"
    # A spawn inside Copier's update, the push's own spawn, the ledger's rename after it
    # (`make test-faults` sweeps every spawn).
    middle = [at for at in points(vforks, 3) if at not in (1, vforks)] if not ALL else []
    kills = [("vfork", at) for at in (middle or range(1, vforks))] + [("vfork", vforks)]
    kills.append((rename, spawns[rename]))
    for syscall, at in kills:
        copy = copy_of(pristine, f"{syscall}-{at}")
        where = f"KILL at {syscall} {at} (of {spawns[syscall]})"
        first = killed(copy, syscall, at)
        assert first.returncode == -9, f"{where}: no fault:\n{first.stdout}{first.stderr}"
        on_remote = git(copy.remote, "for-each-ref", "--format=%(objectname)", BRANCH)
        assert on_remote in ("", commit), f"{where}: another commit was pushed"
        if syscall == rename:  # the window this kill is for: pushed, not yet in the ledger
            assert on_remote == commit, f"{where}: the kill came before the push"
        again = run(copy.argv(), copy.tmp)
        assert again.returncode == 0, f"{where}: rerun:\n{again.stdout}{again.stderr}"
        [entry] = json.loads(again.stdout)["repositories"]
        assert (entry["state"], entry["commit"]) == ("pushed", commit), where
        assert campaign_pushes(copy.remote) == [(RefUpdate(ZERO, commit, BRANCH),)], where
        repo = copy.workspace / SERVICE
        assert git(repo, "rev-parse", BRANCH) == commit, where
        assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main", where
        assert git(repo, "status", "--porcelain") == "", where
        assert leftovers(copy.workspace, copy.tmp) == [], f"{where}: left behind"
