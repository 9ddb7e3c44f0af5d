"""The platform-wide compose file (seed 000's `docker-compose.orchestrate.yml`).

One file runs the whole catalog: the core cluster always, every other service under the
compose profiles of the catalog profiles whose closure contains it (`generator.catalog.profiles`),
so `docker compose --profile P up` starts exactly profile P. DDEV services are not compose
services: they are listed under `x-external-services` and dependencies on them are dropped.

It follows the conventions of a service's own `infrastructure/docker-compose.yml` (the
Copier template): seed 003's x- templates merged with YAML anchors, its health classes and
resource tiers, json-file log rotation, GPU reservations, and every value from the catalog
written as a JSON string (a valid YAML scalar) with `$` doubled, so no catalog text can
inject YAML or compose interpolation. None of those conventions is copied here: the x-
blocks and each service's `deploy` section come from the template's `compose.jinja` (which
takes the tier sizes from `tiers.jinja`), the HTTP health check of generated runtimes from
its `health.jinja`.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from generator.catalog.graph import start_order
from generator.catalog.model import Catalog, Runtime, Service
from generator.catalog.profiles import compose_profiles
from generator.files import write_atomically
from generator.resources import TEMPLATE_INCLUDES, TEMPLATE_ROOT

HEALTH_MACROS = f"{TEMPLATE_INCLUDES}/health.jinja"
NAME_MACROS = f"{TEMPLATE_INCLUDES}/names.jinja"
COMPOSE_MACROS = f"{TEMPLATE_INCLUDES}/compose.jinja"
NETWORK = "platform"


def orchestrate(catalog: Catalog, output: Path | None = None) -> str:
    """`fleetform orchestrate`: the orchestration compose file's text, also written
    (atomically) to `output` when one is given."""
    text = orchestrate_yaml(catalog)
    if output is not None:
        write_atomically(output, text)
    return text


def orchestrate_yaml(catalog: Catalog) -> str:
    """The orchestration compose file of the whole catalog, as YAML text."""
    compose = {sid: s for sid, s in catalog.services.items() if s.runtime is not Runtime.DDEV}
    external = sorted(sid for sid in catalog.services if sid not in compose)
    profiles = compose_profiles(catalog)
    edges = {sid: [d.name for d in s.depends_on if d.name in compose] for sid, s in compose.items()}
    healthy = {sid: _health_test(s) is not None for sid, s in compose.items()}
    lines = [
        *_header(catalog),
        f"name: {_q(catalog.name)}",
        "",
        *_compose_macros().x_blocks(NETWORK, tier_anchors=True).split("\n"),
    ]
    if external:
        lines += [
            "",
            "# Catalogued services that this file does not start: DDEV runs them. Services that",
            "# depend on one say so in a comment; start it with `ddev start` in its repository.",
            "x-external-services:",
        ]
        for sid in external:
            lines += [
                f"  - name: {_q(sid)}",
                f"    port: {catalog.services[sid].port.port:d}",
                f"    note: {_q('managed by DDEV')}",
            ]
    lines += ["", "services:"]
    for index, sid in enumerate(start_order(edges)):
        if index:
            lines.append("")
        lines += _service(catalog, compose[sid], profiles[sid], healthy)
    lines += [
        "",
        "networks:",
        f"  {_q(NETWORK)}:",
        f"    name: {_q(catalog.name + '_network')}",
        f"    driver: {_q('bridge')}",
    ]
    volumes = sorted(sid for sid, s in compose.items() if s.volume)
    if volumes:
        lines += ["", "volumes:"]
        for sid in volumes:
            lines += [f"  {_q(sid + '-data')}:", f"    name: {_q(f'{catalog.name}_{sid}_data')}"]
    return "\n".join(lines) + "\n"


def tag_variable(service_id: str) -> str:
    """The environment variable choosing a generated service's image tag: agent-brain ->
    AGENT_BRAIN_TAG. Ids may start with a digit, variable names may not: 3d -> _3D_TAG.
    The template's rule (`names.jinja`), so each repository's compose file names the same
    variable for a sibling service."""
    return str(_template_include(NAME_MACROS).tag_variable(service_id))


def _q(value: object) -> str:
    """A YAML value in a compose file: JSON (a valid YAML scalar or flow collection), `$`
    doubled so compose does not interpolate it. The template's `q.compose` macro, in Python."""
    return json.dumps(value, ensure_ascii=False).replace("$", "$$")


