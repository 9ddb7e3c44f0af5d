"""Print problems for people (one a line, editor-clickable) or for machines (JSON)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from generator.errors import Problem, Severity
from generator.fleet import GenerateReport, Outcome, ServiceResult


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


class ProgressLine:
    """`[12/23] agent-chat updated` on one rewritten stderr line, only when it is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()

    def step(self, result: ServiceResult) -> None:
        self.done += 1
        if self.live:
            text = f"[{self.done}/{self.total}] {result.service} {result.outcome.value}"
            self.stream.write(f"\r\x1b[2K{text}")
            self.stream.flush()

    def close(self) -> None:
        if self.live and self.done:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def generate_summary(report: GenerateReport) -> str:
    """The table at the end of generate: service, result, files, and why when it failed."""
    rows = [("SERVICE", "RESULT", "FILES")]
    for result in report.results:
        rows.append((result.service, _result_word(result, report.dry_run), _files_cell(result)))
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{width[0]}}  {b:<{width[1]}}  {c}".rstrip() for a, b, c in rows]
    for result in report.results:
        if result.reason:
            lines.append(f"{result.service}: {result.reason}")
        lines.extend(f"{result.service}: kept the original as {b}" for b in result.backups)
    diffs = "".join(r.diff for r in report.results)
    counts: dict[str, int] = {}
    for result in report.results:
        word = _result_word(result, report.dry_run)
        counts[word] = counts.get(word, 0) + 1
    total = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
    closing = f"{len(report.results)} service(s): {total}"
    if report.results and all(r.outcome is Outcome.UNCHANGED for r in report.results):
        closing += " (nothing to do: every repository matches the catalog)"
    return diffs + "\n".join([*lines, closing]) + "\n"


def _result_word(result: ServiceResult, dry_run: bool) -> str:
    if dry_run and result.outcome in (Outcome.CREATED, Outcome.UPDATED):
        return f"would be {result.outcome.value}"
    return result.outcome.value


def _files_cell(result: ServiceResult) -> str:
    c = result.changes
    parts = [
        (len(c.created), "new"),
        (len(c.changed), "changed"),
        (len(c.removed), "removed"),
        (len(c.foreign), "not ours"),
        (len(c.unchanged), "unchanged"),
    ]
    return ", ".join(f"{n} {label}" for n, label in parts if n) or "-"
