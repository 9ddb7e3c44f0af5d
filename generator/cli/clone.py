"""`fleetform clone`: the workspace's repositories from their remotes (cloned or fetched)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from generator.catalog.validation import open_catalog
from generator.cli.fleet import with_progress
from generator.cli.group import cli
from generator.cli.options import (
    catalog_option,
    default_catalog,
    exit_for,
    format_option,
    jobs_option,
    quiet_option,
    services_argument,
    workspace_option,
)


@cli.command("clone")
@catalog_option
@workspace_option("Workspace root: each service's repository is cloned into WORKSPACE/<repo>.")
@services_argument
@jobs_option()
@format_option
@quiet_option
@click.pass_context
def clone_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    jobs: int,
    output_format: str,
    quiet: bool,
) -> None:
    """Clone every generated service's repository (or SERVICES) from its catalog remote into
    the workspace; fetch the ones present (their work trees, index and branches untouched);
    refuse one whose origin is not the catalog's remote. Exit 1 on refusals or failures."""
    from generator.fleet.clone import CloneOptions, clone
    from generator.fleet.report import clone_json, clone_summary

    catalog = open_catalog(catalog_path or default_catalog()).catalog
    options = CloneOptions(root=workspace, jobs=jobs)
    report = with_progress(
        catalog, services, partial(clone, catalog, services, options), quiet=quiet
    )
    click.echo((clone_json if output_format == "json" else clone_summary)(report), nl=False)
    exit_for(ctx, report.ok, interrupted=report.interrupted)
