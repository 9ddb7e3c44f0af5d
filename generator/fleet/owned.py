"""Files of a repository whose content is its owners': fleetform renders each at most once.

Two sources say which: the service's `owned_files` in the catalog (globs, dialect in
`generator.catalog.globs`) and the template's `_skip_if_exists` at the version rendered
(Copier's own "render once, then the owners'"). Either way a file is the owners' once it
exists in the repository:

- `generate` creates a missing one (the template's starting point) and never overwrites one;
- `update` hands the catalog's globs to Copier as `skip_if_exists`, and leaves out of the
  change it applies any owned file Copier touched all the same;
- `heal` leaves them as they are;
- `drift` reports them as owned, never as drifted.

fleetform's manifest never lists the catalog's (so an owner's edit of one costs `generate` no
render, and a file the template stops rendering is never deleted). fleetform's own records
(`.copier-answers.yml`, the manifest) are never the owners', whatever a glob says: update and
drift depend on them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from generator.catalog.globs import anchored, glob_matcher
from generator.catalog.model import Service
from generator.fleet.apply import Change
from generator.fleet.compare import FileChanges
from generator.fleet.confine import confined, kind
from generator.fleet.manifest import MANIFEST
from generator.fleet.recorded import ANSWERS_FILE
from generator.fleet.template import owners_files

_RECORDS = frozenset({ANSWERS_FILE, MANIFEST})


def catalog_globs(service: Service) -> tuple[str, ...]:
    """The service's `owned_files` globs (defaults' first), as the catalog lists them."""
    return tuple(owned.glob for owned in service.owned_files)


@dataclass(frozen=True)
class Owned:
    """Which paths are the owners' for one repository: the catalog's globs, and (when the
    template version is known) the template's `_skip_if_exists` at that version."""

    globs: tuple[str, ...] = ()
    template: Callable[[str], bool] | None = None

    @classmethod
    def at(cls, globs: Sequence[str], src: str, commit: str | None) -> Owned:
        """`commit`: the template version rendered (None: unknown, the catalog's globs only)."""
        return cls(tuple(globs), None if commit is None else _template_owned(src, commit))

    def __call__(self, path: str) -> bool:
        return self.by_catalog(path) or (
            self.template is not None and path not in _RECORDS and self.template(path)
        )

    def by_catalog(self, path: str) -> bool:
        """Whether the catalog's `owned_files` name `path`."""
        return path not in _RECORDS and _matcher(self.globs)(path)

    def copier_patterns(self) -> list[str]:
        """The catalog's globs as Copier's `skip_if_exists` (the template's are its own)."""
        return anchored(self.globs)


@functools.lru_cache(maxsize=64)
def _matcher(globs: tuple[str, ...]) -> Callable[[str], bool]:
    return glob_matcher(globs)


@functools.lru_cache(maxsize=64)
def _template_owned(src: str, commit: str) -> Callable[[str], bool]:
    # One `git show` per template version and process, not per repository.
    return owners_files(src, commit)


def existing(owned: Callable[[str], bool], repo: Path, names: Iterable[str]) -> tuple[str, ...]:
    """The `names` that are owned and exist in `repo` (a link counts: it is not followed)."""
    return tuple(
        sorted(
            name
            for name in names
            if owned(name)
            and kind(confined(repo, name, source="the template's files")) != "missing"
        )
    )


def set_aside(changes: FileChanges, owned: Callable[[str], bool], repo: Path) -> FileChanges:
    """`changes` with every owned file that exists in `repo` and differs from the render moved
    to `owned`: it is neither written, removed nor drifted. One that is as the template
    renders it stays `unchanged`; a missing one stays `created`: the first render writes it."""
    present = set(existing(owned, repo, (*changes.changed, *changes.foreign, *changes.removed)))
    if not present:
        return changes
    return replace(
        changes,
        removed=tuple(f for f in changes.removed if f not in present),
        changed=tuple(f for f in changes.changed if f not in present),
        foreign=tuple(f for f in changes.foreign if f not in present),
        owned=tuple(sorted({*changes.owned, *present})),
    )


def keep_owned(
    change: Change, status: list[tuple[str, str]], owned: Owned, repo: Path
) -> tuple[Change, list[tuple[str, str]]]:
    """An update's change without the owned files that exist in `repo`: whatever Copier did
    to one in the scratch clone (a merge, a fresh render of a file the clone lacks because
    git ignores it, a removal), the repository keeps it as it is, in its index too."""
    names = {*change.moves, *change.removals, *(path for _, path in status)}
    kept = set(existing(owned, repo, names))
    if not kept:
        return change, status
    index = "".join(
        f"{line}\n" for line in change.index.splitlines() if line.split("\t", 1)[-1] not in kept
    )
    return (
        replace(
            change,
            moves=tuple(p for p in change.moves if p not in kept),
            removals=tuple(p for p in change.removals if p not in kept),
            index=index,
        ),
        [(code, path) for code, path in status if path not in kept],
    )


def inputs_with_globs(inputs: str | None, globs: Sequence[str]) -> str | None:
    """The inputs digest of a render with the catalog's globs: changing `owned_files` changes
    what `generate` writes. Without globs the digest is the same as before there were any."""
    if inputs is None or not globs:
        return inputs
    text = json.dumps([inputs, sorted(globs)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_without(manifest: str, owned: Owned) -> str:
    """A manifest of a clean render (an update's) without the catalog's owned files, its inputs
    digest carrying the catalog's globs: what `generate` records for the same render."""
    data = json.loads(manifest)
    files = data.get("files", {})
    if isinstance(files, dict):
        data["files"] = {name: sha for name, sha in files.items() if not owned.by_catalog(name)}
    if isinstance(data.get("inputs"), str):
        data["inputs"] = inputs_with_globs(data["inputs"], owned.globs)
    return json.dumps(data, indent=2) + "\n"
