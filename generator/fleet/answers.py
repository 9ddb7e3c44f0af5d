"""The one mapping from a catalog service to the Copier answers of its repository.

The answers contract is `schemas/service.schema.json` (the questions of `copier.yml`); every
answer set is validated against it before Copier sees it, so a bad value is reported at its
place in the catalog and nothing is rendered.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import yaml

from generator.catalog.graph import start_order, transitive
from generator.catalog.model import Catalog, Runtime, Service
from generator.catalog.schema import describe_schema_error, schema_validator
from generator.errors import InputError, UsageError
from generator.problems import Problem

Answers = dict[str, Any]

# Which catalog key an answer comes from, so an answer problem points at the user's line.
_ANSWER_SOURCES = {
    "service_name": "",
    "description": "description",
    "owner": "owner",
    "registry": "registry",
    "port": "port",
    "container_port": "container_port",
    "extra_ports": "extra_ports",
    "health_path": "health",
    "volume": "volume",
    "env": "env",
    "autoscaling": "autoscaling",
    "environments": "environments",
    "base_image": "base_image",
}


def service_answers(catalog: Catalog, service_id: str) -> Answers:
    """The validated Copier answers of one generated service."""
    answers = unvalidated_answers(catalog, service_id)
    validate_answers(catalog, service_id, answers)
    return answers


def unvalidated_answers(catalog: Catalog, service_id: str) -> Answers:
    """The answers before the template's contract is checked: for a caller that knows they
    were validated already (the same answers recorded by the same fleetform version)."""
    return _answers(catalog, _generated(catalog, service_id))


def validate_answers(catalog: Catalog, service_id: str, answers: Answers) -> None:
    """InputError with every way `answers` break the template's contract."""
    problems = answer_problems(_generated(catalog, service_id), answers)
    if problems:
        raise InputError(problems=problems)


def answers_yaml(answers: Answers) -> str:
    """Answers as a YAML document that `copier copy --data-file` reads back unchanged."""
    return yaml.safe_dump(answers, sort_keys=False, allow_unicode=True, width=1000)


def _generated(catalog: Catalog, service_id: str) -> Service:
    service = catalog.services.get(service_id)
    if service is None:
        raise UsageError(message=f"unknown service {service_id!r}")
    if not service.runtime.generated:
        raise UsageError(
            message=f"service {service_id!r} is an {service.runtime.value} service:"
            " fleetform catalogues it but does not generate a repository for it"
        )
    return service


def _answers(catalog: Catalog, service: Service) -> Answers:
    local, external = _dependency_closure(catalog, service)
    return {
        "service_name": service.id,
        "platform": catalog.name,
        "description": service.description,
        "group": service.group,
        "cluster": catalog.groups[service.group].cluster.value,
        "runtime": service.runtime.value,
        "owner": service.owner,
        "registry": service.registry,
        "port": service.port.port,
        "container_port": service.port.container_port,
        "protocol": service.port.protocol,
        "extra_ports": [
            {
                "name": p.name,
                "port": p.port,
                "container_port": p.container_port,
                "protocol": p.protocol,
            }
            for p in service.extra_ports
        ],
        # The catalog's own entries, never copier.yml's presets of the common data services.
        "data_services": [],
        "dependencies": [_dependency(catalog.services[name], local) for name in local],
        "direct_dependencies": [d.name for d in service.depends_on if d.name in local],
        "external_dependencies": external,
        "dependants": _dependants(catalog, service),
        "resources": service.resources.value,
        "gpu": service.gpu,
        "health_path": service.health.path,
        "health_class": service.health.health_class.value,
        "volume": service.volume or "",
        "env": list(service.env),
        "autoscaling": {
            "enabled": service.autoscaling.enabled,
            "min": service.autoscaling.min,
            "max": service.autoscaling.max,
            "cpu": service.autoscaling.cpu,
            "memory": service.autoscaling.memory,
        },
        "environments": list(service.environments),
        # Only what the catalog gives: the template holds the defaults of each `like`. Empty,
        # the question is skipped and not recorded (copier.yml).
        "environment_settings": {
            name: catalog.environments[name].settings()
            for name in service.environments
            if name in catalog.environments and catalog.environments[name].settings()
        },
        # Empty: the template's pin for the runtime, so a template release can move it.
        "base_image": service.base_image or "",
    }


