"""Files fleetform ships with and the one place that knows where they are.

| name | what it is |
| --- | --- |
| `BUNDLED_CATALOG` | the demo catalog of the seed organisation (`catalog.yaml` at the top level) |
| `SCHEMA_DIR` | the JSON Schemas: `catalog.schema.json`, `service.schema.json` |
| `TEMPLATE_ROOT` | the Copier template: the folder holding `copier.yml` and `template/` |
| `TEMPLATE_INCLUDES` | the Jinja includes the template shares with `orchestrate` |

`catalog.yaml` and `schemas` here are symlinks to the top-level files (the layout is fixed);
building a wheel copies their content.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

BUNDLED_CATALOG = _HERE / "catalog.yaml"
SCHEMA_DIR = _HERE / "schemas"
TEMPLATE_ROOT = _HERE.parent.parent
TEMPLATE_INCLUDES = "template/includes"
