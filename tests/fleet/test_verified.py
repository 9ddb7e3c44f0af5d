"""The workspace's record of verified repositories (`.fleetform/verified.json`): a no-op
generate decided from `lstat` alone, and never an edit missed because of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from generator.fleet.manifest import MANIFEST
from generator.fleet.verified import RECORD, read_with_stat
from generator.fleet.workspace import STATE_DIR
from tests.helpers import ROOT, SMALL_CATALOG, catalog_at

Run = Callable[..., Result]
STRACE = shutil.which("strace")
DOCKERFILE = "infrastructure/Dockerfile"


@pytest.fixture(scope="module")
def generated(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One service (`api`) generated once: the catalog and the workspace, copied per test."""
    from tests.helpers import fleetform

    base = tmp_path_factory.mktemp("verified")
    catalog = catalog_at(template_repo, base / "catalog.yaml", text=SMALL_CATALOG)
    workspace = base / "ws"
    result = fleetform("generate", "-c", catalog, "-w", workspace, "api")
    assert result.exit_code == 0, result.output
    return catalog, workspace


@pytest.fixture
def workspace(generated: tuple[Path, Path], tmp_path: Path, run: Run) -> tuple[Path, Path]:
    """A copy of the generated workspace, then a generate that finds it unchanged by content
    (the copy's inodes are new: the copied record vouches for nothing) and records it. The
    copy's files are older than that run's clock by the whole start of a fleetform run (the
    catalog, the template's git facts, the hashing), many clock ticks."""
    catalog, source = generated
    copy = tmp_path / "ws"
    shutil.copytree(source, copy, symlinks=True)
    again = run("generate", "-c", catalog, "-w", copy, "api")
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1].startswith("1 service(s): 1 unchanged")
    return catalog, copy


