"""Commands that run the catalog: orchestrate, and up, down, status on a Docker engine."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.group import cli
from generator.cli.options import (
    catalog_option,
    exit_for,
    format_option_of,
    opened_catalog,
    output_option,
    profile_argument,
    project_option,
    wait_timeout_option,
)
from generator.errors import ExitCode


# ---- orchestrate, graph: the platform-wide compose file and the dependency graph
@cli.command("orchestrate")
@catalog_option
@output_option("Write the compose file here (atomically) instead of printing it.")
def orchestrate_command(catalog_path: Path | None, output: Path | None) -> None:
    """Print (or write) docker-compose.orchestrate.yml: the whole catalog, core always on,
    every other service under the compose profiles of the catalog profiles that need it."""
    from generator.stack.orchestrate import orchestrate

    text = orchestrate(opened_catalog(catalog_path), output)
    if output is None:
        click.echo(text, nl=False)


@cli.command("up")
@catalog_option
@profile_argument
@wait_timeout_option("Seconds to wait, in all, for the profile's services to be healthy.")
@project_option
@click.pass_context
def up_command(
    ctx: click.Context,
    catalog_path: Path | None,
    profile: str,
    wait_timeout: float,
    project: str | None,
) -> None:
    """Start PROFILE with docker-compose and wait until every service is healthy.

    Services are waited for in dependency order with exponential backoff; seed 001's log
    lines go to stderr. A service that never gets healthy, its dependants and its last log
    lines are reported (exit 1); nothing is stopped or removed.
    """
    from generator.stack.engine import connect
    from generator.stack.report import up_report
    from generator.stack.up import UpOptions, up

    catalog = opened_catalog(catalog_path)
    options = UpOptions(profile=profile, project=project or catalog.name, wait_timeout=wait_timeout)
    result = up(catalog, options, connect, emit=lambda event: click.echo(str(event), err=True))
    click.echo(up_report(result), err=True, nl=False)
    exit_for(ctx, result.ok)


@cli.command("down")
@catalog_option
@profile_argument
@project_option
@click.pass_context
def down_command(
    ctx: click.Context, catalog_path: Path | None, profile: str, project: str | None
) -> None:
    """Remove the project's containers (with their anonymous volumes) and networks.

    Named volumes (the services' data) are kept. Every container of the project goes, also
    those of other profiles: they share its network. Exit 1 if anything is left.
    """
    from generator.stack.down import down
    from generator.stack.engine import connect
    from generator.stack.report import down_report

    catalog = opened_catalog(catalog_path)
    result = down(catalog, profile, project or catalog.name, connect)
    click.echo(down_report(result), nl=False)
    exit_for(ctx, result.ok)


@cli.command("status")
@catalog_option
@project_option
@click.option(
    "--profile",
    default=None,
    help="Cover PROFILE's services (default: the core cluster, what runs, and their needs).",
)
@click.option("--watch", is_flag=True, help="Refresh every 2 s until Ctrl-C.")
@format_option_of("table", "json")
@click.option(
    "--loop-restarts",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="A restart loop: at least this many restarts...",
)
@click.option(
    "--loop-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="...the last of them within this many minutes.",
)
@click.pass_context
def status_command(
    ctx: click.Context,
    catalog_path: Path | None,
    project: str | None,
    profile: str | None,
    watch: bool,
    output_format: str,
    loop_restarts: int,
    loop_minutes: float,
) -> None:
    """The health matrix: per service its containers, state, health, restarts, uptime,
    published ports against the catalog's, and a verdict. Exit 1 unless all are ok."""
    from generator.stack.engine import LoopRule, connect
    from generator.stack.report import matrix_json, matrix_table
    from generator.stack.status import WATCH_SECONDS, health_matrices

    catalog = opened_catalog(catalog_path)
    rule = LoopRule(restarts=loop_restarts, minutes=loop_minutes)
    render = matrix_json if output_format == "json" else matrix_table
    matrices = health_matrices(
        catalog, project or catalog.name, connect, profile=profile, rule=rule, watch=watch
    )
    code = ExitCode.OK
    try:
        for matrix in matrices:
            code = ExitCode.OK if matrix.ok else ExitCode.PROBLEMS
            if watch and output_format == "table":
                click.clear()
                stamp = matrix.checked_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                click.echo(f"every {WATCH_SECONDS}s, Ctrl-C to stop; {stamp}")
            click.echo(render(matrix), nl=False)
    except KeyboardInterrupt:
        pass
    ctx.exit(code)
