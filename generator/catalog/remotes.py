"""Where each service's repository lives: the catalog's remote URL patterns and branch names.

A remote is a git URL pattern with the placeholders `{repo}` (the service's repository path)
and `{id}` (its id). Only the URL forms a platform team uses are accepted: scp-like
`user@host:path`, `ssh://`, `https://`, `http://`, and `file://` or an absolute path (bare
repositories on disk, for tests). Anything else is refused, above all git's
`<transport>::<address>` forms (`ext::` runs a command, `fd::` reads a descriptor), a
leading `-` (git, or ssh behind it, would take the URL for an option) and whitespace or
control characters (a URL that reads as two). The checks are done in Python, once per
pattern, so a 1,000-service catalog spawns no git to validate.

`branch_problem` is `git check-ref-format --branch` in Python; a test holds the two equal
on every rule (tests/catalog/test_remotes.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.catalog.model import Catalog, Service
from generator.problems import Location, Problem

PLACEHOLDERS = ("repo", "id")
DEFAULT_BRANCH = "main"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# scp-like: [user@]host:path, with no '/' before the ':' (git's own rule for telling it
# from a local path); the host a name or a bracketed IPv6 address.
_USER = r"[A-Za-z0-9._~-]+"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
_SCP = re.compile(rf"(?:{_USER}@)?{_HOST}:(?P<path>[^/].*|/.+)")
_URL = re.compile(
    rf"(?P<scheme>ssh|https|http)://(?:{_USER}@)?{_HOST}(?::[0-9]{{1,5}})?(?P<path>/.*)"
)
_PASSWORD = re.compile(r"^[a-z]+://[^/@]*:[^/@]*@")
_FILE = re.compile(r"file://(?P<path>/.*)")
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")

FORMS = "git@host:group/{repo}.git, ssh://, https://, http://, file:// or an absolute path"


def expand(pattern: str, *, repo: str, service_id: str) -> str:
    """The pattern with its placeholders filled in (an unknown one is left as written)."""
    values = {"repo": repo, "id": service_id}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)


def placeholders(pattern: str) -> list[str]:
    return _PLACEHOLDER.findall(pattern)


def pattern_problem(pattern: str) -> str:
    """Why `pattern` is not a remote URL pattern fleetform accepts, or ""."""
    if pattern.startswith("-") or _TRANSPORT.match(pattern):
        return url_problem(pattern)
    found = _SPACE_OR_CONTROL.search(pattern)
    if found:
        where = found.start() + 1
        return f"holds {_shown_char(found.group())} at character {where}; a URL is one word"
    unknown = [name for name in placeholders(pattern) if name not in PLACEHOLDERS]
    if unknown:
        return (
            f"has the unknown placeholder {{{unknown[0]}}}; the known ones are"
            f" {', '.join('{' + name + '}' for name in PLACEHOLDERS)}"
        )
    # With the placeholders filled, a stray brace is all that is left of one.
    url = expand(pattern, repo="repo", service_id="id")
    if "{" in url or "}" in url:
        return "has a '{' or '}' that is no placeholder"
    return url_problem(url)


def url_problem(url: str) -> str:
    """Why `url` is not a git URL of the accepted forms, or ""."""
    if url.startswith("-"):
        return "starts with '-', which git and ssh would take for an option"
    if _TRANSPORT.match(url):
        transport = url.split("::", 1)[0]
        return f"uses git's {transport}:: transport; use {FORMS}"
    scheme = _SCHEME.match(url)
    if scheme:
        name = scheme.group("scheme")
        if name == "file":
            match = _FILE.fullmatch(url)
            return "" if match else "is a file:// URL without an absolute path (file:///srv/...)"
        if name not in ("ssh", "https", "http"):
            return f"uses the scheme {name}://; use {FORMS}"
        if _PASSWORD.match(url):
            return "holds a password; a catalog is no place for secrets (use a credential helper)"
        match = _URL.fullmatch(url)
        if not match:
            return f"is not a URL of the form {name}://host/group/repo.git"
        return _path_problem(match.group("path"))
    if url.startswith("/"):
        return _path_problem(url)
    match = _SCP.fullmatch(url)
    if match:
        return _path_problem(match.group("path"))
    return f"is not a git URL fleetform accepts; use {FORMS}"


def _path_problem(path: str) -> str:
    if path.strip("/") == "":
        return "has no repository path"
    if path.startswith("-"):
        return "has a path starting with '-', which git would take for an option"
    return ""


def comparable(url: str) -> str:
    """What two remotes are compared by: `x/a.git`, `x/a/` and `x/a` are one repository."""
    url = url.rstrip("/")
    return url[: -len(".git")] if url.endswith(".git") else url


def branch_problem(name: str) -> str:
    """Why git refuses `name` as a branch name (`git check-ref-format --branch`), or ""."""
    if name.startswith("-"):
        return "starts with '-'"
    if name == "HEAD":
        return "is HEAD, which names the current commit"
    if "@{" in name:
        return "holds '@{'"
    if ".." in name:
        return "holds '..'"
    found = re.search(r"[\x00-\x20\x7f~^:?*\[\\]", name)
    if found:
        return f"holds {_shown_char(found.group())}"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "has an empty part (a leading, trailing or doubled '/')"
    if name.endswith("."):
        return "ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"has the part {part!r} starting with '.'"
        if part.endswith(".lock"):
            return f"has the part {part!r} ending with '.lock'"
    return ""


def _shown_char(char: str) -> str:
    if char == " ":
        return "a space"
    if ord(char) < 0x21 or 0x7F <= ord(char) <= 0x9F:
        return f"U+{ord(char):04X}"
    return repr(char)


def remote_problems(catalog: Catalog) -> Iterator[Problem]:
    """Every problem of the catalog's remotes and branches, each pattern checked once where
    it is written; two services with one remote are an error (a campaign would push both
    services' changes to one repository)."""
    patterns: dict[Location, tuple[str, str]] = {}  # where written -> (pattern, whose)
    branches: dict[Location, tuple[str, str]] = {}
    for service in catalog.services.values():
        own = f"service {service.id!r}"
        if service.remote_pattern is not None and service.remote_location is not None:
            whose = own if "remote" in service.fields else "defaults"
            if "remote" in service.fields and not service.runtime.generated:
                yield Problem(
                    service.where("remote"),
                    f"{own}: 'remote' is only for generated services; fleetform keeps no"
                    f" repository for {service.runtime.value} services",
                )
            patterns.setdefault(service.remote_location, (service.remote_pattern, whose))
        if service.branch_location is not None:
            whose = own if "default_branch" in service.fields else "defaults"
            branches.setdefault(service.branch_location, (service.default_branch, whose))
    bad = set()
    for where, (pattern, whose) in patterns.items():
        reason = pattern_problem(pattern)
        if reason:
            bad.add(where)
            yield Problem(where, f"{whose}: remote {pattern!r} {reason}")
    for where, (name, whose) in branches.items():
        reason = branch_problem(name)
        if reason:
            yield Problem(
                where,
                f"{whose}: default_branch {name!r} is not a branch name git accepts: it {reason}",
            )
    yield from _shared_remotes(catalog, bad)


def _shared_remotes(catalog: Catalog, bad: set[Location]) -> Iterator[Problem]:
    first: dict[str, Service] = {}
    shared_default: Location | None = None
    for service in catalog.generated_services():
        if service.remote is None or service.remote_location in bad:
            continue
        key = comparable(service.remote)
        other = first.setdefault(key, service)
        if other is service:
            continue
        inherited = "remote" not in service.fields and "remote" not in other.fields
        if inherited and service.remote_location is not None:
            # One pattern without placeholders: said once, where it is written.
            if shared_default is None:
                shared_default = service.remote_location
                yield Problem(
                    shared_default,
                    f"defaults: remote {service.remote_pattern!r} names no {{repo}} or {{id}},"
                    " so every service would share one repository",
                )
            continue
        yield Problem(
            service.where("remote"),
            f"service {service.id!r}: remote {service.remote!r} is already the remote of service"
            f" {other.id!r} ({other.where('remote')}); each service needs a repository of its own",
        )
