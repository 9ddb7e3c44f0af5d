"""The Copier template: golden trees, the real validators on every case, plain `copier copy`.

Every render goes through real Copier from a real, tagged git repository of this working
tree (the `template_repo` fixture).
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from generator.catalog.ports import check_ports
from generator.catalog.text import CHARACTERS, REPO_PATTERN, SYNTAX, TEXT_PATTERN, TEXT_RULE
from generator.catalog.validation import open_catalog
from generator.errors import InputError
from generator.fleet.answers import answer_problems, answers_yaml, service_answers
from generator.fleet.ports_snapshot import SNAPSHOT, ports_snapshot, write_snapshot
from generator.fleet.render import render_service
from generator.fleet.template import TemplateSource
from generator.verify import verify_tree
from tests.helpers import EXAMPLES, ROOT, SMALL_CATALOG, TEMPLATE_TAG, commit_all, init_repo

GOLDEN = ROOT / "tests" / "golden"
CASES: dict[str, dict[str, str]] = yaml.safe_load((GOLDEN / "cases.yaml").read_text())
COPIER = Path(sys.executable).parent / "copier"
SRC_PLACEHOLDER = "<template>"


def render_case(case: str, template_repo: Path, dest: Path) -> Path:
    spec = CASES[case]
    catalog = open_catalog(ROOT / spec["catalog"]).catalog
    answers = service_answers(catalog, spec["service"])
    render_service(answers, dest, TemplateSource.of(template_repo, TEMPLATE_TAG))
    write_snapshot(dest, ports_snapshot(catalog))  # as `generate` renders a repository
    return dest


def tree(root: Path, template_repo: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file under root: its bytes (template path normalised) and whether it runs."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes().replace(str(template_repo).encode(), SRC_PLACEHOLDER.encode())
        executable = bool(path.stat().st_mode & stat.S_IXUSR)
        files[path.relative_to(root).as_posix()] = (data, executable)
    return files


def write_tree(files: dict[str, tuple[bytes, bool]], root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    for name, (data, executable) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)


def golden_diff(
    expected: dict[str, tuple[bytes, bool]], actual: dict[str, tuple[bytes, bool]]
) -> str:
    lines: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual or name not in expected:
            lines.append(f"{'missing' if name not in actual else 'unexpected'} file: {name}")
            continue
        (want, want_x), (got, got_x) = expected[name], actual[name]
        if want_x != got_x:
            lines.append(f"{name}: executable bit {got_x}, golden {want_x}")
        if want != got:
            lines.extend(
                difflib.unified_diff(
                    want.decode(errors="replace").splitlines(),
                    got.decode(errors="replace").splitlines(),
                    f"golden/{name}",
                    f"rendered/{name}",
                    lineterm="",
                )
            )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def rendered(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each golden case rendered once for all the tests of this module."""
    base = tmp_path_factory.mktemp("rendered")
    return {case: render_case(case, template_repo, base / case) for case in CASES}


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_matches_golden_tree(
    case: str, rendered: dict[str, Path], template_repo: Path, request: pytest.FixtureRequest
) -> None:
    actual = tree(rendered[case], template_repo)
    if request.config.getoption("--update-golden"):
        write_tree(actual, GOLDEN / case)
    expected = tree(GOLDEN / case, template_repo)
    assert actual == expected, golden_diff(expected, actual)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_format_passes_its_own_validator(case: str, rendered: dict[str, Path]) -> None:
    result = verify_tree(rendered[case])
    assert [str(p) for p in result.problems] == []
    tools = {tool for tool, _ in result.checked}
    assert {"hadolint", "shellcheck", "docker-compose", "check-jsonschema"} <= tools
    assert any(tool.startswith("helm") for tool in tools), tools


def test_image_and_ddev_services_get_no_repository() -> None:
    catalog = open_catalog(ROOT / "catalog.yaml").catalog
    from generator.errors import UsageError

    for service in ("postgres", "llm-platform"):
        with pytest.raises(UsageError, match="does not generate a repository"):
            service_answers(catalog, service)


