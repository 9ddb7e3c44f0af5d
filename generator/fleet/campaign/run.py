"""`fleetform campaign run`: per repository one branch `fleetform/NAME`, one commit, one push.

For each repository of the workspace (cloned by `fleetform clone`): ask the catalog's remote for
its default branch and the campaign branch; skip it when the ledger holds the same key in a
final state; else, under the repository's lock, build the branch in a scratch repository
(`generator.fleet.campaign.branch`), refuse to replace a commit someone else made (on the
remote or in the workspace repository's own branch), set the workspace repository's
`fleetform/NAME` to the commit (never its work tree, index or checked-out branch) and, with
`push`, push it once (`generator.fleet.campaign.push`). A commit a run without `--push` made
for the same key (a look before pushing) is pushed as it is, without updating again. The
ledger is rewritten after every repository; the whole run holds the campaign's (shard's)
lock, so two runs of one ledger never interleave.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from generator import __version__
from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.errors import LockedError, UnsafePathError, UpdateFailedError, WriteError
from generator.fleet.answers import Answers, service_answers
from generator.fleet.campaign.branch import (
    Built,
    Refused,
    Target,
    adopt,
    branch_name,
    bring_back,
    build,
    check_local,
    fetch,
    made_by_campaign,
    new_scratch,
    same_change,
)
from generator.fleet.campaign.ledger import (
    PROBLEMS,
    Entry,
    Key,
    Ledger,
    State,
    answers_digest,
    ledger_path,
    read_ledger,
    require_name,
    write_ledger,
)
from generator.fleet.campaign.push import Request, push, push_options, remote_heads
from generator.fleet.campaign.shard import Shard, in_shard
from generator.fleet.confine import kind, repository_dir
from generator.fleet.ports_snapshot import ports_snapshot
from generator.fleet.template import (
    TemplateSource,
    known_revisions,
    require_writable_template,
    same_source,
    target_ref,
)
from generator.fleet.workspace import Workspace, hold, key, require_workspace
from generator.git import configured, forget, git, own_repository
from generator.parallel import in_parallel


@dataclass(frozen=True)
class CampaignOptions:
    root: Path
    name: str
    template: TemplateSource
    push: bool = False
    shard: Shard | None = None
    limit: int | None = None  # stop after this many merge requests (commits without push)
    jobs: int = 1


@dataclass(frozen=True)
class CampaignResult:
    """One repository: its ledger entry, and whether this run only found it done."""

    entry: Entry
    repo: Path
    skipped: bool = False

    @property
    def service(self) -> str:
        return self.entry.service

    @property
    def outcome(self) -> State:
        return self.entry.state


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    ledger: Path
    results: list[CampaignResult]
    pushing: bool
    shard: Shard | None = None
    interrupted: int | None = None
    not_started: tuple[str, ...] = ()  # stopped by a signal, or by `--limit` (`limited`)
    limited: bool = False

    @property
    def ok(self) -> bool:
        return self.interrupted is None and all(r.outcome not in PROBLEMS for r in self.results)


@dataclass(frozen=True)
class _Job:
    service: str
    repo_name: str
    remote: str | None
    default_branch: str
    answers: Answers
    target: Target
    options: CampaignOptions
    scratch_root: Path
    previous: Entry | None

    @property
    def repo(self) -> Path:
        return self.options.root / self.repo_name


def run_campaign(
    catalog: Catalog,
    names: Sequence[str],
    options: CampaignOptions,
    progress: Callable[[CampaignResult], None] | None = None,
) -> CampaignReport:
    """Run the campaign over the named services (else every generated one) of the shard."""
    require_name(options.name)
    forget()  # repositories' configuration is read once a run, and a run starts here
    services = in_shard(select_services(catalog, names), options.shard)
    answers = {sid: service_answers(catalog, sid) for sid in services}
    require_workspace(options.root)
    require_writable_template(options.template)
    known = known_revisions(options.template)
    target = Target(options.name, options.template, known, ports_snapshot(catalog))
    path = ledger_path(options.root, options.name, options.shard)
    workspace = Workspace.open(options.root)
    with workspace.temporary_files() as scratch_root:
        path.parent.mkdir(parents=True, exist_ok=True)
        shard = None if options.shard is None else f"{options.shard[0]}/{options.shard[1]}"
        what = f"campaign {options.name}" + (f" shard {shard}" if shard else "")
        with hold(path.with_suffix(".lock"), what=what, wait=0):
            ledger = read_ledger(path, options.name, missing_ok=True)
            ledger = replace(ledger, shard=shard)
            jobs = [
                _Job(
                    sid,
                    catalog.services[sid].repo,
                    catalog.services[sid].remote,
                    catalog.services[sid].default_branch,
                    answers[sid],
                    target,
                    options,
                    scratch_root,
                    ledger.entries.get(sid),
                )
                for sid in services
            ]
            return _run(jobs, options, path, ledger, progress)


def _run(
    jobs: list[_Job],
    options: CampaignOptions,
    path: Path,
    ledger: Ledger,
    progress: Callable[[CampaignResult], None] | None,
) -> CampaignReport:
    """In waves when there is a limit, so that no more than it are ever made."""
    results: list[CampaignResult] = []
    state = {"ledger": ledger}

    def record(result: CampaignResult) -> None:
        if not result.skipped:
            state["ledger"] = state["ledger"].with_entry(result.entry)
            write_ledger(path, state["ledger"])
        if progress is not None:
            progress(result)

    write_ledger(path, ledger)  # a shard with nothing to do still leaves its (empty) ledger
    pending, made, interrupted = list(jobs), 0, None
    while pending and interrupted is None:
        room = len(pending) if options.limit is None else options.limit - made
        if room <= 0:
            break
        wave, pending = pending[:room], pending[room:]
        run = in_parallel(run_one, wave, options.jobs, record, lost=_lost)
        results += run.results
        made += sum(1 for r in run.results if _made(r))
        interrupted = run.interrupted
        if interrupted is not None:
            pending = [*run.not_started(wave), *pending]
    return CampaignReport(
        options.name,
        path,
        sorted(results, key=lambda r: r.service),
        options.push,
        options.shard,
        interrupted,
        tuple(job.service for job in pending),
        limited=bool(pending) and interrupted is None,
    )


def _made(result: CampaignResult) -> bool:
    """Whether this run made (or pushed) a merge request's branch: what `--limit` counts."""
    done = (State.COMMITTED, State.PUSHED, State.CONFLICT)
    return not result.skipped and result.outcome in done


