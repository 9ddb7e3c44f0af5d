"""Semantic checks of the catalog's environments and of the environments each service names.

The schema checks each name and setting; what needs the whole catalog is here: a service may
only name an environment the catalog has, and an environment other than the built-in three
must say which of them it is like (its values file, replicas and autoscaling take that shape).
The settings' defaults per `like` live in the template (`template/includes/environments.jinja`).
"""

from __future__ import annotations

from collections.abc import Iterator

from generator.catalog.model import Catalog
from generator.problems import Problem

BUILT_IN = ("local", "staging", "production")


def environment_problems(catalog: Catalog) -> Iterator[Problem]:
    for environment in catalog.environments.values():
        if environment.like is None and environment.name not in BUILT_IN:
            yield Problem(
                environment.location,
                f"environment {environment.name!r}: say which built-in environment it is like"
                " (like: local, staging or production)",
            )
    known = ", ".join(catalog.environments)
    for service in catalog.services.values():
        for name in service.environments:
            if name not in catalog.environments:
                yield Problem(
                    service.where("environments"),
                    f"service {service.id!r}: unknown environment {name!r}"
                    f" (the catalog's environments: {known})",
                )
