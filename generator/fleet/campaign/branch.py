"""The campaign branch of one repository: built in a scratch repository, one exact commit.

The scratch is a repository fleetform makes (`git init` in the run's temporary folder, its
configuration fleetform's own) that fetches the remote's default branch by the catalog's URL,
so nothing the workspace repository configures (`url.*.insteadOf`, hooks, its work tree or
checked-out branch) takes part. Copier updates it as `update` updates its scratch clone, and
the result becomes one commit whose every input is fixed: the tree, the base as its parent,
the message, fleetform's identity and, as both dates, the base commit's committer date. A
rerun, on this machine or in another CI job, makes the same commit id from the same inputs,
which is what lets the push side tell "already done" from "to do" by comparing ids.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator import __version__
from generator.errors import AnswersFileError, UpdateFailedError
from generator.fleet import repository
from generator.fleet.answers import Answers
from generator.fleet.confine import read_regular
from generator.fleet.manifest import inputs_digest, write_manifest
from generator.fleet.ports_snapshot import PortsSnapshot, is_current, write_snapshot
from generator.fleet.recorded import changed_answers, read_recorded
from generator.fleet.template import TemplateSource, same_source, same_version, target_ref
from generator.fleet.update import copier_update
from generator.git import git, git_bytes, hardened_environment

AUTHOR = ("fleetform", "fleetform@noreply.invalid")
TRAILER = "Fleetform-Campaign"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# No `git maintenance run --auto` after a fetch: the scratch repository lives for one
# repository's campaign, and in the workspace repository (someone's) fleetform starts no gc,
# as `fleetform clone` does not (`generator.fleet.clone`).
_NO_MAINTENANCE = ("-c", "maintenance.auto=false", "-c", "gc.auto=0")


class Refused(Exception):  # noqa: N818 (an outcome, raised only inside this package)
    """The repository's content rules the campaign out (not fleetform's to fix)."""


@dataclass(frozen=True)
class Built:
    """The branch commit ("" when the update changes nothing), its title and what it holds."""

    commit: str
    title: str = ""
    files: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """What every repository of the campaign is brought to."""

    campaign: str
    template: TemplateSource
    known: Mapping[str, str]  # the template's refs resolved to commits (local templates)
    ports: PortsSnapshot


def branch_name(campaign: str) -> str:
    return f"fleetform/{campaign}"


def new_scratch(path: Path) -> Path:
    """An empty repository of fleetform's own at `path`."""
    made = git(path.parent, "init", "--quiet", "--template=", str(path))
    if made.returncode != 0:
        raise UpdateFailedError(reason=f"git init: {made.stderr.strip()}")
    # No identity configured: nothing commits in it but `_commit`, which names fleetform's
    # in the environment, and Copier's commits are in repositories of its own (old_copy,
    # new_copy) under the identity Copier sets in theirs (`copier._vcs.get_git`).
    return path


@dataclass(frozen=True)
class Head:
    """A branch tip fetched into the scratch repository: its commit and committer date."""

    commit: str
    date: str  # seconds since the epoch, as git prints %ct


def fetch(scratch: Path, url: str, default: str, branch: str) -> dict[str, Head]:
    """Fetch the default branch and, when the remote has it, the campaign branch (full
    names) from `url` into scratch's `refs/remotes/origin/`; what each names. Refused when
    the remote has no default branch.

    The campaign branch is fetched by a pattern (`fleetform/NAME*`), which git allows to
    match nothing: one fetch learns whether it exists, where asking first would cost the
    remote a round trip of its own (an `ls-remote`, an SSH session on a real server).
    """
    specs = [f"+{default}:{_tracking(default)}", f"+{branch}*:{_tracking(branch)}*"]
    fetched = git(
        scratch, *_NO_MAINTENANCE, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
        url, *specs,
    )  # fmt: skip
    if fetched.returncode != 0:
        if f"couldn't find remote ref {default}" in fetched.stderr:
            name = default.removeprefix("refs/heads/")
            raise Refused(f"the remote {url} has no branch {name}")
        raise UpdateFailedError(reason=f"git fetch {url}: {fetched.stderr.strip()}")
    listed = git(
        scratch, "for-each-ref",
        "--format=%(refname)%00%(objectname)%00%(committerdate:unix)", "refs/remotes/origin/",
    )  # fmt: skip
    tips = {}
    for line in listed.stdout.splitlines():
        ref, commit, date = [*line.split("\0"), "", ""][:3]
        tips[ref] = Head(commit, date)
    heads = {ref: tips[_tracking(ref)] for ref in (default, branch) if _tracking(ref) in tips}
    if default not in heads or not heads[default].date:
        raise UpdateFailedError(reason=f"git fetch {url}: {default} is not a commit")
    return heads


