"""`fleetform clone` stopped by SIGTERM or SIGINT mid-run, then run again: the clones in flight
finish, the others are not started, no half repository or staging is left, and the rerun
clones each of the rest once.

The remotes' clones are held in git's pack-objects hook (`tests.remotes.Gate`), which tells
the test they are under way: the signal comes at a known point, with no clock. Clone does not
read what the repositories hold, so each remote has one small commit (no Copier here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from generator.catalog.load import load_catalog
from tests.fleet.test_clone_faults import complete, leftovers
from tests.fleet.test_faults import fleetform_argv
from tests.helpers import ROOT
from tests.remotes import Gate, catalog_with_remotes, publish_workspace

pytestmark = pytest.mark.slow

ALPHA, BRAVO, CHARLIE, DELTA = SERVICES = ("alpha", "bravo", "charlie", "delta")
CATALOG = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3009", cluster: services}
services:
  alpha: {group: apps, runtime: node, port: 3000}
  bravo: {group: apps, runtime: node, port: 3001}
  charlie: {group: apps, runtime: node, port: 3002}
  delta: {group: apps, runtime: node, port: 3003}
"""


@pytest.fixture(scope="module")
def fleet(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The catalog, and the folder of its services' remotes."""
    base = tmp_path_factory.mktemp("clone-signals")
    catalog = catalog_with_remotes(
        template_repo, base / "catalog.yaml", base / "remotes", text=CATALOG
    )
    for service in SERVICES:
        (base / "owners" / service).mkdir(parents=True)
        (base / "owners" / service / "README.md").write_text(f"# {service}\n", encoding="utf-8")
    publish_workspace(load_catalog(catalog), base / "owners")
    return catalog, base / "remotes"


# A clone in this process (-j 1) stopped by a Ctrl-C: git clone installs its own SIGINT
# handler (to remove a half clone), so the `sh -c git-upload-pack` it starts would get SIGINT
# back at its default and die of it (`git clone: early EOF`) if git were in the terminal's
# foreground process group; generator/git.py starts every git in a session of its own.


@pytest.mark.parametrize(
    ("signum", "jobs", "in_flight"),
    [
        pytest.param(signal.SIGTERM, 2, (ALPHA, BRAVO), id="TERM-two-workers"),
        pytest.param(signal.SIGINT, 2, (ALPHA, BRAVO), id="INT-two-workers"),
        pytest.param(signal.SIGINT, 1, (ALPHA,), id="INT-one-process"),
    ],
)
def test_a_signal_mid_clone_finishes_the_clones_in_flight_and_the_rerun_the_rest(
    fleet: tuple[Path, Path],
    tmp_path: Path,
    signum: signal.Signals,
    jobs: int,
    in_flight: tuple[str, ...],
) -> None:
    catalog, remotes = fleet
    remote = {service: remotes / f"{service}.git" for service in SERVICES}
    workspace = tmp_path / "workspace"
    argv = fleetform_argv(
        "clone", "-c", catalog, "-w", workspace, "-j", str(jobs), "--format", "json"
    )
    with Gate(tmp_path / "gate", [remote[s] for s in in_flight]) as gate:
        env = {**gate.fetch_environment(), "TMPDIR": str(tmp_path)}
        first = subprocess.Popen(
            argv, cwd=ROOT, env=env, text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        held = gate.arrivals(len(in_flight), watching=[first])
        assert sorted(held) == [remote[s] for s in in_flight]  # the first jobs, none finished
        if signum is signal.SIGINT:
            os.killpg(first.pid, signum)  # Ctrl-C: the terminal signals the foreground group
        else:
            os.kill(first.pid, signum)
    out, err = first.communicate(timeout=300)

    assert first.returncode == 128 + signum, out + err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["interrupted"] == signum.name
    assert report["not_started"] == [s for s in SERVICES if s not in in_flight]
    outcomes = {r["service"]: r["outcome"] for r in report["repositories"]}
    assert outcomes == dict.fromkeys(in_flight, "cloned"), out
    for service in SERVICES:
        repo = workspace / service
        assert complete(repo, remote[service]) if service in in_flight else not repo.exists()
    assert leftovers(workspace) == []

    again = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    outcomes = {r["service"]: r["outcome"] for r in json.loads(again.stdout)["repositories"]}
    assert outcomes == {s: "fetched" if s in in_flight else "cloned" for s in SERVICES}
    for service in SERVICES:
        assert complete(workspace / service, remote[service]), service
    assert leftovers(workspace) == []
