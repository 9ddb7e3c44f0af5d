"""Copier's own Worker, sharing per process what does not depend on a service's answers.

`copier.run_copy` builds everything anew for every call: it clones the template, reads
copier.yml, builds a Jinja environment and compiles every template string again (~400
compilations for this template), and spawns a `git` process per rendered file to sync the
executable bit into the destination's git index. Rendering a fleet repeats all of that per
service. Here the template clone and the Jinja environment (with a cache of compiled
sources) live once per process and per (source, ref); Copier still does all the rendering,
so the output is Copier's: the golden tests and the plain-`copier copy` equality test prove
it byte for byte.

This reaches into Copier's internal `Worker` (its `template` and `jinja_env` cached
properties and `_sync_git_index_executable_bit`); copier is pinned below 10 for that reason.
The caches belong to one fleet run: `release()` ends them, so a template re-tagged between
runs is cloned afresh.
"""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from copier._jinja_ext import get_yield_context
from copier._main import Worker
from copier._subproject import Subproject
from copier._template import Template
from copier._vcs import get_git
from jinja2 import nodes
from plumbum import local

from generator.fleet import copier_objects  # importing it replaces Copier's set_git_alternates
from generator.fleet.copier_rerender import Rendered, names_destination

# The flag lives where importing it costs no Copier; re-exported for older imports.
from generator.fleet.render import rendering_recorded_versions as rendering_recorded_versions
from generator.fleet.render import renders_recorded_versions
from generator.git import git

_LOCK = threading.Lock()
# For git in repositories fleetform makes and throws away: no automatic maintenance or gc.
_NO_MAINTENANCE = ("-c", "maintenance.auto=false", "-c", "gc.auto=0")
_TEMPLATES: dict[tuple[str, str | None, bool], Template] = {}
_ENVIRONMENTS: dict[tuple[str, str | None], Any] = {}
# Template identity (see `generator.fleet.template.repository_identity`) -> local clone.
_LOCATIONS: dict[str, str] = {}
# The temporary directories `copier update` renders the recorded and the new version into,
# outside any git work tree (Copier's `TemporaryDirectory(prefix=f"{__name__}.old_copy.")`
# and `...new_copy.` in copier/_main.py).
_OLD_COPY_PREFIX = "copier._main.old_copy."
_NEW_COPY_PREFIX = "copier._main.new_copy."
# The repository's render of the update in progress, for its new_copy render.
_RECORDED: ContextVar[Rendered | None] = ContextVar("_RECORDED", default=None)
# Set on a shared environment that compiled a source naming the destination.
_NAMES_DESTINATION = "fleetform_names_destination"
# Called with that clean render of the new version while it exists (see UpdateWorker).
on_new_copy: ContextVar[Callable[[Path], None] | None] = ContextVar("on_new_copy", default=None)


def release() -> None:
    """Forget the shared clones and environments, deleting the clones."""
    with _LOCK:
        for template in _TEMPLATES.values():
            template._cleanup()
        _TEMPLATES.clear()
        _ENVIRONMENTS.clear()


atexit.register(release)


def forget_inherited() -> None:
    """Drop the shared clones and environments a forked worker inherited, deleting nothing:
    the clones are its parent's, which still renders from them (and releases them). Called
    single-threaded, right after the fork, so without the lock another thread may have held."""
    _TEMPLATES.clear()
    _ENVIRONMENTS.clear()


def read_from(url: str, location: str) -> None:
    """Take the template recorded as `url` from `location` (a local clone of it) in this
    process: repositories record the shareable URL, the render reads no network."""
    from generator.fleet.template import repository_identity

    with _LOCK:
        _LOCATIONS[repository_identity(url)] = location


