"""Files fleetform ships with and the one place that knows where they are.

| name | what it is |
| --- | --- |
| `BUNDLED_CATALOG` | the demo catalog of the seed organisation (`catalog.yaml` at the top level) |
| `SCHEMA_DIR` | the JSON Schemas: `catalog.schema.json`, `service.schema.json` |
| `TEMPLATE_ROOT` | the Copier template: the folder holding `copier.yml` and `template/` |
| `TEMPLATE_INCLUDES` | the Jinja includes the template shares with `orchestrate` |
| `running_from_checkout()` | whether fleetform runs from its source tree, not an installed copy |

`catalog.yaml`, `schemas`, `copier.yml` and `template` here are symlinks to the top-level files
(the layout is fixed); building a wheel copies their content, so an installed fleetform carries
all four in this folder.

From a checkout (editable installs included) `TEMPLATE_ROOT` is the checkout itself, a git
repository Copier renders by commit. Installed, it is the copy in this folder: a plain
directory, not a git repository, so Copier renders it as it is and records no `_commit`.
That is enough for previews, `answers`, `validate` and `verify`; a workspace write needs a
template every teammate can reach (the catalog's `template.src`).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SOURCE_TREE = _HERE.parent.parent  # above the package: the checkout, or site-packages


def running_from_checkout() -> bool:
    """Whether fleetform runs from its source tree rather than from an installed copy.

    In the source tree the bundled `copier.yml` is a link to the top-level one; an installed
    package holds a copy of it, and the folder above the package is site-packages.
    """
    top = _SOURCE_TREE / "copier.yml"
    return top.is_file() and (_HERE / "copier.yml").resolve() == top.resolve()


BUNDLED_CATALOG = _HERE / "catalog.yaml"
SCHEMA_DIR = _HERE / "schemas"
TEMPLATE_ROOT = _SOURCE_TREE if running_from_checkout() else _HERE
TEMPLATE_INCLUDES = "template/includes"
