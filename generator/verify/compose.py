"""Compose files through `docker-compose config`, its messages placed at the field they name."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from generator.problems import Location, Problem, Severity
from generator.verify.positions import JsonPath, SourceFile, has
from generator.verify.result import VerifyResult, collect
from generator.verify.tools import run, tool_failed

# Compose gets no variable from the caller's environment (results must not depend on the shell
# that runs verify) and a Docker host that cannot exist, so `config` never reaches a daemon.
_COMPOSE_ENV = {"DOCKER_HOST": "unix:///nonexistent/fleetform-verify/docker.sock"}
_COMPOSE_WARNING = re.compile(r'level=warning msg="((?:[^"\\]|\\.)*)"')
_COMPOSE_UNSET = re.compile(r'The "(\w+)" variable is not set')
_COMPOSE_ATTRIBUTE = re.compile(r"the attribute `([^`]+)`")
_COMPOSE_PATHS = (  # (message form, prefix): the model path an error names
    (r"^validating .+?: (\S+) ", ""),  # validating FILE: services.web.bogus false schema
    (r"^error while interpolating (\S+?): ", ""),
    (r"^'([^']+)' ", ""),  # 'services[web].healthcheck.interval' time: invalid duration
    (r'^service "([^"]+)" ', "services."),  # service "web" depends on undefined service
)


def compose(exe: str, file: Path) -> VerifyResult:
    """`config -q` prints nothing for a valid file; warnings and the error come on stderr."""
    path = file.absolute()
    env = {"PATH": os.environ.get("PATH", os.defpath), **_COMPOSE_ENV}
    proc = run([exe, "-f", str(path), "config", "-q"], cwd=path.parent, env=env)
    # Compose names files by absolute path; the report names them the way the caller did.
    stderr = proc.stderr.replace(f"{path.parent}/", f"{file.parent}/")
    source = SourceFile(file)
    problems: list[Problem] = []
    errors: list[str] = []
    for line in stderr.splitlines():
        warning = _COMPOSE_WARNING.search(line)
        if warning:
            problems.append(_warning(source, warning[1].replace('\\"', '"')))
        elif line.strip():
            errors.append(line.strip())
    problems += [_error(source, line) for line in _error_lines(errors)]
    if proc.returncode != 0 and not errors:
        problems.append(tool_failed("docker-compose", str(file), proc))
    return collect(problems, [("docker-compose", str(file))])


def _error_lines(lines: list[str]) -> list[str]:
    """Drop headers such as "decoding failed due to the following error(s):"."""
    return [line for i, line in enumerate(lines) if not (line.endswith(":") and i < len(lines) - 1)]


def _warning(source: SourceFile, message: str) -> Problem:
    line = col = 0
    if unset := _COMPOSE_UNSET.search(message):
        line, col = source.find(rf"\$\{{?{unset[1]}\b")
    elif attribute := _COMPOSE_ATTRIBUTE.search(message):
        line, col = source.locate((attribute[1],))
    where = Location(str(source.path), line, col)
    return Problem(where, f"docker-compose: {message}", Severity.WARNING)


def _error(source: SourceFile, message: str) -> Problem:
    line, col = _position(source, message)
    return Problem(Location(str(source.path), line, col), f"docker-compose: {message}")


def _position(source: SourceFile, message: str) -> tuple[int, int]:
    if marked := re.search(r"\bL(\d+)\.C(\d+)", message):
        return int(marked[1]), int(marked[2])
    if lines := re.findall(r"\bline (\d+): ", message):
        return int(lines[-1]), 0
    dotted = _model_path(message)
    return source.locate(_split_dotted(source.data, dotted)) if dotted else (0, 0)


def _model_path(message: str) -> str | None:
    """The model path a compose message names, in whichever of its forms."""
    for pattern, prefix in _COMPOSE_PATHS:
        if found := re.search(pattern, message):
            return prefix + re.sub(r"\[([^\]]+)\]", r".\1", found[1])
    return None


def _split_dotted(data: Any, dotted: str) -> JsonPath:
    """Split `services.web.labels.com.example.x` on dots, keeping keys that hold dots whole."""
    parts, path, node = dotted.split("."), [], data
    while parts:
        step, parts = _next_step(node, parts)
        path.append(step)
        node = node[step] if has(node, step) else None
    return tuple(path)


def _next_step(node: Any, parts: list[str]) -> tuple[str | int, list[str]]:
    if isinstance(node, list) and parts[0].isdigit():
        return int(parts[0]), parts[1:]
    for count in range(len(parts), 0, -1):
        key = ".".join(parts[:count])
        if isinstance(node, dict) and key in node:
            return key, parts[count:]
    return parts[0], parts[1:]
