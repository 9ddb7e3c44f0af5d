"""Confinement: every path taken from repository content stays inside the repository.

A repository's manifest, its answers file and its symlinks are written by people fleetform
does not control. A name from them is used only if it is relative, normalised, free of `..`
and of any `.git` component; and a file is read, replaced or removed only when every
directory between the repository and it is a real directory, never a symlink. A symlink in
the repository is never followed: it is read as "not fleetform's file", and replaced, when
asked, by renaming over the link itself (its target is never touched).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from generator.errors import UnsafePathError


def name_problem(name: str) -> str:
    """Why `name` (relative, POSIX) cannot name a file in a repository, or ""."""
    if not name or "\0" in name:
        return "is not a file name"
    # A POSIX path is absolute exactly when it starts with "/" (no PurePosixPath: this runs
    # for every file of every repository of a no-op generate).
    if name.startswith("/"):
        return "is an absolute path"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "is not a normalised path inside the repository"
    if any(part.casefold() == ".git" for part in parts):
        return "is inside .git"
    return ""


def confined(repo: Path, name: str, *, source: str) -> Path:
    """`repo/name` after checking `name` and that no directory on the way is a link."""
    problem = name_problem(name) or _link_on_the_way(repo, name)
    if problem:
        raise UnsafePathError(source=source, path=name, reason=problem)
    return repo.joinpath(*name.split("/"))


def _link_on_the_way(repo: Path, name: str) -> str:
    directory = repo
    for part in name.split("/")[:-1]:
        directory = directory / part
        try:
            mode = directory.lstat().st_mode
        except FileNotFoundError:
            return ""  # created by fleetform from here on, as real directories
        if stat.S_ISLNK(mode):
            return f"goes through the symlink {directory.relative_to(repo).as_posix()}"
        if not stat.S_ISDIR(mode):
            return f"goes through the file {directory.relative_to(repo).as_posix()}"
    return ""


def kind(path: Path) -> str:
    """ "missing", "file", "link", "directory" or "other", never following a link."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "link"
    return "directory" if stat.S_ISDIR(mode) else "other"


def read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file; None for anything else (a link is never followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            return handle.read()
    finally:
        if fd >= 0:
            os.close(fd)


def repository_dir(root: Path, repo: str) -> Path:
    """`root/repo`, refused when a component is a link or it resolves outside `root`."""
    path = root.joinpath(*repo.split("/"))
    problem = name_problem(repo)
    if not problem and kind(path) == "link":
        problem = "is a symlink"
    problem = problem or _link_on_the_way(root, f"{repo}/x")
    if not problem and path.exists() and not path.resolve().is_relative_to(root.resolve()):
        problem = "resolves outside the workspace"
    if problem:
        raise UnsafePathError(source="workspace", path=repo, reason=problem)
    return path
