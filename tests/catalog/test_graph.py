"""Dependency order and cycles on plain graphs."""

from __future__ import annotations

from generator.catalog.graph import find_cycles, start_order, transitive


def test_start_order_puts_dependencies_first_and_is_stable() -> None:
    edges = {"app": ["db", "cache"], "db": [], "cache": [], "ui": ["app"]}
    assert start_order(edges) == ["cache", "db", "app", "ui"]


def test_every_cycle_is_found_once_with_its_path() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "x": ["y"], "y": ["x"], "s": ["s"], "ok": []}
    assert find_cycles(edges) == [["a", "b", "c", "a"], ["s", "s"], ["x", "y", "x"]]


def test_no_cycle_in_a_diamond() -> None:
    assert find_cycles({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}) == []


def test_long_chain_does_not_hit_the_recursion_limit() -> None:
    edges = {f"s{i}": [f"s{i + 1}"] for i in range(5000)}
    edges["s5000"] = ["s0"]
    (cycle,) = find_cycles(edges)
    assert len(cycle) == 5002


def test_transitive_dependencies() -> None:
    edges = {"ui": ["api"], "api": ["db"], "db": [], "other": ["db"]}
    assert transitive(edges, ["ui"]) == {"ui", "api", "db"}
