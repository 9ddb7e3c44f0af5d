"""Options and output shared by the command families."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

import click

from generator.catalog.validation import open_catalog
from generator.errors import INTERRUPTED_BASE, ExitCode, UsageError
from generator.fleet.ports_snapshot import SNAPSHOT
from generator.problems import Problem, Severity, as_json, as_text, summary
from generator.resources import BUNDLED_CATALOG, TEMPLATE_ROOT, running_from_checkout

if TYPE_CHECKING:
    from generator.catalog.model import Catalog
    from generator.fleet.campaign.shard import Shard

F = TypeVar("F", bound=Callable[..., Any])
ResultT = TypeVar("ResultT")


def default_catalog() -> Path:
    local = Path("catalog.yaml")
    return local if local.exists() else BUNDLED_CATALOG


@dataclass(frozen=True)
class CheckedAgainst:
    """What `validate` and `ports check` check: a catalog, or a repository's port snapshot."""

    path: Path
    snapshot: bool = False


def checked_against(catalog_path: Path | None) -> CheckedAgainst:
    """`-c`; else `./catalog.yaml`; else the snapshot of the fleet's ports a generated
    repository carries (`./infrastructure/fleet-ports.json`); else, inside fleetform's own
    checkout, its catalog (the bundled demo). Anywhere else a check refuses: the demo catalog
    says nothing about this directory, and checking it would pass whatever is here."""
    if catalog_path is not None:
        return CheckedAgainst(catalog_path)
    if Path("catalog.yaml").exists():
        return CheckedAgainst(Path("catalog.yaml"))
    if Path(SNAPSHOT).exists():
        return CheckedAgainst(Path(SNAPSHOT), snapshot=True)
    if in_fleetform_checkout(Path.cwd()):
        return CheckedAgainst(BUNDLED_CATALOG)
    raise UsageError(
        message=f"no catalog to check against: no ./catalog.yaml and no ./{SNAPSHOT} (which"
        " fleetform writes into every repository it generates); give one with -c CATALOG"
    )


def in_fleetform_checkout(where: Path) -> bool:
    """Whether `where` is fleetform's own source tree (its root or a folder in it), and this
    fleetform runs from it: there the bundled catalog is the checkout's own `catalog.yaml`."""
    if not running_from_checkout():
        return False
    return where.resolve().is_relative_to(TEMPLATE_ROOT.resolve())


def catalog_option_with(
    text: str, *, default: Path | None = None, dir_okay: bool = True
) -> Callable[[F], F]:
    """`-c/--catalog` into `catalog_path`; `text` says where the default comes from."""
    return click.option(
        "-c",
        "--catalog",
        "catalog_path",
        type=click.Path(path_type=Path, dir_okay=dir_okay),
        default=default,
        show_default=None if default is None else True,
        help=text,
    )


catalog_option = catalog_option_with(
    "Catalog file (default: ./catalog.yaml, else the bundled one)."
)
check_catalog_option = catalog_option_with(
    "Catalog file (default: ./catalog.yaml, else the port snapshot"
    f" ./{SNAPSHOT} of a generated repository; the bundled demo catalog only inside"
    " fleetform's own checkout)."
)


def opened_catalog(catalog_path: Path | None) -> Catalog:
    """The catalog `-c` names, else the default one (`default_catalog`)."""
    return open_catalog(catalog_path or default_catalog()).catalog


