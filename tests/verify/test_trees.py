"""`fleetform verify` over many trees: a line per tree on stderr as it finishes (a live
counter on a terminal), `-q` for the summary only, and stdout (text or JSON) unchanged."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.helpers import ROOT

Run = Callable[..., Result]

CLEAN = '#!/bin/sh\nset -eu\necho "$1"\n'
UNQUOTED = "#!/bin/sh\necho $1\n"  # SC2086, an info: a warning
BROKEN = "#!/bin/sh\nif true; then\n  echo x\n"  # no `fi`: a parse error


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Three trees of one shell script each (shellcheck only: quick), named relative."""
    monkeypatch.chdir(tmp_path)
    for name, script in (("clean", CLEAN), ("unquoted", UNQUOTED), ("broken", BROKEN)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.sh").write_text(script, encoding="utf-8")
    return ["clean", "unquoted", "broken"]


def test_a_line_per_tree_as_it_finishes_and_q_for_the_summary_only(
    trees: list[str], run: Run
) -> None:
    shown = run("verify", *trees)
    quiet = run("verify", "-q", *trees)

    assert shown.exit_code == quiet.exit_code == 1
    assert shown.stderr.splitlines() == [
        "[1/3] clean: ok",
        "[2/3] unquoted: warnings",
        "[3/3] broken: errors",
        quiet.stderr.strip(),
    ]
    assert quiet.stderr.startswith("verify (")
    assert quiet.stderr.count("\n") == 1
    # What stdout says does not depend on the progress.
    assert shown.stdout == quiet.stdout
    assert "unquoted/run.sh:2:6: warning: shellcheck SC2086" in shown.stdout


def test_json_is_the_same_with_and_without_progress(trees: list[str], run: Run) -> None:
    shown = run("verify", "--format", "json", *trees)
    quiet = run("verify", "--format", "json", "-q", *trees)
    assert shown.stdout == quiet.stdout
    assert json.loads(shown.stdout)["ok"] is False
    assert "[3/3] broken: errors" in shown.stderr


def test_a_single_tree_prints_no_progress_line(trees: list[str], run: Run) -> None:
    result = run("verify", "clean")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == ["verify (2 checks): ok"]


def test_on_a_terminal_a_live_counter_follows_the_lines(trees: list[str]) -> None:
    """stderr on a real pseudo-terminal: each finished tree's line, then the counter
    (done/total, elapsed, the last tree), erased before the summary."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "generator", "verify", *trees],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
    ) as process:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        process.wait()
    os.close(leader)
    text = seen.decode()
    assert process.returncode == 1
    assert "\r\x1b[2K[1/3] clean: ok\r\n1/3 done, " in text
    assert ", last: clean" in text
    assert "\r\x1b[2K[3/3] broken: errors\r\n3/3 done, " in text
    # The counter is erased before the summary, which is the last line.
    assert re.search(r"3/3 done, [^\r]*\r\x1b\[2Kverify \(\d+ checks\): [^\r\n]*\r\n\Z", text)
