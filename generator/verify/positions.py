"""Where a field a validator names is written: in a YAML file, or in the template that renders it.

Validators name fields by path (`services.web.bogus`, `$.build.when`, `spec.replicas`); the
YAML is read with `generator.yamlfile`, whose positions are 1-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from generator.errors import InputError
from generator.yamlfile import YamlDocument, load_file, locate

JsonPath = tuple[str | int, ...]


def has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


@dataclass(frozen=True)
class SourceFile:
    """A YAML file a tool reported on, read (lazily) only to turn paths into positions."""

    path: Path

    @cached_property
    def document(self) -> YamlDocument | None:
        try:
            return load_file(self.path)
        except InputError:
            return None

    @property
    def data(self) -> Any:
        return None if self.document is None else self.document.data

    def locate(self, path: JsonPath, *, key: bool = True) -> tuple[int, int]:
        if self.document is None or not path:
            return 0, 0
        return locate(self.document.tree, path, key=key)

    def find(self, pattern: str) -> tuple[int, int]:
        text = self.path.read_text(encoding="utf-8", errors="replace")
        found = re.search(pattern, text)
        if found is None:
            return 0, 0
        line = text.count("\n", 0, found.start()) + 1
        return line, found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1


def template_position(
    source: str, rendered: YamlDocument | None, path: JsonPath
) -> tuple[int, int]:
    """Best effort: the template line that writes the rendered key, if exactly one line does.

    A template is not YAML, so the rendered key (its name and column) is looked for in the
    source; keys written by `include`/`toYaml` or written twice stay at line 0.
    """
    found = _deepest_key(rendered, path) if rendered is not None else None
    if found is None:
        return 0, 0
    key, col = found
    lines = source.splitlines()
    hits = [n for n, text in enumerate(lines, 1) if _writes_key(text, key, col)]
    return (hits[0], col + 1) if len(hits) == 1 else (0, 0)


def _deepest_key(rendered: YamlDocument, path: JsonPath) -> tuple[str, int] | None:
    """The last key along `path` in the rendered text, and its 0-based column.

    A list item has no key of its own: its first key stands for it.
    """
    node: Any = rendered.data
    found: tuple[str, int] | None = None
    for depth, step in enumerate(path, 1):
        if not has(node, step):
            break
        at, item = path[:depth], node[step]
        if isinstance(node, dict):
            found = (str(step), rendered.tree.keys[at][1] - 1)
        elif isinstance(item, dict) and item:
            first = next(iter(item))
            found = (str(first), rendered.tree.keys[(*at, first)][1] - 1)
        node = item
    return found


def _writes_key(line: str, key: str, col: int) -> bool:
    return line.startswith(f"{key}:", col) and not line[:col].strip(" -")
