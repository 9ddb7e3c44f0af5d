"""`--shard I/N`: a stable 1/N of the fleet by service id, so N CI jobs split it exactly.

A service's shard is a hash of its id alone (sha256, not Python's salted `hash`): the same in
every job, on every machine, whatever else the catalog holds, so adding a service never moves
another one to a different shard. Every id is in exactly one of the N shards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from generator.errors import UsageError

Shard = tuple[int, int]  # (I, N), 1 <= I <= N


def parse_shard(text: str) -> Shard:
    """`I/N` (CI's `$CI_NODE_INDEX/$CI_NODE_TOTAL`), else one line (UsageError)."""
    found = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise UsageError(message=f"--shard {text!r}: give I/N with 1 <= I <= N, e.g. 2/4")
    return int(found[1]), int(found[2])


def shard_of(service: str, total: int) -> int:
    """The shard (1..total) of a service id."""
    digest = hashlib.sha256(service.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def in_shard(services: Sequence[str], shard: Shard | None) -> list[str]:
    if shard is None:
        return list(services)
    index, total = shard
    return [sid for sid in services if shard_of(sid, total) == index]
