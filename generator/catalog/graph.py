"""The dependency graph: start order, transitive dependencies, and cycles as readable paths."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import TopologicalSorter

Edges = Mapping[str, Iterable[str]]


def find_cycles(edges: Edges) -> list[list[str]]:
    """Every elementary cycle's representative, one per strongly connected component.

    Each cycle is returned as a path that starts and ends at the same node, starting from the
    smallest name so the report is stable: ["a", "b", "a"].
    """
    cycles = []
    for component in _strongly_connected(edges):
        members = set(component)
        start = min(component)
        if len(component) == 1 and start not in set(edges.get(start, ())):
            continue
        cycles.append(_cycle_through(start, members, edges))
    return sorted(cycles)


def _cycle_through(start: str, members: set[str], edges: Edges) -> list[str]:
    """A shortest path from `start` back to itself inside one component (breadth first)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(set(edges.get(node, ())) & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    return [start, start]


def _strongly_connected(edges: Edges) -> list[list[str]]:
    """Tarjan's algorithm, iterative so a 1,000-deep chain cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    nodes = sorted(set(edges) | {n for targets in edges.values() for n in targets})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def start_order(edges: Edges) -> list[str]:
    """Dependencies before dependants; ties broken by name so the order is reproducible."""
    sorter = TopologicalSorter({node: sorted(deps) for node, deps in edges.items()})
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def transitive(edges: Edges, roots: Iterable[str]) -> set[str]:
    """The roots and everything they depend on, directly or not."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        pending.extend(edges.get(node, ()))
    return seen