def _lost(job: _Job, why: str) -> CampaignResult:
    return _result(job, State.FAILED, reason=why)


def _result(job: _Job, state: State, **fields: object) -> CampaignResult:
    entry = Entry(job.service, job.repo_name, state, updated=_now())
    entry = replace(entry, **fields)  # type: ignore[arg-type]
    return CampaignResult(replace(entry, reason=without_credentials(entry.reason)), job.repo)


# `https://user:token@host`: CI gives git its token in a URL (an insteadOf in the job's
# environment), and git's or the server's messages may name that URL; the ledger is a CI
# artifact and the report is posted.
_CREDENTIALS = re.compile(r"(?P<scheme>https?://)[^/@\s]+@", re.IGNORECASE)


def without_credentials(text: str) -> str:
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}***@", text)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_one(job: _Job) -> CampaignResult:
    """One repository: checked, then skipped or worked on under its lock."""
    try:
        repository_dir(job.options.root, job.repo_name)
        problem = _workspace_problem(job)
        if problem:
            return _result(job, State.REFUSED, reason=problem)
        assert job.remote is not None  # _workspace_problem refuses a service without one
        if _done_before(job):
            assert job.previous is not None
            return CampaignResult(job.previous, job.repo, skipped=True)
        with Workspace(job.options.root).lock(job.repo_name):
            scratch = Path(tempfile.mkdtemp(prefix=f"{key(job.repo_name)}-", dir=job.scratch_root))
            try:
                with own_repository(new_scratch(scratch)):
                    return _campaign_one(job, scratch)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    except (Refused, LockedError, UnsafePathError) as exc:
        return _result(job, State.REFUSED, reason=str(exc))
    except (UpdateFailedError, WriteError) as exc:
        return _result(job, State.FAILED, reason=str(exc))


def _done_before(job: _Job) -> bool:
    """Whether the ledger holds this repository in a final state for the key the remote's
    default branch gives now. The remote is asked (`ls-remote`) only when the ledger could
    say so: a first run fetches straight away."""
    previous = job.previous
    if not (previous and previous.final(job.options.push) and previous.repository == job.repo_name):
        return False
    assert job.remote is not None
    default = f"refs/heads/{job.default_branch}"
    heads = remote_heads(job.scratch_root, job.remote, [default])
    if default not in heads:
        raise Refused(f"the remote {job.remote} has no branch {job.default_branch}")
    return previous.key == _key(job, heads[default])


