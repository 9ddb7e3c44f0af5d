"""`copier update` across every generated repository: in parallel, only on clean work trees,
never committing.

Each repository is brought to the catalog's template ref with the catalog's current answers
(`copier update --defaults --overwrite --conflict inline --data ...`), so a port or a
dependency changed in the catalog reaches the repository the same way a template change does.
Conflicts are inline rather than `.rej` files: Copier then 3-way merges the file and leaves
`<<<<<<<` markers where the owner works, with the file unmerged (`UU`) in `git status`, which
editors and merge tools resolve; `rej` would apply the rest of the patch and leave the
rejected hunk in a side file that is easy to miss. Nothing is committed: the owners review
the diff and commit.

A repository already at the target ref with the catalog's answers is not handed to Copier
(an update would rewrite the same bytes), which is what makes a second run and `--dry-run`
cheap. A failed update puts the repository back to its HEAD: it was clean before.
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from generator import __version__
from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.conflicts import marker_lines
from generator.errors import (
    AnswersFileError,
    LockedError,
    UnsafePathError,
    UpdateFailedError,
    WriteError,
)
from generator.fleet import repository
from generator.fleet.answers import Answers, service_answers
from generator.fleet.apply import apply, recover, staged_files
from generator.fleet.confine import confined, read_regular, repository_dir
from generator.fleet.manifest import (
    MANIFEST,
    inputs_digest,
    manifest_text,
    read_manifest,
    write_manifest,
)
from generator.fleet.orphans import orphaned
from generator.fleet.outcome import RepositoryResult, RunOptions, RunReport
from generator.fleet.owned import Owned, catalog_globs, keep_owned, manifest_without
from generator.fleet.ports_snapshot import PortsSnapshot, is_current, ports_snapshot, write_snapshot
from generator.fleet.recorded import Recorded, changed_answers, read_recorded
from generator.fleet.scratch import changes as scratch_changes
from generator.fleet.scratch import clone as scratch_copy
from generator.fleet.template import (
    TemplateSource,
    known_revisions,
    require_writable_template,
    same_source,
    same_version,
    target_ref,
)
from generator.fleet.workspace import Workspace, require_workspace, run_files
from generator.parallel import in_parallel


class UpdateOutcome(StrEnum):
    UPDATED = "updated"
    UP_TO_DATE = "up to date"
    WOULD_UPDATE = "would update"
    CONFLICTS = "conflicts"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class UpdateResult(RepositoryResult[UpdateOutcome]):
    """One repository: what happened, the template version (`v1 -> v2`), files, and why."""


@dataclass(frozen=True)
class UpdateReport(RunReport[UpdateResult]):
    PROBLEMS = (UpdateOutcome.CONFLICTS, UpdateOutcome.REFUSED, UpdateOutcome.FAILED)


@dataclass(frozen=True)
class UpdateOptions(RunOptions):
    """`template`: the source every repository must record, and the ref to update it to."""


@dataclass(frozen=True)
class _Job:
    service: str
    answers: Answers
    repo_name: str  # the catalog's `repo`: the repository's path in the workspace
    options: UpdateOptions
    # Refs of a local template already resolved to commits (the target ref, every tag).
    known: Mapping[str, str] = field(default_factory=dict)
    ports: PortsSnapshot | None = None  # the fleet's port registry, written after Copier
    owned_globs: tuple[str, ...] = ()  # the catalog's `owned_files` of the service

    @property
    def repo(self) -> Path:
        return self.options.root / self.repo_name


def update(
    catalog: Catalog,
    names: Sequence[str],
    options: UpdateOptions,
    progress: Callable[[UpdateResult], None] | None = None,
) -> UpdateReport:
    """Update the services' repositories under `options.root`; every answer is validated first."""
    services = select_services(catalog, names)
    answers = {sid: service_answers(catalog, sid) for sid in services}
    require_workspace(options.root)
    require_writable_template(options.template, dry_run=options.dry_run)
    known = known_revisions(options.template)
    ports = ports_snapshot(catalog)
    jobs = [
        _Job(
            sid,
            answers[sid],
            catalog.services[sid].repo,
            options,
            known,
            ports,
            catalog_globs(catalog.services[sid]),
        )
        for sid in services
    ]
    with run_files(options.root, dry_run=options.dry_run):
        run = in_parallel(
            update_one,
            jobs,
            options.jobs,
            progress,
            lost=lambda job, why: UpdateResult(
                job.service, job.repo, UpdateOutcome.FAILED, reason=why
            ),
        )
    return UpdateReport(
        sorted(run.results, key=lambda r: r.service),
        options.dry_run,
        run.interrupted,
        tuple(job.service for job in run.not_started(jobs)),
        orphans=() if names else orphaned(catalog, options.root),
    )


