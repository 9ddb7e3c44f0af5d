"""Stand-in images: what runs instead of images no registry can deliver here.

No registry is reachable from the machines fleetform verifies on, so nothing is pulled: one
base image is built `FROM scratch` with this machine's static busybox (Debian's
busybox-static) and the scripts of `generator.stack.standin.context`, and each image wanted gets a
thin image on top of it, tagged with the very name a compose file or a Dockerfile's FROM asks
for (`postgres:15-alpine`, `<registry>/<id>:latest`, `node:22.14.0-bookworm-slim`), so the
generated files build and run unmodified. Its environment says which container ports to serve
the health endpoint on, and the knobs (NEVER_HEALTHY, CRASH_AFTER, START_DELAY) wanted.

A stand-in never replaces a real image: a tag that exists without the stand-in label is
refused (`RealImageError`), and `remove` deletes only stand-in tags, so an engine does not
end up running a stand-in when someone asks for postgres. The base image stays cached under
`fleetform-standin:<digest of its files>`.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors

from generator.catalog.model import Catalog, Runtime
from generator.errors import BusyboxMissingError, RealImageError
from generator.stack.standin.context import FILES

LABEL = "fleetform.standin"
BASE_REPOSITORY = "fleetform-standin"
BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))


@dataclass(frozen=True)
class StandIn:
    """One tag to stand in for.

    `runtime`: a language runtime base (a Dockerfile's FROM), not a service: no entry point
    of its own (the generated Dockerfile's CMD runs), and it serves on `$PORT` unless `ports`
    says otherwise.
    """

    image: str  # the tag the compose file or the Dockerfile asks for
    service: str
    ports: tuple[int, ...]  # container ports to answer on
    health_path: str
    env: Mapping[str, str] = field(default_factory=dict)  # knobs
    runtime: bool = False

    def dockerfile(self, base: str) -> str:
        env = {"STANDIN_NAME": self.service, "STANDIN_HEALTH_PATH": self.health_path}
        if self.ports:
            env["STANDIN_PORTS"] = " ".join(map(str, self.ports))
        env.update(self.env)
        lines = [f"FROM {base}"]
        lines += [f"ENV {key}={json.dumps(value)}" for key, value in env.items()]
        lines.append(f"LABEL {LABEL}.for={json.dumps(self.service)}")
        if self.runtime:
            lines.append("ENTRYPOINT []")
        return "\n".join(lines) + "\n"


def standins(
    catalog: Catalog, knobs: Mapping[str, Mapping[str, str]] | None = None
) -> list[StandIn]:
    """A stand-in for every service Compose would run (DDEV ones are not Compose's)."""
    knobs = knobs or {}
    return [
        service_standin(catalog, service.id, knobs.get(service.id, {}))
        for service in catalog.services.values()
        if service.runtime is not Runtime.DDEV
    ]


def service_standin(
    catalog: Catalog, service_id: str, env: Mapping[str, str], image: str | None = None
) -> StandIn:
    """The stand-in of one catalog service, tagged `image` or the image the catalog runs."""
    service = catalog.services[service_id]
    return StandIn(
        image=image or service.image or f"{service.registry}/{service.id}:latest",
        service=service.id,
        ports=tuple(p.container_port for p in service.ports),
        health_path=service.health.path,
        env=dict(env),
    )


def static_busybox() -> Path:
    """This machine's busybox, if it is statically linked (no ELF interpreter): a dynamic
    one cannot run in a FROM scratch image."""
    for path in BUSYBOX_CANDIDATES:
        if path.is_file() and not _has_interpreter(path.read_bytes()):
            return path
    raise BusyboxMissingError()


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
    """The base stand-in image, built once per content of its files and busybox."""
    busybox = static_busybox()
    digest = hashlib.sha256()
    for name, (text, executable) in sorted(FILES.items()):
        digest.update(f"{name}\0{int(executable)}\0{text}\0".encode())
    digest.update(busybox.read_bytes())
    tag = f"{BASE_REPOSITORY}:{digest.hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory(prefix="fleetform-standin-") as directory:
        for name, (text, executable) in FILES.items():
            path = Path(directory) / name
            path.write_text(text, encoding="utf-8")
            path.chmod(0o755 if executable else 0o644)
        (Path(directory) / "busybox").write_bytes(busybox.read_bytes())
        (Path(directory) / "busybox").chmod(0o755)
        client.images.build(path=directory, tag=tag, rm=True, forcerm=True)
    return tag


def image_kind(client: Any, tag: str) -> str | None:
    """ "standin" or "real" for an image the engine has under `tag`, None if it has none."""
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    return "standin" if LABEL in labels else "real"


def build(client: Any, wanted: Iterable[StandIn]) -> list[str]:
    """Tag a stand-in image for each of `wanted`; returns the tags made."""
    wanted = list(wanted)
    for standin in wanted:
        if image_kind(client, standin.image) == "real":
            raise RealImageError(tag=standin.image)
    base = base_image(client)
    tags = []
    for standin in wanted:
        dockerfile = io.BytesIO(standin.dockerfile(base).encode())
        client.images.build(fileobj=dockerfile, tag=standin.image, rm=True, forcerm=True)
        tags.append(standin.image)
    return tags


def remove(client: Any, tags: Iterable[str]) -> None:
    """Untag the stand-ins (the base image stays cached for the next run)."""
    for tag in tags:
        if image_kind(client, tag) == "standin":
            try:
                client.images.remove(tag)
            except docker.errors.NotFound:
                continue
