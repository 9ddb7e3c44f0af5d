"""`fleetform clone` killed at its process spawns, and two clones at once on one workspace.

The kills use tests/fleet/test_faults.py's strace injection: SIGKILL (or SIGTERM) at the N-th
spawning syscall of the fleetform process. Whatever the point, a repository in the workspace
is either absent or a complete clone (every object there, HEAD the remote's commit): never
a half one that a rerun would take for good. The rerun finishes the job and leaves no staging.
`make test` samples the points; FLEETFORM_FAULTS=all sweeps every one.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from generator.catalog.load import load_catalog
from tests.fleet.test_faults import (
    ALL,
    SAMPLES,
    SIGNALS,
    SPAWNS,
    STRACE,
    fleetform_argv,
    killed,
    points,
    run,
)
from tests.helpers import ROOT, SMALL_CATALOG, fleetform, git
from tests.remotes import catalog_with_remotes, commit_of, publish_workspace

pytestmark = pytest.mark.slow

# The spawns (git), and the renames: the one between a finished clone and its place in the
# workspace is the moment a half repository could appear.
SYSCALLS = f"{SPAWNS},rename,renameat,renameat2"

SERVICES = ("api", "worker")


@pytest.fixture(scope="module")
def fleet(
    template_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Path]]:
    base = tmp_path_factory.mktemp("clone-faults")
    catalog = catalog_with_remotes(
        template_repo, base / "catalog.yaml", base / "remotes", text=SMALL_CATALOG
    )
    assert fleetform("generate", "-c", catalog, "-w", base / "seed", "-q").exit_code == 0
    return catalog, publish_workspace(load_catalog(catalog), base / "seed")


def counted(argv: list[str], tmp: Path) -> dict[str, int]:
    """How often the fleetform process itself calls each of SYSCALLS (no fault)."""
    assert STRACE, "strace is missing: scripts/test-deps.sh installs it (Debian package strace)"
    log = tmp / "syscalls.log"
    result = run([STRACE, "-qq", "-o", str(log), "-e", f"trace={SYSCALLS}", *argv], tmp)
    assert result.returncode == 0, result.stderr
    names = [line.split("(")[0] for line in log.read_text().splitlines()]
    return {name: names.count(name) for name in SYSCALLS.split(",") if name in names}


def complete(repo: Path, remote: Path) -> bool:
    """A whole clone: git finds every object, and HEAD is the remote's default branch."""
    fsck = subprocess.run(["git", "-C", str(repo), "fsck", "--no-progress"], capture_output=True)
    return fsck.returncode == 0 and git(repo, "rev-parse", "HEAD") == commit_of(remote, "main")


def leftovers(workspace: Path) -> list[str]:
    state = workspace / ".fleetform"
    return [
        p.relative_to(workspace).as_posix() for d in ("stage", "tmp") for p in (state / d).glob("*")
    ]


@pytest.mark.parametrize("signal", ["KILL", "TERM"])
def test_a_killed_clone_leaves_no_half_repository_and_the_rerun_finishes(
    fleet: tuple[Path, dict[str, Path]], tmp_path: Path, signal: str
) -> None:
    catalog, remotes = fleet

    def argv(workspace: Path) -> list[str]:
        return fleetform_argv("clone", "-c", catalog, "-w", workspace, "-j", "1", "-q")

    counts = counted(argv(tmp_path / "count"), tmp_path)
    assert counts.get("vfork", 0) >= 4, f"{counts}: is strace tracing the right process?"
    assert set(counts) & {"rename", "renameat", "renameat2"}, counts
    print(f"clone spawn and rename points: {counts}")
    # git starts at a vfork, a clone lands at a rename; `clone` is a thread (FLEETFORM_FAULTS=all).
    swept = {n: c for n, c in counts.items() if ALL or n == "vfork" or n.startswith("rename")}
    for syscall, total in swept.items():
        for at in points(total, SAMPLES[signal]):
            where = f"{signal} at {syscall} {at} of {total}"
            workspace = tmp_path / f"{signal}-{syscall}-{at}"
            first = killed(argv(workspace), syscall, at, signal, tmp_path, trace=SYSCALLS)
            assert first.returncode in (-SIGNALS[signal], 128 + SIGNALS[signal]), where
            assert "Traceback" not in first.stderr, f"{where}:\n{first.stderr}"
            for service in SERVICES:
                repo = workspace / service
                assert not repo.exists() or complete(repo, remotes[service]), f"{where}: {service}"
            again = run(argv(workspace), tmp_path)
            assert again.returncode == 0, f"{where}: rerun:\n{again.stdout}{again.stderr}"
            for service in SERVICES:
                assert complete(workspace / service, remotes[service]), f"{where}: {service}"
                assert git(workspace / service, "status", "--porcelain") == "", where
            assert leftovers(workspace) == [], where


def test_two_clones_at_once_share_the_work_and_agree(
    fleet: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    catalog, remotes = fleet
    workspace = tmp_path / "workspace"
    # Waiting on the other's lock is the behaviour under test; never a refusal for a slow machine.
    env = {**os.environ, "FLEETFORM_LOCK_WAIT": "120"}
    argv = fleetform_argv("clone", "-c", catalog, "-w", workspace, "-j", "2", "--format", "json")
    both = [
        subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300) for process in both]

    assert [p.returncode for p in both] == [0, 0], outputs
    for service in SERVICES:
        seen = sorted(
            r["outcome"]
            for out, _ in outputs
            for r in json.loads(out)["repositories"]
            if r["service"] == service
        )
        assert seen == ["cloned", "fetched"], service  # one clone, then the other fetched
        assert complete(workspace / service, remotes[service])
    assert leftovers(workspace) == []
