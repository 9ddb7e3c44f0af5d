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

ANSWERS_FILE = ".copier-answers.yml"


@dataclass(frozen=True)
class Recorded:
    """What a repository's `.copier-answers.yml` says: template source, version, answers."""

    src: str
    commit: str
    answers: dict[str, Any] = field(default_factory=dict)


def read_recorded(repo: Path) -> Recorded:
    """The template source, version and answers in `repo/.copier-answers.yml`."""
    path = repo / ANSWERS_FILE
    try:
        # Copier writes and reads this file with PyYAML's safe loader (YAML 1.1): reading it
        # the same way (libyaml's parser, the same constructor) sees the values Copier sees.
        data = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
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


def changed_answers(recorded: Recorded, answers: Answers) -> list[str]:
    """The answers the catalog now gives differently from the recorded ones."""
    return [name for name, value in answers.items() if recorded.answers.get(name) != value]
