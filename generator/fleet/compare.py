"""A rendered tree against a repository: which files are new, changed, as they are, no longer
rendered, or not fleetform's to overwrite; and the unified diff between them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from generator.fleet.manifest import digest, read_manifest


@dataclass(frozen=True)
class FileChanges:
    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return bool(self.created or self.changed or self.removed or self.foreign)


def same_file(a: Path, b: Path) -> bool:
    if a.read_bytes() != b.read_bytes():
        return False
    return (a.stat().st_mode & 0o111 != 0) == (b.stat().st_mode & 0o111 != 0)


def compare(files: list[str], rendered: Path, repo: Path) -> FileChanges:
    """Sort each rendered file into created / changed / unchanged / foreign for `repo`."""
    manifest = read_manifest(repo)
    created, changed, unchanged, foreign = [], [], [], []
    for name in files:
        target = repo / name
        if not target.exists():
            created.append(name)
        elif same_file(target, rendered / name):
            unchanged.append(name)
        elif manifest.get(name) == digest(target):
            changed.append(name)
        else:
            foreign.append(name)
    removed = [
        name
        for name, recorded in sorted(manifest.items())
        if name not in files and (repo / name).is_file() and digest(repo / name) == recorded
    ]
    return FileChanges(
        tuple(created), tuple(changed), tuple(unchanged), tuple(removed), tuple(foreign)
    )


def unified_diff(changes: FileChanges, rendered: Path, repo: Path) -> str:
    chunks: list[str] = []
    for name in (*changes.created, *changes.changed, *changes.foreign):
        old = (
            (repo / name).read_text(errors="replace").splitlines() if (repo / name).exists() else []
        )
        new = (rendered / name).read_text(errors="replace").splitlines()
        chunks.extend(difflib.unified_diff(old, new, f"a/{name}", f"b/{name}", lineterm=""))
    for name in changes.removed:
        old = (repo / name).read_text(errors="replace").splitlines()
        chunks.extend(difflib.unified_diff(old, [], f"a/{name}", "/dev/null", lineterm=""))
    return "\n".join(chunks) + ("\n" if chunks else "")
