"""Applying a finished change to a repository under a journal, and finishing an interrupted one.

A change (from `generate` or `update`) is complete in the staging before the repository is
touched. The journal then names every move, backup and removal; the moves are renames with no
process started between them; the journal goes last. A run killed at any point leaves the
repository as it was (no journal yet) or a journal the next run replays to the end: each step
is idempotent, so a replay after a replay is harmless.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import UpdateFailedError
from generator.fleet.confine import confined, kind
from generator.fleet.workspace import Workspace
from generator.git import git

BACKUP_SUFFIX = ".pre-fleetform"
_FILES = "files"  # the staged content, laid out as in the repository


@dataclass(frozen=True)
class Change:
    """What to do to a repository whose new content lies in `staging/files/<name>`.

    `whole`: the repository does not exist yet and the staged tree becomes it.
    `backups`: names whose present file (or link) is kept as `<name>.pre-fleetform` first.
    `index`: input for `git update-index --index-info` once the files are in place.
    """

    moves: tuple[str, ...] = ()
    backups: tuple[str, ...] = ()
    removals: tuple[str, ...] = ()
    index: str = ""
    whole: bool = False


def staged_files(staging: Path) -> Path:
    """Where a change's new content goes before it is applied."""
    return staging / _FILES


def apply(workspace: Workspace, repo_name: str, repo: Path, staging: Path, change: Change) -> None:
    """Apply `change` to `repo` from `staging` under the journal, then drop the staging."""
    entry = {
        "repo": repo_name,
        "staging": staging.relative_to(workspace.state).as_posix(),
        "moves": list(change.moves),
        "backups": list(change.backups),
        "removals": list(change.removals),
        "index": change.index,
        "whole": change.whole,
    }
    workspace.write_journal(repo_name, entry)
    _replay(workspace, repo, entry)
    workspace.end_journal(repo_name)
    workspace.clear_staging(repo_name)


def recover(workspace: Workspace, repo_name: str, repo: Path) -> str:
    """Finish what an interrupted run left for `repo`; a note saying what was done, or ""."""
    entry = workspace.read_journal(repo_name)
    if entry is None:
        if workspace.clear_staging(repo_name):
            return "removed what an interrupted run had staged (the repository was untouched)"
        return ""
    if entry:
        _replay(workspace, repo, entry)
        note = "finished applying the change an interrupted run had started"
    else:
        note = "discarded an unreadable journal of an interrupted run"
    workspace.end_journal(repo_name)
    workspace.clear_staging(repo_name)
    return note


def _replay(workspace: Workspace, repo: Path, entry: dict[str, Any]) -> None:
    staged = staged_files(workspace.state / str(entry["staging"]))
    source = ".fleetform journal"
    if entry.get("whole"):
        if kind(staged) == "directory" and kind(repo) == "missing":
            repo.parent.mkdir(parents=True, exist_ok=True)
            staged.replace(repo)
        return
    for name in entry.get("backups", []):
        if os.path.lexists(staged.joinpath(*name.split("/"))):  # not yet replaced
            _back_up(confined(repo, name, source=source), staged)
    for name in entry.get("moves", []):
        content = staged.joinpath(*name.split("/"))
        if os.path.lexists(content):
            target = confined(repo, name, source=source)
            target.parent.mkdir(parents=True, exist_ok=True)
            content.replace(target)  # a link at the target is replaced, never followed
    for name in entry.get("removals", []):
        target = confined(repo, name, source=source)
        if kind(target) in ("file", "link"):
            target.unlink()
    if entry.get("index"):
        _update_index(repo, str(entry["index"]))


def _back_up(target: Path, staged: Path) -> None:
    """Keep `target` (a file, or a link as a link) as `<target>.pre-fleetform`."""
    backup = target.with_name(target.name + BACKUP_SUFFIX)
    temporary = staged.parent / "backup.tmp"
    if os.path.lexists(temporary):
        temporary.unlink()
    shutil.copy2(target, temporary, follow_symlinks=False)
    temporary.replace(backup)


def _update_index(repo: Path, index: str) -> None:
    _clear_stale_index_lock(repo)
    result = git(repo, "update-index", "--index-info", input=index)
    if result.returncode != 0:
        raise UpdateFailedError(reason=f"git update-index: {result.stderr.strip()}")


def _clear_stale_index_lock(repo: Path) -> None:
    """A run killed inside `git update-index` leaves `.git/index.lock`; remove it when no
    process has it open (only here: this repository has a journal of fleetform's)."""
    lock = repo / ".git" / "index.lock"
    if kind(lock) == "file" and not _held_open(lock):
        lock.unlink()


def _held_open(path: Path) -> bool:
    wanted = str(path.resolve())
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [str(fd.readlink()) for fd in fd_dir.iterdir()]
        except OSError:
            continue
        if wanted in links:
            return True
    return False
