"""The dependency graph as a picture: Mermaid (for Markdown) or Graphviz DOT; or as JSON
for programs (`schemas/graph.schema.json`).

Clusters are subgraphs (core, services, models), each node reads `id :port` (extra ports
too), an edge runs from a dependant to its dependency. Image services are filled, DDEV
services dashed (and so are the edges to them: compose does not start DDEV). Everything is
sorted, so the same catalog always gives the same text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from generator.catalog.model import Catalog, Cluster, Dependency, Runtime, Service
from generator.errors import UsageError
from generator.problems import Location

FORMATS = ("mermaid", "dot", "json")

_MERMAID_CLASSES = {
    Runtime.IMAGE: ("image", "fill:#e8f0fe,stroke:#4a6fa5"),
    Runtime.DDEV: ("ddev", "fill:#fff4e0,stroke:#c77800,stroke-dasharray: 5 5"),
}
_DOT_STYLES = {
    Runtime.IMAGE: 'style="rounded,filled", fillcolor="#e8f0fe"',
    Runtime.DDEV: 'style="rounded,dashed"',
}


def render_graph(catalog: Catalog, output_format: str) -> str:
    """The catalog's dependency graph in `output_format` (one of FORMATS)."""
    renderers: dict[str, Callable[[Catalog], str]] = {
        "mermaid": mermaid,
        "dot": dot,
        "json": graph_json,
    }
    renderer = renderers.get(output_format)
    if renderer is None:
        raise UsageError(
            message=f"unknown graph format {output_format!r}; choose one of {', '.join(FORMATS)}"
        )
    return renderer(catalog)


def node_label(service: Service) -> str:
    """`id :port`, then each extra port: `qdrant :6333 :6334`; udp ports say so."""
    ports = " ".join(
        f":{p.port}" + ("" if p.protocol == "tcp" else f"/{p.protocol}") for p in service.ports
    )
    return f"{service.id} {ports}"


def mermaid(catalog: Catalog) -> str:
    """A Mermaid flowchart. Mermaid has no quoted ids, so each service gets a safe one
    (`s_` + its id with '-' as '_': ids never contain '_', so no two can meet), and its
    real name goes in the quoted label."""
    lines = [
        "flowchart LR",
        f"  %% Dependencies of {catalog.name}: an arrow points from a service to what it needs.",
    ]
    for cluster, services in _clusters(catalog):
        lines.append(f'  subgraph {_mermaid_id(cluster.value, "c_")} ["{cluster.value}"]')
        lines += [f'    {_mermaid_id(s.id)}["{_mermaid_text(node_label(s))}"]' for s in services]
        lines.append("  end")
    for dependant, dependency in _edges(catalog):
        arrow = "-.->" if catalog.services[dependency].runtime is Runtime.DDEV else "-->"
        lines.append(f"  {_mermaid_id(dependant)} {arrow} {_mermaid_id(dependency)}")
    for runtime, (name, style) in _MERMAID_CLASSES.items():
        members = sorted(s.id for s in catalog.services.values() if s.runtime is runtime)
        if members:
            lines.append(f"  classDef {name} {style}")
            lines.append(f"  class {','.join(_mermaid_id(m) for m in members)} {name}")
    return "\n".join(lines) + "\n"


def dot(catalog: Catalog) -> str:
    """A Graphviz digraph; every id and label is a quoted DOT string."""
    lines = [
        f"// Dependencies of {catalog.name}: an arrow points from a service to what it needs.",
        f"digraph {_dot_string(catalog.name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded"];',
    ]
    for cluster, services in _clusters(catalog):
        lines += [
            f"  subgraph {_dot_string('cluster_' + cluster.value)} {{",
            f"    label={_dot_string(cluster.value)};",
        ]
        for s in services:
            attributes = [f"label={_dot_string(node_label(s))}"]
            if s.runtime in _DOT_STYLES:
                attributes.append(_DOT_STYLES[s.runtime])
            lines.append(f"    {_dot_string(s.id)} [{', '.join(attributes)}];")
        lines.append("  }")
    for dependant, dependency in _edges(catalog):
        style = " [style=dashed]" if catalog.services[dependency].runtime is Runtime.DDEV else ""
        lines.append(f"  {_dot_string(dependant)} -> {_dot_string(dependency)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_json(catalog: Catalog) -> str:
    """The graph as data: clusters, nodes with their ports and place in the catalog, edges
    from dependant to dependency (`ddev`: compose does not start the dependency). Sorted
    like the pictures; an unknown line or column is null, never 0."""
    payload = {
        "catalog": str(catalog.path),
        "name": catalog.name,
        "clusters": [
            {"name": cluster.value, "services": [s.id for s in services]}
            for cluster, services in _clusters(catalog)
        ],
        "nodes": [
            {
                "id": s.id,
                "group": s.group,
                "cluster": cluster.value,
                "runtime": s.runtime.value,
                "generated": s.runtime.generated,
                "repo": s.repo if s.runtime.generated else None,
                "ports": [
                    {"name": p.name, "port": p.port, "protocol": p.protocol} for p in s.ports
                ],
                "location": _position(s.location),
            }
            for cluster, services in _clusters(catalog)
            for s in services
        ],
        "edges": [
            {
                "from": s.id,
                "to": d.name,
                "ddev": catalog.services[d.name].runtime is Runtime.DDEV,
                "location": _position(d.location),
            }
            for s in sorted(catalog.services.values(), key=lambda s: s.id)
            for d in _dependencies(s)
        ],
    }
    return json.dumps(payload, indent=2) + "\n"


def _dependencies(service: Service) -> list[Dependency]:
    """Each dependency once (its first mention), by name."""
    first: dict[str, Dependency] = {}
    for dependency in service.depends_on:
        first.setdefault(dependency.name, dependency)
    return [first[name] for name in sorted(first)]


def _position(where: Location) -> dict[str, object]:
    return {
        "path": where.path,
        "line": where.line or None,
        "col": (where.col or None) if where.line else None,
    }


def _clusters(catalog: Catalog) -> Iterator[tuple[Cluster, list[Service]]]:
    """Clusters in the seed's order (core, services, models), non-empty ones, nodes sorted."""
    for cluster in Cluster:
        services = sorted(
            (s for s in catalog.services.values() if catalog.groups[s.group].cluster is cluster),
            key=lambda s: s.id,
        )
        if services:
            yield cluster, services


def _edges(catalog: Catalog) -> list[tuple[str, str]]:
    return sorted({(s.id, d.name) for s in catalog.services.values() for d in s.depends_on})


def _mermaid_id(name: str, prefix: str = "s_") -> str:
    return prefix + name.replace("-", "_")


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: quotes as entity codes, nothing else special."""
    return text.replace('"', "#quot;")


def _dot_string(text: str) -> str:
    """A DOT quoted string: backslash and double quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
