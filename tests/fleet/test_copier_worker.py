"""The tripwire for Copier's private API: `generator/fleet/copier_worker.py` overrides parts of
Copier's internal Worker, Subproject and Template. An upgraded Copier that renames, removes or
re-shapes any of them must fail here, naming what changed, before it silently changes what
fleetform renders or updates.
"""

from __future__ import annotations

import functools
import inspect
from importlib.metadata import version
from pathlib import Path

import copier
import copier._main
import copier._tools
import pytest
from copier._main import Worker
from copier._subproject import Subproject
from copier._template import Template
from plumbum import local

from generator.fleet import copier_objects, copier_worker
from generator.fleet.copier_worker import (
    CachedTemplate,
    FleetWorker,
    SharedSubproject,
    UpdateWorker,
)
from tests.helpers import commit_all, git, init_repo

COPIER = version("copier")
REVIEW = "review generator/fleet/copier_worker.py before upgrading"

# (fleetform's class, Copier's class, what is overridden, what kind Copier's is)
OVERRIDES = [
    (FleetWorker, Worker, "template", functools.cached_property),
    (FleetWorker, Worker, "jinja_env", functools.cached_property),
    (FleetWorker, Worker, "_sync_git_index_executable_bit", "function"),
    (UpdateWorker, Worker, "run_copy", "function"),
    (UpdateWorker, Worker, "subproject", functools.cached_property),
    (UpdateWorker, Worker, "_git_initialize_repo", "function"),
    (UpdateWorker, Worker, "_git_commit", "function"),
    (UpdateWorker, Worker, "_render_allowed", "function"),
    (SharedSubproject, Subproject, "_raw_answers", property),
    (SharedSubproject, Subproject, "template", functools.cached_property),
    (CachedTemplate, Template, "url_expanded", functools.cached_property),
    (CachedTemplate, Template, "vcs", functools.cached_property),
    (CachedTemplate, Template, "commit", functools.cached_property),
]


def kind_of(cls: type, name: str) -> object:
    attribute = inspect.getattr_static(cls, name, None)
    if inspect.isfunction(attribute):
        return "function"
    return type(attribute) if attribute is not None else None


@pytest.mark.parametrize(("ours", "theirs", "name", "kind"), OVERRIDES)
def test_copier_still_has_what_fleetform_overrides(
    ours: type, theirs: type, name: str, kind: object
) -> None:
    assert name in vars(ours), f"{ours.__name__}.{name} is no longer overridden: update OVERRIDES"
    found = kind_of(theirs, name)
    assert found == kind, (
        f"copier {COPIER}: {theirs.__name__}.{name} is {found}, fleetform overrides it as"
        f" {kind}; {REVIEW}"
    )


@pytest.mark.parametrize(("ours", "theirs", "name", "kind"), OVERRIDES)
def test_overridden_methods_keep_copiers_signature(
    ours: type, theirs: type, name: str, kind: object
) -> None:
    if kind != "function":
        return
    mine = inspect.signature(getattr(ours, name))
    copiers = inspect.signature(getattr(theirs, name))
    assert list(mine.parameters) == list(copiers.parameters), (
        f"copier {COPIER}: {theirs.__name__}.{name}{copiers} but fleetform overrides it as"
        f" {name}{mine}; {REVIEW}"
    )


def test_copier_still_renders_updates_into_the_scratch_directories_fleetform_recognises() -> None:
    """UpdateWorker tells Copier's scratch renders from the repository by these prefixes."""
    source = Path(copier._main.__file__).read_text(encoding="utf-8")
    for prefix in (copier_worker._OLD_COPY_PREFIX, copier_worker._NEW_COPY_PREFIX):
        suffix = prefix.removeprefix("copier._main.")
        assert f'prefix=f"{{__name__}}.{suffix}"' in source, (
            f"copier {COPIER} no longer renders into TemporaryDirectory(prefix=...{suffix});"
            f" {REVIEW}"
        )


def test_template_takes_the_arguments_shared_template_passes() -> None:
    parameters = inspect.signature(Template).parameters
    assert {"url", "ref", "use_prereleases"} <= set(parameters), (
        f"copier {COPIER}: Template{inspect.signature(Template)}; {REVIEW}"
    )
    assert callable(getattr(Template, "_cleanup", None)), (
        f"copier {COPIER}: Template._cleanup is gone (release() calls it); {REVIEW}"
    )


def test_a_yield_path_renders_as_copier_renders_it_on_every_render_of_a_process(
    tmp_path: Path,
) -> None:
    """Copier's yield tag (one path per item) resets its context when a source is compiled;
    the shared environment compiles each source once. Rendered twice in one process, with
    a plain path after the yield one, the result must still be plain Copier's."""
    template = tmp_path / "template"
    looped = template / "{% yield item from items %}{{ item }}{% endyield %}"
    looped.mkdir(parents=True)
    (looped / "name.txt.jinja").write_text("{{ item }}\n", encoding="utf-8")
    (template / "{{ 'plain' }}.txt").write_text("plain\n", encoding="utf-8")
    (template / "copier.yml").write_text(
        "_templates_suffix: .jinja\nitems:\n  type: yaml\n  default: [a, b]\n", encoding="utf-8"
    )
    data = {"items": ["a", "b"]}
    copier.run_copy(str(template), tmp_path / "copier", data=data, defaults=True, quiet=True)
    expected = files_under(tmp_path / "copier")
    for run in ("first", "second"):
        with FleetWorker(
            src_path=str(template), dst_path=tmp_path / run, data=data, defaults=True, quiet=True
        ) as worker:
            worker.run_copy()
        assert files_under(tmp_path / run) == expected, run


def files_under(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != ".copier-answers.yml"
    }


def test_copier_still_borrows_objects_by_the_name_fleetform_replaces() -> None:
    """`copier update` calls `set_git_alternates` by its name in copier._main, which
    copier_worker replaces with one that asks git less (same arguments, same file)."""
    assert "set_git_alternates(" in inspect.getsource(Worker._apply_update), REVIEW
    assert getattr(copier._main, "set_git_alternates") is copier_objects._set_git_alternates  # noqa: B009
    ours = inspect.signature(copier_objects._set_git_alternates)
    theirs = inspect.signature(copier._tools.set_git_alternates)
    assert list(ours.parameters) == list(theirs.parameters), f"copier {COPIER}: {REVIEW}"


@pytest.mark.parametrize("layout", ["repository", "worktree", "subfolder"])
def test_the_objects_folder_is_the_one_git_names(tmp_path: Path, layout: str) -> None:
    repo = tmp_path / "repo"
    init_repo(repo)
    (repo / "file").write_text("one\n", encoding="utf-8")
    commit_all(repo, "one")
    where = {"repository": repo, "worktree": tmp_path / "linked", "subfolder": repo / "sub"}
    if layout == "worktree":
        git(repo, "worktree", "add", "-q", str(where[layout]))
    where[layout].mkdir(exist_ok=True)
    with local.cwd(where[layout]):
        for path in (Path(), where[layout]):
            expected = copier._tools.get_git_objects_dir(path).resolve()
            assert copier_objects._objects_folder(path).resolve() == expected
