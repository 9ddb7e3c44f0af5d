"""The one error hierarchy of fleetform, and the problem record every check returns.

Each error builds its own message; the CLI maps error classes to exit codes in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


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
            "line": self.location.line,
            "col": self.location.col,
            "severity": self.severity.value,
            "message": self.message,
        }


class FleetformError(Exception):
    """Root of every error fleetform raises on purpose."""

    exit_code = 2


class InputError(FleetformError):
    """Input that cannot be used: unreadable or invalid catalog, answers or file (exit 2).

    Carries every problem found, not just the first.
    """

    def __init__(self, *, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, *, path: str | Path, message: str, line: int = 0, col: int = 0) -> InputError:
        return cls(problems=[Problem(Location(str(path), line, col), message)])


class UsageError(FleetformError):
    """A command asked for something that does not exist or cannot be done (exit 2)."""

    def __init__(self, *, message: str) -> None:
        super().__init__(message)


class RangeFullError(FleetformError):
    """No free port is left in a group's range (a finding, exit 1)."""

    exit_code = 1

    def __init__(self, *, group: str, ports: str) -> None:
        self.group = group
        super().__init__(
            f"group {group!r} has no free port left in its range {ports}; widen the range"
            " or add a group"
        )


class ToolMissingError(FleetformError):
    """A validator that `fleetform verify` runs is not installed (exit 2)."""

    def __init__(self, *, tools: list[str]) -> None:
        self.tools = sorted(tools)
        super().__init__(
            f"not installed: {', '.join(self.tools)}; `fleetform verify` runs these"
            " validators (install them with: pip install 'fleetform[test]')"
        )
