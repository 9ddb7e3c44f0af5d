"""Shell scripts through shellcheck."""

from __future__ import annotations

from pathlib import Path

from generator.problems import Problem
from generator.verify.result import VerifyResult, collect
from generator.verify.tools import json_or_none, linter_problem, relative, run, tool_failed


def shellcheck(exe: str, base: Path, files: list[Path]) -> VerifyResult:
    """shellcheck `files`; `-x` follows `source`d files relative to `base`."""
    proc = run([exe, "--format=json1", "-x", *relative(base, files)], cwd=base)
    checked = [("shellcheck", str(f)) for f in files]
    report = json_or_none(proc.stdout)
    problems: list[Problem] = []
    if isinstance(report, dict):
        for item in report["comments"]:
            problems.append(linter_problem(base, item, f"shellcheck SC{item['code']}"))
    if not isinstance(report, dict) or proc.returncode not in (0, 1):
        problems.append(tool_failed("shellcheck", str(files[0]), proc))
    return collect(problems, checked)