def _made_before(job: _Job, scratch: Path, base: str, key_: Key) -> Built | None:
    """The commit a run without --push made for this very key (a look before pushing),
    taken from the workspace repository instead of updating again; None: build it."""
    previous = job.previous
    if not (
        previous
        and previous.key == key_
        and previous.commit
        and previous.state in (State.COMMITTED, State.CONFLICT)
        and adopt(job.repo, scratch, previous.commit, base, job.options.name)
    ):
        return None
    return Built(previous.commit, previous.title, previous.files, previous.conflicts)


def _branch(job: _Job) -> str:
    return branch_name(job.options.name)


def _key(job: _Job, base: str) -> Key:
    template = job.target.template
    commit = job.target.known.get(target_ref(template)) or target_ref(template)
    return Key(base, commit, answers_digest(job.answers), __version__)


def _workspace_problem(job: _Job) -> str:
    """Why the workspace repository rules the service out, or "" (it is only read here)."""
    repo = job.repo
    if job.remote is None:
        return f"no remote in the catalog: set defaults.remote or services.{job.service}.remote"
    if not repo.is_dir():
        return f"no repository at {repo} (fleetform clone creates it)"
    if kind(repo / ".git") != "directory":
        return "its .git is not a directory of its own (a link, a worktree or a submodule)"
    top = git(repo, "rev-parse", "--show-toplevel").stdout.strip()
    if not top or Path(top).resolve() != repo.resolve():
        return "not a git repository of its own (fleetform clone creates it)"
    # The URL as configured, not as the repository's insteadOf rules rewrite it (`remote
    # get-url`): read with the configuration the hardened runner has read already.
    origin = configured(repo, "remote.origin.url")
    if not origin:
        return "no origin remote (fleetform clone sets it to the catalog's remote)"
    if not same_source(origin, job.remote):
        return f"its origin is {origin}, not the catalog's remote {job.remote}"
    return ""


def _campaign_one(job: _Job, scratch: Path) -> CampaignResult:
    assert job.remote is not None
    default, branch = f"refs/heads/{job.default_branch}", f"refs/heads/{_branch(job)}"
    heads = fetch(scratch, job.remote, default, branch)
    head, seen = heads[default], heads[branch].commit if branch in heads else ""
    base = head.commit
    key_ = _key(job, base)
    if seen and not made_by_campaign(scratch, seen, job.options.name):
        raise Refused(
            f"{_branch(job)} on the remote holds {seen[:12]}, a commit fleetform did not"
            " make; not overwritten (merge or close that branch, then rerun)"
        )
    # Before the update, which is the cost.
    same = job.previous.commit if job.previous and job.previous.key == key_ else ""
    local = check_local(job.repo, branch, job.default_branch, job.options.name, unless=same)
    built = _made_before(job, scratch, base, key_) or build(scratch, head, job.target, job.answers)
    if not built.commit:
        reason = (
            f"the remote still has {_branch(job)} from an earlier run (nothing to merge now)"
            if seen
            else ""
        )
        return _result(job, State.UNCHANGED, reason=reason, key=key_)
    commit = built.commit
    if seen and seen != commit and same_change(scratch, seen, commit):
        commit = seen  # the same change, made by another run (one that dated it otherwise)
    bring_back(job.repo, scratch, branch, commit, base, local)
    state = State.CONFLICT if built.conflicts else State.COMMITTED
    fields: dict[str, object] = {
        "key": key_,
        "commit": commit,
        "title": built.title,
        "files": built.files,
        "conflicts": built.conflicts,
    }
    if built.conflicts:
        fields["reason"] = "conflicts left inline: " + ", ".join(built.conflicts[:5])
    if not job.options.push:
        return _result(job, state, **fields)
    if seen == commit:
        fields["push"] = "already pushed"
    else:
        request = Request(
            job.options.name, job.default_branch, built.title, built.files, built.conflicts
        )
        fields["push"] = push(scratch, job.remote, commit, branch, seen, push_options(request))
    return _result(job, State.CONFLICT if built.conflicts else State.PUSHED, **fields)
