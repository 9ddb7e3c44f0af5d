"""Fault injection: `fleetform generate`, `update` and `heal` of one repository, killed at
each of their process spawns, then run again.

`strace -e inject=SYSCALL:signal=SIG:when=N` (Debian's strace, installed by
scripts/test-deps.sh) delivers SIG to the fleetform process itself at its N-th call of SYSCALL
(only that process is traced, `-j 1` keeps the work in it). strace counts each syscall on
its own, so each spawning syscall is swept on its own: vfork starts git, clone a thread.

After every kill the repository must be as it was or as a complete run leaves it (files,
bytes and modes); after the rerun it must be exactly what a run never killed leaves: files,
git index and status, the owner's committed edit, no journal, staging, temporary files or
index.lock left.

`make test` samples the spawn points (SAMPLES[signal] of them per syscall, first and last
included; heal, the slowest to rerun, HEAL_SAMPLES of them in all); `make test-faults`
(FLEETFORM_FAULTS=all) sweeps every one, for both signals.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, catalog_at, commit_all, git, git_state, init_repo

pytestmark = pytest.mark.slow

SERVICE = "agent-chat"
REPO = "common_npm/agent-chat"
OWN_LINE = "# the owners' own first line"
SAMPLES = {"KILL": 3, "TERM": 2}
HEAL_SAMPLES = {"KILL": 1, "TERM": 1}
DOCKERFILE = "infrastructure/Dockerfile"
V1_LINE = "# changes here are overwritten by `copier update`."
V2_LINE = "# changes here are overwritten by `copier update` (v2)."
OWN_V1_LINE = "# the owners' own line, where v2 changes it"
SIGNALS = {"KILL": 9, "TERM": 15}
ALL = os.environ.get("FLEETFORM_FAULTS") == "all"
STRACE = shutil.which("strace")
SPAWNS = "clone,clone3,vfork,fork"


def snapshot(root: Path) -> dict[str, tuple[bytes, bool]]:
    """The files of a repository (its .git aside): bytes and executable bit."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), os.access(p, os.X_OK))
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def fleetform_argv(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "generator", *(str(a) for a in args)]


def run(argv: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)


def spawn_points(argv: list[str], tmp: Path, log: Path) -> dict[str, int]:
    """How often the command calls each spawning syscall itself (strace counting, no fault)."""
    assert STRACE, "strace is missing: scripts/test-deps.sh installs it (Debian package strace)"
    result = run([STRACE, "-qq", "-o", str(log), "-e", f"trace={SPAWNS}", *argv], tmp)
    assert result.returncode in (0, 1), result.stderr
    names = [line.split("(")[0] for line in log.read_text().splitlines()]
    return {name: names.count(name) for name in SPAWNS.split(",") if name in names}


