"""fleetform's own state in a workspace: `WORKSPACE/.fleetform/` (locks, staging, journals).

| path | what it is |
| --- | --- |
| `locks/<key>.lock` | one process per repository: an `flock`, dropped when its holder dies |
| `stage/<key>/` | renders and scratch copies of the run working on that repository |
| `journal/<key>.json` | the moves of a change being applied to that repository |
| `tmp/<run>/` | the temporary files of one run (Copier's included), held by `tmp/<run>.lock` |

Nothing of this lives inside a repository. `<key>` names a repository's path without
slashes. The staging is on the workspace's file system, so moving a finished render into a
repository is a rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import LockedError, UsageError, WriteError
from generator.files import write_atomically

STATE_DIR = ".fleetform"
# How long a second run waits for a repository another run holds before refusing it
# (FLEETFORM_LOCK_WAIT overrides it, e.g. 0 in CI jobs that must never wait).
LOCK_WAIT_SECONDS = float(os.environ.get("FLEETFORM_LOCK_WAIT", "5"))


@dataclass(frozen=True)
class Workspace:
    """The workspace root and fleetform's state folder in it."""

    root: Path

    @classmethod
    def open(cls, root: Path) -> Workspace:
        """The workspace at `root`, created if missing; WriteError when it cannot be."""
        workspace = cls(root)
        for folder in ("locks", "stage", "journal", "tmp"):
            path = workspace.state / folder
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WriteError(path=path, reason=exc.strerror or str(exc)) from exc
            if path.is_symlink() or not path.is_dir():
                raise WriteError(path=path, reason="is not a directory fleetform made")
        if not os.access(workspace.state / "stage", os.W_OK):
            raise WriteError(path=workspace.state, reason="not writable")
        workspace._remove_dead_runs_files()
        return workspace

    @contextlib.contextmanager
    def temporary_files(self) -> Iterator[Path]:
        """Make this run's temporary files (Copier's too) live in `tmp/<run>/` while it lasts.

        A run killed outright cannot remove them; the next run finds them unlocked and does.
        """
        # Absolute: Copier and git run in other directories than this process.
        folder = (self.state / "tmp").resolve() / f"{os.getpid()}-{secrets.token_hex(4)}"
        lock = folder.with_suffix(".lock")
        previous = tempfile.tempdir
        # The lock first: a folder whose lock nobody holds is a dead run's.
        with hold(lock, what=str(folder), wait=0):
            folder.mkdir()
            tempfile.tempdir = str(folder)
            try:
                yield folder
            finally:
                tempfile.tempdir = previous
                shutil.rmtree(folder, ignore_errors=True)
                lock.unlink(missing_ok=True)

    def _remove_dead_runs_files(self) -> None:
        for lock in (self.state / "tmp").glob("*.lock"):
            try:
                with hold(lock, what=str(lock), wait=0):
                    shutil.rmtree(lock.with_suffix(""), ignore_errors=True)
                    lock.unlink(missing_ok=True)
            except (LockedError, WriteError):
                continue  # a live run's

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    def staging(self, repo: str) -> Path:
        """An empty staging folder for `repo` (hold its lock first)."""
        path = self.state / "stage" / key(repo)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def clear_staging(self, repo: str) -> bool:
        """Remove what a run left in `repo`'s staging; whether there was anything."""
        path = self.state / "stage" / key(repo)
        if not path.exists():
            return False
        shutil.rmtree(path, ignore_errors=True)
        return True

    def journal(self, repo: str) -> Path:
        return self.state / "journal" / f"{key(repo)}.json"

    def read_journal(self, repo: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.journal(repo).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: the caller rolls back what it can
        return data if isinstance(data, dict) else {}

    def write_journal(self, repo: str, entry: dict[str, Any]) -> None:
        write_atomically(self.journal(repo), json.dumps(entry, indent=1) + "\n")

    def end_journal(self, repo: str) -> None:
        self.journal(repo).unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, repo: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
        """Hold `repo`'s lock, waiting up to `wait` seconds; LockedError naming the holder."""
        with hold(self.state / "locks" / f"{key(repo)}.lock", what=repo, wait=wait):
            yield


def require_workspace(root: Path) -> None:
    """One line (UsageError, exit 2) for a workspace that is not there, before any of its
    repositories is looked at; what cannot be written is `Workspace.open`'s to say."""
    try:
        root.stat()
    except FileNotFoundError:
        raise UsageError(
            message=f"no workspace at {root} (fleetform generate -w {root} creates one)"
        ) from None
    except OSError:
        return


def run_files(root: Path, *, dry_run: bool) -> contextlib.AbstractContextManager[object]:
    """A run that writes keeps its temporary files in the workspace, so a killed run's are
    found and removed by the next; a dry run writes nothing there. A workspace that cannot be
    written is one error (WriteError, exit 2) before any repository is touched."""
    if dry_run:
        return contextlib.nullcontext()
    return Workspace.open(root).temporary_files()


def key(repo: str) -> str:
    """A file name for a repository path: readable, unique, without slashes."""
    digest = hashlib.sha256(repo.encode("utf-8")).hexdigest()[:12]
    return f"{repo.rsplit('/', 1)[-1][:60]}-{digest}"


@contextlib.contextmanager
def hold(path: Path, *, what: str, wait: float) -> Iterator[None]:
    """An exclusive `flock` on `path`: a lock file (created if missing, never written) or a
    directory (nothing created in it).

    The kernel releases the lock when the holding process ends, however it ends, so a
    killed run never leaves a lock behind; it also knows the holder (`/proc/locks`).
    """
    flags = os.O_RDONLY | os.O_DIRECTORY if path.is_dir() else os.O_RDWR | os.O_CREAT
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise WriteError(path=path, reason=exc.strerror or str(exc)) from exc
    try:
        _acquire(fd, what, wait)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, what: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    delay = 0.02
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockedError(what=what, pid=_holder(fd)) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _holder(fd: int) -> int | None:
    """The pid holding an flock on the file of `fd`, as the kernel lists it."""
    info = os.fstat(fd)
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF" (blocked waiters start with "->")
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            return int(fields[4]) if fields[4].isdigit() else None
    return None
