"""`fleetform heal`: real Copier, real git repositories, the silent divergence reproduced.

Four node services are generated at v1.0.0 and committed. The owners of KEPT add a last line
to the Dockerfile, edit their owned Makefile, and delete a script; CLASH's owners edit the
very line v2 changes. Then v2.0.0 changes that line and the fleet is updated and committed;
in KEPT and CLASH the owners then put back their v1 Dockerfile (a file restored from an old
commit: the missed change of epics-containers.github.io#232). `update` then says "up to
date" and can never bring the change back; heal does. CLEAN is left as v2 made it; DIRTY
has uncommitted work.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from click.testing import Result

from generator.fleet.manifest import MANIFEST
from tests.fleet.test_concurrency import both, left_behind
from tests.helpers import (
    ROOT,
    catalog_at,
    commit_all,
    fleetform,
    git,
    git_state,
    init_repo,
    replace_line,
)

KEPT, CLASH, CLEAN, DIRTY = "kept", "clash", "clean", "dirty"
SERVICES = (KEPT, CLASH, CLEAN, DIRTY)
V2 = "v2.0.0"
DOCKERFILE = "infrastructure/Dockerfile"
MAKEFILE = "infrastructure/Makefile"
ROLLBACK = "infrastructure/scripts/rollback.sh"
V1_LINE = "# changes here are overwritten by `copier update`."
V2_LINE = "# changes here are overwritten by `copier update` (v2)."
OWN_LAST = "# the kept team's own last line"
OWN_CLASH = "# the clash team's own second line, where v2 changes it"
OWNERS_MAKEFILE = "# the kept team's Makefile\n"
SCHEMA = json.loads((ROOT / "schemas" / "fleet-result.schema.json").read_text())

CATALOG = 'version: 1\nname: demo\ngroups:\n  apps: {ports: "3000-3099", cluster: services}\n'
CATALOG += "services:\n" + "".join(
    f"  {name}: {{group: apps, runtime: node, port: {3000 + i}}}\n"
    for i, name in enumerate(SERVICES)
)
CATALOG = CATALOG.replace(
    "  kept: {group: apps, runtime: node, port: 3000}",
    "  kept: {group: apps, runtime: node, port: 3000, owned_files: [infrastructure/Makefile]}",
)


def files_of(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


@dataclass(frozen=True)
class Fleet:
    template: Path
    catalog: Path
    workspace: Path
    update_after: Result  # update once the change was lost: it cannot see it
    lost: bool  # the change was not in KEPT's Dockerfile then
    before: dict[str, dict[str, bytes]]
    heads: dict[str, str]
    dry_run: Result
    dry_run_wrote: bool
    heal: Result
    heal_json: Result  # a second heal, as JSON
    spare: Path  # a copy of the workspace as heal found it, for the concurrency tests

    def repo(self, name: str) -> Path:
        return self.workspace / name


@pytest.fixture(scope="module")
def fleet(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = tmp_path_factory.mktemp("heal")
    template = base / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    catalog = catalog_at(template, base / "catalog.yaml", text=CATALOG)
    ws = base / "ws"
    assert fleetform("generate", "-c", catalog, "-w", ws, "-q").exit_code == 0
    repos = {name: ws / name for name in SERVICES}
    for repo in repos.values():
        commit_all(init_repo(repo), "generated at v1")
    kept = repos[KEPT]
    with (kept / DOCKERFILE).open("a") as dockerfile:
        dockerfile.write(f"{OWN_LAST}\n")
    (kept / MAKEFILE).write_text(OWNERS_MAKEFILE)
    (kept / ROLLBACK).unlink()
    commit_all(kept, "our last line, our Makefile, no rollback")
    replace_line(repos[CLASH] / DOCKERFILE, V1_LINE, OWN_CLASH)
    commit_all(repos[CLASH], "our second line")
    replace_line(template / "template" / "infrastructure" / "Dockerfile.jinja", V1_LINE, V2_LINE)
    commit_all(template, "v2")
    git(template, "tag", V2)
    update = fleetform("update", "-c", catalog, "-w", ws, "--vcs-ref", V2, "-q", KEPT, CLASH, CLEAN)
    assert update.exit_code == 1, update.output  # CLASH conflicts
    for name in (KEPT, CLASH):
        git(repos[name], "checkout", "HEAD", "--", DOCKERFILE)  # the v1 file, back again
    for name in (KEPT, CLASH, CLEAN):
        commit_all(repos[name], "updated to v2")
    with (repos[DIRTY] / DOCKERFILE).open("a") as dockerfile:
        dockerfile.write("# work in progress, not committed\n")
    catalog_v2 = catalog_at(template, base / "catalog-v2.yaml", ref=V2, text=CATALOG)
    update_after = fleetform("update", "-c", catalog_v2, "-w", ws, "-q", KEPT, CLASH, CLEAN)
    lost = V2_LINE not in (kept / DOCKERFILE).read_text()
    before = {name: files_of(repo) for name, repo in repos.items()}
    heads = {name: git(repo, "rev-parse", "HEAD") for name, repo in repos.items()}
    whole = files_of(ws)
    spare = base / "spare"
    shutil.copytree(ws, spare, symlinks=True, ignore=shutil.ignore_patterns(".fleetform"))
    dry_run = fleetform("heal", "-c", catalog, "-w", ws, "--dry-run", "-q")
    dry_run_wrote = files_of(ws) != whole
    heal = fleetform("heal", "-c", catalog, "-w", ws, "-j", "2")
    heal_json = fleetform("heal", "-c", catalog, "-w", ws, "-q", "--format", "json", CLEAN)
    return Fleet(
        template,
        catalog,
        ws,
        update_after,
        lost,
        before,
        heads,
        dry_run,
        dry_run_wrote,
        heal,
        heal_json,
        spare,
    )


def row(result: Result, service: str) -> list[str]:
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] == [service]]
    assert len(rows) == 1, result.stdout
    return rows[0]


def test_update_cannot_see_the_lost_change(fleet: Fleet) -> None:
    """The premise: at v2 with the catalog's answers, update has nothing to do."""
    assert fleet.update_after.exit_code == 0, fleet.update_after.output
    assert fleet.lost


