"""`fleetform campaign run|status`: a branch, a commit and a merge request per repository."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import click

from generator.cli.group import cli
from generator.cli.options import (
    catalog_option,
    exit_for,
    finish_run,
    format_option,
    format_option_of,
    jobs_option,
    opened_catalog,
    quiet_option,
    services_argument,
    shard_option,
    vcs_ref_option,
    with_progress,
    workspace_option,
)


@cli.group("campaign")
def campaign_group() -> None:
    """Roll the template ref and the catalog's answers out as one merge request per
    repository, resumable, shardable over CI jobs."""


@campaign_group.command("run")
@click.argument("name")
@catalog_option
@workspace_option()
@services_argument
@vcs_ref_option("Template ref to bring (default: the catalog's).")
@click.option("--push", is_flag=True, help="Push each branch with merge-request push options.")
@shard_option()
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after K merge requests (commits without --push): a canary wave.",
)
@jobs_option()
@format_option
@quiet_option
@click.pass_context
def run_command(
    ctx: click.Context,
    name: str,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    vcs_ref: str | None,
    push: bool,
    shard: str | None,
    limit: int | None,
    jobs: int,
    output_format: str,
    quiet: bool,
) -> None:
    """Bring every repository (or SERVICES) of the workspace to the template ref with the
    catalog's answers on the branch fleetform/NAME: one commit each, pushed with --push;
    a rerun skips what is done and redoes the rest."""
    from generator.fleet.campaign.report import run_json, run_summary
    from generator.fleet.campaign.run import CampaignOptions, run_campaign
    from generator.fleet.campaign.shard import parse_shard
    from generator.fleet.template import catalog_template

    catalog = opened_catalog(catalog_path)
    template = catalog_template(catalog)
    share = parse_shard(shard) if shard else None
    options = CampaignOptions(
        root=workspace,
        name=name,
        template=template.at(vcs_ref or template.ref),
        push=push,
        shard=share,
        limit=limit,
        jobs=jobs,
    )
    run = partial(run_campaign, catalog, services, options)
    report = with_progress(catalog, services, run, quiet=quiet, share=share)
    finish_run(ctx, report, output_format, text=run_summary, json=run_json)


@campaign_group.command("status")
@click.argument("name")
@workspace_option("Workspace whose ledgers of NAME to read.", required=False)
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A ledger file to merge (repeat; default: every ledger of NAME in the workspace).",
)
@format_option_of("table", "json", "markdown", text="markdown: what a CI report job posts.")
@click.pass_context
def status_command(
    ctx: click.Context,
    name: str,
    workspace: Path | None,
    ledgers: tuple[Path, ...],
    output_format: str,
) -> None:
    """Per repository of campaign NAME: its state, reason, branch commit and push result,
    from every shard's ledger; exit 1 when any is in conflict, refused or failed."""
    from generator.fleet.campaign.report import status_json, status_markdown, status_table
    from generator.fleet.campaign.status import campaign_status

    status = campaign_status(workspace, name, ledgers)
    render = {"json": status_json, "markdown": status_markdown}.get(output_format, status_table)
    click.echo(render(status), nl=False)
    exit_for(ctx, status.ok)
