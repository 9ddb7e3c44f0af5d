"""Options and output shared by the command families."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from generator.errors import ExitCode
from generator.problems import Problem, as_json, as_text, summary
from generator.resources import BUNDLED_CATALOG


def default_catalog() -> Path:
    local = Path("catalog.yaml")
    return local if local.exists() else BUNDLED_CATALOG


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

project_option = click.option(
    "--project",
    default=None,
    help="Compose project name (default: the catalog's name).",
)

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


def report_problems(
    ctx: click.Context, problems: Sequence[Problem], subject: str, output_format: str
) -> None:
    if output_format == "json":
        click.echo(as_json(problems), nl=False)
    else:
        click.echo(as_text(problems), nl=False)
        click.echo(summary(problems, subject), err=True)
    failed = any(p.severity.value == "error" for p in problems)
    ctx.exit(ExitCode.PROBLEMS if failed else ExitCode.OK)