def test_heal_brings_the_lost_change_back_and_keeps_the_owners_edit(fleet: Fleet) -> None:
    repo = fleet.repo(KEPT)
    assert row(fleet.heal, KEPT)[:3] == [KEPT, "healed", V2]
    lines = (repo / DOCKERFILE).read_text().split("\n")
    assert lines[-2:] == [OWN_LAST, ""] and V2_LINE in lines and V1_LINE not in lines
    assert (repo / ROLLBACK).read_bytes() == (fleet.repo(CLEAN) / ROLLBACK).read_bytes()
    assert os.access(repo / ROLLBACK, os.X_OK)
    status = {line.strip() for line in git(repo, "status", "--porcelain").splitlines()}
    assert {f"M {DOCKERFILE}", f"?? {ROLLBACK}"} <= status
    assert git(repo, "rev-parse", "HEAD") == fleet.heads[KEPT]  # nothing committed


def test_an_owned_file_is_left_as_the_owners_made_it(fleet: Fleet) -> None:
    repo = fleet.repo(KEPT)
    assert (repo / MAKEFILE).read_text() == OWNERS_MAKEFILE
    assert not any(MAKEFILE in line for line in git(repo, "status", "--porcelain").splitlines())


def test_a_conflicting_edit_is_left_inline_as_update_leaves_it(fleet: Fleet) -> None:
    repo = fleet.repo(CLASH)
    assert row(fleet.heal, CLASH)[:3] == [CLASH, "conflicts", V2]
    markers = f"<<<<<<< before updating\n{OWN_CLASH}\n=======\n{V2_LINE}\n>>>>>>> after updating\n"
    assert markers in (repo / DOCKERFILE).read_text()
    assert f"UU {DOCKERFILE}" in git(repo, "status", "--porcelain").splitlines()
    # Stages as Copier's update sets them: the owners' (HEAD's) and the render.
    assert git(repo, "show", f":2:{DOCKERFILE}") == git(repo, "show", f"HEAD:{DOCKERFILE}")
    assert V2_LINE in git(repo, "show", f":3:{DOCKERFILE}")
    assert V1_LINE in git(repo, "show", f":1:{DOCKERFILE}")  # the base: the clean v1 render
    # A manifest is written only by a heal without conflicts, as by update.
    assert (repo / MANIFEST).read_bytes() == fleet.before[CLASH][MANIFEST]