def shared_template(
    url: str, ref: str | None, use_prereleases: bool = False, *, as_recorded: bool = False
) -> Template:
    """The process's one clone of the template at `ref` (made on first use).

    `as_recorded`: `ref` is a version a repository recorded, and the render must record it
    as it was written: a tag added to that commit since is the same version, not a change.
    """
    from generator.fleet.template import repository_identity

    key = (url, ref, as_recorded)
    with _LOCK:
        if key not in _TEMPLATES:
            location = _LOCATIONS.get(repository_identity(url))
            _TEMPLATES[key] = CachedTemplate(
                url=url,
                ref=ref,
                use_prereleases=use_prereleases,
                location=location,
                recorded_as=ref if as_recorded else None,
            )
        return _TEMPLATES[key]


class CachedTemplate(Template):
    """A Template recorded as its `url` but cloned from `location` when one is known.

    Copier records `url` as `_src_path` and clones `url_expanded`: the clone comes from the
    local copy, the record stays the URL every teammate and CI can reach.
    """

    def __init__(
        self,
        *args: Any,
        location: str | None = None,
        recorded_as: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._location = location
        self._recorded_as = recorded_as

    @functools.cached_property
    def commit(self) -> str | None:
        # `git describe` of the commit, unless this is a recorded version: then as recorded.
        return self._recorded_as or super().commit

    @functools.cached_property
    def url_expanded(self) -> str:
        return self._location or super().url_expanded

    @functools.cached_property
    def vcs(self) -> Any:
        if self._location:
            return "git"
        return super().vcs


class FleetWorker(Worker):
    """A Copier Worker whose template clone and Jinja environment outlive one render."""

    @functools.cached_property
    def _shared_key(self) -> tuple[str, str | None]:
        # `copier update` leaves src_path unset: the template is the one the project records.
        if self.src_path:
            return str(self.src_path), self.resolved_vcs_ref
        recorded = self.subproject.template
        if recorded is None:
            raise TypeError("Template not found")
        return str(recorded.url), self.resolved_vcs_ref

    @functools.cached_property
    def template(self) -> Template:
        url, ref = self._shared_key
        return shared_template(url, ref, self.use_prereleases, as_recorded=self.renders_recorded)

    @property
    def renders_recorded(self) -> bool:
        """Whether this render is of a version a repository recorded."""
        return renders_recorded_versions()

    @functools.cached_property
    def jinja_env(self) -> Any:
        key = self._shared_key
        with _LOCK:
            if key not in _ENVIRONMENTS:
                env = super().jinja_env
                setattr(env, "compile", _cached_compile(env))  # noqa: B010
                _ENVIRONMENTS[key] = env
            return _ENVIRONMENTS[key]

    def _sync_git_index_executable_bit(self, dst_relpath: Path, src_mode: int) -> None:
        # fleetform renders into a fresh directory outside any git work tree, where Copier's
        # own method is a no-op after asking git (one process per file) to find that out.
        return None

    @property
    def answers_relpath(self) -> Path:
        # Copier renders the answers file's name for every part of every path it renders
        # (~170 times a render), building the whole render context each time; a name with no
        # Jinja in it renders to itself.
        path = str(self.answers_file or self.template.answers_relpath)
        if self._is_plain(path):
            return Path(path)
        return super().answers_relpath

    def _render_string(self, string: str, extra_context: Any = None) -> str:
        # Most path parts (`infrastructure`, `Makefile`) hold no Jinja: rendering one builds
        # the render context (every answer, twice) to give back the same text. What a
        # compile would do first is kept: Copier's yield extension forgets any `yield` tag.
        if self._is_plain(string):
            context = get_yield_context(self.jinja_env)
            context.yield_name, context.yield_iterable = None, None
            return string
        result: str = super()._render_string(string, extra_context)
        return result

    def _is_plain(self, text: str) -> bool:
        """Whether Jinja renders `text` to itself: no delimiter of the environment, no
        newline (Jinja normalises and strips them), and no extension of the template's
        (one could preprocess any text; Copier's own two do not)."""
        if self.template.jinja_extensions or "\n" in text or "\r" in text:
            return False
        env = self.jinja_env
        markers = (
            env.block_start_string,
            env.variable_start_string,
            env.comment_start_string,
            env.line_statement_prefix,
            env.line_comment_prefix,
        )
        return not any(marker and marker in text for marker in markers)


def _cached_compile(env: Any) -> Callable[..., Any]:
    """`env.compile`, once per source: compiling is a pure function of the source text for
    a given environment, but for one side effect kept here on every call. Copier's yield
    extension forgets the yield tag it saw last when a source is compiled (its `preprocess`),
    and Copier reads that after rendering a path: without it, the path after a `{% yield %}`
    one would loop too, or fail as a second yield tag."""
    compile_once = functools.lru_cache(maxsize=4096)(env.compile)

    def compile_source(source: Any, *args: Any, **kwargs: Any) -> Any:
        context = get_yield_context(env)
        context.yield_name, context.yield_iterable = None, None
        # Copier compiles question settings as they are, `when: true` included; a parsed
        # tree (Jinja's other kind of source) cannot be read here.
        text = source if isinstance(source, str) else None
        if (text is not None and names_destination(text)) or isinstance(source, nodes.Node):
            setattr(env, _NAMES_DESTINATION, True)  # see generator.fleet.copier_rerender
        return compile_once(source, *args, **kwargs)

    return compile_source


class UpdateWorker(FleetWorker):
    """`copier update` with the shared clones and environments of FleetWorker.

    An update renders three times (the recorded version, the new one into the repository,
    the new one again) and clones the template five times; per process and fleet run the
    renders of each version then share one clone and one environment. The destination is a
    real git work tree here, so Copier's own executable-bit sync to the index is kept, with
    its `core.fileMode` question asked once per destination instead of once per file.

    The two renders Copier diffs are committed to throwaway git repositories: here without
    sample hooks and in one commit instead of two (Copier commits twice in case a hook
    rewrites files; these repositories have no hooks, and the user's global ones must not
    change what an update computes). `on_new_copy` sees the clean render of the new version,
    which is what fleetform's manifest records.
    """

    def run_copy(self) -> None:
        recorded = _RECORDED.get()
        # The repository's render is recorded for copier update's new_copy render after it.
        _RECORDED.set(Rendered() if self.scratch_render is None else None)
        if self.scratch_render == _NEW_COPY_PREFIX and recorded and self._renders_alike():
            recorded.write(Path(self.dst_path).absolute())
        else:
            super().run_copy()
        callback = on_new_copy.get()
        if callback is not None and self.scratch_render == _NEW_COPY_PREFIX:
            callback(Path(self.dst_path).absolute())

    def _render_allowed(
        self,
        dst_relpath: Path,
        is_dir: bool = False,
        is_symlink: bool = False,
        expected_contents: bytes | Path = b"",
        expected_mode: int | None = None,
    ) -> bool:
        # Copier asks this of every path it renders, with the bytes and mode it rendered.
        recorded = _RECORDED.get()
        if recorded is not None and self.scratch_render is None:
            if is_symlink:
                _RECORDED.set(None)
            else:
                recorded.add(dst_relpath, is_dir, expected_contents, expected_mode)
        allowed: bool = super()._render_allowed(
            dst_relpath, is_dir, is_symlink, expected_contents, expected_mode
        )
        return allowed

    def _renders_alike(self) -> bool:
        """Whether this version renders into an empty folder what it rendered into the
        repository (generator.fleet.copier_rerender)."""
        template = self.template
        return not (
            template.jinja_extensions
            or template.preserve_symlinks
            or getattr(self.jinja_env, _NAMES_DESTINATION, False)
        )

    @property
    def renders_recorded(self) -> bool:
        # Copier renders the recorded version into its old-copy scratch directory.
        return self.scratch_render == _OLD_COPY_PREFIX

    @functools.cached_property
    def scratch_render(self) -> str | None:
        """Which of copier update's scratch renders the destination is in (its directory
        prefix), None for the repository itself."""
        destination = Path(self.dst_path).absolute()
        for directory in [destination, *destination.parents]:
            for prefix in (_OLD_COPY_PREFIX, _NEW_COPY_PREFIX):
                if directory.name.startswith(prefix):
                    return prefix
        return None

    def _git_initialize_repo(self) -> None:
        git = get_git()
        git("init", "--quiet", "--template=")
        store = self.object_store
        if store is not None:
            # The render's blobs are nearly all in the destination already (the recorded
            # version is what it holds): `git add` then writes almost nothing, where a fresh
            # object folder gets every blob as a loose object, each in a new fan-out folder.
            # Borrowing it (alternates, read as Copier's own `set_git_alternates` does) keeps
            # this repository whole for Copier's later git calls, which name no store.
            # Copier calls this inside `local.cwd(<the throwaway repository>)`.
            alternates = Path(str(local.cwd), ".git", "objects", "info", "alternates")
            alternates.parent.mkdir(parents=True, exist_ok=True)
            alternates.write_text(f"{store}\n", encoding="utf-8")
            git = git.with_env(GIT_OBJECT_DIRECTORY=str(store))
        git("add", ".")
        _commit_all(git, "dumb commit")

    @functools.cached_property
    def object_store(self) -> Path | None:
        """The destination's object folder, which Copier's two throwaway repositories write
        into; None unless the destination is a repository of its own (`copier_update`'s
        callers give it a scratch repository fleetform made)."""
        return copier_objects.known_objects_folder(self.subproject.local_abspath.absolute())

    def _git_commit(self, message: str = "dumb commit") -> None:
        _commit_all(get_git(), message)

    @functools.cached_property
    def subproject(self) -> Subproject:
        result = SharedSubproject(
            local_abspath=self.dst_path.absolute(),
            answers_relpath=self.answers_file or Path(".copier-answers.yml"),
        )
        self._cleanup_hooks.append(result._cleanup)
        return result

    def _sync_git_index_executable_bit(self, dst_relpath: Path, src_mode: int) -> None:
        # Copier asks git for core.fileMode once per rendered file (~70 processes per
        # repository) and does nothing unless it is "false"; ask once per destination, and
        # not at all for its scratch renders (outside any git work tree: nothing to sync).
        if self.scratch_render is None and self.core_file_mode == "false":
            super()._sync_git_index_executable_bit(dst_relpath, src_mode)

    @functools.cached_property
    def core_file_mode(self) -> str:
        """The destination's `git config core.fileMode` ("" when unset or not a git tree)."""
        result = git(
            self.subproject.local_abspath, "config", "--type=bool", "--get", "core.fileMode"
        )
        return result.stdout.strip() if result.returncode == 0 else ""


def _commit_all(git: Any, message: str) -> None:
    """Commit everything in one of copier update's throwaway repositories, which live for
    one update: no hooks, no signing, no `git maintenance run --auto` (three per update)."""
    git(
        *_NO_MAINTENANCE,
        "commit", "--quiet", "--allow-empty", "--no-gpg-sign", "--no-verify", "-am", message,
    )  # fmt: skip


class SharedSubproject(Subproject):
    """A Subproject whose recorded template is the process's shared clone of that version.

    Copier's own clones the recorded version once more per repository (~20 git processes)
    and deletes it with the subproject; the shared clone outlives it (see `release`).
    """

    @property
    def _raw_answers(self) -> dict[str, Any]:
        # Copier reads the answers with PyYAML's pure-Python safe loader, ~60 ms for a service
        # with many dependencies, three times per update; libyaml's safe loader builds the
        # same values (same constructor and resolver) in a tenth of that.
        try:
            with (self.local_abspath / self.answers_relpath).open("rb") as answers:
                data = yaml.load(answers, Loader=yaml.CSafeLoader)
        except OSError:
            return {}
        return data if isinstance(data, dict) else {}

    @functools.cached_property
    def template(self) -> Template | None:
        url = self.last_answers.get("_src_path")
        if not url:
            return None
        ref = self.last_answers.get("_commit")
        return shared_template(str(url), None if ref is None else str(ref), as_recorded=True)
