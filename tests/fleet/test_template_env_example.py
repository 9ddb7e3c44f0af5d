"""`.env.example` follows the catalog inside its fleetform block, and the owners' lines stay.

Real `fleetform generate` and `fleetform update` (Copier's three-way merge) on a committed git
repository: a variable name added to the catalog appears in the block, an owner's own line
below it survives, and nothing conflicts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SMALL_CATALOG, catalog_at, commit_all, fleetform, git, init_repo

pytestmark = pytest.mark.slow

ENV_EXAMPLE = "infrastructure/.env.example"
BEGIN = "# >>> fleetform managed block"
END = "# <<< fleetform managed block ends"
OWN = "MY_OWN_FLAG=on"


def block(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(BEGIN))
    return lines[start : lines.index(END) + 1]


def test_update_brings_a_new_catalog_env_name_and_keeps_the_owners_line(
    template_repo: Path, tmp_path: Path
) -> None:
    text = SMALL_CATALOG.replace(
        "    depends_on: [db, cache]\n", "    depends_on: [db, cache]\n    env: [API_KEY]\n"
    )
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml", text=text)
    workspace = tmp_path / "ws"
    generated = fleetform("generate", "-c", catalog, "-w", workspace, "api")
    assert generated.exit_code == 0, generated.output
    repo = workspace / "api"
    first = (repo / ENV_EXAMPLE).read_text()
    assert "API_KEY=" in block(first)
    assert "# DB_HOST=db" in block(first)  # the address of what it calls
    init_repo(repo)
    commit_all(repo, "generated")
    with (repo / ENV_EXAMPLE).open("a", encoding="utf-8") as env_example:
        env_example.write(f"{OWN}\n")
    commit_all(repo, "our own variable")

    catalog.write_text(catalog.read_text().replace("env: [API_KEY]", "env: [API_KEY, NEW_TOKEN]"))
    updated = fleetform("update", "-c", catalog, "-w", workspace, "api")
    assert updated.exit_code == 0, updated.output
    after = (repo / ENV_EXAMPLE).read_text()
    assert "NEW_TOKEN=" in block(after)
    assert after.splitlines()[-1] == OWN  # below the block, as the owner wrote it
    assert "<<<<<<<" not in after
    status = dict(line.split()[::-1] for line in git(repo, "status", "--porcelain").splitlines())
    assert status[ENV_EXAMPLE] == "M"  # merged, not a conflict (UU)
    assert set(status.values()) == {"M"}
