"""Round-trip editing of catalog.yaml with ruamel: add a service entry, keep every other byte.

This is the one place fleetform *writes* YAML back. `yamlfile.py` stays read-only (libyaml,
fast, positions); editing needs ruamel's round-trip mode, which keeps comments, key order and
quoting. What ruamel does not do on its own, and this module does:

- Indentation: ruamel has one mapping indent, sequence indent and dash offset per document
  and detects none of them, so they are measured from the file (the most common of each).
- Comments below a value belong to that value's end-of-line comment token, so a section
  header that introduces the *next* group of services travels with the entry before it. The
  new entry goes right after that entry, and the comment and blank lines at the services'
  indentation move below the new entry (deeper comments are about the entry and stay). A
  block scalar (`>-`, `|`) keeps its own line break, so its token holds only lines below it.
- `---` is dropped unless `explicit_start` is set, and plain text wraps at 80 columns unless
  the width is raised: both are set from the file.
- A guard last (`check_only_inserted`): the edited text must be the original lines, all kept
  in order, plus one contiguous block. A file ruamel cannot reproduce (a plain scalar folded
  over several lines, mixed indentation, a one-line flow `services:`) is refused with the
  line that would change, and nothing is written.
"""

from __future__ import annotations

import difflib
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from generator.errors import InputError

BOM = "\ufeff"
WIDTH = 1 << 16  # never re-wrap a line: a rewrapped line is a changed line


@dataclass(frozen=True)
class Indentation:
    """ruamel's three numbers: mapping indent, sequence item indent, and the dash's offset."""

    mapping: int = 2
    sequence: int = 2
    offset: int = 0


class CatalogEditor:
    """One catalog text loaded with ruamel's round-trip loader, ready to be added to."""

    def __init__(self, text: str) -> None:
        self.bom = text.startswith(BOM)
        self.newline = "\r\n" if "\r\n" in text else "\n"
        # The text fleetform keeps byte-identical: no BOM, '\n' line ends (both restored).
        self.text = text.removeprefix(BOM).replace("\r\n", "\n")
        self.yaml = YAML(typ="rt")
        self.yaml.preserve_quotes = True
        self.yaml.width = WIDTH
        self.data: CommentedMap = self.yaml.load(self.text)
        self.yaml.explicit_start = _explicit_start(self.text)
        self.indentation = detect_indentation(self.data, self.text.splitlines())
        self.yaml.indent(
            mapping=self.indentation.mapping,
            sequence=self.indentation.sequence,
            offset=self.indentation.offset,
        )

    @property
    def defaults(self) -> Mapping[str, Any]:
        defaults = self.data.get("defaults")
        return defaults if isinstance(defaults, Mapping) else {}

    def add(self, service_id: str, entry: Mapping[str, Any]) -> None:
        """Put the entry after the last service of its group when services are kept
        together by group, else after the last service."""
        services: CommentedMap = self.data["services"]
        order = list(services)
        members = [sid for sid in order if _group_of(services[sid]) == entry["group"]]
        previous = members[-1] if members and _grouped(services) else order[-1]
        flow = _is_flow(services[previous])
        new = _commented(entry, flow)
        blank = _blank_separated(services, order, self.text.splitlines())
        below = _take_lines_below(services, previous)
        services.insert(order.index(previous) + 1, service_id, new)
        if blank:
            services.yaml_set_comment_before_after_key(service_id, before="\n")
        if below:
            owner, key = (services, service_id) if flow else (new, list(new)[-1])
            slots = owner.ca.items.setdefault(key, [None, None, None, None])
            slots[2] = CommentToken("\n" + below, CommentMark(0))  # no comment, then the lines

    def dump(self) -> str:
        """The edited text, with '\n' line ends and no BOM (see `encode`)."""
        stream = io.StringIO()
        self.yaml.dump(self.data, stream)
        text = stream.getvalue()
        # ruamel always ends the document with a line break; the file may not have had one.
        return text if self.text.endswith("\n") else text.removesuffix("\n")

    def encode(self, text: str) -> bytes:
        """`text` as the original file spelled its line ends and BOM."""
        body = text.replace("\n", self.newline)
        return ((BOM if self.bom else "") + body).encode("utf-8")


def detect_indentation(root: CommentedMap, lines: Sequence[str]) -> Indentation:
    """The file's most common block mapping indent and sequence layout (ruamel's defaults
    where the file has none); positions come from ruamel's `.lc` marks, 0-based."""
    mappings: Counter[int] = Counter()
    sequences: Counter[tuple[int, int]] = Counter()

    def visit(node: Any) -> None:
        if isinstance(node, CommentedSeq):
            for item in node:
                visit(item)
            return
        if not isinstance(node, CommentedMap):
            return
        for key, value in node.non_merged_items():  # merged keys have no position
            line, col = node.lc.key(key)
            if _is_flow(value) or not value:
                continue
            if isinstance(value, CommentedMap):
                child_line, child_col = value.lc.key(next(iter(value)))
                if child_line > line:
                    mappings[child_col - col] += 1
            elif isinstance(value, CommentedSeq):
                item_line, item_col = value.lc.item(0)
                prefix = lines[item_line][:item_col].rstrip()
                if item_line > line and prefix.endswith("-"):
                    sequences[(item_col - col, len(prefix) - 1 - col)] += 1
            visit(value)

    visit(root)
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    sequence, offset = sequences.most_common(1)[0][0] if sequences else (mapping, 0)
    return Indentation(mapping, sequence, offset)


