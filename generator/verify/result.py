"""What verify reports: problems sorted by position, and which tool looked at which file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from generator.problems import Problem, Severity

#: (tool, file or chart directory) for each check that ran.
Checked = tuple[str, str]


@dataclass(frozen=True)
class VerifyResult:
    """What verify found (sorted by position) and which tool looked at which file."""

    problems: list[Problem]
    checked: list[Checked]

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


def collect(problems: Iterable[Problem] = (), checked: Iterable[Checked] = ()) -> VerifyResult:
    """A result with duplicates dropped: values sets and tools can report one finding twice."""
    return VerifyResult(problems=sorted(set(problems)), checked=sorted(set(checked)))


def combine(results: Iterable[VerifyResult]) -> VerifyResult:
    problems: list[Problem] = []
    checked: list[Checked] = []
    for result in results:
        problems += result.problems
        checked += result.checked
    return collect(problems, checked)
