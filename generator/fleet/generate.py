"""Generate every service repository of the catalog: parallel, all-or-nothing, idempotent.

Each service is rendered by Copier into a temporary directory beside its repository, compared
with what is there, and moved into place only when complete. A file fleetform did not write
(or that was edited since it wrote it) is never overwritten unless the caller asks for a
backup. What fleetform wrote is recorded in `.fleetform-manifest.json` in each repository.
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
from generator.errors import RenderError
from generator.fleet.answers import Answers, service_answers
from generator.fleet.compare import FileChanges, compare, unified_diff
from generator.fleet.manifest import MANIFEST, current_manifest, manifest_for, rendered_files
from generator.fleet.render import render_service
from generator.fleet.template import TemplateSource
from generator.parallel import in_parallel

BACKUP_SUFFIX = ".pre-fleetform"
STAGED_SUFFIX = ".fleetform-new"


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


@dataclass(frozen=True)
class GenerateReport:
    results: list[ServiceResult]
    dry_run: bool

    @property
    def ok(self) -> bool:
        return all(r.outcome not in (Outcome.REFUSED, Outcome.FAILED) for r in self.results)


@dataclass(frozen=True)
class GenerateOptions:
    root: Path
    template: TemplateSource
    jobs: int = 1
    dry_run: bool = False
    diff: bool = False
    backup: bool = False


@dataclass(frozen=True)
class _Job:
    service: str
    answers: Answers
    repo: Path
    options: GenerateOptions


def generate(
    catalog: Catalog,
    names: Sequence[str],
    options: GenerateOptions,
    progress: Callable[[ServiceResult], None] | None = None,
) -> GenerateReport:
    """Render the services into `options.root/<repo>`; every answer is validated first."""
    services = select_services(catalog, names)
    # All answers before any render: one bad value anywhere writes nothing anywhere.
    jobs = [
        _Job(sid, service_answers(catalog, sid), options.root / catalog.services[sid].repo, options)
        for sid in services
    ]
    results = in_parallel(generate_one, jobs, options.jobs, progress)
    return GenerateReport(results=sorted(results, key=lambda r: r.service), dry_run=options.dry_run)


def generate_one(job: _Job) -> ServiceResult:
    """Render one service beside its repository, compare, and apply (or only report)."""
    job.repo.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{job.repo.name}.fleetform-", dir=job.repo.parent))
    try:
        rendered = staging / job.repo.name
        try:
            render_service(job.answers, rendered, job.options.template)
        except RenderError as exc:
            return ServiceResult(job.service, job.repo, Outcome.FAILED, reason=str(exc))
        return _apply(job, rendered)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _apply(job: _Job, rendered: Path) -> ServiceResult:
    options = job.options
    files = rendered_files(rendered)
    changes = compare(files, rendered, job.repo)
    diff = unified_diff(changes, rendered, job.repo) if options.diff else ""
    if changes.foreign and not options.backup:
        reason = "would overwrite files fleetform did not write: " + ", ".join(changes.foreign)
        return ServiceResult(job.service, job.repo, Outcome.REFUSED, changes, reason, diff)
    outcome = _outcome(job.repo, changes)
    manifest = manifest_for(rendered, files)
    if options.dry_run or (outcome is Outcome.UNCHANGED and current_manifest(job.repo) == manifest):
        return ServiceResult(job.service, job.repo, outcome, changes, diff=diff)
    try:
        backups = _write(job.repo, rendered, manifest, changes)
    except OSError as exc:
        return ServiceResult(job.service, job.repo, Outcome.FAILED, changes, f"write failed: {exc}")
    return ServiceResult(job.service, job.repo, outcome, changes, diff=diff, backups=backups)


def _outcome(repo: Path, changes: FileChanges) -> Outcome:
    if not repo.exists():
        return Outcome.CREATED
    return Outcome.UPDATED if changes.writes else Outcome.UNCHANGED


def _write(repo: Path, rendered: Path, manifest: str, changes: FileChanges) -> tuple[str, ...]:
    """Move the render into place: whole directory if new, else staged files then renames."""
    (rendered / MANIFEST).write_text(manifest, encoding="utf-8")
    if not repo.exists():
        rendered.replace(repo)
        return ()
    names = [*changes.created, *changes.changed, *changes.foreign, MANIFEST]
    staged = _stage(repo, rendered, names)
    backups = []
    for name in changes.foreign:
        backup = repo / f"{name}{BACKUP_SUFFIX}"
        shutil.copy2(repo / name, backup)
        backups.append(backup.relative_to(repo).as_posix())
    # Only renames from here on: quick, and each one atomic.
    for name, path in staged:
        path.replace(repo / name)
    for name in changes.removed:
        (repo / name).unlink()
    return tuple(backups)


def _stage(repo: Path, rendered: Path, names: list[str]) -> list[tuple[str, Path]]:
    """Copy new content next to its target under a temporary name; undo all on failure."""
    staged: list[tuple[str, Path]] = []
    try:
        for name in names:
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            path = target.with_name(target.name + STAGED_SUFFIX)
            shutil.copy2(rendered / name, path)
            staged.append((name, path))
    except OSError:
        for _, path in staged:
            path.unlink(missing_ok=True)
        raise
    return staged
