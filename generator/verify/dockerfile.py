"""Dockerfiles through hadolint."""

from __future__ import annotations

from pathlib import Path

from generator.verify.result import VerifyResult, collect
from generator.verify.tools import json_or_none, linter_problem, relative, run, tool_failed


def hadolint(exe: str, base: Path, files: list[Path]) -> VerifyResult:
    """hadolint runs in `base` so that a `.hadolint.yaml` of the repository applies."""
    proc = run([exe, "--format", "json", "--no-color", *relative(base, files)], cwd=base)
    checked = [("hadolint", str(f)) for f in files]
    findings = json_or_none(proc.stdout)
    if not isinstance(findings, list):
        return collect([tool_failed("hadolint", str(files[0]), proc)], checked)
    problems = [linter_problem(base, item, f"hadolint {item['code']}") for item in findings]
    return collect(problems, checked)