def test_a_repository_in_sync_is_left_alone(fleet: Fleet) -> None:
    repo = fleet.repo(CLEAN)
    assert row(fleet.heal, CLEAN)[:3] == [CLEAN, "in", "sync"]
    assert files_of(repo) == fleet.before[CLEAN]
    assert git(repo, "status", "--porcelain") == ""
    data = json.loads(fleet.heal_json.stdout)
    jsonschema.validate(data, SCHEMA)
    assert data["command"] == "heal" and data["ok"] is True
    assert data["repositories"][0]["outcome"] == "in sync"


def test_a_dirty_repository_is_refused_and_untouched(fleet: Fleet) -> None:
    assert row(fleet.heal, DIRTY)[:2] == [DIRTY, "refused"]
    assert f"{DIRTY}: uncommitted changes (commit or stash them first): {DOCKERFILE}" in (
        fleet.heal.stdout
    )
    assert files_of(fleet.repo(DIRTY)) == fleet.before[DIRTY]
    assert fleet.heal.exit_code == 1  # a conflict and a refusal


def test_dry_run_lists_the_files_and_writes_nothing(fleet: Fleet) -> None:
    assert not fleet.dry_run_wrote
    assert row(fleet.dry_run, KEPT)[:3] == [KEPT, "would", "heal"]
    assert row(fleet.dry_run, CLEAN)[:3] == [CLEAN, "in", "sync"]


