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
    found: list[str] = []
    if not root.is_dir():
        return ()
    for folder, directories, files in os.walk(root):
        here = Path(folder)
        relative = here.relative_to(root).as_posix()
        depth = 0 if relative == "." else relative.count("/") + 1
        if relative != "." and MANIFEST in files and not (here / MANIFEST).is_symlink():
            if relative not in known:
                found.append(relative)
            directories[:] = []  # a repository's own folders hold no other repository
            continue
        directories[:] = [
            d
            for d in directories
            if d not in _SKIPPED and depth < _DEPTH and not (here / d).is_symlink()
        ]
    return tuple(sorted(found))
