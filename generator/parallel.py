"""Run one job per service in worker processes: results in order, a dead worker's job reported,
SIGINT and SIGTERM stopping the run between jobs.

`concurrent.futures.ProcessPoolExecutor` breaks as a whole when one worker dies
(`BrokenProcessPool`, no word of which job it had), and its workers block forever when the
main process is killed. So fleetform forks its workers itself: each gets one job at a time over
its own pipe, and the main process waits on those pipes and on the workers' sentinels, so it
knows which job a dead worker held. That job's result is `lost(item, reason)`, a replacement
worker takes the next job, and every other job still runs.

A worker
- starts a session of its own (`setsid`): a Ctrl-C or a hang-up at the terminal reaches the
  main process only, which decides; the worker's git and Copier children are not hit either,
  and with no controlling terminal nothing they run can stop the run waiting on a prompt;
- ignores SIGINT and SIGTERM sent to it anyway (`kill PID`, `pkill fleetform`): a job once
  started finishes. Its children inherit the ignoring (it is `SIG_IGN`, kept across exec);
- never outlives the main process: on Linux the kernel sends it SIGKILL when the main process
  dies (`PR_SET_PDEATHSIG`), and it exits when its job pipe reaches EOF;
- keeps its own template clones and Jinja environments (`generator.fleet.copier_worker`) for
  the run in a scratch directory of it, removed afterwards even when the worker was killed.

In the main process SIGINT and SIGTERM, while `in_parallel` runs, stop the handing out of jobs:
the jobs in flight finish and `in_parallel` returns the results so far with the signal
(`RunResult.interrupted`); the previous handlers are back afterwards. A run in this process
(one worker, or one item) behaves the same: the signals are held while a job runs, its
children born ignoring them (`_Stop.held`), and it stops after it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, Generic, TypeVar

from generator.git import forget

_T = TypeVar("_T")
_R = TypeVar("_R")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PR_SET_PDEATHSIG = 1
# Forked, not spawned: a worker starts in milliseconds (a replacement too), `work` and the
# items need no import by name, the parent of a worker is this process (which is what
# PR_SET_PDEATHSIG watches), and `python -m generator` is not run again as `__mp_main__`.
_CONTEXT = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class RunResult(Generic[_R]):
    """What a run gave: `results[i]` is the result of `items[i]`.

    `interrupted` is the signal (SIGINT, SIGTERM) that stopped the run, else None. Every job
    the run started has its result, so `results` is then the first `len(results)` items'
    and the items after them were never started. A signal that came while the last jobs ran
    is still reported (with every result there): the caller was asked to stop.
    """

    results: tuple[_R, ...]
    interrupted: int | None = None

    def not_started(self, items: Sequence[_T]) -> Sequence[_T]:
        """The items of the run that no job was started for (none unless interrupted)."""
        return items[len(self.results) :]


def in_parallel(
    work: Callable[[_T], _R],
    items: Sequence[_T],
    workers: int,
    progress: Callable[[_R], None] | None = None,
    *,
    lost: Callable[[_T, str], _R],
) -> RunResult[_R]:
    """`work` over `items` in up to `workers` processes; `progress` sees each result.

    A worker that dies holding an item gives it `lost(item, reason)`, where the reason is
    `worker killed by signal N` (or `worker killed`). Items and results go through pipes:
    they must pickle. An exception `work` raises is raised here, with the worker's traceback
    as its cause, once the jobs in flight have finished.
    """
    # Every fleet run passes here: what repositories configure is read afresh for each run.
    forget()
    with _Stop() as stop:
        if workers <= 1 or len(items) <= 1:
            results = _in_this_process(work, items, progress, stop)
        else:
            results = _in_workers(work, items, min(workers, len(items)), progress, lost, stop)
    return RunResult(tuple(results), stop.signum)


def _in_this_process(
    work: Callable[[_T], _R],
    items: Sequence[_T],
    progress: Callable[[_R], None] | None,
    stop: _Stop,
) -> list[_R]:
    results: list[_R] = []
    try:
        for item in items:
            if stop.signum is not None:
                break
            with stop.held():
                result = work(item)
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        _release_clones()
    return results


def _in_workers(
    work: Callable[[_T], _R],
    items: Sequence[_T],
    size: int,
    progress: Callable[[_R], None] | None,
    lost: Callable[[_T, str], _R],
    stop: _Stop,
) -> list[_R]:
    # Workers end without running atexit hooks, and a killed one cleans nothing: their
    # clones go into a directory of this run, removed afterwards.
    scratch = tempfile.mkdtemp(prefix="fleetform-run-")
    try:
        return _Pool(work, items, progress, lost, stop, scratch).run(size)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _Stop:
    """SIGINT and SIGTERM taken as "stop once the jobs in flight are done" while a run is on.

    Only the main thread can install handlers; elsewhere the signals keep theirs. A signal
    that was ignored when the run began (`command &` in a script ignores SIGINT) stays ignored.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, previous in self._previous.items():
            # None: a handler not installed from Python, which cannot be put back.
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum

    @contextmanager
    def held(self) -> Iterator[None]:
        """The stop signals kept from this thread and the processes it starts; one that comes
        meanwhile is recorded when the block ends. Blocked (pending, on Linux even if ignored)
        and ignored: a shell clears the mask it is born with (git starts receive-pack, hooks...
        through `sh -c`), and a Ctrl-C reaches the whole foreground process group."""
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        # SIG_IGN drops a pending one: taken first (one in between, microseconds, is missed).
        for signum in signal.sigpending() & set(self._previous):
            self._record(signum, None)
        handlers = {signum: signal.signal(signum, signal.SIG_IGN) for signum in self._previous}
        try:
            yield
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@dataclass(eq=False)  # each worker is itself: hashed by identity
class _Worker:
    process: BaseProcess
    conn: Connection
    job: int | None = None  # the index of the item it holds


