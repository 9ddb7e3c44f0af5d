"""`fleetform generate` as a real process, stopped by a signal or losing a worker at a point
strace chooses: the summary says what happened, the exit code too, and no repository is left
half written.

strace counts per process and per syscall. Tracing the main process only, its second
`clone` is the start of the second worker: SIGTERM (or SIGINT) arrives with two jobs handed
out. Tracing every process with `-P STAGING`, the first process that touches one repository's
staging (the worker rendering it) is SIGKILLed there, before it writes anything.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from generator.catalog.validation import open_catalog
from generator.fleet.manifest import MANIFEST, digest
from generator.fleet.workspace import STATE_DIR, key
from tests.helpers import ROOT, catalog_at

# Two repositories in flight, three more to start; a nested repository (common_npm/...) too.
NAMES = ("ossa", "agent-buildkit", "agent-brain", "agent-chat", "agent-docker")
SPAWNS = "clone,clone3,fork,vfork"


def strace() -> str:
    path = shutil.which("strace")
    assert path, "strace is a test dependency (Debian: apt-get install strace)"
    return path


def generate_under(
    tracing: list[str], catalog: Path, out: Path, log: str = "/dev/null"
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "generator", "generate", "-c", str(catalog), "-o", str(out)]
    return subprocess.run(
        [strace(), "-o", log, *tracing, *command, "-j", "2", *NAMES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def repositories(catalog: Path, out: Path) -> dict[str, Path]:
    services = open_catalog(catalog).catalog.services
    return {name: out / services[name].repo for name in NAMES}


def complete(repo: Path) -> bool:
    """Every file the manifest names is there with the bytes it names: the whole render."""
    if not (repo / MANIFEST).is_file():
        return False
    files = json.loads((repo / MANIFEST).read_text(encoding="utf-8"))["files"]
    return bool(files) and all(
        (repo / name).is_file() and digest(repo / name) == sha256 for name, sha256 in files.items()
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_finishes_the_repositories_in_flight_and_exits_128_plus_it(
    template_repo: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    catalog, out = catalog_at(template_repo, tmp_path / "catalog.yaml"), tmp_path / "out"
    name = signum.name.removeprefix("SIG")
    # strace counts each syscall on its own: the main process starts git with vfork for its
    # checks before the pool, and each worker with a clone; the 2nd clone is the 2nd worker.
    inject = ["-e", f"trace={SPAWNS}", "-e", f"inject=clone:signal={name}:when=2"]
    done = generate_under(inject, catalog, out)

    assert done.returncode == 128 + signum, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == (
        f"interrupted by {signum.name}: 2 of 5 repositories done; the others were not started"
    )
    assert lines[-2] == "2 service(s): 2 created"
    assert {line.split()[0] for line in lines[1:3]} == set(NAMES[:2])
    for service, repo in repositories(catalog, out).items():
        if service in NAMES[:2]:
            assert complete(repo), f"{service} is not complete"
        else:
            assert not repo.exists(), f"{service} was started after the signal"


def test_a_worker_killed_fails_its_repository_only(template_repo: Path, tmp_path: Path) -> None:
    catalog, out = catalog_at(template_repo, tmp_path / "catalog.yaml"), tmp_path / "out"
    victim = NAMES[2]
    path = repositories(catalog, out)[victim]
    # The worker's own staging of that repository: only the worker working on it touches it
    # (the main process reads every repository's manifest before the pool starts).
    staging = out / STATE_DIR / "stage" / key(open_catalog(catalog).catalog.services[victim].repo)
    tracing = [
        "-f",
        "-P",
        str(staging),
        "-e",
        "trace=%file",
        "-e",
        "inject=%file:signal=KILL:when=1",
    ]
    done = generate_under(tracing, catalog, out)

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert f"{victim}: worker killed by signal 9" in lines
    assert lines[-1] == "5 service(s): 4 created, 1 failed"
    rows = {line.split()[0]: line.split()[1] for line in lines[1:6]}
    assert rows == {name: "failed" if name == victim else "created" for name in NAMES}
    for service, repo in repositories(catalog, out).items():
        assert complete(repo) is (service != victim), service
    assert not path.exists()


def test_ctrl_c_outside_the_worker_pool_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """`verify` starts its validators from the main process: a SIGINT at the first of them
    ends the command with one line and 130, not click's `Aborted!` and 1."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "tests" / "golden" / "node", tree)
    inject = f"inject={SPAWNS}:signal=INT:when=1"
    result = subprocess.run(
        [
            strace(),
            "-o",
            "/dev/null",
            "-e",
            f"trace={SPAWNS}",
            "-e",
            inject,
            sys.executable,
            "-m",
            "generator",
            "verify",
            str(tree),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr == "fleetform: interrupted; nothing was left half-written\n"
