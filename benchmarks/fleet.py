"""Benchmark: `fleetform generate` (and `update`, when available) for a fleet, against a floor.

Measured in one run, on the bundled catalog and on a synthetic 1,000-service catalog:
- generate: wall time of `fleetform generate -w WS --jobs N` into an empty workspace;
- floor: plain Jinja2 rendering the same template files for the same services to disk, in
  this process (templates compiled once, no Copier, no git): the least any renderer pays;
- update: `fleetform update` from v1 to v2 of the template across the generated repos.
Prints figures and the ratios fleetform/floor.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader

from generator.catalog.validation import open_catalog
from generator.fleet.answers import service_answers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog import synthetic_catalog

ROOT = Path(__file__).resolve().parent.parent
FLEETFORM = Path(sys.executable).parent / "fleetform"
NO_OP_RUNS = 3
NO_OP_TARGET = 2.0  # seconds, for 1,000 services on 2 cores (issue 14)
IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def template_repo(base: Path) -> Path:
    """This working tree committed and tagged v1.0.0, plus a v2.0.0 that changes two files."""
    repo = base / "template"
    shutil.copytree(ROOT, repo, ignore=IGNORE, symlinks=True)
    git(repo, "init", "-q", "-b", "main")
    git(
        repo,
        "-c",
        "user.email=b@b",
        "-c",
        "user.name=b",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "0",
    )
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-q", "-m", "v1")
    git(repo, "tag", "v1.0.0")
    makefile = repo / "template" / "infrastructure" / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# v2: one more line\n")
    git(repo, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qam", "v2")
    git(repo, "tag", "v2.0.0")
    return repo


def catalog_file(text: str, template: Path, dest: Path, ref: str) -> Path:
    dest.write_text(f"{text}\ntemplate:\n  src: {template}\n  ref: {ref}\n", encoding="utf-8")
    return dest


class Floor:
    """Plain Jinja2 over the same template files: compile once, render and write per service."""

    def __init__(self, template: Path) -> None:
        from jinja2_ansible_filters import AnsibleCoreFiltersExtension

        self.root = template
        self.env = Environment(
            loader=FileSystemLoader(str(template)),
            extensions=[AnsibleCoreFiltersExtension],
            keep_trailing_newline=True,
        )
        config = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
        # Copier's computed values (`when: false` with a default), as Copier computes them.
        self.computed = [
            (name, spec["type"], self.env.from_string(str(spec["default"])))
            for name, spec in config.items()
            if isinstance(spec, dict) and spec.get("when") is False and "default" in spec
        ]
        base = template / "template"
        self.files = [
            p.relative_to(template).as_posix()
            for p in sorted(base.rglob("*"))
            if p.is_file() and "includes" not in p.relative_to(base).parts
        ]

    def render(self, answers: dict[str, Any], dest: Path) -> None:
        context: dict[str, Any] = {
            **answers,
            "_commit": "v1.0.0",
            "_copier_conf": {"answers_file": ".copier-answers.yml"},
            "_copier_answers": {**answers, "_commit": "v1.0.0", "_src_path": str(self.root)},
        }
        for name, kind, default in self.computed:
            context[name] = _cast(kind, default.render(context))
        for name in self.files:
            relative = name.removeprefix("template/")
            if relative.endswith(".jinja"):
                target = self.env.from_string(relative.removesuffix(".jinja")).render(context)
                if not target or target.endswith("/"):
                    continue
                text = self.env.get_template(name).render(context)
                out = dest / target
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text, encoding="utf-8")
            else:
                out = dest / relative
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.root / name, out)


def _cast(kind: str, text: str) -> Any:
    """A rendered default as Copier casts it by the question's type."""
    if kind == "yaml":
        return yaml.safe_load(text)
    if kind == "bool":
        return text.strip().lower() in ("true", "yes", "1", "on")
    if kind == "int":
        return int(text)
    return text


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def timed_cpu(action: Callable[[], object]) -> tuple[float, float]:
    """Wall time, and the CPU time (user + system) of the processes it ran: on a machine
    other work shares, the CPU time is the figure that does not depend on that work."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(action)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FLEETFORM), *map(str, args)], capture_output=True, text=True, check=False
    )


def commit_each(workspace: Path, repos: list[Path]) -> None:
    for repo in repos:
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-q", "-m", "v1")


def measure(label: str, text: str, template: Path, base: Path, jobs: int, update: bool) -> None:
    catalog_path = catalog_file(text, template, base / f"{label}.yaml", "v1.0.0")
    catalog = open_catalog(catalog_path).catalog
    services = [s.id for s in catalog.generated_services()]
    answers = [service_answers(catalog, sid) for sid in services]
    floor = Floor(template)
    floor_out = base / f"{label}-floor"
    floor_time = timed(lambda: [floor.render(a, floor_out / a["service_name"]) for a in answers])
    workspace = base / f"{label}-ws"
    start = time.perf_counter()
    generate = run_cli("generate", "-c", catalog_path, "-w", workspace, "--jobs", jobs)
    gen_time = time.perf_counter() - start
    assert generate.returncode == 0, generate.stdout + generate.stderr
    argv = ("generate", "-c", catalog_path, "-w", workspace, "--jobs", str(jobs))
    # The best of a few runs: others share the machine, and a no-op is short enough that one
    # busy moment doubles it.
    runs = [timed_cpu(lambda: run_cli(*argv)) for _ in range(NO_OP_RUNS)]
    again, again_cpu = min(wall for wall, _ in runs), min(cpu for _, cpu in runs)
    # Without the workspace's record of verified repositories: every file read and hashed.
    (workspace / ".fleetform" / "verified.json").unlink(missing_ok=True)
    unrecorded, unrecorded_cpu = timed_cpu(lambda: run_cli(*argv))
    n = len(services)
    print(f"{label}: {n} generated services, --jobs {jobs}")
    row("floor: plain Jinja2, one process", floor_time, n, floor_time)
    row("fleetform generate (new process)", gen_time, n, floor_time)
    row(f"generate again (no-op), best of {NO_OP_RUNS}", again, n, floor_time)
    print(f"  {'':38} CPU {again_cpu:6.2f} s (user + system, best of {NO_OP_RUNS})")
    row("  the same without the record", unrecorded, n, floor_time)
    print(f"  {'':38} CPU {unrecorded_cpu:6.2f} s (user + system)")
    # Targets (issue 14): a no-op under 2 s for 1,000 services, at most 1/5 of a first run.
    print(f"  generate again / first generate: {again / gen_time:.3f} (target <= 0.2)")
    if n >= 1000:
        # One process (no worker starts), so on an idle machine its wall time is its CPU time.
        met = "met" if again < NO_OP_TARGET else "not met"
        if again >= NO_OP_TARGET > again_cpu:
            met = "met in CPU time; the wall time waited for the machine's other work"
        print(
            f"  no-op at {n} services: {again:.2f} s wall, {again_cpu:.2f} s CPU"
            f" (target < {NO_OP_TARGET:.0f} s on 2 cores: {met}; load {os.getloadavg()[0]:.1f})"
        )
    if not update:
        return
    repos = [workspace / catalog.services[sid].repo for sid in services]
    commit_each(workspace, repos)
    v2 = catalog_file(text, template, base / f"{label}-v2.yaml", "v2.0.0")
    start = time.perf_counter()
    result = run_cli("update", "-c", v2, "-w", workspace, "--jobs", jobs)
    up_time = time.perf_counter() - start
    status = "ok" if result.returncode == 0 else f"exit {result.returncode}"
    row(f"fleetform update v1 -> v2 ({status})", up_time, n, floor_time)


def row(label: str, seconds: float, services: int, floor: float) -> None:
    per = seconds / services * 1000
    print(f"  {label:38} {seconds:8.2f} s {per:7.1f} ms/service ({seconds / floor:5.2f}x floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument(
        "--small", type=int, default=200, help="a second synthetic fleet (generate only)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-update", action="store_true", help="skip the update measurement")
    args = parser.parse_args()
    has_update = run_cli("update", "--help").returncode == 0 and not args.no_update
    with tempfile.TemporaryDirectory(prefix="fleetform-bench-") as tmp:
        base = Path(tmp)
        template = template_repo(base)
        bundled = (ROOT / "catalog.yaml").read_text(encoding="utf-8")
        measure("bundled", bundled, template, base, args.jobs, has_update)
        if args.small:
            small = synthetic_catalog(args.small)
            measure(f"synthetic-{args.small}", small, template, base, args.jobs, update=False)
        measure(
            f"synthetic-{args.services}",
            synthetic_catalog(args.services),
            template,
            base,
            args.jobs,
            has_update,
        )


if __name__ == "__main__":
    main()
