"""The one place fleetform reads YAML: libyaml's composer for speed, positions kept, bad
input refused.

Why not ruamel's round-trip loader for reading: it is pure Python and takes ~2 s on a
1,000-service catalog; libyaml composes the same file in under 0.1 s and its nodes carry
the same line:col marks. ruamel stays the tool for *editing* YAML while keeping comments.

Quirks handled here so no caller has to:
- Scalars resolve by the YAML 1.2 core schema, as ruamel, Compose (go-yaml v3) and editors
  do: `yes`/`on` stay strings and an unquoted `8080:80` is a string, not a base-60 number.
- Duplicate keys are an error, every one of them, at the repeated key.
- Aliases are shared by the composer, but walking them would expand them: the walk has a
  node budget, so an alias bomb ("billion laughs") is refused, not followed.
- Merge keys (`<<: *anchor`) merge like YAML 1.1 loaders do; explicit keys win.
- Explicit tags other than the core ones are refused: a catalog has no use for them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.errors import InputError
from generator.problems import Location, Problem

MAX_BYTES = 4 * 1024 * 1024
# Nodes a walk may visit: generous for any real file (a node takes several bytes), small
# enough that an alias bomb is refused in well under a second.
NODES_BASE = 100_000

PathItem = str | int
Position = tuple[int, int]


@dataclass(frozen=True)
class Positions:
    """1-based positions of every node by its path: where its key is and where its value is."""

    keys: dict[tuple[Any, ...], Position]
    values: dict[tuple[Any, ...], Position]


@dataclass(frozen=True)
class YamlDocument:
    """A loaded YAML file: its plain data and where each part of it was written."""

    path: Path
    tree: Positions
    data: Any


def load_file(path: Path) -> YamlDocument:
    """Read, decode and parse one YAML file; every failure is an `InputError` with a position."""
    raw = _read_bytes(path)
    text = _decode(path, raw)
    data, positions = _walk(path, _parse(path, text), len(text))
    return YamlDocument(path=path, tree=positions, data=data)


def load_text(path: Path, text: str, *, strict: bool = True) -> YamlDocument:
    """Parse YAML that is not a file (rendered Helm output) the way `load_file` parses a file.

    `path` only names the text in problems; the checks on raw bytes (size, NUL, UTF-8) do not
    apply. Text libyaml cannot parse is an `InputError` either way; `strict=False` passes over
    what only fleetform refuses (tabs in leading white space, keys that are not plain names,
    repeated keys: the first one stays, tags beyond the core schema), for a caller that reads
    YAML it did not write.
    """
    if strict:
        _refuse_tabs(path, text)
    data, positions = _walk(path, _parse(path, text), len(text), strict=strict)
    return YamlDocument(path=path, tree=positions, data=data)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise InputError.at(path=path, message="is a directory, not a YAML file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError.at(
                path=path,
                line=1,
                col=1,
                message=f"file is {size:,} bytes; the limit is {MAX_BYTES // 2**20} MiB",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError.at(path=path, message="no such file") from None
    except PermissionError:
        raise InputError.at(path=path, message="permission denied") from None
    except OSError as exc:
        raise InputError.at(path=path, message=f"cannot read: {exc.strerror}") from None


def _position_of_byte(raw: bytes, offset: int) -> tuple[int, int]:
    line = raw.count(b"\n", 0, offset) + 1
    col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


def _decode(path: Path, raw: bytes) -> str:
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, col = _position_of_byte(raw, nul)
        raise InputError.at(
            path=path, line=line, col=col, message="binary file (NUL byte), not YAML text"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _position_of_byte(raw, exc.start)
        byte = raw[exc.start]
        raise InputError.at(
            path=path, line=line, col=col, message=f"not valid UTF-8 (byte 0x{byte:02x})"
        ) from None
    if not text.strip():
        raise InputError.at(path=path, line=1, col=1, message="empty file: expected a YAML mapping")
    _refuse_tabs(path, text)
    return text


def _refuse_tabs(path: Path, text: str) -> None:
    """YAML forbids tabs in indentation; the parser's own message for it is cryptic."""
    for number, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        tab = line.find("\t", 0, indent)
        if tab >= 0:
            raise InputError.at(
                path=path,
                line=number,
                col=tab + 1,
                message="tab character in indentation; YAML indentation must use spaces",
            )


class _CoreLoader(yaml.CSafeLoader):
    """libyaml's parser with the YAML 1.2 core schema's implicit types."""


