"""Git remotes on disk for the fleet's repositories, received the way a GitLab server receives them.

Each remote is a real bare repository reached by a `file://` URL: `receive.advertisePushOptions`
is on, and its `pre-receive` hook (a real executable script) appends one JSON line per push to
`PUSH_LOG` inside the bare repository: the ref updates (old, new, ref) and the push options
(`GIT_PUSH_OPTION_COUNT`, `GIT_PUSH_OPTION_<i>`), which is where GitLab reads
`merge_request.create`, `merge_request.target`, `merge_request.title`... A remote can be
told to refuse pushes (`refuse_pushes`), as a protected branch or a failing server does, or
to hold its pushes, clones and fetches in their hooks until the test lets them go (`Gate`):
how a test signals or starts a second run at a known point of a run, with no clock.

git drops `GIT_CONFIG_PARAMETERS` and `GIT_CONFIG_COUNT` before it starts the receiving side
of a local push, so fleetform's hardened git (`core.hooksPath=/dev/null` for its own side)
still runs the remote's hooks: `tests/test_git.py` holds that. Everything here runs plain git
(`tests.helpers.git`): the fixtures are the server, not fleetform.

Typical use (see tests/fleet/test_clone.py):

    remotes = tmp_path / "remotes"
    catalog = catalog_with_remotes(template_repo, tmp_path / "catalog.yaml", remotes)
    fleetform("generate", "-c", catalog, "-w", seed)          # what the servers hold
    publish_workspace(load_catalog(catalog), seed)            # a bare remote per service
    fleetform("clone", "-c", catalog, "-w", workspace)        # what is under test
    assert pushes(remote_of(remotes, "common_npm/agent-chat")) == [...]
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.catalog.model import Catalog
from tests.helpers import TEMPLATE_TAG, catalog_at, commit_all, git, init_repo

PUSH_LOG = "fleetform-pushes.jsonl"
_REFUSE = "fleetform-refuse"  # a file in the bare repository: its text is the refusal message
_GATE = "fleetform-gate"  # a file in the bare repository: its transfers wait at the `Gate`
ZERO = "0" * 40

# The receiving side of a push, as GitLab's pre-receive sees it. Absolute interpreter path:
# the hook runs with whatever PATH the pusher had (a CI job, a test's clean environment).
_HOOK = """\
#!{python}
import json, os, sys
git_dir = os.environ.get("GIT_DIR", ".")
{gate}
count = int(os.environ.get("GIT_PUSH_OPTION_COUNT") or 0)
record = {{
    "updates": [line.split(" ", 2) for line in sys.stdin.read().splitlines() if line],
    "options": [os.environ["GIT_PUSH_OPTION_%d" % i] for i in range(count)],
    "option_count": os.environ.get("GIT_PUSH_OPTION_COUNT"),
}}
refuse = os.path.join(git_dir, "{refuse}")
record["accepted"] = not os.path.exists(refuse)
# One write of one line with O_APPEND: concurrent pushes never interleave their records.
fd = os.open(os.path.join(git_dir, "{log}"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, (json.dumps(record) + "\\n").encode())
os.close(fd)
if not record["accepted"]:
    sys.stderr.write(open(refuse).read())
    sys.exit(1)
"""


# Where a transfer waits while the test's `Gate` names its repository: it tells the test it is
# there, then reads the release FIFO until the test closes it. Both opens are non-blocking, so
# a transfer that comes after the release (or finds no test) goes on at once.
_HELD = f"""\
gate = os.path.join(git_dir, "{_GATE}")
if os.path.exists(gate):
    arrived, release = open(gate).read().splitlines()
    try:
        told = os.open(arrived, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        told = None
    if told is not None:
        os.write(told, (os.path.abspath(git_dir) + "\\n").encode())
        os.close(told)
        held = os.open(release, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(held, True)
        os.read(held, 1)
        os.close(held)
"""
# git's `uploadpack.packObjectsHook` (honoured from the global configuration only): every clone
# and fetch of a repository runs it, in that repository, with the pack-objects command to run.
_PACK_HOOK = """\
#!{python}
import os, sys
git_dir = os.getcwd()
{gate}
os.execvp(sys.argv[1], sys.argv[1:])
"""


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    ref: str


@dataclass(frozen=True)
class Push:
    """One push as the remote received it (refused pushes included, `accepted` False)."""

    updates: tuple[RefUpdate, ...]
    options: tuple[str, ...]
    accepted: bool

    def option(self, name: str) -> list[str]:
        """The values of push option `name` (`-o name=value`), in the order given."""
        return [o.partition("=")[2] for o in self.options if o.partition("=")[0] == name]


def bare_remote(path: Path, *, default_branch: str = "main") -> Path:
    """A bare repository at `path` that advertises push options and records every push."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "--bare", "-b", default_branch)
    git(path, "config", "receive.advertisePushOptions", "true")
    hook = path / "hooks" / "pre-receive"
    hook.write_text(
        _HOOK.format(python=sys.executable, gate=_HELD, log=PUSH_LOG, refuse=_REFUSE),
        encoding="utf-8",
    )
    hook.chmod(0o755)
    return path


def refuse_pushes(remote: Path, message: str = "GitLab: You are not allowed to push") -> None:
    """From now on the remote refuses every push (still recording it), with `message`."""
    (remote / _REFUSE).write_text(message + "\n", encoding="utf-8")


def accept_pushes(remote: Path) -> None:
    (remote / _REFUSE).unlink(missing_ok=True)


class Gate:
    """Holds the transfers to chosen remotes in their hooks until the test lets them go: a push
    in `pre-receive`, a clone or fetch in `uploadpack.packObjectsHook` (for a git given the
    environment `fetch_environment()`). Each held transfer first names its remote on a FIFO,
    so the test knows, without a clock, that exactly those transfers are under way:

        with Gate(tmp_path / "gate", [remote_a, remote_b]) as gate:
            run = subprocess.Popen(...)
            gate.arrivals(2)                     # both pushes are in their hooks now
            os.kill(run.pid, signal.SIGTERM)
        # leaving the block lets them go (always: no hook is left waiting)
    """

    def __init__(self, folder: Path, remotes: Sequence[Path]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.remotes = folder, list(remotes)
        arrived, release = folder / "arrived", folder / "release"
        os.mkfifo(arrived)
        os.mkfifo(release)
        # Read-write: neither open blocks, and `release` reaches EOF only when the test closes it.
        self._arrived = os.open(arrived, os.O_RDWR | os.O_NONBLOCK)
        self._release = os.open(release, os.O_RDWR)
        self._told = b""
        for remote in self.remotes:
            (remote / _GATE).write_text(f"{arrived}\n{release}\n", encoding="utf-8")

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def arrivals(
        self, count: int, *, watching: Sequence[subprocess.Popen[str]] = (), within: float = 300
    ) -> list[Path]:
        """Wait until `count` transfers in all are held: their remotes, in the order they came.
        A process of `watching` that ends first fails the test with its output; `within` only
        bounds a test that fails otherwise: nothing here depends on how fast a run is."""
        deadline = time.monotonic() + within
        ended = {os.pidfd_open(process.pid): process for process in watching}
        try:
            while self._told.count(b"\n") < count:
                left = max(deadline - time.monotonic(), 0)
                ready, _, _ = select.select([self._arrived, *ended], [], [], left)
                held = self._told.decode().split()
                for fd in set(ready) & set(ended):
                    out, err = ended[fd].communicate()
                    code = ended[fd].returncode
                    raise AssertionError(f"a run ended ({code}) with {held} held:\n{out}{err}")
                if not ready:
                    tree = "\n".join(_descendants([process.pid for process in watching]))
                    raise AssertionError(f"{count} transfers never held ({held} were):\n{tree}")
                self._told += os.read(self._arrived, 4096)
        finally:
            for fd in ended:
                os.close(fd)
        return [Path(line) for line in self._told.decode().splitlines()]

    def release(self) -> None:
        """Let every held transfer go on, and hold no more."""
        for remote in self.remotes:
            (remote / _GATE).unlink(missing_ok=True)
        if self._release >= 0:
            os.close(self._release)
            os.close(self._arrived)
            self._release = -1

    def fetch_environment(self) -> dict[str, str]:
        """This environment with a global git configuration (the one in use included) that runs
        the pack-objects hook: clones and fetches of the gated remotes are held too."""
        hook = self.folder / "pack-objects-hook"
        hook.write_text(_PACK_HOOK.format(python=sys.executable, gate=_HELD), encoding="utf-8")
        hook.chmod(0o755)
        home = Path(os.environ.get("HOME", "/nonexistent"))
        xdg = Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "git" / "config"
        used = os.environ.get("GIT_CONFIG_GLOBAL")
        included = [Path(used)] if used else [xdg, home / ".gitconfig"]
        config = self.folder / "gitconfig"
        lines = [f"[include]\n\tpath = {p}\n" for p in included if p.is_file()]
        lines.append(f"[uploadpack]\n\tpackObjectsHook = {shlex.quote(str(hook))}\n")
        config.write_text("".join(lines), encoding="utf-8")
        return {**os.environ, "GIT_CONFIG_GLOBAL": str(config)}


def _descendants(pids: Sequence[int]) -> list[str]:
    """`pid state command` of the processes under `pids` (what a run was doing when it hung)."""
    parents: dict[int, int] = {}
    lines: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(") ")[2].split()  # state, ppid, ...
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # ended meanwhile
            continue
        pid = int(stat.parent.name)
        parents[pid], lines[pid] = int(fields[1]), f"{pid} {fields[0]} {command[:200]}"
    under = set(pids)
    for _ in range(32):  # a process tree of fleetform is never this deep
        under |= {pid for pid, parent in parents.items() if parent in under}
    return [lines[pid] for pid in sorted(under) if pid in lines]


def pushes(remote: Path) -> list[Push]:
    """Every push the remote received, oldest first."""
    log = remote / PUSH_LOG
    if not log.exists():
        return []
    result = []
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        result.append(
            Push(
                updates=tuple(RefUpdate(*update) for update in record["updates"]),
                options=tuple(record["options"]),
                accepted=record["accepted"],
            )
        )
    return result


def branches(remote: Path) -> dict[str, str]:
    """Branch name -> commit, every branch of the remote."""
    out = git(remote, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads")
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


def commit_of(remote: Path, branch: str) -> str:
    return git(remote, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}")


def commits(remote: Path, branch: str, since: str | None = None) -> list[tuple[str, str]]:
    """(commit, subject) of `branch`, newest first; only those not on `since` when given."""
    span = f"{since}..refs/heads/{branch}" if since else f"refs/heads/{branch}"
    out = git(remote, "log", "--format=%H %s", span)
    return [
        (sha, subject) for sha, _, subject in (line.partition(" ") for line in out.splitlines())
    ]


def message_of(remote: Path, commit: str) -> str:
    """A commit's whole message (title, blank line, body)."""
    return git(remote, "log", "-1", "--format=%B", commit)


def tree_of(remote: Path, branch: str) -> dict[str, str]:
    """Path -> blob id of every file on `branch` (compare two trees, or spot one file)."""
    out = git(remote, "ls-tree", "-r", "--format=%(path) %(objectname)", f"refs/heads/{branch}")
    return dict(line.rsplit(" ", 1) for line in out.splitlines() if line)


def read_file(remote: Path, branch: str, path: str) -> str:
    return git(remote, "show", f"refs/heads/{branch}:{path}")


def remote_of(root: Path, repo: str) -> Path:
    """Where the remote of the repository `repo` lives under `root` (see `catalog_with_remotes`)."""
    return root.joinpath(*repo.split("/")).with_name(repo.rsplit("/", 1)[-1] + ".git")


def remote_pattern(root: Path) -> str:
    return f"file://{root}/{{repo}}.git"


def with_remotes(text: str, root: Path) -> str:
    """Catalog text whose `defaults.remote` is `file://<root>/{repo}.git` (any other one gone)."""
    text = re.sub(r"(?m)^  remote: .*\n", "", text)
    line = f'  remote: "{remote_pattern(root)}"\n'
    if re.search(r"(?m)^defaults:\s*$", text):
        return re.sub(r"(?m)^defaults:\s*\n", lambda m: m.group(0) + line, text, count=1)
    return f"{text.rstrip()}\ndefaults:\n{line}"


def catalog_with_remotes(
    template: Path,
    dest: Path,
    root: Path,
    *,
    text: str | None = None,
    ref: str = TEMPLATE_TAG,
    **kwargs: Path,
) -> Path:
    """`tests.helpers.catalog_at`, with every service's remote under `root` (file:// URLs)."""
    catalog_at(template, dest, ref=ref, text=text, **kwargs)
    dest.write_text(with_remotes(dest.read_text(encoding="utf-8"), root), encoding="utf-8")
    return dest


def publish(repo: Path, remote: Path, *, branch: str = "main", message: str = "initial") -> str:
    """Commit everything in the work tree `repo` (a git repository is made if there is none)
    and push it to `remote`'s `branch`, as an owner's first push: the commit pushed."""
    if not (repo / ".git").exists():
        init_repo(repo)
    git(repo, "config", "user.email", "owner@example.com")
    git(repo, "config", "user.name", "owner")
    if git(repo, "status", "--porcelain"):
        commit_all(repo, message)
    git(repo, "push", "-q", str(remote), f"HEAD:refs/heads/{branch}")
    return git(repo, "rev-parse", "HEAD")


def publish_workspace(catalog: Catalog, workspace: Path) -> dict[str, Path]:
    """For every generated service with a `file://` remote: a bare remote at that URL, given
    the service's repository in `workspace` on its default branch. Service id -> remote."""
    remotes = {}
    for service in catalog.generated_services():
        if service.remote is None or not service.remote.startswith("file://"):
            continue
        remote = bare_remote(
            Path(service.remote[len("file://") :]), default_branch=service.default_branch
        )
        publish(workspace.joinpath(*service.repo.split("/")), remote, branch=service.default_branch)
        remotes[service.id] = remote
    # The seeding pushes are the fixture's, not the test's: start every log empty.
    for remote in remotes.values():
        (remote / PUSH_LOG).unlink(missing_ok=True)
    return remotes


@dataclass(frozen=True)
class PublishedFleet:
    """A campaign's starting point, made once per test module: a copy of the template, with
    a v2.0.0 that adds a Makefile line; `text`'s services generated at v1.0.0, each pushed to
    its bare remote under `remotes`; the fleet cloned into `workspace`."""

    base: Path
    template: Path
    remotes: Path
    workspace: Path
    text: str


def published_fleet(template_repo: Path, base: Path, text: str) -> PublishedFleet:
    from generator.catalog.validation import open_catalog
    from tests.helpers import fleetform

    template = base / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    remotes = base / "remotes"
    catalog = catalog_with_remotes(template, base / "catalog.yaml", remotes, text=text)
    owners = base / "owners"
    assert fleetform("generate", "-c", catalog, "-w", owners, "-j", "2").exit_code == 0
    publish_workspace(open_catalog(catalog).catalog, owners)
    makefile = template / "template" / "infrastructure" / "Makefile"
    makefile.write_text(makefile.read_text() + "\n# added in v2\n")
    commit_all(template, "v2")
    git(template, "tag", "v2.0.0")
    workspace = base / "workspace"
    assert fleetform("clone", "-c", catalog, "-w", workspace, "-j", "2").exit_code == 0
    return PublishedFleet(base, template, remotes, workspace, text)


@dataclass(frozen=True)
class FleetCopy:
    """A published fleet's remotes and workspace copied for one test, its catalog and the
    clones' origins pointing at the copied remotes, and a TMPDIR of its own."""

    root: Path
    catalog: Path
    remotes: dict[str, Path]
    workspace: Path
    tmp: Path


def copy_fleet(fleet: PublishedFleet, name: str, services: Sequence[str]) -> FleetCopy:
    root = fleet.base / name
    remotes, workspace, tmp = root / "remotes", root / "workspace", root / "tmp"
    shutil.copytree(fleet.remotes, remotes, symlinks=True)
    shutil.copytree(fleet.workspace, workspace, symlinks=True)
    tmp.mkdir()
    catalog = catalog_with_remotes(fleet.template, root / "catalog.yaml", remotes, text=fleet.text)
    for service in services:
        git(workspace / service, "remote", "set-url", "origin", f"file://{remotes}/{service}.git")
    return FleetCopy(root, catalog, {s: remotes / f"{s}.git" for s in services}, workspace, tmp)
