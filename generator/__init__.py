"""fleetform: keep a fleet of service repositories generated from one catalog.

| module / package | what it owns |
| --- | --- |
| `errors`, `problems` | every error class and its exit code; located problems and their text/JSON |
| `yamlfile`, `parallel`, `resources` | YAML reading with positions; worker pools; the bundled files |
| `catalog/` | catalog.yaml -> `Catalog`, and what follows from a catalog alone (rules, ports, graph) |
| `fleet/` | catalog -> answers -> Copier -> the service repositories (generate, new, update, drift) |
| `stack/` | a catalog profile on a Docker engine (orchestrate, up, down, status, verify --live) |
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
