"""Commands on the catalog alone: validate, ports, answers, graph."""

from __future__ import annotations

from pathlib import Path

import click

from generator.catalog.ports import allocate, port_table
from generator.cli.group import FleetformGroup, cli
from generator.cli.options import (
    catalog_option,
    check_catalog_option,
    checked_against,
    format_option,
    format_option_of,
    opened_catalog,
    report_problems,
)
from generator.fleet.ports_snapshot import problems_of


@cli.command("validate")
@check_catalog_option
@format_option
@click.pass_context
def validate_command(ctx: click.Context, catalog_path: Path | None, output_format: str) -> None:
    """Check the catalog: schema, names, references, cycles and ports.

    In a generated repository without a catalog: its port snapshot, against itself.
    """
    ctx.meta["format"] = output_format
    against = checked_against(catalog_path)
    problems = problems_of(against.path, snapshot=against.snapshot)
    report_problems(ctx, problems, str(against.path), output_format)


@cli.group("ports", cls=FleetformGroup)
def ports_group() -> None:
    """The port registry: check, allocate, table."""


@ports_group.command("check")
@check_catalog_option
@format_option
@click.argument("compose_files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def ports_check_command(
    ctx: click.Context,
    catalog_path: Path | None,
    output_format: str,
    compose_files: tuple[Path, ...],
) -> None:
    """Port conflicts and ranges across the catalog and COMPOSE_FILES.

    In a generated repository without a catalog, COMPOSE_FILES against the fleet's ports as
    its snapshot (infrastructure/fleet-ports.json) records them.
    """
    ctx.meta["format"] = output_format
    against = checked_against(catalog_path)
    problems = problems_of(against.path, snapshot=against.snapshot, compose_files=compose_files)
    report_problems(ctx, problems, "ports", output_format)


@ports_group.command("allocate")
@click.argument("group")
@catalog_option
def ports_allocate_command(group: str, catalog_path: Path | None) -> None:
    """Print the lowest free port of GROUP's range."""
    click.echo(allocate(opened_catalog(catalog_path), group))


@ports_group.command("table")
@catalog_option
def ports_table_command(catalog_path: Path | None) -> None:
    """Print PORT_ALLOCATION.md for the catalog."""
    click.echo(port_table(opened_catalog(catalog_path)), nl=False)


@cli.command("answers")
@click.argument("service")
@catalog_option
def answers_command(service: str, catalog_path: Path | None) -> None:
    """Print SERVICE's Copier answers (YAML), as fleetform passes them to the template.

    Feed them to plain Copier with `copier copy --data-file FILE`.
    """
    from generator.fleet.answers import answers_yaml, service_answers

    click.echo(answers_yaml(service_answers(opened_catalog(catalog_path), service)), nl=False)


@cli.command("graph")
@catalog_option
@format_option_of(
    "mermaid",
    "dot",
    "json",
    text="Mermaid (for Markdown), Graphviz DOT, or JSON (schemas/graph.schema.json).",
)
def graph_command(catalog_path: Path | None, output_format: str) -> None:
    """Print the dependency graph: clusters as subgraphs, dependant -> dependency.

    JSON gives the same graph as data: clusters, nodes (ports, place in the catalog), edges.
    """
    from generator.catalog.diagram import render_graph

    click.echo(render_graph(opened_catalog(catalog_path), output_format), nl=False)
