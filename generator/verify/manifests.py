"""The manifests helm rendered from one template: each document through kubernetes-validate
and the Pod Security check, findings placed in the template that wrote them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from generator.errors import InputError
from generator.problems import Location, Problem
from generator.verify.kubernetes import Findings, validate
from generator.verify.pod_security import is_workload, pod_security_problems
from generator.verify.positions import JsonPath, template_position
from generator.verify.result import VerifyResult, collect, combine
from generator.verify.tools import one_line
from generator.yamlfile import YamlDocument, load_text


@dataclass(frozen=True)
class _Manifest:
    """One document helm rendered from a template, with what places its fields in the source."""

    display: str
    source: str
    text: str
    data: dict[str, Any]

    @property
    def subject(self) -> str:
        metadata = self.data.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return f"{self.data.get('kind')}/{name}"

    @cached_property
    def rendered(self) -> YamlDocument | None:
        # Read again, only for positions (helm's parse has none), and only once one is asked for.
        try:
            return load_text(Path(self.display), self.text, strict=False)
        except InputError:
            return None

    def locate(self, path: JsonPath) -> Location:
        line, col = template_position(self.source, self.rendered, path)
        return Location(self.display, line, col)


def check_manifests(
    chart_dir: Path, template: str, text: str, kube_version: str, cache: Findings
) -> VerifyResult:
    """Every document of one rendered template, split where helm splits them (`---`)."""
    display = str(chart_dir / template)
    source = _read_text(chart_dir / template)
    results = [
        _check_document(display, source, document, kube_version, cache)
        for document in re.split(r"(?m)^---[ \t]*$", text)
    ]
    return combine([collect(checked=[("kubernetes-validate", display)]), *results])


def _check_document(
    display: str, source: str, text: str, kube_version: str, cache: Findings
) -> VerifyResult:
    """Parsed the way helm and kubectl parse it (YAML 1.1 to JSON), then both checks."""
    import helm_python as helm

    try:
        data = helm.values_from_yaml(text)
    except helm.HelmValuesError as exc:
        message = f"helm: unable to parse YAML: {one_line(str(exc))}"
        return collect([Problem(Location(display), message)])
    if not data:
        return collect()
    manifest = _Manifest(display, source, text, data)
    problems = _kubernetes_problems(manifest, kube_version, cache)
    problems += pod_security_problems(data, manifest.locate)
    return collect(problems, [("pod-security", display)] if is_workload(data) else [])


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _kubernetes_problems(manifest: _Manifest, kube_version: str, cache: Findings) -> list[Problem]:
    finding = validate(manifest.data, kube_version, cache)
    if finding is None:
        return []
    message = f"kubernetes-validate: {manifest.subject}: {finding.message}"
    return [Problem(manifest.locate(finding.path), message, finding.severity)]
