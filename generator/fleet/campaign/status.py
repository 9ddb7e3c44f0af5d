"""`fleetform campaign status`: the ledgers of a campaign's shards, merged into one view.

Each shard's job writes its own ledger (`ledger-<I>-of-<N>.json`); a report job gathers them
(CI artifacts) and merges them here. One repository can be in two ledgers when the campaign
was run with another shard count, or once whole and once sharded: the entry written last wins
(its `updated` time), since it describes what the remote has now. Two entries of the same
second that disagree cannot be ordered: that is an error naming both files, not a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.errors import LedgerError, UsageError
from generator.fleet.campaign.ledger import (
    PROBLEMS,
    Entry,
    State,
    campaign_dir,
    read_ledger,
    require_name,
)


@dataclass(frozen=True)
class CampaignStatus:
    campaign: str
    ledgers: tuple[Path, ...]
    entries: tuple[Entry, ...]  # one per repository, by service id

    @property
    def ok(self) -> bool:
        return all(entry.state not in PROBLEMS for entry in self.entries)

    def count(self, state: State) -> int:
        return sum(1 for entry in self.entries if entry.state is state)


def campaign_status(root: Path | None, name: str, ledgers: Sequence[Path] = ()) -> CampaignStatus:
    """Merge `ledgers`, else every ledger of the campaign in the workspace at `root`."""
    require_name(name)
    paths = list(dict.fromkeys(ledgers))
    if not paths:
        if root is None:
            raise UsageError(message="give -w WORKSPACE or --ledger FILE")
        folder = campaign_dir(root, name)
        paths = sorted(folder.glob("ledger*.json"))
        if not paths:
            raise UsageError(
                message=f"no ledger of campaign {name} in {folder}"
                f" (fleetform campaign run {name} writes one)"
            )
    merged: dict[str, tuple[Entry, Path]] = {}
    for path in paths:
        for sid, entry in read_ledger(path, name).entries.items():
            if sid not in merged or entry.updated > merged[sid][0].updated:
                merged[sid] = (entry, path)
            elif entry.updated == merged[sid][0].updated and entry != merged[sid][0]:
                raise LedgerError(
                    path=path,
                    reason=f"repositories.{sid}: differs from the entry in {merged[sid][1]}"
                    " written the same second; which one is newer cannot be told",
                )
    entries = tuple(merged[sid][0] for sid in sorted(merged))
    return CampaignStatus(name, tuple(paths), entries)
