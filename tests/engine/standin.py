"""Stand-in images: what the engine tests run instead of the catalog's real images.

No registry is reachable from the test machines, so nothing is pulled: one base image is
built `FROM scratch` with this machine's static busybox (Debian's busybox-static) and the
scripts of `context/`, and each catalog service gets a thin image on top of it, tagged with
the very name the orchestration file asks for (`postgres:15-alpine`,
`<registry>/<id>:latest`), so the generated compose files run unmodified. Its environment
says which container ports to serve the health endpoint on, and the knobs (NEVER_HEALTHY,
CRASH_AFTER, START_DELAY) a test wants for that service.

A stand-in never replaces a real image: a tag that exists without the stand-in label is
refused (`RealImageError`), and `remove` deletes only the tags it made, so a developer's
engine does not end up running a stand-in when they ask for postgres.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from generator.model import Catalog, Runtime

CONTEXT = Path(__file__).resolve().parent / "context"
LABEL = "fleetform.standin"
BASE_REPOSITORY = "fleetform-standin"
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))


class RealImageError(Exception):
    """A tag a stand-in would take already names an image that is not a stand-in."""


@dataclass(frozen=True)
class StandIn:
    image: str  # the tag the orchestration file runs
    service: str
    ports: tuple[int, ...]  # container ports to answer on
    health_path: str
    env: Mapping[str, str] = field(default_factory=dict)  # knobs

    def dockerfile(self, base: str) -> str:
        env = {
            "STANDIN_NAME": self.service,
            "STANDIN_PORTS": " ".join(map(str, self.ports)),
            "STANDIN_HEALTH_PATH": self.health_path,
            **self.env,
        }
        lines = [f"FROM {base}"]
        lines += [f"ENV {key}={json.dumps(value)}" for key, value in env.items()]
        lines.append(f"LABEL {LABEL}.for={json.dumps(self.service)}")
        return "\n".join(lines) + "\n"


def standins(
    catalog: Catalog, knobs: Mapping[str, Mapping[str, str]] | None = None
) -> list[StandIn]:
    """A stand-in for every service Compose would run (DDEV ones are not Compose's)."""
    knobs = knobs or {}
    result = []
    for service in catalog.services.values():
        if service.runtime is Runtime.DDEV:
            continue
        image = service.image or f"{service.registry}/{service.id}:latest"
        result.append(
            StandIn(
                image=image,
                service=service.id,
                ports=tuple(p.container_port for p in service.ports),
                health_path=service.health.path,
                env=dict(knobs.get(service.id, {})),
            )
        )
    return result


def static_busybox() -> Path:
    """This machine's busybox, if it is statically linked (no ELF interpreter): a dynamic
    one cannot run in a FROM scratch image. Debian: apt-get install busybox-static."""
    for path in BUSYBOX_CANDIDATES:
        if path.is_file() and not _has_interpreter(path.read_bytes()):
            return path
    raise FileNotFoundError(
        "no static busybox in /bin or /usr/bin (Debian: apt-get install busybox-static)"
    )


def _has_interpreter(elf: bytes) -> bool:
    """Whether an ELF64 little-endian file asks for a dynamic loader (a PT_INTERP header)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return True  # not a 64-bit ELF: treat as unusable
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for index in range(phnum):
        (p_type,) = struct.unpack_from("<I", elf, phoff + index * phentsize)
        if p_type == 3:  # PT_INTERP
            return True
    return False


def base_image(client: Any) -> str:
    """The base stand-in image, built once per content of context/ and busybox."""
    busybox = static_busybox()
    digest = hashlib.sha256()
    for path in [*sorted(CONTEXT.iterdir()), busybox]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    tag = f"{BASE_REPOSITORY}:{digest.hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="fleetform-standin-") as directory:
        shutil.copytree(CONTEXT, directory, dirs_exist_ok=True)
        shutil.copy2(busybox, Path(directory) / "busybox")
        client.images.build(path=directory, tag=tag, rm=True, forcerm=True)
    return tag


def build(client: Any, wanted: Iterable[StandIn]) -> list[str]:
    """Tag a stand-in image for each of `wanted`; returns the tags made."""
    wanted = list(wanted)
    for standin in wanted:
        _refuse_real(client, standin.image)
    base = base_image(client)
    tags = []
    for standin in wanted:
        dockerfile = io.BytesIO(standin.dockerfile(base).encode())
        client.images.build(fileobj=dockerfile, tag=standin.image, rm=True, forcerm=True)
        tags.append(standin.image)
    return tags


def _refuse_real(client: Any, tag: str) -> None:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return
    if LABEL not in ((image.attrs.get("Config") or {}).get("Labels") or {}):
        raise RealImageError(f"{tag} exists and is not a fleetform stand-in; not replacing it")


def remove(client: Any, tags: Iterable[str]) -> None:
    """Untag the stand-ins (the base image stays cached for the next run)."""
    for tag in tags:
        try:
            image = client.images.get(tag)
        except docker.errors.ImageNotFound:
            continue
        if LABEL in ((image.attrs.get("Config") or {}).get("Labels") or {}):
            client.images.remove(tag)
