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
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Only the I-th of N stable shares (the one `campaign run --shard I/N` takes).",
)
@jobs_option()
@format_option
@quiet_option
@click.pass_context
def clone_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    shard: str | None,
    jobs: int,
    output_format: str,
    quiet: bool,
) -> None:
    """Clone every generated service's repository (or SERVICES) from its catalog remote into
    the workspace; fetch the ones present (their work trees, index and branches untouched);
    refuse one whose origin is not the catalog's remote. Exit 1 on refusals or failures."""
    from generator.catalog.selection import select_services
    from generator.fleet.campaign.shard import in_shard, parse_shard
    from generator.fleet.clone import CloneOptions, clone
    from generator.fleet.report import ProgressLine, clone_json, clone_summary

    catalog = open_catalog(catalog_path or default_catalog()).catalog
    share = parse_shard(shard) if shard else None
    options = CloneOptions(root=workspace, jobs=jobs, shard=share)
    if share is None:
        report = with_progress(
            catalog, services, partial(clone, catalog, services, options), quiet=quiet
        )
    else:  # the progress line counts the shard's repositories, not the fleet's
        total = len(in_shard(select_services(catalog, services), share))
        progress = ProgressLine(total=total, quiet=quiet)
        try:
            report = clone(catalog, services, options, progress=progress.step)
        finally:
            progress.close()
    click.echo((clone_json if output_format == "json" else clone_summary)(report), nl=False)
    exit_for(ctx, report.ok, interrupted=report.interrupted)
