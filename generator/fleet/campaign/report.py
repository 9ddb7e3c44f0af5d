"""The text of the campaign commands: the run's table, and status as a table, JSON or Markdown.

The Markdown is what a CI report job posts (a merge request note, a job summary): every cell
is escaped, since reasons and titles carry repository content and catalog values.
"""

from __future__ import annotations

import html
import json
import signal
from collections.abc import Iterable, Sequence
from typing import Any

from generator.fleet.campaign.ledger import Entry, State
from generator.fleet.campaign.run import CampaignReport
from generator.fleet.campaign.status import CampaignStatus

_ORDER = tuple(State)


def _columns(entries: Iterable[Entry]) -> list[tuple[str, ...]]:
    return [
        (e.service, e.state.value, e.commit[:12], e.push or "-", e.reason or e.title)
        for e in entries
    ]


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


_HEADER = ("SERVICE", "STATE", "COMMIT", "PUSH", "REASON OR TITLE")


def _counts(entries: Iterable[Entry]) -> str:
    states = [e.state for e in entries]
    found = [f"{states.count(s)} {s.value}" for s in _ORDER if s in states]
    return ", ".join(found) or "no repositories"


def run_summary(report: CampaignReport) -> str:
    entries = [r.entry for r in report.results]
    text = _table(_columns(entries), _HEADER) if entries else ""
    skipped = sum(1 for r in report.results if r.skipped)
    shard = f" shard {report.shard[0]}/{report.shard[1]}" if report.shard else ""
    line = f"campaign {report.campaign}{shard}: {_counts(entries)}"
    if skipped:
        line += f" ({skipped} already done, skipped)"
    text += f"{line}; ledger {report.ledger}\n"
    if not report.pushing and any(e.commit for e in entries):
        text += "nothing pushed: rerun with --push to push the branches\n"
    if report.limited:
        text += f"stopped at --limit: {_not_started(report.not_started)} (rerun to continue)\n"
    if report.interrupted is not None:
        text += (
            f"interrupted by {signal.Signals(report.interrupted).name}:"
            f" {_not_started(report.not_started)} (rerun to continue)\n"
        )
    return text


def _not_started(services: Sequence[str], named: int = 10) -> str:
    """`3 repositories not started: a, b, c` (the first `named` of them named)."""
    count = len(services)
    text = f"{count} {'repository' if count == 1 else 'repositories'} not started"
    if services:
        text += ": " + ", ".join(services[:named]) + (", ..." if count > named else "")
    return text


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "service": entry.service,
        "repository": entry.repository,
        "state": entry.state.value,
        "reason": entry.reason,
        "commit": entry.commit or None,
        "title": entry.title,
        "files": list(entry.files),
        "conflicts": list(entry.conflicts),
        "push": entry.push or None,
        "updated": entry.updated or None,
        "key": None if entry.key is None else vars(entry.key),
    }


def run_json(report: CampaignReport) -> str:
    # The signal's name, as every fleet command's JSON gives it (fleet-result.schema.json).
    stopped = None if report.interrupted is None else signal.Signals(report.interrupted).name
    data = {
        "ok": report.ok,
        "campaign": report.campaign,
        "shard": None if report.shard is None else f"{report.shard[0]}/{report.shard[1]}",
        "ledger": str(report.ledger),
        "pushing": report.pushing,
        "interrupted": stopped,
        "limited": report.limited,
        "not_started": list(report.not_started),
        "repositories": [{**entry_json(r.entry), "skipped": r.skipped} for r in report.results],
    }
    return json.dumps(data, indent=2) + "\n"


def status_table(status: CampaignStatus) -> str:
    text = _table(_columns(status.entries), _HEADER) if status.entries else ""
    return text + f"campaign {status.campaign}: {_counts(status.entries)}\n"


def status_json(status: CampaignStatus) -> str:
    data = {
        "ok": status.ok,
        "campaign": status.campaign,
        "ledgers": [str(path) for path in status.ledgers],
        "counts": {s.value: status.count(s) for s in _ORDER},
        "repositories": [entry_json(entry) for entry in status.entries],
    }
    return json.dumps(data, indent=2) + "\n"


def _cell(text: str) -> str:
    """A Markdown table cell that shows `text` as text: no HTML, no column break, one line."""
    escaped = html.escape(" ".join(text.split()), quote=False)
    for char in "\\|`*_[]":
        escaped = escaped.replace(char, "\\" + char)
    return escaped or "-"


def status_markdown(status: CampaignStatus) -> str:
    lines = [
        f"## fleetform campaign {_cell(status.campaign)}",
        "",
        _cell(_counts(status.entries)),
        "",
        "| service | state | commit | push | reason or title |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in status.entries:
        commit = f"`{entry.commit[:12]}`" if entry.commit else "-"
        cells = (_cell(entry.service), entry.state.value, commit, _cell(entry.push))
        lines.append(f"| {' | '.join(cells)} | {_cell(entry.reason or entry.title)} |")
    return "\n".join(lines) + "\n"
