"""`verify_tree`: every validator a tree needs, run in parallel, their findings in one result."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from generator.errors import InputError
from generator.problems import Location, Problem, Severity
from generator.verify.compose import compose
from generator.verify.dockerfile import hadolint
from generator.verify.gitlab_ci import gitlab_ci
from generator.verify.helm import chart
from generator.verify.kubernetes import KUBERNETES_VERSION, require_kube_version
from generator.verify.markers import conflict_markers
from generator.verify.result import VerifyResult, collect, combine
from generator.verify.shell import shellcheck
from generator.verify.targets import Targets, discover
from generator.verify.tools import require

_NOTHING_FOUND = (
    "verify: nothing to verify (no Dockerfile, *.sh, compose file, .gitlab-ci.yml or Helm chart)"
)


def verify_tree(root: Path, *, kube_version: str = KUBERNETES_VERSION) -> VerifyResult:
    """Run every validator that applies to the files under `root` (a directory or one file).

    Raises `InputError` if `root` does not exist, `ToolMissingError` if a validator the tree
    needs is not installed, `UsageError` if kubernetes-validate does not know `kube_version`.
    """
    if not root.exists():
        raise InputError.at(path=root, message="no such file or directory")
    targets = discover(root)
    if targets.empty:
        return collect([Problem(Location(str(root)), _NOTHING_FOUND, Severity.WARNING)])
    tools = _require_tools(targets)
    if targets.charts:
        require_kube_version(kube_version)
    jobs = [*_jobs(targets, tools, kube_version.removeprefix("v")), partial(conflict_markers, root)]
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        return combine(pool.map(lambda job: job(), jobs))


def _require_tools(targets: Targets) -> dict[str, str]:
    wanted = {
        "hadolint": bool(targets.dockerfiles),
        "shellcheck": bool(targets.scripts),
        "docker-compose": bool(targets.compose_files),
        "check-jsonschema": bool(targets.gitlab_ci),
    }
    modules = ("helm_python", "kubernetes_validate") if targets.charts else ()
    return require([name for name, needed in wanted.items() if needed], modules)


def _jobs(
    targets: Targets, tools: dict[str, str], kube_version: str
) -> list[Callable[[], VerifyResult]]:
    base = targets.base
    jobs: list[Callable[[], VerifyResult]] = []
    if targets.dockerfiles:
        jobs.append(partial(hadolint, tools["hadolint"], base, targets.dockerfiles))
    # One shellcheck a script: ~0.2 s each, so a tree's scripts check in parallel.
    jobs += [partial(shellcheck, tools["shellcheck"], base, [f]) for f in targets.scripts]
    jobs += [partial(compose, tools["docker-compose"], f) for f in targets.compose_files]
    jobs += [partial(gitlab_ci, tools["check-jsonschema"], f) for f in targets.gitlab_ci]
    jobs += [partial(chart, d, kube_version) for d in targets.charts]
    return jobs
