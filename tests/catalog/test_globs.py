"""`owned_files` globs: the dialect matches as documented, and as Copier's `_skip_if_exists`
matching does; the catalog merges defaults' globs with the service's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from generator.catalog.globs import anchored, glob_matcher, glob_problem
from generator.catalog.load import load_catalog

PATHS = [
    "README.md",
    "sub/README.md",
    "docs/a.md",
    "docs/a/b.md",
    "src/a.py",
    "src/c.py",
    "infrastructure/helm/values/local.yaml",
]


@pytest.mark.parametrize(
    ("glob", "matched"),
    [
        ("README.md", ["README.md"]),  # the whole path: the root's README.md only
        ("**/README.md", ["README.md", "sub/README.md"]),
        ("docs/*", ["docs/a.md"]),  # `*` stays within one part
        ("docs/**", ["docs/a.md", "docs/a/b.md"]),
        ("src/[ab].py", ["src/a.py"]),
        ("src/?.py", ["src/a.py", "src/c.py"]),
        ("infrastructure/helm/values/*.yaml", ["infrastructure/helm/values/local.yaml"]),
    ],
)
def test_a_glob_matches_what_the_dialect_says(glob: str, matched: list[str]) -> None:
    assert glob_problem(glob) is None
    assert [path for path in PATHS if glob_matcher([glob])(path)] == matched


def test_copier_matches_the_same_paths_as_fleetform() -> None:
    """fleetform hands the globs to Copier as skip_if_exists: Copier's own matcher (a Worker's
    `match_skip`) must agree with fleetform's on every path."""
    from copier._main import Worker

    globs = ["README.md", "docs/*", "**/b.md", "src/[ab].py"]
    worker = Worker(src_path=".", dst_path=".", skip_if_exists=anchored(globs))
    copier_matches = worker._path_matcher(worker.skip_if_exists)
    ours = glob_matcher(globs)
    assert [p for p in PATHS if copier_matches(Path(p))] == [p for p in PATHS if ours(p)]


def test_no_glob_matches_nothing() -> None:
    assert not glob_matcher([])("README.md")


def test_a_service_adds_its_globs_to_those_of_defaults(
    write: Callable[[str, str], Path],
) -> None:
    path = write(
        "catalog.yaml",
        """\
        version: 1
        name: demo
        defaults: {owned_files: [README.md, docs/**]}
        groups:
          apps: {ports: "3000-3099", cluster: services}
        services:
          api: {group: apps, runtime: node, port: 3000, owned_files: [src/**, README.md]}
          web: {group: apps, runtime: node, port: 3001}
        """,
    )
    services = load_catalog(path).services
    api = services["api"].owned_files
    assert [g.glob for g in api] == ["README.md", "docs/**", "src/**"]
    assert [(g.location.line, g.inherited) for g in api] == [(3, True), (3, True), (7, False)]
    assert [g.glob for g in services["web"].owned_files] == ["README.md", "docs/**"]