def update_one(job: _Job) -> UpdateResult:
    """One repository under its lock, after finishing what an interrupted run left."""
    try:
        repository_dir(job.options.root, job.repo_name)
        if job.options.dry_run:
            return _update_one(job, "")
        workspace = Workspace(job.options.root)
        with workspace.lock(job.repo_name):
            note = recover(workspace, job.repo_name, job.repo)
            result = _update_one(job, note)
    except (LockedError, UnsafePathError, WriteError) as exc:
        return UpdateResult(job.service, job.repo, UpdateOutcome.REFUSED, reason=str(exc))
    return replace(result, note=note) if note else result


def _update_one(job: _Job, note: str) -> UpdateResult:
    """Check one repository, then update it with Copier (or only say what would happen)."""
    repo = job.repo
    refusal = repository.not_updatable(repo)
    if refusal:
        return UpdateResult(job.service, repo, UpdateOutcome.REFUSED, reason=refusal)
    try:
        recorded = read_recorded(repo)
    except AnswersFileError as exc:
        return UpdateResult(job.service, repo, UpdateOutcome.REFUSED, reason=str(exc))
    template = job.options.template
    if not same_source(recorded.src, template.src):
        reason = (
            f"made from the template {recorded.src}, but the catalog's template is"
            f" {template.src} (copier update only follows the recorded one)"
        )
        return UpdateResult(
            job.service, repo, UpdateOutcome.REFUSED, recorded.commit, reason=reason
        )
    ref = target_ref(template)
    same = same_version(template.location, recorded.commit, ref, job.known)
    answers = changed_answers(recorded, job.answers)
    if same and not answers and (job.ports is None or is_current(repo, job.ports)):
        # Copier records the new version even when it leaves conflicts: they are still there.
        status = repository.status(repo)
        conflicts = repository.conflicts(repo, status)
        committed = committed_conflicts(repo)
        if committed and not conflicts:
            reason = f"conflict markers committed in {_some(committed)}: resolve them, then commit"
            return UpdateResult(
                job.service,
                repo,
                UpdateOutcome.CONFLICTS,
                recorded.commit,
                committed,
                conflicts=committed,
                reason=reason,
            )
        outcome = UpdateOutcome.CONFLICTS if conflicts else UpdateOutcome.UP_TO_DATE
        return UpdateResult(
            job.service,
            repo,
            outcome,
            recorded.commit,
            files=tuple(path for _, path in status) if conflicts else (),
            conflicts=conflicts,
            reason="unresolved since the last update" if conflicts else "",
        )
    version = recorded.commit if same else f"{recorded.commit} -> {ref}"
    dirty = repository.uncommitted(repo)
    if dirty:
        reason = "uncommitted changes (commit or stash them first): " + _some(dirty)
        return UpdateResult(job.service, repo, UpdateOutcome.REFUSED, version, reason=reason)
    if job.options.dry_run:
        why = [f"answers changed: {', '.join(answers)}"] if answers else []
        if same is None:
            why.append(f"cannot tell offline whether {recorded.commit} is {ref}")
        return UpdateResult(
            job.service, repo, UpdateOutcome.WOULD_UPDATE, version, reason="; ".join(why)
        )
    return _update(job, recorded, ref, version)


