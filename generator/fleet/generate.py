"""Generate every service repository of the catalog: parallel, all-or-nothing, idempotent.

Each service is rendered by Copier into the workspace's staging (`.fleetform/stage/`), compared
with what is there, and moved into place under a journal only when complete (see
`generator.fleet.apply`): a killed run leaves each repository as it was, or a journal the next
run finishes. One process works on a repository at a time (its lock). A file fleetform did not write
(or that was edited since it wrote it) is never overwritten unless the caller asks for a
backup. What fleetform wrote is recorded in `.fleetform-manifest.json` in each repository.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from generator import __version__
from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.errors import LockedError, RenderError, UnsafePathError, WriteError
from generator.fleet.answers import Answers, unvalidated_answers, validate_answers
from generator.fleet.apply import BACKUP_SUFFIX, Change, apply, recover, staged_files
from generator.fleet.compare import FileChanges, compare, unified_diff
from generator.fleet.confine import kind, repository_dir
from generator.fleet.manifest import (
    MANIFEST,
    current_manifest,
    inputs_digest,
    manifest_for,
    recorded_inputs,
    rendered_files,
    unchanged_since,
)
from generator.fleet.orphans import orphaned
from generator.fleet.owned import Owned, catalog_globs, inputs_with_globs, set_aside
from generator.fleet.ports_snapshot import (
    PortsSnapshot,
    inputs_with,
    ports_snapshot,
    write_snapshot,
)
from generator.fleet.render import render_service
from generator.fleet.template import (
    TemplateSource,
    preview_warnings,
    rendered_commit,
    require_writable_template,
)
from generator.fleet.verified import Verified, answers_key, record
from generator.fleet.workspace import Workspace, run_files


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class ServiceResult:
    service: str
    repo: Path
    outcome: Outcome
    changes: FileChanges = field(default_factory=FileChanges)
    reason: str = ""
    diff: str = ""
    backups: tuple[str, ...] = ()
    note: str = ""  # what was done first: an interrupted run finished or cleaned up


@dataclass(frozen=True)
class GenerateReport:
    results: list[ServiceResult]
    dry_run: bool
    interrupted: int | None = None  # the signal that stopped the run: `not_started` were not
    not_started: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # of the whole run (a preview of a dirty template)
    orphans: tuple[str, ...] = ()  # repositories of services no longer in the catalog

    @property
    def ok(self) -> bool:
        return self.interrupted is None and all(
            r.outcome not in (Outcome.REFUSED, Outcome.FAILED) for r in self.results
        )


@dataclass(frozen=True)
class GenerateOptions:
    root: Path
    template: TemplateSource
    jobs: int = 1
    dry_run: bool = False
    diff: bool = False
    backup: bool = False
    preview: bool = False  # -o: a directory of previews, not the team's workspace


@dataclass(frozen=True)
class _Job:
    service: str
    answers: Answers
    repo_name: str  # the catalog's `repo`: the repository's path in the workspace
    options: GenerateOptions
    inputs: str | None = None  # what its render depends on; None: cannot be known, render
    ports: PortsSnapshot | None = None  # the fleet's port registry, written into the render
    owned_globs: tuple[str, ...] = ()  # the catalog's `owned_files` of the service
    commit: str | None = None  # the template commit rendered, when certain

    @property
    def repo(self) -> Path:
        return self.options.root / self.repo_name


def generate(
    catalog: Catalog,
    names: Sequence[str],
    options: GenerateOptions,
    progress: Callable[[ServiceResult], None] | None = None,
) -> GenerateReport:
    """Render the services into `options.root/<repo>`; every answer is validated first."""
    services = select_services(catalog, names)
    # All answers before any render: one bad value anywhere writes nothing anywhere.
    commit = rendered_commit(options.template)
    jobs = []
    ports = ports_snapshot(catalog)
    verified = Verified.load(options.root)
    key = answers_key(catalog.path, options.template.src, commit) if commit else None
    early: list[ServiceResult] = []
    learned: dict[str, str] = {}  # inputs digests computed by this run, for the record
    for sid in services:
        known = verified.known_inputs(key, sid)
        vouched = _vouched_for(verified, known, catalog.services[sid].repo, sid, options)
        if vouched is not None:
            early.append(vouched)
            continue
        answers = unvalidated_answers(catalog, sid)
        inputs = (
            inputs_digest(options.template.src, commit, answers, __version__) if commit else None
        )
        inputs = inputs_with(inputs, ports)
        globs = catalog_globs(catalog.services[sid])
        inputs = inputs_with_globs(inputs, globs)
        repo_name = catalog.services[sid].repo
        if inputs is not None:
            learned[sid] = inputs
        # Computed, the same inputs the record holds for the repository (another fleetform
        # build, an edit elsewhere in the catalog): still no file needs reading.
        vouched = _vouched_for(verified, inputs, repo_name, sid, options)
        if vouched is not None:
            early.append(vouched)
            continue
        if inputs is None or _recorded(options.root, repo_name) != inputs:
            # Answers recorded with these very inputs passed this very check when written.
            validate_answers(catalog, sid, answers)
        jobs.append(_Job(sid, answers, repo_name, options, inputs, ports, globs, commit))
    if options.preview:
        warnings = tuple(preview_warnings(options.template))
    else:
        require_writable_template(options.template, dry_run=options.dry_run)
        warnings = ()
    if progress is not None:
        for result in early:
            progress(result)
    results: Sequence[ServiceResult] = ()
    interrupted: int | None = None
    not_started: Sequence[_Job] = ()
    with run_files(options.root, dry_run=options.dry_run):
        if jobs:
            # Imported only for work to do: a no-op, every repository vouched for by the
            # record, starts no worker and need not import multiprocessing either.
            from generator.parallel import in_parallel

            run = in_parallel(
                generate_one,
                jobs,
                options.jobs,
                progress,
                lost=lambda job, why: ServiceResult(
                    job.service, job.repo, Outcome.FAILED, reason=why
                ),
            )
            results, interrupted, not_started = run.results, run.interrupted, run.not_started(jobs)
    if not options.dry_run and key is not None and (learned or jobs):
        _remember(options.root, key, learned, jobs, results)
    return GenerateReport(
        results=sorted([*early, *results], key=lambda r: r.service),
        dry_run=options.dry_run,
        interrupted=interrupted,
        not_started=tuple(job.service for job in not_started),
        warnings=warnings,
        orphans=() if names else orphaned(catalog, options.root),
    )


def generate_one(job: _Job) -> ServiceResult:
    """One repository: refuse unsafe paths, take its lock, finish what an interrupted run
    left, then render, compare and apply (or only report)."""
    try:
        repo = repository_dir(job.options.root, job.repo_name)
    except UnsafePathError as exc:
        return ServiceResult(job.service, job.repo, Outcome.REFUSED, reason=str(exc))
    unchanged = _nothing_to_do(job, repo)
    if unchanged is not None:
        return ServiceResult(job.service, job.repo, Outcome.UNCHANGED, unchanged)
    if job.options.dry_run:
        with tempfile.TemporaryDirectory(prefix="fleetform-preview-") as scratch:
            return _render_and_apply(job, repo, Path(scratch), None, _pending(job))
    workspace = Workspace(job.options.root)
    try:
        with workspace.lock(job.repo_name):
            note = recover(workspace, job.repo_name, repo)
            return _render_and_apply(job, repo, workspace.staging(job.repo_name), workspace, note)
    except (LockedError, UnsafePathError, WriteError) as exc:
        return ServiceResult(job.service, job.repo, Outcome.REFUSED, reason=str(exc))


def _vouched_for(
    verified: Verified, inputs: str | None, repo_name: str, service: str, options: GenerateOptions
) -> ServiceResult | None:
    """Unchanged, decided before any worker starts: the workspace's record
    (`generator.fleet.verified`) vouches that the repository's manifest was written from
    `inputs` and no file of it changed since it was verified."""
    if inputs is None or Workspace(options.root).journal(repo_name).exists():
        return None
    files = verified.unchanged(repo_name, inputs)
    if files is None:
        return None
    changes = FileChanges(unchanged=files)
    return ServiceResult(service, options.root / repo_name, Outcome.UNCHANGED, changes)


def _remember(
    root: Path,
    key: str,
    learned: dict[str, str],
    jobs: Sequence[_Job],
    results: Sequence[ServiceResult],
) -> None:
    """Record the inputs digests this run computed, and the repositories it left as
    fleetform writes them (verified again, by content, first); forget the others."""
    repos = {job.service: job.repo_name for job in jobs}
    done = {Outcome.CREATED, Outcome.UPDATED, Outcome.UNCHANGED}
    record(
        root,
        key,
        learned,
        [repos[r.service] for r in results if r.outcome in done],
        dropped=[repos[r.service] for r in results if r.outcome not in done],
    )


def _recorded(root: Path, repo_name: str) -> str | None:
    try:
        return recorded_inputs(repository_dir(root, repo_name))
    except (UnsafePathError, OSError):
        return None  # not readable as a repository: validated, and generate_one says why


def _nothing_to_do(job: _Job, repo: Path) -> FileChanges | None:
    """A repository whose manifest was written from these very inputs, every file untouched
    since and no interrupted run pending, needs no render: it would give the same bytes."""
    if job.inputs is None or Workspace(job.options.root).journal(job.repo_name).exists():
        return None
    try:
        files = unchanged_since(repo, job.inputs)
    except UnsafePathError:
        return None  # the full path refuses it, saying why
    return None if files is None else FileChanges(unchanged=files)


def _pending(job: _Job) -> str:
    if Workspace(job.options.root).journal(job.repo_name).exists():
        return "an interrupted run left a change half applied: a run without --dry-run finishes it"
    return ""


def _render_and_apply(
    job: _Job, repo: Path, staging: Path, workspace: Workspace | None, note: str
) -> ServiceResult:
    rendered = staged_files(staging)
    try:
        try:
            render_service(job.answers, rendered, job.options.template)
            if job.ports is not None:
                write_snapshot(rendered, job.ports)
        except RenderError as exc:
            return ServiceResult(job.service, job.repo, Outcome.FAILED, reason=str(exc), note=note)
        result = _apply(job, repo, rendered, staging, workspace)
    except UnsafePathError as exc:
        result = ServiceResult(job.service, job.repo, Outcome.REFUSED, reason=str(exc))
    finally:
        if workspace is not None:
            workspace.clear_staging(job.repo_name)
    return replace(result, note=note) if note else result


def _apply(
    job: _Job, repo: Path, rendered: Path, staging: Path, workspace: Workspace | None
) -> ServiceResult:
    options = job.options
    files = rendered_files(rendered)
    # Owned files that exist are the owners': never overwritten (nor refused as foreign).
    owned = Owned.at(job.owned_globs, options.template.location, job.commit)
    changes = set_aside(compare(files, rendered, repo), owned, repo)
    diff = unified_diff(changes, rendered, repo, job.repo_name) if options.diff else ""
    if changes.foreign and not options.backup:
        reason = "would overwrite files fleetform did not write: " + ", ".join(changes.foreign)
        return ServiceResult(job.service, job.repo, Outcome.REFUSED, changes, reason, diff)
    outcome = _outcome(repo, changes)
    manifest = manifest_for(rendered, [f for f in files if not owned.by_catalog(f)], job.inputs)
    if workspace is None or (outcome is Outcome.UNCHANGED and current_manifest(repo) == manifest):
        return ServiceResult(job.service, job.repo, outcome, changes, diff=diff)
    (rendered / MANIFEST).write_text(manifest, encoding="utf-8")
    change = Change(
        moves=(*changes.created, *changes.changed, *changes.foreign, MANIFEST),
        backups=changes.foreign,
        removals=changes.removed,
        whole=outcome is Outcome.CREATED,
    )
    try:
        apply(workspace, job.repo_name, repo, staging, change)
    except OSError as exc:
        return ServiceResult(job.service, job.repo, Outcome.FAILED, changes, f"write failed: {exc}")
    backups = tuple(f"{name}{BACKUP_SUFFIX}" for name in changes.foreign)
    return ServiceResult(job.service, job.repo, outcome, changes, diff=diff, backups=backups)


def _outcome(repo: Path, changes: FileChanges) -> Outcome:
    if kind(repo) == "missing":
        return Outcome.CREATED
    return Outcome.UPDATED if changes.writes else Outcome.UNCHANGED
