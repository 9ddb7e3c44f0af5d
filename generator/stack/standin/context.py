"""The build context of the stand-in base image (`generator.stack.standin.images`).

A Dockerfile and three scripts (`run`, `probe`, `runtime`), real files in `base_image/` beside
this module, read with `importlib.resources`: pyproject.toml's package data lists them, so an
installed fleetform carries them. `FILES` maps each name in the build context to its text and
whether it is executable; the static busybox is added next to them at build time. A test runs
shellcheck on the scripts.

Nothing here is the real tool it stands in for: no registry is reachable from the machines
fleetform verifies on, so the real base images (node, python, nvidia/cuda) and the catalog's
third-party images cannot be pulled. The scripts do what a build, a start and a health check
need of those tools, and say on stderr that they are stand-ins.
"""

from __future__ import annotations

from importlib.resources import files

# Said here rather than read from the files' modes: not every way of installing a package
# keeps the executable bit.
_EXECUTABLE = {"Dockerfile": False, "run": True, "probe": True, "runtime": True}


def _read(name: str) -> str:
    return (files("generator.stack.standin") / "base_image" / name).read_text(encoding="utf-8")


#: name in the build context -> (text, executable)
FILES: dict[str, tuple[str, bool]] = {
    name: (_read(name), executable) for name, executable in _EXECUTABLE.items()
}
