"""`verify` still validates owned files: ownership decides who writes a file, not whether
it is checked. Slow: it runs the real validators."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SMALL_CATALOG, catalog_at, fleetform

pytestmark = pytest.mark.slow

BUILD = "infrastructure/scripts/build.sh"
# An `if` without its `fi`: a shellcheck error.
OWNERS_BUILD = '#!/bin/sh\nset -eu\nif [ -n "$IMAGE" ]; then\n  docker build -t "$IMAGE" .\n'


def test_verify_still_validates_an_owned_file(template_repo: Path, tmp_path: Path) -> None:
    text = SMALL_CATALOG.replace(
        "    depends_on: [db, cache]\n",
        f"    depends_on: [db, cache]\n    owned_files: [{BUILD}]\n",
    )
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml", text=text)
    assert fleetform("generate", "-c", catalog, "-w", tmp_path / "ws", "api").exit_code == 0
    repo = tmp_path / "ws" / "api"
    (repo / BUILD).write_text(OWNERS_BUILD)
    assert fleetform("generate", "-c", catalog, "-w", tmp_path / "ws", "api").exit_code == 0
    assert (repo / BUILD).read_text() == OWNERS_BUILD  # the owners' file, kept
    result = fleetform("verify", repo)
    assert result.exit_code == 1, result.output
    assert f"{BUILD}:" in result.stdout and "error: shellcheck" in result.stdout