_CoreLoader.yaml_implicit_resolvers = {}
_CORE_TYPES = [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
]
for _tag, _pattern, _first in _CORE_TYPES:
    _CoreLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _parse(path: Path, text: str) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=_CoreLoader)
    except yaml.MarkedYAMLError as exc:
        raise _marked_error(path, exc) from None
    except yaml.YAMLError as exc:
        raise InputError.at(path=path, message=f"invalid YAML: {exc}") from None
    if node is None:
        raise InputError.at(
            path=path, line=1, col=1, message="no YAML content (only comments): expected a mapping"
        )
    return node


def _marked_error(path: Path, exc: yaml.MarkedYAMLError) -> InputError:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    context = (exc.context or "").strip()
    opened = exc.context_mark
    if exc.problem and context.startswith("while ") and opened and mark:
        where = (opened.line + 1, opened.column + 1)
        if where != (mark.line + 1, mark.column + 1):
            problem = f"{problem} ({context} started at {where[0]}:{where[1]})"
    if mark is None:
        return InputError.at(path=path, message=f"invalid YAML: {problem}")
    return InputError.at(
        path=path, line=mark.line + 1, col=mark.column + 1, message=f"invalid YAML: {problem}"
    )


def _at(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    """Turns composed nodes into plain data and a position index, within a node budget."""

    def __init__(self, path: Path, budget: int) -> None:
        self.path = path
        self.budget = budget
        self.left = budget
        self.keys: dict[tuple[Any, ...], Position] = {}
        self.values: dict[tuple[Any, ...], Position] = {}
        self.problems: list[Problem] = []

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise InputError.at(
                path=self.path,
                line=1,
                col=1,
                message=f"document expands to more than {self.budget} nodes (a YAML alias bomb?)",
            )

    def problem(self, node: yaml.Node, message: str) -> None:
        line, col = _at(node)
        self.problems.append(Problem(Location(str(self.path), line, col), message))

    def walk(self, node: yaml.Node, at: tuple[Any, ...]) -> Any:
        self.spend()
        self.values.setdefault(at, _at(node))
        if isinstance(node, yaml.MappingNode):
            self.refuse_tag(node, "tag:yaml.org,2002:map")
            return self.mapping(node, at)
        if isinstance(node, yaml.SequenceNode):
            self.refuse_tag(node, "tag:yaml.org,2002:seq")
            return [self.walk(item, (*at, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def refuse_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            self.problem(node, f"unsupported YAML tag {node.tag!r}")

    def mapping(self, node: yaml.MappingNode, at: tuple[Any, ...]) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.extend(self.merge_sources(value_node))
                continue
            key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or isinstance(key, float):
                self.problem(key_node, "a mapping key must be a plain name")
                continue
            if key in result:
                self.problem(key_node, f"duplicate key {key!r}")
                continue
            self.keys[(*at, key)] = _at(key_node)
            result[key] = self.walk(value_node, (*at, key))
        for source in merged:
            for key, value in self.mapping(source, at).items():
                result.setdefault(key, value)
        return result

    def merge_sources(self, node: yaml.Node) -> list[yaml.MappingNode]:
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        sources = [n for n in items if isinstance(n, yaml.MappingNode)]
        if len(sources) != len(items):
            self.problem(node, "a merge key ('<<') takes a mapping or a list of mappings")
        return sources

    def scalar(self, node: yaml.Node) -> Any:
        value: str = node.value
        tag = node.tag
        if tag == "tag:yaml.org,2002:str":
            return value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return value.lower() == "true"
        if tag == "tag:yaml.org,2002:int":
            return int(value, 0) if value[:2] in ("0o", "0x") else int(value, 10)
        if tag == "tag:yaml.org,2002:float":
            return float(value.lower().replace(".inf", "inf").replace(".nan", "nan"))
        self.problem(node, f"unsupported YAML tag {tag!r}")
        return value


def _walk(path: Path, node: yaml.Node, size: int, *, strict: bool = True) -> tuple[Any, Positions]:
    walker = _Walker(path, NODES_BASE + size // 2)
    data = walker.walk(node, ())
    if walker.problems and strict:
        raise InputError(problems=walker.problems)
    return data, Positions(keys=walker.keys, values=walker.values)


def locate(tree: Positions, path: Sequence[PathItem], *, key: bool = False) -> tuple[int, int]:
    """1-based (line, col) of the node at `path`; with `key`, of the mapping key naming it.

    Falls back to the deepest ancestor whose position is known, so a problem always has one.
    """
    steps = tuple(path)
    if key and steps in tree.keys:
        return tree.keys[steps]
    while steps:
        if steps in tree.values:
            return tree.values[steps]
        steps = steps[:-1]
    return tree.values.get((), (1, 1))
