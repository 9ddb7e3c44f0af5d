"""Repositories fleetform generated for services the catalog no longer has.

They are reported, never deleted: removing a service from the catalog says nothing about what
its owners want done with its repository.
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.catalog.model import Catalog
from generator.fleet.manifest import MANIFEST
from generator.fleet.workspace import STATE_DIR

# Catalog repositories are paths a few folders deep; a workspace is not searched below this.
_DEPTH = 4
_SKIPPED = frozenset({".git", STATE_DIR, "node_modules"})


def orphaned(catalog: Catalog, root: Path) -> tuple[str, ...]:
    """The repositories under `root` (relative, POSIX) holding fleetform's manifest whose
    path is no service's `repo` in the catalog. Links are not followed."""
    known = {service.repo for service in catalog.services.values()}
    if not root.is_dir():
        return ()
    found: list[str] = []
    _search(str(root), "", 0, known, found)
    return tuple(sorted(found))


def _search(folder: str, relative: str, depth: int, known: set[str], found: list[str]) -> None:
    """One folder of the walk (`relative` to the root, "" for the root itself).

    `os.scandir` and its entries' file types, not `os.walk` and a `Path` per entry: this
    looks at every repository of the workspace on every generate, a no-op included. A link
    is never a repository nor a folder to search (its type is the link's own)."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return  # as os.walk: a folder that cannot be listed is passed over
    folders: list[os.DirEntry[str]] = []
    for entry in entries:
        try:
            link = entry.is_symlink()
            directory = not link and entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if relative and entry.name == MANIFEST and not link and not directory:
            if relative not in known:
                found.append(relative)
            return  # a repository's own folders hold no other repository
        if directory and entry.name not in _SKIPPED and depth < _DEPTH:
            folders.append(entry)
    for entry in folders:
        inner = f"{relative}/{entry.name}" if relative else entry.name
        _search(entry.path, inner, depth + 1, known, found)
