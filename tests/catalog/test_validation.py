"""One validation run: schema, semantic and port problems together, on a half-valid catalog too.

The exact messages of each kind are pinned by the bad-input corpus (tests/cli/test_bad_input.py);
here: what the model keeps of a half-valid document, and that no value anywhere, however
wrong, makes validation crash or stop early.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.catalog.load import read_catalog
from generator.catalog.validation import open_catalog, validate
from generator.errors import InputError

# Every section and every kind of value a catalog has, valid as a whole.
FULL: dict[str, Any] = {
    "version": 1,
    "name": "demo",
    "description": "a demo",
    "template": {"src": "/srv/fleetform", "ref": "v1.0.0"},
    "defaults": {
        "protocol": "tcp",
        "resources": "small",
        "health": {"path": "/health", "class": "application"},
        "autoscaling": {"enabled": True, "min": 1, "max": 3, "cpu": 70, "memory": 80},
        "owner": "platform team",
        "registry": "registry.example.com/demo",
        "environments": ["local", "production"],
    },
    "groups": {
        "apps": {"ports": "3000-3099", "cluster": "services", "description": "apps"},
        "data": {"ports": "6000-6099", "cluster": "core"},
    },
    "services": {
        "api": {
            "group": "apps",
            "runtime": "node",
            "port": 3000,
            "container_port": 8080,
            "extra_ports": [{"port": 3001, "name": "metrics", "protocol": "udp"}],
            "depends_on": ["db"],
            "profiles": ["dev"],
            "env": ["API_KEY"],
            "repo": "teams/api",
            "description": "the api",
        },
        "db": {
            "group": "data",
            "runtime": "image",
            "image": "postgres:16-alpine",
            "port": 5432,
            "port_exception": "clients hard-code it",
            "command": ["postgres"],
            "volume": "/data",
            "health": {"command": ["pg_isready"]},
        },
    },
    "profiles": {"dev": {"description": "dev", "services": ["api"], "groups": ["data"]}},
}


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _replaced(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(FULL)
    if not path:
        return value  # type: ignore[no-any-return]
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return data


def _removed(path: tuple[Any, ...]) -> dict[str, Any]:
    data = copy.deepcopy(FULL)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return data


PATHS = list(_paths(FULL))
JUNK = [None, [["nested"]], {"x": {"y": 1}}, "{{ x }}", -1, True]


@pytest.fixture
def write_catalog(tmp_path: Path) -> Callable[[Any], Path]:
    def _write(data: Any) -> Path:
        path = tmp_path / "catalog.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return _write


def test_the_full_catalog_is_valid(write_catalog: Callable[[Any], Path]) -> None:
    assert validate(write_catalog(FULL)).problems == []


@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(map(str, p)) or "catalog")
def test_no_value_anywhere_crashes_validation(
    path: tuple[Any, ...], write_catalog: Callable[[Any], Path]
) -> None:
    """Junk of every kind at every place, and every key removed: a result or an `InputError`
    with positioned problems, never another exception."""
    variants = [_replaced(path, junk) for junk in JUNK]
    if path:
        variants.append(_removed(path))
    for data in variants:
        catalog = write_catalog(data)
        try:
            result = validate(catalog)
        except InputError as exc:
            problems = exc.problems
            assert problems
        else:
            problems = result.problems
        assert all(p.location.path == str(catalog) and p.location.line >= 1 for p in problems)
        try:
            open_catalog(catalog)
        except InputError as exc:
            assert exc.problems == problems  # every command tells an invalid catalog alike


def test_refused_entries_are_left_out_and_named(write_catalog: Callable[[Any], Path]) -> None:
    data = copy.deepcopy(FULL)
    data["services"]["db"]["runtime"] = "java"
    data["groups"]["data"]["cluster"] = "edge"
    data["profiles"]["dev"]["unknown"] = 1
    read = read_catalog(write_catalog(data))
    assert read.catalog is not None
    assert list(read.catalog.services) == ["api"]
    assert list(read.catalog.groups) == ["apps"]
    assert read.catalog.profiles == {}
    assert "db" in read.catalog.omitted_services and "api" not in read.catalog.omitted_services
    assert "data" in read.catalog.omitted_groups and "dev" in read.catalog.omitted_profiles
    # api depends on db, lists profile dev; dev lists group data: none of it is "unknown".
    with pytest.raises(InputError) as caught:
        validate(write_catalog(data))
    assert not [p for p in caught.value.problems if "unknown" in p.message.split(":")[-1]]
    assert len(caught.value.problems) == 3


def test_a_section_refused_as_such_leaves_every_reference_to_it_unchecked(
    write_catalog: Callable[[Any], Path],
) -> None:
    data = copy.deepcopy(FULL)
    data["groups"] = []
    read = read_catalog(write_catalog(data))
    assert read.catalog is not None
    assert read.catalog.groups == {} and "anything" in read.catalog.omitted_groups
    with pytest.raises(InputError) as caught:
        validate(write_catalog(data))
    assert [p.message for p in caught.value.problems] == ["groups: must be a mapping, got []"]


def test_a_refused_default_leaves_every_service_out(write_catalog: Callable[[Any], Path]) -> None:
    data = copy.deepcopy(FULL)
    data["defaults"]["autoscaling"] = {"min": "two"}
    read = read_catalog(write_catalog(data))
    assert read.catalog is not None
    assert read.catalog.services == {}
    assert {"api", "db"} <= set(read.catalog.omitted_services.names)
    assert list(read.catalog.groups) == ["apps", "data"]


def test_ports_check_tells_an_unreadable_compose_file_with_the_catalog_s_conflicts(
    write_catalog: Callable[[Any], Path], tmp_path: Path
) -> None:
    data = copy.deepcopy(FULL)
    data["services"]["web"] = {"group": "apps", "runtime": "node", "port": 3000}
    catalog = write_catalog(data)
    junk = tmp_path / "compose.yml"
    junk.write_text("services: [\n", encoding="utf-8")
    fine = tmp_path / "other.yml"
    fine.write_text("services:\n  cache:\n    ports: ['3001:3001/udp']\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        validate(catalog, [junk, fine])
    shown = [f"{Path(p.location.path).name}: {p.message}" for p in caught.value.problems]
    assert [line.split(" is ")[0] for line in shown] == [
        "catalog.yaml: port 3000/tcp",
        "compose.yml: invalid YAML: did not find expected node content",
        "other.yml: port 3001/udp",
    ], shown
