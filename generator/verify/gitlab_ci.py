"""`.gitlab-ci.yml` through check-jsonschema's GitLab CI schema."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generator.errors import InputError
from generator.problems import Location, Problem
from generator.verify.positions import JsonPath, SourceFile
from generator.verify.result import VerifyResult, collect
from generator.verify.tools import json_or_none, run, tool_failed
from generator.yamlfile import load_file

_JSON_PATH_STEP = re.compile(r"\.([A-Za-z][A-Za-z0-9_]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


def gitlab_ci(exe: str, file: Path) -> VerifyResult:
    argv = [exe, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"]
    proc = run([*argv, "--output-format", "json", str(file)])
    checked = [("check-jsonschema", str(file))]
    report = json_or_none(proc.stdout)
    if not isinstance(report, dict):
        return collect([tool_failed("check-jsonschema", str(file), proc)], checked)
    source = SourceFile(file)
    problems = [_schema_problem(source, error) for error in report.get("errors", [])]
    if report.get("parse_errors"):
        problems.append(_parse_problem(file))
    return collect(problems, checked)


def _schema_problem(source: SourceFile, error: Mapping[str, Any]) -> Problem:
    """A oneOf/anyOf failure is placed at the deepest sub-error, which names the real field."""
    message = f"check-jsonschema: {error['path']}: {error['message']}"
    deepest = error.get("best_deep_match") if error.get("has_sub_errors") else None
    where = error["path"]
    if isinstance(deepest, dict):
        where = deepest["path"]
        message += f"; best match: {deepest['path']}: {deepest['message']}"
    line, col = source.locate(_json_path(where), key=False)
    return Problem(Location(str(source.path), line, col), message)


def _json_path(text: str) -> JsonPath:
    """`$.build.rules[0]['a b']` -> ("build", "rules", 0, "a b"), as jsonschema writes them."""
    steps: list[str | int] = []
    for step in _JSON_PATH_STEP.finditer(text, 1):
        if step[1] is not None:
            steps.append(step[1])
        elif step[2] is not None:
            steps.append(int(step[2]))
        else:
            steps.append(re.sub(r"\\(.)", r"\1", step[3]))
    return tuple(steps)


def _parse_problem(file: Path) -> Problem:
    """check-jsonschema only says "Failed to parse"; fleetform's loader says where and why."""
    try:
        load_file(file)
    except InputError as exc:
        first = exc.problems[0]
        return Problem(first.location, f"check-jsonschema: {first.message}")
    return Problem(Location(str(file)), "check-jsonschema: failed to parse the file")
