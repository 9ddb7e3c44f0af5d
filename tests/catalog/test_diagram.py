"""`fleetform graph`: the dependency graph in Mermaid and DOT, exactly, and well formed; and
as JSON, in the shape schemas/graph.schema.json pins."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from click.testing import Result

from generator.catalog.diagram import _dot_string, dot, graph_json, mermaid, render_graph
from generator.catalog.model import Catalog
from generator.catalog.validation import open_catalog
from generator.errors import UsageError
from generator.problems import Location
from tests.helpers import BUNDLED_CATALOG, EXAMPLES, ROOT

# Every kind of node: an image and a DDEV service in core, a node service with an extra tcp
# and udp port, a python service, a GPU model; listed out of order to show the sorting.
CATALOG = """\
version: 1
name: demo
groups:
  core: {ports: "8000-8099", cluster: core}
  apps: {ports: "3000-3099", cluster: services}
  gpu: {ports: "5000-5099", cluster: models}
services:
  worker:
    group: apps
    runtime: python
    port: 3001
    depends_on: [api]
  api:
    group: apps
    runtime: node
    port: 3000
    extra_ports:
      - {name: metrics, port: 3090}
      - {name: syslog, port: 3091, protocol: udp}
    depends_on: [db, cms]
  db:
    group: core
    runtime: image
    image: postgres:15-alpine
    port: 8032
    container_port: 5432
  cms:
    group: core
    runtime: ddev
    port: 8080
    extra_ports:
      - {name: https, port: 8043}
  llm:
    group: gpu
    runtime: model
    port: 5000
    gpu: 1
    depends_on: [db]
"""

MERMAID = """\
flowchart LR
  %% Dependencies of demo: an arrow points from a service to what it needs.
  subgraph c_core ["core"]
    s_cms["cms :8080 :8043"]
    s_db["db :8032"]
  end
  subgraph c_services ["services"]
    s_api["api :3000 :3090 :3091/udp"]
    s_worker["worker :3001"]
  end
  subgraph c_models ["models"]
    s_llm["llm :5000"]
  end
  s_api -.-> s_cms
  s_api --> s_db
  s_llm --> s_db
  s_worker --> s_api
  classDef image fill:#e8f0fe,stroke:#4a6fa5
  class s_db image
  classDef ddev fill:#fff4e0,stroke:#c77800,stroke-dasharray: 5 5
  class s_cms ddev
"""

DOT = """\
// Dependencies of demo: an arrow points from a service to what it needs.
digraph "demo" {
  rankdir=LR;
  node [shape=box, style="rounded"];
  subgraph "cluster_core" {
    label="core";
    "cms" [label="cms :8080 :8043", style="rounded,dashed"];
    "db" [label="db :8032", style="rounded,filled", fillcolor="#e8f0fe"];
  }
  subgraph "cluster_services" {
    label="services";
    "api" [label="api :3000 :3090 :3091/udp"];
    "worker" [label="worker :3001"];
  }
  subgraph "cluster_models" {
    label="models";
    "llm" [label="llm :5000"];
  }
  "api" -> "cms" [style=dashed];
  "api" -> "db";
  "llm" -> "db";
  "worker" -> "api";
}
"""


@pytest.fixture
def demo(write: Callable[[str, str], Path]) -> Catalog:
    return open_catalog(write("catalog.yaml", CATALOG)).catalog


# ------------------------------------------------------------------ a tiny DOT reader

_TOKEN = re.compile(r'\s+|//[^\n]*|"(?:[^"\\]|\\.)*"|->|[{}\[\];=,]|[A-Za-z0-9_.#]+')


def dot_tokens(text: str) -> list[str]:
    """DOT's tokens, quoted strings kept whole; anything DOT would not accept fails here."""
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match, f"not DOT at offset {position}: {text[position : position + 20]!r}"
        position = match.end()
        token = match.group()
        if not token.isspace() and not token.startswith("//"):
            tokens.append(token)
    return tokens


