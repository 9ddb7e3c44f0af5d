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
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml

from generator.catalog.model import Catalog
from generator.errors import AnswersFileError, UpdateFailedError, UsageError
from generator.fleet.answers import Answers, service_answers
from generator.fleet.generate import MANIFEST, manifest_text, select_services
from generator.fleet.render import TemplateSource
from generator.parallel import in_parallel

ANSWERS_FILE = ".copier-answers.yml"
# `git status` codes of a path whose merge is unresolved.
_UNMERGED = frozenset({"DD", "AU", "UD", "UA", "DU", "AA", "UU"})
_MARKER = b"<<<<<<< "

_T = TypeVar("_T")
_R = TypeVar("_R")


class UpdateOutcome(StrEnum):
    UPDATED = "updated"
    UP_TO_DATE = "up to date"
    WOULD_UPDATE = "would update"
    CONFLICTS = "conflicts"
    REFUSED = "refused"
    FAILED = "failed"


_PROBLEMS = (UpdateOutcome.CONFLICTS, UpdateOutcome.REFUSED, UpdateOutcome.FAILED)


@dataclass(frozen=True)
class UpdateResult:
    """One repository: what happened, the template version (`v1 -> v2`), files, and why."""

    service: str
    repo: Path
    outcome: UpdateOutcome
    version: str = ""
    files: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class UpdateReport:
    results: list[UpdateResult]
    dry_run: bool

    @property
    def ok(self) -> bool:
        return all(r.outcome not in _PROBLEMS for r in self.results)


@dataclass(frozen=True)
class UpdateOptions:
    """`template`: the source every repository must record, and the ref to update it to."""

    root: Path
    template: TemplateSource
    jobs: int = 1
    dry_run: bool = False


@dataclass(frozen=True)
class Recorded:
    """What a repository's `.copier-answers.yml` says: template source, version, answers."""

    src: str
    commit: str
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    service: str
    answers: Answers
    repo: Path
    options: UpdateOptions
    # Refs of a local template already resolved to commits (the target ref, every tag).
    known: Mapping[str, str] = field(default_factory=dict)


def update(
    catalog: Catalog,
    names: Sequence[str],
    options: UpdateOptions,
    progress: Callable[[UpdateResult], None] | None = None,
) -> UpdateReport:
    """Update the services' repositories under `options.root`; every answer is validated first."""
    services = select_services(catalog, names)
    answers = {sid: service_answers(catalog, sid) for sid in services}
    known = _known_revisions(options.template)
    jobs = [
        _Job(sid, answers[sid], options.root / catalog.services[sid].repo, options, known)
        for sid in services
    ]
    results = in_parallel(update_one, jobs, options.jobs, progress)
    return UpdateReport(sorted(results, key=lambda r: r.service), options.dry_run)


def target_ref(template: TemplateSource) -> str:
    """The ref an update goes to: the one given, else HEAD, as `generate` renders."""
    return template.ref or "HEAD"


def _known_revisions(template: TemplateSource) -> dict[str, str]:
    """The commits of the target ref and of every tag of a local template, resolved once for
    all repositories (they record a tag as their version); {} for a remote template."""
    path = local_template(template.src)
    if path is None:
        return {}
    ref = target_ref(template)
    target = revision(path, ref)
    if target is None:
        raise UsageError(
            message=f"template {template.src}: no git revision {ref!r}"
            " (copier update needs a git repository with that tag, branch or commit)"
        )
    return {**tag_commits(path), ref: target}


