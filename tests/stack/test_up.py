"""`up`, `down`, `status` without an engine: one-line errors, bad usage first, the backoff and
seed 001's log lines.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from generator.stack.up import Backoff, Event, LogEvent
from tests.helpers import BUNDLED_CATALOG, fleetform


def test_no_engine_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    for args in (["status"], ["up", "minimal"], ["down", "minimal"]):
        result = fleetform(*args, "-c", BUNDLED_CATALOG)
        assert result.exit_code == 2
        assert result.stderr.startswith(
            "fleetform: error: no Docker engine at unix:///nonexistent/docker.sock ("
        )
        assert result.stderr.count("\n") == 1


def test_unknown_profile_is_bad_usage_before_the_engine_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    for args in (["up", "nope"], ["down", "nope"], ["status", "--profile", "nope"]):
        result = fleetform(*args, "-c", BUNDLED_CATALOG)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("fleetform: error: unknown profile 'nope'"), args


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [Backoff().delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert Backoff(first=0.5, factor=3, cap=5).delay(3) == 4.5


def test_log_line_is_seed_001s_format_with_the_seeds_levels() -> None:
    when = datetime(2025, 9, 29, 8, 5, 1)
    assert str(LogEvent(when, "redis", Event.HEALTH_RETRY, "attempt 1")) == (
        "[2025-09-29 08:05:01] [WARN] [redis] HEALTH_RETRY: attempt 1"
    )
    assert Event.HEALTH_TIMEOUT.level.value == Event.DEPLOY_FAIL.level.value == "ERROR"
    assert Event.DEPLOY_START.level.value == Event.HEALTH_SUCCESS.level.value == "INFO"
