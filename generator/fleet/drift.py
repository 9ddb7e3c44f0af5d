"""Which generated repositories no longer hold what fleetform would give them: read only.

Each repository is compared with what its RECORDED template version (`_commit` in
`.copier-answers.yml`) renders with the catalog's CURRENT answers, rendered by Copier into a
temporary directory. So drift is a hand edit, or a catalog change not yet brought in by
`fleetform update`; a newer template is not drift, it is reported beside it ("behind v2").
Files the template hands over to the owners (`_skip_if_exists`) are theirs once they exist.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from generator.catalog.model import Catalog
from generator.catalog.selection import select_services
from generator.errors import AnswersFileError, RenderError
from generator.fleet.answers import Answers, service_answers
from generator.fleet.compare import FileChanges, compare
from generator.fleet.manifest import rendered_files
from generator.fleet.recorded import ANSWERS_FILE, read_recorded
from generator.fleet.render import render_service
from generator.fleet.template import TemplateSource, TemplateVersion, owners_files, template_version
from generator.parallel import in_parallel


class DriftOutcome(StrEnum):
    IN_SYNC = "in sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    NOT_GENERATED = "not generated"
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


@dataclass(frozen=True)
class DriftReport:
    results: list[DriftResult]

    @property
    def ok(self) -> bool:
        return all(r.outcome is DriftOutcome.IN_SYNC for r in self.results)


@dataclass(frozen=True)
class DriftOptions:
    root: Path
    jobs: int = 1


@dataclass(frozen=True)
class _Job:
    service: str
    answers: Answers
    repo: Path


def drift(
    catalog: Catalog,
    names: Sequence[str],
    options: DriftOptions,
    progress: Callable[[DriftResult], None] | None = None,
) -> DriftReport:
    """Compare the services' repositories under `options.root` with their renders."""
    jobs = [
        _Job(sid, service_answers(catalog, sid), options.root / catalog.services[sid].repo)
        for sid in select_services(catalog, names)
    ]
    results = in_parallel(drift_one, jobs, options.jobs, progress)
    return DriftReport(sorted(results, key=lambda r: r.service))


def drift_one(job: _Job) -> DriftResult:
    repo = job.repo
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
    version = template_version(recorded.src, recorded.commit)
    staging = Path(tempfile.mkdtemp(prefix="fleetform-drift-"))
    try:
        rendered = staging / repo.name
        try:
            render_service(job.answers, rendered, TemplateSource(recorded.src, recorded.commit))
        except RenderError as exc:
            return DriftResult(job.service, repo, DriftOutcome.FAILED, version, reason=str(exc))
        changes = compare(rendered_files(rendered), rendered, repo)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    owned = owners_files(recorded.src, recorded.commit)
    changes = replace(
        changes,
        changed=tuple(f for f in changes.changed if not owned(f)),
        foreign=tuple(f for f in changes.foreign if not owned(f)),
    )
    differs = changes.created or changes.changed or changes.foreign or changes.removed
    outcome = DriftOutcome.DRIFTED if differs else DriftOutcome.IN_SYNC
    return DriftResult(job.service, repo, outcome, version, changes)
