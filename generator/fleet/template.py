"""The template: where it comes from (`TemplateSource`) and the git facts fleetform asks of it.

A template is a git repository: a URL, or a path on this machine. Only a template on this
machine is asked anything (tags, commits, files at a version): no network is used."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.catalog.model import Catalog
from generator.errors import UsageError
from generator.git import git
from generator.resources import TEMPLATE_ROOT


@dataclass(frozen=True)
class TemplateSource:
    """Where Copier takes the template from: a git URL or an absolute path, and a ref.

    Copier records `src` in `.copier-answers.yml` exactly as given, and a relative path
    breaks a later `copier update`, so paths are made absolute here.
    """

    src: str
    ref: str | None = None

    @classmethod
    def of(cls, src: str | Path, ref: str | None = None) -> TemplateSource:
        text = str(src)
        if "://" not in text and not text.startswith("git@"):
            text = str(Path(text).resolve())
        return cls(text, ref)


def default_template() -> TemplateSource:
    """The git repository fleetform runs from, at its newest tag when it has one."""
    return TemplateSource.of(TEMPLATE_ROOT, _newest_tag(TEMPLATE_ROOT))


def catalog_template(catalog: Catalog) -> TemplateSource:
    """The catalog's `template: {src, ref}`, else fleetform's own repository."""
    if catalog.template.src is None:
        default = default_template()
        return TemplateSource.of(default.src, catalog.template.ref or default.ref)
    src = catalog.template.src
    if "://" not in src and not src.startswith("git@") and not Path(src).is_absolute():
        src = str((catalog.path.parent / src).resolve())
    return TemplateSource.of(src, catalog.template.ref)


def _newest_tag(repo: Path) -> str | None:
    result = git(repo, "describe", "--tags", "--abbrev=0")
    return result.stdout.strip() or None if result.returncode == 0 else None


def target_ref(template: TemplateSource) -> str:
    """The ref an update goes to: the one given, else HEAD, as `generate` renders."""
    return template.ref or "HEAD"


def known_revisions(template: TemplateSource) -> dict[str, str]:
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
    result = git(
        template, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def tag_commits(template: Path) -> dict[str, str]:
    """Every tag of a local template that names a commit, and that commit (one git call)."""
    fields = "%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)"
    result = git(template, "for-each-ref", f"--format={fields}", "refs/tags")
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
    `known`: refs of this template already resolved (see `known_revisions`).
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
    ancestor = git(template, "merge-base", "--is-ancestor", at, top)
    return TemplateVersion(recorded, newest, behind=ancestor.returncode == 0)


def version_tags(template: Path) -> list[str]:
    """The template's release tags, oldest first, ordered as Copier orders them (PEP 440)."""
    from packaging.version import InvalidVersion, Version  # a dependency of Copier

    listed = git(template, "tag", "--list")
    versions = []
    for tag in listed.stdout.split():
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            versions.append((version, tag))
    return [tag for _, tag in sorted(versions)]


def owners_files(src: str, commit: str) -> Callable[[str], bool]:
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
            shown = git(template, "show", f"{commit}:{name}")
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
