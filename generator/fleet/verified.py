"""`WORKSPACE/.fleetform/verified.json`: repositories a run found exactly as fleetform wrote
them, remembered by the `lstat` of each file, so the next generate with nothing to do need not
read and hash every file again (nor build every service's answers).

A repository is only ever recorded after its files were read and found to hold the bytes its
manifest names, with each file's inode, size, mtime, ctime and mode taken from the open file
before it was read. A later run trusts the record for a repository only when every one of those
is still the same. The kernel sets a file's ctime on every change and no program can set it back,
so a changed file cannot look unchanged, with one exception: a change in the same clock tick as
the recorded ctime. That is git's "racy clean" case, and it is closed the same way: a file
counts as recorded only when its ctime is older than a clock file touched before any file was
read. A file on another file system than the clock gets two seconds of margin, because
timestamps can be coarser there. A repository the record cannot vouch for gets the full check,
which hashes the files.

The record is fleetform's own state, not repository content. A record that is stale, lost
between two concurrent runs, or unreadable only makes a run slower: an entry can match
nothing but the exact files it was written from.

Beside the repositories it keeps each service's inputs digest under a key of everything those
digests are computed from: the catalog's bytes and path, fleetform's version and own source,
and the template and commit. With the same key, the answers need not be built to be compared.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator import __version__
from generator.errors import UnsafePathError, WriteError
from generator.files import write_atomically
from generator.fleet.confine import confined, name_problem
from generator.fleet.manifest import MANIFEST
from generator.fleet.workspace import STATE_DIR

RECORD = "verified.json"
CLOCK = "verified.clock"
_FORMAT = 1
# Where the clock and a file are on different file systems, timestamps may be as coarse as
# two seconds (FAT); a file must be older than the clock by that much to count.
_OTHER_FILE_SYSTEM_MARGIN_NS = 2_000_000_000

Stat = list[int]  # st_ino, st_size, st_mtime_ns, st_ctime_ns, st_mode


def _stat(info: os.stat_result) -> Stat:
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode]


def answers_key(catalog_path: Path, template_src: str, commit: str) -> str | None:
    """The digest of everything a service's inputs digest is computed from; None when the
    catalog cannot be read (then every answer is built, as without a record)."""
    try:
        catalog_bytes = catalog_path.read_bytes()
        where = str(catalog_path.resolve())
    except OSError:
        return None
    digest = hashlib.sha256()
    for part in (where, __version__, _own_source(), template_src, commit):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(catalog_bytes)
    return digest.hexdigest()


@functools.cache
def _own_source() -> str:
    """fleetform's own code: a checkout changes its answers without changing its version."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class Verified:
    """The record as read at the start of a run (empty when there is none)."""

    root: Path
    key: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    repos: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> Verified:
        data = _read(root / STATE_DIR / RECORD)
        key = data.get("key")
        inputs = data.get("inputs")
        repos = data.get("repos")
        return cls(
            root,
            key if isinstance(key, str) else None,
            inputs if isinstance(inputs, dict) else {},
            repos if isinstance(repos, dict) else {},
        )

    def known_inputs(self, key: str | None, service: str) -> str | None:
        """The inputs digest a run with the same `key` computed for `service`."""
        found = self.inputs.get(service) if key is not None and key == self.key else None
        return found if isinstance(found, str) else None

    def unchanged(self, repo_name: str, inputs: str) -> tuple[str, ...] | None:
        """The repository's files when the record vouches that its manifest was written from
        `inputs` and nothing it names changed since; None: check it in full."""
        entry = self.repos.get(repo_name)
        if not isinstance(entry, dict) or entry.get("inputs") != inputs:
            return None
        files = entry.get("files")
        if not isinstance(files, dict) or name_problem(repo_name):
            return None
        # Repositories of one template name the same files: their names are checked, and
        # their folders listed, once a run (`_names_checked`), not once a repository.
        checked = _names_checked(tuple(files))
        if checked is None:
            return None
        names, folders = checked
        # Plain strings: names are POSIX and checked, and this runs for every file of the fleet.
        repo = f"{self.root}/{repo_name}"
        if not _same(f"{repo}/{MANIFEST}", entry.get("manifest")):
            return None
        lstat, regular = os.lstat, stat.S_ISREG  # `_same`, inlined: 38,000 calls a no-op
        for name, recorded in files.items():
            try:
                info = lstat(f"{repo}/{name}")
            except OSError:
                return None
            if not regular(info.st_mode) or recorded != [
                info.st_ino,
                info.st_size,
                info.st_mtime_ns,
                info.st_ctime_ns,
                info.st_mode,
            ]:
                return None
        # The files were reached by path: every folder on the way, and the repository and
        # the folders above it, must still be real folders, never links.
        above = repo_name.split("/")
        walk = [f"{self.root}/{'/'.join(above[: i + 1])}" for i in range(len(above))]
        walk += [f"{repo}/{folder}" for folder in folders]
        if not all(_is_folder(path) for path in walk):
            return None
        return names


