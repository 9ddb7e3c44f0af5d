"""What a compose file publishes: the host ports of its services, read as Compose reads them.

Short (`"127.0.0.1:8080-8081:80/udp"`) and long (`{published: 8080, protocol: udp}`) syntax,
ranges, and `${VAR:-default}` interpolation from defaults only. Nothing here knows the
catalog: the port registry (`generator.catalog.ports`) compares what is published with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import InputError
from generator.problems import Location, Problem, Severity, show
from generator.yamlfile import YamlDocument, load_file, locate


@dataclass(frozen=True)
class PublishedPort:
    """One host port a compose service publishes, at the `ports` entry that publishes it."""

    service: str
    port: int
    protocol: str
    location: Location


def published_ports(path: Path) -> tuple[list[PublishedPort], list[Problem]]:
    """Every host port the compose file publishes, and every entry that cannot be read."""
    reader = _ComposeReader(load_file(path))
    reader.read()
    return reader.published, reader.problems


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class _UnresolvedVariableError(Exception):
    pass


def interpolate(text: str) -> str:
    """Compose's `${VAR:-default}` interpolation with defaults only, never the environment.

    The registry must give the same answer on every machine, so a variable without a default
    cannot be resolved and the caller reports it.
    """

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["op"] in (":-", "-"):
            return match["default"] or ""
        raise _UnresolvedVariableError(match["braced"] or match["bare"])

    return _VARIABLE.sub(substitute, text)


_SHORT = re.compile(
    r"^(?:(?P<ip>\[[^\]]*\]|[0-9]+(?:\.[0-9]+){3}):)?(?:(?P<host>[0-9]*(?:-[0-9]+)?):)?"
    r"(?P<container>[0-9]+(?:-[0-9]+)?)(?:/(?P<protocol>tcp|udp|sctp))?$"
)


def _expand(text: str) -> list[int]:
    low, _, high = text.partition("-")
    first = int(low)
    last = int(high) if high else first
    return list(range(first, last + 1))


class _ComposeReader:
    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.published: list[PublishedPort] = []
        self.problems: list[Problem] = []

    def at(self, *path: Any) -> Location:
        line, col = locate(self.document.tree, list(path))
        return Location(str(self.document.path), line, col)

    def read(self) -> None:
        services = (
            self.document.data.get("services") if isinstance(self.document.data, dict) else None
        )
        if not isinstance(services, dict):
            raise InputError.at(
                path=self.document.path,
                line=1,
                col=1,
                message="not a compose file: no 'services' mapping",
            )
        for name, spec in services.items():
            ports = spec.get("ports", []) if isinstance(spec, dict) else []
            if not isinstance(ports, list):
                self.problems.append(
                    Problem(
                        self.at("services", name, "ports"),
                        f"service {name!r}: 'ports' must be a list",
                    )
                )
                continue
            for index, entry in enumerate(ports):
                self.entry(str(name), index, entry)

    def entry(self, name: str, index: int, entry: Any) -> None:
        where = self.at("services", name, "ports", index)
        try:
            published = self.host_ports(entry)
        except _UnresolvedVariableError as exc:
            self.problems.append(
                Problem(
                    where,
                    f"service {name!r}: cannot resolve ${{{exc}}} without a default;"
                    f" write ${{{exc}:-PORT}}",
                    Severity.WARNING,
                )
            )
            return
        except ValueError as exc:
            self.problems.append(Problem(where, f"service {name!r}: {exc}"))
            return
        for port, protocol in published:
            if not 1 <= port <= 65535:
                self.problems.append(
                    Problem(where, f"service {name!r}: port {port} is out of range 1-65535")
                )
                continue
            self.published.append(PublishedPort(name, port, protocol, where))

    def host_ports(self, entry: Any) -> list[tuple[int, str]]:
        if isinstance(entry, bool):
            raise ValueError(f"port entry {show(entry)} is not a port")
        if isinstance(entry, int):
            return []  # container port only: Docker picks a random host port
        if isinstance(entry, dict):
            return self.long_form(entry)
        if isinstance(entry, str):
            return self.short_form(entry)
        raise ValueError(f"port entry {show(entry)} is not a port")

    def long_form(self, entry: dict[str, Any]) -> list[tuple[int, str]]:
        published = entry.get("published")
        protocol = str(entry.get("protocol", "tcp"))
        if published in (None, ""):
            return []
        text = interpolate(str(published)).strip()
        if not re.fullmatch(r"[0-9]+(-[0-9]+)?", text):
            raise ValueError(f"cannot read published port {published!r}")
        return [(p, protocol) for p in _expand(text)]

    def short_form(self, entry: str) -> list[tuple[int, str]]:
        text = interpolate(entry).strip()
        match = _SHORT.match(text)
        if match is None:
            raise ValueError(f"cannot read port mapping {entry!r}")
        host = match["host"]
        if not host:
            return []
        protocol = match["protocol"] or "tcp"
        return [(p, protocol) for p in _expand(host)]
