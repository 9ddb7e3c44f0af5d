"""`fleetform clone`: every generated service's repository in the workspace, from its remote.

A repository missing from the workspace is cloned; one present is fetched, which only
updates its remote-tracking branches (`refs/remotes/origin/*`): its work tree, index,
checked-out branch, local branches and tags are never touched. A present repository is
used only when it is a git repository of its own whose origin is the catalog's remote;
anything else is refused, never "fixed" (it may be an owner's work).

Safety. Everything runs through the hardened git (`generator.git`: no hooks, no fsmonitor,
no command a repository configures, no `ext::`), without submodules, with every received
object checked (`transfer.fsckObjects`, which refuses trees naming `.git` or `..`) and no
automatic gc. A fetch names the catalog's URL and its own refspec, so the repository's
`remote.origin.*` (another URL, an upload-pack program, a refspec writing `refs/heads/*`)
is never used; a repository whose configuration rewrites URLs (`url.*.insteadOf`) is
refused, as a fetch would go where the configuration says, not where the catalog says.

Crashes. A clone is made in the repository's staging folder (`.fleetform/stage/<key>/`,
under the repository's lock) and renamed into place only when complete: a killed run leaves
at most a staging folder, which the next run clears before cloning again, never a half
repository at `WORKSPACE/<repo>`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from generator.catalog.model import Catalog
from generator.catalog.remotes import comparable
from generator.catalog.selection import select_services
from generator.errors import LockedError, UnsafePathError, WriteError
from generator.fleet.campaign.shard import Shard, in_shard
from generator.fleet.confine import kind, repository_dir
from generator.fleet.workspace import Workspace
from generator.git import configuration, git
from generator.parallel import in_parallel

# Added to the hardened git for clone and fetch: what arrives is checked, nothing recursed,
# no gc started in the background of someone's repository.
_TRANSFER = (
    "-c", "transfer.fsckObjects=true",
    "-c", "fetch.recurseSubmodules=false",
    "-c", "submodule.recurse=false",
    "-c", "gc.auto=0",
    "-c", "maintenance.auto=false",
)  # fmt: skip
TRACKING = "+refs/heads/*:refs/remotes/origin/*"
_REWRITE = re.compile(r"^url\..*\.(push)?insteadof$")  # as git lists keys: lower case


class CloneOutcome(StrEnum):
    CLONED = "cloned"
    FETCHED = "fetched"
    NO_REMOTE = "no remote"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class CloneResult:
    """One repository. `commit`: the remote default branch's commit as the repository now
    has it (`origin/<default_branch>`), None when the remote has no such branch."""

    service: str
    repo: Path
    outcome: CloneOutcome
    remote: str | None = None
    commit: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class CloneReport:
    results: list[CloneResult]
    interrupted: int | None = None
    not_started: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()  # the fleet commands' shape; clone looks for none

    @property
    def ok(self) -> bool:
        bad = (CloneOutcome.REFUSED, CloneOutcome.FAILED)
        return self.interrupted is None and all(r.outcome not in bad for r in self.results)


@dataclass(frozen=True)
class CloneOptions:
    root: Path
    jobs: int = 1
    # The share `campaign run --shard` takes (the same stable split): a CI shard job clones
    # only the repositories it works on, not the whole fleet.
    shard: Shard | None = None


@dataclass(frozen=True)
class _Job:
    service: str
    root: Path
    repo_name: str
    remote: str | None
    branch: str

    @property
    def repo(self) -> Path:
        return self.root.joinpath(*self.repo_name.split("/"))


def clone(
    catalog: Catalog,
    names: Sequence[str],
    options: CloneOptions,
    progress: Callable[[CloneResult], None] | None = None,
) -> CloneReport:
    """Clone or fetch the repositories of the services named (else every generated one) of
    the shard."""
    jobs = []
    for sid in in_shard(select_services(catalog, names), options.shard):
        service = catalog.services[sid]
        jobs.append(_Job(sid, options.root, service.repo, service.remote, service.default_branch))
    workspace = Workspace.open(options.root)  # one error before any repository is touched
    with workspace.temporary_files():
        run = in_parallel(
            clone_one,
            jobs,
            options.jobs,
            progress,
            lost=lambda job, why: CloneResult(
                job.service, job.repo, CloneOutcome.FAILED, job.remote, reason=why
            ),
        )
    return CloneReport(
        sorted(run.results, key=lambda r: r.service),
        run.interrupted,
        tuple(job.service for job in run.not_started(jobs)),
    )


def clone_one(job: _Job) -> CloneResult:
    """One repository, under its workspace lock."""
    if job.remote is None:
        reason = "the catalog gives it no remote (defaults.remote or its own remote)"
        return CloneResult(job.service, job.repo, CloneOutcome.NO_REMOTE, reason=reason)
    workspace = Workspace(job.root)
    try:
        with workspace.lock(job.repo_name):
            return bring(workspace, job.service, job.repo_name, job.remote, job.branch)
    except LockedError as exc:
        return CloneResult(job.service, job.repo, CloneOutcome.REFUSED, job.remote, reason=str(exc))


def bring(
    workspace: Workspace, service: str, repo_name: str, remote: str, branch: str
) -> CloneResult:
    """Clone `repo_name` from `remote` when missing, else fetch it; the caller holds the
    repository's lock (a campaign fetches this way before it branches)."""
    repo = workspace.root.joinpath(*repo_name.split("/"))

    def ended(outcome: CloneOutcome, reason: str = "", commit: str | None = None) -> CloneResult:
        return CloneResult(service, repo, outcome, remote, commit, reason)

    try:
        repository_dir(workspace.root, repo_name)
    except UnsafePathError as exc:
        return ended(CloneOutcome.REFUSED, str(exc))
    found = kind(repo)
    if found == "missing":
        return _clone(workspace, repo_name, repo, remote, branch, ended)
    workspace.clear_staging(repo_name)  # a killed run's, after its clone was in place
    if found != "directory":
        return ended(CloneOutcome.REFUSED, f"{repo} is a {found}, not a repository")
    refusal = origin_problem(repo, remote)
    if refusal:
        return ended(CloneOutcome.REFUSED, refusal)
    fetched = git(
        repo, *_TRANSFER, "fetch", "--quiet", "--prune", "--no-tags", "--", remote, TRACKING
    )
    if fetched.returncode != 0:
        return ended(CloneOutcome.FAILED, f"git fetch: {_reason(fetched.stderr)}")
    return ended(CloneOutcome.FETCHED, commit=_tracking(repo, branch))


