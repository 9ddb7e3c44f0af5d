"""What the fleet commands say while and after they run: a line per repository as it
finishes, `-q` for only the summary, `--format json` in the one documented shape
(schemas/fleet-result.schema.json), diffs that name the repository."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.helpers import ROOT, catalog_at, commit_all, fleetform, git, init_repo

SCHEMA = json.loads((ROOT / "schemas" / "fleet-result.schema.json").read_text())
SERVICES = ("agent-chat", "ossa")


@pytest.fixture
def workspace(template_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    return catalog, tmp_path / "ws"


def parsed(output: str) -> dict[str, object]:
    data = json.loads(output)
    jsonschema.validate(data, SCHEMA)
    return data


def test_a_line_per_repository_as_it_finishes_then_the_summary(
    workspace: tuple[Path, Path],
) -> None:
    catalog, ws = workspace
    result = fleetform("generate", "-c", catalog, "-w", ws, *SERVICES, "-j", "1")
    assert result.exit_code == 0
    assert sorted(result.stderr.splitlines()) == [
        "[1/2] agent-chat: created",
        "[2/2] ossa: created",
    ]
    assert result.stdout.splitlines()[-1] == "2 service(s): 2 created"
    quiet = fleetform("generate", "-c", catalog, "-w", ws, *SERVICES, "-q")
    assert quiet.stderr == "" and quiet.stdout.splitlines()[-1].startswith(
        "2 service(s): 2 unchanged"
    )


def test_generate_json_has_every_repository_and_its_files(workspace: tuple[Path, Path]) -> None:
    catalog, ws = workspace
    result = fleetform("generate", "-c", catalog, "-w", ws, *SERVICES, "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    data = parsed(result.stdout)
    assert data["command"] == "generate" and data["ok"] is True and data["interrupted"] is None
    chat = next(r for r in data["repositories"] if r["service"] == "agent-chat")
    assert chat["outcome"] == "created"
    assert chat["repository"] == str(ws / "common_npm" / "agent-chat")
    assert "infrastructure/Dockerfile" in chat["files"]["created"]
    assert chat["template"] is None and chat["messages"] == []


def test_update_and_drift_json_name_versions_and_files(
    workspace: tuple[Path, Path], template_repo: Path
) -> None:
    catalog, ws = workspace
    assert fleetform("generate", "-c", catalog, "-w", ws, *SERVICES, "-q").exit_code == 0
    for repo in (ws / "common_npm" / "agent-chat", ws / "ossa"):
        commit_all(init_repo(repo), "generated")
    (ws / "ossa" / "infrastructure" / "Makefile").write_text("# ours\n")
    commit_all(ws / "ossa", "ours")
    drift = fleetform("drift", "-c", catalog, "-w", ws, *SERVICES, "--format", "json", "-q")
    assert drift.exit_code == 1
    data = parsed(drift.stdout)
    ossa = next(r for r in data["repositories"] if r["service"] == "ossa")
    assert ossa["outcome"] == "drifted"
    assert ossa["files"]["edited"] == ["infrastructure/Makefile"]
    assert ossa["template"] == {"recorded": "v1.0.0", "newest": "v1.0.0", "behind": False}
    update = fleetform("update", "-c", catalog, "-w", ws, *SERVICES, "--format", "json", "-q")
    data = parsed(update.stdout)
    assert {r["outcome"] for r in data["repositories"]} == {"up to date"}
    assert data["repositories"][0]["template"] == {"from": "v1.0.0", "to": "v1.0.0"}
    assert git(ws / "ossa", "status", "--porcelain") == ""


def test_diff_goes_with_dry_run_and_names_the_repository(workspace: tuple[Path, Path]) -> None:
    catalog, ws = workspace
    alone = fleetform("generate", "-c", catalog, "-w", ws, "ossa", "--diff")
    assert alone.exit_code == 2 and "--diff goes with --dry-run" in alone.stderr
    assert not ws.exists()
    preview = fleetform("generate", "-c", catalog, "-w", ws, "ossa", "--dry-run", "--diff", "-q")
    assert "--- /dev/null\n+++ b/ossa/infrastructure/Dockerfile\n" in preview.stdout


def test_a_generate_with_nothing_to_do_renders_nothing(
    workspace: tuple[Path, Path], tmp_path: Path
) -> None:
    """Same template commit, answers and fleetform version, files untouched: no render, so no
    template clone (what Copier starts first); an edited file brings the render back."""
    import shutil
    import subprocess
    import sys

    catalog, ws = workspace
    assert fleetform("generate", "-c", catalog, "-w", ws, *SERVICES, "-q").exit_code == 0

    def clones() -> list[str]:
        log = tmp_path / "exec.log"
        argv = [sys.executable, "-m", "generator", "generate", "-c", str(catalog), "-w", str(ws)]
        strace = shutil.which("strace")
        assert strace, "strace is a test dependency (scripts/test-deps.sh)"
        done = subprocess.run(
            [strace, "-f", "-qq", "-o", str(log), "-e", "trace=execve", *argv, *SERVICES, "-q"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-1].startswith("2 service(s): 2 unchanged")
        return [line for line in log.read_text().splitlines() if '"clone"' in line]

    assert clones() == []
    makefile = ws / "ossa" / "infrastructure" / "Makefile"
    makefile.write_text(makefile.read_text())  # same bytes: still nothing to do
    assert clones() == []
    with makefile.open("a") as edited:
        edited.write("# an owner's line\n")
    again = fleetform("generate", "-c", catalog, "-w", ws, *SERVICES, "-q")
    assert again.exit_code == 1 and "would overwrite files fleetform did not write" in again.stdout
