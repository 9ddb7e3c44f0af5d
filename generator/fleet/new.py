"""`fleetform new`: add a service to catalog.yaml, keeping every other byte, then render it
(or, for `--dry-run` and `-o` previews, only show what the edit and the render would be).

The edit is the catalog layer's (`generator.catalog.edit`); this module adds the one check
the catalog cannot make, that the new service's Copier answers validate, and the render.
`NewService`, the request, lives with the edit and is exported here too, so the `new`
command's request, result and function come from one module.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from generator.catalog.edit import AddedService, NewService, add_service
from generator.catalog.model import Catalog
from generator.fleet.answers import service_answers
from generator.fleet.confine import kind
from generator.fleet.generate import GenerateOptions, GenerateReport, generate
from generator.fleet.manifest import MANIFEST
from generator.fleet.template import catalog_template, require_writable_template
from generator.fleet.workspace import hold
from generator.git import git

__all__ = ["NewService", "NewServiceResult", "new_service"]

# An edit takes well under a second; a second `new` waits this long for the first.
CATALOG_LOCK_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class NewServiceResult:
    added: AddedService
    report: GenerateReport | None  # None: nothing rendered (--no-render, image or ddev)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok

    @property
    def created(self) -> list[Path]:
        """The files the render creates (or, in a dry run, would), fleetform's manifest too."""
        if self.report is None:
            return []
        return [
            result.repo / name
            for result in self.report.results
            if result.changes.created
            for name in sorted({*result.changes.created, MANIFEST})
        ]

    @property
    def catalog_diff(self) -> str:
        """The catalog's edit as a unified diff (written, or what a write would be)."""
        name = str(self.added.catalog.path)
        before = self.added.original.splitlines(keepends=True)
        after = self.added.edited.splitlines(keepends=True)
        lines = difflib.unified_diff(before, after, f"a/{name}", f"b/{name}")
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def new_service(
    path: Path,
    request: NewService,
    root: Path | None,
    *,
    preview: bool = False,
    dry_run: bool = False,
) -> NewServiceResult:
    """Add the service to the catalog at `path`, then render its repository under `root`.

    A preview (`root` is `-o OUT`) renders the service into OUT as the edited catalog would,
    and a dry run renders nothing anywhere: neither of them replaces the catalog, which
    stays the team's until someone means to change it. A render failure does not undo the
    catalog change: the entry is valid, and `fleetform generate` renders it again once the
    template or workspace is fixed.
    """
    edits = not (preview or dry_run)
    writes = root is not None and not preview
    check = partial(_check, writes=writes, dry_run=dry_run)
    if edits:
        # One `new` at a time per catalog: the file is read, edited and validated under the
        # lock, so two runs at once each add their entry to what the other wrote.
        with hold(path.parent, what=f"the catalog {path}", wait=CATALOG_LOCK_WAIT_SECONDS):
            added = add_service(path, request, check_service=check)
    else:
        added = add_service(path, request, check_service=check, write=False)
    runtime = added.catalog.services[added.service].runtime
    if root is None or not runtime.generated:
        return NewServiceResult(added, None, dry_run)
    template = catalog_template(added.catalog)
    options = GenerateOptions(root=root, template=template, preview=preview, dry_run=dry_run)
    report = generate(added.catalog, [added.service], options)
    if writes and not dry_run and report.ok:
        _initialise(root / added.catalog.services[added.service].repo)
    return NewServiceResult(added, report, dry_run)


def _initialise(repo: Path) -> None:
    """A new service's repository is a git repository from the start (fleetform created the
    folder: nothing of it is someone else's), with nothing committed: the owners commit."""
    if kind(repo / ".git") == "missing":
        git(repo, "init", "--quiet", check=True)


def _check(catalog: Catalog, service_id: str, *, writes: bool, dry_run: bool) -> None:
    """Before the catalog is replaced: a generated service's Copier answers must validate,
    and a workspace write needs a template it can record (or `generate` would refuse)."""
    if catalog.services[service_id].runtime.generated:
        service_answers(catalog, service_id)
        if writes:
            require_writable_template(catalog_template(catalog), dry_run=dry_run)
