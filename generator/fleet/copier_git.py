"""Copier's git, given the environment of fleetform's own (`generator.git`).

Copier runs git through plumbum (`copier._vcs.get_git()`, `local["git"]`), with plumbum's copy
of the environment taken when plumbum was imported, never through `generator.git.git`. A
variable that points git at another repository reaches it there: a git hook runs with
`GIT_INDEX_FILE` (and often `GIT_DIR`) set, so a `fleetform update` started from one had
Copier's `git add` and `update-index` in the scratch clone write the index of the repository
the hook belongs to, outside the workspace. While inside `hardened`, plumbum's environment is
`generator.git.hardened_environment`'s: none of those variables, and the fixed settings (no
fsmonitor, no hooks, no discovery of bare repositories, no `ext::`) as `GIT_CONFIG_*`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from generator.git import hardened_environment


@contextmanager
def hardened() -> Iterator[None]:
    """Copier's git processes started inside get the hardened environment (restored after)."""
    # Imported here: plumbum comes with Copier, which only rendering and updating import.
    from plumbum import local

    with local.env():
        wanted = hardened_environment(local.env.getdict())
        for name in [name for name in local.env.getdict() if name not in wanted]:
            del local.env[name]
        local.env.update(wanted)
        yield
