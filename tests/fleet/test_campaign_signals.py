"""`fleetform campaign run --push` stopped by SIGTERM or SIGINT mid-run and run again, and two
runs at once on one workspace: of the same shard (the second refused), of two shards (both done).

Real processes, real Copier, bare remotes whose `pre-receive` hook records every push. Nothing
waits on a clock: the remotes the test names hold their pushes in the hook
(`tests.remotes.Gate`) and tell the test they are there, so the test knows exactly which
repositories are in flight when it sends the signal or starts the other run.

The fleet: three repositories generated at v1.0.0 and pushed to their remotes, cloned into the
workspace; the template's v2.0.0 adds a line to the Makefile, so each gets one commit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.fleet.campaign.ledger import State, ledger_path, read_ledger
from generator.fleet.campaign.shard import shard_of
from tests.fleet.test_faults import fleetform_argv, leftovers, run
from tests.helpers import ROOT, fleetform, git
from tests.remotes import (
    ZERO,
    Gate,
    PublishedFleet,
    RefUpdate,
    commits,
    copy_fleet,
    published_fleet,
    pushes,
)

pytestmark = pytest.mark.slow

V2 = "v2.0.0"
CAMPAIGN = "v2"
BRANCH = f"refs/heads/fleetform/{CAMPAIGN}"
TITLE = "fleetform: v1.0.0 -> v2.0.0"
ALPHA, BRAVO, CHARLIE = SERVICES = ("alpha", "bravo", "charlie")
CATALOG = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3009", cluster: services}
services:
  alpha: {group: apps, runtime: node, port: 3000}
  bravo: {group: apps, runtime: node, port: 3001}
  charlie: {group: apps, runtime: node, port: 3002}
"""
# --shard 1/2 takes alpha and charlie, 2/2 bravo (by the hash of the id alone).
SHARDS = {1: (ALPHA, CHARLIE), 2: (BRAVO,)}


