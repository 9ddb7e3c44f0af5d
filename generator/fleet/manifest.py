"""`.fleetform-manifest.json`: what fleetform wrote into a repository (path -> sha256).

A file whose digest matches is fleetform's to overwrite; any other file is the owners'."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.errors import UnsafePathError
from generator.files import write_atomically
from generator.fleet.confine import confined, name_problem, read_regular

MANIFEST = ".fleetform-manifest.json"


def rendered_files(root: Path) -> list[str]:
    """Every file under `root`, relative, in POSIX form, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def digest(path: Path) -> str:
    """The sha256 of a file fleetform rendered (its own staging: never a link)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest_in_repository(path: Path) -> str | None:
    """The sha256 of a regular file in a repository; None for a link or anything else."""
    data = read_regular(path)
    return None if data is None else hashlib.sha256(data).hexdigest()


def read_manifest(repo: Path) -> dict[str, str]:
    """What fleetform last wrote into `repo`: relative path -> sha256 (empty if never).

    The manifest is repository content: an entry naming a path outside the repository, an
    absolute path or one inside `.git` refuses the whole repository (UnsafePathError).
    """
    return _files_of(_parsed(repo))


def _parsed(repo: Path) -> dict[str, object]:
    """The manifest as a mapping ({} when missing, not a regular file, or not JSON)."""
    text = read_regular(repo / MANIFEST)
    try:
        data = json.loads(text) if text is not None else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _files_of(data: dict[str, object]) -> dict[str, str]:
    files = data.get("files", {})
    if not isinstance(files, dict):
        return {}
    for name in files:
        problem = name_problem(name) if isinstance(name, str) else "is not a file name"
        if problem:
            raise UnsafePathError(source=MANIFEST, path=str(name), reason=problem)
    return {str(k): str(v) for k, v in files.items()}


def manifest_text(rendered: Path, inputs: str | None = None) -> str:
    """The manifest of a complete clean render: every file in it is recorded as fleetform's."""
    return manifest_for(rendered, rendered_files(rendered), inputs)


def manifest_for(rendered: Path, files: list[str], inputs: str | None = None) -> str:
    """`inputs`: the digest of what the render was made from (`inputs_digest`), recorded so
    that a later generate with the same inputs and untouched files need not render again."""
    digests = {name: digest(rendered / name) for name in files}
    head: dict[str, object] = {"generator": "fleetform"}
    if inputs:
        head["inputs"] = inputs
    return json.dumps({**head, "files": digests}, indent=2) + "\n"


def inputs_digest(template: str, commit: str, answers: Mapping[str, Any], version: str) -> str:
    """What a render depends on, in one digest: the template, the commit rendered, the
    answers and fleetform's version (which decides how the template is driven)."""
    payload = {"template": template, "commit": commit, "answers": answers, "fleetform": version}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recorded_inputs(repo: Path) -> str | None:
    """The inputs digest `repo`'s manifest records (None: none, or no manifest)."""
    inputs = _parsed(repo).get("inputs")
    return inputs if isinstance(inputs, str) else None


def unchanged_since(repo: Path, inputs: str) -> tuple[str, ...] | None:
    """The files of `repo` when its manifest was written from exactly `inputs` and every file
    it names is still a regular file with the recorded bytes; None when a render is needed."""
    data = _parsed(repo)  # read once: the inputs and the files of one and the same manifest
    if data.get("inputs") != inputs:
        return None
    files = _files_of(data)
    for name, recorded in files.items():
        if digest_in_repository(confined(repo, name, source=MANIFEST)) != recorded:
            return None
    return tuple(sorted(files))


def current_manifest(repo: Path) -> str | None:
    data = read_regular(repo / MANIFEST)
    return None if data is None else data.decode("utf-8", "replace")


def write_manifest(repo: Path, text: str) -> bool:
    """Record the template's own render as what fleetform wrote, whatever the merge kept;
    whether the file changed (it was committed before the update, so it now shows as changed).

    The digests are those of a clean render, not of the merged files: a file that still
    carries an owner's edit is then not fleetform's, and `generate` will not overwrite it.
    """
    target = repo / MANIFEST
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return False
    write_atomically(target, text)
    return True
