"""Print problems for people (one a line, editor-clickable) or for machines (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from generator.errors import Problem, Severity


def as_text(problems: Sequence[Problem]) -> str:
    return "".join(f"{p}\n" for p in problems)


def as_json(problems: Sequence[Problem]) -> str:
    payload = {
        "ok": not any(p.severity is Severity.ERROR for p in problems),
        "errors": sum(p.severity is Severity.ERROR for p in problems),
        "warnings": sum(p.severity is Severity.WARNING for p in problems),
        "problems": [p.as_dict() for p in problems],
    }
    return json.dumps(payload, indent=2) + "\n"


def summary(problems: Sequence[Problem], subject: str) -> str:
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if not problems:
        return f"{subject}: ok"
    return f"{subject}: {errors} error(s), {warnings} warning(s)"
