"""The values sets a chart is checked with: the layering of values files each deploy uses."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from generator.problems import Location, Problem
from generator.verify.tools import one_line

_BASE, _OVERRIDES = "base", "overrides"
_GO_YAML_LINE = re.compile(r"\byaml: line (\d+): ")

ValuesSet = tuple[str, dict[str, Any]]


def value_sets(chart_dir: Path) -> tuple[list[ValuesSet], list[Problem]]:
    """The values each deploy uses: base alone, then `-f base -f ENV [-f overrides]` per ENV.

    `values/overrides.yaml` is the service owners' file (copier never overwrites it); the
    deploy script layers it last onto every environment, and so does verify.
    """
    files = sorted(chart_dir.glob("values/*.y*ml"))
    loaded = {f.stem: _values_file(f) for f in files}
    problems = [p for _, found in loaded.values() for p in found]
    tail = (_OVERRIDES,) if _OVERRIDES in loaded else ()
    layers = [(_BASE,)] + [(_BASE, env, *tail) for env in loaded if env not in (_BASE, _OVERRIDES)]
    sets = [found for names in layers if (found := _layered(loaded, names)) is not None]
    return sets, problems


def _layered(
    loaded: Mapping[str, tuple[dict[str, Any] | None, list[Problem]]], names: Sequence[str]
) -> ValuesSet | None:
    """("base+staging", merged values), or None if one of the files could not be read."""
    present = [name for name in names if name in loaded]
    merged: dict[str, Any] = {}
    for name in present:
        values = loaded[name][0]
        if values is None:
            return None
        merged = merge_values(merged, values)
    return "+".join(present) or "chart defaults", merged


def _values_file(file: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parsed the way helm parses `-f` files (YAML 1.1 booleans, timestamps as strings)."""
    import helm_python as helm

    try:
        return helm.values_from_yaml(file.read_text(encoding="utf-8")), []
    except helm.HelmValuesError as exc:
        line = _GO_YAML_LINE.search(str(exc))
        where = Location(str(file), int(line[1]) if line else 0)
        return None, [Problem(where, f"helm: {one_line(str(exc))}")]


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of two values files: maps merge key by key, anything else the later wins."""
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = merge_values(below, value)
        else:
            merged[key] = value
    return merged


def merge_value_sets(by_set: Mapping[str, list[Problem]]) -> list[Problem]:
    """One problem per finding; those that only some values sets show name them."""
    seen: dict[Problem, list[str]] = {}
    for name, problems in by_set.items():
        for problem in problems:
            seen.setdefault(problem, []).append(name)
    return [p if len(names) == len(by_set) else _with_values(p, names) for p, names in seen.items()]


def _with_values(problem: Problem, names: list[str]) -> Problem:
    message = f"{problem.message} (values: {', '.join(names)})"
    return Problem(problem.location, message, problem.severity)