def _header(catalog: Catalog) -> list[str]:
    profiles = ", ".join(sorted(catalog.profiles)) or "none"
    return [
        f"# Orchestration of the whole {catalog.name} platform (seed 000's",
        "# docker-compose.orchestrate.yml). Written by `fleetform orchestrate` from the catalog:",
        "# change the catalog and regenerate, do not edit this file.",
        "#   docker compose -f docker-compose.orchestrate.yml up -d --wait              # core",
        "#   docker compose -f docker-compose.orchestrate.yml --profile P up -d --wait  # + P",
        *textwrap.wrap(
            f"Profiles: {profiles}.",
            88,
            initial_indent="# ",
            subsequent_indent="#   ",
            break_on_hyphens=False,
        ),
        "# Core services (and what they need) have no profile: they always run. Every other",
        "# service lists the catalog profiles that need it, so --profile P starts exactly P and",
        "# its dependencies. Image tags: <SERVICE>_TAG (default latest). `environment` lists",
        "# names only: values come from the shell or the .env file next to this file.",
    ]


def _service(
    catalog: Catalog, service: Service, profiles: Sequence[str], healthy: dict[str, bool]
) -> list[str]:
    group = catalog.groups[service.group]
    lines = [f"  {_q(service.id)}:", "    <<: *service"]
    # `healthy` has every compose service: a dependency outside it is a DDEV service.
    for dep in sorted({d.name for d in service.depends_on if d.name not in healthy}):
        lines.append(
            f"    # depends on {_q(dep)}: managed by DDEV, not started here (x-external-services)"
        )
    if profiles:
        lines.append(f"    profiles: {_q(list(profiles))}")
    lines.append(f"    image: {_image(service)}")
    if service.command:
        lines.append(f"    command: {_q(list(service.command))}")
    labels = {"fleetform.cluster": group.cluster.value, "fleetform.group": service.group}
    if service.description:
        labels["fleetform.description"] = service.description
    lines += ["    labels:", *(f"      {_q(k)}: {_q(v)}" for k, v in labels.items())]
    if service.runtime.generated:
        lines += ["    security_opt:", f"      - {_q('no-new-privileges:true')}"]
    lines.append("    ports:")
    # Bound to loopback like each repository's own compose file: safe by default.
    lines += [
        f"      - {_q(f'127.0.0.1:{p.port}:{p.container_port}/{p.protocol}')}"
        for p in service.ports
    ]
    if service.env:
        lines += ["    environment:", *(f"      - {_q(name)}" for name in service.env)]
    volume = service.volume
    if volume:
        lines += ["    volumes:", f"      - {_q(f'{service.id}-data:{volume}')}"]
    test = _health_test(service)
    if test is not None:
        lines += [
            "    healthcheck:",
            f"      <<: *healthcheck-{service.health.health_class.value}",
            f"      test: {test}",
        ]
    deploy: str = _compose_macros().deploy(service.resources.value, service.gpu, tier_anchors=True)
    # It begins with the newline that ends the line before it, as the template appends it.
    lines += deploy.removeprefix("\n").split("\n")
    dependencies = sorted({d.name for d in service.depends_on if d.name in healthy})
    if dependencies:
        lines.append("    depends_on:")
        for dep in dependencies:
            condition = "service_healthy" if healthy[dep] else "service_started"
            lines += [f"      {_q(dep)}:", f"        condition: {_q(condition)}"]
    return lines


def _image(service: Service) -> str:
    if service.image:
        return _q(service.image)
    # The tag is the one place compose interpolates: everything else had its `$` doubled.
    literal = f"{service.registry}/{service.id}:".replace("$", "$$")
    return json.dumps(f"{literal}${{{tag_variable(service.id)}:-latest}}", ensure_ascii=False)


def _health_test(service: Service) -> str | None:
    """The healthcheck `test` as a YAML flow sequence, or None when the service has none.

    Generated runtimes get the per-runtime HTTP check of the template's `health_test` macro
    (the same one their Dockerfile and compose file use); an image service its exec-form
    `health.command`; an image service without a command has no check compose can run.
    """
    if service.runtime.generated:
        test: str = _health_macros().health_test(
            service.runtime.value, service.port.container_port, service.health.path, prefix=["CMD"]
        )
        return test.replace("$", "$$")
    if service.health.command:
        return _q(["CMD", *service.health.command])
    return None


def _health_macros() -> Any:
    """The template's health macros, so the orchestrated services run the very same check
    as their own Dockerfile and compose file."""
    return _template_include(HEALTH_MACROS)


def _compose_macros() -> Any:
    """The template's compose macros, so this file has the very same x- blocks, tier sizes
    and GPU reservations as each service's own compose file."""
    return _template_include(COMPOSE_MACROS)


@cache
def _template_include(name: str) -> Any:
    """A macro file of the template, loaded as Copier loads it (its default Jinja filters,
    rooted at the repository, so the file's own imports resolve as they do in Copier)."""
    return _template_environment().get_template(name).module


@cache
def _template_environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(TEMPLATE_ROOT),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )
