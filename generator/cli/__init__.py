"""The `fleetform` command line: parse arguments, call the library, print.

| module | what it holds |
| --- | --- |
| `group` | the click group; the one place where exceptions become exit codes |
| `options` | shared by the command families: options, the catalog, progress, reports, exits |
| `catalog` | validate, ports check/allocate/table, answers, graph |
| `fleet` | generate, new, update, drift |
| `heal` | heal: drifted repositories re-rendered, the owners' edits merged in |
| `clone` | clone: the workspace's repositories from their remotes |
| `stack` | orchestrate, up, down, status |
| `verify` | verify, verify --live |
| `ci` | ci: the catalog repository's .gitlab-ci.yml |
| `campaign` | campaign run, campaign status |

Each command calls one library function and prints its result; none decides an exit code
other than from that result (`ExitCode`).
"""

from __future__ import annotations

# Importing the command modules registers their commands on the group.
from generator.cli import campaign, catalog, ci, clone, fleet, heal, stack, verify  # noqa: F401
from generator.cli.group import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="fleetform")
