"""`fleetform down`: remove what `fleetform up` started.

Every container of the project goes with its anonymous volumes, then the project's networks;
named volumes (the catalog's data volumes) survive. The teardown is the one
`generator.stack.compose` gives `verify --live` too; afterwards it asks the engine whether
anything of the project is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.catalog.model import Catalog
from generator.catalog.profiles import UNPROFILED, compose_profiles, profile_services
from generator.errors import EngineError
from generator.stack.compose import orchestration_project, teardown
from generator.stack.engine import Connect


@dataclass(frozen=True)
class DownResult:
    project: str
    profile: str
    removed: tuple[str, ...]  # containers
    outside_profile: tuple[str, ...]  # services removed that the profile does not run
    networks: tuple[str, ...]  # removed
    anonymous_volumes: tuple[str, ...]  # removed with their containers
    kept_volumes: tuple[str, ...]  # named volumes of the project, kept on purpose
    leftovers: tuple[str, ...]  # anything of the project the engine still has

    @property
    def ok(self) -> bool:
        return not self.leftovers


def down(catalog: Catalog, profile: str, project: str, connect: Connect) -> DownResult:
    """Remove the project's containers (with their anonymous volumes) and networks.

    Compose only acts on the services of the profiles it is given, so it gets every profile
    of the file: a project has one network, and containers of another profile left on a
    removed network could never start again. Those are named in the result. A step Compose
    or the engine refuses is an `EngineError`; an unknown profile a `UsageError`, before
    `connect` is called.
    """
    members = profile_services(catalog, profile)
    client = connect()
    every_profile = sorted(
        {p for ps in compose_profiles(catalog).values() for p in ps} | {UNPROFILED}
    )
    with orchestration_project(catalog, project, every_profile, "down") as compose:
        removal = teardown(client, compose)
    if removal.failures:
        first = removal.failures[0]
        raise EngineError(action=first.action, reason=first.reason)
    return DownResult(
        project=project,
        profile=profile,
        removed=removal.removed,
        outside_profile=tuple(sorted({c.service for c in removal.containers} - members)),
        networks=removal.networks,
        anonymous_volumes=removal.anonymous_volumes,
        kept_volumes=removal.kept_volumes,
        leftovers=removal.leftovers,
    )
