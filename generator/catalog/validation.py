"""Open a catalog for use: load, schema, semantic checks. Every command starts here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.catalog.load import load_catalog
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
    """A catalog that is safe to generate from, or `InputError` with every problem found."""
    catalog = load_catalog(path)
    problems = semantic_problems(catalog)
    if any(p.severity is Severity.ERROR for p in problems):
        raise InputError(problems=problems)
    return OpenedCatalog(catalog=catalog, warnings=problems)


@dataclass(frozen=True)
class ValidationResult:
    catalog: Catalog
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


def validate(path: Path, compose_files: tuple[Path, ...] = ()) -> ValidationResult:
    """Everything `fleetform validate` promises: structure, semantics and the port registry."""
    opened = open_catalog(path)
    report = check_ports(opened.catalog, compose_files)
    return ValidationResult(opened.catalog, sorted([*opened.warnings, *report.problems]))