def generate_traced(catalog: Path, workspace: Path, log: Path) -> list[str]:
    """The files a real `fleetform generate` process opens (strace), one path a line."""
    assert STRACE, "strace is missing: scripts/test-deps.sh installs it (Debian package strace)"
    argv = [sys.executable, "-m", "generator", "generate", "-c", str(catalog), "-w", str(workspace)]
    traced = [STRACE, "-f", "-qq", "-e", "trace=openat", "-o", str(log), *argv, "api", "-j", "1"]
    done = subprocess.run(traced, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 service(s): 1 unchanged"), done.stdout
    return [line.split('"')[1] for line in log.read_text().splitlines() if '"' in line]


def test_a_recorded_repository_is_found_unchanged_without_reading_a_file_of_it(
    workspace: tuple[Path, Path], tmp_path: Path
) -> None:
    catalog, ws = workspace
    repo = ws / "api"
    assert (ws / STATE_DIR / RECORD).is_file()
    opened = generate_traced(catalog, ws, tmp_path / "vouched.log")
    assert not [path for path in opened if path.startswith(f"{repo}/")], opened
    # Without the record the same run reads the manifest and every file (so the check above
    # can fail), and records the repository again.
    (ws / STATE_DIR / RECORD).unlink()
    opened = generate_traced(catalog, ws, tmp_path / "full.log")
    assert f"{repo}/{MANIFEST}" in opened
    assert f"{repo}/{DOCKERFILE}" in opened
    assert (ws / STATE_DIR / RECORD).is_file()


def test_an_edit_elsewhere_in_the_catalog_still_reads_no_file_of_the_repository(
    workspace: tuple[Path, Path], tmp_path: Path
) -> None:
    """Another service's description changes the catalog's key, not `api`'s inputs: its
    answers are built again and match what the record holds."""
    catalog, ws = workspace
    text = catalog.read_text(encoding="utf-8")
    edited = text.replace("    port: 3001\n", "    port: 3001\n    description: Edited.\n", 1)
    assert edited != text
    catalog.write_text(edited, encoding="utf-8")
    opened = generate_traced(catalog, ws, tmp_path / "elsewhere.log")
    assert not [path for path in opened if path.startswith(f"{ws / 'api'}/")], opened


def test_a_record_naming_a_file_outside_the_repository_vouches_for_nothing(
    workspace: tuple[Path, Path], tmp_path: Path
) -> None:
    """The record is the workspace's: a name in it that leaves the repository (`..`), even with
    the true stat of the file it names, makes the repository get the full check."""
    catalog, ws = workspace
    outside = tmp_path / "outside"
    outside.write_text("not the repository's\n", encoding="utf-8")
    record_path = ws / STATE_DIR / RECORD
    data = json.loads(record_path.read_text(encoding="utf-8"))
    info = os.lstat(outside)
    stat = [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode]
    data["repos"]["api"]["files"]["../../outside"] = stat
    record_path.write_text(json.dumps(data), encoding="utf-8")
    opened = generate_traced(catalog, ws, tmp_path / "tampered.log")
    assert f"{ws / 'api'}/{MANIFEST}" in opened  # not vouched for: read and hashed
    assert str(outside) not in opened


def test_an_edit_that_keeps_size_and_mtime_is_not_missed(
    workspace: tuple[Path, Path], run: Run
) -> None:
    catalog, ws = workspace
    dockerfile = ws / "api" / DOCKERFILE
    before = os.lstat(dockerfile)
    text = dockerfile.read_bytes()
    edited = text.replace(b"FROM", b"from", 1)
    assert edited != text and len(edited) == len(text)
    dockerfile.write_bytes(edited)
    os.utime(dockerfile, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.lstat(dockerfile).st_size, os.lstat(dockerfile).st_mtime_ns) == (
        before.st_size,
        before.st_mtime_ns,
    )

    result = run("generate", "-c", catalog, "-w", ws, "api")

    # The ctime moved (no program can set it back): the full check hashes the file, finds
    # the owners' edit and refuses to overwrite it.
    assert result.exit_code == 1, result.output
    assert f"would overwrite files fleetform did not write: {DOCKERFILE}" in result.stdout
    assert dockerfile.read_bytes() == edited


def test_a_folder_swapped_for_a_link_to_the_same_files_is_not_vouched_for(
    workspace: tuple[Path, Path], tmp_path: Path, run: Run
) -> None:
    catalog, ws = workspace
    moved = tmp_path / "elsewhere"
    # A rename keeps every file's inode, size, mtime and ctime: only the folder check sees it.
    (ws / "api" / "infrastructure").rename(moved)
    (ws / "api" / "infrastructure").symlink_to(moved, target_is_directory=True)
    assert os.lstat(moved / "Dockerfile").st_ino

    result = run("generate", "-c", catalog, "-w", ws, "api")

    assert result.exit_code == 1, result.output
    assert "goes through the symlink infrastructure" in result.stdout


def test_a_catalog_change_is_rendered_though_the_repository_is_recorded(
    workspace: tuple[Path, Path], run: Run
) -> None:
    catalog, ws = workspace
    text = catalog.read_text(encoding="utf-8")
    described = text.replace("    port: 3000\n", "    port: 3000\n    description: Edited.\n", 1)
    catalog.write_text(described, encoding="utf-8")

    result = run("generate", "-c", catalog, "-w", ws, "api")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "1 service(s): 1 updated"
    assert "Edited." in (ws / "api" / "infrastructure" / ".infrastructure.yaml").read_text()


def test_a_file_changed_in_the_clocks_tick_is_not_recorded(tmp_path: Path) -> None:
    """git's racy-clean case: a change in the same tick as the recorded ctime would keep the
    stat, so a file is recorded only when its ctime is older than the clock."""
    path = tmp_path / "file"
    path.write_bytes(b"bytes")
    info = os.lstat(path)
    tick, device = info.st_ctime_ns, info.st_dev
    assert read_with_stat(path, tick, device) is None  # the clock's tick: refused
    found = read_with_stat(path, tick + 1, device)
    assert found is not None and found[0] == b"bytes"
    assert found[1] == [info.st_ino, info.st_size, info.st_mtime_ns, tick, info.st_mode]
    # On another file system timestamps may be coarser: two seconds of margin.
    assert read_with_stat(path, tick + 1, device + 1) is None
    assert read_with_stat(path, tick + 2_000_000_001, device + 1) is not None
    # A link is never followed.
    (tmp_path / "link").symlink_to(path)
    assert read_with_stat(tmp_path / "link", tick + 1, device) is None


def test_names_checked_once_a_run_still_refuse_each_repository_on_its_own(
    tmp_path: Path,
) -> None:
    """Repositories naming the same files share one check of the names (`_names_checked`):
    a repository whose record adds a name leaving it, or whose file changed, is still not
    vouched for, before or after its neighbours were."""
    from generator.fleet.verified import Verified

    def stat_of(path: Path) -> list[int]:
        info = os.lstat(path)
        return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode]

    repos: dict[str, object] = {}
    for name in ("a", "b", "c"):
        repo = tmp_path / name
        (repo / "d").mkdir(parents=True)
        for file in (MANIFEST, "f", "d/g"):
            (repo / file).write_text(f"{name} {file}\n", encoding="utf-8")
        files = {file: stat_of(repo / file) for file in ("f", "d/g")}
        repos[name] = {"inputs": "i", "manifest": stat_of(repo / MANIFEST), "files": files}
    b_files = repos["b"]["files"]  # type: ignore[index]
    b_files["../a/f"] = stat_of(tmp_path / "a" / "f")  # the true stat of a file outside b
    (tmp_path / "c" / "f").write_text("edited\n", encoding="utf-8")
    (tmp_path / STATE_DIR).mkdir()
    record = {"format": 1, "key": None, "inputs": {}, "repos": repos}
    (tmp_path / STATE_DIR / RECORD).write_text(json.dumps(record), encoding="utf-8")

    verified = Verified.load(tmp_path)
    assert verified.unchanged("a", "i") == ("d/g", "f")
    assert verified.unchanged("b", "i") is None
    assert verified.unchanged("c", "i") is None  # the same names as a's: its own files count
    assert verified.unchanged("a", "i") == ("d/g", "f")
    assert verified.unchanged("a", "other inputs") is None
