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


def fetch(scratch: Path, url: str, refs: Sequence[str]) -> dict[str, str]:
    """Fetch `refs` (full names) from `url` into scratch's `refs/remotes/origin/`; their ids."""
    specs = [f"+{ref}:refs/remotes/origin/{ref.removeprefix('refs/heads/')}" for ref in refs]
    fetched = git(
        scratch, *_NO_MAINTENANCE, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
        url, *specs,
    )  # fmt: skip
    if fetched.returncode != 0:
        raise UpdateFailedError(reason=f"git fetch {url}: {fetched.stderr.strip()}")
    ids = {}
    for ref in refs:
        local = f"refs/remotes/origin/{ref.removeprefix('refs/heads/')}"
        ids[ref] = git(scratch, "rev-parse", "--verify", "--quiet", local).stdout.strip()
    return ids


def build(scratch: Path, base: str, target: Target, answers: Answers) -> Built:
    """Bring `base` to the target with `answers` in `scratch`; the commit, or "" if unchanged."""
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
    return Built(_commit(scratch, base, message), title, files, conflicts)


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


def _commit(scratch: Path, base: str, message: str) -> str:
    """The commit of scratch's index on `base`, every input fixed (see the module's doc)."""
    tree = git(scratch, "write-tree", check=True).stdout.strip()
    date = git(scratch, "log", "-1", "--format=%ct", base, check=True).stdout.strip()
    env = hardened_environment()
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = AUTHOR
        env[f"GIT_{who}_DATE"] = f"@{date} +0000"
    made = subprocess.run(
        ["git", "-C", str(scratch), "commit-tree", tree, "-p", base, "-F", "-"],
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


def check_local(repo: Path, branch: str, campaign: str, *, unless: str = "") -> None:
    """Refused when moving the workspace repository's `branch` would drop a commit someone
    made there, or move the branch its work tree has checked out; not when it is at
    `unless` (the commit an earlier run made for the same key: it will not move)."""
    local = git(repo, "rev-parse", "--verify", "--quiet", branch).stdout.strip()
    if local and local == unless:
        return
    name = branch.removeprefix("refs/heads/")
    if local and not made_by_campaign(repo, local, campaign):
        raise Refused(
            f"the workspace repository's {name} holds {local[:12]}, a commit fleetform did not"
            " make; not moved"
        )
    if git(repo, "symbolic-ref", "--quiet", "HEAD").stdout.strip() == branch:
        raise Refused(f"{name} is checked out in the workspace repository; not moved")


def bring_back(repo: Path, scratch: Path, branch: str, commit: str, campaign: str) -> None:
    """Set the workspace repository's `branch` to `commit`, unless that would drop a commit
    someone made there or move the branch its work tree has checked out."""
    if git(repo, "rev-parse", "--verify", "--quiet", branch).stdout.strip() == commit:
        return
    check_local(repo, branch, campaign)
    name = branch.removeprefix("refs/heads/")
    git(scratch, "update-ref", branch, commit, check=True)
    spec = f"+{branch}:{branch}"
    fetched = git(
        repo, *_NO_MAINTENANCE, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
        str(scratch), spec,
    )  # fmt: skip
    if fetched.returncode != 0:
        raise UpdateFailedError(reason=f"git fetch into the workspace repository: {fetched.stderr}")
    # The repository's own configuration (url.*.insteadOf) could have fetched from elsewhere.
    if git(repo, "rev-parse", "--verify", "--quiet", branch).stdout.strip() != commit:
        raise UpdateFailedError(reason=f"{name} in the workspace repository is not {commit}")
