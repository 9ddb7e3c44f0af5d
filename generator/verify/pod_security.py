"""The restricted Pod Security Standard (and fleetform's own policy) on workload manifests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from generator.problems import Location, Problem
from generator.verify.positions import JsonPath, has

#: Turns a field path of the manifest into where it is written.
Locator = Callable[[JsonPath], Location]

_POD_TEMPLATE = ("spec", "template", "spec")
_POD_SPEC_PATHS: dict[str, JsonPath] = {
    "Pod": ("spec",),
    "Deployment": _POD_TEMPLATE,
    "StatefulSet": _POD_TEMPLATE,
    "DaemonSet": _POD_TEMPLATE,
    "ReplicaSet": _POD_TEMPLATE,
    "ReplicationController": _POD_TEMPLATE,
    "Job": _POD_TEMPLATE,
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_INHERITED = frozenset({"runAsNonRoot", "seccompProfile"})


def pod_security_problems(manifest: Mapping[str, Any], locate: Locator) -> list[Problem]:
    """Violations of the restricted Pod Security Standard in one workload manifest.

    Checked: host namespaces and ports, volume types, privileged, runAsNonRoot, runAsUser 0,
    allowPrivilegeEscalation, capabilities (drop ALL, add at most NET_BIND_SERVICE), seccomp
    RuntimeDefault/Localhost; plus fleetform's own policy, readOnlyRootFilesystem. Not checked:
    AppArmor, SELinux, procMount, sysctls. `locate` turns a field path into a `Location`.
    """
    spec_path = _POD_SPEC_PATHS.get(str(manifest.get("kind")))
    pod = _get(manifest, spec_path) if spec_path else None
    if spec_path is None or not isinstance(pod, Mapping):
        return []
    metadata = _mapping(manifest.get("metadata"))
    subject = f"{manifest.get('kind')}/{metadata.get('name')}"
    return [
        Problem(locate(spec_path + path), f"pod-security: {subject}: {message}")
        for path, message in _pod_violations(pod)
    ]


def is_workload(manifest: Mapping[str, Any]) -> bool:
    """A kind whose pods the check looks at."""
    return str(manifest.get("kind")) in _POD_SPEC_PATHS


def _get(data: Any, path: JsonPath) -> Any:
    for step in path:
        if not has(data, step):
            return None
        data = data[step]
    return data


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _pod_violations(pod: Mapping[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key) is True:
            yield (key,), f"{key} must not be true"
    for index, volume in enumerate(pod.get("volumes") or []):
        kinds = set(_mapping(volume)) - {"name"} - _RESTRICTED_VOLUMES
        if kinds:
            yield ("volumes", index), f"volume type {sorted(kinds)[0]} is not allowed"
    pod_context = _mapping(pod.get("securityContext"))
    if pod_context.get("runAsUser") == 0:
        yield ("securityContext", "runAsUser"), "runAsUser must not be 0 (root)"
    for path, container in _containers(pod):
        label = f"container {container.get('name')!r}"
        for field_path, message in _container_violations(container, pod_context):
            yield _blame(path, field_path, container, pod_context), f"{label}: {message}"


def _blame(
    path: JsonPath,
    field_path: JsonPath,
    container: Mapping[str, Any],
    pod_context: Mapping[str, Any],
) -> JsonPath:
    """A setting the container inherits is wrong where the pod sets it."""
    key = field_path[-1]
    own = _mapping(container.get("securityContext"))
    if key in _INHERITED and key not in own and key in pod_context:
        return ("securityContext", key)
    return path + field_path


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[JsonPath, Mapping[str, Any]]]:
    for kind in _CONTAINER_LISTS:
        for index, container in enumerate(pod.get(kind) or []):
            yield (kind, index), _mapping(container)


def _container_violations(
    container: Mapping[str, Any], pod_context: Mapping[str, Any]
) -> Iterator[tuple[JsonPath, str]]:
    """(field path within the container, message) for each rule the container breaks."""
    context = _mapping(container.get("securityContext"))
    capabilities = _mapping(context.get("capabilities"))
    seccomp = _mapping(context.get("seccompProfile") or pod_context.get("seccompProfile"))
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    host_ports = [p for p in container.get("ports") or [] if _mapping(p).get("hostPort")]
    rules: tuple[tuple[bool, str, str], ...] = (
        (non_root is True, "runAsNonRoot", "runAsNonRoot must be true"),
        (context.get("runAsUser") != 0, "runAsUser", "runAsUser must not be 0 (root)"),
        (context.get("privileged") is not True, "privileged", "privileged must not be true"),
        (
            context.get("allowPrivilegeEscalation") is False,
            "allowPrivilegeEscalation",
            "allowPrivilegeEscalation must be false",
        ),
        ("ALL" in (capabilities.get("drop") or []), "capabilities", "must drop ALL capabilities"),
        (
            set(capabilities.get("add") or []) <= {"NET_BIND_SERVICE"},
            "capabilities",
            "may add no capability but NET_BIND_SERVICE",
        ),
        (
            seccomp.get("type") in _SECCOMP_TYPES,
            "seccompProfile",
            "seccompProfile.type must be RuntimeDefault or Localhost",
        ),
        (
            context.get("readOnlyRootFilesystem") is True,
            "readOnlyRootFilesystem",
            "readOnlyRootFilesystem must be true (fleetform policy)",
        ),
    )
    for ok, key, message in rules:
        if not ok:
            yield ("securityContext", key), message
    if host_ports:
        yield ("ports",), "hostPort must not be set"
