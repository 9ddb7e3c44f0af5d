"""`infrastructure/fleet-ports.json`: the fleet's port registry, carried by every repository.

A service repository has no catalog, yet its compose file must not publish a port another
service of the fleet claims. So every generated repository carries a snapshot of the registry:
every host port the catalog claims (port, protocol, service, port name) and the revision it
came from. `fleetform ports check` holds the compose files against it when there is no
catalog (the `fleetform-ports` pre-commit hook, the `lint:ports` CI job): a port regenerated
from the catalog passes, another service's port is refused, naming that service.

fleetform writes it into each rendered tree right after Copier renders, through
`write_snapshot` alone: `generate` into the staged render before comparing, `update` into the
scratch clone after Copier, `drift` into its render before comparing. So it is in
`.fleetform-manifest.json` like every rendered file, `generate` and `update` bring it up to
date when a port changes anywhere in the fleet, and `drift` names it when it is not.

Not a Copier answer: every `.copier-answers.yml` would then carry the whole table a second
time. Measured on the 1,000-service synthetic catalog (`benchmarks/fleet.py`'s, 1,002 ports,
fleetform's Copier driver, best of 3 x 20 services): the answers file grows from 1.3 KB to
53 KB, a render takes 251 ms instead of 135 ms and a `copier update` 1.29 s instead of 0.62 s,
almost all of it Copier dumping the table into the answers file (as compact strings: 18 KB,
181 ms, 0.84 s). Written here it costs one JSON document per run and a file write per tree.
A plain `copier update` keeps the file as it is (it is not the template's): it could not
refresh it anyway, the other services' ports being in the catalog, not in the answers.

The revision is the sha256 of the snapshot's own content (catalog name and ports), not the
catalog file's git commit: it changes exactly when the registry does, not on every commit of
the catalog (a description edit would otherwise touch every repository of the fleet), it is
the same whether the catalog is committed, edited or not in git at all, and a second
`generate` writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from generator.catalog.model import Catalog
from generator.catalog.ports import PortClaim, check_claims
from generator.catalog.validation import validate
from generator.errors import InputError, WriteError
from generator.files import write_atomically
from generator.fleet.confine import confined, read_regular
from generator.problems import Location, Problem
from generator.yamlfile import load_file, locate

SNAPSHOT = "infrastructure/fleet-ports.json"
MAIN_PORT = "http"  # the name of a service's main port (the chart's), never an extra port's

_ABOUT = (
    "The fleet's port registry, from the catalog: `fleetform ports check` (the fleetform-ports"
    " pre-commit hook, the lint:ports CI job) checks this repository's compose files against it."
    " Written by fleetform generate and update: change the catalog, not this file."
)
_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$(?!\n)")
_PORT_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,13}[a-z0-9])?$(?!\n)")


@dataclass(frozen=True)
class PortsSnapshot:
    """The snapshot of one catalog: the file's text and its revision."""

    text: str
    revision: str


def ports_snapshot(catalog: Catalog) -> PortsSnapshot:
    """The snapshot of every host port the catalog claims, one entry a line, by port."""
    entries = sorted(
        (
            {"port": port.port, "protocol": port.protocol, "service": service.id, "name": port.name}
            for service in catalog.services.values()
            for port in service.ports
        ),
        key=lambda e: (e["port"], e["protocol"], e["service"], e["name"]),
    )
    revision = _revision(catalog.name, entries)
    lines = [
        "{",
        f'  "about": {json.dumps(_ABOUT)},',
        f'  "catalog": {json.dumps(catalog.name)},',
        f'  "revision": {json.dumps(revision)},',
        '  "ports": [',
        ",\n".join(f"    {json.dumps(entry)}" for entry in entries),
        "  ]",
        "}",
    ]
    return PortsSnapshot("\n".join(lines) + "\n", revision)


def _revision(catalog: str, entries: list[dict[str, Any]]) -> str:
    content = json.dumps(
        {"catalog": catalog, "ports": entries}, sort_keys=True, separators=(",", ":")
    )
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def inputs_with(inputs: str | None, snapshot: PortsSnapshot) -> str | None:
    """The inputs digest of a render (`generator.fleet.manifest.inputs_digest`) with the
    snapshot it carries: a port changed anywhere in the fleet is a change of every render."""
    if inputs is None:
        return None
    return hashlib.sha256(f"{inputs} {snapshot.revision}".encode()).hexdigest()


