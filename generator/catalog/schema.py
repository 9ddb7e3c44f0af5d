"""The catalog's JSON Schema, and its errors told in the user's terms at their place in the file.

`check_schema` collects every problem of a document at once, and where in the data each one
is, so the model can be built from the rest (`generator.catalog.load.read_catalog`);
`describe_schema_error` is shared with the Copier answers check, so both speak alike.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from generator.catalog.fastschema import Check, compile_schema
from generator.catalog.text import (
    CHARACTERS,
    REPO_PATTERN,
    SYNTAX,
    TEXT_PATTERN,
    TEXT_RULE,
    forbidden_character,
    repo_reason,
)
from generator.problems import Location, Problem, show
from generator.resources import SCHEMA_DIR
from generator.yamlfile import YamlDocument, locate

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


# jsonschema is imported inside the functions that use it: a valid catalog is passed by
# `generator.catalog.fastschema` alone, and importing jsonschema costs a tenth of a second
# that a generate with nothing to do would otherwise pay on every run.


@cache
def _read_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return schema


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A bundled schema by file name, checked once to be a valid Draft 2020-12 schema."""
    from jsonschema import Draft202012Validator

    schema = _read_schema(name)
    Draft202012Validator.check_schema(schema)
    return schema


def _inlined(schema: dict[str, Any]) -> Any:
    """The schema with its local `$ref`s inlined.

    Resolving a `$ref` costs a registry lookup every time it is followed, which was a third
    of the validation time of a 1,000-service catalog; the schema has no recursion, so
    inlining once is exact.
    """
    return _inline_refs(schema, schema.get("$defs", {}))


@cache
def schema_validator(name: str) -> Any:
    """A jsonschema validator over the schema (its `$ref`s inlined), with the strict integer."""
    from jsonschema import Draft202012Validator, validators

    strict = validators.extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
    )
    return strict(_inlined(load_schema(name)))


@cache
def quick_check(name: str) -> Check | None:
    """The same schema (inlined, strict integer) as a yes/no predicate that passes exactly
    what `schema_validator` finds no error in; None when it cannot be compiled."""
    return compile_schema(_inlined(_read_schema(name)))


def _is_integer(_checker: object, value: object) -> bool:
    # jsonschema counts 3000.0 as an integer; a port written as a float is a typo to report.
    return isinstance(value, int) and not isinstance(value, bool)


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline_refs(definitions[ref.removeprefix("#/$defs/")], definitions)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    return {key: _inline_refs(value, definitions) for key, value in node.items()}


DataPath = tuple[Any, ...]


@dataclass(frozen=True)
class SchemaReport:
    """Every schema problem of a document, and the data paths of the values it refused.

    A refused path is where the fault is: the value that breaks a rule, the key that is
    unknown or not a name (`("services", "Agent_Chat")`), the key that is missing
    (`("services", "api", "port")`). `()` refuses the whole document (it is no mapping).
    """

    problems: list[Problem]
    refused: frozenset[DataPath]


def check_schema(document: YamlDocument) -> SchemaReport:
    """Every place the document breaks the catalog schema, sorted by position, and the data
    paths of what it refused."""
    if not isinstance(document.data, dict):
        kind = type(document.data).__name__
        kind = {"list": "a list", "str": "a string", "int": "a number", "NoneType": "nothing"}.get(
            kind, kind
        )
        message = f"the catalog must be a mapping, got {kind}"
        line, col = locate(document.tree, []) if document.data is not None else (1, 1)
        return SchemaReport(
            [Problem(Location(str(document.path), line, col), message)], frozenset({()})
        )
    quick = quick_check("catalog.schema.json")
    if quick is not None and quick(document.data):
        return SchemaReport([], frozenset())  # what jsonschema gives when it finds nothing
    errors = list(schema_validator("catalog.schema.json").iter_errors(document.data))
    problems: list[Problem] = []
    for error in _one_per_value(iter(errors)):
        problems.extend(_explain(document, error))
    refused = frozenset(path for error in errors for path in _refused_paths(error))
    return SchemaReport(sorted(set(problems)), refused)


