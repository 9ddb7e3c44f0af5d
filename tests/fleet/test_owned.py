"""`owned_files`: files whose content is the owners' once they exist. Real Copier, real git.

A small fleet at v1.0.0 (api and worker): the catalog owns `infrastructure/Makefile` for
every service (defaults) and api's build scripts; api's owners edit both and commit. Then
the template's v2.0.0 changes the Makefile and the .dockerignore, and the fleet is updated.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from generator.fleet.manifest import read_manifest
from tests.helpers import (
    SMALL_CATALOG,
    TEMPLATE_TAG,
    catalog_at,
    commit_all,
    fleetform,
    git,
    init_repo,
)

V2 = "v2.0.0"
MAKEFILE = "infrastructure/Makefile"
BUILD = "infrastructure/scripts/build.sh"
DOCKERIGNORE = "infrastructure/.dockerignore"
OWNERS_MAKEFILE = "# the api team's own Makefile\nall:\n\ttrue\n"
# The owners' own build script (an `if` without its `fi`: theirs to keep, even broken).
OWNERS_BUILD = '#!/bin/sh\nset -eu\nif [ -n "$IMAGE" ]; then\n  docker build -t "$IMAGE" .\n'
V2_LINE = "# v2: a line the template adds at the end"

OWNED_CATALOG = SMALL_CATALOG.replace(
    "name: demo\n", "name: demo\ndefaults:\n  owned_files: [infrastructure/Makefile]\n"
).replace(
    "    depends_on: [db, cache]\n",
    "    depends_on: [db, cache]\n    owned_files: ['infrastructure/scripts/b*.sh']\n",
)


@dataclass(frozen=True)
class Fleet:
    template: Path
    catalog: Path
    workspace: Path
    first: Result
    again: Result  # generate after the owners' edits
    again_json: dict[str, object]
    again_status: str
    drift: Result
    drift_json: dict[str, object]
    update: Result
    api_makefile_in_v2: str


@pytest.fixture(scope="module")
def fleet(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    base = tmp_path_factory.mktemp("owned")
    template = base / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    catalog = catalog_at(template, base / "catalog.yaml", text=OWNED_CATALOG)
    workspace = base / "ws"
    first = fleetform("generate", "-c", catalog, "-w", workspace, "-q")
    for name in ("api", "worker"):
        commit_all(init_repo(workspace / name), "generated")
    api = workspace / "api"
    (api / MAKEFILE).write_text(OWNERS_MAKEFILE)
    (api / BUILD).write_text(OWNERS_BUILD)
    commit_all(api, "the owners' Makefile and build script")
    again = fleetform("generate", "-c", catalog, "-w", workspace, "-q")
    # A catalog change makes generate render api again: what it writes, what it leaves.
    catalog.write_text(catalog.read_text().replace("    port: 3000\n", "    port: 3002\n"))
    again_json = json.loads(
        fleetform("generate", "-c", catalog, "-w", workspace, "-q", "--format", "json").stdout
    )
    again_status = git(api, "status", "--porcelain")
    for name in ("api", "worker"):
        commit_all(workspace / name, "port 3002")
    drift = fleetform("drift", "-c", catalog, "-w", workspace, "-q")
    drift_json = json.loads(
        fleetform("drift", "-c", catalog, "-w", workspace, "-q", "--format", "json").stdout
    )
    for name in (MAKEFILE, DOCKERIGNORE):
        with (template / "template" / name).open("a") as changed:
            changed.write(f"{V2_LINE}\n")
    commit_all(template, "v2")
    git(template, "tag", V2)
    update = fleetform("update", "-c", catalog, "-w", workspace, "--vcs-ref", V2, "-q")
    return Fleet(
        template,
        catalog,
        workspace,
        first,
        again,
        again_json,
        again_status,
        drift,
        drift_json,
        update,
        (template / "template" / MAKEFILE).read_text(),
    )


def _repository(data: dict[str, object], service: str) -> dict[str, object]:
    repositories = data["repositories"]
    assert isinstance(repositories, list)
    return next(r for r in repositories if r["service"] == service)


def test_generate_writes_an_owned_file_once_and_never_records_it(fleet: Fleet) -> None:
    assert fleet.first.exit_code == 0, fleet.first.output
    worker = fleet.workspace / "worker"
    v1 = git(fleet.template, "show", f"{TEMPLATE_TAG}:template/{MAKEFILE}")
    assert (worker / MAKEFILE).read_text() == v1 + "\n"
    assert MAKEFILE not in read_manifest(worker)
    assert BUILD in read_manifest(worker)  # api's glob is api's alone
    assert BUILD not in read_manifest(fleet.workspace / "api")


def test_an_owners_edit_of_an_owned_file_costs_generate_no_render(fleet: Fleet) -> None:
    assert fleet.again.exit_code == 0, fleet.again.output
    assert "nothing to do" in fleet.again.stdout


def test_generate_never_overwrites_an_owners_edit_of_an_owned_file(fleet: Fleet) -> None:
    api = _repository(fleet.again_json, "api")
    assert api["outcome"] == "updated"
    files = api["files"]
    assert isinstance(files, dict)
    assert {MAKEFILE, BUILD} <= set(files["owned"]) and files["foreign"] == []
    assert (fleet.workspace / "api" / MAKEFILE).read_text() == OWNERS_MAKEFILE
    assert (fleet.workspace / "api" / BUILD).read_text() == OWNERS_BUILD
    changed = {line[3:] for line in fleet.again_status.splitlines()}
    assert changed and not changed & {MAKEFILE, BUILD}


def test_drift_reports_owned_files_as_owned_not_drifted(fleet: Fleet) -> None:
    assert fleet.drift.exit_code == 0, fleet.drift.output
    api = _repository(fleet.drift_json, "api")
    assert api["outcome"] == "in sync"
    files = api["files"]
    assert isinstance(files, dict)
    # The catalog's and the template's own (_skip_if_exists) alike.
    assert {MAKEFILE, BUILD} <= set(files["owned"]) and files["edited"] == []
    rows = {line.split()[0]: line for line in fleet.drift.stdout.splitlines()}
    assert "in sync" in rows["api"] and rows["api"].endswith(f"{len(files['owned'])} owned")


def test_update_leaves_owned_files_as_they_are(fleet: Fleet) -> None:
    assert fleet.update.exit_code == 0, fleet.update.output
    api, worker = fleet.workspace / "api", fleet.workspace / "worker"
    assert (api / MAKEFILE).read_text() == OWNERS_MAKEFILE
    # Owned once it exists, edited or not: v2's Makefile line reaches neither repository.
    assert V2_LINE not in (worker / MAKEFILE).read_text()
    assert V2_LINE in fleet.api_makefile_in_v2
    for repo in (api, worker):
        assert (repo / DOCKERIGNORE).read_text().endswith(f"{V2_LINE}\n")
        status = git(repo, "status", "--porcelain").splitlines()
        assert f" M {DOCKERIGNORE}" in status
        assert not any(MAKEFILE in line or BUILD in line for line in status), status
        assert MAKEFILE not in read_manifest(repo)


def test_copier_itself_skips_the_globs_fleetform_hands_it(fleet: Fleet, tmp_path: Path) -> None:
    """The native mechanism, not only fleetform's filter: Copier's update with the anchored
    globs as skip_if_exists leaves the file; without them it merges v2's line in."""
    from generator.catalog.validation import open_catalog
    from generator.fleet.answers import service_answers
    from generator.fleet.template import catalog_template
    from generator.fleet.update import copier_update

    catalog = open_catalog(fleet.catalog).catalog
    answers = service_answers(catalog, "worker")
    template = catalog_template(catalog)
    made = {}
    for skip in ((), ["/infrastructure/Makefile"]):
        clone = tmp_path / f"skip-{len(skip)}"
        git(fleet.workspace, "clone", "-q", str(fleet.workspace / "worker"), str(clone))
        copier_update(clone, answers, V2, template, skip=skip)
        made[bool(skip)] = (clone / MAKEFILE).read_text()
    assert V2_LINE in made[False]
    assert V2_LINE not in made[True]
