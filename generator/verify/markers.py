"""Conflict markers: a file of a rendered or updated tree must not hold any."""

from __future__ import annotations

from pathlib import Path

from generator.conflicts import marker_lines
from generator.problems import Location, Problem
from generator.verify.result import VerifyResult, collect

_TOOL = "conflict markers"


def conflict_markers(root: Path) -> VerifyResult:
    """Every `<<<<<<<`/`>>>>>>>` line of every regular file under `root` (.git aside)."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if _checked(root, p))
    problems = []
    for path in files:
        for line in marker_lines(path.read_bytes()):
            message = f"{_TOOL}: an unresolved merge conflict; resolve it, then commit"
            problems.append(Problem(Location(str(path), line, 1), message))
    return collect(problems, [(_TOOL, str(root))])


def _checked(root: Path, path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and ".git" not in path.relative_to(root).parts