def _refused_paths(error: ValidationError) -> Iterator[DataPath]:
    path = tuple(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        yield from ((*path, key) for key in instance if key not in allowed)
    elif error.validator == "required" and isinstance(instance, dict):
        yield from ((*path, key) for key in error.validator_value if key not in instance)
    elif "propertyNames" in error.absolute_schema_path:
        yield (*path, instance)
    else:
        yield path


# When one value breaks several keywords (a 100 KB repo is too long and no path), the one
# that says most: how long, then what it holds, then which values it may take.
_VALUE_KEYWORDS = ("type", "maxLength", "minLength", "not", "pattern", "enum", "const")


def _one_per_value(errors: Iterator[ValidationError]) -> list[ValidationError]:
    kept: list[ValidationError] = []
    best: dict[tuple[Any, ...], ValidationError] = {}
    for error in errors:
        if error.validator not in _VALUE_KEYWORDS or "propertyNames" in error.absolute_schema_path:
            kept.append(error)
            continue
        path = tuple(error.absolute_path)
        rank = _VALUE_KEYWORDS.index(str(error.validator))
        if path not in best or rank < _VALUE_KEYWORDS.index(str(best[path].validator)):
            best[path] = error
    return [*kept, *best.values()]


def _problem(
    document: YamlDocument, path: list[Any], message: str, *, key: bool = False
) -> Problem:
    line, col = locate(document.tree, path, key=key)
    return Problem(Location(str(document.path), line, col), message)


def _dotted(path: list[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "catalog"


def _explain(document: YamlDocument, error: ValidationError) -> Iterator[Problem]:
    """Turn one jsonschema error into problems that point at the offending key or value."""
    path = list(error.absolute_path)
    where = _dotted(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for extra in sorted(set(error.instance) - set(allowed), key=str):
            yield _problem(document, [*path, extra], _unknown_key(where, extra, allowed), key=True)
        return
    if kind == "required":
        yield _problem(
            document, path, f"{where}: {error.message.replace(' property', ' key')}", key=True
        )
        return
    if "propertyNames" in error.absolute_schema_path:
        name = error.instance
        message = _name_message(where, error)
        yield _at_character(document, [*path, name], name, message, key=True)
        return
    message = f"{where}: {describe_schema_error(error)}"
    yield _at_character(document, path, error.instance, message, key=False)


def _at_character(
    document: YamlDocument, path: list[Any], value: Any, message: str, *, key: bool
) -> Problem:
    """The problem at the first forbidden character of `value`, where the file shows it."""
    problem = _problem(document, path, message, key=key)
    found = forbidden_character(value) if isinstance(value, str) else None
    if found is None:
        return problem
    where = problem.location
    col = _source_column(document, where.line, where.col, value, found.index)
    return Problem(Location(where.path, where.line, col), message)


def _source_column(document: YamlDocument, line: int, col: int, value: str, index: int) -> int:
    """The column of `value[index]` in a scalar written at line:col, when it is on that line.

    Plain scalars are written as they read; quoted ones are walked with their escapes
    (`"\\u202e"`, `'it''s'`). A scalar that folds onto further lines, or a block scalar, keeps
    the column of its start. The file is read again only here, for a problem being reported.
    """
    try:
        text = document.path.read_text(encoding="utf-8-sig").splitlines()[line - 1]
    except (OSError, UnicodeDecodeError, IndexError):
        return col
    start = col - 1
    quote = text[start : start + 1]
    if quote not in ("'", '"'):
        written = text[start : start + index + 1] == value[: index + 1]
        return col + index if written else col
    at, count = start + 1, 0
    while at < len(text):
        if text[at] == quote and not (quote == "'" and text[at + 1 : at + 2] == "'"):
            break
        if count == index:
            return at + 1
        if quote == "'":
            at += 2 if text[at] == "'" else 1
        elif text[at] == "\\":
            at += {"x": 4, "u": 6, "U": 10}.get(text[at + 1 : at + 2], 2)
        else:
            at += 1
        count += 1
    return col


def _name_message(where: str, error: ValidationError) -> str:
    name = error.instance
    if not isinstance(name, str):
        return f"{where}: key {show(name)} is not a name; quote it if it is one ('{name}')"
    found = forbidden_character(name)
    # Names with a rule of their own (environments) say it; the rest are ids (DNS-1123).
    rule = error.schema.get("patternErrorMessage") if isinstance(error.schema, dict) else None
    if isinstance(rule, str) and not rule.startswith("a DNS-1123 label"):
        return f"{where}: {_shown(name)} is not {rule}" + (f": it holds {found}" if found else "")
    if found:
        return f"{where}: {_shown(name)} is not a DNS-1123 label: it holds {found}"
    if len(name) > 63:
        length = f"{len(name):,} characters"
        return f"{where}: {_shown(name)} is {length}; a DNS-1123 label has at most 63"
    return f"{where}: {name!r} is not a DNS-1123 label ({_ID_RULE})"


def _unknown_key(where: str, key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.75)
    if close:
        return f"{where}: unknown key {show(key)}; did you mean {close[0]!r}?"
    return f"{where}: unknown key {show(key)} (allowed: {', '.join(allowed)})"


_ID_RULE = "lower-case letters, digits and '-', at most 63, starting and ending alphanumeric"

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "number": "a number",
}


def describe_schema_error(error: ValidationError) -> str:
    """What is wrong with a value, in the user's terms rather than the schema's."""
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    kind = error.validator
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"must be {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}, got {show(value)}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}, got {show(value)}"
    if kind == "const":
        return f"must be {show(error.validator_value)}, got {show(value)}"
    if kind == "pattern":
        rule = schema.get("patternErrorMessage", f"must match {error.validator_value}")
        if error.validator_value == REPO_PATTERN and isinstance(value, str):
            return f"{_shown(value)} is not {rule}: {repo_reason(value)}"
        found = forbidden_character(value) if isinstance(value, str) else None
        if found:
            return f"{_shown(value)} is not {rule}: it holds {found}"
        return f"{_shown(value)} is not {rule}"
    if kind in ("maxLength", "minLength") and isinstance(value, str):
        if kind == "minLength" and error.validator_value == 1:
            return "must not be empty"
        limit = "at most" if kind == "maxLength" else "at least"
        return f"is {len(value):,} characters; {limit} {error.validator_value}"
    if kind in ("minimum", "maximum"):
        return f"{show(value)} is out of range ({kind} {error.validator_value})"
    if kind == "uniqueItems":
        return "has duplicate entries"
    if kind in ("minItems", "minProperties"):
        return "must not be empty"
    if kind == "not" and _is_text_rule(error.validator_value) and isinstance(value, str):
        found = forbidden_character(value)
        if found:
            return f"{found} is not allowed: {found.why}"
        syntax = re.search(SYNTAX, value)
        return f"{_shown(value, syntax.start() if syntax else 0)} is not accepted: {TEXT_RULE}"
    if kind in ("not", "anyOf", "oneOf") and "description" in schema:
        return f"{_shown(value)} is not accepted: {schema['description']}"
    return str(error.message)


def _is_text_rule(rule: object) -> bool:
    return isinstance(rule, dict) and rule.get("pattern") in (TEXT_PATTERN, CHARACTERS)


def _shown(value: object, at: int = 0) -> str:
    """`show(value)`, cut short around `at` for a long string: a message stays one readable
    line and still shows the part that is wrong."""
    if not isinstance(value, str) or len(value) <= 80:
        return show(value)
    start = max(0, at - 30)
    end = start + 60
    before, after = "..." if start else "", "..." if end < len(value) else ""
    return f"{before}{show(value[start:end])}{after} ({len(value):,} characters)"
