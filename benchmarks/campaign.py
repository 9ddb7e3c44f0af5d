"""Benchmark: a fleetform campaign over N synthetic repositories with bare remotes.

Measured in one run (N from FLEETFORM_BENCH_N, default 1,000; 2 cores):
- the campaign: `fleetform clone` of the whole fleet into an empty workspace, then
  `fleetform campaign run NAME --push` bringing every repository from template v1.0.0 to
  v2.0.0 (fetch, branch, copier update, commit, push with merge-request push options);
- the shards: the same campaign again from the same remotes, as 4 CI jobs would run it one
  after another here: each job clones its share (`clone --shard I/4`) and runs
  `campaign run --shard I/4 --push`;
- the peer: what a person's script does per repository, over a sample
  (FLEETFORM_BENCH_PEER_SAMPLE, default 20): `git clone && copier update && git commit &&
  git push`, one repository after another.
The remotes are bare repositories on disk whose pre-receive hook records each push (as a
GitLab server receives them, `tests/remotes.py`): the run checks every repository got exactly
one push of its campaign branch. Prints the figures and the ratios.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog import synthetic_catalog  # noqa: E402

from generator.catalog.validation import open_catalog  # noqa: E402
from generator.fleet.campaign.shard import shard_of  # noqa: E402
from tests.remotes import publish_workspace, pushes, remote_of, with_remotes  # noqa: E402

BIN = Path(sys.executable).parent
IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "node_modules"
)
IDENTITY = ["-c", "user.email=bench@example.com", "-c", "user.name=bench"]
SHARDS = 4
TARGET_SECONDS = 600.0
CAMPAIGN = "bench"


def run(*argv: str | Path, cwd: Path | None = None) -> float:
    """Run a command to completion (it must succeed); its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(map(str, argv))}\n{done.stderr[-3000:]}")
    return elapsed


def fleetform(*args: str | Path) -> float:
    return run(BIN / "fleetform", *args)


def template_repo(base: Path) -> Path:
    """This working tree committed and tagged v1.0.0, then v2.0.0 changing one file."""
    repo = base / "template"
    shutil.copytree(ROOT, repo, ignore=IGNORE, symlinks=True)
    run("git", "init", "-q", "-b", "main", repo)
    run("git", "-C", repo, "add", "-A")
    run("git", "-C", repo, *IDENTITY, "commit", "-q", "-m", "v1")
    run("git", "-C", repo, "tag", "v1.0.0")
    makefile = repo / "template" / "infrastructure" / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# v2: one more line\n")
    run("git", "-C", repo, *IDENTITY, "commit", "-qam", "v2")
    run("git", "-C", repo, "tag", "v2.0.0")
    return repo


def catalog_file(base: Path, services: int, template: Path, ref: str) -> Path:
    text = with_remotes(synthetic_catalog(services), base / "remotes")
    path = base / f"catalog-{ref}.yaml"
    path.write_text(f"{text}\ntemplate:\n  src: {template}\n  ref: {ref}\n", encoding="utf-8")
    return path


def seed(base: Path, catalog: Path, jobs: int) -> tuple[list[str], float]:
    """Every repository generated at v1.0.0 and pushed to its own new bare remote."""
    seconds = fleetform("generate", "-c", catalog, "-w", base / "seed", "--jobs", jobs, "-q")
    publish_workspace(open_catalog(catalog).catalog, base / "seed")
    shutil.rmtree(base / "seed")
    return [s.id for s in open_catalog(catalog).catalog.generated_services()], seconds


def check_pushed(base: Path, catalog: Path, expected: int) -> None:
    """Every repository received exactly one push of fleetform/CAMPAIGN (per `expected` run)."""
    branch = f"refs/heads/fleetform/{CAMPAIGN}"
    for service in open_catalog(catalog).catalog.generated_services():
        got = [p for p in pushes(remote_of(base / "remotes", service.repo)) if p.accepted]
        ours = [p for p in got if any(u.ref == branch for u in p.updates)]
        if len(ours) != expected:
            sys.exit(f"{service.id}: {len(ours)} pushes of {branch}, expected {expected}")


def reset_remotes(base: Path) -> None:
    shutil.rmtree(base / "remotes")
    shutil.copytree(base / "remotes-v1", base / "remotes", symlinks=True)


def campaign(base: Path, catalog: Path, jobs: int, name: str) -> tuple[float, float]:
    """Clone the whole fleet into a new workspace, then run the campaign: both wall times."""
    workspace = base / name
    shard = name.removeprefix("shard-")
    # A shard job clones only its own share (`clone --shard`, as the ci pipeline's jobs do).
    extra = ["--shard", shard.replace("-of-", "/")] if shard != name else []
    clone = fleetform("clone", "-c", catalog, "-w", workspace, "--jobs", jobs, "-q", *extra)
    args: Sequence[str | Path] = ("-c", catalog, "-w", workspace, "--jobs", jobs, "--push", "-q")
    total = fleetform("campaign", "run", CAMPAIGN, *args, *extra)
    shutil.rmtree(workspace)
    return clone, total