def _tracking(ref: str) -> str:
    return f"refs/remotes/origin/{ref.removeprefix('refs/heads/')}"


def build(scratch: Path, head: Head, target: Target, answers: Answers) -> Built:
    """Bring `head` to the target with `answers` in `scratch`; the commit, or "" if unchanged."""
    base = head.commit
    checked = git(scratch, "checkout", "--quiet", "--detach", base)
    if checked.returncode != 0:
        raise UpdateFailedError(reason=f"git checkout {base}: {checked.stderr.strip()}")
    refusal = repository.not_updatable(scratch)
    if refusal:
        raise Refused(f"the remote's default branch: {refusal}")
    try:
        recorded = read_recorded(scratch)
    except AnswersFileError as exc:
        raise Refused(str(exc)) from exc
    template = target.template
    if not same_source(recorded.src, template.src):
        raise Refused(
            f"made from the template {recorded.src}, but the catalog's template is {template.src}"
        )
    ref = target_ref(template)
    same = same_version(template.location, recorded.commit, ref, target.known)
    changed = changed_answers(recorded, answers)
    if same and not changed and is_current(scratch, target.ports):
        return Built("")
    commit = target.known.get(ref)
    inputs = None if commit is None else inputs_digest(template.src, commit, answers, __version__)
    manifest = copier_update(scratch, answers, ref, template, inputs=inputs)
    manifest = write_snapshot(scratch, target.ports, manifest)
    conflicts = repository.conflicts(scratch, repository.status(scratch))
    if not conflicts:
        write_manifest(scratch, manifest)
    git(scratch, "add", "--all", check=True)
    listed = git(scratch, "diff", "--cached", "--name-only", "-z", "--no-renames", base).stdout
    files = tuple(sorted(filter(None, listed.split("\0"))))
    if not files:
        return Built("")
    parts = [] if same else [f"fleetform: {recorded.commit} -> {ref}"]
    if changed:
        parts.append(f"catalog: {', '.join(changed)}")
    title = "; ".join(parts) or "catalog: the fleet's ports"
    message = _message(target.campaign, title, files, conflicts)
    return Built(_commit(scratch, head, message), title, files, conflicts)


def _message(campaign: str, title: str, files: Sequence[str], conflicts: Sequence[str]) -> str:
    lines = [title, "", f"fleetform campaign {campaign}: {len(files)} files.", ""]
    lines += [f"- {shown(name)}" for name in files]
    if conflicts:
        lines += ["", "Conflicts, left inline (<<<<<<< markers): resolve before merging."]
        lines += [f"- {shown(name)}" for name in conflicts]
    return "\n".join([*lines, "", f"{TRAILER}: {campaign}", ""])


def shown(name: str) -> str:
    """A file name on one line (a name may hold any byte but NUL and '/')."""
    return _CONTROL.sub("?", name)


def _commit(scratch: Path, base: Head, message: str) -> str:
    """The commit of scratch's index on `base`, every input fixed (see the module's doc)."""
    tree = git(scratch, "write-tree", check=True).stdout.strip()
    env = hardened_environment()
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = AUTHOR
        env[f"GIT_{who}_DATE"] = f"@{base.date} +0000"
    made = subprocess.run(
        ["git", "-C", str(scratch), "commit-tree", tree, "-p", base.commit, "-F", "-"],
        input=message,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if made.returncode != 0:
        raise UpdateFailedError(reason=f"git commit-tree: {made.stderr.strip()}")
    return made.stdout.strip()


def made_by_campaign(repo: Path, commit: str, campaign: str) -> bool:
    """Whether `commit` is a campaign commit of fleetform's (its identity, its trailer, one
    parent): one a rebuild may replace. Anything else on the branch is someone's work."""
    shown_ = git(repo, "log", "-1", "--format=%an%n%ae%n%cn%n%ce%n%P%n%B", commit, "--")
    if shown_.returncode != 0:
        return False
    lines = shown_.stdout.split("\n")
    identity, parents = lines[:4], lines[4].split()
    return (
        identity == [*AUTHOR, *AUTHOR]
        and len(parents) == 1
        and f"{TRAILER}: {campaign}" in lines[5:]
    )


def same_change(repo: Path, one: str, other: str) -> bool:
    """Whether two commits have the same tree and parents (the same change, however dated)."""
    if one == other:
        return True
    fmt = git(repo, "log", "--no-walk", "--format=%T %P", one, other, "--").stdout.split("\n")
    shown_ = [line for line in fmt if line]
    return len(shown_) == 2 and shown_[0] == shown_[1]


def adopt(repo: Path, scratch: Path, commit: str, base: str, campaign: str) -> bool:
    """Copy `commit`, made by an earlier run into the workspace repository, into `scratch`,
    if it is a campaign commit of `campaign` on `base`. Its id comes from fleetform's own
    ledger, and the objects go as a pack that `unpack-objects` names by their content: the
    repository cannot pass off other bytes under that id."""
    if git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}").stdout.strip() != (
        commit
    ):
        return False
    pack = git_bytes(
        repo, "pack-objects", "--revs", "--stdout", "-q", input=f"{commit}\n^{base}\n".encode()
    )
    if pack.returncode != 0:
        return False
    if git_bytes(scratch, "unpack-objects", "-q", input=pack.stdout).returncode != 0:
        return False
    parents = git(scratch, "rev-parse", "--verify", "--quiet", f"{commit}^@").stdout.split()
    return parents == [base] and made_by_campaign(scratch, commit, campaign)