@dataclass(frozen=True)
class Copy:
    """A fleet of its own for one test: remotes, workspace, catalog, TMPDIR."""

    root: Path
    catalog: Path
    remotes: dict[str, Path]
    workspace: Path
    tmp: Path

    def argv(self, *args: str) -> list[str]:
        return fleetform_argv(
            "campaign", "run", CAMPAIGN, "-c", self.catalog, "-w", self.workspace,
            "--vcs-ref", V2, "--push", *args,
        )  # fmt: skip

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The run as a process of its own group, as a shell starts a foreground job."""
        return subprocess.Popen(
            self.argv(*args),
            cwd=ROOT,
            env={**os.environ, "TMPDIR": str(self.tmp)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def pristine(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> PublishedFleet:
    assert {shard_of(s, 2) for s in SHARDS[1]} == {1} and {shard_of(s, 2) for s in SHARDS[2]} == {2}
    return published_fleet(template_repo, tmp_path_factory.mktemp("campaign-signals"), CATALOG)


def copy_of(pristine: PublishedFleet, name: str) -> Copy:
    copy = copy_fleet(pristine, name, SERVICES)
    return Copy(copy.root, copy.catalog, copy.remotes, copy.workspace, copy.tmp)


def pushed_once(copy: Copy, service: str) -> str:
    """The campaign commit of `service`: one commit on the default branch, pushed once."""
    remote = copy.remotes[service]
    [(commit, title)] = commits(remote, BRANCH.removeprefix("refs/heads/"), since="main")
    assert title == TITLE, service
    campaign = [p.updates for p in pushes(remote) if any(u.ref == BRANCH for u in p.updates)]
    assert campaign == [(RefUpdate(ZERO, commit, BRANCH),)], service
    return commit


def untouched(copy: Copy, service: str) -> bool:
    """No push reached the remote, and the workspace repository has no campaign branch."""
    repo = copy.workspace / service
    return not pushes(copy.remotes[service]) and not git(repo, "for-each-ref", BRANCH)


def ledger_states(copy: Copy, shard: tuple[int, int] | None = None) -> dict[str, State]:
    ledger = read_ledger(ledger_path(copy.workspace, CAMPAIGN, shard), CAMPAIGN)  # every field
    return {service: entry.state for service, entry in ledger.entries.items()}


def test_signals_mid_run_finish_the_pushes_in_flight_and_the_reruns_the_rest(
    pristine: PublishedFleet,
) -> None:
    copy = copy_of(pristine, "signals")
    # `kill PID` of a run with two workers, while the first job of each is pushing (nothing
    # finished yet): those two finish, charlie is not started.
    with Gate(copy.root / "gate", [copy.remotes[ALPHA], copy.remotes[BRAVO]]) as gate:
        first = copy.start("--jobs", "2", "--format", "json")
        assert sorted(gate.arrivals(2, watching=[first])) == [
            copy.remotes[ALPHA],
            copy.remotes[BRAVO],
        ]
        os.kill(first.pid, signal.SIGTERM)
    out, err = first.communicate(timeout=600)

    assert first.returncode == 143, out + err
    assert "Traceback" not in err
    report = json.loads(out)
    assert (report["interrupted"], report["not_started"]) == ("SIGTERM", [CHARLIE])
    assert {r["service"]: r["state"] for r in report["repositories"]} == {
        ALPHA: "pushed",
        BRAVO: "pushed",
    }
    assert ledger_states(copy) == {ALPHA: State.PUSHED, BRAVO: State.PUSHED}
    made = {service: pushed_once(copy, service) for service in (ALPHA, BRAVO)}
    assert untouched(copy, CHARLIE)
    assert leftovers(copy.workspace, copy.tmp) == []

    # Ctrl-C at a terminal (SIGINT to the foreground process group) of the rerun in one
    # process, while it pushes charlie: alpha and bravo were skipped, charlie finishes. Here
    # the run's git processes are in that group too: the push must not die of it.
    with Gate(copy.root / "gate-2", [copy.remotes[CHARLIE]]) as gate:
        second = copy.start("--jobs", "1")
        assert gate.arrivals(1, watching=[second]) == [copy.remotes[CHARLIE]]
        os.killpg(second.pid, signal.SIGINT)
    out, err = second.communicate(timeout=600)

    assert second.returncode == 130, out + err
    assert "Traceback" not in err
    states = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:4]}
    assert states == {ALPHA: "pushed", BRAVO: "pushed", CHARLIE: "pushed"}, out
    assert "(2 already done, skipped)" in out
    assert "interrupted by SIGINT: 0 repositories not started (rerun to continue)" in out
    assert ledger_states(copy) == dict.fromkeys(SERVICES, State.PUSHED)
    made[CHARLIE] = pushed_once(copy, CHARLIE)
    assert leftovers(copy.workspace, copy.tmp) == []

    # Once more: every repository is done, nothing is pushed again.
    again = run(copy.argv("--format", "json"), copy.tmp)
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert report["interrupted"] is None and report["not_started"] == []
    done = {r["service"]: (r["state"], r["skipped"]) for r in report["repositories"]}
    assert done == dict.fromkeys(SERVICES, ("pushed", True))
    assert ledger_states(copy) == dict.fromkeys(SERVICES, State.PUSHED)
    for service in SERVICES:
        assert pushed_once(copy, service) == made[service], service
        assert git(copy.workspace / service, "rev-parse", BRANCH) == made[service], service
    assert leftovers(copy.workspace, copy.tmp) == []


def test_two_runs_at_once_the_same_shard_refused_two_shards_side_by_side(
    pristine: PublishedFleet,
) -> None:
    copy = copy_of(pristine, "at-once")
    one = ledger_path(copy.workspace, CAMPAIGN, (1, 2))
    with Gate(copy.root / "gate", [copy.remotes[ALPHA], copy.remotes[BRAVO]]) as gate:
        # One job at a time: while alpha is held, the ledger holds no entry yet.
        first = copy.start("--shard", "1/2", "--jobs", "1", "--format", "json")
        assert gate.arrivals(1, watching=[first]) == [copy.remotes[ALPHA]]
        before = one.read_bytes()
        same = run(copy.argv("--shard", "1/2"), copy.tmp)
        assert one.read_bytes() == before  # the refused run wrote nothing
        other = copy.start("--shard", "2/2", "--jobs", "1", "--format", "json")
        # Both shards hold a push at once: the two runs are truly side by side.
        assert gate.arrivals(2, watching=[first, other])[1] == copy.remotes[BRAVO]
    outputs = [process.communicate(timeout=600) for process in (first, other)]

    # Exit 1, as for every LockedError (generator/errors.py): not bad input, a run that cannot
    # be done while the other holds the lock.
    assert same.returncode == 1, same.stdout + same.stderr
    assert same.stderr == (
        f"fleetform: error: campaign {CAMPAIGN} shard 1/2 is locked by pid {first.pid};"
        " try again when it has finished\n"
    )
    assert same.stdout == ""
    assert [first.returncode, other.returncode] == [0, 0], outputs
    for (out, _), shard in zip(outputs, (1, 2), strict=True):
        report = json.loads(out)
        assert [r["service"] for r in report["repositories"]] == list(SHARDS[shard])
        assert ledger_states(copy, (shard, 2)) == dict.fromkeys(SHARDS[shard], State.PUSHED)
    for service in SERVICES:
        pushed_once(copy, service)
    status = fleetform("campaign", "status", CAMPAIGN, "-w", copy.workspace, "--format", "json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["counts"]["pushed"] == len(SERVICES)
    assert leftovers(copy.workspace, copy.tmp) == []