def _dependency_closure(catalog: Catalog, service: Service) -> tuple[list[str], list[str]]:
    """Services to run locally with this one (deepest first), and DDEV-managed ones.

    DDEV services are started by DDEV, not by the compose file, so the walk stops at them.
    """
    edges = _links(catalog).local
    needed = transitive(edges, [service.id]) - {service.id}
    local = [name for name in start_order({n: edges[n] for n in needed}) if name in needed]
    external = sorted(
        {
            d.name
            for sid in (service.id, *needed)
            for d in catalog.services[sid].depends_on
            if catalog.services[d.name].runtime is Runtime.DDEV
        }
    )
    return local, external


def _dependants(catalog: Catalog, service: Service) -> list[str]:
    """The services that depend on this one directly: the callers its NetworkPolicy admits.

    DDEV services run outside the cluster, so no policy can name their pods.
    """
    return list(_links(catalog).dependants.get(service.id, ()))


@dataclass(frozen=True)
class _Links:
    local: dict[str, list[str]]  # service -> what it needs that compose starts (not DDEV)
    dependants: dict[str, list[str]]  # service -> who calls it from inside the cluster, sorted


# Built once per catalog, not once per service: at 1,000 services the per-service scans of
# every other service were most of a generate with nothing to do (seconds, quadratic).
_LINKS: dict[int, _Links] = {}


def _links(catalog: Catalog) -> _Links:
    found = _LINKS.get(id(catalog))
    if found is not None:
        return found
    services = catalog.services
    local = {
        sid: [d.name for d in s.depends_on if services[d.name].runtime is not Runtime.DDEV]
        for sid, s in services.items()
    }
    dependants: dict[str, set[str]] = {}
    for sid, other in services.items():
        if other.runtime is not Runtime.DDEV:
            for d in other.depends_on:
                dependants.setdefault(d.name, set()).add(sid)
    links = _Links(local, {name: sorted(ids) for name, ids in dependants.items()})
    _LINKS[id(catalog)] = links
    # The catalog is immutable; when it goes, so does its entry (before its id can be reused).
    weakref.finalize(catalog, _LINKS.pop, id(catalog), None)
    return links


def _dependency(service: Service, local: list[str]) -> Answers:
    generated = service.runtime.generated
    # A generated sibling: its repository only; the compose file adds `:${<ID>_TAG:-latest}`,
    # the tag variable of the orchestration file.
    image = service.image if service.image else f"{service.registry}/{service.id}"
    return {
        "name": service.id,
        "runtime": service.runtime.value,
        "image": image,
        "container_port": service.port.container_port,
        "port": service.port.port,
        "health_path": service.health.path,
        "health_test": [] if generated else list(service.health.command),
        "health_class": service.health.health_class.value,
        "volume": service.volume or "",
        "env": list(service.env),
        "depends_on": [d.name for d in service.depends_on if d.name in local],
        "gpu": service.gpu,
        "resources": service.resources.value,
        "command": list(service.command),
    }


def answer_problems(service: Service, answers: Answers) -> list[Problem]:
    """Every way the answers break the template's contract, placed at the catalog's key."""
    problems = []
    for error in schema_validator("service.schema.json").iter_errors(answers):
        path = list(error.absolute_path)
        answer = str(path[0]) if path else ""
        where = service.where(_ANSWER_SOURCES.get(answer, ""))
        dotted = ".".join(str(step) for step in path) or "answers"
        message = describe_schema_error(error)
        problems.append(Problem(where, f"service {service.id!r}: answer {dotted}: {message}"))
    return sorted(set(problems))
