"""The fleet's port snapshot in every repository: its content, generate, update and drift.

Real renders from the tagged `template_repo`, real git repositories; the pre-commit hook that
reads the snapshot is in tests/cli/test_precommit.py, the refusals without one in
tests/cli/test_check_without_catalog.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from generator.catalog.validation import open_catalog
from generator.errors import InputError, UnsafePathError
from generator.fleet.manifest import MANIFEST, read_manifest
from generator.fleet.ports_snapshot import (
    SNAPSHOT,
    check_snapshot,
    ports_snapshot,
    snapshot_claims,
    write_snapshot,
)
from tests.helpers import (
    SMALL_CATALOG,
    catalog_at,
    commit_all,
    fleetform,
    git,
    summary_row,
)

ABOUT = (
    "The fleet's port registry, from the catalog: `fleetform ports check` (the fleetform-ports"
    " pre-commit hook, the lint:ports CI job) checks this repository's compose files against it."
    " Written by fleetform generate and update: change the catalog, not this file."
)
# SMALL_CATALOG and a mail server no service depends on.
CATALOG = f"""{SMALL_CATALOG}  mail:
    group: data
    runtime: image
    image: mailhog/mailhog:v1.0.1
    port: 6001
    container_port: 1025
"""
# Every host port of CATALOG, image services included: what every repository carries.
EXPECTED = f"""\
{{
  "about": "{ABOUT}",
  "catalog": "demo",
  "revision": "sha256:6574585235f4cd54b734e85231528d366811a56b902afa99cda2957a4595f694",
  "ports": [
    {{"port": 3000, "protocol": "tcp", "service": "api", "name": "http"}},
    {{"port": 3001, "protocol": "tcp", "service": "worker", "name": "http"}},
    {{"port": 5433, "protocol": "tcp", "service": "db", "name": "http"}},
    {{"port": 6000, "protocol": "tcp", "service": "cache", "name": "http"}},
    {{"port": 6001, "protocol": "tcp", "service": "mail", "name": "http"}}
  ]
}}
"""
# The mail server (no repository of its own, no service depends on it) moves: every
# repository's snapshot changes, nothing else does.
MOVED = CATALOG.replace("    port: 6001\n", "    port: 6005\n")


def catalog_file(path: Path, text: str = CATALOG) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_snapshot_holds_every_claimed_port_and_its_revision(tmp_path: Path) -> None:
    snapshot = ports_snapshot(open_catalog(catalog_file(tmp_path / "c.yaml")).catalog)
    assert snapshot.text == EXPECTED
    assert json.loads(snapshot.text)["revision"] == snapshot.revision


def test_extra_ports_are_named_and_sorted_by_port(tmp_path: Path) -> None:
    text = CATALOG.replace(
        "    port: 3001\n",
        "    port: 3001\n    extra_ports:\n      - {port: 3002, name: metrics, protocol: udp}\n",
    )
    snapshot = ports_snapshot(open_catalog(catalog_file(tmp_path / "c.yaml", text)).catalog)
    ports = json.loads(snapshot.text)["ports"]
    assert [(p["port"], p["service"], p["name"]) for p in ports][:3] == [
        (3000, "api", "http"),
        (3001, "worker", "http"),
        (3002, "worker", "metrics"),
    ]
    assert ports[2]["protocol"] == "udp"


def test_the_revision_changes_with_the_ports_and_nothing_else(tmp_path: Path) -> None:
    """A description or dependency edit does not touch every repository of the fleet."""

    def of(text: str) -> str:
        return ports_snapshot(open_catalog(catalog_file(tmp_path / "c.yaml", text)).catalog).text

    base = of(CATALOG)
    assert of(CATALOG.replace("    depends_on: [api]\n", "    description: worker\n")) == base
    assert of(MOVED) != base


def test_a_link_on_the_way_is_never_written_through(tmp_path: Path) -> None:
    """An update writes into a scratch clone of repository content: a committed symlink
    `infrastructure -> elsewhere` must not take the snapshot elsewhere."""
    snapshot = ports_snapshot(open_catalog(catalog_file(tmp_path / "c.yaml")).catalog)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "infrastructure").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symlink infrastructure"):
        write_snapshot(tree, snapshot)
    assert list(elsewhere.iterdir()) == []
    # A link at the file itself is replaced, its target untouched.
    (tree / "infrastructure").unlink()
    (tree / "infrastructure").mkdir()
    target = tmp_path / "target"
    target.write_text("keep", encoding="utf-8")
    (tree / SNAPSHOT).symlink_to(target)
    write_snapshot(tree, snapshot)
    assert target.read_text(encoding="utf-8") == "keep"
    assert (tree / SNAPSHOT).read_text(encoding="utf-8") == EXPECTED


def test_an_updates_manifest_gets_the_snapshot_as_generate_records_it(tmp_path: Path) -> None:
    snapshot = ports_snapshot(open_catalog(catalog_file(tmp_path / "c.yaml")).catalog)
    manifest = json.dumps(
        {"generator": "fleetform", "inputs": "x", "files": {"z": "1", "a": "2"}}, indent=2
    )
    recorded = json.loads(write_snapshot(tmp_path / "tree", snapshot, manifest))
    assert list(recorded["files"]) == ["a", SNAPSHOT, "z"]
    assert recorded["inputs"] not in ("x", None)
    assert list(recorded) == ["generator", "inputs", "files"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["ports"][1].update(port=70000),
            "ports[1]: port must be an integer between 1 and 65535, got 70000",
        ),
        (lambda d: d["ports"][2].pop("name"), "ports[2]: must be a mapping of port, protocol"),
        (lambda d: d["ports"][0].update(port=3005), "revision does not match the ports"),
        (lambda d: d.pop("ports"), "not a fleetform port snapshot: no 'ports' list"),
    ],
)
def test_a_snapshot_not_as_fleetform_wrote_it_is_refused_at_its_place(
    edit: object, message: str, tmp_path: Path
) -> None:
    data = json.loads(EXPECTED)
    edit(data)  # type: ignore[operator]
    path = tmp_path / "fleet-ports.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        snapshot_claims(path)
    (problem,) = caught.value.problems
    assert problem.message.startswith(message), problem
    assert problem.location.line >= 1


def test_the_snapshot_alone_checks_a_compose_file_like_the_catalog(tmp_path: Path) -> None:
    catalog = catalog_file(tmp_path / "catalog.yaml")
    snapshot = tmp_path / "fleet-ports.json"
    snapshot.write_text(EXPECTED, encoding="utf-8")
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n  api:\n    ports: ['3000:3000']\n  cache:\n    ports: ['3001:6379']\n",
        encoding="utf-8",
    )
    from_snapshot = [p.message for p in check_snapshot(snapshot, (compose,))]
    result = fleetform("ports", "check", "-c", catalog, compose)
    from_catalog = [line.split(": error: ")[1] for line in result.stdout.splitlines()]
    # The same findings; only where the registry's side is told differs.
    assert [re.sub(r" \([^)]*\)", "", m) for m in from_snapshot] == [
        re.sub(r" \([^)]*\)", "", m) for m in from_catalog
    ]
    assert from_snapshot == [
        f"port 3001/tcp is claimed more than once: worker ({snapshot}:7:5), cache ({compose}:5:13)",
        f"service 'cache' publishes 3001/tcp but the catalog gives it 6000/tcp ({snapshot}:9:5)",
    ]


# ------------------------------------------------------------------ generate, update, drift


@pytest.fixture
def fleet(template_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """CATALOG's generated services (api, worker) in a workspace, each committed."""
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml", text=CATALOG)
    workspace = tmp_path / "ws"
    result = fleetform("generate", "-c", catalog, "-w", workspace)
    assert result.exit_code == 0, result.output
    for repo in ("api", "worker"):
        git(workspace, "init", "-q", "-b", "main", repo)
        git(workspace / repo, "config", "user.email", "test@example.com")
        git(workspace / repo, "config", "user.name", "test")
        commit_all(workspace / repo, "generated")
    return catalog, workspace


