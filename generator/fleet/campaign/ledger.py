"""A campaign's ledger: per repository its state, idempotency key, branch commit and push.

`WORKSPACE/.fleetform/campaigns/<NAME>/ledger.json` (`ledger-<I>-of-<N>.json` for a shard),
rewritten atomically after every repository, so a run killed at any moment leaves the ledger
as it was after the last repository it finished. A rerun skips a repository whose key (the
remote default branch's commit, the template commit, a digest of the answers, the fleetform
version) is the one recorded and whose state is final; it redoes every other.

A ledger is read back as untrusted input (hand-edited, truncated, or copied from a CI job's
artifacts): every field is checked, and anything fleetform would not have written is one
`LedgerError` (exit 2) naming the file and the field, before anything is used.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from generator.errors import LedgerError, UsageError, WriteError
from generator.files import write_atomically
from generator.fleet.confine import name_problem
from generator.fleet.workspace import STATE_DIR

FORMAT = 1  # the `fleetform_ledger` version this fleetform writes and reads
MAX_BYTES = 64 * 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
# A campaign name is one component of the branch `fleetform/NAME` and a directory name.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_SERVICE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class State(StrEnum):
    UNCHANGED = "unchanged"  # the update changes nothing: no branch
    COMMITTED = "committed"  # the branch holds the commit, not pushed (yet)
    PUSHED = "pushed"  # the branch is on the remote, with its merge request options
    CONFLICT = "conflict"  # committed with inline conflict markers (a Draft once pushed)
    REFUSED = "refused"  # not touched: why is in `reason`
    FAILED = "failed"  # something went wrong on the way: why is in `reason`


PROBLEMS = (State.CONFLICT, State.REFUSED, State.FAILED)


@dataclass(frozen=True)
class Key:
    """What a repository's campaign commit is made from: equal keys, equal commits."""

    base: str  # the remote default branch's commit
    template: str  # the template commit (or ref, for a template not on this machine)
    answers: str  # sha256 of the catalog's answers
    fleetform: str  # the fleetform version


@dataclass(frozen=True)
class Entry:
    """One repository's line in the ledger."""

    service: str
    repository: str  # its path in the workspace
    state: State
    reason: str = ""
    key: Key | None = None
    commit: str = ""  # the branch commit ("" when there is none)
    title: str = ""
    files: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    push: str = ""  # what the push did: "created", "updated (with lease)", "already pushed"
    updated: str = ""  # ISO 8601 UTC, when this entry was written

    def final(self, pushing: bool) -> bool:
        """Whether a rerun with the same key has nothing left to do for this repository."""
        if self.state in (State.UNCHANGED, State.PUSHED):
            return True
        if self.state is State.CONFLICT:
            return bool(self.push) or not pushing
        return self.state is State.COMMITTED and not pushing


@dataclass(frozen=True)
class Ledger:
    campaign: str
    shard: str | None = None  # "I/N", or None for the whole fleet
    entries: dict[str, Entry] = field(default_factory=dict)

    def with_entry(self, entry: Entry) -> Ledger:
        return replace(self, entries={**self.entries, entry.service: entry})


def require_name(name: str) -> str:
    """`name` if it can name a campaign (the branch `fleetform/NAME`, a folder); else one line."""
    if not _NAME.match(name) or name.endswith((".lock", ".")) or ".." in name:
        raise UsageError(
            message=f"campaign name {name!r}: use letters, digits, '.', '_' and '-' (up to 100,"
            " starting with a letter or digit, no '..', not ending in '.' or '.lock'); it names"
            " the branch fleetform/NAME"
        )
    return name


def campaign_dir(root: Path, name: str) -> Path:
    return root / STATE_DIR / "campaigns" / require_name(name)


def ledger_path(root: Path, name: str, shard: tuple[int, int] | None) -> Path:
    file = "ledger.json" if shard is None else f"ledger-{shard[0]}-of-{shard[1]}.json"
    return campaign_dir(root, name) / file


