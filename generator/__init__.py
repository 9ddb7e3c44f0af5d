"""fleetform: keep a fleet of service repositories generated from one catalog.

| module / package | what it owns |
| --- | --- |
| `errors` | every error class and the exit code it means (`ExitCode`) |
| `problems` | located problems and their text and JSON forms |
| `yamlfile` | reading YAML with positions, bad input refused |
| `parallel` | worker pools, one job per service |
| `git` | the one way git is run |
| `files` | writing a file in one step: readers see the old one or the new one |
| `conflicts` | merge conflict markers left in a file |
| `resources` | where the bundled catalog, schemas and template are |
| `catalog/` | catalog.yaml -> `Catalog`, and what follows from it alone (rules, ports, graph) |
| `fleet/` | catalog -> answers -> Copier -> the repositories (generate, new, update, drift) |
| `stack/` | a profile on a Docker engine (orchestrate, up, down, status, verify --live) |
| `verify/` | each generated format checked by its own validator |
| `cli/` | the `fleetform` command: parse, call the library, print |

Imports flow one way: the leaves <- catalog <- fleet <- stack <- cli; verify uses only the leaves.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    # One source for the version: pyproject.toml, as installed.
    __version__ = version("fleetform")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