def _explicit_start(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "%")):
            return stripped == "---" or stripped.startswith(("--- ", "---\t"))
    return False


def _is_flow(node: Any) -> bool:
    return isinstance(node, CommentedMap | CommentedSeq) and bool(node.fa.flow_style())


def _group_of(entry: Any) -> Any:
    return entry.get("group") if isinstance(entry, Mapping) else None


def _grouped(services: CommentedMap) -> bool:
    """Whether the services of each group are written together, one run per group."""
    last = None
    runs: list[Any] = []
    for group in map(_group_of, services.values()):
        if not runs or group != last:
            runs.append(group)
        last = group
    return len(runs) == len(set(runs))


def _blank_separated(services: CommentedMap, order: list[str], lines: Sequence[str]) -> bool:
    """Whether most services are set off from the one before by a blank line."""
    votes = Counter[bool]()
    for sid in order[1:]:
        number = services.lc.key(sid)[0] - 1
        blank = False
        while number >= 0 and (not lines[number].strip() or lines[number].lstrip()[0] == "#"):
            blank = blank or not lines[number].strip()
            number -= 1
        votes[blank] += 1
    return votes[True] > votes[False]


def _commented(entry: Mapping[str, Any], flow: bool) -> CommentedMap:
    """The entry as ruamel nodes: lists in flow style (`[a, b]`), the mapping as the
    entry before it is written (block, or `{...}` on one line)."""
    node = CommentedMap()
    for key, value in entry.items():
        if isinstance(value, list):
            value = CommentedSeq(value)
            value.fa.set_flow_style()
        node[key] = value
    if flow:
        node.fa.set_flow_style()
    return node


def _tail_slot(parent: CommentedMap | CommentedSeq, key: Any) -> tuple[Any, Any, int]:
    """Where ruamel keeps the comment after `parent[key]`'s last line: the deepest last
    block child's end-of-line comment (index 2 in a mapping's item, 0 in a sequence's)."""
    value = parent[key]
    if isinstance(value, CommentedMap) and _own_keys(value) and not _is_flow(value):
        return _tail_slot(value, _own_keys(value)[-1])
    if isinstance(value, CommentedSeq) and value and not _is_flow(value):
        return _tail_slot(value, len(value) - 1)
    return parent, key, 0 if isinstance(parent, CommentedSeq) else 2


def _own_keys(node: CommentedMap) -> list[Any]:
    return [key for key, _ in node.non_merged_items()]


def _take_lines_below(services: CommentedMap, previous: str) -> str:
    """Detach the comment and blank lines ruamel stored after `previous`'s last line and
    return them: the ones that introduce what follows, indented no deeper than the service
    keys. Its own end-of-line comment and deeper comments (about its last value) stay."""
    parent, key, index = _tail_slot(services, previous)
    item = parent.ca.items.get(key)
    token = item[index] if item else None
    if token is None:
        return ""
    value: str = token.value
    if isinstance(parent[key], FoldedScalarString | LiteralScalarString):
        head, below = "", value  # the block scalar ends its own line
    else:
        cut = value.find("\n") + 1 if "\n" in value else len(value)
        head, below = value[:cut], value[cut:]
    lines = below.splitlines(keepends=True)
    column = services.lc.key(previous)[1]
    cut = len(lines)
    while cut and _introduces(lines[cut - 1], column):
        cut -= 1
    head, below = head + "".join(lines[:cut]), "".join(lines[cut:])
    if head:
        token.value = head  # in place: a flow mapping's start comment may share the token
    else:
        item[index] = None
    return below


def _introduces(line: str, column: int) -> bool:
    """A blank line, or a comment no deeper than the service keys: about what comes next."""
    text = line.lstrip(" ")
    return not text.strip() or (text.startswith("#") and len(line) - len(text) <= column)


def check_only_inserted(old: str, new: str, path: Path, service_id: str) -> None:
    """The guard: every original line kept, in order, and one block of new lines."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if len(changes) == 1 and changes[0][0] == "insert" and old.endswith("\n") == new.endswith("\n"):
        return
    if not changes:  # only the final line break differs
        tag, i1, j1 = "replace", max(len(old_lines) - 1, 0), max(len(new_lines) - 1, 0)
    else:
        tag, i1, _, j1, _ = next((op for op in changes if op[0] != "insert"), changes[-1])
    if tag == "replace":
        detail = f"ruamel would write it as {new_lines[j1]!r}" if j1 < len(new_lines) else ""
    else:
        detail = "ruamel would drop it" if tag == "delete" else "ruamel would add lines here too"
    raise InputError.at(
        path=path,
        line=min(i1, max(len(old_lines) - 1, 0)) + 1,
        col=1,
        message=f"cannot add {service_id!r} without rewriting this line ({detail}); nothing"
        " was written: add the entry by hand",
    )
