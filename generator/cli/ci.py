"""`fleetform ci`: the `.gitlab-ci.yml` of the repository that holds the catalog."""

from __future__ import annotations

from pathlib import Path

import click

from generator.catalog.validation import open_catalog
from generator.cli.group import cli
from generator.cli.options import catalog_option_with, output_option
from generator.fleet.pipeline import MAX_SHARDS


@cli.command("ci")
@catalog_option_with(
    "Catalog file, inside the repository the pipeline is for (default: ./catalog.yaml)."
)
@click.option(
    "--shards",
    type=click.IntRange(min=1, max=MAX_SHARDS),
    default=4,
    show_default=True,
    help="Campaign jobs run in parallel, each on a stable 1/N of the fleet.",
)
@click.option(
    "--fleetform",
    "requirement",
    default=None,
    metavar="REQUIREMENT",
    help="What each job pip-installs (default: fleetform from the catalog's template at its"
    " ref; empty: the fleetform on the image's PATH).",
)
@output_option("Write the pipeline here (atomically), at the repository's root; default: print it.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace OUTPUT even if fleetform did not write it, or it was edited.",
)
def ci_command(
    catalog_path: Path | None,
    shards: int,
    requirement: str | None,
    output: Path | None,
    force: bool,
) -> None:
    """Print (or write, -o) the catalog repository's .gitlab-ci.yml: checks and a dry run on
    merge requests; campaigns (a CAMPAIGN variable on a schedule or a manual pipeline) as a
    plan job, SHARDS campaign jobs pushing merge requests, and a report of their ledgers."""
    from generator.fleet.pipeline_file import Outcome, write_pipeline

    catalog = open_catalog(catalog_path or Path("catalog.yaml")).catalog
    result = write_pipeline(
        catalog, shards=shards, fleetform=requirement, output=output, force=force
    )
    if result.outcome is Outcome.PRINTED:
        click.echo(result.text, nl=False)
    else:
        click.echo(f"{result.output}: {result.outcome.value}", err=True)
