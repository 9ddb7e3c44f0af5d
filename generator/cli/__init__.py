"""The `fleetform` command: parse arguments, call the library, print, choose the exit code.

Exit codes, decided here and nowhere else: 0 ok; 1 a check found problems; 2 bad usage or
invalid input. Anything unexpected keeps its traceback: it is a bug to report, not an answer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from generator import __version__
from generator.catalog.ports import allocate, check_ports, port_table
from generator.catalog.validation import open_catalog, validate
from generator.errors import FleetformError, InputError, Problem
from generator.report import as_json, as_text, summary
from generator.resources import BUNDLED_CATALOG

OK, PROBLEMS, BAD_INPUT = 0, 1, 2


def default_catalog() -> Path:
    local = Path("catalog.yaml")
    return local if local.exists() else BUNDLED_CATALOG


class FleetformGroup(click.Group):
    """Turns fleetform's errors into their exit codes, for every subcommand alike."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            if ctx.meta.get("format") == "json":
                click.echo(as_json(exc.problems), nl=False)
            else:
                click.echo(as_text(exc.problems), err=True, nl=False)
            ctx.exit(exc.exit_code)
        except FleetformError as exc:
            click.echo(f"fleetform: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


catalog_option = click.option(
    "-c",
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path, dir_okay=True),
    default=None,
    help="Catalog file (default: ./catalog.yaml, else the bundled one).",
)
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output for people or for machines.",
)


def _report(
    ctx: click.Context, problems: Sequence[Problem], subject: str, output_format: str
) -> None:
    if output_format == "json":
        click.echo(as_json(problems), nl=False)
    else:
        click.echo(as_text(problems), nl=False)
        click.echo(summary(problems, subject), err=True)
    failed = any(p.severity.value == "error" for p in problems)
    ctx.exit(PROBLEMS if failed else OK)


@click.group(cls=FleetformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetform")
def cli() -> None:
    """Keep a fleet of service repositories generated from one catalog."""


@cli.command("validate")
@catalog_option
@format_option
@click.pass_context
def validate_command(ctx: click.Context, catalog_path: Path | None, output_format: str) -> None:
    """Check the catalog: schema, names, references, cycles and ports."""
    ctx.meta["format"] = output_format
    path = catalog_path or default_catalog()
    result = validate(path)
    _report(ctx, result.problems, str(path), output_format)


@cli.group("ports", cls=FleetformGroup)
def ports_group() -> None:
    """The port registry: check, allocate, table."""


@ports_group.command("check")
@catalog_option
@format_option
@click.argument("compose_files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def ports_check_command(
    ctx: click.Context,
    catalog_path: Path | None,
    output_format: str,
    compose_files: tuple[Path, ...],
) -> None:
    """Port conflicts and ranges across the catalog and COMPOSE_FILES."""
    ctx.meta["format"] = output_format
    path = catalog_path or default_catalog()
    opened = open_catalog(path)
    report = check_ports(opened.catalog, compose_files)
    _report(ctx, sorted([*opened.warnings, *report.problems]), "ports", output_format)


@ports_group.command("allocate")
@click.argument("group")
@catalog_option
def ports_allocate_command(group: str, catalog_path: Path | None) -> None:
    """Print the lowest free port of GROUP's range."""
    opened = open_catalog(catalog_path or default_catalog())
    click.echo(allocate(opened.catalog, group))


@ports_group.command("table")
@catalog_option
def ports_table_command(catalog_path: Path | None) -> None:
    """Print PORT_ALLOCATION.md for the catalog."""
    opened = open_catalog(catalog_path or default_catalog())
    click.echo(port_table(opened.catalog), nl=False)


@cli.command("answers")
@click.argument("service")
@catalog_option
def answers_command(service: str, catalog_path: Path | None) -> None:
    """Print SERVICE's Copier answers (YAML), as fleetform passes them to the template.

    Feed them to plain Copier with `copier copy --data-file FILE`.
    """
    from generator.fleet.answers import answers_yaml, service_answers

    opened = open_catalog(catalog_path or default_catalog())
    click.echo(answers_yaml(service_answers(opened.catalog, service)), nl=False)


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
@click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    help="--live: the services' repositories are WORKSPACE/<repo> (default: a temporary render).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="--live: render into OUT/<repo> first, as generate -o does.",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="--live: seconds per service for docker-compose up and its container to be healthy.",
)
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
    from generator.verify import verify_tree  # the validators are heavy to import

    ctx.meta["format"] = output_format
    problems: list[Problem] = []
    checked = 0
    for path in paths:
        result = verify_tree(path)
        problems.extend(result.problems)
        checked += len(result.checked)
    _report(ctx, problems, f"verify ({checked} checks)", output_format)


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
    from generator.stack.live import LiveOptions, live_json, live_report, preflight, verify_live

    ctx.meta["format"] = output_format
    if workspace and out:
        raise click.UsageError("give either --workspace or --out, not both")
    catalog = open_catalog(catalog_path or default_catalog()).catalog
    options = LiveOptions(workspace=workspace, out=out, wait_timeout=wait_timeout)
    preflight(catalog, services, options)  # bad input is exit 2, engine or not
    result = verify_live(
        catalog, services, options, connect(), emit=lambda line: click.echo(line, err=True)
    )
    click.echo(live_json(result) if output_format == "json" else live_report(result), nl=False)
    ctx.exit(OK if result.ok else PROBLEMS)