def test_plain_copier_copy_gives_the_same_tree(
    template_repo: Path, rendered: dict[str, Path], tmp_path: Path
) -> None:
    """A person with `copier copy --data-file` gets exactly what fleetform renders, but the
    snapshot of the fleet's ports, which fleetform writes from the catalog after Copier."""
    spec = CASES["node"]
    answers = service_answers(open_catalog(ROOT / spec["catalog"]).catalog, spec["service"])
    data_file = tmp_path / "answers.yml"
    data_file.write_text(answers_yaml(answers), encoding="utf-8")
    out = tmp_path / "by-hand"
    subprocess.run(
        [
            str(COPIER),
            "copy",
            "--defaults",
            "--data-file",
            str(data_file),
            "--vcs-ref",
            TEMPLATE_TAG,
            str(template_repo),
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    by_fleetform = tree(rendered["node"], template_repo)
    assert by_fleetform.pop(SNAPSHOT)
    assert tree(out, template_repo) == by_fleetform


def test_copier_copy_without_the_catalog_makes_a_working_service(
    template_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "my-service"
    subprocess.run(
        [
            str(COPIER),
            "copy",
            "--defaults",
            "--vcs-ref",
            TEMPLATE_TAG,
            str(template_repo),
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    answers = yaml.safe_load((out / ".copier-answers.yml").read_text())
    assert answers["service_name"] == "my-service"
    assert answers["_commit"] == TEMPLATE_TAG
    assert verify_tree(out).problems == []


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("service_name", "Bad_Name"),
        ("owner", "team $(rm -rf ~)"),
        ("description", "{{ 7 * 7 }}"),
        ("description", "see ../../etc/passwd"),
        ("port", "70000"),
        ("runtime", "java"),
        # The tiers in both rules are rendered from template/includes/tiers.jinja.
        ("resources", "huge"),
        (
            "dependencies",
            '[{name: db, runtime: image, image: "postgres:16", container_port: 5432,'
            " resources: huge}]",
        ),
        # The free-text rule of generator/catalog/text.py, as copier.yml spells it.
        ("description", "admin \u202eAPI"),
        ("owner", "data\u200b-team"),
        (
            "dependencies",
            '[{name: db, runtime: image, image: "postgres:16", container_port: 5432,'
            ' command: [postgres, "$(id)"]}]',
        ),
        ("extra_ports", "[{name: http, port: 3001}]"),
        ("dependants", "[Bad_Name]"),
        ("dependants", "[my-service]"),  # the service itself
        ("data_services", '["mongodb"]'),  # only the four of data_services.jinja
    ],
)
def test_copier_rejects_bad_answers_and_writes_nothing(
    template_repo: Path, tmp_path: Path, answer: str, value: str
) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            str(COPIER),
            "copy",
            "--defaults",
            "-d",
            f"{answer}={value}",
            "--vcs-ref",
            TEMPLATE_TAG,
            str(template_repo),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert answer in result.stderr
    assert not out.exists()


def test_fleetform_rejects_bad_answers_at_the_catalog_line() -> None:
    spec = CASES["node"]
    catalog = open_catalog(ROOT / spec["catalog"]).catalog
    service = catalog.services[spec["service"]]
    answers = service_answers(catalog, service.id)
    answers["owner"] = "team `id`"
    answers["health_path"] = "/../admin"
    problems = answer_problems(service, answers)
    assert [p.message for p in problems] == [
        f"service {service.id!r}: answer health_path: '/../admin' is not accepted:"
        " Absolute URL path of the HTTP health endpoint.",
        f"service {service.id!r}: answer owner: 'team `id`' is not accepted: Free text"
        " without template or shell syntax (double braces, brace-percent, brace-hash,"
        " dollar-parenthesis, backticks, ../) or control characters.",
    ]


def test_one_text_rule_for_the_catalog_the_answers_and_copier() -> None:
    """The schemas and copier.yml spell out generator/catalog/text.py's rules verbatim."""
    catalog = json.loads((ROOT / "schemas" / "catalog.schema.json").read_text())["$defs"]
    service = json.loads((ROOT / "schemas" / "service.schema.json").read_text())["$defs"]
    for defs, name in [(catalog, "text"), (catalog, "argument"), (service, "text")]:
        assert defs[name]["not"]["pattern"] == TEXT_PATTERN, name
    assert service["argument"]["not"]["pattern"] == TEXT_PATTERN
    assert catalog["one_line"]["not"]["pattern"] == CHARACTERS
    assert catalog["repo"]["pattern"] == REPO_PATTERN
    copier = (ROOT / "copier.yml").read_text(encoding="utf-8")
    # description, owner and the dependencies' commands and health tests: each one copy.
    assert copier.count(TEXT_PATTERN) == 3
    assert copier.count(SYNTAX) == 3


def test_the_answers_and_validate_say_the_same_of_a_command(tmp_path: Path) -> None:
    """An image service's command is refused by `validate` in the words the answers use."""
    # The last service of the small catalog, redis, gets a command with shell syntax.
    catalog_text = SMALL_CATALOG + '    command: [redis-server, "$(id)"]\n'
    path = tmp_path / "catalog.yaml"
    path.write_text(catalog_text, encoding="utf-8")
    with pytest.raises(InputError) as refused:
        open_catalog(path)
    [problem] = refused.value.problems
    line = SMALL_CATALOG.count("\n") + 1
    assert str(problem.location) == f"{path}:{line}:29"  # at "$(id)"
    said_by_validate = problem.message.split(": ", 1)[1]

    valid = open_catalog(ROOT / CASES["node"]["catalog"]).catalog
    service = valid.services[CASES["node"]["service"]]
    answers = service_answers(valid, service.id)
    answers["dependencies"][0]["command"] = ["redis-server", "$(id)"]
    [answer] = answer_problems(service, answers)
    said_by_answers = answer.message.split(": ", 2)[2]
    assert said_by_validate == said_by_answers == f"'$(id)' is not accepted: {TEXT_RULE}"


def test_escaped_text_survives_every_format(rendered: dict[str, Path]) -> None:
    """Quotes, colons, '#', '&' and unicode in catalog text come back out unchanged."""
    out = rendered["autoscaling-off-escaping"]
    description = "Quotes \"x\" and 'y', colons: z, #hash & <tags>, ünïcode"
    metadata = yaml.safe_load((out / "infrastructure/.infrastructure.yaml").read_text())
    chart = yaml.safe_load((out / "infrastructure/helm/Chart.yaml").read_text())
    assert metadata["description"] == description
    assert chart["description"] == description
    assert metadata["owner"] == "O'Brien & Søn: data team"


# Text the rule lets through that every format must still quote: a backslash before a quote
# and at the end (hadolint refused the Dockerfile this gave), `$` forms, quotes, unicode.
BACKSLASHES = """\
version: 1
name: edge
groups:
  apps: {ports: "4000-4099", cluster: services}
services:
  quoted:
    group: apps
    runtime: python
    port: 4000
    volume: /data
    description: 'Says \\"hi\\" for $5 (${HOME} $$), 100% sure, {x} #1 ''q'' ünï, ends with \\'
    owner: 'back\\slash \\\\ team\\'
"""
DESCRIPTION = "Says \\\"hi\\\" for $5 (${HOME} $$), 100% sure, {x} #1 'q' ünï, ends with \\"
OWNER = "back\\slash \\\\ team\\"


@pytest.fixture(scope="module")
def backslashes(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service of BACKSLASHES rendered by real Copier, as `generate` renders it."""
    base = tmp_path_factory.mktemp("backslashes")
    catalog_path = base / "catalog.yaml"
    catalog_path.write_text(BACKSLASHES, encoding="utf-8")
    catalog = open_catalog(catalog_path).catalog
    answers = service_answers(catalog, "quoted")
    assert (answers["description"], answers["owner"]) == (DESCRIPTION, OWNER)
    dest = base / "quoted"
    render_service(answers, dest, TemplateSource.of(template_repo, TEMPLATE_TAG))
    return dest


@pytest.mark.slow
def test_backslashes_and_quotes_pass_every_validator(backslashes: Path) -> None:
    result = verify_tree(backslashes)
    assert [str(p) for p in result.problems] == []
    assert ("hadolint", str(backslashes / "infrastructure" / "Dockerfile")) in result.checked
    metadata = yaml.safe_load((backslashes / "infrastructure/.infrastructure.yaml").read_text())
    chart = yaml.safe_load((backslashes / "infrastructure/helm/Chart.yaml").read_text())
    assert (metadata["description"], metadata["owner"]) == (DESCRIPTION, OWNER)
    assert (chart["description"], chart["maintainers"][0]["name"]) == (DESCRIPTION, OWNER)


@pytest.mark.engine
def test_docker_reads_the_labels_back_as_written(
    backslashes: Path, engine: Any, tmp_path: Path
) -> None:
    """hadolint parsing the Dockerfile is half of it; Docker must read each word back as v."""
    dockerfile = (backslashes / "infrastructure" / "Dockerfile").read_text(encoding="utf-8")
    lines = dockerfile.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("ARG VERSION"))
    last = next(i for i, line in enumerate(lines) if i > first and line.startswith("ENV "))
    (tmp_path / "Dockerfile").write_text("\n".join(["FROM scratch", *lines[first:last]]) + "\n")
    tag = f"fleetform-test/labels:{os.getpid()}"
    image, _ = engine.images.build(path=str(tmp_path), tag=tag, rm=True)
    try:
        labels = image.labels
    finally:
        engine.images.remove(tag, force=True)
    assert labels["org.opencontainers.image.description"] == DESCRIPTION
    assert labels["org.opencontainers.image.authors"] == OWNER
    assert labels["org.opencontainers.image.version"] == "dev"


@pytest.mark.slow
def test_an_emoji_in_text_passes_every_validator(template_repo: Path, tmp_path: Path) -> None:
    catalog_path = tmp_path / "catalog.yaml"
    catalog_path.write_text(
        BACKSLASHES.replace("ünï", "\U0001f680").replace("    volume: /data\n", ""), "utf-8"
    )
    answers = service_answers(open_catalog(catalog_path).catalog, "quoted")
    render_service(answers, tmp_path / "out", TemplateSource.of(template_repo, TEMPLATE_TAG))
    assert [str(p) for p in verify_tree(tmp_path / "out").problems] == []


def test_a_broken_tree_fails_with_the_tools_finding(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(rendered["node"], broken)
    dockerfile = broken / "infrastructure" / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    first_from = next(i for i, line in enumerate(lines) if line.startswith("FROM "))
    lines[first_from] = "FROM node:latest AS deps"
    dockerfile.write_text("\n".join(lines) + "\n")
    problems = [str(p) for p in verify_tree(broken).problems]
    assert any(
        p.startswith(f"{broken}/infrastructure/Dockerfile:{first_from + 1}:") and "DL3007" in p
        for p in problems
    ), problems


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_compose_file_agrees_with_the_port_registry(
    case: str, rendered: dict[str, Path]
) -> None:
    catalog = open_catalog(ROOT / CASES[case]["catalog"]).catalog
    compose = rendered[case] / "infrastructure" / "docker-compose.yml"
    report = check_ports(catalog, [compose])
    assert report.problems == []
    published = [c for c in report.claims if c.from_compose]
    service = catalog.services[CASES[case]["service"]]
    assert sorted((c.port, c.protocol) for c in published) == sorted(
        (p.port, p.protocol) for p in service.ports
    )


def test_verify_command_exit_codes(
    rendered: dict[str, Path], tmp_path: Path, run: Callable[..., Result]
) -> None:
    clean = run("verify", rendered["python"])
    assert (clean.exit_code, clean.stdout) == (0, "")
    assert clean.stderr.startswith("verify (") and clean.stderr.endswith("checks): ok\n")
    broken = tmp_path / "broken"
    shutil.copytree(rendered["python"], broken)
    script = broken / "infrastructure" / "scripts" / "build.sh"
    script.write_text(script.read_text() + "\nnever_used=1\n")
    found = run("verify", broken, "--format", "json")
    assert found.exit_code == 1
    assert "shellcheck SC2034" in found.stdout, found.stdout


# --------------------------------------------------------------------------- the chart, rendered


def render_chart(root: Path, environment: str | None, **overrides: Any) -> list[dict[str, Any]]:
    """The manifests helm renders from a tree's chart, with the values a deploy to
    `environment` layers over the chart's values.yaml (None: those alone), and then
    `overrides` merged in."""
    import helm_python as helm

    from generator.verify.values import merge_values

    chart = root / "infrastructure" / "helm"
    values: dict[str, Any] = {}
    for name in (environment, "overrides"):
        path = chart / "values" / f"{name}.yaml"
        if name is not None and path.is_file():
            values = merge_values(values, helm.values_from_yaml(path.read_text("utf-8")))
    values = merge_values(values, overrides)
    with helm.Chart.load(chart) as loaded:
        rendered = loaded.render(values, name=loaded.name, namespace="platform")
    return [
        document
        for name, text in sorted(rendered.items())
        if not name.endswith("NOTES.txt")
        for document in yaml.safe_load_all(text)
        if document
    ]


def manifest(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [m for m in manifests if m["kind"] == kind]
    return found


def test_answers_name_the_dependants_of_a_service() -> None:
    catalog = open_catalog(ROOT / "catalog.yaml").catalog
    assert service_answers(catalog, "agent-chat")["dependants"] == ["studio-ui"]
    # agent-buildkit and mcp-agent-orchestrator call ossa; nothing calls studio-ui.
    assert service_answers(catalog, "ossa")["dependants"] == [
        "agent-buildkit",
        "mcp-agent-orchestrator",
    ]
    assert service_answers(catalog, "studio-ui")["dependants"] == []


def test_network_policy_admits_only_the_dependants_in_staging_and_production(
    rendered: dict[str, Path],
) -> None:
    out = rendered["node"]  # agent-chat: studio-ui depends on it
    assert not [m for m in render_chart(out, "local") if m["kind"] == "NetworkPolicy"]
    for environment in ("staging", "production"):
        policy = manifest(render_chart(out, environment), "NetworkPolicy")
        spec = policy["spec"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "agent-chat"
        assert spec["policyTypes"] == ["Ingress"]  # egress is opt-in
        rule, helm_test = spec["ingress"]
        assert helm_test["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == (
            "agent-chat-test"
        )
        assert rule["from"] == [
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/name": "studio-ui",
                        "app.kubernetes.io/part-of": "llm-ecosystem",
                    }
                }
            }
        ]
        assert rule["ports"] == [{"port": 3001, "protocol": "TCP"}]


def test_network_policy_of_a_service_nothing_calls_admits_nobody(
    rendered: dict[str, Path],
) -> None:
    out = rendered["many-dependencies"]  # studio-ui
    [helm_test] = manifest(render_chart(out, "production"), "NetworkPolicy")["spec"]["ingress"]
    assert helm_test["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == (
        "studio-ui-test"
    )
    untested = render_chart(out, "production", tests={"enabled": False})
    assert manifest(untested, "NetworkPolicy")["spec"]["ingress"] == []
    assert not [m for m in untested if m["kind"] == "Pod"]


def test_network_policy_admits_the_ingress_controller_and_extra_rules(
    rendered: dict[str, Path],
) -> None:
    monitoring = {
        "from": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        "ports": [{"port": 9090}],
    }
    manifests = render_chart(
        rendered["extra-ports"],
        "production",
        ingress={"enabled": True, "hosts": [{"host": "a.example.com", "paths": [{"path": "/"}]}]},
        networkPolicy={"extraIngress": [monitoring]},
    )
    rules = manifest(manifests, "NetworkPolicy")["spec"]["ingress"]
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
    }
    assert {"from": [controller], "ports": [{"port": 8080, "protocol": "TCP"}]} in rules
    assert rules[-1] == monitoring


def test_network_policy_egress_reaches_dns_and_the_direct_dependencies(
    rendered: dict[str, Path],
) -> None:
    manifests = render_chart(
        rendered["node"], "staging", networkPolicy={"egress": {"enabled": True}}
    )
    spec = manifest(manifests, "NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    dns, *dependencies = spec["egress"]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    # agent-chat calls agent-brain and redis (postgres and qdrant are agent-brain's).
    assert [
        (r["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], r["ports"])
        for r in dependencies
    ] == [
        ("agent-brain", [{"port": 3000, "protocol": "TCP"}]),
        ("redis", [{"port": 6379, "protocol": "TCP"}]),
    ]


def compose_config(root: Path, **env: str) -> dict[str, Any]:
    """docker-compose.yml as Compose reads it (interpolated), in a clean environment."""
    from generator.stack.engine import compose_binary

    compose = root / "infrastructure" / "docker-compose.yml"
    clean = {"PATH": os.environ["PATH"], "HOME": str(root), **env}
    done = subprocess.run(
        [compose_binary(), "-f", str(compose), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=clean,
    )
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def test_compose_gives_every_service_the_addresses_of_what_it_calls(
    rendered: dict[str, Path],
) -> None:
    services = compose_config(rendered["node"])["services"]
    assert services["agent-chat"]["environment"] == {
        "AGENT_BRAIN_HOST": "agent-brain",
        "AGENT_BRAIN_PORT": "3000",
        "AGENT_BRAIN_URL": "http://agent-brain:3000",
        "REDIS_HOST": "redis",
        "REDIS_PORT": "6379",
    }
    # A generated dependency gets the addresses of its own dependencies; images get none.
    assert services["agent-brain"]["environment"] == {
        "POSTGRES_HOST": "postgres",
        "POSTGRES_PORT": "5432",
        "QDRANT_HOST": "qdrant",
        "QDRANT_PORT": "6333",
        "REDIS_HOST": "redis",
        "REDIS_PORT": "6379",
    }
    assert "environment" not in services["redis"]


def test_compose_addresses_are_defaults_the_environment_overrides(
    rendered: dict[str, Path],
) -> None:
    services = compose_config(rendered["node"], REDIS_HOST="cache.internal")["services"]
    assert services["agent-chat"]["environment"]["REDIS_HOST"] == "cache.internal"
    assert services["agent-chat"]["environment"]["REDIS_PORT"] == "6379"


def test_configmap_gives_the_kubernetes_addresses_of_the_dependencies(
    rendered: dict[str, Path],
) -> None:
    out = rendered["node"]
    data = manifest(render_chart(out, "production"), "ConfigMap")["data"]
    # The Service names; agent-brain's Service port is its catalog port, redis's its own.
    assert {k: v for k, v in data.items() if k.startswith(("AGENT_BRAIN_", "REDIS_"))} == {
        "AGENT_BRAIN_HOST": "agent-brain",
        "AGENT_BRAIN_PORT": "3000",
        "AGENT_BRAIN_URL": "http://agent-brain:3000",
        "REDIS_HOST": "redis",
        "REDIS_PORT": "6379",
    }
    moved = render_chart(
        out,
        "staging",
        dependencies={"redis": {"host": "redis.data.svc"}},
        config={"AGENT_BRAIN_URL": "https://brain.example.com"},
    )
    data = manifest(moved, "ConfigMap")["data"]
    assert (data["REDIS_HOST"], data["REDIS_PORT"]) == ("redis.data.svc", "6379")
    assert data["AGENT_BRAIN_URL"] == "https://brain.example.com"  # config wins


CALLER = """\
version: 1
name: edge
groups:
  apps: {ports: "4000-4099", cluster: services}
services:
  api:
    group: apps
    runtime: python
    port: 4000
    container_port: 8080
  web:
    group: apps
    runtime: node
    port: 4001
    depends_on: [api]
"""


def test_a_generated_dependency_is_reached_on_its_service_port_in_kubernetes(
    template_repo: Path, tmp_path: Path
) -> None:
    """api listens on 8080 in its container, and its Service (like its host) uses 4000: web's
    ConfigMap says 4000, web's compose file (the container network) 8080."""
    catalog_path = tmp_path / "catalog.yaml"
    catalog_path.write_text(CALLER, encoding="utf-8")
    answers = service_answers(open_catalog(catalog_path).catalog, "web")
    out = tmp_path / "web"
    render_service(answers, out, TemplateSource.of(template_repo, TEMPLATE_TAG))
    data = manifest(render_chart(out, "production"), "ConfigMap")["data"]
    assert (data["API_PORT"], data["API_URL"]) == ("4000", "http://api:4000")
    environment = compose_config(out)["services"]["web"]["environment"]
    assert (environment["API_PORT"], environment["API_URL"]) == ("8080", "http://api:8080")


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("agent-brain", "AGENT_BRAIN"), ("redis", "REDIS"), ("3d-viewer", "_3D_VIEWER")],
)
def test_one_naming_rule_for_address_variables(name: str, prefix: str) -> None:
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT))
    names = environment.get_template("template/includes/names.jinja").module
    assert names.env_prefix(name) == prefix  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", ["node", "python", "model"])
