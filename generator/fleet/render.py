"""Copier calls: render one service's repository from the template with its answers."""

from __future__ import annotations

import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from generator.catalog.model import Catalog
from generator.errors import RenderError
from generator.fleet.answers import Answers
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
    result = subprocess.run(
        ["git", "-C", str(repo), "describe", "--tags", "--abbrev=0"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def render_service(answers: Answers, dest: Path, template: TemplateSource) -> None:
    """Render one service into `dest` (a new directory outside any git work tree) with Copier."""
    # Imported here: copier and jinja2 are slow to import and only rendering needs them.
    from copier.errors import CopierError, CopierWarning
    from jinja2 import TemplateError

    from generator.fleet.copier_worker import FleetWorker

    failures = (CopierError, TemplateError, ValueError, OSError, subprocess.CalledProcessError)
    try:
        with warnings.catch_warnings():
            # Copier warns about a dirty or untagged template on every call; the caller
            # reports the template source and ref once instead.
            warnings.simplefilter("ignore", CopierWarning)
            with FleetWorker(
                src_path=template.src,
                dst_path=dest,
                data=answers,
                vcs_ref=template.ref or "HEAD",
                defaults=True,
                overwrite=True,
                quiet=True,
                unsafe=False,
            ) as worker:
                worker.run_copy()
    except failures as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise RenderError(service=str(answers.get("service_name")), reason=reason) from exc
