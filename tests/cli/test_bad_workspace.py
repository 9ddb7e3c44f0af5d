"""Workspaces and catalogs that cannot be written: one line, exit 2, nothing half-written.

Every case runs the installed command in a real process against real files: a folder that
refuses writes, a path below a regular file, a workspace that does not exist, a disk that is
full or a file size limit. Each must print exactly one line on stderr and nothing on stdout,
exit 2 without a traceback, and leave every file as it was (no temporary file beside the
catalog, no state folder in a workspace it could not use).

Tests may run as root, which writes through permission bits: a read-only folder is then
made with the immutable attribute (`chattr +i`), and a full disk with a tiny tmpfs; where
this machine allows neither, those cases skip and say why.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import SMALL_CATALOG, catalog_at

BAD_INPUT = 2
IS_ROOT = os.geteuid() == 0


def snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under root: each file's size and modification time, None for a folder.

    A folder's own times change when a temporary file is made and removed in it; what it
    holds is what must come out the same.
    """
    return {
        str(p.relative_to(root)): None if p.is_dir() else (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def run(
    cwd: Path, *args: str | Path, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """`fleetform ARGS` in its own process, as a person runs it."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=preexec,
        env={**os.environ, "NO_COLOR": "1"},
    )


def assert_one_line(done: subprocess.CompletedProcess[str], start: str, end: str) -> None:
    shown = f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "Traceback" not in done.stdout + done.stderr, shown
    assert done.returncode == BAD_INPUT, shown
    assert done.stdout == "", shown
    [line] = done.stderr.splitlines()
    assert line.startswith(start), shown
    assert line.endswith(end), shown


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], str]]:
    """Make a folder refuse every write by this user; gives the reason the system will say."""
    made: list[Path] = []

    def make(path: Path) -> str:
        path.mkdir(parents=True, exist_ok=True)
        if not IS_ROOT:
            path.chmod(0o555)
            made.append(path)
            return os.strerror(errno.EACCES)
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            pytest.skip(
                "running as root, which writes through permission bits, and this file system"
                f" has no immutable attribute: {done.stderr.strip()}"
            )
        made.append(path)
        return os.strerror(errno.EPERM)

    yield make
    for path in made:
        if IS_ROOT:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o755)


@pytest.fixture
def catalog(template_repo: Path, tmp_path: Path) -> Path:
    """The small catalog (two generated services) with a real template."""
    return catalog_at(template_repo, tmp_path / "catalog.yaml", text=SMALL_CATALOG)


# ------------------------------------------------------------------ generate -w / -o


@pytest.mark.parametrize("flag", ["-w", "-o"])
def test_generate_into_a_read_only_folder(
    flag: str, catalog: Path, tmp_path: Path, read_only: Callable[[Path], str]
) -> None:
    reason = read_only(tmp_path / "ro")
    before = snapshot(tmp_path)
    done = run(tmp_path, "generate", "-c", catalog.name, flag, "ro")
    assert_one_line(done, "fleetform: error: cannot write ro/", f": {reason}")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flag", ["-w", "-o"])
def test_generate_below_a_regular_file(flag: str, catalog: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n", encoding="utf-8")
    before = snapshot(tmp_path)
    done = run(tmp_path, "generate", "-c", catalog.name, flag, "notes.txt/ws")
    assert_one_line(
        done, "fleetform: error: cannot write notes.txt/ws/", f": {os.strerror(errno.ENOTDIR)}"
    )
    assert snapshot(tmp_path) == before


def test_generate_into_a_workspace_below_a_read_only_folder(
    catalog: Path, tmp_path: Path, read_only: Callable[[Path], str]
) -> None:
    """The workspace does not exist yet, and the folder it would be made in refuses."""
    reason = read_only(tmp_path / "ro")
    before = snapshot(tmp_path)
    done = run(tmp_path, "generate", "-c", catalog.name, "-w", "ro/fleet")
    assert_one_line(done, "fleetform: error: cannot write ro/fleet/", f": {reason}")
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ update -w


def test_update_of_a_missing_workspace(catalog: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    done = run(tmp_path, "update", "-c", catalog.name, "-w", "missing")
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert (done.returncode, done.stdout) == (BAD_INPUT, ""), output
    [line] = done.stderr.splitlines()
    assert line.startswith("fleetform: error: ") and "missing" in line, output
    assert snapshot(tmp_path) == before


def test_update_below_a_regular_file(catalog: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n", encoding="utf-8")
    before = snapshot(tmp_path)
    done = run(tmp_path, "update", "-c", catalog.name, "-w", "notes.txt/ws")
    assert_one_line(
        done, "fleetform: error: cannot write notes.txt/ws/", f": {os.strerror(errno.ENOTDIR)}"
    )
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ clone -w


def test_clone_below_a_regular_file(catalog: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n", encoding="utf-8")
    before = snapshot(tmp_path)
    done = run(tmp_path, "clone", "-c", catalog.name, "-w", "notes.txt/ws")
    assert_one_line(
        done, "fleetform: error: cannot write notes.txt/ws/", f": {os.strerror(errno.ENOTDIR)}"
    )
    assert snapshot(tmp_path) == before


def test_clone_into_a_read_only_folder(
    catalog: Path, tmp_path: Path, read_only: Callable[[Path], str]
) -> None:
    reason = read_only(tmp_path / "ro")
    before = snapshot(tmp_path)
    done = run(tmp_path, "clone", "-c", catalog.name, "-w", "ro")
    assert_one_line(done, "fleetform: error: cannot write ro/", f": {reason}")
    assert snapshot(tmp_path) == before


def test_clone_of_an_unknown_service(catalog: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    done = run(tmp_path, "clone", "-c", catalog.name, "-w", "ws", "nosuch")
    assert_one_line(done, "fleetform: error: unknown service(s): nosuch", "nosuch")
    assert snapshot(tmp_path) == before  # no workspace made for a run that cannot start


# ------------------------------------------------------------------ new: the catalog's folder

NEW = ("new", "extra", "--group", "apps", "--runtime", "node", "--no-render", "-c", "catalog.yaml")
NOTHING_WRITTEN = "; nothing was written"


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "catalog.yaml").write_text(SMALL_CATALOG, encoding="utf-8")
    return folder


def test_new_when_the_catalogs_folder_cannot_be_written(
    catalog_dir: Path, tmp_path: Path, read_only: Callable[[Path], str]
) -> None:
    reason = read_only(catalog_dir)
    before = snapshot(tmp_path)
    done = run(catalog_dir, *NEW)
    assert_one_line(
        done, "catalog.yaml: error: cannot write beside it: ", f"{reason}{NOTHING_WRITTEN}"
    )
    assert snapshot(tmp_path) == before


def _file_size_limit(limit: int) -> Callable[[], None]:
    def limited() -> None:
        # CPython ignores SIGXFSZ, so a write past the limit fails with EFBIG instead.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


def test_new_past_a_file_size_limit(catalog_dir: Path, tmp_path: Path) -> None:
    """The edited copy is written beside the catalog first: it fails half-way (EFBIG)."""
    size = (catalog_dir / "catalog.yaml").stat().st_size
    before = snapshot(tmp_path)
    done = run(catalog_dir, *NEW, preexec=_file_size_limit(size // 2))
    assert_one_line(
        done,
        "catalog.yaml: error: cannot write beside it: ",
        f"{os.strerror(errno.EFBIG)}{NOTHING_WRITTEN}",
    )
    assert snapshot(tmp_path) == before


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of one page holding the catalog and a file that takes the rest of it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k,nr_inodes=16", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        (mount / "catalog.yaml").write_text(SMALL_CATALOG, encoding="utf-8")
        with (mount / "filler").open("wb", buffering=0) as filler:
            try:
                while filler.write(b"x" * 512):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_new_on_a_full_disk(full_disk: Path) -> None:
    before = snapshot(full_disk)
    done = run(full_disk, *NEW)
    assert_one_line(
        done,
        "catalog.yaml: error: cannot write beside it: ",
        f"{os.strerror(errno.ENOSPC)}{NOTHING_WRITTEN}",
    )
    assert snapshot(full_disk) == before
