"""What `validate` and `ports check` check without `-c`: ./catalog.yaml, else the port snapshot
of a generated repository, else (only inside fleetform's own checkout) the bundled demo
catalog; anywhere else they refuse instead of passing whatever is there against the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.catalog.validation import open_catalog
from generator.cli import options
from generator.fleet.ports_snapshot import SNAPSHOT, ports_snapshot
from generator.resources import BUNDLED_CATALOG as SHIPPED
from tests.helpers import BUNDLED_CATALOG, ROOT, SMALL_CATALOG, fleetform

REFUSAL = (
    "fleetform: error: no catalog to check against: no ./catalog.yaml and no"
    f" ./{SNAPSHOT} (which fleetform writes into every repository it generates); give one"
    " with -c CATALOG\n"
)
# What a compose file of the demo catalog's agent-chat publishes, and one port too many.
COMPOSE = "services:\n  agent-chat:\n    ports: ['3001:3001']\n  x:\n    ports: ['3000:80']\n"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory outside fleetform's checkout, with a compose file, as the cwd."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "command", [("validate",), ("ports", "check", "docker-compose.yml")], ids=" ".join
)
def test_without_catalog_or_snapshot_a_check_refuses(
    command: tuple[str, ...], elsewhere: Path
) -> None:
    result = fleetform(*command)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", REFUSAL)


def test_inside_fleetforms_checkout_the_bundled_catalog_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT / "template")  # no catalog.yaml here: the checkout's own is used
    result = fleetform("validate")
    assert (result.exit_code, result.stderr) == (0, f"{SHIPPED}: ok\n"), result.output


def test_the_checkout_exception_needs_fleetform_to_run_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An installed fleetform run in some checkout of fleetform is not "inside its own
    repository": tests/cli/test_installed.py runs the installed one outside any checkout."""
    monkeypatch.setattr(options, "running_from_checkout", lambda: False)
    monkeypatch.chdir(ROOT / "template")
    result = fleetform("validate")
    assert (result.exit_code, result.stderr) == (2, REFUSAL)


def test_a_snapshot_is_checked_when_there_is_no_catalog(elsewhere: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "fleet.yaml"
    catalog.write_text(SMALL_CATALOG, encoding="utf-8")
    (elsewhere / "infrastructure").mkdir()
    (elsewhere / SNAPSHOT).write_text(
        ports_snapshot(open_catalog(catalog).catalog).text, encoding="utf-8"
    )
    valid = fleetform("validate")
    assert (valid.exit_code, valid.stdout, valid.stderr) == (0, "", f"{SNAPSHOT}: ok\n")
    result = fleetform("ports", "check", "docker-compose.yml")
    assert result.exit_code == 1, result.output
    # agent-chat is no service of this fleet: its port is worker's; x takes api's.
    assert result.stdout.splitlines() == [
        "docker-compose.yml:3:13: error: port 3001/tcp is claimed more than once:"
        f" worker ({SNAPSHOT}:7:5), agent-chat (docker-compose.yml:3:13)",
        "docker-compose.yml:5:13: error: port 3000/tcp is claimed more than once:"
        f" api ({SNAPSHOT}:6:5), x (docker-compose.yml:5:13)",
    ]


def test_a_catalog_here_comes_before_the_snapshot(elsewhere: Path) -> None:
    (elsewhere / "infrastructure").mkdir()
    (elsewhere / SNAPSHOT).write_text("not json", encoding="utf-8")
    (elsewhere / "catalog.yaml").write_text(SMALL_CATALOG, encoding="utf-8")
    result = fleetform("validate")
    assert (result.exit_code, result.stderr) == (0, "catalog.yaml: ok\n"), result.output


def test_an_explicit_catalog_is_used_as_given(elsewhere: Path) -> None:
    result = fleetform("ports", "check", "-c", BUNDLED_CATALOG, "docker-compose.yml")
    assert result.exit_code == 1, result.output
    assert "x (docker-compose.yml:5:13)" in result.stdout
