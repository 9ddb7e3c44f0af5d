"""The interactive path: a person runs `copier copy` on a terminal and is asked only what
applies to the service, and a later `copier update --skip-answered` asks nothing.

Copier runs on a real pseudo-terminal (pexpect) and every question is answered with its
default (Enter), as a person accepting the proposals would.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.fleet.test_template import COPIER
from tests.helpers import TEMPLATE_TAG, commit_all, git, init_repo

pytestmark = pytest.mark.slow

PROMPT = re.compile("\N{MICROPHONE}([^\r\n]*)\r*\n")
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
GPU_QUESTION = "GPUs per replica"
SETTINGS_QUESTION = "How each environment"
HEALTH_QUESTION = "HTTP path of the health endpoint"


def answer_every_question(*args: str) -> list[str]:
    """Run copier with `args` on a terminal, press Enter at each question; the questions."""
    child = pexpect.spawn(
        str(COPIER),
        list(args),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 400),
        # No cursor position requests, which pexpect would have to answer.
        env={**os.environ, "TERM": "xterm", "NO_COLOR": "1", "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    asked: list[str] = []
    pending = False  # Enter sent, the answered question not written again yet
    waited = 0
    while True:
        found = child.expect([PROMPT, pexpect.EOF, pexpect.TIMEOUT], timeout=10)
        if found == 1:
            break
        if found == 2:
            # Enter pressed before the prompt read keys is dropped: press it again. Otherwise
            # Copier is working (rendering, git): wait on, up to ten minutes in all.
            waited += 1
            assert waited < 60, child.before
            if pending:
                child.send("\r")
            continue
        question = ESCAPES.sub("", child.match.group(1)).strip()
        # Questionary writes a question again with its answer once it is answered.
        if asked and question.startswith(asked[-1]):
            pending = False
            continue
        asked.append(question)
        pending = True
        child.expect_exact("\x1b[?7h")  # the end of the prompt's first drawing
        child.send("\r")
    child.close()
    assert child.exitstatus == 0, child.before
    return asked


def test_a_python_udp_service_is_not_asked_for_gpus_settings_or_an_http_path(
    template_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "billing"
    data = ["-d", "service_name=billing", "-d", "runtime=python", "-d", "protocol=udp"]
    asked = answer_every_question(
        "copy", *data, "--vcs-ref", TEMPLATE_TAG, str(template_repo), str(out)
    )
    assert any(q.startswith("Resource tier") for q in asked)  # the others are asked
    # No GPU for python, no settings for the built-in environments, no HTTP path for UDP.
    assert not [
        q for q in asked if q.startswith((GPU_QUESTION, SETTINGS_QUESTION, HEALTH_QUESTION))
    ]
    answers = yaml.safe_load((out / ".copier-answers.yml").read_text())
    assert not {"gpu", "environment_settings", "health_path"} & set(answers)
    assert (out / "infrastructure" / "Dockerfile").is_file()

    init_repo(out)
    commit_all(out, "copied")
    again = answer_every_question("update", "--skip-answered", "--vcs-ref", TEMPLATE_TAG, str(out))
    assert again == []
    assert git(out, "status", "--porcelain") == ""


def test_a_model_service_is_asked_for_gpus_and_a_custom_environment_for_its_settings(
    template_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "llm"
    data = ["-d", "runtime=model", "-d", "environments=[local, qa]"]
    asked = answer_every_question(
        "copy", *data, "--vcs-ref", TEMPLATE_TAG, str(template_repo), str(out)
    )
    assert [q for q in asked if q.startswith(GPU_QUESTION)]
    assert [q for q in asked if q.startswith(SETTINGS_QUESTION)]
    answers = yaml.safe_load((out / ".copier-answers.yml").read_text())
    assert answers["gpu"] == 1
    assert answers["environment_settings"] == {"qa": {"like": "staging"}}