@dataclass
class _Pool(Generic[_T, _R]):
    """Forked workers, one job each at a time, and which job each one holds."""

    work: Callable[[_T], _R]
    items: Sequence[_T]
    progress: Callable[[_R], None] | None
    lost: Callable[[_T, str], _R]
    stop: _Stop
    scratch: str
    results: dict[int, _R] = field(default_factory=dict)
    handed: int = 0  # items[:handed] have been handed out, the rest not
    busy: list[_Worker] = field(default_factory=list)
    retired: list[BaseProcess] = field(default_factory=list)

    def run(self, size: int) -> list[_R]:
        try:
            for _ in range(size):
                self._start()
            while self.busy:
                self._wait()
        finally:
            # Workers see EOF once their job is done (a job in flight finishes), then exit.
            for worker in self.busy:
                worker.conn.close()
            for process in [*self.retired, *(w.process for w in self.busy)]:
                process.join()
        return [self.results[i] for i in range(self.handed)]

    def _more(self) -> bool:
        return self.handed < len(self.items) and self.stop.signum is None

    def _start(self) -> None:
        if not self._more():
            return
        ours, theirs = _CONTEXT.Pipe()
        # A forked worker holds copies of every pipe end of this process: it closes them, so
        # that another worker sees EOF when this process closes its end or dies.
        inherited = [ours, *(w.conn for w in self.busy)]
        process = _CONTEXT.Process(
            target=_serve,
            args=(theirs, inherited, self.work, self.scratch, os.getpid()),
            name="fleetform-worker",
        )
        with self.stop.held():  # until the worker ignores them itself
            process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self.busy.append(worker)
        self._hand(worker)

    def _hand(self, worker: _Worker) -> None:
        worker.job = self.handed
        self.handed += 1
        # A worker that died already never reads it: its sentinel tells, and its job is lost.
        with suppress(OSError):
            worker.conn.send(self.items[worker.job])

    def _wait(self) -> None:
        owners: dict[Connection | int, _Worker] = {}
        for worker in self.busy:
            owners[worker.conn] = worker
            owners[worker.process.sentinel] = worker
        ready = [r for r in wait(list(owners)) if isinstance(r, Connection | int)]
        exited = {owners[r] for r in ready if isinstance(r, int)}
        for worker in dict.fromkeys(owners[r] for r in ready):
            self._collect(worker, exited=worker in exited)

    def _collect(self, worker: _Worker, *, exited: bool) -> None:
        if exited:
            worker.process.join()  # then the pipe holds all it sent, up to EOF
        gone = exited
        message: _Message | None = None
        if worker.conn.poll():
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):  # EOF, or killed halfway through sending
                gone = True
        if message is not None:
            index, worker.job = worker.job, None
            if isinstance(message, _Failure):
                raise message.rebuild()
            assert index is not None
            self._record(index, message.result)
        if gone:
            self._bury(worker)
        elif worker.job is not None:
            pass  # still at work
        elif self._more():
            self._hand(worker)
        else:
            worker.conn.close()
            self.busy.remove(worker)
            self.retired.append(worker.process)

    def _bury(self, worker: _Worker) -> None:
        worker.process.join()
        worker.conn.close()
        self.busy.remove(worker)
        if worker.job is not None:
            self._record(worker.job, self.lost(self.items[worker.job], _death(worker.process)))
        self._start()  # a replacement, if there is a job left to hand out

    def _record(self, index: int, result: _R) -> None:
        self.results[index] = result
        if self.progress is not None:
            self.progress(result)


