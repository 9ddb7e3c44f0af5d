"""What `update` and `heal` share: the options of a run over the workspace's repositories,
one repository's result, and the report of the run; each keeps its own outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from generator.fleet.template import TemplateSource

_Outcome = TypeVar("_Outcome", bound=StrEnum)
_Result = TypeVar("_Result", bound="RepositoryResult[Any]")


@dataclass(frozen=True)
class RunOptions:
    """The workspace, the template (what it means is the command's), workers, dry run."""

    root: Path
    template: TemplateSource
    jobs: int = 1
    dry_run: bool = False


@dataclass(frozen=True)
class RepositoryResult(Generic[_Outcome]):
    """One repository: what happened at which template version, the files written (or that
    would be), the ones left with conflicts, and why."""

    service: str
    repo: Path
    outcome: _Outcome
    version: str = ""
    files: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    reason: str = ""
    note: str = ""  # what was done first: an interrupted run finished or cleaned up


@dataclass(frozen=True)
class RunReport(Generic[_Result]):
    """Every repository's result; `PROBLEMS`: the command's outcomes that fail the run."""

    PROBLEMS: ClassVar[tuple[StrEnum, ...]] = ()

    results: list[_Result]
    dry_run: bool
    interrupted: int | None = None  # the signal that stopped the run: `not_started` were not
    not_started: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()  # repositories of services no longer in the catalog

    @property
    def ok(self) -> bool:
        return self.interrupted is None and all(
            r.outcome not in self.PROBLEMS for r in self.results
        )
