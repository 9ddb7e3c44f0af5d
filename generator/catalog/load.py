"""Load a catalog: read the YAML, validate it against the JSON Schema, build the model.

`load_catalog` raises every schema problem together as one `InputError`; `read_catalog` builds
the model from what the schema accepted (an entry it refused is left out, named in the
catalog's `omitted_*`), so `validate` runs the semantic and port checks on the rest. The
semantic checks that need the whole model live in `generator.catalog.rules`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.catalog.model import (
    Autoscaling,
    Catalog,
    Cluster,
    Dependency,
    Environment,
    Group,
    Health,
    HealthClass,
    Omitted,
    OwnedGlob,
    Port,
    PortRange,
    Profile,
    Runtime,
    Service,
    TemplateSetting,
    Tier,
)
from generator.catalog.remotes import DEFAULT_BRANCH, expand
from generator.catalog.schema import DataPath, check_schema
from generator.errors import InputError
from generator.problems import Location, Problem
from generator.yamlfile import YamlDocument, load_file, locate

DEFAULT_ENVIRONMENTS = ("local", "staging", "production")
DEFAULT_OWNER = "platform-team"
DEFAULT_MODEL_VOLUME = "/models"  # where a model service keeps its weights, in a named volume


def load_catalog(path: Path) -> Catalog:
    """Read and validate a catalog file; raise `InputError` listing every schema problem."""
    document = load_file(path)
    problems = check_schema(document).problems
    if problems:
        raise InputError(problems=problems)
    return build_catalog(document)


@dataclass(frozen=True)
class ReadCatalog:
    """A catalog file as far as it is well-formed: its schema problems, and the model of the
    entries the schema accepted (None: the document is no mapping, there is nothing to build)."""

    catalog: Catalog | None
    problems: list[Problem]


def read_catalog(path: Path) -> ReadCatalog:
    """Read a catalog file and build what the schema accepted; a file that is not YAML at all
    (unreadable, binary, a syntax error) is still an `InputError`."""
    document = load_file(path)
    report = check_schema(document)
    if () in report.refused:
        return ReadCatalog(None, report.problems)
    return ReadCatalog(_Builder(document, report.refused).catalog(), report.problems)


class _Builder:
    """Builds the model from plain data, recording key positions as it goes.

    `refused` are the data paths the schema refused: a service, group or profile with a
    refused value anywhere in its entry is left out whole (a service also when `defaults`,
    which it inherits, has one), and a section refused as such is left out entirely. What is
    built is schema-valid, so no rule ever sees a half-checked value.
    """

    def __init__(self, document: YamlDocument, refused: Iterable[DataPath] = ()) -> None:
        self.document = document
        self.path = str(document.path)
        self.refused_at = frozenset(refused)
        self.refused_under = {p[:n] for p in self.refused_at for n in range(len(p) + 1)}

    def refused(self, *path: Any) -> bool:
        """Whether the schema refused anything at or under `path`."""
        return path in self.refused_under

    def section(self, name: str) -> tuple[dict[Any, Any], Omitted]:
        """A section's entries that passed the schema, and the names of those that did not."""
        raw = self.document.data.get(name, {})
        if not isinstance(raw, dict) or (name,) in self.refused_at:  # not a mapping, empty, missing
            return {}, Omitted(whole=True)
        keep = {key: value for key, value in raw.items() if not self.refused(name, key)}
        return keep, Omitted(frozenset(str(key) for key in raw if key not in keep))

    def at(self, *path: Any, key: bool = False) -> Location:
        line, col = locate(self.document.tree, list(path), key=key)
        return Location(self.path, line, col)

    def catalog(self) -> Catalog:
        data = self.document.data
        name = "" if self.refused("name") else data["name"]
        groups, omitted_groups = self.section("groups")
        services, omitted_services = self.section("services")
        profiles, omitted_profiles = self.section("profiles")
        if self.refused("defaults"):  # every service inherits them
            names = omitted_services.names | {str(sid) for sid in services}
            omitted_services = Omitted(names, omitted_services.whole)
            services = {}
        defaults = data.get("defaults", {})
        template = {} if self.refused("template") else data.get("template", {})
        environments = self.environments()
        return Catalog(
            path=self.document.path,
            name=name,
            description="" if self.refused("description") else data.get("description", ""),
            template=TemplateSetting(src=template.get("src"), ref=template.get("ref")),
            groups={gid: self.group(gid, g) for gid, g in groups.items()},
            services={
                sid: self.service(sid, s, defaults, name, tuple(environments))
                for sid, s in services.items()
            },
            profiles={pid: self.profile(pid, p) for pid, p in profiles.items()},
            environments=environments,
            omitted_groups=omitted_groups,
            omitted_services=omitted_services,
            omitted_profiles=omitted_profiles,
        )

    def group(self, gid: str, raw: dict[str, Any]) -> Group:
        low, high = (int(part) for part in raw["ports"].split("-"))
        return Group(
            id=gid,
            ports=PortRange(low, high),
            cluster=Cluster(raw["cluster"]),
            description=raw.get("description", ""),
            location=self.at("groups", gid, key=True),
            ports_location=self.at("groups", gid, "ports"),
        )

    def refs(self, *path: Any, items: list[str]) -> tuple[Dependency, ...]:
        return tuple(Dependency(name, self.at(*path, i)) for i, name in enumerate(items))

    def environments(self) -> dict[str, Environment]:
        """The catalog's environments; without the section (or with a refused one), the
        built-in three, so services keep the environments they would have anyway."""
        raw = self.document.data.get("environments")
        if not isinstance(raw, dict) or self.refused("environments"):
            nowhere = self.at(key=True)
            return {n: Environment(n, None, None, None, nowhere) for n in DEFAULT_ENVIRONMENTS}
        return {
            str(name): Environment(
                name=str(name),
                like=(settings or {}).get("like"),
                deploy=(settings or {}).get("deploy"),
                network_policy=(settings or {}).get("network_policy"),
                location=self.at("environments", name, key=True),
            )
            for name, settings in raw.items()
        }

    def service(
        self,
        sid: str,
        raw: dict[str, Any],
        defaults: dict[str, Any],
        platform: str,
        environments: tuple[str, ...],
    ) -> Service:
        merged = {**defaults, **raw}
        runtime = Runtime(raw["runtime"])
        base = ("services", sid)
        protocol = merged.get("protocol", "tcp")
        port = Port(
            port=raw["port"],
            container_port=raw.get("container_port", raw["port"]),
            protocol=protocol,
            name="http",
            location=self.at(*base, "port"),
        )
        extra = tuple(
            Port(
                port=e["port"],
                container_port=e.get("container_port", e["port"]),
                protocol=e.get("protocol", "tcp"),
                name=e["name"],
                location=self.at(*base, "extra_ports", i, "port"),
                name_location=self.at(*base, "extra_ports", i, "name"),
            )
            for i, e in enumerate(raw.get("extra_ports", []))
        )
        fields = {name: self.at(*base, name, key=True) for name in raw}
        repo = raw.get("repo", sid)
        pattern = merged.get("remote")
        return Service(
            id=sid,
            group=raw["group"],
            runtime=runtime,
            port=port,
            extra_ports=extra,
            port_exception=raw.get("port_exception"),
            image=raw.get("image"),
            command=tuple(raw.get("command", ())),
            volume=raw.get("volume", DEFAULT_MODEL_VOLUME if runtime is Runtime.MODEL else None),
            env=tuple(raw.get("env", [])),
            depends_on=self.refs(*base, "depends_on", items=raw.get("depends_on", [])),
            profiles=tuple(raw.get("profiles", [])),
            resources=Tier(merged.get("resources", _default_tier(runtime))),
            gpu=raw.get("gpu", 0),
            owned_files=self.owned_files(base, raw, defaults),
            health=_health(runtime, defaults.get("health", {}), raw.get("health", {})),
            autoscaling=Autoscaling(
                **{**defaults.get("autoscaling", {}), **raw.get("autoscaling", {})}
            ),
            owner=merged.get("owner", DEFAULT_OWNER),
            registry=merged.get("registry", f"registry.example.com/{platform}"),
            environments=tuple(merged.get("environments", environments)),
            base_image=raw.get("base_image", defaults.get("base_images", {}).get(runtime.value)),
            repo=repo,
            description=raw.get("description", ""),
            location=self.at(*base, key=True),
            fields=fields,
            remote=(
                expand(pattern, repo=repo, service_id=sid)
                if pattern is not None and runtime.generated
                else None
            ),
            default_branch=merged.get("default_branch", DEFAULT_BRANCH),
            remote_pattern=pattern,
            remote_location=self.written("remote", base, raw),
            branch_location=self.written("default_branch", base, raw),
        )

    def written(self, key: str, base: tuple[str, str], raw: dict[str, Any]) -> Location | None:
        """Where a key a service may inherit is written: its own value, else `defaults`."""
        if key in raw:
            return self.at(*base, key)
        if key in self.document.data.get("defaults", {}):
            return self.at("defaults", key)
        return None

    def profile(self, pid: str, raw: dict[str, Any]) -> Profile:
        base = ("profiles", pid)
        return Profile(
            id=pid,
            description=raw.get("description", ""),
            services=self.refs(*base, "services", items=raw.get("services", [])),
            groups=self.refs(*base, "groups", items=raw.get("groups", [])),
            include=self.refs(*base, "include", items=raw.get("include", [])),
            location=self.at(*base, key=True),
        )

    def owned_files(
        self, base: tuple[str, str], raw: dict[str, Any], defaults: dict[str, Any]
    ) -> tuple[OwnedGlob, ...]:
        """`defaults.owned_files` and then the service's own: ownership adds up (there is no
        negation to take a default back), each glob once, where it is first written."""
        written = [
            OwnedGlob(glob, self.at(*path, "owned_files", i), inherited=source is defaults)
            for path, source in ((("defaults",), defaults), (base, raw))
            for i, glob in enumerate(source.get("owned_files", []))
        ]
        first: dict[str, OwnedGlob] = {}
        for owned in written:
            first.setdefault(owned.glob, owned)
        return tuple(first.values())


def _default_tier(runtime: Runtime) -> str:
    return Tier.XLARGE.value if runtime is Runtime.MODEL else Tier.MEDIUM.value


def _default_health_class(runtime: Runtime) -> HealthClass:
    if runtime is Runtime.MODEL:
        return HealthClass.MODEL
    if runtime is Runtime.IMAGE:
        return HealthClass.INFRASTRUCTURE
    return HealthClass.APPLICATION


def _health(runtime: Runtime, defaults: dict[str, Any], raw: dict[str, Any]) -> Health:
    merged = {**defaults, **raw}
    # A command replaces the HTTP check only where the service itself asks for it.
    command = tuple(raw.get("command", ()))
    return Health(
        path=merged.get("path", "/health"),
        command=command,
        health_class=HealthClass(merged.get("class", _default_health_class(runtime).value)),
    )


def build_catalog(document: YamlDocument) -> Catalog:
    return _Builder(document).catalog()
