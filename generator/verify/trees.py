"""`verify_trees`: `verify_tree` over many trees, one after the other, each reported as it ends.

The trees run in turn: each one already runs its validators in parallel (`tree`), and the
Helm SDK is a Go library in this process, which forked workers must not inherit mid-run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from generator.problems import Problem, Severity
from generator.verify.kubernetes import KUBERNETES_VERSION
from generator.verify.result import Checked, VerifyResult
from generator.verify.tree import verify_tree


class TreeOutcome(StrEnum):
    OK = "ok"
    WARNINGS = "warnings"
    ERRORS = "errors"


@dataclass(frozen=True)
class TreeVerified:
    """One tree's result, as a progress line shows it (`[3/26] ws/agent-chat: ok`)."""

    path: Path
    result: VerifyResult

    @property
    def service(self) -> str:
        return str(self.path)

    @property
    def outcome(self) -> TreeOutcome:
        if not self.result.ok:
            return TreeOutcome.ERRORS
        return TreeOutcome.WARNINGS if self.result.problems else TreeOutcome.OK


@dataclass(frozen=True)
class TreesVerified:
    trees: list[TreeVerified]

    @property
    def problems(self) -> list[Problem]:
        """Tree by tree in the order given, each tree's sorted by position."""
        return [p for tree in self.trees for p in tree.result.problems]

    @property
    def checked(self) -> list[Checked]:
        return [c for tree in self.trees for c in tree.result.checked]

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


def verify_trees(
    paths: Sequence[Path],
    progress: Callable[[TreeVerified], None] | None = None,
    *,
    kube_version: str = KUBERNETES_VERSION,
) -> TreesVerified:
    """`verify_tree` on each path in turn; `progress` sees each tree as it finishes."""
    trees = []
    for path in paths:
        tree = TreeVerified(path, verify_tree(path, kube_version=kube_version))
        trees.append(tree)
        if progress is not None:
            progress(tree)
    return TreesVerified(trees)