def points(total: int, samples: int) -> list[int]:
    if ALL or total <= samples:
        return list(range(1, total + 1))
    if samples == 1:
        return [(total + 1) // 2]
    step = (total - 1) / (samples - 1)
    return sorted({round(1 + i * step) for i in range(samples)})


def killed(
    argv: list[str], syscall: str, at: int, signal: str, tmp: Path, *, trace: str = SPAWNS
) -> subprocess.CompletedProcess[str]:
    """`argv` under strace, sent `signal` at its `at`-th call of `syscall` (one of `trace`)."""
    assert STRACE
    inject = f"inject={syscall}:signal={signal}:when={at}"
    return run([STRACE, "-qq", "-o", "/dev/null", "-e", f"trace={trace}", "-e", inject, *argv], tmp)


@dataclass(frozen=True)
class Case:
    """A workspace to copy for every kill, the command, and what a run never killed leaves."""

    workspace: Path
    catalog: Path
    argv: Callable[[Path], list[str]]
    before: dict[str, tuple[bytes, bool]]
    after: dict[str, tuple[bytes, bool]]
    git_after: tuple[str, ...]  # status and index of the repository, empty when no git
    # The spawns of the run never killed, when it was counted (strace changes nothing else).
    counts: dict[str, int] | None = None


def build_case(base: Path, template: Path, command: str) -> Case:
    pristine = base / "pristine"
    catalog = catalog_at(template, base / "catalog.yaml")
    assert (
        run(fleetform_argv("generate", "-c", catalog, "-w", pristine, SERVICE), base).returncode
        == 0
    )
    repo = pristine / REPO
    if command in ("update", "heal"):
        init_repo(repo)
        commit_all(repo, "generated")
        makefile = repo / "infrastructure" / "Makefile"
        lines = makefile.read_text().split("\n")
        makefile.write_text("\n".join([OWN_LINE, *lines[1:]]))
        commit_all(repo, "the owners' line")
    if command == "heal":
        lose_a_change(pristine, template, catalog)
        shutil.rmtree(pristine / ".fleetform")
        return finish_case(base, pristine, catalog, heal_argv(catalog), count=True)
    shutil.rmtree(pristine / ".fleetform")
    # The change both commands bring: a catalog edit (and for update a new template version).
    text = catalog.read_text().replace("Conversational front door", "The front door", 1)
    if command == "update":
        makefile = template / "template" / "infrastructure" / "Makefile"
        makefile.write_text(makefile.read_text() + "\n# added in v2\n")
        commit_all(template, "v2")
        git(template, "tag", "v2.0.0")
    catalog.write_text(text)

    def argv(workspace: Path) -> list[str]:
        if command == "update":
            return fleetform_argv(
                "update", "-c", catalog, "-w", workspace, "--vcs-ref", "v2.0.0", "-j", "1", SERVICE
            )
        return fleetform_argv("generate", "-c", catalog, "-w", workspace, "-j", "1", SERVICE)

    return finish_case(base, pristine, catalog, argv)


def finish_case(
    base: Path,
    pristine: Path,
    catalog: Path,
    argv: Callable[[Path], list[str]],
    *,
    count: bool = False,
) -> Case:
    """The case, with what one run never killed makes of a copy of `pristine` (its spawns
    counted on the way with `count`, saving the sweep a run)."""
    reference = base / "reference"
    shutil.copytree(pristine, reference, symlinks=True)
    counts = None
    if count:
        tmp = base / "reference-tmp"
        tmp.mkdir()
        counts = spawn_points(argv(reference), tmp, base / "spawns.log")
    else:
        result = run(argv(reference), base)
        assert result.returncode == 0, result.stdout + result.stderr
    return Case(
        pristine,
        catalog,
        argv,
        snapshot(pristine / REPO),
        snapshot(reference / REPO),
        git_state(reference / REPO),
        counts,
    )


def lose_a_change(workspace: Path, template: Path, catalog: Path) -> None:
    """test_heal's silent divergence, in one repository: v2 changes a Makefile line and the
    Dockerfile line the owners edited; the update to v2 is committed with both files put
    back as they were at v1 (restored from an old commit). `update` then has nothing to do;
    heal merges the Makefile cleanly (the owners' first line and v2's) and leaves the
    Dockerfile unmerged, stages 1-3 set."""
    repo = workspace / REPO
    dockerfile = repo / DOCKERFILE
    dockerfile.write_text(dockerfile.read_text().replace(V1_LINE, OWN_V1_LINE, 1))
    commit_all(repo, "the owners' Dockerfile line")
    jinja = template / "template" / "infrastructure" / "Dockerfile.jinja"
    jinja.write_text(jinja.read_text().replace(V1_LINE, V2_LINE, 1))
    makefile = template / "template" / "infrastructure" / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# added in v2\n")
    commit_all(template, "v2")
    git(template, "tag", "v2.0.0")
    update = fleetform_argv(
        "update", "-c", catalog, "-w", workspace, "--vcs-ref", "v2.0.0", "-j", "1", SERVICE
    )
    assert run(update, workspace.parent).returncode == 1  # the Dockerfile conflicts
    git(repo, "checkout", "HEAD", "--", DOCKERFILE, "infrastructure/Makefile")
    commit_all(repo, "updated to v2, two files as they were")
    assert V2_LINE not in dockerfile.read_text() and OWN_V1_LINE in dockerfile.read_text()


def heal_argv(catalog: Path) -> Callable[[Path], list[str]]:
    def argv(workspace: Path) -> list[str]:
        return fleetform_argv("heal", "-c", catalog, "-w", workspace, "-j", "1", SERVICE)

    return argv


def leftovers(workspace: Path, tmp: Path) -> list[str]:
    """What a run must not leave: journals, staging, temporary folders, locks of git."""
    state = workspace / ".fleetform"
    found = [p.relative_to(workspace).as_posix() for p in state.glob("journal/*")]
    found += [p.relative_to(workspace).as_posix() for p in state.glob("stage/*")]
    found += [p.relative_to(workspace).as_posix() for p in state.glob("tmp/*")]
    found += [str(p) for p in tmp.iterdir()]
    found += [p.relative_to(workspace).as_posix() for p in workspace.rglob("index.lock")]
    found += [p.relative_to(workspace).as_posix() for p in workspace.rglob("*.fleetform-new")]
    return found


def sweep(case: Case, base: Path, signal: str, limit: int | None = None) -> None:
    """Kill at the sampled spawn points (at most `limit` of them in all, spread over every
    syscall's, when not sweeping all), rerun, and check each time."""
    counts = case.counts
    if counts is None:
        counting, counting_tmp = base / f"count-{signal}", base / f"count-{signal}-tmp"
        shutil.copytree(case.workspace, counting, symlinks=True)
        counting_tmp.mkdir()
        counts = spawn_points(case.argv(counting), counting_tmp, base / f"spawns-{signal}.log")
    assert counts.get("vfork", 0) > 3, f"{counts}: is strace tracing the right process?"
    kills = [(name, at) for name, total in counts.items() for at in points(total, SAMPLES[signal])]
    if limit is not None and not ALL:
        kills = [kills[i - 1] for i in points(len(kills), limit)]
    for syscall, at in kills:
        total = counts[syscall]
        workspace, tmp = base / f"{signal}-{syscall}-{at}", base / f"{signal}-{syscall}-{at}-tmp"
        tmp.mkdir()
        shutil.copytree(case.workspace, workspace, symlinks=True)
        repo = workspace / REPO
        first = killed(case.argv(workspace), syscall, at, signal, tmp)
        where = f"{signal} at {syscall} {at} of {total}"
        # strace ends as its tracee did: killed by the signal, or exit 128+N when handled.
        stopped = (-SIGNALS[signal], 128 + SIGNALS[signal])
        assert first.returncode in stopped, f"{where}: no fault:\n{first.stdout}"
        assert "Traceback" not in first.stderr, f"{where}:\n{first.stderr}"
        assert snapshot(repo) in (case.before, case.after), f"{where}: a half-written repository"
        again = run(case.argv(workspace), tmp)
        assert again.returncode in (0, 1), f"{where}: rerun:\n{again.stdout}{again.stderr}"
        assert "Traceback" not in again.stderr, f"{where}: rerun:\n{again.stderr}"
        assert snapshot(repo) == case.after, f"{where}: the rerun did not finish the job"
        assert git_state(repo) == case.git_after, f"{where}: git index or status differ"
        if case.git_after:
            assert OWN_LINE in (repo / "infrastructure" / "Makefile").read_text(), where
        assert leftovers(workspace, tmp) == [], f"{where}: left behind"


@pytest.fixture
def template(template_repo: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "template"
    shutil.copytree(template_repo, copy, symlinks=True)
    return copy


@pytest.mark.parametrize("signal", ["KILL", "TERM"])
def test_update_killed_at_each_spawn_loses_nothing_and_the_rerun_finishes(
    template: Path, tmp_path: Path, signal: str
) -> None:
    case = build_case(tmp_path, template, "update")
    assert case.before != case.after and case.git_after[0], "the update must change something"
    sweep(case, tmp_path, signal)


def test_heal_killed_or_stopped_at_each_spawn_loses_nothing_and_the_rerun_finishes(
    template: Path, tmp_path: Path
) -> None:
    """One case for both signals: its setup (a generate, an update, a counted heal) is most
    of the cost."""
    case = build_case(tmp_path, template, "heal")
    status = case.git_after[0].splitlines()
    assert f"UU {DOCKERFILE}" in status and " M infrastructure/Makefile" in status, status
    assert V2_LINE in case.after[DOCKERFILE][0].decode()
    assert "# added in v2" in case.after["infrastructure/Makefile"][0].decode()
    for signal in SIGNALS:
        sweep(case, tmp_path, signal, HEAL_SAMPLES[signal])


@pytest.mark.parametrize("signal", ["KILL", "TERM"])
def test_generate_killed_at_each_spawn_leaves_no_half_written_repository(
    template: Path, tmp_path: Path, signal: str
) -> None:
    case = build_case(tmp_path, template, "generate")
    assert case.before != case.after, "the generate must change something"
    sweep(case, tmp_path, signal)
