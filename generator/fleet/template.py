"""The template: where it comes from (`TemplateSource`) and the git facts fleetform asks of it.

A template is a git repository: a URL, or a path on this machine. Only a template on this
machine is asked anything (tags, commits, files at a version): no network is used."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from generator.catalog.model import Catalog
from generator.errors import UsageError
from generator.git import git
from generator.resources import TEMPLATE_ROOT


@dataclass(frozen=True)
class TemplateSource:
    """The template: what every repository records (`src`), and where this machine takes it
    from (`clone_from`: a local clone used as a cache of `src`, or None for `src` itself).

    `src` is an identity every teammate and CI can reach (a git URL, or an absolute path in
    tests); `shareable` is False when there is none (an installed fleetform without a
    catalog `template.src`, a checkout without an `origin`): previews still render, writes
    to a workspace refuse. Copier records `src` exactly as given and a relative path breaks a
    later `copier update`, so paths are made absolute here.
    """

    src: str
    ref: str | None = None
    clone_from: str | None = None
    shareable: bool = True

    @classmethod
    def of(cls, src: str | Path, ref: str | None = None) -> TemplateSource:
        return cls(_absolute(str(src)), ref)

    @property
    def location(self) -> str:
        """Where git and Copier read the template on this machine."""
        return self.clone_from or self.src

    def at(self, ref: str | None) -> TemplateSource:
        return replace(self, ref=ref)


def _absolute(src: str) -> str:
    return src if _is_url(src) else str(Path(src).expanduser().resolve())


def _is_url(src: str) -> bool:
    return "://" in src or _SCP_LIKE.match(src) is not None


# `git@host:group/name.git`: git's scp-like syntax (a colon before any slash, no `://`).
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?(?P<host>[^/:]+):(?P<path>(?!/).+)$")


def default_template(ref: str | None = None) -> TemplateSource:
    """fleetform's own template: recorded as its checkout's `origin` URL, read from the
    checkout itself (no network); unshareable when installed or without an origin."""
    root = TEMPLATE_ROOT
    if not (root / ".git").exists():
        return TemplateSource(str(root), ref, shareable=False)
    origin = git(root, "remote", "get-url", "origin").stdout.strip()
    ref = ref or _newest_tag(root)
    if not origin:
        return TemplateSource(str(root), ref, shareable=False)
    return TemplateSource(_absolute(origin), ref, clone_from=str(root))


def catalog_template(catalog: Catalog) -> TemplateSource:
    """The catalog's `template: {src, ref}`, else fleetform's own template (see above).

    A catalog `src` naming the repository fleetform runs from (its origin) reads the local
    checkout as a cache of it.
    """
    if catalog.template.src is None:
        return default_template(catalog.template.ref)
    src = catalog.template.src
    if not _is_url(src) and not Path(src).is_absolute():
        src = str((catalog.path.parent / src).resolve())
    own = default_template()
    cache = own.clone_from if own.clone_from and same_source(own.src, src) else None
    return TemplateSource(_absolute(src), catalog.template.ref, clone_from=cache)


def repository_identity(src: str) -> str:
    """One spelling for every way of naming the same git repository.

    `git+` and `file://` prefixes go, a trailing `.git` and slashes go, ssh (`git@host:path`,
    `ssh://user@host[:port]/path`) and https/http spell host and path alike; a local path is
    its resolved absolute path.
    """
    text = src.removeprefix("git+")
    if text.startswith("file://") or not _is_url(text):
        return "file:" + str(Path(text.removeprefix("file://")).expanduser().resolve())
    scp = _SCP_LIKE.match(text) if "://" not in text else None
    if scp:
        host, path = scp["host"], scp["path"]
    else:
        parsed = urlsplit(text)
        host, path = parsed.hostname or "", parsed.path
    path = path.strip("/").removesuffix(".git").rstrip("/")
    return f"{host.lower()}/{path}"


def dirty_paths(template: TemplateSource) -> list[str]:
    """The uncommitted changes (untracked files included) of a local git template."""
    path = local_template(template.location)
    if path is None or not (path / ".git").exists():
        return []
    status = git(path, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    return sorted(entry[3:] for entry in status.split("\0") if len(entry) > 3)


def require_writable_template(template: TemplateSource, *, dry_run: bool = False) -> None:
    """Refuse (UsageError, one line) a template that a workspace write cannot record: none
    teammates can reach, a bad ref or an unreachable one, uncommitted changes (their render
    would record a commit the template repository does not have)."""
    check_reachable(template)
    if not template.shareable:
        raise UsageError(
            message=f"no shareable template for a workspace: {template.src} has no URL that"
            " teammates and CI can reach; set template.src in the catalog to its git URL"
            " (previews with -o need none)"
        )
    dirty = dirty_paths(template)
    if dirty and not dry_run:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise UsageError(
            message=f"template {template.location} has uncommitted changes ({shown}): commit"
            " them first; repositories record the commit they were rendered from"
        )


def preview_warnings(template: TemplateSource) -> list[str]:
    """What a preview (-o) renders that a workspace write would refuse: one line each."""
    check_reachable(template)
    dirty = dirty_paths(template)
    if not dirty:
        return []
    return [f"template {template.location} has uncommitted changes; this preview renders them"]


def rendered_commit(template: TemplateSource) -> str | None:
    """The commit a render of `template` comes from, when it is certain: a local, clean git
    template (uncommitted changes are rendered too, and no commit names them)."""
    path = local_template(template.location)
    bare = path is not None and (path / "HEAD").is_file() and (path / "objects").is_dir()
    if path is None or not ((path / ".git").exists() or bare) or dirty_paths(template):
        return None
    return revision(path, target_ref(template))


def check_reachable(template: TemplateSource) -> None:
    """One line, once, when the template or its ref cannot be found (UsageError)."""
    ref = target_ref(template)
    path = local_template(template.location)
    if path is None:
        found = git(Path.cwd(), "ls-remote", "--exit-code", template.location, ref)
        if found.returncode not in (0, 2):
            reason = found.stderr.strip().splitlines()[-1:] or ["unreachable"]
            raise UsageError(message=f"template {template.src}: {reason[0]}")
        return
    if not path.is_dir():
        raise UsageError(message=f"template {template.src}: no such directory {path}")
    if (path / ".git").exists() and revision(path, ref) is None:
        raise UsageError(
            message=f"template {template.src}: no git revision {ref!r} (a tag, branch or commit)"
        )


def _newest_tag(repo: Path) -> str | None:
    result = git(repo, "describe", "--tags", "--abbrev=0")
    return result.stdout.strip() or None if result.returncode == 0 else None


def target_ref(template: TemplateSource) -> str:
    """The ref an update goes to: the one given, else HEAD, as `generate` renders."""
    return template.ref or "HEAD"


def known_revisions(template: TemplateSource) -> dict[str, str]:
    """The commits of the target ref and of every tag of a local template, resolved once for
    all repositories (they record a tag as their version); {} for a remote template."""
    path = local_template(template.location)
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
    if _is_url(src):
        return None
    return Path(src).expanduser()


def same_source(recorded: str, wanted: str) -> bool:
    """Whether two template sources name the same repository (see `repository_identity`)."""
    return repository_identity(recorded) == repository_identity(wanted)


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
    at_newest: bool = False  # the recorded version is the newest tag's commit, however spelt


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
        return TemplateVersion(recorded, newest, behind=False, at_newest=True)
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