@cli.command("generate")
@catalog_option
@click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Workspace root: each service renders into its repository (`repo:`) under it.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Preview: render into OUT/<repo> instead of a workspace.",
)
@click.argument("services", nargs=-1)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Services rendered in parallel (default: the number of cores).",
)
@click.option("--dry-run", is_flag=True, help="Write nothing; list what would change.")
@click.option("--diff", is_flag=True, help="With --dry-run (or alone): print unified diffs.")
@click.option(
    "--backup",
    is_flag=True,
    help="Overwrite files fleetform did not write, keeping each as <file>.pre-fleetform.",
)
@click.pass_context
def generate_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path | None,
    out: Path | None,
    services: tuple[str, ...],
    jobs: int | None,
    dry_run: bool,
    diff: bool,
    backup: bool,
) -> None:
    """Render every generated service (or SERVICES) into its repository."""
    if workspace and out:
        raise click.UsageError("give either --workspace or --out, not both")
    root = workspace or out
    if root is None:
        raise click.UsageError("give --workspace WORKSPACE or --out OUT")
    from generator.fleet.generate import GenerateOptions, generate, select_services
    from generator.fleet.render import catalog_template
    from generator.fleet.report import ProgressLine, generate_summary

    opened = open_catalog(catalog_path or default_catalog())
    options = GenerateOptions(
        root=root,
        template=catalog_template(opened.catalog),
        jobs=jobs or os.cpu_count() or 1,
        dry_run=dry_run,
        diff=diff,
        backup=backup,
    )
    progress = ProgressLine(total=len(select_services(opened.catalog, services)))
    report = generate(opened.catalog, services, options, progress=progress.step)
    progress.close()
    click.echo(generate_summary(report), nl=False)
    ctx.exit(OK if report.ok else PROBLEMS)


# ---- orchestrate, graph: the platform-wide compose file and the dependency graph
@cli.command("orchestrate")
@catalog_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the compose file here (atomically) instead of printing it.",
)
def orchestrate_command(catalog_path: Path | None, output: Path | None) -> None:
    """Print (or write) docker-compose.orchestrate.yml: the whole catalog, core always on,
    every other service under the compose profiles of the catalog profiles that need it."""
    from generator.stack.orchestrate import orchestrate_yaml, write_atomically

    text = orchestrate_yaml(open_catalog(catalog_path or default_catalog()).catalog)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomically(output, text)


