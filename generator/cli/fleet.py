"""Commands on the service repositories: generate, new, update, drift."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from generator.catalog.model import Runtime, Tier
from generator.cli.group import cli
from generator.cli.options import (
    catalog_option,
    catalog_option_with,
    diff_option,
    dry_run_option,
    exit_for,
    finish_run,
    format_option,
    jobs_option,
    opened_catalog,
    out_option,
    quiet_option,
    services_argument,
    vcs_ref_option,
    with_progress,
    workspace_option,
)
from generator.problems import as_text

if TYPE_CHECKING:
    from generator.fleet.new import NewService, NewServiceResult


@cli.command("generate")
@catalog_option
@workspace_option(
    "Workspace root: each service renders into its repository (`repo:`) under it.",
    required=False,
)
@out_option()
@services_argument
@jobs_option("Services rendered in parallel (default: the number of cores).")
@dry_run_option("Write nothing; list what would change.")
@diff_option("With --dry-run: print unified diffs.")
@click.option(
    "--backup",
    is_flag=True,
    help="Overwrite files fleetform did not write, keeping each as <file>.pre-fleetform.",
)
@format_option
@quiet_option
@click.pass_context
def generate_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path | None,
    out: Path | None,
    services: tuple[str, ...],
    jobs: int,
    dry_run: bool,
    diff: bool,
    backup: bool,
    output_format: str,
    quiet: bool,
) -> None:
    """Render every generated service (or SERVICES) into its repository."""
    if diff and not dry_run:
        raise click.UsageError("--diff goes with --dry-run (a diff of what a run would write)")
    if workspace and out:
        raise click.UsageError("give either --workspace or --out, not both")
    root = workspace or out
    if root is None:
        raise click.UsageError("give --workspace WORKSPACE or --out OUT")
    from generator.fleet.generate import GenerateOptions, generate
    from generator.fleet.report import generate_json, generate_summary
    from generator.fleet.template import catalog_template

    catalog = opened_catalog(catalog_path)
    options = GenerateOptions(
        root=root,
        template=catalog_template(catalog),
        jobs=jobs,
        dry_run=dry_run,
        diff=diff,
        backup=backup,
        preview=out is not None,
    )
    run = partial(generate, catalog, services, options)
    report = with_progress(catalog, services, run, quiet=quiet)
    for warning in report.warnings:
        click.echo(f"fleetform: warning: {warning}", err=True)
    render = generate_json if output_format == "json" else generate_summary
    click.echo(render(report), nl=False)
    exit_for(ctx, report.ok, interrupted=report.interrupted)


# ---- new: add a service to the catalog (every other byte kept), then render its repository
@cli.command("new")
@click.argument("service")
@click.option("--group", required=True, help="Its group (the port range it takes a port from).")
@click.option(
    "--runtime",
    required=True,
    metavar=f"[{'|'.join(r.value for r in Runtime)}]",
    help="node, python or model (rendered); image or ddev (catalogued only).",
)
@click.option("--port", type=int, default=None, help="Default: the group's lowest free port.")
@click.option(
    "--depends-on",
    "depends_on",
    multiple=True,
    metavar="SERVICE",
    help="A service it needs; repeat (or separate with commas) for more.",
)
@click.option("--description", default=None, help="One line on what it does.")
@click.option(
    "--resources",
    metavar=f"[{'|'.join(tier.value for tier in Tier)}]",
    default=None,
    help="Its resource tier (default: the runtime's).",
)
@click.option("--gpu", type=int, default=None, help="GPUs per replica (default: 1 for model).")
@click.option("--image", default=None, help="What an image service runs, e.g. nginx:1.27.")
@click.option("--repo", default=None, help="Its repository in the workspace (default: SERVICE).")
@catalog_option_with(
    "The catalog to edit (never the bundled one).", default=Path("catalog.yaml"), dir_okay=False
)
@workspace_option("Render into its repository (`repo:`) under this workspace root.", required=False)
@out_option("Preview: render into OUT/<repo> instead.")
@click.option("--no-render", is_flag=True, help="Only add the service to the catalog.")
@dry_run_option("Write nothing: print the catalog's edit and the files the render would create.")
@click.pass_context
def new_command(
    ctx: click.Context,
    service: str,
    group: str,
    runtime: str,
    port: int | None,
    depends_on: tuple[str, ...],
    description: str | None,
    resources: str | None,
    gpu: int | None,
    image: str | None,
    repo: str | None,
    catalog_path: Path,
    workspace: Path | None,
    out: Path | None,
    no_render: bool,
    dry_run: bool,
) -> None:
    """Add SERVICE to the catalog, then render its repository into WORKSPACE.

    Comments, order, quoting and indentation of the catalog are kept; the edited catalog is
    validated before it replaces the file, so bad input writes nothing (exit 2). With -o OUT
    the service is rendered into OUT as a preview and the catalog is not edited; with
    --dry-run nothing is written at all.
    """
    from generator.fleet.new import NewService, new_service

    roots = [root for root in (workspace, out) if root is not None]
    if len(roots) + no_render > 1:
        raise click.UsageError("give only one of --workspace, --out and --no-render")
    if not roots and not no_render and runtime in {r.value for r in Runtime if r.generated}:
        raise click.UsageError("give --workspace WORKSPACE, --out OUT or --no-render")
    request = NewService(
        id=service,
        group=group,
        runtime=runtime,
        port=port,
        depends_on=tuple(n.strip() for item in depends_on for n in item.split(",") if n.strip()),
        description=description,
        resources=resources,
        gpu=gpu,
        image=image,
        repo=repo,
    )
    root = roots[0] if roots else None
    result = new_service(catalog_path, request, root, preview=out is not None, dry_run=dry_run)
    _print_new(result, request, catalog_path, root)
    exit_for(ctx, result.ok)


def _print_new(
    result: NewServiceResult, request: NewService, catalog_path: Path, root: Path | None
) -> None:
    service, group, runtime = request.id, request.group, request.runtime
    added = result.added
    click.echo(as_text(added.warnings), err=True, nl=False)
    how = "the lowest free port of" if added.allocated else "as asked, in"
    verb = "added" if added.written else "would add"
    click.echo(f"{verb} {service!r} at {added.location}: port {added.port} ({how} group {group!r})")
    if not added.written:
        click.echo(result.catalog_diff, nl=False)
    if result.report is not None:
        from generator.fleet.report import generate_summary

        if result.dry_run:
            click.echo("".join(f"would create {path}\n" for path in result.created), nl=False)
        click.echo(generate_summary(result.report), nl=False)
    elif root is not None:
        click.echo(f"{service}: not rendered ({runtime} services are catalogued only)")
    if not added.written:
        why = "--dry-run" if result.dry_run else "a preview (-o)"
        click.echo(f"fleetform: {catalog_path} not edited: {why}", err=True)
    elif not result.ok and root is not None:
        click.echo(
            f"fleetform: the catalog keeps {service!r}; once the render is fixed run:"
            f" fleetform generate -c {catalog_path} -w {root} {service}",
            err=True,
        )


@cli.command("update")
@catalog_option
@workspace_option()
@services_argument
@vcs_ref_option("Template ref to update to (default: the catalog's).")
@jobs_option()
@dry_run_option("Write nothing; list the repositories that would update.")
@format_option
@quiet_option
@click.pass_context
def update_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    vcs_ref: str | None,
    jobs: int,
    dry_run: bool,
    output_format: str,
    quiet: bool,
) -> None:
    """`copier update` every generated repository (or SERVICES) to the template ref with the
    catalog's answers; conflicts are left inline for the owners, nothing is committed."""
    from generator.fleet.report import update_json, update_summary
    from generator.fleet.template import catalog_template
    from generator.fleet.update import UpdateOptions, update

    catalog = opened_catalog(catalog_path)
    template = catalog_template(catalog)
    options = UpdateOptions(
        root=workspace,
        template=template.at(vcs_ref or template.ref),
        jobs=jobs,
        dry_run=dry_run,
    )
    report = with_progress(
        catalog, services, partial(update, catalog, services, options), quiet=quiet
    )
    finish_run(ctx, report, output_format, text=update_summary, json=update_json)


@cli.command("drift")
@catalog_option
@workspace_option()
@services_argument
@jobs_option()
@diff_option("Print a unified diff of every differing file.")
@format_option
@quiet_option
@click.pass_context
def drift_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    jobs: int,
    diff: bool,
    output_format: str,
    quiet: bool,
) -> None:
    """Which repositories differ from what their recorded template version renders with the
    catalog's answers (and which are behind the newest template tag); writes nothing."""
    from generator.fleet.drift import DriftOptions, drift
    from generator.fleet.report import drift_json, drift_summary
    from generator.fleet.template import catalog_template

    catalog = opened_catalog(catalog_path)
    options = DriftOptions(root=workspace, template=catalog_template(catalog), jobs=jobs, diff=diff)
    report = with_progress(
        catalog, services, partial(drift, catalog, services, options), quiet=quiet
    )
    finish_run(ctx, report, output_format, text=drift_summary, json=drift_json)
