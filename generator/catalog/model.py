"""The catalog as frozen dataclasses: what every later stage reads, never raw YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from generator.problems import Location


class Runtime(StrEnum):
    NODE = "node"
    PYTHON = "python"
    MODEL = "model"
    IMAGE = "image"
    DDEV = "ddev"

    @property
    def generated(self) -> bool:
        """Whether fleetform renders a repository for services of this runtime."""
        return self in (Runtime.NODE, Runtime.PYTHON, Runtime.MODEL)


class Cluster(StrEnum):
    CORE = "core"
    SERVICES = "services"
    MODELS = "models"


class Tier(StrEnum):
    """Seed 003's resource tiers; their sizes live in `template/includes/tiers.jinja`."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    XLARGE = "xlarge"


class HealthClass(StrEnum):
    """Seed 003's health check classes."""

    INFRASTRUCTURE = "infrastructure"
    APPLICATION = "application"
    MODEL = "model"


@dataclass(frozen=True)
class PortRange:
    low: int
    high: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    @property
    def valid(self) -> bool:
        """Whether the range is one of real ports, low to high (`rules` says why not)."""
        return 1 <= self.low <= self.high <= 65535

    def overlaps(self, other: PortRange) -> bool:
        return self.low <= other.high and other.low <= self.high

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Group:
    id: str
    ports: PortRange
    cluster: Cluster
    description: str
    location: Location
    ports_location: Location


@dataclass(frozen=True)
class Port:
    """One host port a service claims: its primary port or one of its extra ports."""

    port: int
    container_port: int
    protocol: str
    name: str
    location: Location
    name_location: Location | None = field(default=None, compare=False)  # where `name:` is


@dataclass(frozen=True)
class Health:
    path: str = "/health"
    command: tuple[str, ...] = ()
    health_class: HealthClass = HealthClass.APPLICATION


@dataclass(frozen=True)
class Autoscaling:
    enabled: bool = True
    min: int = 2
    max: int = 10
    cpu: int = 70
    memory: int = 80


@dataclass(frozen=True)
class Environment:
    """One deployment environment of the catalog, with the settings it gives (None: not
    given; the template's defaults for its `like` apply: `template/includes/environments.jinja`)."""

    name: str
    like: str | None
    deploy: str | None
    network_policy: bool | None
    location: Location

    def settings(self) -> dict[str, str | bool]:
        """The settings the catalog gives, as the template's `environment_settings` entry."""
        given = {"like": self.like, "deploy": self.deploy, "network_policy": self.network_policy}
        return {key: value for key, value in given.items() if value is not None}


@dataclass(frozen=True)
class Dependency:
    name: str
    location: Location


@dataclass(frozen=True)
class OwnedGlob:
    """One `owned_files` glob (dialect: `generator.catalog.globs`) and where it is written."""

    glob: str
    location: Location
    inherited: bool = False  # written in `defaults`


@dataclass(frozen=True)
class Service:
    id: str
    group: str
    runtime: Runtime
    port: Port
    extra_ports: tuple[Port, ...]
    port_exception: str | None
    image: str | None
    command: tuple[str, ...]
    volume: str | None
    env: tuple[str, ...]
    depends_on: tuple[Dependency, ...]
    profiles: tuple[str, ...]
    resources: Tier
    gpu: int
    health: Health
    autoscaling: Autoscaling
    # Files whose content is the owners' (defaults' globs, then the service's own).
    owned_files: tuple[OwnedGlob, ...]
    owner: str
    registry: str
    environments: tuple[str, ...]
    base_image: str | None
    repo: str
    description: str
    location: Location
    fields: dict[str, Location] = field(default_factory=dict, compare=False, hash=False)
    # The repository's git URL (the catalog's pattern expanded; None: no remote configured,
    # or a service fleetform does not generate) and the branch merge requests target.
    remote: str | None = None
    default_branch: str = "main"
    # Where the pattern and the branch are written (the service's key or `defaults`).
    remote_pattern: str | None = field(default=None, compare=False)
    remote_location: Location | None = field(default=None, compare=False, hash=False)
    branch_location: Location | None = field(default=None, compare=False, hash=False)

    @property
    def ports(self) -> tuple[Port, ...]:
        return (self.port, *self.extra_ports)

    def where(self, name: str) -> Location:
        """Position of one of the service's keys, or of the service itself if not set there."""
        return self.fields.get(name, self.location)


@dataclass(frozen=True)
class Profile:
    id: str
    description: str
    services: tuple[Dependency, ...]
    groups: tuple[Dependency, ...]
    include: tuple[Dependency, ...]
    location: Location


@dataclass(frozen=True)
class TemplateSetting:
    """The catalog's `template: {src, ref}` as written (None: not given); the source Copier
    renders from is `generator.fleet.template.TemplateSource`."""

    src: str | None
    ref: str | None


@dataclass(frozen=True)
class Omitted:
    """Entries of one section the document has but the model leaves out, because the schema
    refused them (`whole`: the section itself, names unknown). A reference to one is not
    unknown, only unchecked: the schema problem is what is reported."""

    names: frozenset[str] = frozenset()
    whole: bool = False

    def __contains__(self, name: object) -> bool:
        return self.whole or name in self.names


@dataclass(frozen=True)
class Catalog:
    """The catalog's model. Only `validate` sees one with omitted entries (the schema refused
    them): every other command gets a schema-valid catalog or an `InputError`."""

    path: Path
    name: str
    description: str
    template: TemplateSetting
    groups: dict[str, Group]
    services: dict[str, Service]
    profiles: dict[str, Profile]
    # The platform's environments in deploy order (default: local, staging, production).
    environments: dict[str, Environment] = field(default_factory=dict)
    omitted_groups: Omitted = Omitted()
    omitted_services: Omitted = Omitted()
    omitted_profiles: Omitted = Omitted()

    def generated_services(self) -> list[Service]:
        return [s for s in self.services.values() if s.runtime.generated]