def update_one(job: _Job) -> UpdateResult:
    """Check one repository, then update it with Copier (or only say what would happen)."""
    repo = job.repo
    refusal = _not_updatable(repo)
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
    same = same_version(recorded.src, recorded.commit, ref, job.known)
    answers = changed_answers(recorded, job.answers)
    if same and not answers:
        # Copier records the new version even when it leaves conflicts: they are still there.
        status = _status(repo)
        conflicts = _conflicts(repo, status)
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
    dirty = _uncommitted(repo)
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
    repo = job.repo
    try:
        manifest = copier_update(repo, job.answers, ref)
    except UpdateFailedError as exc:
        _restore(repo)
        return UpdateResult(job.service, repo, UpdateOutcome.FAILED, version, reason=str(exc))
    except BaseException:
        _restore(repo)
        raise
    status = _status(repo)
    files = tuple(path for _, path in status)
    conflicts = _conflicts(repo, status)
    if conflicts:
        return UpdateResult(
            job.service, repo, UpdateOutcome.CONFLICTS, version, files, conflicts=conflicts
        )
    if not files:
        return UpdateResult(job.service, repo, UpdateOutcome.UP_TO_DATE, recorded.commit)
    try:
        if write_manifest(repo, manifest) and MANIFEST not in files:
            files = tuple(sorted((*files, MANIFEST)))
    except OSError as exc:
        reason = f"updated, but {MANIFEST} was not rewritten: {exc}"
        return UpdateResult(job.service, repo, UpdateOutcome.FAILED, version, files, reason=reason)
    return UpdateResult(job.service, repo, UpdateOutcome.UPDATED, version, files)


def copier_update(repo: Path, answers: Answers, ref: str) -> str:
    """`copier update` of one repository with the given answers, no questions asked.

    Returns the manifest of the clean render of the new version Copier makes on the way, so
    that recording what fleetform wrote needs no render of its own.
    """
    # Imported here: copier and jinja2 are slow to import and only updating needs them.
    from copier.errors import CopierError, CopierWarning
    from jinja2 import TemplateError
    from plumbum.commands.processes import ProcessExecutionError

    from generator.fleet.copier_worker import UpdateWorker, on_new_copy

    failures = (
        CopierError,
        TemplateError,
        ProcessExecutionError,
        subprocess.CalledProcessError,
        ValueError,
        OSError,
    )
    manifests: list[str] = []
    hook = on_new_copy.set(lambda rendered: manifests.append(manifest_text(rendered)))
    try:
        with warnings.catch_warnings():
            # Copier warns about a dirty or untagged template on every call.
            warnings.simplefilter("ignore", CopierWarning)
            # `copier.run_update` with the template clones and Jinja environments shared.
            with UpdateWorker(
                dst_path=repo,
                data=answers,
                vcs_ref=ref,
                defaults=True,
                overwrite=True,
                conflict="inline",
                quiet=True,
                unsafe=False,
            ) as worker:
                worker.run_update()
    except failures as exc:
        raise UpdateFailedError(reason=f"{type(exc).__name__}: {exc}") from exc
    finally:
        on_new_copy.reset(hook)
    if not manifests:
        # Only if Copier's update stopped rendering into `copier._main.new_copy.*`.
        raise UpdateFailedError(reason="Copier made no clean render of the new version")
    return manifests[-1]


def write_manifest(repo: Path, text: str) -> bool:
    """Record the template's own render as what fleetform wrote, whatever the merge kept;
    whether the file changed (it was committed before the update, so it now shows as changed).

    The digests are those of a clean render, not of the merged files: a file that still
    carries an owner's edit is then not fleetform's, and `generate` will not overwrite it.
    """
    target = repo / MANIFEST
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return False
    staged = target.with_name(f"{target.name}.fleetform-new")
    staged.write_text(text, encoding="utf-8")
    staged.replace(target)
    return True


# ---- reading what a repository recorded, and comparing it with the catalog


