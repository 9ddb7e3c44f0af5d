"""`fleetform heal`: re-render drifted repositories at their recorded version, owners' edits
merged in three ways (see `generator.fleet.heal`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from generator.cli.group import cli
from generator.cli.options import (
    catalog_option,
    dry_run_option,
    finish_run,
    format_option,
    jobs_option,
    opened_catalog,
    quiet_option,
    services_argument,
    with_progress,
    workspace_option,
)


@cli.command("heal")
@catalog_option
@workspace_option()
@services_argument
@jobs_option()
@dry_run_option("Write nothing; list the files heal would write.")
@format_option
@quiet_option
@click.pass_context
def heal_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    jobs: int,
    dry_run: bool,
    output_format: str,
    quiet: bool,
) -> None:
    """Re-render every drifted repository (or SERVICES) at its recorded template version and
    merge the owners' edits in three ways; conflicts inline, owned files untouched, nothing
    committed."""
    from generator.fleet.heal import HealOptions, heal
    from generator.fleet.report import heal_json, heal_summary
    from generator.fleet.template import catalog_template

    catalog = opened_catalog(catalog_path)
    options = HealOptions(
        root=workspace, template=catalog_template(catalog), jobs=jobs, dry_run=dry_run
    )
    run = partial(heal, catalog, services, options)
    report = with_progress(catalog, services, run, quiet=quiet)
    finish_run(ctx, report, output_format, text=heal_summary, json=heal_json)
