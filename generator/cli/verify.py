"""`fleetform verify`: the validators on rendered trees, or --live on a Docker engine."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.group import cli
from generator.cli.options import (
    catalog_option,
    exit_for,
    format_option,
    opened_catalog,
    out_option,
    quiet_option,
    report_problems,
    wait_timeout_option,
    workspace_option,
)


@cli.command("verify")
@click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...|SERVICE...", type=click.Path(path_type=Path)
)
@format_option
@click.option(
    "--live",
    is_flag=True,
    help="Build, run and health-check SERVICES on a Docker engine (stand-ins for the images"
    " no registry can deliver) instead of validating PATHS.",
)
@catalog_option
@workspace_option(
    "--live: the services' repositories are WORKSPACE/<repo> (default: a temporary render).",
    required=False,
)
@out_option("--live: render into OUT/<repo> first, as generate -o does.")
@wait_timeout_option(
    "--live: seconds per service for docker-compose up and its container to be healthy."
)
@quiet_option
@click.pass_context
def verify_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    output_format: str,
    live: bool,
    catalog_path: Path | None,
    workspace: Path | None,
    out: Path | None,
    wait_timeout: float,
    quiet: bool,
) -> None:
    """Run each format's own validator on rendered trees (Helm, Kubernetes schemas,
    Compose, hadolint, shellcheck, the GitLab CI schema).

    With --live: build each SERVICE's image from its generated Dockerfile, run it with its
    generated compose file and require its generated health-check.sh to exit 0; exit 1 if
    any is not built, started or healthy. Everything it starts is removed afterwards.
    """
    if live:
        _verify_live(
            ctx, [str(p) for p in paths], output_format, catalog_path, workspace, out, wait_timeout
        )
        return
    if catalog_path or workspace or out:
        raise click.UsageError("-c, -w and -o go with --live")
    from generator.fleet.report import ProgressLine
    from generator.verify import verify_trees  # the validators are heavy to import

    ctx.meta["format"] = output_format
    # A line per tree on stderr as it finishes (a live counter on a terminal): stdout keeps
    # exactly the problems, or the JSON.
    progress = ProgressLine(total=len(paths), quiet=quiet or len(paths) < 2)
    try:
        result = verify_trees(paths, progress=progress.step)
    finally:
        progress.close()
    report_problems(ctx, result.problems, f"verify ({len(result.checked)} checks)", output_format)


def _verify_live(
    ctx: click.Context,
    services: list[str],
    output_format: str,
    catalog_path: Path | None,
    workspace: Path | None,
    out: Path | None,
    wait_timeout: float,
) -> None:
    from generator.stack.engine import connect
    from generator.stack.live import LiveOptions, verify_live
    from generator.stack.report import live_json, live_report

    ctx.meta["format"] = output_format
    if workspace and out:
        raise click.UsageError("give either --workspace or --out, not both")
    catalog = opened_catalog(catalog_path)
    options = LiveOptions(workspace=workspace, out=out, wait_timeout=wait_timeout)
    result = verify_live(
        catalog, services, options, connect, emit=lambda line: click.echo(line, err=True)
    )
    click.echo(live_json(result) if output_format == "json" else live_report(result), nl=False)
    exit_for(ctx, result.ok)
