"""Two real fleetform processes at once on one workspace (or one catalog).

Whatever order the kernel runs them in, each repository ends exactly as one run alone leaves
it, nothing is half-written or left behind, and `new` never loses an entry. A repository held
by another process is refused with that process's pid.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.catalog.validation import open_catalog
from generator.fleet.workspace import STATE_DIR, key
from tests.helpers import ROOT, catalog_at, commit_all, git, init_repo

SERVICES = ["agent-chat", "agent-brain", "agent-router", "agent-mesh"]


def start(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "generator", *(str(a) for a in args)]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def both(*argv: tuple[str | Path, ...]) -> list[tuple[int, str]]:
    """Start every command before waiting for any; their exit codes and output."""
    running = [start(*args) for args in argv]
    return [(p.wait(), "".join(p.communicate())) for p in running]


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts and STATE_DIR not in p.parts
    }


def left_behind(workspace: Path) -> list[str]:
    state = workspace / STATE_DIR
    found = [*state.glob("journal/*"), *state.glob("stage/*"), *state.glob("tmp/*")]
    found += [*workspace.rglob("*.fleetform-new"), *workspace.rglob("index.lock")]
    return [str(p) for p in found]


def test_two_generates_at_once_give_what_one_gives(template_repo: Path, tmp_path: Path) -> None:
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    alone = tmp_path / "alone"
    assert both(("generate", "-c", catalog, "-w", alone, "-j", "1", *SERVICES))[0][0] == 0
    workspace = tmp_path / "ws"
    results = both(
        ("generate", "-c", catalog, "-w", workspace, "-j", "2", *SERVICES),
        ("generate", "-c", catalog, "-w", workspace, "-j", "2", *reversed(SERVICES)),
    )
    for code, output in results:
        assert code == 0, output
        assert "Traceback" not in output
    assert snapshot(workspace) == snapshot(alone)
    assert left_behind(workspace) == []


def test_two_updates_at_once_update_each_repository_once(
    template_repo: Path, tmp_path: Path
) -> None:
    template = tmp_path / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    catalog = catalog_at(template, tmp_path / "catalog.yaml")
    for name in ("ws", "alone"):
        assert both(("generate", "-c", catalog, "-w", tmp_path / name, *SERVICES))[0][0] == 0
    services = open_catalog(catalog).catalog.services
    for name in ("ws", "alone"):
        for service in SERVICES:
            commit_all(init_repo(tmp_path / name / services[service].repo), "generated")
    makefile = template / "template" / "infrastructure" / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# added in v2\n")
    commit_all(template, "v2")
    git(template, "tag", "v2.0.0")
    update = ("update", "-c", catalog, "--vcs-ref", "v2.0.0", "-j", "2", *SERVICES)
    alone = both((*update, "-w", tmp_path / "alone"))[0]
    assert alone[0] == 0, alone[1]
    results = both((*update, "-w", tmp_path / "ws"), (*update, "-w", tmp_path / "ws"))
    for code, output in results:
        assert "Traceback" not in output, output
        # The second process finds each repository updated (up to date) or, if it looks
        # while the first is done but the change is uncommitted, refuses it: never both.
        assert code in (0, 1), output
    for service in SERVICES:
        repo = services[service].repo
        assert snapshot(tmp_path / "ws" / repo) == snapshot(tmp_path / "alone" / repo), service
        for args in (("status", "--porcelain"), ("ls-files", "--stage")):
            assert git(tmp_path / "ws" / repo, *args) == git(tmp_path / "alone" / repo, *args)
    rows = [line.split() for _, output in results for line in output.splitlines()]
    updated = sum(1 for row in rows if row[:1] in [[s] for s in SERVICES] and row[1] == "updated")
    assert updated == len(SERVICES), [output for _, output in results]
    assert left_behind(tmp_path / "ws") == []


def test_two_news_at_once_keep_both_entries(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    shutil.copy(ROOT / "catalog.yaml", catalog)
    results = both(
        (
            "new",
            "svc-one",
            "--group",
            "common-npm",
            "--runtime",
            "node",
            "-c",
            catalog,
            "--no-render",
        ),
        (
            "new",
            "svc-two",
            "--group",
            "common-npm",
            "--runtime",
            "node",
            "-c",
            catalog,
            "--no-render",
        ),
    )
    for code, output in results:
        assert code == 0, output
    services = open_catalog(catalog).catalog.services
    assert {"svc-one", "svc-two"} <= set(services)
    assert services["svc-one"].port != services["svc-two"].port
    assert [p.name for p in tmp_path.iterdir()] == ["catalog.yaml"], "nothing left beside it"


def test_a_repository_held_by_another_process_is_refused_naming_it(
    template_repo: Path, tmp_path: Path
) -> None:
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    workspace = tmp_path / "ws"
    repo = open_catalog(catalog).catalog.services["agent-chat"].repo
    locks = workspace / STATE_DIR / "locks"
    locks.mkdir(parents=True)
    with (locks / f"{key(repo)}.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        generate = start(
            "generate",
            "-c",
            catalog,
            "-w",
            workspace,
            "agent-chat",
            "agent-brain",
            env={"FLEETFORM_LOCK_WAIT": "0"},
        )
        code, output = generate.wait(), "".join(generate.communicate())
    assert code == 1, output
    assert f"agent-chat: {repo} is locked by pid {os.getpid()}" in output
    assert "agent-brain  created" in output
    assert not (workspace / repo).exists()


@pytest.mark.parametrize("command", ["generate", "update"])
def test_a_killed_holder_leaves_no_lock(template_repo: Path, tmp_path: Path, command: str) -> None:
    """The lock is the kernel's: a holder killed outright frees it at once."""
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    workspace = tmp_path / "ws"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from pathlib import Path; "
                "from generator.fleet.workspace import Workspace; "
                "w = Workspace.open(Path(sys.argv[1])); "
                "ctx = w.lock(sys.argv[2]); ctx.__enter__(); print('held', flush=True); "
                "sys.stdin.read()"
            ),
            str(workspace),
            open_catalog(catalog).catalog.services["agent-chat"].repo,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait()
    generate = start(
        "generate", "-c", catalog, "-w", workspace, "agent-chat", env={"FLEETFORM_LOCK_WAIT": "0"}
    )
    code, output = generate.wait(), "".join(generate.communicate())
    assert code == 0, output
