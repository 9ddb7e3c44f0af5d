"""Commands on the catalog alone: validate, ports, answers, graph."""

from __future__ import annotations

from pathlib import Path

import click

from generator.catalog.ports import allocate, port_table
from generator.catalog.validation import open_catalog, validate
from generator.cli.group import FleetformGroup, cli
from generator.cli.options import catalog_option, default_catalog, format_option, report_problems


@cli.command("validate")
@catalog_option
@format_option
@click.pass_context
def validate_command(ctx: click.Context, catalog_path: Path | None, output_format: str) -> None:
    """Check the catalog: schema, names, references, cycles and ports."""
    ctx.meta["format"] = output_format
    path = catalog_path or default_catalog()
    result = validate(path)
    report_problems(ctx, result.problems, str(path), output_format)


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
    result = validate(catalog_path or default_catalog(), compose_files)
    report_problems(ctx, result.problems, "ports", output_format)


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