def answers_digest(answers: Mapping[str, Any]) -> str:
    text = json.dumps(answers, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_ledger(path: Path, ledger: Ledger) -> None:
    """Replace the ledger file in one step (its folder made first)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path=path.parent, reason=exc.strerror or str(exc)) from exc
    data = {
        "fleetform_ledger": FORMAT,
        "campaign": ledger.campaign,
        "shard": ledger.shard,
        "repositories": {sid: _entry_data(e) for sid, e in sorted(ledger.entries.items())},
    }
    write_atomically(path, json.dumps(data, indent=1) + "\n")


def _entry_data(entry: Entry) -> dict[str, Any]:
    data = asdict(entry)
    data.pop("service")
    data["state"] = entry.state.value
    data["files"], data["conflicts"] = list(entry.files), list(entry.conflicts)
    return data


def read_ledger(path: Path, campaign: str, *, missing_ok: bool = False) -> Ledger:
    """The ledger at `path`, every field checked (LedgerError); empty when missing and
    `missing_ok`."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        if missing_ok:
            return Ledger(campaign)
        raise LedgerError(path=path, reason="no such file") from None
    except OSError as exc:
        raise LedgerError(path=path, reason=f"cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise LedgerError(path=path, reason="is over 64 MiB, more than any fleet's ledger")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise LedgerError(path=path, reason=f"is not JSON (truncated?): {exc}") from None
    return _ledger(path, data, campaign)


def _ledger(path: Path, data: object, campaign: str) -> Ledger:
    def bad(where: str, why: str) -> LedgerError:
        return LedgerError(path=path, reason=f"{where}: {why}")

    if not isinstance(data, dict) or data.get("fleetform_ledger") != FORMAT:
        raise bad("fleetform_ledger", f"not a fleetform ledger of format {FORMAT}")
    if data.get("campaign") != campaign:
        raise bad("campaign", f"is {_short(data.get('campaign'))}, not the campaign {campaign!r}")
    shard = data.get("shard")
    if shard is not None and not (isinstance(shard, str) and re.match(r"^\d+/\d+$", shard)):
        raise bad("shard", "is not I/N")
    repositories = data.get("repositories")
    if not isinstance(repositories, dict):
        raise bad("repositories", "is not a mapping")
    entries = {}
    for service, item in repositories.items():
        if not isinstance(service, str) or not _SERVICE.match(service):
            raise bad(f"repositories[{_short(service)}]", "is not a service id")
        where = f"repositories.{service}"
        entries[service] = _entry(service, item, lambda why, w=where: bad(w, why))
    return Ledger(campaign, shard, entries)


def _entry(service: str, item: object, bad: Any) -> Entry:
    if not isinstance(item, dict):
        raise bad("is not a mapping")
    text = {
        name: item.get(name, "")
        for name in ("repository", "state", "reason", "commit", "title", "push", "updated")
    }
    for name, value in text.items():
        if not isinstance(value, str) or len(value) > 4096:
            raise bad(f"{name} is not a string of fleetform's")
    problem = name_problem(text["repository"])
    if problem:
        raise bad(f"repository {_short(text['repository'])} {problem}")
    if text["state"] not in {s.value for s in State}:
        raise bad(
            f"state {_short(text['state'])} is not one of {', '.join(s.value for s in State)}"
        )
    if text["commit"] and not _SHA.match(text["commit"]):
        raise bad("commit is not a commit id")
    if text["updated"] and not _TIME.match(text["updated"]):
        raise bad("updated is not a UTC time as fleetform writes it (2026-01-31T12:00:00Z)")
    lists = {name: item.get(name, []) for name in ("files", "conflicts")}
    for name, value in lists.items():
        if not isinstance(value, list) or any(
            not isinstance(v, str) or name_problem(v) for v in value
        ):
            raise bad(f"{name} is not a list of paths inside the repository")
    return Entry(
        service,
        text["repository"],
        State(text["state"]),
        text["reason"],
        _key(item.get("key"), bad),
        text["commit"],
        text["title"],
        tuple(lists["files"]),
        tuple(lists["conflicts"]),
        text["push"],
        text["updated"],
    )


def _key(value: object, bad: Any) -> Key | None:
    if value is None:
        return None
    names = ("base", "template", "answers", "fleetform")
    if (
        not isinstance(value, dict)
        or set(value) != set(names)
        or not all(isinstance(value[n], str) and len(value[n]) <= 256 for n in names)
    ):
        raise bad("key is not {base, template, answers, fleetform}")
    return Key(**{n: value[n] for n in names})


def _short(value: object) -> str:
    """A value from a hostile file, shown on one line and never long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
