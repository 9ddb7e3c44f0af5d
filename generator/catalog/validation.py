"""Open a catalog for use: load, schema, semantic checks, ports. Every command starts here.

One run reports every problem: the semantic and port checks run on the entries the schema
accepted (`generator.catalog.load.read_catalog`), so a schema error does not hide an unknown
group, nor an unknown group a port conflict. What the problems mean for the exit code:

- a schema or semantic error, or a file that cannot be read, makes the input invalid: every
  problem of the run is raised together as one `InputError` (exit 2);
- otherwise the port registry's errors are a check's findings (`ValidationResult.ok`, exit 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.catalog.load import ReadCatalog, read_catalog
from generator.catalog.model import Catalog
from generator.catalog.ports import check_ports
from generator.catalog.rules import semantic_problems
from generator.errors import InputError
from generator.problems import Problem, Severity


@dataclass(frozen=True)
class OpenedCatalog:
    catalog: Catalog
    warnings: list[Problem]


def open_catalog(path: Path) -> OpenedCatalog:
    """A catalog that is safe to generate from, or `InputError` with every problem found
    (the port registry's too: the same problems `validate` reports)."""
    read = read_catalog(path)
    catalog = read.catalog
    semantic = semantic_problems(catalog) if catalog is not None else []
    if catalog is None or read.problems or _has_errors(semantic):
        raise InputError(problems=_every_problem(read, ())[0])
    return OpenedCatalog(catalog=catalog, warnings=semantic)


@dataclass(frozen=True)
class ValidationResult:
    catalog: Catalog
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not _has_errors(self.problems)


def validate(path: Path, compose_files: Iterable[Path] = ()) -> ValidationResult:
    """Everything `fleetform validate` and `ports check` promise: structure, semantics and the
    port registry, against the catalog and `compose_files`, sorted by position."""
    read = read_catalog(path)
    problems, invalid = _every_problem(read, compose_files)
    if read.catalog is None or invalid:
        raise InputError(problems=problems)
    return ValidationResult(read.catalog, problems)


def _every_problem(read: ReadCatalog, compose_files: Iterable[Path]) -> tuple[list[Problem], bool]:
    """Every problem of the catalog (and the compose files), and whether they make it invalid."""
    if read.catalog is None:
        return read.problems, True
    semantic = semantic_problems(read.catalog)
    report = check_ports(read.catalog, compose_files)
    invalid = bool(read.problems) or _has_errors(semantic) or bool(report.unreadable)
    return sorted([*read.problems, *semantic, *report.problems, *report.unreadable]), invalid


def _has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)
