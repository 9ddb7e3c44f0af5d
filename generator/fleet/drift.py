"""Which generated repositories no longer hold what fleetform would give them: read only.

Each repository is compared with what its RECORDED template version (`_commit` in
`.copier-answers.yml`) renders with the catalog's CURRENT answers, rendered by Copier into a
temporary directory. So drift is a hand edit, or a catalog change not yet brought in by
`fleetform update`; a newer template is not drift, it is reported beside it ("behind v2").
Files the owners own (the catalog's `owned_files`, the template's `_skip_if_exists`) are
theirs once they exist: reported as owned, never as drifted (`generator.fleet.owned`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.conflicts import marker_lines
from generator.errors import AnswersFileError, RenderError, UnsafePathError
from generator.fleet.answers import Answers, service_answers
from generator.fleet.compare import FileChanges, compare, repository_diff
from generator.fleet.confine import read_regular, repository_dir
from generator.fleet.manifest import rendered_files
from generator.fleet.orphans import orphaned
from generator.fleet.owned import Owned, catalog_globs, set_aside
from generator.fleet.ports_snapshot import PortsSnapshot, ports_snapshot, write_snapshot
from generator.fleet.recorded import ANSWERS_FILE, read_recorded
from generator.fleet.render import render_service, rendering_recorded_versions
from generator.fleet.template import (
    TemplateSource,
    TemplateVersion,
    same_source,
    template_version,
)
from generator.fleet.workspace import require_workspace
from generator.parallel import in_parallel


class DriftOutcome(StrEnum):
    IN_SYNC = "in sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    NOT_GENERATED = "not generated"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class DriftResult:
    """One repository; `changes` sorts the differing files the way `generate` does:
    created = missing from the repository, changed = as fleetform wrote it but the catalog
    changed since, foreign = edited (not as fleetform wrote it), removed = no longer rendered.
    """

    service: str
    repo: Path
    outcome: DriftOutcome
    version: TemplateVersion | None = None
    changes: FileChanges = field(default_factory=FileChanges)
    reason: str = ""
    conflicts: tuple[str, ...] = ()  # edited files that hold committed conflict markers
    diff: str = ""  # with DriftOptions.diff: what `generate` would change, as a unified diff


@dataclass(frozen=True)
class DriftReport:
    results: list[DriftResult]
    interrupted: int | None = None  # the signal that stopped the run: `not_started` were not
    not_started: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()  # repositories of services no longer in the catalog

    @property
    def ok(self) -> bool:
        return (
            self.interrupted is None
            and not self.orphans
            and all(r.outcome is DriftOutcome.IN_SYNC for r in self.results)
        )


@dataclass(frozen=True)
class DriftOptions:
    """`template`: the catalog's; a repository recording another source is refused."""

    root: Path
    template: TemplateSource
    jobs: int = 1
    diff: bool = False  # also the unified diff of every differing file


@dataclass(frozen=True)
class _Job:
    service: str
    answers: Answers
    root: Path
    repo_name: str
    template: TemplateSource
    diff: bool = False
    ports: PortsSnapshot | None = None  # the fleet's port registry, written into the render
    owned_globs: tuple[str, ...] = ()  # the catalog's `owned_files` of the service

    @property
    def repo(self) -> Path:
        return self.root / self.repo_name


def drift(
    catalog: Catalog,
    names: Sequence[str],
    options: DriftOptions,
    progress: Callable[[DriftResult], None] | None = None,
) -> DriftReport:
    """Compare the services' repositories under `options.root` with their renders."""
    require_workspace(options.root)
    ports = ports_snapshot(catalog)
    jobs = [
        _Job(
            sid,
            service_answers(catalog, sid),
            options.root,
            catalog.services[sid].repo,
            options.template,
            options.diff,
            ports,
            catalog_globs(catalog.services[sid]),
        )
        for sid in select_services(catalog, names)
    ]
    run = in_parallel(
        drift_one,
        jobs,
        options.jobs,
        progress,
        lost=lambda job, why: DriftResult(job.service, job.repo, DriftOutcome.FAILED, reason=why),
    )
    return DriftReport(
        sorted(run.results, key=lambda r: r.service),
        run.interrupted,
        tuple(job.service for job in run.not_started(jobs)),
        orphans=() if names else orphaned(catalog, options.root),
    )


def drift_one(job: _Job) -> DriftResult:
    repo = job.repo
    try:
        repository_dir(job.root, job.repo_name)
    except UnsafePathError as exc:
        return DriftResult(job.service, repo, DriftOutcome.REFUSED, reason=str(exc))
    if not repo.is_dir():
        return DriftResult(
            job.service, repo, DriftOutcome.MISSING, reason=f"no repository at {repo}"
        )
    if not (repo / ANSWERS_FILE).is_file():
        reason = f"no {ANSWERS_FILE}: not generated from the template"
        return DriftResult(job.service, repo, DriftOutcome.NOT_GENERATED, reason=reason)
    try:
        recorded = read_recorded(repo)
    except AnswersFileError as exc:
        return DriftResult(job.service, repo, DriftOutcome.FAILED, reason=str(exc))
    if not same_source(recorded.src, job.template.src):
        # Never followed: a recorded path is repository content, and git run there would
        # obey that repository's configuration.
        reason = (
            f"made from the template {recorded.src}, but the catalog's template is"
            f" {job.template.src}; not compared"
        )
        return DriftResult(job.service, repo, DriftOutcome.REFUSED, reason=reason)
    source = job.template.location
    version = template_version(source, recorded.commit)
    staging = Path(tempfile.mkdtemp(prefix="fleetform-drift-"))
    try:
        rendered = staging / repo.name
        try:
            # The recorded version, recorded as written: a tag added since is no drift.
            with rendering_recorded_versions():
                render_service(job.answers, rendered, job.template.at(recorded.commit))
            if job.ports is not None:
                write_snapshot(rendered, job.ports)
        except RenderError as exc:
            return DriftResult(job.service, repo, DriftOutcome.FAILED, version, reason=str(exc))
        changes = compare(rendered_files(rendered), rendered, repo)
        changes = set_aside(changes, Owned.at(job.owned_globs, source, recorded.commit), repo)
        diff = repository_diff(changes, rendered, repo, job.repo_name) if job.diff else ""
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    differs = changes.created or changes.changed or changes.foreign or changes.removed
    outcome = DriftOutcome.DRIFTED if differs else DriftOutcome.IN_SYNC
    conflicts = tuple(f for f in changes.foreign if marker_lines(read_regular(repo / f) or b""))
    return DriftResult(job.service, repo, outcome, version, changes, conflicts=conflicts, diff=diff)
