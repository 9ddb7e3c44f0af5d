"""Git remotes on disk for the fleet's repositories, received the way a GitLab server receives them.

Each remote is a real bare repository reached by a `file://` URL: `receive.advertisePushOptions`
is on, and its `pre-receive` hook (a real executable script) appends one JSON line per push to
`PUSH_LOG` inside the bare repository: the ref updates (old, new, ref) and the push options
(`GIT_PUSH_OPTION_COUNT`, `GIT_PUSH_OPTION_<i>`), which is where GitLab reads
`merge_request.create`, `merge_request.target`, `merge_request.title`... A remote can be
told to refuse pushes (`refuse_pushes`), as a protected branch or a failing server does.

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
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from generator.catalog.model import Catalog
from tests.helpers import TEMPLATE_TAG, catalog_at, commit_all, git, init_repo

PUSH_LOG = "fleetform-pushes.jsonl"
_REFUSE = "fleetform-refuse"  # a file in the bare repository: its text is the refusal message
ZERO = "0" * 40

# The receiving side of a push, as GitLab's pre-receive sees it. Absolute interpreter path:
# the hook runs with whatever PATH the pusher had (a CI job, a test's clean environment).
_HOOK = """\
#!{python}
import json, os, sys
git_dir = os.environ.get("GIT_DIR", ".")
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
        _HOOK.format(python=sys.executable, log=PUSH_LOG, refuse=_REFUSE), encoding="utf-8"
    )
    hook.chmod(0o755)
    return path


def refuse_pushes(remote: Path, message: str = "GitLab: You are not allowed to push") -> None:
    """From now on the remote refuses every push (still recording it), with `message`."""
    (remote / _REFUSE).write_text(message + "\n", encoding="utf-8")


def accept_pushes(remote: Path) -> None:
    (remote / _REFUSE).unlink(missing_ok=True)


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
