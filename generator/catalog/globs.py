"""`owned_files` globs: their dialect, the problems of one, and the matcher they make.

The dialect is that of `.gitignore` and of Copier's `_skip_if_exists` (both matched with
pathspec's git wildmatch), always anchored at the repository root, so that fleetform and
Copier, which fleetform hands these globs to as `skip_if_exists`, agree on every path:

- a POSIX path relative to the repository root, parts separated by `/`;
- `*` matches within one part, `?` one character, `[abc]`/`[a-z]`/`[!a]` one character of a
  class, and `**` as a whole part any number of parts: `docs/*` is the files directly in
  docs, `docs/**` every file below it, `**/README.md` a README.md at any depth;
- the whole path must match: `README.md` is the root's README.md only.

Refused, each with its own message: an absolute path, a backslash (no escapes, no Windows
separators), empty, `.` or `..` parts, a `.git` part, `!` (no negation: list what is
owned) or `#` at the start, spaces at either end, `**` inside a part, an unclosed `[`, and
braces (Copier renders these globs as Jinja, where `{{` would be a template).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from generator.catalog.model import Catalog, OwnedGlob
from generator.problems import Problem

_NOT_PARTS = {".": "a '.' part (write the path normalised)", "..": "a '..' part"}


def glob_problem(glob: str) -> str | None:
    """Why `glob` is not an `owned_files` glob, or None when it is one."""
    if not glob.strip():
        return "is empty"
    if glob != glob.strip():
        return "has spaces at its start or end (.gitignore-style matching drops trailing ones)"
    if glob.startswith("/"):
        return "is an absolute path: owned_files are relative to the repository root"
    if "\\" in glob:
        return "has a backslash: paths are POSIX ('/') and these globs have no escapes"
    if glob.startswith("!"):
        return "starts with '!': owned_files have no negation; list only what the owners own"
    if glob.startswith("#"):
        return "starts with '#', which .gitignore-style matching reads as a comment"
    if "{" in glob or "}" in glob:
        return "has a brace: these globs have no {a,b}, and Copier would render it as Jinja"
    for part in glob.split("/"):
        problem = _part_problem(part)
        if problem:
            return problem
    return None


def _part_problem(part: str) -> str | None:
    if not part:
        return "has an empty part ('//' or a trailing '/'): write dir/** for a directory's files"
    if part in _NOT_PARTS:
        return f"has {_NOT_PARTS[part]}: owned_files stay inside the repository"
    if part.lower() == ".git":
        return "names .git: git's own files are never the template's or the owners'"
    if "**" in part and part != "**":
        return "has '**' inside a part: '**' is a whole part (a/**/b)"
    opened = part.find("[")
    while opened != -1:
        closing = part.find("]", opened + 2)  # `[]]` is a class holding `]`
        if closing == -1:
            return "has an unclosed '['"
        opened = part.find("[", closing + 1)
    return None


def owned_problems(catalog: Catalog) -> list[Problem]:
    """Every `owned_files` glob that is not one, at its place (a glob of `defaults` once)."""
    found = {
        Problem(
            owned.location,
            f"{_owner(service.id, owned)}: owned_files glob {owned.glob!r} {problem}",
        )
        for service in catalog.services.values()
        for owned in service.owned_files
        if (problem := glob_problem(owned.glob))
    }
    return sorted(found)


def _owner(service: str, owned: OwnedGlob) -> str:
    return "defaults" if owned.inherited else f"service {service!r}"


def anchored(globs: Iterable[str]) -> list[str]:
    """The globs as Copier's `skip_if_exists` patterns (and pathspec's): anchored at the
    root, so `README.md` is the root's README.md only, as the dialect says."""
    return [f"/{glob}" for glob in globs]


def glob_matcher(globs: Iterable[str]) -> Callable[[str], bool]:
    """Whether a repository-relative POSIX path is matched by any of `globs` (valid ones)."""
    # pathspec is a dependency of Copier, which matches `_skip_if_exists` with it alike.
    from packaging.version import Version
    from pathspec import PathSpec
    from pathspec import __version__ as pathspec_version

    patterns = anchored(globs)
    if not patterns:
        return lambda path: False
    style = "gitignore" if Version(pathspec_version) >= Version("1.0.0") else "gitwildmatch"
    return PathSpec.from_lines(style, patterns).match_file
