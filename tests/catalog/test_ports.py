"""The port registry on catalogs: ranges, conflicts, allocation and the table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from generator.catalog.ports import allocate, check_ports, port_table
from generator.catalog.validation import open_catalog
from generator.errors import RangeFullError


def catalog_with(write: Callable[[str, str], Path], services: str) -> Path:
    return write(
        "catalog.yaml",
        'version: 1\nname: demo\ngroups:\n  apps: {ports: "3000-3002", cluster: services}\n'
        '  data: {ports: "6000-6099", cluster: core}\nservices:\n' + services,
    )


def test_allocate_takes_the_lowest_free_port_of_the_group(
    write: Callable[[str, str], Path],
) -> None:
    path = catalog_with(
        write,
        "  a: {group: apps, runtime: node, port: 3000}\n"
        "  b: {group: apps, runtime: node, port: 3002}\n",
    )
    assert allocate(open_catalog(path).catalog, "apps") == 3001


def test_allocate_counts_ports_of_other_groups_inside_the_range(
    write: Callable[[str, str], Path],
) -> None:
    # db sits inside apps' range by exception: that port is not free for apps either.
    path = catalog_with(
        write,
        "  a: {group: apps, runtime: node, port: 3000}\n"
        "  db: {group: data, runtime: image, image: postgres:15, port: 3001,"
        " port_exception: legacy}\n",
    )
    assert allocate(open_catalog(path).catalog, "apps") == 3002


def test_allocate_counts_extra_ports(write: Callable[[str, str], Path]) -> None:
    path = catalog_with(
        write,
        "  a: {group: apps, runtime: node, port: 3000,"
        " extra_ports: [{port: 3001, name: metrics}]}\n",
    )
    assert allocate(open_catalog(path).catalog, "apps") == 3002


def test_a_full_range_is_a_clear_error(
    write: Callable[[str, str], Path], run: Callable[..., Result]
) -> None:
    path = catalog_with(
        write,
        "  a: {group: apps, runtime: node, port: 3000}\n"
        "  b: {group: apps, runtime: node, port: 3001}\n"
        "  c: {group: apps, runtime: node, port: 3002}\n",
    )
    with pytest.raises(RangeFullError):
        allocate(open_catalog(path).catalog, "apps")
    result = run("ports", "allocate", "apps", "-c", path)
    assert result.exit_code == 1
    assert result.stderr == (
        "fleetform: error: group 'apps' has no free port left in its range 3000-3002;"
        " widen the range or add a group\n"
    )


def test_allocate_unknown_group_is_bad_usage(
    small_catalog: Path, run: Callable[..., Result]
) -> None:
    result = run("ports", "allocate", "nope", "-c", small_catalog)
    assert result.exit_code == 2
    assert result.stderr == "fleetform: error: unknown group 'nope' (groups: apps, core, data)\n"


def test_same_port_different_protocols_is_no_conflict(write: Callable[[str, str], Path]) -> None:
    path = catalog_with(
        write,
        "  a: {group: apps, runtime: node, port: 3000}\n"
        "  b: {group: apps, runtime: node, port: 3000, protocol: udp}\n",
    )
    assert check_ports(open_catalog(path).catalog).problems == []


def test_a_conflict_names_every_party(write: Callable[[str, str], Path]) -> None:
    path = catalog_with(
        write,
        "  a: {group: apps, runtime: node, port: 3000}\n"
        "  b: {group: apps, runtime: node, port: 3001}\n"
        "  c: {group: apps, runtime: node, port: 3002, extra_ports: [{port: 3000, name: x}]}\n"
        "  d: {group: apps, runtime: node, port: 3000}\n",
    )
    problems = check_ports(open_catalog(path).catalog).problems
    assert [str(p).replace(str(path), "c") for p in problems] == [
        "c:9:68: error: port 3000/tcp is claimed more than once: a (c:7:41), c/x (c:9:68),"
        " d (c:10:41)"
    ]


def test_port_table_lists_groups_ports_and_exceptions(small_catalog: Path) -> None:
    table = port_table(open_catalog(small_catalog).catalog)
    assert "| apps | services | 3000-3009 | 2 | 8 |" in table
    assert "| 3000 | tcp | api | node | 3000 |  |" in table
    assert "| 5433 | tcp | db | image | 5432 | exception |" in table
    assert table.endswith(
        "## Exceptions\n\n| Port | Service | Group range | Reason |\n| --- | --- | --- | --- |\n"
        "| 5433 | db | 6000-6099 | existing database, clients hard-code 5433 |\n"
    )


def test_cli_ports_check_and_table_on_a_clean_catalog(
    small_catalog: Path, run: Callable[..., Result]
) -> None:
    check = run("ports", "check", "-c", small_catalog)
    assert (check.exit_code, check.stdout) == (0, "")
    assert check.stderr == "ports: ok\n"
    table = run("ports", "table", "-c", small_catalog)
    assert table.exit_code == 0
    assert table.stdout.startswith("# Port allocation: demo\n")
