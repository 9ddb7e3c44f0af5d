"""What catalog text may hold: the one definition of the free-text rule and of a repository path.

Free text (descriptions, owners, port exceptions, command arguments) lands in Dockerfiles,
YAML, shell and Markdown. The rule is a regular expression, `TEXT_PATTERN`, that the JSON
Schemas and copier.yml spell out verbatim (a test holds every copy to this one), so the
catalog check, the answers check and a person running Copier refuse the same text. It refuses:

- template and shell syntax: `{{`, `{%`, `{#`, `}}`, `%}`, `#}`, `$(`, backticks, `../`;
- control characters (C0, DEL, C1), tab and line breaks included. Free text is one line (a
  LABEL, a YAML scalar, a table cell) and a tab in it has whatever width each viewer gives it;
  a tab is a paste accident in practice and spaces say the same, so tab is refused like the
  rest rather than made the one control character every output must escape;
- bidirectional controls U+202A-U+202E and U+2066-U+2069: they show text in another order
  than it is stored ("Trojan Source");
- invisible characters U+200B-U+200D, U+2060 and U+FEFF: two texts that look alike differ.

Names (ids, ports names, images, paths) have patterns of their own that refuse these
characters anyway; `forbidden_character` lets their messages say which one was found.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CHARACTERS = r"[\x00-\x1f\x7f-\x9f\u200b-\u200d\u2060\u202a-\u202e\u2066-\u2069\ufeff]"
SYNTAX = r"\x7b[\x7b%#]|[\x7d%#]\x7d|[$][(]|`|[.][.]/"
TEXT_PATTERN = f"{SYNTAX}|{CHARACTERS}"
# What a message says of text that breaks the syntax part of the rule (the characters get
# a message naming the one found).
TEXT_RULE = (
    "Free text without template or shell syntax (double braces, brace-percent, brace-hash,"
    " dollar-parenthesis, backticks, ../) or control characters."
)

# A repository path in the workspace: normalised ('/' between parts, no empty, '.' or '..'
# part), relative, each part a plain name that starts with a letter or digit (so no '.git',
# no '.fleetform', no '-option'), and short enough to leave room for the files inside it.
REPO_MAX = 200
REPO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$(?!\n)"

_CHARACTERS = re.compile(CHARACTERS)
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\x85")
# unicodedata has no names for control characters; these are their Unicode aliases.
_CONTROL_NAMES = {
    "\x00": "NULL",
    "\x07": "BELL",
    "\x08": "BACKSPACE",
    "\t": "CHARACTER TABULATION",
    "\n": "LINE FEED",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}


@dataclass(frozen=True)
class Forbidden:
    """The first character of a text that no catalog text may hold."""

    index: int  # 0-based, in the text as YAML gave it
    char: str

    @property
    def code(self) -> str:
        return f"U+{ord(self.char):04X}"

    @property
    def name(self) -> str:
        known = _CONTROL_NAMES.get(self.char)
        return known if known else unicodedata.name(self.char, "CONTROL CHARACTER")

    @property
    def why(self) -> str:
        if self.char == "\t":
            return "catalog text is one line without tabs; use spaces"
        if self.char in _LINE_BREAKS:
            return "catalog text is one line"
        if self.char in _BIDI:
            return "bidirectional controls show text in another order than it is stored"
        if unicodedata.category(self.char) == "Cf":
            return "invisible characters make texts that look the same differ"
        return "control characters have no place in text written into files"

    def __str__(self) -> str:
        return f"{self.code} ({self.name}) at character {self.index + 1}"


def forbidden_character(text: str) -> Forbidden | None:
    """The first control, bidirectional or invisible character of `text`, if any."""
    found = _CHARACTERS.search(text)
    return Forbidden(found.start(), found.group()) if found else None


def repo_reason(repo: str) -> str:
    """Why `repo` is not a repository path REPO_PATTERN accepts, in a few words."""
    if not repo:
        return "it is empty"
    found = forbidden_character(repo)
    if found:
        return f"it holds {found}"
    if repo.startswith("/"):
        return "it is absolute; give it relative to the workspace root"
    if "\\" in repo:
        return "it holds a backslash; parts are separated by '/'"
    parts = repo.split("/")
    normal = "/".join(part for part in parts if part not in ("", "."))
    if ".." in parts:
        return "its part '..' would lead out of the workspace"
    if "" in parts or "." in parts:
        better = f"; write {normal!r}" if normal else ""
        return f"it is not normalised (an empty or '.' part){better}"
    for part in parts:
        if part.lower() == ".git":
            return "its part '.git' is git's own folder, not a work tree"
        if not _PART.fullmatch(part):
            return (
                f"its part {part!r} is not a plain name (letters, digits, '.', '_' and '-',"
                " starting with a letter or digit)"
            )
    return "it is not a normalised relative path"
