"""Orphaned repositories: every folder holding fleetform's manifest that no service's `repo`
names is found, and nothing else (links, fleetform's state, folders inside a repository, too
deep). Real folders and links on disk."""

from __future__ import annotations

from pathlib import Path

from generator.catalog.validation import open_catalog
from generator.fleet.manifest import MANIFEST
from generator.fleet.orphans import orphaned
from generator.fleet.workspace import STATE_DIR
from tests.helpers import SMALL_CATALOG


def repository(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text("{}\n", encoding="utf-8")
    return folder


def test_orphans_are_the_manifest_folders_no_service_names(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(SMALL_CATALOG, encoding="utf-8")
    catalog = open_catalog(tmp_path / "catalog.yaml").catalog
    root = tmp_path / "ws"
    repository(root, "api")  # in the catalog
    repository(root, "gone")
    repository(root, "team/old")
    repository(root, "a/b/c/d")  # four folders deep: still searched
    repository(root, "a/b/c/d2/e")  # five: not
    repository(root, "gone/inner")  # inside a repository: its own folder, not another one
    repository(root, f"{STATE_DIR}/stage/x")  # fleetform's state
    repository(root, ".git/y")
    repository(root, "node_modules/z")
    elsewhere = repository(tmp_path / "elsewhere", "linked")
    (root / "link").symlink_to(elsewhere)  # a link to a repository is not followed
    (root / "manifest-link").mkdir()
    (root / "manifest-link" / MANIFEST).symlink_to(elsewhere / MANIFEST)  # nor a linked manifest
    (root / "manifest-folder" / MANIFEST).mkdir(parents=True)  # a folder of that name
    (root / "worker").mkdir()  # a catalog repository not generated yet: nothing to say
    assert orphaned(catalog, root) == ("a/b/c/d", "gone", "team/old")


def test_a_missing_workspace_has_no_orphans(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(SMALL_CATALOG, encoding="utf-8")
    catalog = open_catalog(tmp_path / "catalog.yaml").catalog
    assert orphaned(catalog, tmp_path / "nowhere") == ()