def peer(base: Path, services: list[str], catalog: Path) -> dict[str, float]:
    """`git clone && copier update && git commit && git push`, one repository after another:
    the mean seconds per repository of each step, and in all."""
    by_id = {s.id: s for s in open_catalog(catalog).catalog.generated_services()}
    work = base / "peer"
    work.mkdir()
    steps = {"clone": 0.0, "copier update": 0.0, "commit": 0.0, "push": 0.0}
    for sid in services:
        repo = work / sid
        steps["clone"] += run("git", "clone", "-q", by_id[sid].remote or "", repo)
        steps["copier update"] += run(
            BIN / "copier", "update", "--defaults", "--vcs-ref", "v2.0.0", "--conflict", "inline",
            "--quiet", repo,
        )  # fmt: skip
        steps["commit"] += run("git", "-C", repo, "add", "-A")
        steps["commit"] += run(
            "git", "-C", repo, *IDENTITY, "commit", "-q", "-m", "template v1.0.0 -> v2.0.0"
        )
        steps["push"] += run("git", "-C", repo, "push", "-q", "origin", "HEAD:refs/heads/peer/v2")
    means = {step: seconds / len(services) for step, seconds in steps.items()}
    means["all"] = sum(means.values())
    return means


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # figures as they come
    services = int(os.environ.get("FLEETFORM_BENCH_N", "1000"))
    sample = int(os.environ.get("FLEETFORM_BENCH_PEER_SAMPLE", "20"))
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="fleetform-bench-campaign-") as tmp:
        base = Path(tmp)
        template = template_repo(base)
        v1 = catalog_file(base, services, template, "v1.0.0")
        v2 = catalog_file(base, services, template, "v2.0.0")
        ids, generated = seed(base, v1, jobs)
        shutil.copytree(base / "remotes", base / "remotes-v1", symlinks=True)
        n = len(ids)
        print(f"campaign benchmark: {n} repositories, --jobs {jobs}, {os.cpu_count()} cores")
        print(f"  set-up: generate at v1.0.0 {generated:.1f} s, then a bare remote each")

        clone, run_time = campaign(base, v2, jobs, "whole")
        check_pushed(base, v2, 1)
        whole = clone + run_time
        print(f"  whole campaign: {whole:8.1f} s  (target {TARGET_SECONDS:.0f} s:"
              f" {'met' if whole <= TARGET_SECONDS else 'NOT met'})")  # fmt: skip
        print(f"    clone {clone:8.1f} s  {1000 * clone / n:6.1f} ms/repository")
        print(f"    run   {run_time:8.1f} s  {1000 * run_time / n:6.1f} ms/repository")

        reset_remotes(base)
        shard_times = []
        for index in range(1, SHARDS + 1):
            share = sum(1 for sid in ids if shard_of(sid, SHARDS) == index)
            s_clone, s_run = campaign(base, v2, jobs, f"shard-{index}-of-{SHARDS}")
            shard_times.append(s_clone + s_run)
            print(f"  shard {index}/{SHARDS}: {share:5d} repositories, clone {s_clone:7.1f} s +"
                  f" run {s_run:7.1f} s = {s_clone + s_run:7.1f} s"
                  f" ({(s_clone + s_run) / whole:.2f} of the whole; run alone"
                  f" {s_run / run_time:.2f})")  # fmt: skip
        check_pushed(base, v2, 1)
        print(f"  slowest shard / whole: {max(shard_times) / whole:.2f} (target about 0.25)")

        sampled = ids[: min(sample, n)]
        steps = peer(base, sampled, v2)
        per_repo = steps["all"]
        ours = whole / n
        print(
            f"  peer loop (git clone && copier update && git commit && git push), {len(sampled)}"
            f" repositories one after another: {1000 * per_repo:.0f} ms/repository"
        )
        print("    " + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in steps.items() if k != "all"))
        print(
            f"  fleetform campaign: {1000 * ours:.0f} ms/repository of wall time"
            f" ({1000 * ours * jobs:.0f} ms of {jobs} cores)"
        )
        print(
            f"  peer / fleetform per repository: {per_repo / ours:.2f}x; peer for {n}"
            f" repositories: {per_repo * n:.0f} s one after another,"
            f" {per_repo * n / jobs:.0f} s if split over {jobs} cores"
        )


if __name__ == "__main__":
    main()
