"""The worker pool with real processes: a killed worker loses its job only, signals stop a run
between jobs, and no worker outlives the main process.

Jobs that must wait for the test block on a pipe the test holds; the test learns that a job has
started from a line the job writes to another pipe. Nothing waits on a clock.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

import pytest

from generator.errors import RenderError
from generator.parallel import in_parallel
from tests.helpers import ROOT

_PR_GET_PDEATHSIG = 2


def lost(item: int, reason: str) -> str:
    return f"lost {item}: {reason}"


def never_lost(item: int, reason: str) -> NoReturn:
    raise AssertionError(f"lost {item}: {reason}")


def tens_but_three_kills_its_worker(n: int) -> int | str:
    if n == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return n * 10


def kills_its_worker(n: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return n


def fails_on_two(n: int) -> int:
    if n == 2:
        raise RenderError(service="svc-two", reason="no such template")
    return n


def what_a_worker_is(_n: int) -> tuple[int, int, int, str]:
    """Sends itself SIGTERM and SIGINT, then says its session, pid, death signal, tempdir."""
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    death = ctypes.c_int()
    ctypes.CDLL(None).prctl(_PR_GET_PDEATHSIG, ctypes.byref(death), 0, 0, 0)
    return os.getsid(0), os.getpid(), death.value, tempfile.gettempdir()


def test_a_killed_worker_loses_its_job_only_and_the_others_all_run() -> None:
    seen: list[int | str] = []
    run = in_parallel(tens_but_three_kills_its_worker, list(range(8)), 2, seen.append, lost=lost)
    assert run.results == (0, 10, 20, "lost 3: worker killed by signal 9", 40, 50, 60, 70)
    assert sorted(map(str, seen)) == sorted(map(str, run.results))
    assert run.interrupted is None


def test_every_worker_killed_still_ends_the_run_with_every_job_lost() -> None:
    run = in_parallel(kills_its_worker, [1, 2, 3, 4, 5], 2, lost=lost)
    assert run.results == tuple(lost(n, "worker killed by signal 9") for n in [1, 2, 3, 4, 5])


def test_an_error_in_a_job_is_raised_with_its_class_attributes_and_traceback() -> None:
    with pytest.raises(RenderError) as raised:
        in_parallel(fails_on_two, list(range(6)), 2, lost=lost)
    assert str(raised.value) == "service 'svc-two': render failed: no such template"
    assert raised.value.service == "svc-two"
    assert "in fails_on_two" in str(raised.value.__cause__)


def test_workers_have_a_session_of_their_own_ignore_stop_signals_and_die_with_the_parent() -> None:
    run = in_parallel(what_a_worker_is, [1, 2, 3], 2, lost=never_lost)
    sessions = {session for session, _, _, _ in run.results}
    assert all(session == pid for session, pid, _, _ in run.results)  # each leads its session
    assert os.getsid(0) not in sessions
    assert {death for _, _, death, _ in run.results} == {signal.SIGKILL}
    scratch = {tempdir for _, _, _, tempdir in run.results}
    assert len(scratch) == 1
    directory = Path(scratch.pop())
    assert directory.name.startswith("fleetform-run-")
    assert not directory.exists()  # removed with the run


@pytest.mark.parametrize("workers", [1, 2])
def test_the_handlers_before_the_run_are_back_after_it(workers: int) -> None:
    def mine(_signum: int, _frame: object) -> None:
        raise AssertionError("not called")

    interrupt = signal.getsignal(signal.SIGINT)
    before = signal.signal(signal.SIGTERM, mine)
    try:
        in_parallel(abs, [1, 2, 3], workers, lost=lost)
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is interrupt
    finally:
        signal.signal(signal.SIGTERM, before)


# ---- a run in a child process, its jobs held by the test

CHILD = """
import json, os, subprocess, sys
from generator.parallel import in_parallel

started, release, workers = (int(arg) for arg in sys.argv[1:])

def job(n):
    # Like git's receive-pack under a push, a process of the job's own started by a shell
    # (which clears the blocked signals it was born with): it reads until the test lets go.
    held = subprocess.Popen(["sh", "-c", "cat"], stdin=release, stdout=subprocess.DEVNULL)
    os.write(started, f"{n} {os.getpid()}\\n".encode())
    code = held.wait()
    return n * 10 if code == 0 else f"job {n}: its child ended with {code}"

run = in_parallel(job, list(range(6)), workers, lost=lambda n, why: why)
print(json.dumps({"results": list(run.results), "interrupted": run.interrupted}))
"""


@dataclass
class Child:
    """`in_parallel` over six held jobs in a child Python process (its own process group)."""

    process: subprocess.Popen[str]
    workers: int
    started: IO[str]  # a line `N PID` per job started, EOF when every process of the run ended
    release: int | None  # closing it lets every held job finish

    def next_start(self) -> tuple[int, int]:
        item, pid = self.started.readline().split()
        return int(item), int(pid)

    def let_go(self) -> None:
        if self.release is not None:
            os.close(self.release)
            self.release = None

    def finish(self) -> tuple[dict[str, object], str]:
        self.let_go()
        out, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0
        return json.loads(out), self.started.read()


@pytest.fixture
def child(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Child]:
    workers: int = request.param
    started_r, started_w = os.pipe()
    release_r, release_w = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(started_w), str(release_r), str(workers)],
        pass_fds=(started_w, release_r),
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # a killed run leaves its scratch here
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    os.close(started_w)
    os.close(release_r)
    with os.fdopen(started_r) as started:
        run = Child(process, workers, started, release_w)
        yield run
    run.let_go()  # a failed test's held `cat`s end too
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    ("child", "signum", "to_group"),
    [
        (2, signal.SIGTERM, False),
        (2, signal.SIGINT, True),  # a Ctrl-C reaches the whole foreground process group
        (1, signal.SIGTERM, False),
        (1, signal.SIGINT, True),
    ],
    indirect=["child"],
    ids=["workers-sigterm", "workers-ctrl-c", "serial-sigterm", "serial-ctrl-c"],
)
def test_a_signal_lets_the_jobs_in_flight_finish_and_starts_no_other(
    child: Child, signum: int, to_group: bool
) -> None:
    items = sorted(child.next_start()[0] for _ in range(child.workers))
    assert items == list(range(child.workers))  # the jobs in flight
    if to_group:
        os.killpg(child.process.pid, signum)
    else:
        os.kill(child.process.pid, signum)
    # The signal is pending in the main process before any job can finish; the jobs' own
    # children are not hit either (`cat` would end by SIGINT).
    result, later = child.finish()
    assert result == {"results": [n * 10 for n in items], "interrupted": signum}
    assert later == ""  # no job started after the signal


@pytest.mark.parametrize("child", [2], indirect=True)
def test_no_worker_outlives_a_killed_main_process(child: Child) -> None:
    workers = [child.next_start()[1] for _ in range(2)]
    exits = [os.pidfd_open(pid) for pid in workers]  # readable once the process has ended
    try:
        child.process.kill()
        child.process.wait()
        # The held jobs wait on a pipe the test still holds: only their death signal ends them.
        for pidfd in exits:
            assert select.select([pidfd], [], [], 30)[0] == [pidfd], "a worker is still alive"
    finally:
        for pidfd in exits:
            os.close(pidfd)
