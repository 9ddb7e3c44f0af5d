"""`fleetform verify --live`, the parts that need no engine: FROM lines, the build context and
its ignore file, the application skeleton, the stand-in runtime, and bad input before the
engine is asked. (Against the engine: tests/stack/test_live_engine.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from generator.catalog.model import Runtime
from generator.stack.build_context import (
    add_skeleton,
    base_images,
    build_context,
    without_digests,
)
from generator.stack.standin.context import FILES
from tests.helpers import GOLDEN
from tests.stack.live_setup import NODE_BASE


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


def test_a_digest_pinned_base_is_built_from_its_stand_in_by_name(tmp_path: Path) -> None:
    """A stand-in is a local image tagged by name: the scratch context's Dockerfile loses the
    digests of its FROM lines (nothing else), the repository's keeps them, a link is left."""
    digest = "@sha256:" + "ab" * 32
    text = (
        f"FROM python:3.12{digest} AS builder\n"
        f'LABEL base="python:3.12{digest}"\n'
        f"FROM python:3.12{digest}\n"
    )
    assert base_images(text) == ["python:3.12"]
    repo, context = tmp_path / "repo", tmp_path / "context"
    (repo / "infrastructure").mkdir(parents=True)
    (repo / "infrastructure" / "Dockerfile").write_text(text, encoding="utf-8")
    build_context(repo, context)
    without_digests(context)
    built = (context / "infrastructure" / "Dockerfile").read_text(encoding="utf-8")
    assert built.splitlines() == [
        "FROM python:3.12 AS builder",
        f'LABEL base="python:3.12{digest}"',
        "FROM python:3.12",
    ]
    assert (repo / "infrastructure" / "Dockerfile").read_text(encoding="utf-8") == text
    outside = tmp_path / "outside"
    outside.write_text(text, encoding="utf-8")
    linked = tmp_path / "linked" / "infrastructure"
    linked.mkdir(parents=True)
    (linked / "Dockerfile").symlink_to(outside)
    without_digests(tmp_path / "linked")
    assert outside.read_text(encoding="utf-8") == text


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
