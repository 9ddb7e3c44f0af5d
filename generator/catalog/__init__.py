"""catalog.yaml -> `Catalog`, and what follows from a catalog alone.

| module | what it owns |
| --- | --- |
| `schema` | the catalog's JSON Schema and its errors, told at their place in the file |
| `fastschema` | a schema compiled to a yes/no check: passes a valid catalog without jsonschema |
| `load` | read catalog.yaml, collect every schema problem, model what the schema accepted |
| `model` | the catalog as frozen dataclasses (services, groups, ports, tiers, profiles) |
| `text` | what catalog text may hold: the free-text rule (shared with the answers), repo paths |
| `globs` | `owned_files` globs: their dialect, their problems, the matcher they make |
| `rules` | semantic checks of the model: references, cycles, repositories, runtimes |
| `remotes` | where each repository lives: remote URL patterns and branch names, checked |
| `environments` | semantic checks of the catalog's environments and the ones services name |
| `ports` | the port registry: ranges, conflicts, allocation, the PORT_ALLOCATION table |
| `compose_ports` | what a compose file publishes, read as Compose reads it |
| `validation` | open a catalog for use: load, rules, ports, every problem of one run |
| `graph` | dependency graph algorithms: start order, transitive closure, cycles |
| `profiles` | which services a deployment profile runs, and which profiles run a service |
| `selection` | which services a command works on: the ones named, else every generated one |
| `diagram` | the dependency graph as Mermaid or Graphviz DOT |
| `edit` | `add_service`: check the request, pick the port, edit, validate, replace the file |
| `roundtrip` | ruamel round-trip editing that keeps every other byte of catalog.yaml |

Nothing here imports fleet, stack or cli: a catalog is read, checked and edited on its own.
"""
