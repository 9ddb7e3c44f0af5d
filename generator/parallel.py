"""Run one job per service in worker processes: results in order, template clones cleaned.

Each process keeps its template clone and Jinja environment for the whole run
(`generator.fleet.copier_worker`); they are released when the run ends.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def in_parallel(
    work: Callable[[_T], _R],
    items: Sequence[_T],
    workers: int,
    progress: Callable[[_R], None] | None = None,
) -> list[_R]:
    """`work` over `items` in up to `workers` processes; `progress` sees each result."""
    results: list[_R] = []

    def done(result: _R) -> None:
        results.append(result)
        if progress is not None:
            progress(result)

    if workers <= 1 or len(items) <= 1:
        try:
            for item in items:
                done(work(item))
        finally:
            _release_clones()
        return results
    # Pool processes end without running atexit hooks: their clones go into a directory of
    # this run, removed afterwards.
    scratch = tempfile.mkdtemp(prefix="fleetform-run-")
    workers = min(workers, len(items))
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_use_tempdir, initargs=(scratch,))
    # Chunks amortise the hand-over per job over a large fleet; small enough to keep
    # both workers busy to the end.
    chunk = max(1, len(items) // (workers * 4))
    try:
        for result in pool.map(work, items, chunksize=chunk):
            done(result)
    finally:
        pool.shutdown(cancel_futures=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def _release_clones() -> None:
    # Only if rendering happened in this process: importing copier just to release is slow.
    module = sys.modules.get("generator.fleet.copier_worker")
    if module is not None:
        module.release()


def _use_tempdir(path: str) -> None:
    tempfile.tempdir = path