def unquote(token: str) -> str:
    assert token.startswith('"') and token.endswith('"'), token
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def dot_structure(text: str) -> tuple[set[str], list[tuple[str, str]]]:
    """Declared nodes and edges of a digraph; asserts brackets balance and the graph closes
    exactly at the end, every statement ends with ';' and every edge joins declared nodes."""
    tokens = dot_tokens(text)
    assert tokens[:3] == ["digraph", tokens[1], "{"] and tokens[-1] == "}"
    depth, square = 0, 0
    for token in tokens:
        depth += {"{": 1, "}": -1}.get(token, 0)
        square += {"[": 1, "]": -1}.get(token, 0)
        assert depth >= 0 and square in (0, 1)
    assert depth == 0 and square == 0
    nodes: set[str] = set()
    edges: list[tuple[str, str]] = []
    body = tokens[3:-1]
    statement: list[str] = []
    for token in body:
        if token in ("{", "}") and statement[:1] != ["subgraph"]:
            assert not statement, statement  # a brace ends no unfinished statement
            continue
        statement.append(token)
        if token == "{":  # subgraph "name" {
            assert len(statement) == 3 and statement[0] == "subgraph", statement
            unquote(statement[1])
            statement = []
        elif token == ";":
            head = statement[:-1]
            if len(head) >= 3 and head[1] == "->":
                edges.append((unquote(head[0]), unquote(head[2])))
            elif head[0].startswith('"'):
                nodes.add(unquote(head[0]))
            else:
                assert head[0] in ("rankdir", "node", "label"), head
            statement = []
    assert not statement, statement
    for a, b in edges:
        assert a in nodes and b in nodes, (a, b)
    return nodes, edges


# ------------------------------------------------------------------ exact output


def test_mermaid_is_exactly_this(demo: Catalog) -> None:
    assert mermaid(demo) == MERMAID


def test_dot_is_exactly_this(demo: Catalog) -> None:
    assert dot(demo) == DOT


def test_dot_parses_and_every_edge_joins_declared_nodes(demo: Catalog) -> None:
    nodes, edges = dot_structure(dot(demo))
    assert nodes == {"api", "cms", "db", "llm", "worker"}
    assert edges == [("api", "cms"), ("api", "db"), ("llm", "db"), ("worker", "api")]


@pytest.mark.parametrize("path", [BUNDLED_CATALOG, *EXAMPLES], ids=lambda p: p.stem)
def test_every_catalog_gives_well_formed_dot(path: Path) -> None:
    catalog = open_catalog(path).catalog
    nodes, edges = dot_structure(dot(catalog))
    assert nodes == set(catalog.services)
    assert len(edges) == sum(len(s.depends_on) for s in catalog.services.values())


def test_dot_strings_escape_quotes_and_backslashes() -> None:
    nasty = 'a "quoted" \\ name'
    assert _dot_string(nasty) == '"a \\"quoted\\" \\\\ name"'
    assert dot_tokens(_dot_string(nasty)) == [_dot_string(nasty)]
    assert unquote(_dot_string(nasty)) == nasty


def test_mermaid_ids_are_safe_and_distinct_for_every_catalog() -> None:
    for path in [BUNDLED_CATALOG, *EXAMPLES]:
        catalog = open_catalog(path).catalog
        ids = set(re.findall(r"^    (\S+)\[", mermaid(catalog), re.MULTILINE))
        assert len(ids) == len(catalog.services)
        assert all(re.fullmatch(r"s_[a-z0-9_]+", i) for i in ids)


def test_output_does_not_depend_on_catalog_order(
    demo: Catalog, write: Callable[[str, str], Path]
) -> None:
    head, services = CATALOG.split("services:\n")
    blocks = re.split(r"\n(?=  \S)", services.split("\n\n")[0].rstrip("\n"))
    reordered = head + "services:\n" + "\n".join(reversed(blocks)) + "\n"
    other = open_catalog(write("reversed.yaml", reordered)).catalog
    assert list(other.services) != list(demo.services)
    assert (mermaid(other), dot(other)) == (MERMAID, DOT)


def test_unknown_format_is_a_usage_error(demo: Catalog) -> None:
    with pytest.raises(UsageError, match="unknown graph format 'svg'; choose one of mermaid, dot"):
        render_graph(demo, "svg")


