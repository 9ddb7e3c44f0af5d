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

import copier._main
import pytest
from copier._main import Worker
from copier._subproject import Subproject
from copier._template import Template

from generator.fleet import copier_worker
from generator.fleet.copier_worker import (
    CachedTemplate,
    FleetWorker,
    SharedSubproject,
    UpdateWorker,
)

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
