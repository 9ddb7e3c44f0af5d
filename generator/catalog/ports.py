"""The port registry: conflicts, ranges and allocation across the catalog and compose files.

What a compose file publishes is read by `generator.catalog.compose_ports`; this module turns
it into claims and holds them against the catalog's (or, in a service repository without the
catalog, against a snapshot's: `generator.fleet.ports_snapshot`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator.catalog.compose_ports import PublishedPort, published_ports
from generator.catalog.model import Catalog, Group, Service
from generator.errors import InputError, RangeFullError, UsageError
from generator.problems import Location, Problem, Severity


@dataclass(frozen=True)
class PortClaim:
    """One host port someone publishes: a catalog service or a compose file's service."""

    port: int
    protocol: str
    owner: str
    label: str
    location: Location
    catalog_service: str | None = None
    from_compose: bool = False

    def describe(self) -> str:
        return f"{self.label} ({self.location})"


@dataclass(frozen=True)
class PortReport:
    """Every port problem; `unreadable` are those of compose files that could not be read at
    all (invalid input, where `problems` are a check's findings)."""

    problems: list[Problem]
    claims: list[PortClaim] = field(default_factory=list)
    unreadable: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]


# ------------------------------------------------------------------ catalog


def catalog_claims(catalog: Catalog) -> list[PortClaim]:
    claims = []
    for service in catalog.services.values():
        for port in service.ports:
            label = service.id if port is service.port else f"{service.id}/{port.name}"
            claims.append(
                PortClaim(port.port, port.protocol, service.id, label, port.location, service.id)
            )
    return claims


def _range_problems(catalog: Catalog) -> Iterator[Problem]:
    for service in catalog.services.values():
        group = catalog.groups.get(service.group)
        if group is None or not group.ports.valid:  # unknown or invalid: `rules` says so
            continue
        outside = [p for p in service.ports if p.port not in group.ports]
        if outside and service.port_exception:
            continue
        for port in outside:
            yield Problem(
                port.location,
                f"port {port.port} of {service.id!r} is outside the range {group.ports} of group"
                f" {group.id!r}{_inside_other(catalog, port.port)}; move it into the range or"
                ' explain with port_exception: "<reason>"',
            )
        if not outside and service.port_exception:
            yield Problem(
                service.where("port_exception"),
                f"{service.id!r} has a port_exception but all its ports are inside the range"
                f" {group.ports} of group {group.id!r}",
                Severity.WARNING,
            )


def _inside_other(catalog: Catalog, port: int) -> str:
    """Where a stray port lands instead: inside another group's block is the worse case."""
    for group in catalog.groups.values():
        if group.ports.valid and port in group.ports:
            return f" and inside the range {group.ports} of group {group.id!r}"
    return ""


def _overlap_problems(catalog: Catalog) -> Iterator[Problem]:
    valid = [g for g in catalog.groups.values() if g.ports.valid]
    groups = sorted(valid, key=lambda g: g.ports_location)
    for index, group in enumerate(groups):
        for earlier in groups[:index]:
            if group.ports.overlaps(earlier.ports):
                yield Problem(
                    group.ports_location,
                    f"group {group.id!r} range {group.ports} overlaps group {earlier.id!r}"
                    f" range {earlier.ports} ({earlier.ports_location})",
                )


def _conflict_problems(claims: Iterable[PortClaim]) -> Iterator[Problem]:
    by_port: dict[tuple[int, str], list[PortClaim]] = defaultdict(list)
    for claim in claims:
        by_port[(claim.port, claim.protocol)].append(claim)
    for (port, protocol), parties in sorted(by_port.items()):
        owners = {c.owner for c in parties}
        if len(owners) < 2:
            continue
        # Catalog first, then compose files: the problem is shown where the newcomer is.
        parties = sorted(parties, key=lambda c: (c.from_compose, c.location))
        second = next(c for c in parties if c.owner != parties[0].owner)
        names = ", ".join(c.describe() for c in parties)
        yield Problem(second.location, f"port {port}/{protocol} is claimed more than once: {names}")


# ------------------------------------------------------------------ compose files


def compose_claims(
    path: Path, registered: Mapping[str, object]
) -> tuple[list[PortClaim], list[Problem]]:
    """The compose file's published ports as claims, and the entries it could not read;
    `registered`: the services of the registry (a catalog's, a snapshot's), by id."""
    published, problems = published_ports(path)
    return [_compose_claim(port, registered) for port in published], problems


def _compose_claim(published: PublishedPort, registered: Mapping[str, object]) -> PortClaim:
    """A service the registry knows claims as itself; any other as `FILE:SERVICE`, so the same
    name in two compose files is two owners."""
    name = published.service
    catalogued = name in registered
    return PortClaim(
        published.port,
        published.protocol,
        name if catalogued else f"{published.location.path}:{name}",
        name,
        published.location,
        name if catalogued else None,
        from_compose=True,
    )