# ------------------------------------------------------------------ JSON

GRAPH_SCHEMA = json.loads((ROOT / "schemas" / "graph.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [BUNDLED_CATALOG, *EXAMPLES], ids=lambda p: p.stem)
def test_json_follows_its_schema_and_holds_the_catalogs_graph(path: Path) -> None:
    catalog = open_catalog(path).catalog
    data = json.loads(graph_json(catalog))
    jsonschema.validate(data, GRAPH_SCHEMA)
    assert [n["id"] for n in data["nodes"]] == [i for c in data["clusters"] for i in c["services"]]
    assert {n["id"] for n in data["nodes"]} == set(catalog.services)
    expected = {(s.id, d.name) for s in catalog.services.values() for d in s.depends_on}
    assert [(e["from"], e["to"]) for e in data["edges"]] == sorted(expected)
    for node in data["nodes"]:
        service = catalog.services[node["id"]]
        assert [p["port"] for p in node["ports"]] == [p.port for p in service.ports]
        assert node["location"]["line"] == service.location.line >= 1


def test_json_of_the_demo_names_each_place_in_the_catalog(
    demo: Catalog, run: Callable[..., Result]
) -> None:
    printed = run("graph", "-c", demo.path, "--format", "json")
    assert printed.exit_code == 0, printed.output
    data = json.loads(printed.stdout)
    assert data["clusters"] == [
        {"name": "core", "services": ["cms", "db"]},
        {"name": "services", "services": ["api", "worker"]},
        {"name": "models", "services": ["llm"]},
    ]
    api = next(n for n in data["nodes"] if n["id"] == "api")
    assert api["ports"] == [
        {"name": "http", "port": 3000, "protocol": "tcp"},
        {"name": "metrics", "port": 3090, "protocol": "tcp"},
        {"name": "syslog", "port": 3091, "protocol": "udp"},
    ]
    cms = next(n for n in data["nodes"] if n["id"] == "cms")
    assert (cms["generated"], cms["repo"], api["repo"]) == (False, None, "api")
    lines = CATALOG.splitlines()
    depends = lines.index("    depends_on: [db, cms]") + 1
    to_cms = next(e for e in data["edges"] if (e["from"], e["to"]) == ("api", "cms"))
    assert to_cms == {
        "from": "api",
        "to": "cms",
        "ddev": True,  # compose does not start it: dashed in the pictures
        "location": {
            "path": str(demo.path),
            "line": depends,
            "col": lines[depends - 1].index("cms") + 1,
        },
    }
    assert api["location"] == {"path": str(demo.path), "line": lines.index("  api:") + 1, "col": 3}


def test_json_gives_null_for_an_unknown_position(demo: Catalog) -> None:
    nowhere = dataclasses.replace(demo.services["db"], location=Location(str(demo.path)))
    catalog = dataclasses.replace(demo, services={**demo.services, "db": nowhere})
    data = json.loads(graph_json(catalog))
    jsonschema.validate(data, GRAPH_SCHEMA)
    db = next(n for n in data["nodes"] if n["id"] == "db")
    assert db["location"] == {"path": str(demo.path), "line": None, "col": None}


# ------------------------------------------------------------------ the command and the README


def test_graph_command_prints_mermaid_by_default_and_dot_on_request(
    run: Callable[..., Result], write: Callable[[str, str], Path]
) -> None:
    path = write("catalog.yaml", CATALOG)
    assert (
        run("graph", "-c", path).stdout,
        run("graph", "-c", path, "--format", "dot").stdout,
    ) == (
        MERMAID,
        DOT,
    )


def test_graph_command_rejects_an_unknown_format(run: Callable[..., Result]) -> None:
    assert run("graph", "--format", "svg").exit_code == 2


def test_readme_shows_the_bundled_catalogs_graph_as_the_command_prints_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Orchestration and the dependency graph\n", 1)[1]
    block = section.split("```mermaid\n", 1)[1].split("```\n", 1)[0]
    assert block == mermaid(open_catalog(BUNDLED_CATALOG).catalog), (
        "regenerate the README's graph: fleetform graph -c catalog.yaml"
    )
