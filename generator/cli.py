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
from generator.answers import answers_yaml, service_answers
from generator.errors import FleetformError, InputError, Problem
from generator.fleet import GenerateOptions, generate, select_services
from generator.ports import allocate, check_ports, port_table
from generator.render import catalog_template
from generator.report import ProgressLine, as_json, as_text, generate_summary, summary
from generator.validation import open_catalog, validate

BUNDLED_CATALOG = Path(__file__).resolve().parent / "resources" / "catalog.yaml"

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
    opened = open_catalog(catalog_path or default_catalog())
    click.echo(answers_yaml(service_answers(opened.catalog, service)), nl=False)


@cli.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=False))
@format_option
@click.pass_context
def verify_command(ctx: click.Context, paths: tuple[Path, ...], output_format: str) -> None:
    """Run each format's own validator on rendered trees (Helm, Kubernetes schemas,
    Compose, hadolint, shellcheck, the GitLab CI schema)."""
    from generator.verify import verify_tree  # the validators are heavy to import

    ctx.meta["format"] = output_format
    problems: list[Problem] = []
    checked = 0
    for path in paths:
        result = verify_tree(path)
        problems.extend(result.problems)
        checked += len(result.checked)
    _report(ctx, problems, f"verify ({checked} checks)", output_format)


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
    from generator.orchestrate import orchestrate_yaml, write_atomically

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
    from generator.graph_render import render_graph

    opened = open_catalog(catalog_path or default_catalog())
    click.echo(render_graph(opened.catalog, output_format), nl=False)


def main() -> None:
    cli(prog_name="fleetform")
