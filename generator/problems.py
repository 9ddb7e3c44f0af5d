"""Located problems: where, how bad, what; and their text and JSON forms.

Every check returns `Problem`s; reports print them one a line as `PATH:LINE:COL: error: MESSAGE`
(editor-clickable) or as JSON for machines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


def show(value: object) -> str:
    """A value in a message as the user wrote it in YAML, not as Python spells it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return repr(value)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A position in a file, 1-based like editors show it (0 = unknown)."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{max(self.col, 1)}"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: where, how bad, what. Sorts by position so reports read top to bottom."""

    location: Location
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.location}: {self.severity.value}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.location.path,
            # Unknown positions are null, not 0: no editor line is 0.
            "line": self.location.line or None,
            "col": (self.location.col or None) if self.location.line else None,
            "severity": self.severity.value,
            "message": self.message,
        }


def as_text(problems: Sequence[Problem]) -> str:
    return "".join(f"{p}\n" for p in problems)


def as_json(problems: Sequence[Problem]) -> str:
    payload = {
        "ok": not any(p.severity is Severity.ERROR for p in problems),
        "errors": sum(p.severity is Severity.ERROR for p in problems),
        "warnings": sum(p.severity is Severity.WARNING for p in problems),
        "problems": [p.as_dict() for p in problems],
    }
    return json.dumps(payload, indent=2) + "\n"


def summary(problems: Sequence[Problem], subject: str) -> str:
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if not problems:
        return f"{subject}: ok"
    return f"{subject}: {errors} error(s), {warnings} warning(s)"
