# ruff: noqa: E501  (the expected lines are fleetform's exact output; wrapping them would hide it)
"""`fleetform campaign status`: shards' ledgers merged, and every bad ledger refused.

A ledger is untrusted input (hand-edited, truncated, copied from CI artifacts): each case of
`tests/corpus/ledger/` gives its one line and exit 2, for `status` and for `run` alike, and
nothing is written. No repository is needed for any of this: the ledgers are built here.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from generator.fleet.campaign.ledger import Entry, Key, Ledger, State, write_ledger
from generator.fleet.workspace import hold
from tests.helpers import CORPUS, catalog_at, fleetform
from tests.remotes import with_remotes

LEDGERS = CORPUS / "ledger"
PREFIX = "fleetform: error: campaign ledger {path}: "
# case -> the message after the prefix; `run` and `status` give the same line, exit 2.
CASES = {
    "not_a_ledger": "fleetform_ledger: not a fleetform ledger of format 1",
    "other_campaign": "campaign: is 'v3', not the campaign 'v2'",
    "bad_shard": "shard: is not I/N",
    "service_not_an_id": "repositories['../x']: is not a service id",
    "repository_escapes": "repositories.api: repository '../../etc' is not a normalised path inside the repository",
    "repository_absolute": "repositories.api: repository '/etc' is an absolute path",
    "repository_in_git": "repositories.api: repository 'api/.git' is inside .git",
    "unknown_state": "repositories.api: state 'merged' is not one of unchanged, committed, pushed, conflict, refused, failed",
    "commit_not_an_id": "repositories.api: commit is not a commit id",
    "file_outside": "repositories.api: files is not a list of paths inside the repository",
    "key_incomplete": "repositories.api: key is not {base, template, answers, fleetform}",
    "time_not_utc": "repositories.api: updated is not a UTC time as fleetform writes it (2026-01-31T12:00:00Z)",
    "reason_not_text": "repositories.api: reason is not a string of fleetform's",
    "truncated": "is not JSON (truncated?): Unterminated string starting at: line 11 column 13 (char 178)",
}
KEY = Key("a" * 40, "b" * 40, "c" * 64, "0.1.0")


def entry(service: str, state: State, updated: str, **fields: Any) -> Entry:
    made = Entry(service, service, state, key=KEY, updated=updated)
    return replace(made, **fields)


def test_the_corpus_is_exactly_the_cases() -> None:
    assert sorted(p.stem for p in LEDGERS.glob("*.json")) == sorted([*CASES, "good"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_ledger_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    ledger = tmp_path / f"{case}.json"
    shutil.copy(LEDGERS / f"{case}.json", ledger)
    before = ledger.read_bytes()
    result = fleetform("campaign", "status", "v2", "--ledger", ledger)
    assert result.exit_code == 2
    assert result.stderr == PREFIX.format(path=ledger) + CASES[case] + "\n"
    assert result.stdout == "" and ledger.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [ledger]


def test_a_bad_ledger_in_the_workspace_stops_the_run_before_any_repository(
    template_repo: Path, tmp_path: Path
) -> None:
    catalog = catalog_at(
        template_repo,
        tmp_path / "catalog.yaml",
        text=with_remotes(
            'version: 1\nname: demo\ngroups:\n  apps: {ports: "3000-3009", cluster: services}\n'
            "services:\n  api: {group: apps, runtime: node, port: 3000}\n",
            tmp_path / "remotes",
        ),
    )
    workspace = tmp_path / "workspace"
    ledger = workspace / ".fleetform" / "campaigns" / "v2" / "ledger.json"
    ledger.parent.mkdir(parents=True)
    shutil.copy(LEDGERS / "repository_escapes.json", ledger)
    before = ledger.read_bytes()
    result = fleetform("campaign", "run", "v2", "-c", catalog, "-w", workspace, "--push")
    assert result.exit_code == 2
    assert result.stderr == PREFIX.format(path=ledger) + CASES["repository_escapes"] + "\n"
    assert ledger.read_bytes() == before and not (workspace / "api").exists()


def test_a_second_run_of_the_same_ledger_is_refused_while_the_first_holds_it(
    template_repo: Path, tmp_path: Path
) -> None:
    catalog = catalog_at(
        template_repo,
        tmp_path / "catalog.yaml",
        text='version: 1\nname: demo\ngroups:\n  apps: {ports: "3000-3009", cluster: services}\n'
        "services:\n  api: {group: apps, runtime: node, port: 3000}\n",
    )
    workspace = tmp_path / "workspace"
    lock = workspace / ".fleetform" / "campaigns" / "v2" / "ledger-1-of-2.lock"
    lock.parent.mkdir(parents=True)
    # The lock is an flock: held here as a running `campaign run` holds it.
    with hold(lock, what="test", wait=0):
        result = fleetform(
            "campaign", "run", "v2", "-c", catalog, "-w", workspace, "--shard", "1/2"
        )
    assert result.exit_code == 1
    assert result.stderr.startswith("fleetform: error: campaign v2 shard 1/2 is locked by")
    assert not (lock.parent / "ledger-1-of-2.json").exists()


def test_status_merges_shards_and_the_newest_entry_of_a_repository_wins(tmp_path: Path) -> None:
    folder = tmp_path / ".fleetform" / "campaigns" / "v2"
    old = entry("api", State.FAILED, "2026-12-01T10:00:00Z", reason="git push: refused")
    new = entry("api", State.PUSHED, "2026-12-01T11:00:00Z", commit="d" * 40, push="created")
    write_ledger(folder / "ledger-1-of-2.json", Ledger("v2", "1/2", {"api": old}))
    other = {"web": entry("web", State.UNCHANGED, "2026-12-01T10:30:00Z"), "api": new}
    write_ledger(folder / "ledger-2-of-2.json", Ledger("v2", "2/2", other))
    result = fleetform("campaign", "status", "v2", "-w", tmp_path, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    states = {r["service"]: (r["state"], r["push"]) for r in data["repositories"]}
    assert states == {"api": ("pushed", "created"), "web": ("unchanged", None)}
    assert data["counts"]["pushed"] == 1 and data["ok"] is True


def test_two_entries_of_one_second_that_disagree_are_an_error(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    write_ledger(
        one, Ledger("v2", None, {"api": entry("api", State.PUSHED, "2026-12-01T10:00:00Z")})
    )
    write_ledger(
        two, Ledger("v2", None, {"api": entry("api", State.FAILED, "2026-12-01T10:00:00Z")})
    )
    result = fleetform("campaign", "status", "v2", "--ledger", one, "--ledger", two)
    assert result.exit_code == 2
    assert result.stderr == (
        f"fleetform: error: campaign ledger {two}: repositories.api: differs from the entry in"
        f" {one} written the same second; which one is newer cannot be told\n"
    )


def test_markdown_shows_hostile_text_as_text(tmp_path: Path) -> None:
    """A reason carries repository content: no HTML, no broken table, no link."""
    reason = "a | b <img src=x onerror=alert(1)> [click](http://evil) `x`\nsecond line"
    ledger = tmp_path / "ledger.json"
    bad = entry("api", State.REFUSED, "2026-12-01T10:00:00Z", reason=reason)
    write_ledger(ledger, Ledger("v2", None, {"api": bad}))
    result = fleetform("campaign", "status", "v2", "--ledger", ledger, "--format", "markdown")
    assert result.exit_code == 1  # a refusal
    [row] = [line for line in result.stdout.splitlines() if line.startswith("| api ")]
    assert row == (
        "| api | refused | - | - | a \\| b &lt;img src=x onerror=alert(1)&gt; \\[click\\](http://evil)"
        " \\`x\\` second line |"
    )


def test_status_without_a_ledger_says_where_it_looked(tmp_path: Path) -> None:
    result = fleetform("campaign", "status", "v2", "-w", tmp_path)
    assert result.exit_code == 2
    folder = tmp_path / ".fleetform" / "campaigns" / "v2"
    assert result.stderr == (
        f"fleetform: error: no ledger of campaign v2 in {folder} (fleetform campaign run v2 writes one)\n"
    )
