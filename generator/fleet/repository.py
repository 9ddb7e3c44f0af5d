"""The git state of a service repository: can it be updated, what changed, what conflicts."""

from __future__ import annotations

from pathlib import Path

from generator.fleet.confine import kind
from generator.fleet.recorded import ANSWERS_FILE
from generator.git import git

# `git status` codes of a path whose merge is unresolved.
_UNMERGED = frozenset({"DD", "AU", "UD", "UA", "DU", "AA", "UU"})


_MARKER = b"<<<<<<< "


def not_updatable(repo: Path) -> str:
    """Why `repo` cannot be updated at all, or "" (whether it is clean is checked later)."""
    if not repo.is_dir():
        return f"no repository at {repo} (fleetform generate creates it)"
    if kind(repo / ".git") not in ("directory", "missing"):
        # A .git file or link names a git directory elsewhere: outside the repository.
        return "its .git is not a directory of its own (a link, a worktree or a submodule)"
    # One call for both: exit 1 (with the top level printed) when there is no commit yet.
    top = git(repo, "rev-parse", "--show-toplevel", "--verify", "--quiet", "HEAD")
    if top.returncode not in (0, 1):
        return "not a git repository (copier update needs one: git init, then commit)"
    toplevel = top.stdout.splitlines()[0] if top.stdout else ""
    if Path(toplevel).resolve() != repo.resolve():
        return f"not a git repository of its own (it is inside {toplevel})"
    if top.returncode != 0:
        return "no commit yet (commit the generated files first)"
    if not (repo / ANSWERS_FILE).is_file():
        return f"no {ANSWERS_FILE}: not generated from the template"
    return ""


def status(repo: Path) -> list[tuple[str, str]]:
    """`git status` of every changed path, untracked files one by one."""
    out = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    entries = out.split("\0")
    status: list[tuple[str, str]] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            i += 1  # the original path of a rename or copy follows
        status.append((code, path))
    return sorted(status, key=lambda item: item[1])


def uncommitted(repo: Path) -> list[str]:
    return [path for _, path in status(repo)]


def conflicts(repo: Path, status: list[tuple[str, str]]) -> tuple[str, ...]:
    found = set()
    for code, path in status:
        file = repo / path
        if code in _UNMERGED or path.endswith(".rej") or (file.is_file() and has_marker(file)):
            found.add(path)
    return tuple(sorted(found))


def has_marker(file: Path) -> bool:
    data = file.read_bytes()
    return data.startswith(_MARKER) or b"\n" + _MARKER in data


def head(repo: Path) -> str:
    """The commit HEAD names ("" when there is none)."""
    return git(repo, "rev-parse", "--verify", "--quiet", "HEAD").stdout.strip()
