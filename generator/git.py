"""The one way fleetform runs git, hardened against what a repository may configure.

A service repository's `.git/config` (and what it includes), its hooks and any repository
committed inside it are written by people fleetform does not control. git runs commands
named in configuration: `core.fsmonitor` on nearly every command, filter drivers on status
and add, diff drivers, hooks, pagers, credential helpers. Every git process fleetform starts
therefore gets, on its command line (which wins over every configuration file):

- always: no fsmonitor, no hooks, no repository discovered from a bare repository's
  directory unless named (`safe.bareRepository=explicit`), no `ext::` transport;
- for each command-running key the repository itself sets (scope local or worktree): the
  key reset, then the operator's own system and global values again, so an operator's
  credential helper or LFS filter keeps working while the repository's own is never run.

Each git process starts a session of its own, as fleetform's workers do
(`generator.parallel`): a Ctrl-C at the terminal reaches fleetform alone, which stops the run
between repositories. git clone and fetch reset SIGINT for the transport they start
(`sh -c git-upload-pack` for a local remote), so in the terminal's process group the
repository in flight would die half-fetched instead of finishing; and with no terminal no
prompt can hold a run.

The environment loses the variables that would point git at another repository;
`hardened_environment` also carries the fixed settings (`GIT_CONFIG_COUNT/KEY/VALUE`) for a
git fleetform starts by other means.

Copier's own git (`copier._vcs.get_git()`, plumbum's `local["git"]`) takes no arguments from
here: `generator.fleet.copier_git` gives it `hardened_environment` around every Copier call
(render and update). It needs no overrides, as it never runs in a repository whose
configuration someone else wrote: Copier clones the template afresh (a configuration of its
own making), renders into new directories where fleetform's worker asks git nothing
(generate, drift, heal), and `update` hands it a scratch clone made by `git clone --shared
--template=` (fleetform's configuration, no hooks: `generator.fleet.scratch`) and its own
throwaway old/new-copy repositories. What the operator configures globally (an LFS filter)
applies there as to the operator's own git. tests/fleet/test_hostile_git.py holds
this from the outside for generate, update, heal, drift and verify.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

# Always set, whatever the repository says.
FIXED: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("safe.bareRepository", "explicit"),
    ("protocol.ext.allow", "never"),
)
# Keys whose value git runs (or that name a program): reset when a repository sets them.
_RUNS_SOMETHING = re.compile(
    r"""^(
        filter\..+\.(clean|smudge|process)
      | diff\..+\.(textconv|command)
      | merge\..+\.driver
      | credential(\..+)?\.helper
      | gpg(\..+)?\.program
      | remote\..+\.(uploadpack|receivepack|vcs)
      | core\.(pager|editor|sshcommand|askpass|gitproxy|alternaterefscommand)
      | (sequence\.editor|diff\.external|uploadpack\.packobjectshook)
      | pager\..+ | alias\..+
    )$""",
    re.VERBOSE,
)
_UNTRUSTED_SCOPES = frozenset({"local", "worktree"})
# Variables that would make git work on another repository than the one named.
_REDIRECTING = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)


def git(
    repo: Path, *args: str, input: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`git -C repo ARGS`, hardened, output captured as text; the caller reads the status."""
    # No optional locks: a status check must not rewrite the index of someone's repository.
    argv = ["git", *overrides(repo), "--no-optional-locks", "-C", str(repo), *args]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        input=input,
        check=check,
        env=hardened_environment(),
        start_new_session=True,
    )


def git_bytes(
    repo: Path, *args: str, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """As `git`, for output that is not text (object contents, packs)."""
    argv = ["git", *overrides(repo), "--no-optional-locks", "-C", str(repo), *args]
    return subprocess.run(
        argv,
        capture_output=True,
        input=input,
        check=False,
        env=hardened_environment(),
        start_new_session=True,
    )


def overrides(repo: Path) -> list[str]:
    """The `-c key=value` arguments that neutralise what `repo` configures (see above)."""
    settings = FIXED if str(repo) in _OWN else _overrides(str(repo))
    return [arg for key, value in settings for arg in ("-c", f"{key}={value}")]


# Repositories fleetform itself made for one job (`git init` in its temporary folder) and is
# the only writer of: their configuration is fleetform's, so the git process that reads a
# repository's configuration for the overrides is saved (one per campaign repository).
_OWN: set[str] = set()


@contextmanager
def own_repository(repo: Path) -> Iterator[Path]:
    """While inside, `repo` (made by fleetform, named as git will be given it) gets only the
    fixed settings."""
    _OWN.add(str(repo))
    try:
        yield repo
    finally:
        _OWN.discard(str(repo))


def hardened_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a git process: no redirecting variables, the fixed settings."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _REDIRECTING}
    count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    for offset, (key, value) in enumerate(FIXED):
        env[f"GIT_CONFIG_KEY_{count + offset}"] = key
        env[f"GIT_CONFIG_VALUE_{count + offset}"] = value
    env["GIT_CONFIG_COUNT"] = str(count + len(FIXED))
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


@functools.lru_cache(maxsize=4096)
def _overrides(repo: str) -> tuple[tuple[str, str], ...]:
    entries = configuration(repo)
    untrusted = sorted(
        {k for scope, k, _ in entries if scope in _UNTRUSTED_SCOPES and _RUNS_SOMETHING.match(k)}
    )
    result = list(FIXED)
    for key in untrusted:
        result.append((key, ""))
        result += [
            (key, v) for scope, k, v in entries if k == key and scope in ("system", "global")
        ]
    return tuple(result)


@functools.lru_cache(maxsize=4096)
def configuration(repo: str) -> tuple[tuple[str, str, str], ...]:
    """(scope, key, value) of every configuration entry git sees in `repo`, in order, includes
    followed; one git process per repository and run (`generator.parallel.in_parallel`, which
    every fleet run goes through, calls `forget` first).

    Reading configuration runs nothing (the fixed settings keep discovery and fsmonitor out).
    """
    fixed = [arg for key, value in FIXED for arg in ("-c", f"{key}={value}")]
    result = subprocess.run(
        ["git", *fixed, "-C", repo, "config", "--list", "--show-scope", "--includes", "-z"],
        capture_output=True,
        check=False,
        env=hardened_environment(),
        start_new_session=True,
    )
    fields = result.stdout.decode("utf-8", "replace").split("\0")
    entries = []
    for scope, entry in zip(fields[0::2], fields[1::2], strict=False):
        key, _, value = entry.partition("\n")
        # git prints section and variable names in lower case, subsections as written.
        entries.append((scope, key, value))
    return tuple(entries)


def configured(repo: Path, key: str) -> str:
    """The value git takes for `key` in `repo` (the last one set, as `git config --get`),
    "" when unset; from the configuration read once for the overrides (no process)."""
    values = [value for _, name, value in configuration(str(repo)) if name == key]
    return values[-1] if values else ""


def forget() -> None:
    """Drop the cached overrides: a repository's configuration may have changed."""
    _overrides.cache_clear()
    configuration.cache_clear()
