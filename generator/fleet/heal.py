"""`fleetform heal`: re-render drifted repositories at their recorded version and merge in
what the owners changed, three ways; nothing committed.

Copier's update is delta-based: it applies what changed in the template between two
versions. A file that once missed such a change (a patch that did not apply, a hand edit
made and undone, a file restored from an old branch) is never healed by a later update,
since the template no longer changes there (epics-containers/epics-containers.github.io#232).
`copier recopy` renders afresh, but overwrites the owners' edits. heal does what both miss:
each template file is rendered from scratch at the recorded version (`_commit`) with the
catalog's answers, exactly what `drift` compares against, and then

- a missing file, or one still as fleetform wrote it, becomes the render;
- a file no longer rendered, still as fleetform wrote it, is removed;
- an edited file is merged three ways (`git merge-file`, as `copier update --conflict inline`
  merges): base = the newest committed version of the file that was exactly what fleetform
  rendered then (the manifest committed with it records that render's digest), ours = the
  repository's file, theirs = the new render. The owners' edits are kept where they merge;
  where they do not, the file gets update's inline markers (`<<<<<<< before updating` ...
  `>>>>>>> after updating`) and is unmerged in the index (`UU`), stages 1-3 as Copier sets
  them. With no such version in the history the base is empty: every difference is shown.

Owned files (`generator.fleet.owned`) are left as they are. Only clean work trees are
healed, under the repository's lock; the result goes through update's scratch clone and
journal (`generator.fleet.scratch`, `generator.fleet.apply`), so a killed heal leaves the
repository as it was or finished by the next run. A repository in sync is not touched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from generator import __version__
from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.errors import (
    AnswersFileError,
    LockedError,
    RenderError,
    UnsafePathError,
    UpdateFailedError,
    WriteError,
)
from generator.fleet import repository
from generator.fleet.answers import Answers, service_answers
from generator.fleet.apply import apply, recover, staged_files
from generator.fleet.compare import FileChanges, compare
from generator.fleet.confine import confined, kind, repository_dir
from generator.fleet.manifest import MANIFEST, inputs_digest, manifest_for, rendered_files
from generator.fleet.merge import mark_unmerged, merge_render, same_mode
from generator.fleet.orphans import orphaned
from generator.fleet.outcome import RepositoryResult, RunOptions, RunReport
from generator.fleet.owned import Owned, catalog_globs, inputs_with_globs, keep_owned, set_aside
from generator.fleet.ports_snapshot import (
    PortsSnapshot,
    inputs_with,
    ports_snapshot,
    write_snapshot,
)
from generator.fleet.recorded import Recorded, read_recorded
from generator.fleet.render import render_service, rendering_recorded_versions
from generator.fleet.scratch import changes as scratch_changes
from generator.fleet.scratch import clone as scratch_copy
from generator.fleet.template import (
    local_template,
    require_writable_template,
    revision,
    same_source,
)
from generator.fleet.workspace import Workspace, require_workspace, run_files
from generator.parallel import in_parallel


class HealOutcome(StrEnum):
    HEALED = "healed"
    IN_SYNC = "in sync"
    UNCHANGED = "unchanged"  # it differs, but only by the owners' edits: heal keeps them
    WOULD_HEAL = "would heal"
    CONFLICTS = "conflicts"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class HealResult(RepositoryResult[HealOutcome]):
    """As update's, with the owned files heal left as they were."""

    owned: tuple[str, ...] = ()


@dataclass(frozen=True)
class HealReport(RunReport[HealResult]):
    PROBLEMS = (HealOutcome.CONFLICTS, HealOutcome.REFUSED, HealOutcome.FAILED)


@dataclass(frozen=True)
class HealOptions(RunOptions):
    """`template`: the catalog's; a repository recording another source is refused."""


@dataclass(frozen=True)
class _Job:
    service: str
    answers: Answers
    repo_name: str
    options: HealOptions
    ports: PortsSnapshot | None = None
    owned_globs: tuple[str, ...] = ()

    @property
    def repo(self) -> Path:
        return self.options.root / self.repo_name


def heal(
    catalog: Catalog,
    names: Sequence[str],
    options: HealOptions,
    progress: Callable[[HealResult], None] | None = None,
) -> HealReport:
    """Heal the services' repositories under `options.root`; every answer is validated first."""
    services = select_services(catalog, names)
    answers = {sid: service_answers(catalog, sid) for sid in services}
    require_workspace(options.root)
    require_writable_template(options.template, dry_run=options.dry_run)
    ports = ports_snapshot(catalog)
    jobs = [
        _Job(
            sid,
            answers[sid],
            catalog.services[sid].repo,
            options,
            ports,
            catalog_globs(catalog.services[sid]),
        )
        for sid in services
    ]
    with run_files(options.root, dry_run=options.dry_run):
        run = in_parallel(
            heal_one,
            jobs,
            options.jobs,
            progress,
            lost=lambda job, why: HealResult(job.service, job.repo, HealOutcome.FAILED, reason=why),
        )
    return HealReport(
        sorted(run.results, key=lambda r: r.service),
        options.dry_run,
        run.interrupted,
        tuple(job.service for job in run.not_started(jobs)),
        orphans=() if names else orphaned(catalog, options.root),
    )


def heal_one(job: _Job) -> HealResult:
    """One repository under its lock, after finishing what an interrupted run left."""
    try:
        repository_dir(job.options.root, job.repo_name)
        workspace = Workspace(job.options.root)
        if job.options.dry_run:
            return _heal_one(job, workspace, locked=False)
        with workspace.lock(job.repo_name):
            note = recover(workspace, job.repo_name, job.repo)
            result = _heal_one(job, workspace, locked=True)
    except (LockedError, UnsafePathError, WriteError) as exc:
        return HealResult(job.service, job.repo, HealOutcome.REFUSED, reason=str(exc))
    return replace(result, note=note) if note else result


