"""Releases: one version (pyproject.toml), its tag vX.Y.Z, its CHANGELOG section, and the plain
Copier commands copier.yml's header documents, run against a real git repository of the template.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT, commit_all, fleetform, git, init_repo

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
TAG = f"v{VERSION}"
COPIER = Path(sys.executable).parent / "copier"
# `#   copier copy ... TEMPLATE my-service   what it is for`: the command ends at two spaces.
_HEADER_COMMAND = re.compile(r"^#   (copier copy (?:\S+ )*TEMPLATE my-service)(?:\s{2,}.*)?$")


def changelog_sections() -> list[str]:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return re.findall(r"^## \[([^\]]+)\]", text, flags=re.MULTILINE)


def test_version_is_the_pyproject_version() -> None:
    result = fleetform("--version")
    assert result.output == f"fleetform, version {VERSION}\n", (
        "the installed metadata is not pyproject.toml's: pip install -e . (make does it)"
    )


def test_changelog_has_a_section_for_the_version_or_unreleased() -> None:
    sections = changelog_sections()
    assert sections[0] == "Unreleased" or sections[0] == VERSION, sections
    assert VERSION in sections or "Unreleased" in sections


def test_every_release_tag_has_its_changelog_section() -> None:
    tags = git(ROOT, "tag", "--list", "v[0-9]*").split()
    assert [t for t in tags if t.removeprefix("v") not in changelog_sections()] == []


# ---------------------------------------------------------------- copier.yml's header


def header_commands() -> list[str]:
    lines = (ROOT / "copier.yml").read_text(encoding="utf-8").splitlines()
    header = lines[: next(i for i, line in enumerate(lines) if not line.startswith("#"))]
    return [m[1] for m in map(_HEADER_COMMAND.match, header) if m]


def test_header_documents_a_release_and_the_untagged_case() -> None:
    commands = header_commands()
    assert any("--vcs-ref vX.Y.Z" in c for c in commands), commands
    assert any("vX.Y.Z" not in c for c in commands), commands


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A git repository of the template alone (copier.yml and template/), as it is on disk."""
    repo = init_repo(tmp_path / "fleetform")
    shutil.copy2(ROOT / "copier.yml", repo / "copier.yml")
    shutil.copytree(ROOT / "template", repo / "template")
    commit_all(repo, "template")
    return repo


def copier_copy(command: str, template: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    """One documented command with TEMPLATE, vX.Y.Z and my-service filled in, and the answers
    given (`--defaults --data`) so that nothing is asked."""
    fill = {"TEMPLATE": f"git+file://{template}", "vX.Y.Z": TAG, "my-service": str(dest)}
    argv = [fill.get(word, word) for word in shlex.split(command)]
    assert argv[:2] == ["copier", "copy"], command
    answers = ["--defaults", "--data", "service_name=header-check"]
    return subprocess.run(
        [str(COPIER), "copy", *answers, *argv[2:]],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("tagged", [True, False], ids=["tagged", "untagged"])
def test_header_commands_work_with_and_without_a_tag(
    template: Path, tmp_path: Path, tagged: bool
) -> None:
    if tagged:
        git(template, "tag", "-a", TAG, "-m", f"fleetform {VERSION}")
    version = git(template, "describe", "--tags", "--always")
    assert (version == TAG) is tagged
    commands = [c for c in header_commands() if tagged or "vX.Y.Z" not in c]
    assert len(commands) == (3 if tagged else 2)
    for number, command in enumerate(commands):
        dest = tmp_path / f"service-{number}"
        result = copier_copy(command, template, dest)
        assert result.returncode == 0, f"{command}:\n{result.stderr}"
        assert "Traceback" not in result.stderr
        answers = yaml.safe_load((dest / ".copier-answers.yml").read_text(encoding="utf-8"))
        assert answers["_src_path"] == f"git+file://{template}"
        assert answers["_commit"] == version, command
        assert answers["service_name"] == "header-check"
        assert (dest / "infrastructure" / "Dockerfile").is_file()