@functools.lru_cache(maxsize=256)
def _names_checked(names: tuple[object, ...]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """A record's file names sorted, and the folders they are in (each once); None when any
    is no safe name in a repository (`name_problem`)."""
    checked: list[str] = []
    folders: dict[str, None] = {}
    for name in names:
        if not isinstance(name, str) or name_problem(name):
            return None
        checked.append(name)
        parts = name.split("/")[:-1]
        folders.update(("/".join(parts[: i + 1]), None) for i in range(len(parts)))
    return tuple(sorted(checked)), tuple(folders)


def _same(path: str, recorded: object) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and _stat(info) == recorded


def _is_folder(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return {}
    return data


def record(
    root: Path,
    key: str | None,
    inputs: Mapping[str, str],
    repos: Iterable[str],
    dropped: Iterable[str] = (),
) -> None:
    """Verify each repository of `repos` (its files hold the bytes its manifest names) and
    remember the ones that pass, with the inputs digests computed under `key`; forget
    `dropped`. Best effort: a record that cannot be written only makes the next run slower."""
    state = root / STATE_DIR
    clock = state / CLOCK
    try:
        write_atomically(clock, "")
        reference = os.lstat(clock)
    except (OSError, WriteError):
        return
    clock_at = (reference.st_mtime_ns, reference.st_dev)
    entries = {name: _verify(root / name, clock_at) for name in repos}
    # Read again just before writing: a run beside this one may have recorded repositories.
    data = _read(state / RECORD)
    kept = data.get("repos")
    merged: dict[str, object] = dict(kept) if isinstance(kept, dict) else {}
    for name in dropped:
        merged.pop(name, None)
    for name, entry in entries.items():
        if entry is None:
            merged.pop(name, None)
        else:
            merged[name] = entry
    known = data.get("inputs") if data.get("key") == key else None
    all_inputs = {**(known if isinstance(known, dict) else {}), **inputs}
    payload = {"format": _FORMAT, "key": key, "inputs": all_inputs, "repos": merged}
    try:
        write_atomically(state / RECORD, json.dumps(payload, separators=(",", ":")) + "\n")
    except WriteError:
        return


def _verify(repo: Path, clock: tuple[int, int]) -> dict[str, object] | None:
    """The entry of a repository whose every manifest file holds its recorded bytes, each
    older than the clock; None otherwise."""
    try:
        read = read_with_stat(repo / MANIFEST, *clock)
        if read is None:
            return None
        text, manifest_stat = read
        data = json.loads(text)
        inputs, names = data.get("inputs"), data.get("files")
        if not isinstance(inputs, str) or not isinstance(names, dict):
            return None
        files: dict[str, Stat] = {}
        for name, recorded in names.items():
            found = read_with_stat(confined(repo, name, source=MANIFEST), *clock)
            if found is None or hashlib.sha256(found[0]).hexdigest() != recorded:
                return None
            files[name] = found[1]
    except (UnsafePathError, ValueError, TypeError, AttributeError):
        return None
    return {"inputs": inputs, "manifest": manifest_stat, "files": files}


def read_with_stat(path: Path, clock_ns: int, clock_dev: int) -> tuple[bytes, Stat] | None:
    """A regular file's bytes and its stat taken before reading them (a link is never
    followed); None unless its last change is older than the clock (`clock_ns`, the mtime of
    the clock file, on the device `clock_dev`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        margin = 0 if info.st_dev == clock_dev else _OTHER_FILE_SYSTEM_MARGIN_NS
        if info.st_ctime_ns + margin >= clock_ns:
            return None  # changed in the clock's tick (or later): a change could hide in it
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            return handle.read(), _stat(info)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
