"""Semantic checks of a schema-valid catalog: references, cycles, runtime rules.

A catalog with any of these problems is invalid input (nothing can be generated from it);
port conflicts are the port registry's job (`generator.catalog.ports`).
"""

from __future__ import annotations

from collections.abc import Iterator

from generator.catalog.graph import find_cycles
from generator.catalog.model import Catalog, Runtime, Service
from generator.problems import Problem, Severity


def semantic_problems(catalog: Catalog) -> list[Problem]:
    problems = [
        *_group_ranges(catalog),
        *_references(catalog),
        *_runtime_rules(catalog),
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
        if service.group not in catalog.groups:
            yield Problem(
                service.where("group"),
                f"service {service.id!r}: unknown group {service.group!r}"
                f" (groups: {', '.join(sorted(catalog.groups))})",
            )
        for dep in service.depends_on:
            if dep.name == service.id:
                yield Problem(dep.location, f"service {service.id!r} depends on itself")
            elif dep.name not in catalog.services:
                yield Problem(
                    dep.location, f"service {service.id!r}: unknown dependency {dep.name!r}"
                )
        for name in service.profiles:
            if name not in catalog.profiles:
                yield Problem(
                    service.where("profiles"),
                    f"service {service.id!r}: unknown profile {name!r}",
                )
    for profile in catalog.profiles.values():
        for ref in profile.services:
            if ref.name not in catalog.services:
                yield Problem(ref.location, f"profile {profile.id!r}: unknown service {ref.name!r}")
        for ref in profile.groups:
            if ref.name not in catalog.groups:
                yield Problem(ref.location, f"profile {profile.id!r}: unknown group {ref.name!r}")
        for ref in profile.include:
            if ref.name not in catalog.profiles:
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
    scaling = service.autoscaling
    if scaling.enabled and scaling.min > scaling.max:
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
