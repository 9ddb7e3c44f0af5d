"""Semantic checks of a catalog's model: references, cycles, repositories, runtime rules.

A catalog with any of these problems is invalid input (nothing can be generated from it);
port conflicts are the port registry's job (`generator.catalog.ports`). The model holds only
what passed the schema; a reference to an entry the schema refused (`Catalog.omitted_*`) is
not reported as unknown: that entry's own problem is.
"""

from __future__ import annotations

from collections.abc import Iterator

from generator.catalog.environments import environment_problems
from generator.catalog.globs import owned_problems
from generator.catalog.graph import find_cycles
from generator.catalog.model import Catalog, Runtime, Service
from generator.catalog.remotes import remote_problems
from generator.problems import Location, Problem, Severity


def semantic_problems(catalog: Catalog) -> list[Problem]:
    problems = [
        *owned_problems(catalog),
        *_group_ranges(catalog),
        *_references(catalog),
        *_runtime_rules(catalog),
        *_repositories(catalog),
        *remote_problems(catalog),
        *environment_problems(catalog),
        *_dependency_cycles(catalog),
        *_profile_cycles(catalog),
    ]
    return sorted(problems)


def _group_ranges(catalog: Catalog) -> Iterator[Problem]:
    for group in catalog.groups.values():
        low, high = group.ports.low, group.ports.high
        if high > 65535 or low < 1:
            yield Problem(
                group.ports_location,
                f"group {group.id!r}: port range {group.ports} must lie within 1-65535",
            )
        elif low > high:
            yield Problem(
                group.ports_location,
                f"group {group.id!r}: port range {group.ports} is empty (low is above high)",
            )


def _references(catalog: Catalog) -> Iterator[Problem]:
    for service in catalog.services.values():
        if service.group not in catalog.groups and service.group not in catalog.omitted_groups:
            yield Problem(
                service.where("group"),
                f"service {service.id!r}: unknown group {service.group!r}"
                f" (groups: {', '.join(sorted(catalog.groups))})",
            )
        for dep in service.depends_on:
            if dep.name == service.id:
                yield Problem(dep.location, f"service {service.id!r} depends on itself")
            elif dep.name not in catalog.services and dep.name not in catalog.omitted_services:
                yield Problem(
                    dep.location, f"service {service.id!r}: unknown dependency {dep.name!r}"
                )
        for name in service.profiles:
            if name not in catalog.profiles and name not in catalog.omitted_profiles:
                yield Problem(
                    service.where("profiles"),
                    f"service {service.id!r}: unknown profile {name!r}",
                )
    for profile in catalog.profiles.values():
        for ref in profile.services:
            if ref.name not in catalog.services and ref.name not in catalog.omitted_services:
                yield Problem(ref.location, f"profile {profile.id!r}: unknown service {ref.name!r}")
        for ref in profile.groups:
            if ref.name not in catalog.groups and ref.name not in catalog.omitted_groups:
                yield Problem(ref.location, f"profile {profile.id!r}: unknown group {ref.name!r}")
        for ref in profile.include:
            if ref.name not in catalog.profiles and ref.name not in catalog.omitted_profiles:
                yield Problem(ref.location, f"profile {profile.id!r}: unknown profile {ref.name!r}")


def _runtime_rules(catalog: Catalog) -> Iterator[Problem]:
    for service in catalog.services.values():
        yield from _runtime_rule(service)


def _runtime_rule(service: Service) -> Iterator[Problem]:
    sid = service.id
    if service.runtime is Runtime.MODEL and service.gpu < 1:
        yield Problem(
            service.where("gpu"),
            f"service {sid!r}: a model service needs 'gpu' (at least 1)",
        )
    if service.runtime is Runtime.IMAGE and not service.image:
        yield Problem(service.where("runtime"), f"service {sid!r}: an image service needs 'image'")
    if service.image and service.runtime is not Runtime.IMAGE:
        yield Problem(
            service.where("image"),
            f"service {sid!r}: 'image' is only for image services; {service.runtime.value}"
            " services are built from their repository",
        )
    if service.command and service.runtime is not Runtime.IMAGE:
        yield Problem(
            service.where("command"),
            f"service {sid!r}: 'command' is only for image services; a"
            f" {service.runtime.value} service's command is in its Dockerfile",
        )
    if service.base_image and not service.runtime.generated and "base_image" in service.fields:
        yield Problem(
            service.where("base_image"),
            f"service {sid!r}: 'base_image' is only for node, python and model services;"
            f" {service.runtime.value} services are not built by fleetform",
        )
    yield from _port_names(service)
    scaling = service.autoscaling
    # Off or on: the answers keep min <= max either way (copier.yml's autoscaling validator).
    if scaling.min > scaling.max:
        yield Problem(
            service.where("autoscaling"),
            f"service {sid!r}: autoscaling min {scaling.min} is above max {scaling.max}",
        )
    if service.runtime is Runtime.DDEV and service.depends_on:
        yield Problem(
            service.where("depends_on"),
            f"service {sid!r}: a ddev service is managed by DDEV; fleetform cannot order its"
            " dependencies",
            Severity.WARNING,
        )