def _heal_one(job: _Job, workspace: Workspace, *, locked: bool) -> HealResult:
    repo = job.repo
    refusal = repository.not_updatable(repo)
    if refusal:
        return HealResult(job.service, repo, HealOutcome.REFUSED, reason=refusal)
    try:
        recorded = read_recorded(repo)
    except AnswersFileError as exc:
        return HealResult(job.service, repo, HealOutcome.REFUSED, reason=str(exc))
    template = job.options.template
    if not same_source(recorded.src, template.src):
        reason = (
            f"made from the template {recorded.src}, but the catalog's template is"
            f" {template.src} (heal renders only the catalog's)"
        )
        return HealResult(job.service, repo, HealOutcome.REFUSED, recorded.commit, reason=reason)
    dirty = repository.uncommitted(repo)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        reason = f"uncommitted changes (commit or stash them first): {shown}"
        return HealResult(job.service, repo, HealOutcome.REFUSED, recorded.commit, reason=reason)
    # Without the lock (a dry run) the staging is a run file's, never the repository's.
    staging = workspace.staging(job.repo_name) if locked else _dry_staging(workspace, job)
    try:
        return _heal(job, workspace, staging, recorded, locked=locked)
    except (UpdateFailedError, RenderError, WriteError) as exc:
        return HealResult(job.service, repo, HealOutcome.FAILED, recorded.commit, reason=str(exc))
    except UnsafePathError as exc:
        return HealResult(job.service, repo, HealOutcome.REFUSED, recorded.commit, reason=str(exc))
    finally:
        if locked:
            workspace.clear_staging(job.repo_name)
        else:
            shutil.rmtree(staging, ignore_errors=True)


def _dry_staging(workspace: Workspace, job: _Job) -> Path:
    return Path(tempfile.mkdtemp(prefix="fleetform-heal-"))


def _heal(
    job: _Job, workspace: Workspace, staging: Path, recorded: Recorded, *, locked: bool
) -> HealResult:
    repo, template = job.repo, job.options.template
    rendered = staging / "render"
    with rendering_recorded_versions():  # as recorded: a tag added since is no change
        render_service(job.answers, rendered, template.at(recorded.commit))
    if job.ports is not None:
        write_snapshot(rendered, job.ports)
    files = rendered_files(rendered)
    owned = Owned.at(job.owned_globs, template.location, recorded.commit)
    changes = set_aside(compare(files, rendered, repo), owned, repo)
    version = recorded.commit
    touched = (*changes.created, *changes.changed, *changes.foreign, *changes.removed)
    if not touched:
        return HealResult(job.service, repo, HealOutcome.IN_SYNC, version, owned=changes.owned)
    links = [name for name in changes.foreign if kind(repo / name) != "file"]
    if links:
        reason = f"{', '.join(links)}: not a regular file (a link is never written through)"
        return HealResult(job.service, repo, HealOutcome.REFUSED, version, reason=reason)
    if not locked:
        files_ = tuple(sorted(touched))
        return HealResult(
            job.service, repo, HealOutcome.WOULD_HEAL, version, files_, owned=changes.owned
        )
    scratch = staged_files(staging)
    scratch_copy(repo, scratch)
    conflicts = _write(scratch, rendered, changes)
    if not conflicts:
        inputs = _inputs(job, recorded)
        kept = [name for name in files if not owned.by_catalog(name)]
        confined(scratch, MANIFEST, source="heal").write_text(
            manifest_for(rendered, kept, inputs), encoding="utf-8"
        )
    change, status = keep_owned(*scratch_changes(scratch, repo), owned, repo)
    written = tuple(path for _, path in status)
    if not written:
        reason = (
            "every difference from the render is an owners' edit since the last version"
            " fleetform rendered: kept (drift --diff shows them)"
        )
        return HealResult(
            job.service, repo, HealOutcome.UNCHANGED, version, owned=changes.owned, reason=reason
        )
    if repository.uncommitted(repo) or repository.head(repo) != repository.head(scratch):
        raise UpdateFailedError(reason="the repository changed while it was being healed")
    apply(workspace, job.repo_name, repo, staging, change)
    outcome = HealOutcome.CONFLICTS if conflicts else HealOutcome.HEALED
    return HealResult(job.service, repo, outcome, version, written, conflicts, owned=changes.owned)


def _write(scratch: Path, rendered: Path, changes: FileChanges) -> tuple[str, ...]:
    """Put the healed files into the scratch clone; the ones left with conflict markers."""
    for name in (*changes.created, *changes.changed):
        _put(confined(scratch, name, source="the template's files"), rendered / name)
    for name in changes.removed:
        target = confined(scratch, name, source="the template's files")
        if kind(target) == "file":
            target.unlink()
    conflicted = [name for name in changes.foreign if merge_render(scratch, rendered, name)]
    if conflicted:
        mark_unmerged(scratch, rendered, conflicted)
    return tuple(sorted(conflicted))


def _put(target: Path, source: Path) -> None:
    if kind(target) == "link":
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    same_mode(target, source)


def _inputs(job: _Job, recorded: Recorded) -> str | None:
    """The inputs digest `generate` would record for this very render."""
    template = local_template(job.options.template.location)
    commit = revision(template, recorded.commit) if template is not None else None
    if commit is None:
        return None
    inputs: str | None = inputs_digest(job.options.template.src, commit, job.answers, __version__)
    if job.ports is not None:
        inputs = inputs_with(inputs, job.ports)
    return inputs_with_globs(inputs, job.owned_globs)
