"""The one way fleetform runs git: on a repository it names, never asking for optional locks."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git -C repo ARGS`, output captured as text; the caller reads the exit status."""
    # No optional locks: a status check must not rewrite the index of someone's repository.
    return subprocess.run(
        ["git", "--no-optional-locks", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
    )