@dataclass(frozen=True)
class Local:
    """What the workspace repository holds: its campaign branch's commit ("" when it has
    none) and its `origin/<default branch>`'s."""

    branch: str
    origin: str


def check_local(repo: Path, branch: str, default: str, campaign: str, *, unless: str = "") -> Local:
    """Refused when moving the workspace repository's `branch` would drop a commit someone
    made there, or move the branch its work tree has checked out; not when it is at
    `unless` (the commit an earlier run made for the same key: it will not move)."""
    listed = git(
        repo, "for-each-ref", "--format=%(refname)%00%(objectname)", branch, _tracking(default)
    )
    refs = dict(line.split("\0", 1) for line in listed.stdout.splitlines() if "\0" in line)
    local = Local(refs.get(branch, ""), refs.get(_tracking(default), ""))
    if local.branch and local.branch == unless:
        return local
    name = branch.removeprefix("refs/heads/")
    if local.branch and not made_by_campaign(repo, local.branch, campaign):
        raise Refused(
            f"the workspace repository's {name} holds {local.branch[:12]}, a commit fleetform"
            " did not make; not moved"
        )
    if _checked_out(repo) == branch:
        raise Refused(f"{name} is checked out in the workspace repository; not moved")
    return local


def _checked_out(repo: Path) -> str:
    """The branch HEAD names (full name), or "" when detached: read from `.git/HEAD` as git
    reads it when that is a regular file (the caller has checked `.git` is a directory),
    else asked of git."""
    text = read_regular(repo / ".git" / "HEAD")
    if text is None:
        return git(repo, "symbolic-ref", "--quiet", "HEAD").stdout.strip()
    head = text.decode("utf-8", "replace").strip()
    return head.removeprefix("ref: ") if head.startswith("ref: ") else ""


def bring_back(
    repo: Path, scratch: Path, branch: str, commit: str, base: str, local: Local
) -> None:
    """Set the workspace repository's `branch` to `commit` (on `base`), if it is still where
    `check_local` found it (`update-ref`'s compare and swap): a commit someone made there in
    between is never dropped."""
    if local.branch == commit:
        return
    if local.origin == base:
        # It has the base: the new objects go as a pack that `unpack-objects` names by their
        # content, written by no process that reads the repository's remotes.
        pack = git_bytes(
            scratch, "pack-objects", "--revs", "--stdout", "-q",
            input=f"{commit}\n^{base}\n".encode(),
        )  # fmt: skip
        if (
            pack.returncode != 0
            or git_bytes(repo, "unpack-objects", "-q", input=pack.stdout).returncode
        ):
            raise UpdateFailedError(
                reason="copying the campaign commit into the workspace repository"
            )
    else:
        _fetch_from_scratch(repo, scratch, branch, commit)
    name = branch.removeprefix("refs/heads/")
    moved = git(repo, "update-ref", "-m", f"fleetform: {name}", branch, commit, local.branch)
    if moved.returncode != 0:
        raise Refused(
            f"the workspace repository's {name} moved while the campaign ran; not moved"
            f" ({' '.join(moved.stderr.split())})"
        )


def _fetch_from_scratch(repo: Path, scratch: Path, branch: str, commit: str) -> None:
    """The objects of `commit` fetched into the workspace repository (which may lack some
    of the base's history), with no ref of its own changed."""
    git(scratch, "update-ref", branch, commit, check=True)
    fetched = git(
        repo, *_NO_MAINTENANCE, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
        str(scratch), branch,
    )  # fmt: skip
    if fetched.returncode != 0:
        raise UpdateFailedError(reason=f"git fetch into the workspace repository: {fetched.stderr}")
    # The repository's own configuration (url.*.insteadOf) could have fetched from elsewhere.
    there = git(repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}").stdout.strip()
    if there != commit:
        raise UpdateFailedError(reason=f"the workspace repository did not receive {commit}")
