"""Reports of fleet runs: the progress line and the closing tables of generate, update, drift."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Protocol, TextIO

from generator.fleet.drift import DriftOutcome, DriftReport, DriftResult
from generator.fleet.generate import GenerateReport, Outcome, ServiceResult
from generator.fleet.update import UpdateOutcome, UpdateReport


class Finished(Protocol):
    """A result of one service that a progress line can show (generate, update, drift)."""

    @property
    def service(self) -> str: ...

    @property
    def outcome(self) -> Enum: ...


class ProgressLine:
    """`[12/23] agent-chat updated` on one rewritten stderr line, only when it is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()

    def step(self, result: Finished) -> None:
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
    lines = table(rows)
    for result in report.results:
        if result.note:
            lines.append(f"{result.service}: {result.note}")
        if result.reason:
            lines.append(f"{result.service}: {result.reason}")
        lines.extend(f"{result.service}: kept the original as {b}" for b in result.backups)
    diffs = "".join(r.diff for r in report.results)
    closing = count_line(_result_word(r, report.dry_run) for r in report.results)
    everyone = report.results and report.interrupted is None
    if everyone and all(r.outcome is Outcome.UNCHANGED for r in report.results):
        closing += " (nothing to do: every repository matches the catalog)"
    stopped = interrupted_lines(report.interrupted, len(report.results), report.not_started)
    return diffs + "\n".join([*lines, closing, *stopped]) + "\n"


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned columns two spaces apart (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    padded = (
        [*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]] for row in rows
    )
    return ["  ".join(cells).rstrip() for cells in padded]


def count_line(words: Iterable[str]) -> str:
    """`26 service(s): 3 updated, 23 up to date`: how many services ended each way."""
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    total = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
    return f"{sum(counts.values())} service(s): {total}"


def interrupted_lines(signum: int | None, done: int, not_started: Sequence[str]) -> list[str]:
    """The last line of a run a signal stopped: `interrupted by SIGTERM: 7 of 26 repositories
    done; the others were not started` (none for a run that was not stopped)."""
    if signum is None:
        return []
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    line = f"interrupted by {name}: {done} of {done + len(not_started)} repositories done"
    return [f"{line}; the others were not started" if not_started else line]


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


def update_summary(report: UpdateReport) -> str:
    """The table at the end of update: service, result, template version, files; then why."""
    rows = [("SERVICE", "RESULT", "TEMPLATE", "FILES")]
    for r in report.results:
        files = f"{len(r.files)} changed" if r.files else "-"
        if r.conflicts:
            files += f", {len(r.conflicts)} with conflicts"
        rows.append((r.service, r.outcome.value, r.version or "-", files))
    lines = table(rows)
    for r in report.results:
        if r.conflicts:
            lines.append(
                f"{r.service}: conflicts in {', '.join(r.conflicts)}: resolve the <<<<<<< markers"
                " in the repository, then commit"
            )
        if r.note:
            lines.append(f"{r.service}: {r.note}")
        if r.reason:
            lines.append(f"{r.service}: {r.reason}")
    closing = count_line(r.outcome.value for r in report.results)
    everyone = report.results and report.interrupted is None
    if everyone and all(r.outcome is UpdateOutcome.UP_TO_DATE for r in report.results):
        closing += (
            " (nothing to do: every repository is at the template ref with the catalog's answers)"
        )
    elif any(r.outcome is UpdateOutcome.UPDATED for r in report.results):
        closing += " (nothing committed: review and commit in each repository)"
    stopped = interrupted_lines(report.interrupted, len(report.results), report.not_started)
    return "\n".join([*lines, closing, *stopped]) + "\n"


_DRIFT_LABELS = (
    ("created", "missing from the repository"),
    ("changed", "catalog changed since fleetform wrote it"),
    ("foreign", "edited: not as fleetform wrote it"),
    ("removed", "no longer rendered"),
)


def drift_summary(report: DriftReport) -> str:
    """The table of drift: service, result, recorded template version; then each file."""
    rows = [("SERVICE", "RESULT", "TEMPLATE", "FILES")]
    for r in report.results:
        rows.append((r.service, r.outcome.value, _version_cell(r), _drift_files_cell(r)))
    lines = table(rows)
    for r in report.results:
        if r.reason:
            lines.append(f"{r.service}: {r.reason}")
        for attribute, label in _DRIFT_LABELS:
            lines.extend(f"{r.service}: {name}: {label}" for name in getattr(r.changes, attribute))
    closing = count_line(r.outcome.value for r in report.results)
    everyone = report.results and report.interrupted is None
    if everyone and all(r.outcome is DriftOutcome.IN_SYNC for r in report.results):
        closing += " (every repository matches its template version and the catalog)"
    stopped = interrupted_lines(report.interrupted, len(report.results), report.not_started)
    return "\n".join([*lines, closing, *stopped]) + "\n"


def _version_cell(result: DriftResult) -> str:
    version = result.version
    if version is None:
        return "-"
    if version.behind:
        return f"{version.recorded} (behind {version.newest})"
    if version.behind is False and version.recorded == version.newest:
        return f"{version.recorded} (newest)"
    if version.at_newest:
        return f"{version.newest} (newest; recorded as {version.recorded})"
    if version.behind is False:
        return f"{version.recorded} (not behind {version.newest})"
    return f"{version.recorded} ({version.note})"


def _drift_files_cell(result: DriftResult) -> str:
    c = result.changes
    count = len(c.created) + len(c.changed) + len(c.foreign) + len(c.removed)
    return f"{count} differ" if count else "-"
