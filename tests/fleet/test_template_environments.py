"""The template's environments and base images, from the catalog and from plain Copier.

The catalog's environments (examples/marketplace.yaml: local, a custom "development" like
staging without a NetworkPolicy, staging, production) give each chart a values file each,
CI deploy jobs as their settings say, and deploy.sh's list; a base image from the catalog is
every FROM of the Dockerfile and CI's test image. Real Copier renders from the tagged
template repository; the chart is rendered by Helm.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from generator.catalog.validation import open_catalog
from generator.fleet.answers import service_answers
from generator.verify import verify_tree
from tests.fleet.test_template import (
    CASES,
    COPIER,
    deploy_dry_run,
    manifest,
    render_case,
    render_chart,
)
from tests.helpers import ROOT, TEMPLATE_TAG, commit_all, init_repo

pytestmark = pytest.mark.slow

DIGEST = "sha256:6a4c2a0b6ca8e1d2f3a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7"


@pytest.fixture(scope="module")
def custom(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """publishing of examples/marketplace.yaml, rendered as fleetform renders it."""
    return render_case("custom-environments", template_repo, tmp_path_factory.mktemp("c") / "p")


def copy(template_repo: Path, out: Path, *data: str) -> subprocess.CompletedProcess[str]:
    """Plain `copier copy --defaults` with `-d` answers, no catalog."""
    argv = [str(COPIER), "copy", "--defaults", "--vcs-ref", TEMPLATE_TAG]
    for answer in data:
        argv += ["-d", answer]
    return subprocess.run(
        [*argv, str(template_repo), str(out)], capture_output=True, text=True, check=False
    )


def test_every_environment_of_the_catalog_gets_its_values_file(custom: Path) -> None:
    values = custom / "infrastructure" / "helm" / "values"
    assert sorted(p.name for p in values.iterdir()) == [
        "development.yaml",
        "local.yaml",
        "overrides.yaml",
        "production.yaml",
        "staging.yaml",
    ]
    # development is like staging: one pod at rest, up to half of production's maximum.
    hpa = manifest(render_chart(custom, "development"), "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 25)
    # ... but the catalog turned its NetworkPolicy off; staging and production keep theirs.
    kinds = {env: {m["kind"] for m in render_chart(custom, env)} for env in values_of(custom)}
    assert {env for env, found in kinds.items() if "NetworkPolicy" in found} == {
        "staging",
        "production",
    }
    assert [str(p) for p in verify_tree(custom).problems] == []


def values_of(root: Path) -> list[str]:
    values = root / "infrastructure" / "helm" / "values"
    return sorted(p.stem for p in values.glob("*.yaml") if p.stem != "overrides")


def test_ci_deploys_each_environment_as_its_settings_say(custom: Path) -> None:
    ci = yaml.safe_load((custom / ".gitlab-ci.yml").read_text())
    deploys = {job: spec for job, spec in ci.items() if job.startswith("deploy:")}
    assert list(deploys) == ["deploy:development", "deploy:staging", "deploy:production"]
    for name in ("development", "staging"):  # auto: every commit of the default branch
        job = deploys[f"deploy:{name}"]
        assert job["variables"]["DEPLOY_ENV"] == job["environment"]["name"] == name
        assert job["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
        assert job["needs"] == ["build", "scan:image"]
    production = deploys["deploy:production"]
    assert production["rules"][0]["when"] == "manual"
    assert production["needs"] == ["deploy:development", "deploy:staging"]
    # lint:helm lints each environment's file, as the deploys layer it.
    lints = [line for line in ci["lint:helm"]["script"] if "values/development.yaml" in line]
    assert len(lints) == 1


def test_make_deploy_takes_a_custom_environment_and_refuses_an_unknown_one(custom: Path) -> None:
    words = deploy_dry_run(custom, "development")
    files = [words[i + 1] for i, word in enumerate(words) if word == "-f"]
    assert files == ["helm/values/development.yaml", "helm/values/overrides.yaml"]
    script = custom / "infrastructure" / "scripts" / "deploy.sh"
    unknown = subprocess.run(
        ["bash", str(script), "-n", "qa"], capture_output=True, text=True, check=False
    )
    assert unknown.returncode == 2
    assert "expected one of: local development staging production" in unknown.stderr


def test_settings_given_are_recorded_so_a_plain_copier_update_keeps_them(custom: Path) -> None:
    answers = yaml.safe_load((custom / ".copier-answers.yml").read_text())
    assert answers["environment_settings"] == {
        "development": {"like": "staging", "network_policy": False}
    }
    init_repo(custom)
    commit_all(custom, "generated")
    update = [str(COPIER), "update", "--defaults", "--skip-answered", "--vcs-ref", TEMPLATE_TAG]
    subprocess.run([*update, str(custom)], check=True, capture_output=True)
    status = subprocess.run(
        ["git", "-C", str(custom), "status", "--porcelain"], capture_output=True, text=True
    )
    assert status.stdout == ""


def test_plain_copier_names_a_custom_environment_and_asks_what_it_is_like(
    template_repo: Path, tmp_path: Path
) -> None:
    """Without settings, a custom environment takes the staging shape; given, they apply."""
    out = tmp_path / "svc"
    done = copy(template_repo, out, "environments=[local, qa]")
    assert done.returncode == 0, done.stderr
    answers = yaml.safe_load((out / ".copier-answers.yml").read_text())
    assert answers["environment_settings"] == {"qa": {"like": "staging"}}
    ci = yaml.safe_load((out / ".gitlab-ci.yml").read_text())
    assert ci["deploy:qa"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert (out / "infrastructure/helm/values/qa.yaml").is_file()
    out = tmp_path / "svc2"
    settings = "environment_settings={qa: {like: production, deploy: manual}}"
    assert copy(template_repo, out, "environments=[qa]", settings).returncode == 0
    qa = yaml.safe_load((out / "infrastructure/helm/values/qa.yaml").read_text())
    assert qa["podDisruptionBudget"]["enabled"] is True  # the production shape
    ci = yaml.safe_load((out / ".gitlab-ci.yml").read_text())
    assert ci["deploy:qa"]["rules"][0]["when"] == "manual"


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("environments", '["qa; rm -rf ~"]'),
        ("environments", "[overrides]"),  # the owners' values file
        ("environments", "[a, b, c, d, e, f, g, h, i]"),  # more than the 8 values files
        ("environment_settings", "{qa: {like: dev}}"),
        ("environment_settings", "{qa: {replicas: 2, like: staging}}"),
        ("environment_settings", "{staging: {deploy: manual}}"),  # qa says nothing
        ("base_image", "node:latest"),
        ("base_image", "node:22 AS x"),
        ("base_image", "node"),  # not pinned
    ],
)
def test_copier_refuses_bad_environments_and_base_images(
    template_repo: Path, tmp_path: Path, answer: str, value: str
) -> None:
    out = tmp_path / "out"
    done = copy(template_repo, out, "environments=[local, qa, staging]", f"{answer}={value}")
    assert done.returncode != 0
    assert answer in done.stderr
    assert not out.exists()


def test_a_base_image_from_the_catalog_is_every_from_and_the_ci_test_image(
    template_repo: Path, tmp_path: Path
) -> None:
    out = render_case("autoscaling-off-escaping", template_repo, tmp_path / "lonely")
    image = f"python:3.12.9-slim-bookworm@{DIGEST}"
    dockerfile = (out / "infrastructure" / "Dockerfile").read_text()
    froms = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert froms == [image, image]
    assert f'org.opencontainers.image.base.name="{image}"' in dockerfile
    ci = yaml.safe_load((out / ".gitlab-ci.yml").read_text())
    assert ci["test"]["image"] == image
    assert [str(p) for p in verify_tree(out).problems] == []  # hadolint included


def test_without_a_base_image_the_templates_pin_is_used(
    template_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "svc"
    assert copy(template_repo, out, "runtime=python").returncode == 0
    dockerfile = (out / "infrastructure" / "Dockerfile").read_text()
    assert "FROM python:3.12.9-slim-bookworm AS builder" in dockerfile
    assert yaml.safe_load((out / ".copier-answers.yml").read_text())["base_image"] == ""


@pytest.mark.parametrize("case", ["node", "custom-environments"])
def test_every_answer_fleetform_gives_is_recorded_as_given(
    case: str, template_repo: Path, tmp_path: Path
) -> None:
    """A skipped question is not recorded: fleetform's answers must all be asked (gpu of a
    node service, empty environment settings), or `update` would never find a repository up
    to date, its recorded answers always short of the catalog's."""
    out = render_case(case, template_repo, tmp_path / case)
    recorded = yaml.safe_load((out / ".copier-answers.yml").read_text())
    spec = CASES[case]
    given = service_answers(open_catalog(ROOT / spec["catalog"]).catalog, spec["service"])
    assert {k: v for k, v in recorded.items() if not k.startswith("_")} == given