def test_an_owners_edit_with_nothing_lost_is_kept_and_the_repository_unchanged(
    fleet: Fleet, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    repo = ws / CLEAN
    shutil.copytree(fleet.repo(CLEAN), repo, symlinks=True)
    with (repo / DOCKERFILE).open("a") as dockerfile:
        dockerfile.write("# ours\n")
    commit_all(repo, "our line")
    before = files_of(repo)
    result = fleetform("heal", "-c", fleet.catalog, "-w", ws, CLEAN)
    assert result.exit_code == 0, result.output
    assert row(result, CLEAN)[:2] == [CLEAN, "unchanged"]
    assert "every difference from the render is an owners' edit" in result.stdout
    assert files_of(repo) == before and git(repo, "status", "--porcelain") == ""


def test_a_relative_workspace_path_heals_as_an_absolute_one(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-w ws`: git is run with `-C` in the repository and its scratch clone, so every path
    fleetform hands it (the clone's source, the merge's files) must not be relative."""
    for name in (KEPT, CLASH):
        shutil.copytree(fleet.spare / name, tmp_path / "ws" / name, symlinks=True)
    monkeypatch.chdir(tmp_path)
    result = fleetform("heal", "-c", fleet.catalog, "-w", "ws", KEPT, CLASH)
    assert result.exit_code == 1, result.output  # CLASH conflicts
    assert [row(result, name)[1] for name in (KEPT, CLASH)] == ["healed", "conflicts"]
    for name in (KEPT, CLASH):
        assert files_of(tmp_path / "ws" / name) == files_of(fleet.repo(name)), name
        assert git_state(tmp_path / "ws" / name) == git_state(fleet.repo(name)), name


# ------------------------------------------------------------------ two processes at once


def rows_of(results: list[tuple[int, str]], service: str) -> list[list[str]]:
    return [
        line.split()
        for _, output in results
        for line in output.splitlines()
        if line.split()[:1] == [service]
    ]


def test_two_heals_at_once_heal_each_repository_once(fleet: Fleet, tmp_path: Path) -> None:
    """Two real processes: each repository is healed by one; the other waits for its lock
    and then finds the heal's uncommitted result (refused, one line), or finds it in sync."""
    ws = tmp_path / "ws"
    shutil.copytree(fleet.spare, ws, symlinks=True)
    heal = ("heal", "-c", fleet.catalog, "-w", ws, "-j", "1")
    results = both((*heal, KEPT, CLASH), (*heal, CLASH, KEPT))
    for code, output in results:
        assert code == 1, output  # CLASH conflicts or is refused, in both
        assert "Traceback" not in output, output
    for name in (KEPT, CLASH):
        assert files_of(ws / name) == files_of(fleet.repo(name)), name
        assert git_state(ws / name) == git_state(fleet.repo(name)), name
    for name, outcome in ((KEPT, "healed"), (CLASH, "conflicts")):
        rows = rows_of(results, name)
        assert sorted(row[1] for row in rows) == sorted([outcome, "refused"]), rows
        refusing = next(out for _, out in results if row_text(out, name)[1] == "refused")
        assert f"{name}: uncommitted changes (commit or stash them first)" in refusing or (
            f"{name}: {name} is locked by pid" in refusing
        ), refusing
    assert left_behind(ws) == []


def test_heal_and_update_at_once_leave_what_one_of_them_leaves(
    fleet: Fleet, tmp_path: Path
) -> None:
    """`update` (a changed description for KEPT) and `heal` on the same repository at once:
    it ends exactly as one of them alone leaves it, the other refused; never both writing."""
    text = CATALOG.replace("port: 3000,", "port: 3000, description: the kept service,")
    changed = catalog_at(fleet.template, tmp_path / "changed.yaml", ref=V2, text=text)
    update = ("update", "-c", changed, "-j", "1", KEPT)
    alone, ws = tmp_path / "alone", tmp_path / "ws"
    for workspace in (alone, ws):
        shutil.copytree(fleet.spare, workspace, symlinks=True)
    # The update alone (the reference) runs beside the two, on a workspace of its own.
    (code, output), *results = both(
        (*update, "-w", alone), (*update, "-w", ws), ("heal", "-c", fleet.catalog, "-w", ws, KEPT)
    )
    assert code == 0 and row_text(output, KEPT)[1] == "updated", output
    for _, output in results:
        assert "Traceback" not in output, output
    outcomes = [row_text(output, KEPT)[1] for _, output in results]
    assert outcomes in (["updated", "refused"], ["refused", "healed"]), results
    reference = alone / KEPT if outcomes[0] == "updated" else fleet.repo(KEPT)
    assert files_of(ws / KEPT) == files_of(reference)
    assert git_state(ws / KEPT) == git_state(reference)
    assert left_behind(ws) == []


def row_text(output: str, service: str) -> list[str]:
    rows = [line.split() for line in output.splitlines() if line.split()[:1] == [service]]
    assert len(rows) == 1, output
    return rows[0]


# ------------------------------------------------------------------ attacks


@pytest.fixture
def victim(fleet: Fleet, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workspace holding a copy of the in-sync repository, and a file outside it."""
    ws = tmp_path / "ws"
    shutil.copytree(fleet.repo(CLEAN), ws / CLEAN, symlinks=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("not fleetform's\n")
    return ws, ws / CLEAN, outside


def _heal_clean(fleet: Fleet, ws: Path) -> Result:
    return fleetform("heal", "-c", fleet.catalog, "-w", ws, CLEAN)


def test_a_link_at_a_template_path_is_never_written_through(
    fleet: Fleet, victim: tuple[Path, Path, Path]
) -> None:
    ws, repo, outside = victim
    (repo / DOCKERFILE).unlink()
    (repo / DOCKERFILE).symlink_to(outside)
    commit_all(repo, "a link to outside")
    result = _heal_clean(fleet, ws)
    assert result.exit_code == 1 and row(result, CLEAN)[:2] == [CLEAN, "refused"]
    assert f"{DOCKERFILE}: not a regular file" in result.stdout
    assert outside.read_text() == "not fleetform's\n"
    assert git(repo, "status", "--porcelain") == ""


def test_a_manifest_naming_a_path_outside_refuses_the_repository(
    fleet: Fleet, victim: tuple[Path, Path, Path]
) -> None:
    ws, repo, outside = victim
    manifest = json.loads((repo / MANIFEST).read_text())
    manifest["files"]["../../outside.txt"] = "0" * 64
    (repo / MANIFEST).write_text(json.dumps(manifest))
    (repo / DOCKERFILE).write_text("# drifted\n")
    commit_all(repo, "a hostile manifest")
    result = _heal_clean(fleet, ws)
    assert result.exit_code == 1 and row(result, CLEAN)[:2] == [CLEAN, "refused"]
    assert outside.read_text() == "not fleetform's\n"
    assert git(repo, "status", "--porcelain") == ""


def test_answers_naming_another_template_are_refused(
    fleet: Fleet, victim: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ws, repo, _ = victim
    answers = repo / ".copier-answers.yml"
    elsewhere = tmp_path / "evil-template"
    answers.write_text(
        "\n".join(
            f"_src_path: {elsewhere}" if line.startswith("_src_path:") else line
            for line in answers.read_text().split("\n")
        )
    )
    commit_all(repo, "answers pointing elsewhere")
    result = _heal_clean(fleet, ws)
    assert result.exit_code == 1 and row(result, CLEAN)[:2] == [CLEAN, "refused"]
    assert f"made from the template {elsewhere}" in result.stdout
    assert git(repo, "status", "--porcelain") == ""