@overload
def write_snapshot(tree: Path, snapshot: PortsSnapshot) -> None: ...
@overload
def write_snapshot(tree: Path, snapshot: PortsSnapshot, manifest: str) -> str: ...
def write_snapshot(tree: Path, snapshot: PortsSnapshot, manifest: str | None = None) -> str | None:
    """Put the snapshot into a tree fleetform rendered: its staging, its temporary render, or
    the scratch clone of an update (repository content: never written through a link).

    `manifest`: the manifest of the clean render the tree was made from (an update's), which
    does not know the snapshot; returned with the snapshot recorded (its digest, and in the
    render's inputs), as `generate` would record the tree. Without one, None: the caller's
    manifest is made from the tree after.
    """
    path = confined(tree, SNAPSHOT, source="the port snapshot")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path=path, reason=exc.strerror or str(exc)) from exc
    write_atomically(path, snapshot.text)
    if manifest is None:
        return None
    data = json.loads(manifest)
    files = {**data.get("files", {}), SNAPSHOT: hashlib.sha256(path.read_bytes()).hexdigest()}
    if isinstance(data.get("inputs"), str):
        data["inputs"] = inputs_with(data["inputs"], snapshot)
    return json.dumps({**data, "files": dict(sorted(files.items()))}, indent=2) + "\n"


def is_current(repo: Path, snapshot: PortsSnapshot) -> bool:
    """Whether the repository already holds exactly this snapshot (a regular file)."""
    path = confined(repo, SNAPSHOT, source="the port snapshot")
    return read_regular(path) == snapshot.text.encode("utf-8")


# ------------------------------------------------------------------ checking against one


def snapshot_claims(path: Path) -> list[PortClaim]:
    """The claims a snapshot file records, each at its entry; `InputError` with every problem
    of a file that is not a snapshot as fleetform writes them (it is repository content)."""
    document = load_file(path)
    where = str(path)

    def at(*steps: Any) -> Location:
        line, col = locate(document.tree, list(steps))
        return Location(where, line, col)

    data = document.data
    ports = data.get("ports") if isinstance(data, dict) else None
    if not isinstance(ports, list):
        message = f"not a fleetform port snapshot: no 'ports' list (fleetform writes {SNAPSHOT})"
        raise InputError(problems=[Problem(at(), message)])
    problems: list[Problem] = []
    claims: list[PortClaim] = []
    for index, entry in enumerate(ports):
        reason = _entry_problem(entry)
        if reason:
            problems.append(Problem(at("ports", index), f"ports[{index}]: {reason}"))
            continue
        service, name = entry["service"], entry["name"]
        label = service if name == MAIN_PORT else f"{service}/{name}"
        claims.append(
            PortClaim(entry["port"], entry["protocol"], service, label, at("ports", index), service)
        )
    if not problems and data.get("revision") != _revision(data.get("catalog", ""), ports):
        message = (
            "revision does not match the ports: the snapshot was changed by hand; fleetform"
            " generate or update writes it from the catalog"
        )
        problems.append(Problem(at("revision"), message))
    if problems:
        raise InputError(problems=problems)
    # Each service's main port first: the one a compose entry must publish.
    return sorted(claims, key=lambda c: (c.owner, c.label != c.owner, c.location))


def _entry_problem(entry: Any) -> str:
    if not isinstance(entry, dict) or set(entry) != {"port", "protocol", "service", "name"}:
        return "must be a mapping of port, protocol, service and name"
    port = entry["port"]
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        return f"port must be an integer between 1 and 65535, got {port!r}"
    if entry["protocol"] not in ("tcp", "udp"):
        return f"protocol must be tcp or udp, got {entry['protocol']!r}"
    if not (isinstance(entry["service"], str) and _ID.match(entry["service"])):
        return f"service must be a DNS-1123 label, got {entry['service']!r}"
    if not (isinstance(entry["name"], str) and _PORT_NAME.match(entry["name"])):
        return f"name must be a port name, got {entry['name']!r}"
    return ""


def check_snapshot(path: Path, compose_files: tuple[Path, ...] = ()) -> list[Problem]:
    """`fleetform ports check` without a catalog: the compose files against the snapshot at
    `path` (and the snapshot against itself). An unreadable snapshot or compose file is an
    `InputError` carrying every problem of the run, as `validate` raises for a catalog."""
    claims = snapshot_claims(path)
    report = check_claims(claims, compose_files)
    if report.unreadable:
        raise InputError(problems=[*report.problems, *report.unreadable])
    return report.problems


def problems_of(
    path: Path, *, snapshot: bool, compose_files: tuple[Path, ...] = ()
) -> list[Problem]:
    """`fleetform validate` and `ports check`: every problem of the catalog at `path` and
    the compose files, or, with `snapshot`, of the port snapshot at `path` and the compose
    files (`check_snapshot`); `InputError` when they make the input invalid."""
    if snapshot:
        return check_snapshot(path, compose_files)
    return validate(path, compose_files).problems
