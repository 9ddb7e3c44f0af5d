"""Reports of fleet runs: the progress line and the closing tables of generate, update, drift."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from pathlib import Path
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
    """A line per repository as it finishes (`[12/23] agent-chat: updated`) on stderr and, on
    a terminal, a live counter below them (done/total, elapsed); `quiet`: nothing at all."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self.clock = clock
        self.started = clock()

    def step(self, result: Finished) -> None:
        self.done += 1
        if self.quiet:
            return
        width = len(str(self.total))
        line = f"[{self.done:>{width}}/{self.total}] {result.service}: {result.outcome.value}"
        if self.live:
            elapsed = self.clock() - self.started
            counter = f"{self.done}/{self.total} done, {elapsed:.0f}s, last: {result.service}"
            self.stream.write(f"\r\x1b[2K{line}\n{counter}")
        else:
            self.stream.write(f"{line}\n")
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


# ------------------------------------------------------------------ JSON (--format json)
# One shape for every fleet command (schemas/fleet-result.schema.json): the run, then one
# object per repository with its service, path, outcome, template, files by state, messages.


def generate_json(report: GenerateReport) -> str:
    repositories = [
        _repository(
            r.service,
            r.repo,
            _result_word(r, report.dry_run),
            None,
            _files(r.changes, ("created", "changed", "unchanged", "removed", "foreign")),
            [r.note, r.reason, *(f"kept the original as {b}" for b in r.backups)],
        )
        for r in report.results
    ]
    return _run_json("generate", report, repositories, warnings=list(report.warnings))


def update_json(report: UpdateReport) -> str:
    repositories = []
    for r in report.results:
        before, _, after = r.version.partition(" -> ")
        template: dict[str, object] = {"from": before or None, "to": after or before or None}
        files = {"changed": list(r.files), "conflicts": list(r.conflicts)}
        repositories.append(
            _repository(r.service, r.repo, r.outcome.value, template, files, [r.note, r.reason])
        )
    return _run_json("update", report, repositories)


# drift's file states in JSON: key -> FileChanges attribute (the text labels above).
_DRIFT_STATES = {
    "missing": "created",
    "catalog_changed": "changed",
    "edited": "foreign",
    "no_longer_rendered": "removed",
}


def drift_json(report: DriftReport) -> str:
    repositories = []
    for r in report.results:
        version = r.version
        template: dict[str, object] | None = None
        if version is not None:
            template = {
                "recorded": version.recorded,
                "newest": version.newest,
                "behind": version.behind,
            }
        files = {key: sorted(getattr(r.changes, name)) for key, name in _DRIFT_STATES.items()}
        repositories.append(
            _repository(r.service, r.repo, r.outcome.value, template, files, [r.reason])
        )
    return _run_json("drift", report, repositories)


def _repository(
    service: str,
    repo: Path,
    outcome: str,
    template: dict[str, object] | None,
    files: dict[str, list[str]],
    messages: Sequence[str],
) -> dict[str, object]:
    return {
        "service": service,
        "repository": str(repo),
        "outcome": outcome,
        "template": template,
        "files": files,
        "messages": [m for m in messages if m],
    }


def _files(changes: object, states: Sequence[str]) -> dict[str, list[str]]:
    return {state: list(getattr(changes, state)) for state in states}


def _run_json(
    command: str,
    report: GenerateReport | UpdateReport | DriftReport,
    repositories: list[dict[str, object]],
    *,
    warnings: Sequence[str] = (),
) -> str:
    interrupted = report.interrupted
    payload = {
        "command": command,
        "ok": report.ok,
        "interrupted": signal.Signals(interrupted).name if interrupted else None,
        "not_started": list(report.not_started),
        "warnings": list(warnings),
        "repositories": repositories,
    }
    return json.dumps(payload, indent=2) + "\n"
