"""A scratch copy of a repository for Copier to update, and what it then changed.

`copier update` rewrites the work tree and index of the repository it runs in, one file at a
time. fleetform lets it work on a clone at the same HEAD inside the workspace's staging
(`git clone --shared`: objects borrowed, a configuration and hooks of fleetform's own), and
then reads off the result as a `Change` for `generator.fleet.apply`: the paths whose content
changed, and the index entries (conflict stages included) that differ from HEAD, with the
objects they need copied into the repository first.
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.errors import UnsafePathError, UpdateFailedError
from generator.fleet.apply import Change
from generator.fleet.confine import confined, kind, read_regular
from generator.git import git, git_bytes

_ZERO = "0" * 40


def clone(repo: Path, dest: Path) -> None:
    """`dest`: a clone of `repo` at its HEAD, sharing its objects, with its core.fileMode."""
    # Absolute: git resolves relative paths against `-C repo`, not against the caller's cwd.
    source, target = str(repo.absolute()), str(dest.absolute())
    cloned = git(repo, "clone", "--shared", "--quiet", "--template=", "--", source, target)
    if cloned.returncode != 0:
        raise UpdateFailedError(reason=f"git clone of the repository: {cloned.stderr.strip()}")
    heads = [git(path, "rev-parse", "--verify", "HEAD").stdout.strip() for path in (repo, dest)]
    if heads[0] != heads[1] or not heads[0]:
        raise UpdateFailedError(reason=f"the scratch copy is at {heads[1]}, not at HEAD {heads[0]}")
    # Copier syncs executable bits into the index only where core.fileMode is false.
    mode = git(repo, "config", "--type=bool", "--get", "core.fileMode").stdout.strip()
    if mode:
        git(dest, "config", "core.fileMode", mode)


def changes(scratch: Path, repo: Path) -> tuple[Change, list[tuple[str, str]]]:
    """What the update did in `scratch`, as a Change for `repo`, and its `git status`.

    The objects the index entries name are copied into `repo` here (harmless if the change is
    never applied: unreferenced objects are what git collects).
    """
    status = _status(scratch)
    moves = {path for _, path in status if os.path.lexists(scratch / path)}
    # git does not list what it ignores, nor a mode change under core.fileMode=false; Copier
    # in place would still have written those files, so they move too.
    moves |= {path for path in _work_tree(scratch) if _differs(scratch, repo, path)}
    removals = tuple(path for _, path in status if not os.path.lexists(scratch / path))
    index, objects = _index_changes(scratch)
    if objects:
        _copy_objects(scratch, repo, objects)
    return Change(moves=tuple(sorted(moves)), removals=removals, index=index), status


def _work_tree(root: Path) -> list[str]:
    """Every file and link under `root` but its `.git`, relative, POSIX."""
    found = []
    for folder, directories, files in os.walk(root):
        if Path(folder) == root:
            directories[:] = [d for d in directories if d != ".git"]
        base = Path(folder).relative_to(root)
        found += [(base / name).as_posix() for name in files]
        found += [
            (base / name).as_posix() for name in directories if (Path(folder) / name).is_symlink()
        ]
    return found


def _differs(scratch: Path, repo: Path, path: str) -> bool:
    """Whether the repository's `path` is not already the scratch's: kind, bytes, link, mode.

    A path through a link in the repository differs (applying it is then refused).
    """
    new = scratch / path
    try:
        old = confined(repo, path, source="the repository's files")
    except UnsafePathError:
        return True
    if kind(new) != kind(old):
        return True
    if kind(new) == "link":
        return new.readlink() != old.readlink()
    if read_regular(new) != read_regular(old):
        return True
    return (new.lstat().st_mode & 0o111 != 0) != (old.lstat().st_mode & 0o111 != 0)


def _status(repo: Path) -> list[tuple[str, str]]:
    """`git status` of every changed path, untracked files one by one, renames as two."""
    out = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
    entries = [entry for entry in out.stdout.split("\0") if len(entry) > 3]
    return sorted(((entry[:2], entry[3:]) for entry in entries), key=lambda item: item[1])


def _index_changes(scratch: Path) -> tuple[str, set[str]]:
    """`update-index --index-info` input that makes an index at HEAD equal scratch's index."""
    raw = git(scratch, "diff-index", "--cached", "-z", "--no-renames", "HEAD").stdout
    fields = raw.split("\0")
    lines: list[str] = []
    kept: list[str] = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        status = meta.rsplit(" ", 1)[-1]
        if status in ("D", "U"):
            lines.append(f"0 {_ZERO}\t{path}")  # drop the entry (or its stage 0) first
        if status != "D":
            kept.append(path)
    objects: set[str] = set()
    if kept:
        staged = git(scratch, "ls-files", "--stage", "-z", "--", *kept).stdout
        for entry in filter(None, staged.split("\0")):
            head, path = entry.split("\t", 1)
            mode, sha, stage = head.split()
            lines.append(f"{mode} {sha} {stage}\t{path}")
            objects.add(sha)
    return "".join(f"{line}\n" for line in lines), objects


def _copy_objects(scratch: Path, repo: Path, objects: set[str]) -> None:
    pack = git_bytes(scratch, "pack-objects", "--stdout", input="\n".join(sorted(objects)).encode())
    if pack.returncode != 0:
        raise UpdateFailedError(reason=f"git pack-objects: {pack.stderr.decode().strip()}")
    unpacked = git_bytes(repo, "unpack-objects", "-q", input=pack.stdout)
    if unpacked.returncode != 0:
        raise UpdateFailedError(reason=f"git unpack-objects: {unpacked.stderr.decode().strip()}")