def read_recorded(repo: Path) -> Recorded:
    """The template source, version and answers in `repo/.copier-answers.yml`."""
    path = repo / ANSWERS_FILE
    try:
        # Copier writes and reads this file with PyYAML's safe loader (YAML 1.1): reading it
        # the same way (libyaml's parser, the same constructor) sees the values Copier sees.
        data = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AnswersFileError(path=path, reason=f"cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise AnswersFileError(path=path, reason="is not a mapping of answers")
    src, commit = data.get("_src_path"), data.get("_commit")
    if not src or commit is None:
        raise AnswersFileError(
            path=path, reason="records no _src_path and _commit (not made from a git template)"
        )
    answers = {str(k): v for k, v in data.items() if not str(k).startswith("_")}
    return Recorded(str(src), str(commit), answers)


def changed_answers(recorded: Recorded, answers: Answers) -> list[str]:
    """The answers the catalog now gives differently from the recorded ones."""
    return [name for name, value in answers.items() if recorded.answers.get(name) != value]


def local_template(src: str) -> Path | None:
    """The template's directory when it is on this machine; None for a remote URL."""
    for prefix in ("git+file://", "file://"):
        if src.startswith(prefix):
            return Path(src.removeprefix(prefix))
    if "://" in src or src.startswith("git@"):
        return None
    return Path(src).expanduser()


def same_source(recorded: str, wanted: str) -> bool:
    a, b = local_template(recorded), local_template(wanted)
    if a is not None and b is not None:
        return a.resolve() == b.resolve()
    return recorded == wanted


def revision(template: Path, ref: str) -> str | None:
    """The commit `ref` names in a local template (tag, branch, commit or `git describe`)."""
    result = _git(
        template, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def tag_commits(template: Path) -> dict[str, str]:
    """Every tag of a local template that names a commit, and that commit (one git call)."""
    fields = "%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)"
    result = _git(template, "for-each-ref", f"--format={fields}", "refs/tags")
    commits = {}
    for line in result.stdout.splitlines() if result.returncode == 0 else []:
        ref, kind, name, peeled_kind, peeled = line.split("\0")
        tag = ref.removeprefix("refs/tags/")
        # rev-parse resolves $GIT_DIR/<name> (HEAD, ORIG_HEAD...) before a tag of that name.
        if tag.endswith("HEAD"):
            continue
        if peeled_kind == "commit":
            commits[tag] = peeled
        elif kind == "commit":
            commits[tag] = name
    return commits


def same_version(
    src: str, recorded: str, ref: str, known: Mapping[str, str] | None = None
) -> bool | None:
    """Whether `recorded` is the commit `ref` names; None when that cannot be told offline.

    A remote template is compared by name only: equal names (a tag) are the same version.
    `known`: refs of this template already resolved (see `_known_revisions`).
    """
    template = local_template(src)
    if template is None:
        return True if recorded == ref else None
    if not template.is_dir():
        return None
    known = known or {}
    at = known.get(recorded) or revision(template, recorded)
    target = known.get(ref) or revision(template, ref)
    if at is None or target is None:
        return None
    return at == target


# ---- git


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No optional locks: a status check must not rewrite the index of someone's repository.
    return subprocess.run(
        ["git", "--no-optional-locks", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _not_updatable(repo: Path) -> str:
    """Why `repo` cannot be updated at all, or "" (whether it is clean is checked later)."""
    if not repo.is_dir():
        return f"no repository at {repo} (fleetform generate creates it)"
    # One call for both: exit 1 (with the top level printed) when there is no commit yet.
    top = _git(repo, "rev-parse", "--show-toplevel", "--verify", "--quiet", "HEAD")
    if top.returncode not in (0, 1):
        return "not a git repository (copier update needs one: git init, then commit)"
    toplevel = top.stdout.splitlines()[0] if top.stdout else ""
    if Path(toplevel).resolve() != repo.resolve():
        return f"not a git repository of its own (it is inside {toplevel})"
    if top.returncode != 0:
        return "no commit yet (commit the generated files first)"
    if not (repo / ANSWERS_FILE).is_file():
        return f"no {ANSWERS_FILE}: not generated from the template"
    return ""


def _status(repo: Path) -> list[tuple[str, str]]:
    """`git status` of every changed path, untracked files one by one."""
    out = _git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    entries = out.split("\0")
    status: list[tuple[str, str]] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            i += 1  # the original path of a rename or copy follows
        status.append((code, path))
    return sorted(status, key=lambda item: item[1])


def _uncommitted(repo: Path) -> list[str]:
    return [path for _, path in _status(repo)]


def _conflicts(repo: Path, status: list[tuple[str, str]]) -> tuple[str, ...]:
    found = set()
    for code, path in status:
        file = repo / path
        if code in _UNMERGED or path.endswith(".rej") or (file.is_file() and _has_marker(file)):
            found.add(path)
    return tuple(sorted(found))


def _has_marker(file: Path) -> bool:
    data = file.read_bytes()
    return data.startswith(_MARKER) or b"\n" + _MARKER in data


def _restore(repo: Path) -> None:
    """Undo a failed update: the work tree was clean, so HEAD is what the owner had."""
    _git(repo, "reset", "--quiet", "--hard", "HEAD")
    _git(repo, "clean", "--quiet", "--force", "-d")


def _some(paths: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more
