"""Which generated repositories no longer hold what fleetform would give them: read only.

Each repository is compared with what its RECORDED template version (`_commit` in
`.copier-answers.yml`) renders with the catalog's CURRENT answers, rendered by Copier into a
temporary directory. So drift is a hand edit, or a catalog change not yet brought in by
`fleetform update`; a newer template is not drift, it is reported beside it ("behind v2").
Files the template hands over to the owners (`_skip_if_exists`) are theirs once they exist.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import yaml

from generator.catalog.model import Catalog
from generator.errors import AnswersFileError, RenderError
from generator.fleet.answers import Answers, service_answers
from generator.fleet.generate import FileChanges, compare, select_services
from generator.fleet.render import TemplateSource, render_service
from generator.fleet.update import ANSWERS_FILE, local_template, read_recorded, revision
from generator.parallel import in_parallel


class DriftOutcome(StrEnum):
    IN_SYNC = "in sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    NOT_GENERATED = "not generated"
    FAILED = "failed"


@dataclass(frozen=True)
class TemplateVersion:
    """The recorded version and the template's newest version tag, when they can be known.

    `behind` is None when it cannot be told: a remote template (no network is used), a
    template without version tags, or a recorded version the template does not have.
    """

    recorded: str
    newest: str | None = None
    behind: bool | None = None
    note: str = ""


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
        files = sorted(p.relative_to(rendered).as_posix() for p in rendered.rglob("*"))
        changes = compare([f for f in files if (rendered / f).is_file()], rendered, repo)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    owned = _owners_files(recorded.src, recorded.commit)
    changes = replace(
        changes,
        changed=tuple(f for f in changes.changed if not owned(f)),
        foreign=tuple(f for f in changes.foreign if not owned(f)),
    )
    differs = changes.created or changes.changed or changes.foreign or changes.removed
    outcome = DriftOutcome.DRIFTED if differs else DriftOutcome.IN_SYNC
    return DriftResult(job.service, repo, outcome, version, changes)


def template_version(src: str, recorded: str) -> TemplateVersion:
    """Whether `recorded` is behind the newest version tag of a template on this machine."""
    template = local_template(src)
    if template is None or not template.is_dir():
        return TemplateVersion(recorded, note="remote template: newest tag not checked")
    tags = version_tags(template)
    if not tags:
        return TemplateVersion(recorded, note="template has no version tags")
    newest = tags[-1]
    at, top = revision(template, recorded), revision(template, newest)
    if at is None or top is None:
        return TemplateVersion(recorded, newest, note=f"{recorded} is not in the template")
    if at == top:
        return TemplateVersion(recorded, newest, behind=False)
    ancestor = subprocess.run(
        ["git", "-C", str(template), "merge-base", "--is-ancestor", at, top],
        capture_output=True,
        check=False,
    )
    return TemplateVersion(recorded, newest, behind=ancestor.returncode == 0)


def version_tags(template: Path) -> list[str]:
    """The template's release tags, oldest first, ordered as Copier orders them (PEP 440)."""
    from packaging.version import InvalidVersion, Version  # a dependency of Copier

    listed = subprocess.run(
        ["git", "-C", str(template), "tag", "--list"], capture_output=True, text=True, check=False
    )
    versions = []
    for tag in listed.stdout.split():
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            versions.append((version, tag))
    return [tag for _, tag in sorted(versions)]


def _owners_files(src: str, commit: str) -> Callable[[str], bool]:
    """Matcher of the template's `_skip_if_exists` at `commit` (files the owners take over).

    Read from a template on this machine only; for a remote one no file is the owners'.
    """
    # Dependencies of Copier, which matches these patterns with pathspec in the same style.
    from packaging.version import Version
    from pathspec import PathSpec
    from pathspec import __version__ as pathspec_version

    template = local_template(src)
    patterns: list[str] = []
    if template is not None and template.is_dir():
        for name in ("copier.yml", "copier.yaml"):
            shown = subprocess.run(
                ["git", "-C", str(template), "show", f"{commit}:{name}"],
                capture_output=True,
                text=True,
                check=False,
            )
            if shown.returncode == 0:
                try:
                    config = yaml.safe_load(shown.stdout)
                except yaml.YAMLError:
                    break
                skip = config.get("_skip_if_exists", []) if isinstance(config, dict) else []
                patterns = [str(p) for p in skip] if isinstance(skip, list) else [str(skip)]
                break
    style = "gitignore" if Version(pathspec_version) >= Version("1.0.0") else "gitwildmatch"
    spec = PathSpec.from_lines(style, patterns)
    return spec.match_file
