"""The `fleetform` command: parse arguments, call the library, print, choose the exit code.

Exit codes, decided here and nowhere else: 0 ok; 1 a check found problems; 2 bad usage or
invalid input. Anything unexpected keeps its traceback: it is a bug to report, not an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from generator import __version__
from generator.errors import FleetformError, InputError, Problem
from generator.ports import allocate, check_ports, port_table
from generator.report import as_json, as_text, summary
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


def main() -> None:
    cli(prog_name="fleetform")
