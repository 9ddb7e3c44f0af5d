"""The yes/no schema check passes exactly what jsonschema finds no error in.

`check_schema` trusts `generator.catalog.fastschema` to pass a valid catalog without running
jsonschema, so a document the predicate passes and jsonschema refuses would be a check
silently dropped. Held to jsonschema on every catalog the tests have (bundled, examples,
fixtures, the bad-input corpus) and on mutants of a small catalog: every value replaced by
values of every JSON type and by values each keyword refuses, every key removed, a key added
to every mapping.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.catalog.fastschema import compile_schema
from generator.catalog.schema import check_schema, load_schema, quick_check, schema_validator
from generator.errors import InputError
from generator.yamlfile import YamlDocument, load_file
from tests.helpers import BUNDLED_CATALOG, CORPUS, EXAMPLES, FIXTURES

SCHEMA = "catalog.schema.json"
CATALOGS = sorted(
    [BUNDLED_CATALOG, *EXAMPLES, *FIXTURES.glob("*.yaml"), *(CORPUS / "catalog").glob("*.yaml")]
)


def _read(path: Path) -> YamlDocument | None:
    """The document, or None for a file fleetform refuses before the schema (bad YAML)."""
    try:
        return load_file(path)
    except InputError:
        return None


# The schema sees only what reads as YAML; the rest are bad-input cases of the YAML reader.
READ = [path for path in CATALOGS if _read(path) is not None]


def jsonschema_passes(data: Any) -> bool:
    return not any(schema_validator(SCHEMA).iter_errors(data))


def quick_passes(data: Any) -> bool:
    quick = quick_check(SCHEMA)
    assert quick is not None, "the bundled schema uses a keyword fastschema does not restate"
    return quick(data)


def test_the_bundled_schema_is_a_valid_draft_2020_12_schema() -> None:
    # The quick path reads the schema without jsonschema's meta-check; this is that check.
    load_schema(SCHEMA)
    load_schema("service.schema.json")


@pytest.mark.parametrize("path", READ, ids=lambda p: p.name)
def test_every_catalog_gets_the_same_answer(path: Path) -> None:
    document = load_file(path)
    assert quick_passes(document.data) == jsonschema_passes(document.data)


def test_only_bad_input_cases_are_left_out_and_most_are_checked() -> None:
    left_out = set(CATALOGS) - set(READ)
    assert all(path.parent == CORPUS / "catalog" for path in left_out), left_out
    assert len(READ) > 3 * len(left_out)


def test_a_valid_catalog_is_reported_exactly_as_jsonschema_reports_it() -> None:
    document = load_file(BUNDLED_CATALOG)
    assert quick_passes(document.data)
    report = check_schema(document)
    assert (report.problems, report.refused) == ([], frozenset())


# Values of every JSON type, and the ones that sit on a keyword's edge: bool against integer
# and enum, a float where an integer goes, out-of-range ports, empty and over-long strings,
# template syntax and a bidirectional control, duplicated list items, non-name keys.
REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    3000.0,
    -1,
    65536,
    "",
    "x",
    "tcp",
    "a-b",
    "30000-30099",
    "/health",
    "{{ evil }}",
    "a\u202eb",
    "line\nbreak",
    "y" * 600,
    [],
    ["a"],
    ["a", "a"],
    [1, True],
    [1, 1.0],
    {},
    {"x": 1},
    {1: "a"},
]


def _paths(data: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*at, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*at, index))


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    copied = copy.deepcopy(data)
    node = copied
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copied


def _mutants(data: dict[str, Any]) -> Iterator[Any]:
    for path in _paths(data):
        if not path:
            continue
        for value in REPLACEMENTS:
            yield _replaced(data, path, value)
        parent = _replaced(data, path, None)  # then drop the key (or item) itself
        node = parent
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]
        yield parent
    for path in _paths(data):
        if isinstance(_at(data, path), dict):
            for key in ("unknown", "Bad_Name", 7):
                yield _replaced(data, (*path, key), "x") if path else {**data, key: "x"}


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def test_every_mutant_of_a_small_catalog_gets_the_same_answer() -> None:
    document: YamlDocument = load_file(FIXTURES / "edge-catalog.yaml")
    seen = {True: 0, False: 0}
    for mutant in _mutants(document.data):
        expected = jsonschema_passes(mutant)
        assert quick_passes(mutant) == expected, mutant
        seen[expected] += 1
    assert seen[True] > 50 and seen[False] > 1000  # both answers were exercised


def test_a_schema_with_a_keyword_it_does_not_restate_is_left_to_jsonschema() -> None:
    assert compile_schema({"type": "object", "patternProperties": {"^a": {}}}) is None
    assert compile_schema({"properties": {"a": {"format": "email"}}}) is None
    assert compile_schema({"items": {"$ref": "#/elsewhere"}}) is None
    assert compile_schema({"type": "tuple"}) is None
