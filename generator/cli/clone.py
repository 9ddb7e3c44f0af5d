"""`fleetform clone`: the workspace's repositories from their remotes (cloned or fetched)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from generator.cli.group import cli
from generator.cli.options import (
    catalog_option,
    finish_run,
    format_option,
    jobs_option,
    opened_catalog,
    quiet_option,
    services_argument,
    shard_option,
    with_progress,
    workspace_option,
)


@cli.command("clone")
@catalog_option
@workspace_option("Workspace root: each service's repository is cloned into WORKSPACE/<repo>.")
@services_argument
@shard_option("Only the I-th of N stable shares (the one `campaign run --shard I/N` takes).")
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
    from generator.fleet.campaign.shard import parse_shard
    from generator.fleet.clone import CloneOptions, clone
    from generator.fleet.report import clone_json, clone_summary

    catalog = opened_catalog(catalog_path)
    share = parse_shard(shard) if shard else None
    options = CloneOptions(root=workspace, jobs=jobs, shard=share)
    run = partial(clone, catalog, services, options)
    report = with_progress(catalog, services, run, quiet=quiet, share=share)
    finish_run(ctx, report, output_format, text=clone_summary, json=clone_json)
