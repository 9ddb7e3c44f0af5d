"""The package's map holds: imports flow one way, every subpackage opens with its table.

Layers, lowest first: the leaves (errors, problems, yamlfile, parallel, git, files, resources) <-
catalog <- fleet <- stack <- cli; verify uses only the leaves. A module may import its own
layer and the layers below it, never above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "generator"
LEAVES = {
    "errors",
    "problems",
    "yamlfile",
    "parallel",
    "git",
    "files",
    "conflicts",
    "resources",
    "__init__",
}
LAYERS = {"leaves": 0, "catalog": 1, "fleet": 2, "stack": 3, "cli": 4, "__main__": 4}
SUBPACKAGES = (
    "catalog",
    "fleet",
    "fleet/campaign",
    "stack",
    "stack/standin",
    "verify",
    "cli",
    "resources",
)


def layer_of(module: str) -> str:
    """`generator.fleet.update` -> `fleet`; a leaf module -> `leaves`; verify is its own."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top in LEAVES:
        return "leaves"
    return top


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every `generator...` module a file imports, with the line (lazy imports included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names if n.startswith("generator")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("generator")]
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def allowed(importer: str, imported: str) -> bool:
    here, there = layer_of(importer), layer_of(imported)
    if here == "verify":
        return there in ("leaves", "verify")  # verify stands beside the pipeline
    if there == "verify":
        return here in ("verify", "cli")
    return LAYERS[there] <= LAYERS[here]


def violations(root: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        importer = module_name(path)
        for line, imported in imports_of(path):
            if imported in {"generator", "generator.__version__"}:
                continue
            # `from generator.fleet import repository`: the module, not the package, counts.
            if not allowed(importer, imported):
                found.append(f"{path.relative_to(ROOT)}:{line}: {importer} imports {imported}")
    return sorted(set(found))


def test_imports_flow_one_way() -> None:
    assert violations() == []


def test_the_rule_catches_an_upward_import() -> None:
    """The checker itself: a catalog module importing fleet is refused."""
    assert allowed("generator.catalog.bad", "generator.fleet.generate") is False
    assert allowed("generator.verify.helm", "generator.catalog.model") is False
    assert allowed("generator.cli.fleet", "generator.fleet.generate") is True
    assert allowed("generator.fleet.update", "generator.errors") is True


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_every_subpackage_opens_with_a_table_of_its_modules(subpackage: str) -> None:
    init = PACKAGE / subpackage / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    modules = sorted(p.stem for p in (PACKAGE / subpackage).glob("*.py") if p.stem != "__init__")
    missing = [m for m in modules if f"`{m}`" not in doc]
    assert "| --- |" in doc, f"{init} has no table of its modules"
    assert missing == [], f"{init}'s table does not name {missing}"


def test_no_module_is_oversized() -> None:
    """~400 lines a module: beyond that a module is doing two jobs."""
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > 420} == {}
