"""A rendered tree against a repository: which files are new, changed, as they are, no longer
rendered, or not fleetform's to overwrite; and the unified diff between them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UnsafePathError
from generator.fleet.confine import confined, kind, read_regular
from generator.fleet.manifest import MANIFEST, digest_in_repository, read_manifest


@dataclass(frozen=True)
class FileChanges:
    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    # The owners' (`generator.fleet.owned`) that differ from the render: never written.
    owned: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return bool(self.created or self.changed or self.removed or self.foreign)


def same_file(target: Path, rendered: Path) -> bool:
    """A regular file in the repository with the rendered bytes and executable bit."""
    data = read_regular(target)
    if data is None or data != rendered.read_bytes():
        return False
    return (target.lstat().st_mode & 0o111 != 0) == (rendered.stat().st_mode & 0o111 != 0)


def compare(files: list[str], rendered: Path, repo: Path) -> FileChanges:
    """Sort each rendered file into created / changed / unchanged / foreign for `repo`.

    Nothing outside `repo` is read: a link in the repository is foreign (never followed),
    and a rendered path that goes through a link or is a directory refuses the repository.
    """
    manifest = read_manifest(repo)
    created, changed, unchanged, foreign = [], [], [], []
    for name in files:
        target = confined(repo, name, source="the template's files")
        found = kind(target)
        if found == "missing":
            created.append(name)
        elif found not in ("file", "link"):
            raise UnsafePathError(
                source="the template's files", path=name, reason=f"is a {found} in the repository"
            )
        elif same_file(target, rendered / name):
            unchanged.append(name)
        elif found == "file" and manifest.get(name) == digest_in_repository(target):
            changed.append(name)
        else:
            foreign.append(name)
    removed = [
        name
        for name, recorded in sorted(manifest.items())
        if name not in files and _fleetforms(repo, name, recorded)
    ]
    return FileChanges(
        tuple(created), tuple(changed), tuple(unchanged), tuple(removed), tuple(foreign)
    )


def _fleetforms(repo: Path, name: str, recorded: str) -> bool:
    """Whether `name` is still a regular file exactly as fleetform wrote it."""
    target = confined(repo, name, source=MANIFEST)
    return kind(target) == "file" and digest_in_repository(target) == recorded


def unified_diff(changes: FileChanges, rendered: Path, repo: Path, label: str = "") -> str:
    """`git diff`-style text of what a write would do: paths under `label` (the repository's
    path in the workspace), `/dev/null` for a file created or removed."""
    return _diff(changes, rendered, repo, label, repository_first=True)


def repository_diff(changes: FileChanges, rendered: Path, repo: Path, label: str = "") -> str:
    """What the repository holds against what the template renders (as `cruft diff`): a/ is
    the render, b/ the repository, `/dev/null` for a file only one of them has."""
    return _diff(changes, rendered, repo, label, repository_first=False)


def _diff(
    changes: FileChanges, rendered: Path, repo: Path, label: str, *, repository_first: bool
) -> str:
    """One unified diff of every differing file, the repository on the a/ side or the b/."""
    prefix = f"{label.strip('/')}/" if label else ""
    chunks: list[str] = []
    pairs: list[tuple[str, list[str], list[str] | None]] = [
        (name, _lines(repo / name), (rendered / name).read_text(errors="replace").splitlines())
        for name in (*changes.created, *changes.changed, *changes.foreign)
    ]
    pairs += [(name, _lines(repo / name), None) for name in changes.removed]
    for name, in_repo, in_render in pairs:
        sides = [(in_repo, name not in changes.created), (in_render or [], in_render is not None)]
        if not repository_first:
            sides.reverse()
        (old, old_exists), (new, new_exists) = sides
        before = f"a/{prefix}{name}" if old_exists else "/dev/null"
        after = f"b/{prefix}{name}" if new_exists else "/dev/null"
        chunks.extend(difflib.unified_diff(old, new, before, after, lineterm=""))
    return "\n".join(chunks) + ("\n" if chunks else "")


def _lines(path: Path) -> list[str]:
    """A repository file's lines for a diff; none for a link (its target is never read)."""
    data = read_regular(path)
    return [] if data is None else data.decode("utf-8", "replace").splitlines()
