"""A render merged three ways into a repository's file, as `copier update --conflict inline`
merges: `git merge-file` with Copier's labels, and the index stages Copier sets.

The base is the newest committed version of the file that was exactly what fleetform
rendered then: the manifest committed beside it records that render's digest. Only git
objects are read for it (`cat-file`); the manifests of the history are repository content,
only ever compared with digests here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from generator.errors import UpdateFailedError
from generator.fleet.confine import confined
from generator.fleet.manifest import MANIFEST
from generator.git import git, git_bytes

# Copier's labels for `git merge-file` in `copier update --conflict inline`.
LABELS = ("before updating", "last update", "after updating")
_HISTORY = 200  # commits looked at for a file's last clean version


def same_mode(target: Path, source: Path) -> None:
    """Give `target` the executable bit of `source` (a file of fleetform's render)."""
    executable = source.stat().st_mode & 0o111 != 0
    mode = target.stat().st_mode
    target.chmod(mode | 0o755 if executable else mode & ~0o111)


def merge_render(scratch: Path, rendered: Path, name: str) -> bool:
    """Merge the render into the owners' file three ways; whether conflicts are left."""
    target = confined(scratch, name, source="the template's files")
    base = scratch.parent / "merge-base"
    base.write_bytes(clean_version(scratch, name) or b"")
    # Absolute: git resolves relative paths against `-C scratch`, not against the cwd.
    files = (str(path.absolute()) for path in (target, base, rendered / name))
    merged = git(
        scratch, "merge-file", *(flag for label in LABELS for flag in ("-L", label)), "--", *files
    )
    base.unlink()
    if merged.returncode < 0 or merged.returncode > 127:
        raise UpdateFailedError(reason=f"git merge-file {name}: {merged.stderr.strip()}")
    same_mode(target, rendered / name)
    return merged.returncode > 0


def mark_unmerged(scratch: Path, rendered: Path, names: list[str]) -> None:
    """Stages as Copier leaves them after an inline conflict: 1 the base (the last clean
    version, when there is one), 2 the owners' (HEAD's), 3 the render."""
    lines = []
    for name in names:
        head = git(scratch, "ls-files", "--stage", "--", name).stdout.split()
        mode, ours = head[0], head[1]
        render = str((rendered / name).absolute())
        theirs = git(scratch, "hash-object", "-w", "--", render).stdout.strip()
        lines += [f"0 {'0' * 40}\t{name}", f"{mode} {ours} 2\t{name}", f"{mode} {theirs} 3\t{name}"]
        base = clean_version(scratch, name)
        if base is not None:
            stored = git_bytes(scratch, "hash-object", "-w", "--stdin", input=base)
            lines.append(f"{mode} {stored.stdout.decode().strip()} 1\t{name}")
    done = git(scratch, "update-index", "--index-info", input="".join(f"{x}\n" for x in lines))
    if done.returncode != 0:
        raise UpdateFailedError(reason=f"git update-index: {done.stderr.strip()}")


def clean_version(repo: Path, name: str) -> bytes | None:
    """The newest committed content of `name` that was exactly what fleetform rendered: the
    manifest committed beside it records that content's digest. None when there is none.

    Only git objects are read (`cat-file`); the manifests of the history are repository
    content, only ever compared with digests here.
    """
    listed = git(
        repo, "log", f"--max-count={_HISTORY}", "--format=%H", "HEAD", "--", name, MANIFEST
    )
    commits = listed.stdout.split()
    if not commits:
        return None
    wanted = "".join(f"{c}:{name}\n{c}:{MANIFEST}\n" for c in commits)
    out = git_bytes(repo, "cat-file", "--batch", input=wanted.encode()).stdout
    objects = _batch_objects(out)
    for content, manifest in zip(objects[0::2], objects[1::2], strict=True):
        if content is None or manifest is None:
            continue
        if _recorded_digest(manifest, name) == hashlib.sha256(content).hexdigest():
            return content
    return None


def _batch_objects(out: bytes) -> list[bytes | None]:
    """The objects of `git cat-file --batch` output, None for a missing one."""
    found: list[bytes | None] = []
    at = 0
    while at < len(out):
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) != 3:  # `<name> missing` (or ambiguous)
            found.append(None)
            continue
        size = int(header[2])
        found.append(out[at : at + size] if header[1] == b"blob" else None)
        at += size + 1
    return found


def _recorded_digest(manifest: bytes, name: str) -> str | None:
    try:
        data = json.loads(manifest)
    except ValueError:
        return None
    files = data.get("files") if isinstance(data, dict) else None
    digest = files.get(name) if isinstance(files, dict) else None
    return digest if isinstance(digest, str) else None