def _clone(
    workspace: Workspace,
    repo_name: str,
    repo: Path,
    remote: str,
    branch: str,
    ended: Callable[..., CloneResult],
) -> CloneResult:
    try:
        # Cleared first: a killed run's partial clone is never taken for a good one. The
        # clone's own name is this run's, in case the killed run's git is still writing.
        staging = workspace.staging(repo_name)
    except OSError as exc:
        return ended(CloneOutcome.FAILED, str(WriteError(path=repo, reason=str(exc))))
    partial = staging / f"clone-{os.getpid()}-{secrets.token_hex(4)}"
    # --no-local: a remote given as a path is copied through the transport too (so its
    # objects are checked, and never hard-linked to the server's).
    cloned = git(
        staging, *_TRANSFER, "clone", "--quiet", "--no-local", "--no-recurse-submodules",
        "--origin", "origin",
        "--", remote, str(partial.absolute()),  # git runs in `staging`: not relative to it
    )  # fmt: skip
    try:
        if cloned.returncode != 0:
            return ended(CloneOutcome.FAILED, f"git clone: {_reason(cloned.stderr)}")
        repo.parent.mkdir(parents=True, exist_ok=True)
        if kind(repo) != "missing":  # appeared meanwhile, not by fleetform (the lock is held)
            return ended(CloneOutcome.REFUSED, f"{repo} appeared while it was being cloned")
        partial.rename(repo)
    except OSError as exc:
        return ended(CloneOutcome.FAILED, str(WriteError(path=repo, reason=str(exc))))
    finally:
        workspace.clear_staging(repo_name)
    return ended(CloneOutcome.CLONED, commit=_tracking(repo, branch))


def origin_problem(repo: Path, remote: str) -> str:
    """Why the present `repo` is not the repository of `remote` to fetch into, or "": not a
    git repository of its own, another origin, or URL rewrites of its own configuration."""
    dot_git = kind(repo / ".git")
    if dot_git == "missing":
        return f"{repo} is not a git repository (no .git); move it away to clone it"
    if dot_git != "directory":
        # A `.git` file points at a git directory elsewhere (a worktree, a submodule).
        return f"{repo}/.git is a {dot_git}, not the repository's own git directory"
    top = git(repo, "rev-parse", "--path-format=absolute", "--show-toplevel")
    if top.returncode != 0 or Path(top.stdout.strip()) != repo.resolve():
        return f"{repo} is not a git repository of its own"
    # Read once per repository, includes followed (the hardened git reads it anyway).
    entries = configuration(str(repo))
    urls = [value for _, key, value in entries if key == "remote.origin.url"]
    if not urls:
        return f"{repo} has no origin remote; the catalog's remote is {remote}"
    if len(urls) > 1 or comparable(urls[0]) != comparable(remote):
        return (
            f"{repo}'s origin is {' '.join(urls)}, not the catalog's remote {remote}; not"
            " fetched (fix the catalog or the repository's origin)"
        )
    # The operator's own rewrites (system, global) are theirs to keep; the repository's,
    # included files too, are repository content: a fetch would go where they say.
    for scope, key, _ in entries:
        if scope in ("local", "worktree") and _REWRITE.match(key):
            return f"{repo}'s git configuration rewrites URLs ({key}); not fetched"
    return ""


def _tracking(repo: Path, branch: str) -> str | None:
    found = git(
        repo, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}"
    )
    return found.stdout.strip() or None


def _reason(stderr: str) -> str:
    """git's one-line reason: its first `fatal:`/`error:` line (the lines after it are
    advice such as "Please make sure you have the correct access rights")."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line[len(prefix) :]
    return lines[-1] if lines else "no reason given"
