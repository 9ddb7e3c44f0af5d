"""The `fleetform` click group: the one place where exceptions become exit codes.

Exit codes: 0 ok; 1 a check found problems; 2 bad usage or invalid input (`ExitCode`). An
error fleetform raises on purpose carries its code (`FleetformError.exit_code`); anything
unexpected keeps its traceback: it is a bug to report, not an answer.
"""

from __future__ import annotations

import signal
from typing import Any

import click

from generator import __version__
from generator.errors import INTERRUPTED_BASE, FleetformError, InputError
from generator.problems import as_json, as_text


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
        except KeyboardInterrupt:
            # Outside the worker pool (which reports what it finished): nothing half-written
            # remains (every write is atomic or journaled); say so instead of "Aborted!".
            click.echo("fleetform: interrupted; nothing was left half-written", err=True)
            ctx.exit(INTERRUPTED_BASE + signal.SIGINT)


@click.group(cls=FleetformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetform")
def cli() -> None:
    """Keep a fleet of service repositories generated from one catalog."""
