"""Copier calls: render one service's repository from the template with its answers."""

from __future__ import annotations

import contextlib
import subprocess
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from generator.errors import RenderError
from generator.fleet.answers import Answers
from generator.fleet.template import TemplateSource

# Here, not in copier_worker: drift and heal set it, and importing copier_worker imports Copier,
# half a second of every fleetform command that renders nothing.
_AS_RECORDED: ContextVar[bool] = ContextVar("as_recorded", default=False)


@contextlib.contextmanager
def rendering_recorded_versions() -> Iterator[None]:
    """Renders in this block are of versions repositories recorded (drift, heal)."""
    token = _AS_RECORDED.set(True)
    try:
        yield
    finally:
        _AS_RECORDED.reset(token)


def renders_recorded_versions() -> bool:
    return _AS_RECORDED.get()


def render_service(answers: Answers, dest: Path, template: TemplateSource) -> None:
    """Render one service into `dest` (a new directory outside any git work tree) with Copier."""
    # Imported here: copier and jinja2 are slow to import and only rendering needs them.
    from copier.errors import CopierError, CopierWarning
    from jinja2 import TemplateError

    from generator.fleet.copier_git import hardened
    from generator.fleet.copier_worker import FleetWorker, read_from

    failures = (CopierError, TemplateError, ValueError, OSError, subprocess.CalledProcessError)
    if template.clone_from:
        read_from(template.src, template.clone_from)
    try:
        with warnings.catch_warnings():
            # Copier warns about a dirty or untagged template on every call; the caller
            # reports the template source and ref once instead.
            warnings.simplefilter("ignore", CopierWarning)
            with (
                hardened(),
                FleetWorker(
                    src_path=template.src,
                    dst_path=dest,
                    data=answers,
                    vcs_ref=template.ref or "HEAD",
                    defaults=True,
                    overwrite=True,
                    quiet=True,
                    unsafe=False,
                ) as worker,
            ):
                worker.run_copy()
    except failures as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise RenderError(service=str(answers.get("service_name")), reason=reason) from exc