def _death(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"worker killed by signal {-code}"
    return "worker killed"


# ---- in the worker


@dataclass(frozen=True)
class _Done:
    result: Any


@dataclass(frozen=True)
class _Failure:
    """An exception of a job, made to travel: fleetform's errors take keyword-only arguments,
    which pickling an exception does not give back, so it goes as class, args and attributes."""

    kind: type[BaseException]
    args: tuple[Any, ...]
    state: dict[str, Any]
    trace: str

    @classmethod
    def of(cls, exc: BaseException) -> _Failure:
        trace = "".join(traceback.format_exception(exc))
        failure = cls(type(exc), exc.args, dict(vars(exc)), trace)
        try:
            pickle.loads(pickle.dumps(failure))
        except Exception:  # whatever stops it travelling: its text goes instead
            failure = cls(RuntimeError, (f"{type(exc).__name__}: {exc}",), {}, trace)
        return failure

    def rebuild(self) -> BaseException:
        exc = self.kind.__new__(self.kind, *self.args)
        exc.args = self.args
        vars(exc).update(self.state)
        exc.__cause__ = _WorkerTracebackError(self.trace)
        return exc


class _WorkerTracebackError(Exception):
    """The traceback of an exception raised in a worker, shown as the cause of its copy."""

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'


_Message = _Done | _Failure


def _serve(
    conn: Connection,
    inherited: list[Connection],
    work: Callable[[Any], Any],
    scratch: str,
    parent: int,
) -> None:
    """A worker's life: jobs from `conn` until EOF, a result (or a failure) back for each."""
    _detach(parent)
    _release_clones(inherited=True)
    for other in inherited:
        other.close()
    _use_tempdir(scratch)
    try:
        while True:
            try:
                item = conn.recv()
            except (EOFError, OSError):
                return
            message: _Message
            try:
                message = _Done(work(item))
            except BaseException as exc:  # every failure goes to the main process
                message = _Failure.of(exc)
            if not _send(conn, message):
                return
    finally:
        _release_clones()


def _send(conn: Connection, message: _Message) -> bool:
    """Send a message; False when the main process is gone."""
    try:
        conn.send(message)
    except OSError:
        return False
    except Exception as exc:  # a result that does not pickle: the job failed
        return _send(conn, _Failure.of(exc))
    return True


def _detach(parent: int) -> None:
    """Make this process a worker: a session of its own, the stop signals ignored, and dead
    with the main process."""
    os.setsid()
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked since the fork
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)  # the main process died before the death signal was asked for


def _release_clones(*, inherited: bool = False) -> None:
    # Only if rendering happened here; a forked worker leaves its parent's clones to it.
    module = sys.modules.get("generator.fleet.copier_worker")
    if module is not None:
        module.forget_inherited() if inherited else module.release()


def _use_tempdir(path: str) -> None:
    tempfile.tempdir = path
