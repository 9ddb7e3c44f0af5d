"""A Helm chart: linted and rendered once per values set, every rendered manifest checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.problems import Location, Problem, Severity
from generator.verify.kubernetes import Findings
from generator.verify.manifests import check_manifests
from generator.verify.result import Checked, VerifyResult, collect, combine
from generator.verify.tools import one_line
from generator.verify.values import merge_value_sets, value_sets

if TYPE_CHECKING:
    from helm_python import Chart

_RELEASE_NAMESPACE = "default"
_TEMPLATE_POSITION = re.compile(r"([\w.-]+(?:/[\w.-]+)+):(\d+)(?::(\d+))?")
_ERROR_LABEL = re.compile(r"(\w+ error) at \($")


def chart(chart_dir: Path, kube_version: str) -> VerifyResult:
    """Lint and render the chart once per values set, then check every rendered manifest."""
    import helm_python as helm

    sets, problems = value_sets(chart_dir)
    checked: list[Checked] = [("helm lint+render", str(chart_dir))]
    try:
        loaded = helm.Chart.load(chart_dir)
    except helm.HelmError as exc:
        values = sets[0][1] if sets else {}
        lint = _lint(chart_dir, values, kube_version)
        problems += lint or [_helm_problem(chart_dir, str(exc), "Chart.yaml")]
        return collect(problems, checked)
    cache: Findings = {}
    with loaded:
        by_set = {
            name: _check_values(loaded, chart_dir, values, kube_version, cache)
            for name, values in sets
        }
    problems += merge_value_sets({name: r.problems for name, r in by_set.items()})
    return collect(problems, checked + [c for r in by_set.values() for c in r.checked])


def _lint(chart_dir: Path, values: dict[str, Any], kube_version: str) -> list[Problem]:
    import helm_python as helm

    report = helm.lint(chart_dir, values, strict=True, kube_version=f"v{kube_version}")
    return [
        _helm_problem(chart_dir, m["error"], m["path"], _lint_severity(m["severity"]))
        for m in report["messages"]
        if m["severity"] != 1
    ]


def _lint_severity(level: int) -> Severity:
    """3 error, 2 warning (an error: strict), 0 unknown."""
    return Severity.ERROR if level >= 2 else Severity.WARNING


def _helm_problem(
    chart_dir: Path, text: str, fallback: str, severity: Severity = Severity.ERROR
) -> Problem:
    """Place a helm message at the template position it names (`chart/templates/x.yaml:6:15`).

    Nested `include` errors name several; the last one is where the failing call is.
    """
    positions = list(_TEMPLATE_POSITION.finditer(text))
    if not positions:
        where = Location(str(chart_dir / fallback) if fallback else str(chart_dir))
        return Problem(where, f"helm: {one_line(text)}", severity)
    last = positions[-1]
    template = last[1].split("/", 1)[1]
    where = Location(str(chart_dir / template), int(last[2]), int(last[3] or 0))
    label = _ERROR_LABEL.search(text[: last.start()])
    rest = one_line(text[last.end() :]).lstrip("): ")
    message = f"{label[1]}: {rest}" if label else rest
    return Problem(where, f"helm: {message}", severity)


def _check_values(
    loaded: Chart,
    chart_dir: Path,
    values: dict[str, Any],
    kube_version: str,
    cache: Findings,
) -> VerifyResult:
    import helm_python as helm

    problems = _lint(chart_dir, values, kube_version)
    try:
        rendered = loaded.render(values, name=loaded.name, namespace=_RELEASE_NAMESPACE)
    except helm.HelmError as exc:
        return collect([*problems, _helm_problem(chart_dir, str(exc), "templates")])
    results = [
        check_manifests(chart_dir, template.split("/", 1)[1], text, kube_version, cache)
        for template, text in sorted(rendered.items())
        if _is_manifest(template, text)
    ]
    return combine([collect(problems), *results])


def _is_manifest(template: str, text: str) -> bool:
    name = template.rsplit("/", 1)[-1]
    return bool(text.strip()) and name != "NOTES.txt" and not name.startswith("_")