@cli.command("graph")
@catalog_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (for Markdown) or Graphviz DOT.",
)
def graph_command(catalog_path: Path | None, output_format: str) -> None:
    """Print the dependency graph: clusters as subgraphs, dependant -> dependency."""
    from generator.catalog.diagram import render_graph

    opened = open_catalog(catalog_path or default_catalog())
    click.echo(render_graph(opened.catalog, output_format), nl=False)


# ---- new: add a service to the catalog (every other byte kept), then render its repository
@cli.command("new")
@click.argument("service")
@click.option("--group", required=True, help="Its group (the port range it takes a port from).")
@click.option(
    "--runtime",
    required=True,
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
@click.option("--resources", metavar="TIER", default=None, help="small, medium, large, xlarge.")
@click.option("--gpu", type=int, default=None, help="GPUs per replica (default: 1 for model).")
@click.option("--image", default=None, help="What an image service runs, e.g. nginx:1.27.")
@click.option("--repo", default=None, help="Its repository in the workspace (default: SERVICE).")
@click.option(
    "-c",
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("catalog.yaml"),
    show_default=True,
    help="The catalog to edit (never the bundled one).",
)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    help="Render into its repository (`repo:`) under this workspace root.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Preview: render into OUT/<repo> instead.",
)
@click.option("--no-render", is_flag=True, help="Only add the service to the catalog.")
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
) -> None:
    """Add SERVICE to the catalog, then render its repository into WORKSPACE (or OUT).

    Comments, order, quoting and indentation of the catalog are kept; the edited catalog is
    validated before it replaces the file, so bad input writes nothing (exit 2).
    """
    from generator.catalog.model import Runtime
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
    result = new_service(catalog_path, request, roots[0] if roots else None)
    added = result.added
    click.echo(as_text(added.warnings), err=True, nl=False)
    how = "the lowest free port of" if added.allocated else "as asked, in"
    click.echo(f"added {service!r} at {added.location}: port {added.port} ({how} group {group!r})")
    if result.report is not None:
        from generator.fleet.report import generate_summary

        click.echo(generate_summary(result.report), nl=False)
    elif roots:
        click.echo(f"{service}: not rendered ({runtime} services are catalogued only)")
    if not result.ok:
        flag = "-w" if workspace else "-o"
        click.echo(
            f"fleetform: the catalog keeps {service!r}; once the render is fixed run:"
            f" fleetform generate -c {catalog_path} {flag} {roots[0]} {service}",
            err=True,
        )
    ctx.exit(OK if result.ok else PROBLEMS)


# ---- up, down, status: run a profile on a Docker engine, and its health matrix
project_option = click.option(
    "--project",
    default=None,
    help="Compose project name (default: the catalog's name).",
)


@cli.command("up")
@catalog_option
@click.argument("profile")
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="Seconds to wait, in all, for the profile's services to be healthy.",
)
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
    from generator.stack.up import UpOptions, stack_services, up, up_report

    catalog = open_catalog(catalog_path or default_catalog()).catalog
    stack_services(catalog, profile)  # an unknown profile is bad usage, engine or not
    options = UpOptions(profile=profile, project=project or catalog.name, wait_timeout=wait_timeout)
    result = up(catalog, options, connect(), emit=lambda event: click.echo(str(event), err=True))
    click.echo(up_report(result), err=True, nl=False)
    ctx.exit(OK if result.ok else PROBLEMS)


@cli.command("down")
@catalog_option
@click.argument("profile")
@project_option
@click.pass_context
def down_command(
    ctx: click.Context, catalog_path: Path | None, profile: str, project: str | None
) -> None:
    """Remove the project's containers (with their anonymous volumes) and networks.

    Named volumes (the services' data) are kept. Every container of the project goes, also
    those of other profiles: they share its network. Exit 1 if anything is left.
    """
    from generator.stack.engine import connect
    from generator.stack.up import down, down_report, stack_services

    catalog = open_catalog(catalog_path or default_catalog()).catalog
    stack_services(catalog, profile)
    result = down(catalog, profile, project or catalog.name, connect())
    click.echo(down_report(result), nl=False)
    ctx.exit(OK if result.ok else PROBLEMS)


