"""kubernetes-validate: one manifest against the schemas of one Kubernetes version."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from generator.errors import UsageError
from generator.problems import Severity
from generator.verify.positions import JsonPath

#: The Kubernetes version manifests are validated against: the newest kubernetes-validate ships.
KUBERNETES_VERSION = "1.37.0"


@dataclass(frozen=True)
class Finding:
    """A kubernetes-validate verdict on one manifest, cached across values sets."""

    path: JsonPath
    message: str
    severity: Severity


#: Verdicts by manifest (as sorted JSON): values sets of a chart mostly render the same ones.
Findings = dict[str, Finding | None]


def require_kube_version(kube_version: str) -> None:
    from kubernetes_validate import utils

    known = sorted({utils.major_minor(v) for v in utils.all_versions()}, key=_version_key)
    if utils.major_minor(kube_version.removeprefix("v")) not in known:
        raise UsageError(
            message=f"Kubernetes {kube_version} is not known to kubernetes-validate"
            f" (it has schemas for {known[0]} to {known[-1]})"
        )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def validate(data: dict[str, Any], kube_version: str, cache: Findings) -> Finding | None:
    key = json.dumps(data, sort_keys=True)
    if key not in cache:
        cache[key] = _validate(data, kube_version)
    return cache[key]


def _validate(data: dict[str, Any], kube_version: str) -> Finding | None:
    """kubernetes-validate reports one error a manifest: jsonschema's best match."""
    import kubernetes_validate

    if not isinstance(data.get("apiVersion"), str) or not isinstance(data.get("kind"), str):
        return Finding((), "apiVersion and kind are required", Severity.ERROR)
    try:
        kubernetes_validate.validate(data, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = tuple(exc.absolute_path)
        field_path = _dotted(path) + ": " if path else ""
        message = f"{field_path}{exc.message}"
        return Finding(path + _unexpected(exc.message), message, Severity.ERROR)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return _missing_schema(data["apiVersion"], data["kind"], exc.version)
    return None


def _missing_schema(api_version: str, kind: str, version: str) -> Finding:
    """No schema: a Kubernetes API the cluster does not serve (error) or a custom resource.

    Kubernetes' own groups have no dot or end in `.k8s.io`; any other group is a CRD's.
    """
    group = api_version.rpartition("/")[0]
    if "." not in group or group.endswith(".k8s.io"):
        message = f"Kubernetes {version} has no {kind} in {api_version}"
        return Finding(("apiVersion",), message, Severity.ERROR)
    message = f"not validated: no schema for {kind} in {api_version} (a custom resource?)"
    return Finding(("apiVersion",), message, Severity.WARNING)


def _unexpected(message: str) -> JsonPath:
    """For "Additional properties are not allowed ('x' was unexpected)", the path of x."""
    found = re.search(r"\('([^']+)'(?:, '[^']+')* (?:was|were) unexpected\)", message)
    return (found[1],) if found else ()


def _dotted(path: JsonPath) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")
