"""Deployment profiles: which services a profile runs, and which profiles run a service.

A profile's members are what it names (services, every service of its groups, recursively
its included profiles), every service that names the profile in its own `profiles:`, and
always the core cluster (seed 000: core is always running); the whole set is then closed
under `depends_on`, so a profile never needs anything outside itself. DDEV services are
members like any other: DDEV starts them, not compose, but they still belong to the profile.
"""

from __future__ import annotations

from generator.catalog.graph import start_order, transitive
from generator.catalog.model import Catalog, Cluster, Runtime
from generator.errors import UsageError


def profile_services(catalog: Catalog, profile_id: str) -> set[str]:
    """Every service profile `profile_id` runs, dependencies and the core cluster included."""
    if profile_id not in catalog.profiles:
        known = ", ".join(sorted(catalog.profiles)) or "none"
        raise UsageError(message=f"unknown profile {profile_id!r}; the catalog's profiles: {known}")
    return profile_closures(catalog)[profile_id]


# The compose profile of services that no catalog profile needs: without a profile they
# would always start. A catalog profile id is a DNS-1123 label, so it can never be this.
UNPROFILED = "not_in_any_profile"


def compose_profiles(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """The compose `profiles:` of every service compose starts (DDEV services are not).

    Empty for the core cluster and everything it depends on: they always run. Otherwise the
    catalog profiles whose closure holds the service, sorted; so `--profile P` enables
    exactly `profile_services(P)` minus DDEV. A service no profile needs, and its
    dependencies, get `UNPROFILED` so they start only when asked for.
    """
    closures = profile_closures(catalog)
    edges = dependency_edges(catalog)
    always = transitive(edges, always_on_roots(catalog))
    result = {
        sid: () if sid in always else tuple(p for p in closures if sid in closures[p])
        for sid, s in catalog.services.items()
        if s.runtime is not Runtime.DDEV
    }
    orphans = [sid for sid, profiles in result.items() if not profiles and sid not in always]
    for sid in sorted(transitive(edges, orphans) - always):
        if sid in result:
            result[sid] = (*result[sid], UNPROFILED)
    return result


def profile_closures(catalog: Catalog) -> dict[str, set[str]]:
    """`profile_services` of every profile of the catalog at once."""
    declared: dict[str, set[str]] = {pid: set() for pid in catalog.profiles}
    by_group: dict[str, set[str]] = {gid: set() for gid in catalog.groups}
    for service in catalog.services.values():
        by_group[service.group].add(service.id)
        for pid in service.profiles:
            declared[pid].add(service.id)
    # Included profiles first (graph.start_order), so each profile adds up finished sets:
    # no recursion, however deep the includes go. The catalog has no include cycle: the
    # checks reject one before any catalog gets here.
    includes = {pid: [r.name for r in p.include] for pid, p in catalog.profiles.items()}
    named: dict[str, set[str]] = {}
    for pid in start_order(includes):
        profile = catalog.profiles[pid]
        members = {ref.name for ref in profile.services} | declared[pid]
        for ref in profile.groups:
            members |= by_group[ref.name]
        for included in includes[pid]:
            members |= named[included]
        named[pid] = members
    roots = always_on_roots(catalog)
    edges = dependency_edges(catalog)
    return {pid: transitive(edges, named[pid] | roots) for pid in sorted(catalog.profiles)}


def always_on_roots(catalog: Catalog) -> set[str]:
    """The core cluster's services: part of every profile and of no profile at all."""
    return {
        s.id for s in catalog.services.values() if catalog.groups[s.group].cluster is Cluster.CORE
    }


def dependency_edges(catalog: Catalog) -> dict[str, list[str]]:
    """Service id -> the ids it depends on, for the functions of `generator.catalog.graph`."""
    return {sid: [d.name for d in s.depends_on] for sid, s in catalog.services.items()}
