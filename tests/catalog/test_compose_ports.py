# ruff: noqa: E501  (the expected lines are fleetform's exact output; wrapping them would hide it)
"""`fleetform ports check CATALOG COMPOSE...`: every port syntax of compose files, read right.

Each test writes a small catalog and compose files into tmp_path, runs from there (so paths
print as given) and asserts the exact lines, positions and exit code. Compose files are read,
never run, and never written to.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import Result

from tests.helpers import fleetform

OK, PROBLEMS, BAD_INPUT = 0, 1, 2

# Positions of the catalog ports the messages point at: api 14:11, gateway 18:11, dns 23:11.
CATALOG = """\
version: 1
name: demo
groups:
  apps:
    ports: "3000-3099"
    cluster: services
  edge:
    ports: "8000-8099"
    cluster: core
services:
  api:
    group: apps
    runtime: node
    port: 3002
  gateway:
    group: edge
    runtime: node
    port: 8080
  dns:
    group: edge
    runtime: image
    image: coredns/coredns:1.11.1
    port: 8053
    container_port: 53
    protocol: udp
"""

GATEWAY = "gateway (catalog.yaml:18:11)"
PROXY = "proxy (compose.yaml:5:9)"


def compose_with(entry: str) -> str:
    """A compose file whose one service `proxy` has one ports entry, at line 5 column 9."""
    first, *rest = textwrap.dedent(entry).strip("\n").splitlines()
    body = "".join([f"      - {first}\n", *(f"        {line}\n" for line in rest)])
    return f"services:\n  proxy:\n    image: nginx:1.27-alpine\n    ports:\n{body}"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def check(root: Path, *compose: str, env: dict[str, str] | None = None) -> Result:
    """`fleetform ports check -c catalog.yaml COMPOSE...` in root; root must come out as it was."""
    before = snapshot(root)
    result = fleetform("ports", "check", "-c", "catalog.yaml", *compose, env=env)
    assert "Traceback" not in result.output
    assert snapshot(root) == before, "ports check must not create or change any file"
    return result


def lines(result: Result) -> list[str]:
    return result.output.splitlines()


def shown(result: Result) -> str:
    return f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def test_the_fixture_catalog_is_clean(here: Path) -> None:
    result = check(here)
    assert (result.exit_code, lines(result)) == (OK, ["ports: ok"]), shown(result)


def test_compose_helper_puts_the_entry_at_line_5_column_9() -> None:
    assert compose_with('"8080:80"').splitlines()[4] == '      - "8080:80"'
    assert compose_with("target: 80\npublished: 8080").splitlines()[4:6] == [
        "      - target: 80",
        "        published: 8080",
    ]


# ------------------------------------------------------------------ syntaxes that claim a port

CLAIMS_GATEWAY_PORT = [
    pytest.param('"8080:80"', id="short"),
    pytest.param("8080:80", id="short-unquoted"),
    pytest.param('"127.0.0.1:8080:80"', id="ipv4-host"),
    pytest.param('"[::1]:8080:80"', id="ipv6-host"),
    pytest.param('"0.0.0.0:8080:80/tcp"', id="ip-and-protocol"),
    pytest.param('"8080:80/tcp"', id="explicit-tcp"),
    pytest.param("target: 80\npublished: 8080", id="long-int"),
    pytest.param('target: 80\npublished: "8080"', id="long-string"),
    pytest.param("target: 80\npublished: 8080\nprotocol: tcp\nhost_ip: 127.0.0.1", id="long-full"),
    pytest.param('"${PROXY_PORT:-8080}:80"', id="variable-default"),
    pytest.param('"${PROXY_PORT-8080}:80"', id="variable-unset-default"),
    pytest.param('"7990-8090:7990-8090"', id="range-over-it"),
]


@pytest.mark.parametrize("entry", CLAIMS_GATEWAY_PORT)
def test_a_published_port_collides_with_the_catalog(here: Path, entry: str) -> None:
    (here / "compose.yaml").write_text(compose_with(entry), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        f"compose.yaml:5:9: error: port 8080/tcp is claimed more than once: {GATEWAY}, {PROXY}",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_a_port_range_collides_with_the_catalog_port_inside_it(here: Path) -> None:
    (here / "compose.yaml").write_text(compose_with('"3000-3005:3000-3005"'), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        f"compose.yaml:5:9: error: port 3002/tcp is claimed more than once: api (catalog.yaml:14:11), {PROXY}",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_udp_collides_with_udp(here: Path) -> None:
    (here / "compose.yaml").write_text(compose_with('"8053:53/udp"'), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        f"compose.yaml:5:9: error: port 8053/udp is claimed more than once: dns (catalog.yaml:23:11), {PROXY}",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_long_form_udp_collides_with_udp(here: Path) -> None:
    entry = "target: 53\npublished: 8053\nprotocol: udp"
    (here / "compose.yaml").write_text(compose_with(entry), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        f"compose.yaml:5:9: error: port 8053/udp is claimed more than once: dns (catalog.yaml:23:11), {PROXY}",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


# ------------------------------------------------------------------ syntaxes that claim nothing

NO_CONFLICT = [
    pytest.param('"8053:53"', id="tcp-on-a-udp-port"),
    pytest.param('"8080:80/udp"', id="udp-on-a-tcp-port"),
    pytest.param("8080", id="bare-container-port"),
    pytest.param('"8080"', id="bare-container-port-string"),
    pytest.param('"127.0.0.1::8080"', id="random-host-port"),
    pytest.param("target: 8080", id="long-without-published"),
    pytest.param('"8081:8080"', id="free-host-port"),
]


@pytest.mark.parametrize("entry", NO_CONFLICT)
def test_entries_that_claim_no_catalog_port(here: Path, entry: str) -> None:
    (here / "compose.yaml").write_text(compose_with(entry), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert (result.exit_code, lines(result)) == (OK, ["ports: ok"]), shown(result)


# ------------------------------------------------------------------ variables


def test_a_variable_without_default_is_a_warning(here: Path) -> None:
    (here / "compose.yaml").write_text(compose_with('"${PROXY_PORT}:80"'), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        "compose.yaml:5:9: warning: service 'proxy': cannot resolve ${PROXY_PORT} without a default; write ${PROXY_PORT:-PORT}",
        "ports: 0 error(s), 1 warning(s)",
    ], shown(result)
    assert result.exit_code == OK


def test_the_environment_is_never_read(here: Path) -> None:
    """The registry gives the same answer on every machine, whatever is exported."""
    (here / "compose.yaml").write_text(compose_with('"${PROXY_PORT}:80"'), encoding="utf-8")
    result = check(here, "compose.yaml", env={"PROXY_PORT": "8080"})
    assert lines(result) == [
        "compose.yaml:5:9: warning: service 'proxy': cannot resolve ${PROXY_PORT} without a default; write ${PROXY_PORT:-PORT}",
        "ports: 0 error(s), 1 warning(s)",
    ], shown(result)
    assert result.exit_code == OK


def test_the_default_wins_over_the_environment(here: Path) -> None:
    (here / "compose.yaml").write_text(compose_with('"${PROXY_PORT:-8080}:80"'), encoding="utf-8")
    result = check(here, "compose.yaml", env={"PROXY_PORT": "8081"})
    assert lines(result)[0].startswith("compose.yaml:5:9: error: port 8080/tcp"), shown(result)
    assert result.exit_code == PROBLEMS


def test_a_double_dollar_is_a_literal_dollar_not_a_variable(here: Path) -> None:
    # `$${PROXY_PORT}` is the text "${PROXY_PORT}": no variable to resolve (no warning), and
    # no number either, so the mapping cannot be read.
    (here / "compose.yaml").write_text(compose_with('"$${PROXY_PORT}:80"'), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        "compose.yaml:5:9: error: service 'proxy': cannot read port mapping '$${PROXY_PORT}:80'",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_a_double_dollar_elsewhere_in_the_entry_does_not_hide_the_port(here: Path) -> None:
    # Compose would refuse "$$" in a port; what matters here is that "$$" is consumed as one
    # escape and the variable after it still resolves to its default.
    entry = "target: 80\npublished: ${PROXY_PORT:-8080}\nname: web$$"
    (here / "compose.yaml").write_text(compose_with(entry), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        f"compose.yaml:5:9: error: port 8080/tcp is claimed more than once: {GATEWAY}, {PROXY}",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)


# ------------------------------------------------------------------ compose against compose


def test_two_compose_files_collide_and_both_are_named(here: Path) -> None:
    (here / "web.yaml").write_text(
        'services:\n  web:\n    ports:\n      - "8070:80"\n', encoding="utf-8"
    )
    (here / "tools.yaml").write_text(
        "services:\n  adminer:\n    image: adminer:4\n    ports:\n"
        "      - target: 8080\n        published: 8070\n",
        encoding="utf-8",
    )
    result = check(here, "web.yaml", "tools.yaml")
    assert lines(result) == [
        "web.yaml:4:9: error: port 8070/tcp is claimed more than once: adminer (tools.yaml:5:9), web (web.yaml:4:9)",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_the_same_file_twice_is_not_a_conflict_with_itself(here: Path) -> None:
    (here / "web.yaml").write_text(
        'services:\n  web:\n    ports:\n      - "8070:80"\n', encoding="utf-8"
    )
    result = check(here, "web.yaml", "./web.yaml")
    assert (result.exit_code, lines(result)) == (OK, ["ports: ok"]), shown(result)


# ------------------------------------------------------------------ catalog services in compose


def test_a_catalog_service_publishing_its_catalog_port_is_no_conflict(here: Path) -> None:
    (here / "compose.yaml").write_text(
        'services:\n  api:\n    ports:\n      - "3002:3000"\n  gateway:\n    ports:\n'
        "      - target: 80\n        published: 8080\n  dns:\n    ports:\n"
        '      - "127.0.0.1:8053:53/udp"\n',
        encoding="utf-8",
    )
    result = check(here, "compose.yaml")
    assert (result.exit_code, lines(result)) == (OK, ["ports: ok"]), shown(result)


def test_a_catalog_service_publishing_another_port_names_its_catalog_port(here: Path) -> None:
    # One mistake, one error: it names the port the catalog gives and where that is written.
    (here / "compose.yaml").write_text(
        'services:\n  api:\n    ports:\n      - "3005:3000"\n', encoding="utf-8"
    )
    result = check(here, "compose.yaml")
    assert lines(result) == [
        "compose.yaml:4:9: error: service 'api' publishes 3005/tcp but the catalog gives it 3002/tcp (catalog.yaml:14:11)",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_a_catalog_service_publishing_another_services_port(here: Path) -> None:
    # api publishing gateway's port is both wrong for api and a collision with gateway.
    (here / "compose.yaml").write_text(
        'services:\n  api:\n    ports:\n      - "8080:3000"\n', encoding="utf-8"
    )
    result = check(here, "compose.yaml")
    assert lines(result) == [
        "compose.yaml:4:9: error: port 8080/tcp is claimed more than once: gateway (catalog.yaml:18:11), api (compose.yaml:4:9)",
        "compose.yaml:4:9: error: service 'api' publishes 8080/tcp but the catalog gives it 3002/tcp (catalog.yaml:14:11)",
        "ports: 2 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


# ------------------------------------------------------------------ bad compose files


def test_a_file_without_services_is_not_a_compose_file(here: Path) -> None:
    (here / "compose.yaml").write_text(
        'version: "3.8"\nnetworks:\n  default: {}\n', encoding="utf-8"
    )
    result = check(here, "compose.yaml")
    assert lines(result) == [
        "compose.yaml:1:1: error: not a compose file: no 'services' mapping",
    ], shown(result)
    assert result.exit_code == BAD_INPUT


def test_a_list_is_not_a_compose_file(here: Path) -> None:
    (here / "compose.yaml").write_text("- web\n- db\n", encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [
        "compose.yaml:1:1: error: not a compose file: no 'services' mapping",
    ], shown(result)
    assert result.exit_code == BAD_INPUT


def test_a_missing_compose_file(here: Path) -> None:
    result = check(here, "compose.yaml")
    assert lines(result) == ["compose.yaml: error: no such file"], shown(result)
    assert result.exit_code == BAD_INPUT


def test_a_compose_file_with_a_duplicate_key(here: Path) -> None:
    (here / "compose.yaml").write_text(
        'services:\n  web:\n    ports: ["8070:80"]\n    ports: ["8071:80"]\n', encoding="utf-8"
    )
    result = check(here, "compose.yaml")
    assert lines(result) == ["compose.yaml:4:5: error: duplicate key 'ports'"], shown(result)
    assert result.exit_code == BAD_INPUT


MALFORMED = [
    pytest.param(
        '"8080:eighty"',
        "compose.yaml:5:9: error: service 'proxy': cannot read port mapping '8080:eighty'",
        id="word",
    ),
    pytest.param(
        '"80:80:80:80"',
        "compose.yaml:5:9: error: service 'proxy': cannot read port mapping '80:80:80:80'",
        id="too-many-parts",
    ),
    pytest.param(
        '"99999:80"',
        "compose.yaml:5:9: error: service 'proxy': port 99999 is out of range 1-65535",
        id="out-of-range",
    ),
    pytest.param(
        "target: 80\npublished: web",
        "compose.yaml:5:9: error: service 'proxy': cannot read published port 'web'",
        id="long-word",
    ),
    pytest.param(
        "true",
        "compose.yaml:5:9: error: service 'proxy': port entry true is not a port",
        id="boolean",
    ),
]


@pytest.mark.parametrize(("entry", "message"), MALFORMED)
def test_a_malformed_port_is_an_error_at_its_position(here: Path, entry: str, message: str) -> None:
    (here / "compose.yaml").write_text(compose_with(entry), encoding="utf-8")
    result = check(here, "compose.yaml")
    assert lines(result) == [message, "ports: 1 error(s), 0 warning(s)"], shown(result)
    assert result.exit_code == PROBLEMS


def test_ports_that_are_not_a_list(here: Path) -> None:
    (here / "compose.yaml").write_text(
        'services:\n  proxy:\n    ports: "8080:80"\n', encoding="utf-8"
    )
    result = check(here, "compose.yaml")
    assert lines(result) == [
        "compose.yaml:3:12: error: service 'proxy': 'ports' must be a list",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_every_problem_of_every_file_is_reported_in_order(here: Path) -> None:
    """All problems of all files in one run, each in the compose file that causes it."""
    (here / "a.yaml").write_text(
        'services:\n  one:\n    ports:\n      - "8080:80"\n      - "${NOPE}:81"\n',
        encoding="utf-8",
    )
    (here / "b.yaml").write_text(
        'services:\n  two:\n    ports:\n      - "x:80"\n      - "3002:3000"\n', encoding="utf-8"
    )
    result = check(here, "a.yaml", "b.yaml")
    assert lines(result) == [
        "a.yaml:4:9: error: port 8080/tcp is claimed more than once: gateway (catalog.yaml:18:11), one (a.yaml:4:9)",
        "a.yaml:5:9: warning: service 'one': cannot resolve ${NOPE} without a default; write ${NOPE:-PORT}",
        "b.yaml:4:9: error: service 'two': cannot read port mapping 'x:80'",
        "b.yaml:5:9: error: port 3002/tcp is claimed more than once: api (catalog.yaml:14:11), two (b.yaml:5:9)",
        "ports: 3 error(s), 1 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS


def test_a_collision_with_the_catalog_is_reported_in_the_compose_file(here: Path) -> None:
    """The compose entry is what is new: the error points there, whatever the file is called.

    `agent-chat/compose.yaml` sorts before `catalog.yaml`; the catalog did not change.
    """
    (here / "agent-chat").mkdir()
    (here / "agent-chat" / "compose.yaml").write_text(compose_with('"8080:80"'), encoding="utf-8")
    result = check(here, "agent-chat/compose.yaml")
    assert lines(result) == [
        "agent-chat/compose.yaml:5:9: error: port 8080/tcp is claimed more than once: gateway (catalog.yaml:18:11), proxy (agent-chat/compose.yaml:5:9)",
        "ports: 1 error(s), 0 warning(s)",
    ], shown(result)
    assert result.exit_code == PROBLEMS
