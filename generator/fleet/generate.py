"""Generate every service repository of the catalog: parallel, all-or-nothing, idempotent.

Each service is rendered by Copier into a temporary directory beside its repository, compared
with what is there, and moved into place only when complete. A file fleetform did not write
(or that was edited since it wrote it) is never overwritten unless the caller asks for a
backup. What fleetform wrote is recorded in `.fleetform-manifest.json` in each repository.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from generator.catalog.model import Catalog
from generator.errors import RenderError, UsageError
from generator.fleet.answers import Answers, service_answers
from generator.fleet.render import TemplateSource, render_service
from generator.parallel import in_parallel

MANIFEST = ".fleetform-manifest.json"
BACKUP_SUFFIX = ".pre-fleetform"
STAGED_SUFFIX = ".fleetform-new"


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class FileChanges:
    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return bool(self.created or self.changed or self.removed or self.foreign)


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


def select_services(catalog: Catalog, names: Sequence[str]) -> list[str]:
    """The generatable services to work on: the named ones, else all of them."""
    generated = [s.id for s in catalog.generated_services()]
    if not names:
        return generated
    unknown = [n for n in names if n not in catalog.services]
    if unknown:
        raise UsageError(message=f"unknown service(s): {', '.join(unknown)}")
    skipped = [n for n in names if n not in generated]
    if skipped:
        raise UsageError(message=f"not generated (image or ddev services): {', '.join(skipped)}")
    return list(dict.fromkeys(names))


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
    files = _files(rendered)
    changes = compare(files, rendered, job.repo)
    diff = _diff(changes, rendered, job.repo) if options.diff else ""
    if changes.foreign and not options.backup:
        reason = "would overwrite files fleetform did not write: " + ", ".join(changes.foreign)
        return ServiceResult(job.service, job.repo, Outcome.REFUSED, changes, reason, diff)
    outcome = _outcome(job.repo, changes)
    manifest = _manifest_text(rendered, files)
    if options.dry_run or (outcome is Outcome.UNCHANGED and _current(job.repo) == manifest):
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


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(repo: Path) -> dict[str, str]:
    """What fleetform last wrote into `repo`: relative path -> sha256 (empty if never)."""
    try:
        data = json.loads((repo / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _same(a: Path, b: Path) -> bool:
    if a.read_bytes() != b.read_bytes():
        return False
    return (a.stat().st_mode & 0o111 != 0) == (b.stat().st_mode & 0o111 != 0)


def compare(files: list[str], rendered: Path, repo: Path) -> FileChanges:
    """Sort each rendered file into created / changed / unchanged / foreign for `repo`."""
    manifest = read_manifest(repo)
    created, changed, unchanged, foreign = [], [], [], []
    for name in files:
        target = repo / name
        if not target.exists():
            created.append(name)
        elif _same(target, rendered / name):
            unchanged.append(name)
        elif manifest.get(name) == _digest(target):
            changed.append(name)
        else:
            foreign.append(name)
    removed = [
        name
        for name, digest in sorted(manifest.items())
        if name not in files and (repo / name).is_file() and _digest(repo / name) == digest
    ]
    return FileChanges(
        tuple(created), tuple(changed), tuple(unchanged), tuple(removed), tuple(foreign)
    )


def _diff(changes: FileChanges, rendered: Path, repo: Path) -> str:
    chunks: list[str] = []
    for name in (*changes.created, *changes.changed, *changes.foreign):
        old = (
            (repo / name).read_text(errors="replace").splitlines() if (repo / name).exists() else []
        )
        new = (rendered / name).read_text(errors="replace").splitlines()
        chunks.extend(difflib.unified_diff(old, new, f"a/{name}", f"b/{name}", lineterm=""))
    for name in changes.removed:
        old = (repo / name).read_text(errors="replace").splitlines()
        chunks.extend(difflib.unified_diff(old, [], f"a/{name}", "/dev/null", lineterm=""))
    return "\n".join(chunks) + ("\n" if chunks else "")


def manifest_text(rendered: Path) -> str:
    """The manifest of a complete clean render: every file in it is recorded as fleetform's."""
    return _manifest_text(rendered, _files(rendered))


def _manifest_text(rendered: Path, files: list[str]) -> str:
    digests = {name: _digest(rendered / name) for name in files}
    return json.dumps({"generator": "fleetform", "files": digests}, indent=2) + "\n"


def _current(repo: Path) -> str | None:
    try:
        return (repo / MANIFEST).read_text(encoding="utf-8")
    except OSError:
        return None


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
