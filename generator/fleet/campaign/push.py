"""Pushing a campaign branch once, with GitLab's merge-request push options.

The remote is asked first (`ls-remote`): the branch already at our commit was pushed (by a run
killed before it wrote its ledger, or by another job): nothing is pushed again, and git would
not even run the server's hooks for it. Otherwise the push carries a lease on what was seen
(`--force-with-lease=<ref>:<seen>`, empty for "must not exist"): a branch someone moved in
between is never overwritten; the run fails for that repository and a rerun looks again.

GitLab reads `merge_request.*` push options (`git push -o`): create the merge request, its
target, title, description and labels, and remove the source branch on merge. A push option
cannot hold a line feed, so the description is one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UpdateFailedError
from generator.fleet.campaign.branch import shown
from generator.git import git

LABEL = "fleetform"
CONFLICT_LABEL = "fleetform::conflict"
_DESCRIPTION_FILES = 40  # files named in the one-line description; the commit has them all


def remote_heads(where: Path, url: str, refs: Sequence[str]) -> dict[str, str]:
    """The commit each of `refs` (full names) names on `url`; a missing one is absent."""
    listed = git(where, "ls-remote", "--refs", url, *refs)
    if listed.returncode != 0:
        reason = listed.stderr.strip().splitlines()[-1:] or ["unreachable"]
        raise UpdateFailedError(reason=f"git ls-remote {url}: {reason[0]}")
    heads = {}
    for line in listed.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref in refs:
            heads[ref] = sha
    return heads


@dataclass(frozen=True)
class Request:
    """The merge request a push asks GitLab for."""

    campaign: str
    target: str  # the default branch
    title: str
    files: Sequence[str]
    conflicts: Sequence[str]


def push_options(request: Request) -> list[str]:
    """The `merge_request.*` push options, in the order GitLab documents them."""
    title = f"Draft: {request.title}" if request.conflicts else request.title
    labels = [LABEL, CONFLICT_LABEL] if request.conflicts else [LABEL]
    return [
        "merge_request.create",
        f"merge_request.target={request.target}",
        f"merge_request.title={shown(title)}",
        f"merge_request.description={description(request)}",
        *(f"merge_request.label={label}" for label in labels),
        "merge_request.remove_source_branch",
    ]


def description(request: Request) -> str:
    """One line: the campaign, the change, the files (and the conflicted ones first)."""
    parts = [f"fleetform campaign {request.campaign}: {request.title}."]
    if request.conflicts:
        parts.append(
            f"Conflicts left inline, resolve before merging: {_listed(request.conflicts)}."
        )
    parts.append(f"{len(request.files)} files: {_listed(request.files)}.")
    return shown(" ".join(parts))


def _listed(names: Sequence[str]) -> str:
    head = ", ".join(names[:_DESCRIPTION_FILES])
    more = len(names) - _DESCRIPTION_FILES
    return f"{head} and {more} more (see the commit)" if more > 0 else head


def push(scratch: Path, url: str, commit: str, ref: str, seen: str, options: list[str]) -> str:
    """Push `commit` to `ref` on `url` if the remote still has `seen` there ("" for none)."""
    argv = ["push", "--porcelain", "--no-verify", f"--force-with-lease={ref}:{seen}"]
    argv += [arg for option in options for arg in ("--push-option", option)]
    pushed = git(scratch, *argv, url, f"{commit}:{ref}")
    if pushed.returncode != 0:
        reason = " ".join(pushed.stderr.split()) or " ".join(pushed.stdout.split())
        if "stale info" in pushed.stdout + pushed.stderr:
            reason = f"{ref} moved on the remote since it was read; a rerun looks again"
        raise UpdateFailedError(reason=f"git push: {reason}")
    return "updated (with lease)" if seen else "created"
