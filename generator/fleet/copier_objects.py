"""Where `copier update`'s git finds objects: the name Copier asks git for, given without a
process where git's answer is known.

Copier's update borrows objects between its two throwaway repositories and the destination
(`copier._tools.set_git_alternates`), asking `git rev-parse --git-path objects` of each, five
processes an update. All three are repositories fleetform or Copier made with `git init` or
`git clone`, whose objects are in `.git/objects`; this module answers so when git would, and
asks git otherwise. copier_worker imports it; Copier is pinned below 10 for this and the
rest of copier_worker's reaching in.
"""

from __future__ import annotations

import os
from pathlib import Path

from copier import _main as copier_main
from copier import _tools as copier_tools
from plumbum import local

from generator.fleet.confine import kind


def known_objects_folder(repo: Path) -> Path | None:
    """`repo`'s objects folder where git's answer is known without asking it: a repository
    whose `.git` is a folder of its own (not a worktree's link file, no `commondir`, no link)
    and no variable pointing git elsewhere keeps its objects in `.git/objects`; else None."""
    dot_git = repo / ".git"
    if (
        not any(name in os.environ for name in ("GIT_DIR", "GIT_OBJECT_DIRECTORY"))
        and kind(dot_git) == "directory"
        and kind(dot_git / "objects") == "directory"
        and kind(dot_git / "commondir") == "missing"
    ):
        return (dot_git / "objects").absolute()
    return None


def _objects_folder(path: Path) -> Path:
    """`copier._tools.get_git_objects_dir`, without a git process where git's answer is
    known. Copier asks five times an update, for its two throwaway repositories and the
    destination, all of them made by fleetform or Copier."""
    known = known_objects_folder(Path(str(local.cwd), path))
    return known if known is not None else copier_tools.get_git_objects_dir(path)


def _set_git_alternates(*repos: Path, path: Path = Path()) -> None:
    """`copier._tools.set_git_alternates`, with `_objects_folder` for each repository."""
    alternates = _objects_folder(path) / "info" / "alternates"
    alternates.parent.mkdir(parents=True, exist_ok=True)
    alternates.write_bytes(b"\n".join(bytes(_objects_folder(repo)) for repo in repos))


# `copier._main` calls it by its module-level name, in `_apply_update` (one method of ~200
# lines); replacing that name is the only way in (copier is pinned below 10 for it).
setattr(copier_main, "set_git_alternates", _set_git_alternates)  # noqa: B010
