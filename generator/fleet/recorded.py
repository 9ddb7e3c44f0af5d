"""What a repository's `.copier-answers.yml` records: template source, version, answers.

Copier writes the file; fleetform reads it (never follows what it names without checking it
against the catalog's template first) to decide whether a repository needs an update."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import AnswersFileError
from generator.fleet.answers import Answers
from generator.fleet.confine import read_regular

ANSWERS_FILE = ".copier-answers.yml"
MAX_BYTES = 1024 * 1024
MAX_NODES = 200_000


@dataclass(frozen=True)
class Recorded:
    """What a repository's `.copier-answers.yml` says: template source, version, answers."""

    src: str
    commit: str
    answers: dict[str, Any] = field(default_factory=dict)


def read_recorded(repo: Path) -> Recorded:
    """The template source, version and answers in `repo/.copier-answers.yml`.

    The file is repository content: a link is not followed, and a file too large or one
    whose aliases would expand beyond `MAX_NODES` (a "billion laughs") is refused before
    anything is built from it; Copier reads it only after this did.
    """
    path = repo / ANSWERS_FILE
    raw = read_regular(path)
    if raw is None:
        raise AnswersFileError(path=path, reason="is not a regular file")
    if len(raw) > MAX_BYTES:
        raise AnswersFileError(path=path, reason=f"is {len(raw):,} bytes (the limit is 1 MiB)")
    try:
        # Copier writes and reads this file with PyYAML's safe loader (YAML 1.1): reading it
        # the same way (libyaml's parser, the same constructor) sees the values Copier sees.
        _refuse_alias_bombs(raw)
        data = yaml.load(raw, Loader=yaml.CSafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise AnswersFileError(path=path, reason=f"cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise AnswersFileError(path=path, reason="is not a mapping of answers")
    src, commit = data.get("_src_path"), data.get("_commit")
    if not src or commit is None:
        raise AnswersFileError(
            path=path, reason="records no _src_path and _commit (not made from a git template)"
        )
    answers = {str(k): v for k, v in data.items() if not str(k).startswith("_")}
    return Recorded(str(src), str(commit), answers)


def _refuse_alias_bombs(raw: bytes) -> None:
    """Count the nodes the document expands to, each shared node once per use, without
    expanding it (sizes memoised per node): linear in the document, whatever its aliases."""
    root = yaml.compose(raw, Loader=yaml.CSafeLoader)
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            sizes[id(node)] = 1  # a recursive alias counts once, then the walk goes on
            if isinstance(node, yaml.SequenceNode):
                sizes[id(node)] = 1 + sum(size(item) for item in node.value)
            elif isinstance(node, yaml.MappingNode):
                sizes[id(node)] = 1 + sum(size(k) + size(v) for k, v in node.value)
        return sizes[id(node)]

    if root is not None and size(root) > MAX_NODES:
        raise yaml.YAMLError(f"expands to more than {MAX_NODES:,} nodes (a YAML alias bomb?)")


def changed_answers(recorded: Recorded, answers: Answers) -> list[str]:
    """The answers the catalog now gives differently from the recorded ones."""
    return [name for name, value in answers.items() if recorded.answers.get(name) != value]