def test_the_application_never_runs_as_pid_1(case: str, rendered: dict[str, Path]) -> None:
    """Compose gives it the engine's init; in Kubernetes the pod's pause container is PID 1.
    (tests/stack/test_live_engine.py stops such a container on the real engine.)"""
    out = rendered[case]
    services = compose_config(out)["services"]
    generated = [name for name, spec in services.items() if "build" in spec]
    assert generated and all(services[name]["init"] is True for name in generated)
    if case == "node":  # a generated dependency too; an image keeps its own entry point
        assert (services["agent-brain"]["init"], "init" in services["redis"]) == (True, False)
    for environment in ("local", "staging", "production"):
        pod = manifest(render_chart(out, environment), "Deployment")["spec"]["template"]["spec"]
        assert pod["shareProcessNamespace"] is True


def test_the_chart_lints_and_renders_without_any_values_file(rendered: dict[str, Path]) -> None:
    """values.yaml holds the base values: helm, Argo CD and Flux need no -f."""
    import helm_python as helm

    chart = rendered["node"] / "infrastructure" / "helm"
    report = helm.lint(chart, {}, strict=True, kube_version="v1.30.0")
    assert [m for m in report["messages"] if m["severity"] > 1] == []
    kinds = {m["kind"] for m in render_chart(rendered["node"], None)}
    assert {"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Service"} <= kinds