def _compose_against_registry(
    claims: list[PortClaim], registered: Mapping[str, list[PortClaim]]
) -> Iterator[Problem]:
    """A registered service's compose entry must publish its registered port and no other."""
    by_service: dict[tuple[str, str], list[PortClaim]] = defaultdict(list)
    for claim in claims:
        if claim.catalog_service:
            by_service[(claim.catalog_service, claim.location.path)].append(claim)
    for (sid, _path), published in sorted(by_service.items()):
        ports = registered[sid]
        main = ports[0]
        allowed = {(p.port, p.protocol) for p in ports}
        wanted = ", ".join(f"{p.port}/{p.protocol}" for p in ports)
        strays = [c for c in published if (c.port, c.protocol) not in allowed]
        for claim in strays:
            yield Problem(
                claim.location,
                f"service {sid!r} publishes {claim.port}/{claim.protocol} but the catalog"
                f" gives it {wanted} ({main.location})",
            )
        if not strays and (main.port, main.protocol) not in {
            (c.port, c.protocol) for c in published
        }:
            yield Problem(
                published[0].location,
                f"service {sid!r} does not publish its catalog port"
                f" {main.port}/{main.protocol} ({main.location})",
            )


# ------------------------------------------------------------------ entry points


def check_ports(catalog: Catalog, compose_files: Iterable[Path] = ()) -> PortReport:
    """Every port problem of the catalog and of the given compose files, sorted by position."""
    groups = [*_range_problems(catalog), *_overlap_problems(catalog)]
    return check_claims(catalog_claims(catalog), compose_files, groups)


def check_claims(
    claims: list[PortClaim], compose_files: Iterable[Path] = (), problems: Iterable[Problem] = ()
) -> PortReport:
    """The registry's `claims` against each other and against the compose files, with the
    registry's own `problems`; the claims of one service come main port first. The registry
    is a catalog's (`check_ports`) or a snapshot's (`generator.fleet.ports_snapshot`)."""
    registered: dict[str, list[PortClaim]] = defaultdict(list)
    for claim in claims:
        registered[claim.owner].append(claim)
    found_problems = list(problems)
    compose: list[PortClaim] = []
    unreadable: list[Problem] = []
    for path in compose_files:
        try:
            found, trouble = compose_claims(path, registered)
        except InputError as exc:  # not YAML, not a compose file: the others are still checked
            unreadable.extend(exc.problems)
            continue
        compose.extend(found)
        found_problems.extend(trouble)
    found_problems.extend(_compose_against_registry(compose, registered))
    # A registered service's own compose entry is the same claim as its registry entry; drop
    # it from conflict detection when it agrees, so only real collisions remain.
    agreeing = {(c.port, c.protocol, c.owner) for c in claims}
    compose_only = [c for c in compose if (c.port, c.protocol, c.owner) not in agreeing]
    found_problems.extend(_conflict_problems([*claims, *compose_only]))
    return PortReport(sorted(found_problems), [*claims, *compose], sorted(unreadable))


def used_ports(catalog: Catalog) -> set[int]:
    return {claim.port for claim in catalog_claims(catalog)}


def allocate(catalog: Catalog, group_id: str) -> int:
    """The lowest port of the group's range that no catalog service uses, in any protocol."""
    group = _group(catalog, group_id)
    used = used_ports(catalog)
    for port in range(group.ports.low, group.ports.high + 1):
        if port not in used:
            return port
    raise RangeFullError(group=group.id, ports=str(group.ports))


def _group(catalog: Catalog, group_id: str) -> Group:
    group = catalog.groups.get(group_id)
    if group is None:
        raise UsageError(
            message=f"unknown group {group_id!r} (groups: {', '.join(sorted(catalog.groups))})"
        )
    return group


# ------------------------------------------------------------------ the table


def port_table(catalog: Catalog) -> str:
    """PORT_ALLOCATION.md: every port by group, with exceptions and their reasons."""
    lines = [
        f"# Port allocation: {catalog.name}",
        "",
        f"Generated by `fleetform ports table` from `{catalog.path.name}`; edit the catalog, not"
        " this file.",
        "",
        "| Group | Cluster | Range | Used | Free |",
        "| --- | --- | --- | --- | --- |",
    ]
    used = used_ports(catalog)
    for group in sorted(catalog.groups.values(), key=lambda g: g.ports.low):
        size = group.ports.high - group.ports.low + 1
        taken = sum(1 for p in used if p in group.ports)
        lines.append(
            f"| {group.id} | {group.cluster.value} | {group.ports} | {taken} | {size - taken} |"
        )
    for group in sorted(catalog.groups.values(), key=lambda g: g.ports.low):
        lines.extend(_group_section(catalog, group))
    exceptions = [s for s in catalog.services.values() if s.port_exception]
    if exceptions:
        lines += [
            "",
            "## Exceptions",
            "",
            "| Port | Service | Group range | Reason |",
            "| --- | --- | --- | --- |",
        ]
        for service in sorted(exceptions, key=lambda s: s.port.port):
            ports = ", ".join(str(p.port) for p in service.ports)
            reason = _cell(service.port_exception or "")
            group = catalog.groups[service.group]
            lines.append(f"| {ports} | {service.id} | {group.ports} | {reason} |")
    return "\n".join(lines) + "\n"


def _group_section(catalog: Catalog, group: Group) -> list[str]:
    members: list[Service] = [s for s in catalog.services.values() if s.group == group.id]
    title = f"## {group.id} ({group.cluster.value} cluster, {group.ports})"
    lines = ["", title, ""]
    if group.description:
        lines += [_cell(group.description), ""]
    lines += [
        "| Port | Protocol | Service | Runtime | Container port | Note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows = []
    for service in members:
        for port in service.ports:
            note = port.name if port is not service.port else ""
            if port.port not in group.ports:
                note = (note + " " if note else "") + "exception"
            rows.append(
                (
                    port.port,
                    port.protocol,
                    service.id,
                    service.runtime.value,
                    port.container_port,
                    note,
                )
            )
    for row in sorted(rows):
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
