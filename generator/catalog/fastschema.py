"""A yes/no check of a document against a JSON Schema, for the common case: a valid catalog.

jsonschema takes about 0.3 s to find nothing wrong in a 1,000-service catalog (its error
machinery runs for every value), and 0.1 s more to import; a run with nothing to do pays
that on every call. This compiles the schema once into plain predicates (a few ms for the
same catalog). It never reports anything: a document it passes is one jsonschema finds no
error in, and for any other the caller runs jsonschema, which says what is wrong and where
(`generator.catalog.schema.check_schema`), so every message stays jsonschema's.

Each keyword below restates jsonschema's own rule for Draft 2020-12 (its `_keywords.py` and
`_utils.py`: the type checks, `equal` and `uniq` that keep `True` apart from `1`), with the
catalog's stricter integer (no `3000.0`). A schema using any keyword not restated here is not
compiled (`compile_schema` gives None) and jsonschema checks every document.
`tests/catalog/test_fastschema.py` holds the two to the same answer on every corpus case.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Check = Callable[[Any], bool]

# Keywords that only annotate: jsonschema validates nothing with them.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "patternErrorMessage"}
)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
}


def compile_schema(schema: object) -> Check | None:
    """A predicate true exactly when jsonschema finds no error; None when the schema uses
    anything this module does not restate (then only jsonschema can tell)."""
    if schema is True:
        return lambda _value: True
    if schema is False:
        return lambda _value: False
    if not isinstance(schema, dict):
        return None
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        make = _KEYWORDS.get(keyword)
        check = make(value, schema) if make is not None else None
        if check is None:
            return None
        checks.append(check)
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _type(expected: object, _schema: dict[str, Any]) -> Check | None:
    names = [expected] if isinstance(expected, str) else expected
    if not isinstance(names, list) or not all(n in _TYPES for n in names):
        return None
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


def _properties(properties: object, _schema: dict[str, Any]) -> Check | None:
    if not isinstance(properties, dict):
        return None
    compiled = {name: compile_schema(sub) for name, sub in properties.items()}
    if any(check is None for check in compiled.values()):
        return None
    pairs = [(name, check) for name, check in compiled.items() if check is not None]

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(sub(value[name]) for name, sub in pairs if name in value)

    return check


def _additional_properties(extra: object, schema: dict[str, Any]) -> Check | None:
    if "patternProperties" in schema:
        return None
    known = schema.get("properties", {})
    if not isinstance(known, dict):
        return None
    if isinstance(extra, dict):
        sub = compile_schema(extra)
        if sub is None:
            return None
        return lambda value: (
            not isinstance(value, dict)
            or all(sub(item) for key, item in value.items() if key not in known)
        )
    # jsonschema: a false (or falsy) value refuses any extra key; a true one allows them.
    if extra:
        return lambda _value: True
    return lambda value: not isinstance(value, dict) or all(key in known for key in value)


def _property_names(names: object, _schema: dict[str, Any]) -> Check | None:
    sub = compile_schema(names)
    if sub is None:
        return None
    return lambda value: not isinstance(value, dict) or all(sub(key) for key in value)


def _required(keys: object, _schema: dict[str, Any]) -> Check | None:
    if not isinstance(keys, list):
        return None
    return lambda value: not isinstance(value, dict) or all(key in value for key in keys)


def _items(items: object, schema: dict[str, Any]) -> Check | None:
    if "prefixItems" in schema:
        return None
    sub = compile_schema(items)
    if sub is None:
        return None
    return lambda value: not isinstance(value, list) or all(sub(item) for item in value)


def _pattern(pattern: object, _schema: dict[str, Any]) -> Check | None:
    if not isinstance(pattern, str):
        return None
    search = re.compile(pattern).search  # jsonschema: `re.search(pattern, instance)`
    return lambda value: not isinstance(value, str) or search(value) is not None


def _not(schema: object, _schema: dict[str, Any]) -> Check | None:
    sub = compile_schema(schema)
    if sub is None:
        return None
    return lambda value: not sub(value)


def _enum(values: object, _schema: dict[str, Any]) -> Check | None:
    if not isinstance(values, list):
        return None
    return lambda value: any(_equal(value, each) for each in values)


def _const(expected: object, _schema: dict[str, Any]) -> Check | None:
    return lambda value: _equal(value, expected)


def _unique_items(unique: object, _schema: dict[str, Any]) -> Check | None:
    if not unique:
        return lambda _value: True
    return lambda value: not isinstance(value, list) or _uniq(value)


def _bound(kind: str, limit: object) -> Check | None:
    """minimum/maximum on numbers, min/maxLength on strings, min/maxItems on lists,
    min/maxProperties on mappings: jsonschema refuses `value < limit` (or `>`) only."""
    if not _is_number(limit):
        return None
    bound: Any = limit
    if kind == "minimum":
        return lambda value: not _is_number(value) or not value < bound
    if kind == "maximum":
        return lambda value: not _is_number(value) or not value > bound
    sized = {"Length": str, "Items": list, "Properties": dict}[kind[3:]]
    if kind.startswith("min"):
        return lambda value: not isinstance(value, sized) or not len(value) < bound
    return lambda value: not isinstance(value, sized) or not len(value) > bound


def _bounded(kind: str) -> Callable[[object, dict[str, Any]], Check | None]:
    return lambda limit, _schema: _bound(kind, limit)


_KEYWORDS: dict[str, Callable[[object, dict[str, Any]], Check | None]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "propertyNames": _property_names,
    "required": _required,
    "items": _items,
    "pattern": _pattern,
    "not": _not,
    "enum": _enum,
    "const": _const,
    "uniqueItems": _unique_items,
    **{
        kind: _bounded(kind)
        for kind in (
            "minimum",
            "maximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
        )
    },
}


# jsonschema's `equal`, `unbool` and `uniq` (jsonschema/_utils.py), restated.
_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return value


def _equal(one: Any, two: Any) -> bool:
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and _equal(value, two[key]) for key, value in one.items()
        )
    return bool(_unbool(one) == _unbool(two))


def _uniq(container: list[Any]) -> bool:
    try:
        ordered = sorted(_unbool(item) for item in container)
        for one, two in zip(ordered, itertools.islice(ordered, 1, None), strict=False):
            if _equal(one, two):
                return False
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in container:
            item = _unbool(item)
            if any(_equal(other, item) for other in seen):
                return False
            seen.append(item)
    return True