def deploy_commands(root: Path, *args: str) -> list[list[str]]:
    """The helm commands `deploy.sh -n` prints (package, then upgrade), split into words."""
    script = root / "infrastructure" / "scripts" / "deploy.sh"
    env = {k: v for k, v in os.environ.items() if k not in ("IMAGE_TAG", "CHART_VERSION")}
    done = subprocess.run(
        ["bash", str(script), "-n", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "LOG_FILE": "/dev/null"},
    )
    return [line.split() for line in done.stdout.splitlines()]


def deploy_dry_run(root: Path, *args: str) -> list[str]:
    """The `helm upgrade` command `deploy.sh -n` prints, split into words."""
    return deploy_commands(root, *args)[-1]


def test_deploy_layers_the_environment_and_the_overrides_over_values_yaml(
    rendered: dict[str, Path],
) -> None:
    words = deploy_dry_run(rendered["node"], "staging")
    files = [words[i + 1] for i, word in enumerate(words) if word == "-f"]
    assert files == ["helm/values/staging.yaml", "helm/values/overrides.yaml"]


@pytest.mark.slow
def test_a_misspelt_value_in_overrides_is_refused(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    """values.schema.json is closed where the chart defines the keys: `replicaCoun: 3` is an
    error of every deploy, not a value helm silently ignores."""
    tree = tmp_path / "svc"
    shutil.copytree(rendered["node"], tree)
    overrides = tree / "infrastructure" / "helm" / "values" / "overrides.yaml"
    overrides.write_text("replicaCoun: 3\nimage:\n  tga: v1\n", encoding="utf-8")
    problems = [str(p) for p in verify_tree(tree).problems]
    assert problems, "the misspelt keys were accepted"
    assert any("replicaCoun" in p for p in problems), problems
    assert any("tga" in p for p in problems), problems


def test_the_closed_schema_still_takes_helms_global_values(rendered: dict[str, Path]) -> None:
    """As a subchart of an umbrella chart, the chart is given `global`."""
    kinds = {m["kind"] for m in render_chart(rendered["node"], "staging", **{"global": {"x": 1}})}
    assert "Deployment" in kinds


def test_two_charts_of_the_fleet_keep_their_own_helpers_in_one_umbrella_chart(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    """Named templates are global to a release: with one shared prefix, the helpers of one
    subchart (here an edited fullname, as another template version could have) would
    replace the other's."""
    import helm_python as helm

    umbrella = tmp_path / "umbrella"
    (umbrella / "charts").mkdir(parents=True)
    (umbrella / "Chart.yaml").write_text(
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\n", encoding="utf-8"
    )
    for case in ("node", "python"):
        chart = rendered[case] / "infrastructure" / "helm"
        name = yaml.safe_load((chart / "Chart.yaml").read_text())["name"]
        shutil.copytree(chart, umbrella / "charts" / name)
    helpers = umbrella / "charts" / "agent-chat" / "templates" / "_helpers.tpl"
    text = helpers.read_text(encoding="utf-8")
    edited = text.replace(
        '{{- printf "%s-%s" .Release.Name $name', '{{- printf "edited-%s-%s" .Release.Name $name'
    )
    assert edited != text
    helpers.write_text(edited, encoding="utf-8")
    with helm.Chart.load(umbrella) as loaded:
        out = loaded.render({}, name="platform", namespace="platform")
    services = {
        doc["metadata"]["name"]
        for path, text in out.items()
        if path.endswith("/service.yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    }
    assert services == {"edited-platform-agent-chat", "platform-mcp-model-gateway"}


def test_extra_volumes_are_mounted_beside_the_charts_own(rendered: dict[str, Path]) -> None:
    certificates = {"name": "certs", "configMap": {"name": "ca-bundle"}}
    mount = {"name": "certs", "mountPath": "/etc/ssl/private-ca", "readOnly": True}
    manifests = render_chart(
        rendered["python"], "production", extraVolumes=[certificates], extraVolumeMounts=[mount]
    )
    pod = manifest(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"][-1] == certificates
    assert pod["containers"][0]["volumeMounts"][-1] == mount
    assert pod["volumes"][0]["name"] == "tmp"  # the chart's own stay


def test_a_prestop_hook_delays_sigterm_within_the_grace_period(rendered: dict[str, Path]) -> None:
    pod = manifest(render_chart(rendered["node"], "production"), "Deployment")["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}
    assert pod["spec"]["terminationGracePeriodSeconds"] == 30
    none = manifest(
        render_chart(rendered["node"], "staging", lifecycle={"preStopSleepSeconds": 0}),
        "Deployment",
    )
    assert "lifecycle" not in none["spec"]["template"]["spec"]["containers"][0]


def test_a_prestop_sleep_as_long_as_the_grace_period_is_refused(rendered: dict[str, Path]) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError, match="must be below terminationGracePeriodSeconds"):
        render_chart(rendered["node"], "staging", lifecycle={"preStopSleepSeconds": 30})


def helm_test_pod(root: Path, environment: str) -> dict[str, Any]:
    pods = [m for m in render_chart(root, environment) if m["kind"] == "Pod"]
    [pod] = pods
    return pod


def test_helm_test_asks_the_health_endpoint_through_the_service(rendered: dict[str, Path]) -> None:
    pod = helm_test_pod(rendered["extra-ports"], "production")  # gateway: Service port 4001
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [container] = pod["spec"]["containers"]
    assert container["image"] == "registry.example.com/edge/gateway:0.1.0"
    assert container["env"] == [{"name": "HEALTH_URL", "value": "http://gateway:4001/health"}]
    # Not selected by the Deployment or the Service, but let in by the NetworkPolicy.
    labels = pod["metadata"]["labels"]
    manifests = render_chart(rendered["extra-ports"], "production")
    selector = manifest(manifests, "Service")["spec"]["selector"]
    assert not selector.items() <= labels.items()
    allowed = [
        peer["podSelector"]["matchLabels"]
        for rule in manifest(manifests, "NetworkPolicy")["spec"]["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer
    ]
    assert any(match.items() <= labels.items() for match in allowed)


@pytest.mark.parametrize("case", ["node", "python"])
def test_the_helm_test_probe_passes_on_health_and_fails_otherwise(
    case: str, rendered: dict[str, Path]
) -> None:
    """The probe of the test pod, run here with the real node or python against a server
    answering 200 on /health and 503 elsewhere."""
    import http.server
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    [container] = helm_test_pod(rendered[case], "staging")["spec"]["containers"]
    argv = container["command"]
    argv[0] = {"python": sys.executable, "node": shutil.which("node") or "node"}[argv[0]]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        codes = [
            subprocess.run(
                argv, env={**os.environ, "HEALTH_URL": base + path}, timeout=30
            ).returncode
            for path in ("/health", "/missing")
        ]
    finally:
        server.shutdown()
    assert codes == [0, 1]


@pytest.fixture
def committed(rendered: dict[str, Path], tmp_path: Path) -> tuple[Path, str]:
    """The node case as a git repository with one commit, and that commit's first 8 digits."""
    repo = tmp_path / "agent-chat"
    shutil.copytree(rendered["node"], repo)
    init_repo(repo)
    commit_all(repo, "rendered")
    sha = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return repo, sha[:8]


def test_build_deploy_and_local_up_share_one_image_tag(
    committed: tuple[Path, str], tmp_path: Path
) -> None:
    repo, tag = committed
    fake = tmp_path / "compose"
    fake.write_text('#!/bin/sh\necho "compose $* with IMAGE_TAG=$IMAGE_TAG"\n', encoding="utf-8")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "IMAGE_TAG"}

    def make(*args: str) -> str:
        argv = ["make", "--no-print-directory", "-C", str(repo / "infrastructure"), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout

    assert f"build.sh\" -t '{tag}'" in make("-n", "build")
    assert f"deploy.sh\" -t '{tag}' 'staging'" in make("-n", "deploy", "ENV=staging")
    assert f"up -d --wait with IMAGE_TAG={tag}" in make("local-up", f"COMPOSE={fake}")
    assert "up -d --wait with IMAGE_TAG=v2" in make("local-up", f"COMPOSE={fake}", "TAG=v2")
    # The scripts on their own, and CI, follow the same rule.
    build = subprocess.run(
        ["bash", str(repo / "infrastructure/scripts/build.sh"), "-n"],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "LOG_FILE": "/dev/null"},
    ).stdout
    assert f"--tag registry.example.com/llm-ecosystem/agent-chat:{tag} " in build
    assert f"image.tag={tag}" in deploy_dry_run(repo, "staging")
    ci = yaml.safe_load((repo / ".gitlab-ci.yml").read_text())
    assert ci["variables"]["IMAGE_TAG"] == "$CI_COMMIT_SHORT_SHA"  # GitLab's first 8 digits


def test_deploy_packages_the_chart_with_the_image_tag_as_app_version(
    committed: tuple[Path, str],
) -> None:
    repo, _ = committed
    package, upgrade = deploy_commands(repo, "-t", "v1_2", "production")
    assert package[package.index("--version") + 1] == "0.1.0+v1-2"  # SemVer: '_' as '-'
    assert package[package.index("--app-version") + 1] == "v1_2"
    chart = upgrade[upgrade.index("--install") + 2]
    assert chart.endswith("/agent-chat-0.1.0+v1-2.tgz")
    assert "image.tag=v1_2" in upgrade
    # What helm package makes of those two flags (the same Helm, as a library).
    import helm_python as helm

    chart_dir = repo / "infrastructure" / "helm"
    archive = helm.package(
        chart_dir, destination=repo.parent, version="0.1.0+v1-2", app_version="v1_2"
    )
    assert Path(archive).name == "agent-chat-0.1.0+v1-2.tgz"
    with tarfile.open(archive) as packaged:
        member = packaged.extractfile("agent-chat/Chart.yaml")
        assert member is not None
        packaged_chart = yaml.safe_load(member.read())
    assert (packaged_chart["version"], packaged_chart["appVersion"]) == ("0.1.0+v1-2", "v1_2")


def test_the_release_pipeline_can_name_the_chart_version(committed: tuple[Path, str]) -> None:
    repo, tag = committed
    script = repo / "infrastructure" / "scripts" / "deploy.sh"

    def run(version: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LOG_FILE": "/dev/null", "CHART_VERSION": version}
        return subprocess.run(
            ["bash", str(script), "-n", "staging"], capture_output=True, text=True, env=env
        )

    package = run("2.3.4").stdout.splitlines()[0].split()
    assert package[package.index("--version") + 1] == "2.3.4"
    assert package[package.index("--app-version") + 1] == tag
    refused = run("latest")
    assert refused.returncode == 2
    assert "CHART_VERSION must be a SemVer version such as 1.2.3, not 'latest'" in refused.stderr


def pipeline(root: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    return document


def dockerfile_from(root: Path) -> str:
    lines = (root / "infrastructure" / "Dockerfile").read_text().splitlines()
    return next(line.split()[1] for line in lines if line.startswith("FROM "))


@pytest.mark.parametrize("case", ["node", "python", "model"])
def test_ci_tests_on_the_python_or_node_the_service_runs(
    case: str, rendered: dict[str, Path]
) -> None:
    out = rendered[case]
    test = pipeline(out)["test"]
    assert test["image"] == dockerfile_from(out)  # the runtime's own base image
    if case == "model":  # Ubuntu 22.04's python3 3.10, as the Dockerfile installs it
        [install] = test["before_script"]
        packages = install.split("--no-install-recommends ")[1]
        assert packages == "python3=3.10.* python3-venv=3.10.*"
        assert f"install -y --no-install-recommends {packages}" in (
            (out / "infrastructure" / "Dockerfile").read_text()
        )


@pytest.mark.parametrize("case", ["python", "model"])
def test_python_dependencies_are_installed_before_the_source_is_copied(
    case: str, rendered: dict[str, Path]
) -> None:
    lines = (rendered[case] / "infrastructure" / "Dockerfile").read_text().splitlines()
    builder = lines[next(i for i, line in enumerate(lines) if " AS builder" in line) :]
    steps = [line for line in builder if line.startswith(("COPY", "RUN"))]
    requirements = next(i for i, s in enumerate(steps) if "-r requirements.txt" in s)
    source = steps.index("COPY . .")
    assert steps[requirements - 1] == "COPY requirements.txt* pyproject.toml* ./"
    assert requirements < source


def test_ci_lints_the_chart_with_the_owners_overrides(rendered: dict[str, Path]) -> None:
    script = pipeline(rendered["node"])["lint:helm"]["script"]
    assert script[0] == "helm lint --strict infrastructure/helm"
    for environment in ("local", "staging", "production"):
        assert (
            f'helm lint --strict infrastructure/helm -f "infrastructure/helm/values/'
            f'{environment}.yaml" $overrides'
        ) in script


def test_merge_requests_build_the_image_without_pushing_it(rendered: dict[str, Path]) -> None:
    jobs = pipeline(rendered["python"])
    merge_request = jobs["build:merge-request"]
    assert merge_request["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert merge_request["script"] == ['infrastructure/scripts/build.sh -t "$IMAGE_TAG"']
    assert not any("login" in line for line in merge_request["script"])
    push = jobs["build"]
    assert push["rules"] == [{"if": "$CI_COMMIT_BRANCH || $CI_COMMIT_TAG"}]
    assert push["script"][-1] == 'infrastructure/scripts/build.sh -t "$IMAGE_TAG" -p'
    assert jobs["scan:image"]["needs"] == ["build"]


def test_sibling_images_take_the_tag_variables_of_the_orchestration_file(
    rendered: dict[str, Path],
) -> None:
    from generator.stack.orchestrate import orchestrate_yaml, tag_variable

    assert tag_variable("agent-brain") == "AGENT_BRAIN_TAG"
    brain = "registry.example.com/llm-ecosystem/agent-brain"
    assert compose_config(rendered["node"])["services"]["agent-brain"]["image"] == f"{brain}:latest"
    pinned = compose_config(rendered["node"], AGENT_BRAIN_TAG="a1b2c3d4")["services"]
    assert pinned["agent-brain"]["image"] == f"{brain}:a1b2c3d4"
    assert pinned["redis"]["image"] == "redis:7-alpine"  # an image service keeps its pin
    orchestration = orchestrate_yaml(open_catalog(ROOT / "catalog.yaml").catalog)
    assert f'"{brain}:${{AGENT_BRAIN_TAG:-latest}}"' in orchestration


def test_a_sibling_pinned_in_the_answers_is_run_as_pinned(
    template_repo: Path, tmp_path: Path
) -> None:
    """Plain Copier users may give a generated dependency a tag or digest: it is kept."""
    catalog = open_catalog(ROOT / "catalog.yaml").catalog
    answers = service_answers(catalog, "agent-chat")
    [brain] = [d for d in answers["dependencies"] if d["name"] == "agent-brain"]
    brain["image"] = "registry.example.com/llm-ecosystem/agent-brain:1.2.3"
    render_service(answers, tmp_path / "out", TemplateSource.of(template_repo, TEMPLATE_TAG))
    services = compose_config(tmp_path / "out", AGENT_BRAIN_TAG="ignored")["services"]
    assert services["agent-brain"]["image"] == brain["image"]


DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_an_image_digest_wins_over_the_tag(rendered: dict[str, Path]) -> None:
    manifests = render_chart(rendered["node"], "production", image={"tag": "v1", "digest": DIGEST})
    repository = "registry.example.com/llm-ecosystem/agent-chat"
    deployment = manifest(manifests, "Deployment")["spec"]["template"]["spec"]
    assert deployment["containers"][0]["image"] == f"{repository}@{DIGEST}"
    test_pod = manifest(manifests, "Pod")["spec"]["containers"][0]
    assert test_pod["image"] == f"{repository}@{DIGEST}"
    tagged = manifest(
        render_chart(rendered["node"], "production", image={"tag": "v1"}), "Deployment"
    )
    assert tagged["spec"]["template"]["spec"]["containers"][0]["image"] == f"{repository}:v1"


def test_a_digest_that_is_not_one_is_refused(rendered: dict[str, Path]) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError, match="digest"):
        render_chart(rendered["node"], "production", image={"digest": "latest"})


def test_no_two_projects_share_a_data_volume(rendered: dict[str, Path]) -> None:
    """Each repository's compose project has volumes of its own (Compose scopes them by the
    project), never the platform stack's nor another repository's: two `make local-up` never
    run two database servers on one data directory."""
    from generator.stack.orchestrate import orchestrate_yaml

    owners: dict[str, str] = {}
    for case in ("node", "python", "many-dependencies", "model"):
        config = compose_config(rendered[case])
        names = [v["name"] for v in (config.get("volumes") or {}).values()]
        assert all(name.startswith(config["name"] + "_") for name in names), names
        for name in names:
            assert name not in owners, f"{name}: {owners[name]} and {case}"
            owners[name] = case
    assert "llm-ecosystem_agent-chat_postgres-data" in owners  # agent-chat's own postgres
    platform = yaml.safe_load(orchestrate_yaml(open_catalog(ROOT / "catalog.yaml").catalog))
    assert not {v["name"] for v in platform["volumes"].values()} & owners.keys()


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_service_of_the_example_catalogs_passes_every_validator(
    path: Path, template_repo: Path, tmp_path: Path
) -> None:
    catalog = open_catalog(path).catalog
    source = TemplateSource.of(template_repo, TEMPLATE_TAG)
    problems = []
    for service in catalog.generated_services():
        out = tmp_path / service.id
        render_service(service_answers(catalog, service.id), out, source)
        problems += [str(p) for p in verify_tree(out).problems]
    assert problems == []


@pytest.mark.slow
def test_plain_copier_copy_takes_the_common_data_services_by_name(
    template_repo: Path, tmp_path: Path
) -> None:
    """No YAML blob: `data_services` names postgres and redis, and they arrive with a health
    check, a named volume and their password variables; copier update computes them again."""
    out = tmp_path / "billing"
    argv = [str(COPIER), "copy", "--defaults", "-d", "service_name=billing"]
    argv += ["-d", 'data_services=["postgres", "redis"]', "--vcs-ref", TEMPLATE_TAG]
    subprocess.run([*argv, str(template_repo), str(out)], check=True, capture_output=True)
    answers = yaml.safe_load((out / ".copier-answers.yml").read_text())
    assert answers["data_services"] == ["postgres", "redis"]
    assert "dependencies" not in answers and "direct_dependencies" not in answers
    services = compose_config(out)["services"]
    postgres = services["postgres"]
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert [v["target"] for v in postgres["volumes"]] == ["/var/lib/postgresql/data"]
    assert set(postgres["environment"]) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    assert set(services["billing"]["depends_on"]) == {"postgres", "redis"}
    assert services["billing"]["environment"]["POSTGRES_HOST"] == "postgres"
    assert "POSTGRES_PASSWORD=" in (out / "infrastructure" / ".env.example").read_text()
    assert [str(p) for p in verify_tree(out).problems] == []

    init_repo(out)
    commit_all(out, "copied")
    update = [str(COPIER), "update", "--defaults", "--skip-answered", "--vcs-ref", TEMPLATE_TAG]
    subprocess.run([*update, str(out)], check=True, capture_output=True)
    status = subprocess.run(
        ["git", "-C", str(out), "status", "--porcelain"], capture_output=True, text=True, check=True
    )
    assert status.stdout == ""