@cli.command("status")
@catalog_option
@project_option
@click.option(
    "--profile",
    default=None,
    help="Cover PROFILE's services (default: the core cluster, what runs, and their needs).",
)
@click.option("--watch", is_flag=True, help="Refresh every 2 s until Ctrl-C.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output for people or for machines.",
)
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
    import time

    from generator.catalog.profiles import profile_services
    from generator.stack.engine import LoopRule, connect
    from generator.stack.status import health_matrix, matrix_json, matrix_table

    catalog = open_catalog(catalog_path or default_catalog()).catalog
    if profile is not None:
        profile_services(catalog, profile)
    client = connect()
    rule = LoopRule(restarts=loop_restarts, minutes=loop_minutes)
    render = matrix_json if output_format == "json" else matrix_table
    code = OK
    try:
        while True:
            matrix = health_matrix(
                catalog, project or catalog.name, client, profile=profile, rule=rule
            )
            code = OK if matrix.ok else PROBLEMS
            if watch and output_format == "table":
                click.clear()
                stamp = matrix.checked_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                click.echo(f"every 2s, Ctrl-C to stop; {stamp}")
            click.echo(render(matrix), nl=False)
            if not watch:
                break
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    ctx.exit(code)


# ---- update, drift: copier update across the workspace, and what no longer matches
workspace_option = click.option(
    "-w",
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Workspace root: each service's repository is WORKSPACE/<repo>.",
)
jobs_option = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Repositories worked on in parallel (default: the number of cores).",
)


@cli.command("update")
@catalog_option
@workspace_option
@click.argument("services", nargs=-1)
@click.option("--vcs-ref", default=None, help="Template ref to update to (default: the catalog's).")
@jobs_option
@click.option(
    "--dry-run", is_flag=True, help="Write nothing; list the repositories that would update."
)
@click.pass_context
def update_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    vcs_ref: str | None,
    jobs: int | None,
    dry_run: bool,
) -> None:
    """`copier update` every generated repository (or SERVICES) to the template ref with the
    catalog's answers; conflicts are left inline for the owners, nothing is committed."""
    from generator.fleet.generate import select_services
    from generator.fleet.render import TemplateSource, catalog_template
    from generator.fleet.report import ProgressLine, update_summary
    from generator.fleet.update import UpdateOptions, update

    opened = open_catalog(catalog_path or default_catalog())
    template = catalog_template(opened.catalog)
    options = UpdateOptions(
        root=workspace,
        template=TemplateSource(template.src, vcs_ref or template.ref),
        jobs=jobs or os.cpu_count() or 1,
        dry_run=dry_run,
    )
    progress = ProgressLine(total=len(select_services(opened.catalog, services)))
    report = update(opened.catalog, services, options, progress=progress.step)
    progress.close()
    click.echo(update_summary(report), nl=False)
    ctx.exit(OK if report.ok else PROBLEMS)


@cli.command("drift")
@catalog_option
@workspace_option
@click.argument("services", nargs=-1)
@jobs_option
@click.pass_context
def drift_command(
    ctx: click.Context,
    catalog_path: Path | None,
    workspace: Path,
    services: tuple[str, ...],
    jobs: int | None,
) -> None:
    """Which repositories differ from what their recorded template version renders with the
    catalog's answers (and which are behind the newest template tag); writes nothing."""
    from generator.fleet.drift import DriftOptions, drift
    from generator.fleet.generate import select_services
    from generator.fleet.report import ProgressLine, drift_summary

    opened = open_catalog(catalog_path or default_catalog())
    options = DriftOptions(root=workspace, jobs=jobs or os.cpu_count() or 1)
    progress = ProgressLine(total=len(select_services(opened.catalog, services)))
    report = drift(opened.catalog, services, options, progress=progress.step)
    progress.close()
    click.echo(drift_summary(report), nl=False)
    ctx.exit(OK if report.ok else PROBLEMS)


def main() -> None:
    cli(prog_name="fleetform")