def _update(job: _Job, recorded: Recorded, ref: str, version: str) -> UpdateResult:
    """Copier updates a scratch clone; the repository receives the finished result in one
    journaled step (`generator.fleet.apply`), or nothing at all."""
    repo, workspace = job.repo, Workspace(job.options.root)
    staging = workspace.staging(job.repo_name)
    scratch = staged_files(staging)
    template = job.options.template
    owned = Owned.at(job.owned_globs, template.location, job.known.get(ref))
    try:
        scratch_copy(repo, scratch)
        manifest = copier_update(
            scratch,
            job.answers,
            ref,
            template,
            inputs=_inputs(job, ref),
            skip=owned.copier_patterns(),
        )
        if job.ports is not None:
            manifest = write_snapshot(scratch, job.ports, manifest)
        manifest = manifest_without(manifest, owned)
        change, status = keep_owned(*scratch_changes(scratch, repo), owned, repo)
        files = tuple(path for _, path in status)
        conflicts = repository.conflicts(scratch, status)
        if not files:
            return UpdateResult(job.service, repo, UpdateOutcome.UP_TO_DATE, recorded.commit)
        if not conflicts and write_manifest(scratch, manifest):
            change = replace(change, moves=tuple(sorted({*change.moves, MANIFEST})))
            files = tuple(sorted({*files, MANIFEST}))
        if repository.uncommitted(repo) or repository.head(repo) != repository.head(scratch):
            raise UpdateFailedError(reason="the repository changed while it was being updated")
        apply(workspace, job.repo_name, repo, staging, change)
    except (UpdateFailedError, WriteError, UnsafePathError) as exc:
        return UpdateResult(job.service, repo, UpdateOutcome.FAILED, version, reason=str(exc))
    finally:
        workspace.clear_staging(job.repo_name)
    if conflicts:
        return UpdateResult(
            job.service, repo, UpdateOutcome.CONFLICTS, version, files, conflicts=conflicts
        )
    return UpdateResult(job.service, repo, UpdateOutcome.UPDATED, version, files)


def copier_update(
    repo: Path,
    answers: Answers,
    ref: str,
    template: TemplateSource | None = None,
    *,
    inputs: str | None = None,
    skip: Sequence[str] = (),
) -> str:
    """`copier update` of one repository with the given answers, no questions asked; `skip`:
    Copier's `skip_if_exists` patterns besides the template's (`copier update --skip`).

    Returns the manifest of the clean render of the new version Copier makes on the way, so
    that recording what fleetform wrote needs no render of its own.
    """
    # Imported here: copier and jinja2 are slow to import and only updating needs them.
    from copier.errors import CopierError, CopierWarning
    from jinja2 import TemplateError
    from plumbum.commands.processes import ProcessExecutionError

    from generator.fleet.copier_git import hardened
    from generator.fleet.copier_worker import UpdateWorker, on_new_copy, read_from

    failures = (
        CopierError,
        TemplateError,
        ProcessExecutionError,
        subprocess.CalledProcessError,
        ValueError,
        OSError,
    )
    if template is not None and template.clone_from:
        read_from(template.src, template.clone_from)  # the recorded URL, read from the cache
    manifests: list[str] = []
    hook = on_new_copy.set(lambda rendered: manifests.append(manifest_text(rendered, inputs)))
    try:
        with warnings.catch_warnings():
            # Copier warns about a dirty or untagged template on every call.
            warnings.simplefilter("ignore", CopierWarning)
            # `copier.run_update` with the template clones and Jinja environments shared.
            with (
                hardened(),
                UpdateWorker(
                    dst_path=repo,
                    data=answers,
                    vcs_ref=ref,
                    defaults=True,
                    overwrite=True,
                    conflict="inline",
                    quiet=True,
                    unsafe=False,
                    skip_if_exists=skip,
                ) as worker,
            ):
                worker.run_update()
    except failures as exc:
        raise UpdateFailedError(reason=f"{type(exc).__name__}: {exc}") from exc
    finally:
        on_new_copy.reset(hook)
    if not manifests:
        # Only if Copier's update stopped rendering into `copier._main.new_copy.*`.
        raise UpdateFailedError(reason="Copier made no clean render of the new version")
    return manifests[-1]


# ---- reading what a repository recorded, and comparing it with the catalog


# ---- git


def _inputs(job: _Job, ref: str) -> str | None:
    """The inputs digest `generate` records for the same render (see `inputs_digest`)."""
    commit = job.known.get(ref)
    if commit is None:
        return None
    return inputs_digest(job.options.template.src, commit, job.answers, __version__)


def committed_conflicts(repo: Path) -> tuple[str, ...]:
    """The files fleetform wrote (its manifest) that hold conflict markers as committed."""
    found = [
        name
        for name in read_manifest(repo)
        if marker_lines(read_regular(confined(repo, name, source=MANIFEST)) or b"")
    ]
    return tuple(sorted(found))


def _some(paths: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more