def format_option_of(
    *choices: str, text: str = "Output for people or for machines."
) -> Callable[[F], F]:
    """`--format` into `output_format`: one of `choices`, the first the default."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=text,
    )


format_option = format_option_of("text", "json")

project_option = click.option(
    "--project",
    default=None,
    help="Compose project name (default: the catalog's name).",
)

services_argument = click.argument("services", nargs=-1)
profile_argument = click.argument("profile")
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="Only the summary: no line per repository as it finishes."
)


def workspace_option(
    text: str = "Workspace root: each service's repository is WORKSPACE/<repo>.",
    *,
    required: bool = True,
) -> Callable[[F], F]:
    return click.option(
        "-w",
        "--workspace",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        required=required,
        help=text,
    )


def out_option(
    text: str = "Preview: render into OUT/<repo> instead of a workspace.",
) -> Callable[[F], F]:
    return click.option(
        "-o", "--out", type=click.Path(path_type=Path, file_okay=False), default=None, help=text
    )


def output_option(text: str) -> Callable[[F], F]:
    """`-o/--output`: the one file a command writes (default: it prints)."""
    return click.option(
        "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help=text
    )


def shard_option(text: str = "Only the I-th of N stable shares.") -> Callable[[F], F]:
    return click.option("--shard", default=None, metavar="I/N", help=text)


def vcs_ref_option(text: str) -> Callable[[F], F]:
    return click.option("--vcs-ref", default=None, help=text)


def dry_run_option(text: str) -> Callable[[F], F]:
    return click.option("--dry-run", is_flag=True, help=text)


def diff_option(text: str) -> Callable[[F], F]:
    return click.option("--diff", is_flag=True, help=text)


def wait_timeout_option(text: str) -> Callable[[F], F]:
    return click.option(
        "--wait-timeout", type=click.FloatRange(min=1), default=300, show_default=True, help=text
    )


def _cores(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int:
    return value or os.cpu_count() or 1


def jobs_option(
    text: str = "Repositories worked on in parallel (default: the number of cores).",
) -> Callable[[F], F]:
    return click.option(
        "--jobs", "-j", type=click.IntRange(min=1), default=None, callback=_cores, help=text
    )


def exit_for(ctx: click.Context, ok: bool, *, interrupted: int | None = None) -> NoReturn:
    """End the command: 0 when everything went well, 1 when a check found problems, and
    128 + N when signal N stopped the run (`exit_for_signal`)."""
    if interrupted is not None:
        ctx.exit(exit_for_signal(interrupted))
    ctx.exit(ExitCode.OK if ok else ExitCode.PROBLEMS)


class RunReport(Protocol):
    """What a command over many repositories returns (`generator.fleet.*` reports)."""

    @property
    def ok(self) -> bool: ...

    @property
    def interrupted(self) -> int | None: ...


ReportT = TypeVar("ReportT", bound=RunReport)


def finish_run(
    ctx: click.Context,
    report: ReportT,
    output_format: str,
    *,
    text: Callable[[ReportT], str],
    json: Callable[[ReportT], str],
) -> NoReturn:
    """Print a fleet command's report (`json` with --format json, else `text`) and end the
    command with its exit code (`exit_for`)."""
    click.echo((json if output_format == "json" else text)(report), nl=False)
    exit_for(ctx, report.ok, interrupted=report.interrupted)


def exit_for_signal(signum: int) -> int:
    """The exit code of a run signal `signum` stopped: 130 for SIGINT, 143 for SIGTERM."""
    return INTERRUPTED_BASE + signum


def report_problems(
    ctx: click.Context, problems: Sequence[Problem], subject: str, output_format: str
) -> None:
    if output_format == "json":
        click.echo(as_json(problems), nl=False)
    else:
        click.echo(as_text(problems), nl=False)
        click.echo(summary(problems, subject), err=True)
    exit_for(ctx, not any(p.severity is Severity.ERROR for p in problems))


def with_progress(
    catalog: Catalog,
    services: Sequence[str],
    run: Callable[..., ResultT],
    *,
    quiet: bool,
    share: Shard | None = None,
) -> ResultT:
    """Run a fleet command with its progress on stderr: `run(progress=step)`, counting the
    repositories it works on (with `share`, the shard's, not the fleet's)."""
    from generator.catalog.selection import select_services
    from generator.fleet.campaign.shard import in_shard
    from generator.fleet.report import ProgressLine

    total = len(in_shard(select_services(catalog, services), share))
    progress = ProgressLine(total=total, quiet=quiet)
    try:
        return run(progress=progress.step)
    finally:
        progress.close()