def _port_names(service: Service) -> Iterator[Problem]:
    """Extra port names are the Kubernetes names of the ports: distinct, and not the main
    port's `http` (the chart refuses a name used twice)."""
    first: dict[str, Location] = {}
    for port in service.extra_ports:
        where = port.name_location or port.location
        if port.name == service.port.name:
            yield Problem(
                where,
                f"service {service.id!r}: extra port name {port.name!r} is the main port's"
                " name; pick another",
            )
        elif port.name in first:
            yield Problem(
                where,
                f"service {service.id!r}: extra port name {port.name!r} is used twice"
                f" (first at {first[port.name]})",
            )
        else:
            first[port.name] = where


def _repositories(catalog: Catalog) -> Iterator[Problem]:
    """Each generated service renders into a repository of its own, none inside another's
    work tree. Paths compare without case: macOS and Windows file systems ignore it."""
    owners: dict[tuple[str, ...], Service] = {}  # a repository's parts -> its service
    above: dict[tuple[str, ...], Service] = {}  # every folder above a repository -> one of them
    for service in catalog.generated_services():
        parts = tuple(service.repo.lower().split("/"))
        where = service.where("repo")
        other = owners.get(parts)
        if other is not None:
            yield Problem(where, f"service {service.id!r}: {_same_repository(service, other)}")
            continue
        outer = next((owners[parts[:n]] for n in range(1, len(parts)) if parts[:n] in owners), None)
        inner = above.get(parts)
        if outer is not None:
            yield Problem(
                where,
                f"service {service.id!r}: repository {service.repo!r} would be inside the work"
                f" tree of {outer.repo!r}, the repository of service {outer.id!r}"
                f" ({outer.where('repo')}); {_NESTED}",
            )
        elif inner is not None:
            yield Problem(
                where,
                f"service {service.id!r}: repository {service.repo!r} would hold {inner.repo!r},"
                f" the repository of service {inner.id!r} ({inner.where('repo')}), in its work"
                f" tree; {_NESTED}",
            )
        owners[parts] = service
        for n in range(1, len(parts)):
            above.setdefault(parts[:n], service)


_NESTED = "git would take one repository's files for untracked files of the other"


def _same_repository(service: Service, other: Service) -> str:
    where = f"the repository of service {other.id!r} ({other.where('repo')})"
    if other.repo == service.repo:
        return f"repository {service.repo!r} is already {where}; each service needs its own"
    return (
        f"repository {service.repo!r} and {other.repo!r}, {where}, are one folder where file"
        " names ignore case (macOS, Windows); each service needs its own"
    )


def _dependency_cycles(catalog: Catalog) -> Iterator[Problem]:
    edges = {
        sid: [d.name for d in s.depends_on if d.name in catalog.services and d.name != sid]
        for sid, s in catalog.services.items()
    }
    for cycle in find_cycles(edges):
        first = catalog.services[cycle[0]]
        dep = next(d for d in first.depends_on if d.name == cycle[1])
        yield Problem(dep.location, f"dependency cycle: {' -> '.join(cycle)}")


def _profile_cycles(catalog: Catalog) -> Iterator[Problem]:
    edges = {
        pid: [r.name for r in p.include if r.name in catalog.profiles]
        for pid, p in catalog.profiles.items()
    }
    for cycle in find_cycles(edges):
        first = catalog.profiles[cycle[0]]
        ref = next(r for r in first.include if r.name == cycle[1])
        yield Problem(ref.location, f"profile include cycle: {' -> '.join(cycle)}")