def moved(tmp_path: Path, template: Path) -> Path:
    return catalog_at(template, tmp_path / "moved.yaml", text=MOVED)


def test_generate_writes_the_snapshot_and_records_it(fleet: tuple[Path, Path]) -> None:
    _, workspace = fleet
    for repo in ("api", "worker"):
        assert (workspace / repo / SNAPSHOT).read_text(encoding="utf-8") == EXPECTED
        assert SNAPSHOT in read_manifest(workspace / repo)


def test_the_generated_ci_checks_ports_with_the_fleetform_that_rendered_it(
    fleet: tuple[Path, Path], template_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installing fleetform is not possible offline: the job's install is a requirement pip
    takes, naming the template's repository at a version that exists there, and its check
    is the pre-commit hook's, which passes on the repository as generated."""
    _, workspace = fleet
    repo = workspace / "api"
    job = yaml.safe_load((repo / ".gitlab-ci.yml").read_text(encoding="utf-8"))["lint:ports"]
    assert job["stage"] == "lint"
    check = "/tmp/fleetform/bin/fleetform ports check infrastructure/docker-compose.yml"
    assert job["script"][-1] == check
    install = job["script"][1]
    prefix = "/tmp/fleetform/bin/pip install --quiet "
    assert install.startswith(prefix)
    requirement = Requirement(install.removeprefix(prefix).strip("'"))
    assert requirement.name == "fleetform"
    assert requirement.url == f"git+file://{template_repo}@v1.0.0"
    assert git(template_repo, "rev-parse", "--verify", "v1.0.0^{commit}")
    monkeypatch.chdir(repo)
    result = fleetform(*job["script"][-1].split()[1:])
    assert result.exit_code == 0, result.output
    assert result.stderr == "ports: ok\n"


def test_generate_brings_a_port_change_elsewhere_into_every_repository(
    fleet: tuple[Path, Path], tmp_path: Path, template_repo: Path
) -> None:
    _, workspace = fleet
    changed = moved(tmp_path, template_repo)
    result = fleetform("generate", "-c", changed, "-w", workspace)
    assert result.exit_code == 0, result.output
    for repo in ("api", "worker"):
        changed_files = git(workspace / repo, "diff", "--name-only").splitlines()
        assert changed_files == [MANIFEST, SNAPSHOT]
        assert '"port": 6005' in (workspace / repo / SNAPSHOT).read_text(encoding="utf-8")
    again = fleetform("generate", "-c", changed, "-w", workspace)
    assert "2 service(s): 2 unchanged" in again.stdout, again.stdout


def test_drift_names_a_stale_snapshot_and_update_refreshes_it_across_the_fleet(
    fleet: tuple[Path, Path], tmp_path: Path, template_repo: Path
) -> None:
    _, workspace = fleet
    changed = moved(tmp_path, template_repo)
    drift = fleetform("drift", "-c", changed, "-w", workspace)
    assert drift.exit_code == 1, drift.output
    for repo in ("api", "worker"):
        assert summary_row(drift, repo).startswith(f"{repo} | drifted | v1.0.0 (newest) | 1 differ")
        assert f"{repo}: {SNAPSHOT}: catalog changed since fleetform wrote it" in drift.stdout

    update = fleetform("update", "-c", changed, "-w", workspace)
    assert update.exit_code == 0, update.output
    for repo in ("api", "worker"):
        assert summary_row(update, repo).startswith(f"{repo} | updated | v1.0.0 | "), update.stdout
        changed_files = git(workspace / repo, "diff", "--name-only").splitlines()
        assert changed_files == [MANIFEST, SNAPSHOT]
        assert '"port": 6005' in (workspace / repo / SNAPSHOT).read_text(encoding="utf-8")
        assert SNAPSHOT in read_manifest(workspace / repo)
        commit_all(workspace / repo, "ports moved")

    again = fleetform("update", "-c", changed, "-w", workspace)
    assert [summary_row(again, repo) for repo in ("api", "worker")] == [
        "api | up to date | v1.0.0 | -",
        "worker | up to date | v1.0.0 | -",
    ]
    in_sync = fleetform("drift", "-c", changed, "-w", workspace)
    assert in_sync.exit_code == 0, in_sync.output
    # What update recorded is what generate records: nothing to do, no byte changed.
    generated = fleetform("generate", "-c", changed, "-w", workspace)
    assert "2 service(s): 2 unchanged" in generated.stdout, generated.stdout
    assert all(not git(workspace / r, "status", "--porcelain") for r in ("api", "worker"))
