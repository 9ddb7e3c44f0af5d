"""`fleetform new`: add a service to catalog.yaml, keeping every other byte, then render it.

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
- A guard last: the edited text must be the original lines, all kept in order, plus one
  contiguous block. A file ruamel cannot reproduce (a plain scalar folded over several lines,
  mixed indentation, a one-line flow `services:`) is refused with the line that would
  change, and nothing is written.

Only keys that differ from what the catalog would give anyway are written, so a small
catalog stays small. No "added on <date>" comment: the output depends on the input only.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import os
import re
import stat
import tempfile
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

from generator.catalog.model import Catalog, Runtime, Tier
from generator.catalog.ports import allocate, catalog_claims
from generator.catalog.schema import load_schema
from generator.catalog.validation import ValidationResult, validate
from generator.errors import InputError, UsageError
from generator.fleet.answers import service_answers
from generator.fleet.generate import GenerateOptions, GenerateReport, generate
from generator.fleet.template import catalog_template
from generator.problems import Location, Problem, Severity

BOM = "\ufeff"
WIDTH = 1 << 16  # never re-wrap a line: a rewrapped line is a changed line


@dataclass(frozen=True)
class NewService:
    """What `fleetform new` is asked to add; strings as typed, checked by `add_service`."""

    id: str
    group: str
    runtime: str
    port: int | None = None
    depends_on: tuple[str, ...] = ()
    description: str | None = None
    resources: str | None = None
    gpu: int | None = None  # None: 1 for a model service, else 0
    image: str | None = None
    repo: str | None = None


@dataclass(frozen=True)
class AddedService:
    """The catalog after the edit: validated, written, and where the new entry is."""

    catalog: Catalog
    service: str
    port: int
    allocated: bool  # False when the port was asked for with --port
    location: Location
    warnings: list[Problem]


@dataclass(frozen=True)
class NewServiceResult:
    added: AddedService
    report: GenerateReport | None  # None: nothing rendered (--no-render, image or ddev)

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok


def new_service(path: Path, request: NewService, root: Path | None) -> NewServiceResult:
    """Add the service to the catalog at `path`, then render its repository under `root`.

    A render failure does not undo the catalog change: the entry is valid, and
    `fleetform generate` renders it again once the template or workspace is fixed.
    """
    added = add_service(path, request)
    runtime = added.catalog.services[added.service].runtime
    if root is None or not runtime.generated:
        return NewServiceResult(added, None)
    options = GenerateOptions(root=root, template=catalog_template(added.catalog))
    return NewServiceResult(added, generate(added.catalog, [added.service], options))


def add_service(path: Path, request: NewService) -> AddedService:
    """Check the request, pick the port, edit the file, validate the result, then replace.

    Bad input raises `UsageError` (every problem on one line), a full port range
    `RangeFullError`, an edit that would not validate `InputError`; in every case the
    catalog keeps every byte.
    """
    before = _validate_original(path)
    catalog = before.catalog
    problems = request_problems(catalog, request)
    if problems:
        raise UsageError(message="; ".join(problems))
    port = request.port if request.port is not None else allocate(catalog, request.group)

    target = path.resolve()  # a symlinked catalog is edited where it lives
    raw = target.read_bytes()
    editor = CatalogEditor(raw.decode("utf-8"))
    editor.add(request.id, service_entry(request, port, editor.defaults))
    edited = editor.dump()
    _check_only_inserted(editor.text, edited, path, request.id)

    after, temp = _validated_copy(path, target, editor.encode(edited), request.id)
    try:
        if target.read_bytes() != raw:
            raise InputError.at(
                path=path,
                message="changed while fleetform new was editing it; nothing was written,"
                " run the command again",
            )
        temp.replace(target)
    except OSError as exc:
        raise InputError.at(path=path, message=f"cannot replace: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)

    entry = after.catalog.services[request.id].location
    known = {p.message for p in before.problems}
    return AddedService(
        catalog=dataclasses.replace(after.catalog, path=path),
        service=request.id,
        port=port,
        allocated=request.port is None,
        location=Location(str(path), entry.line, entry.col),
        warnings=[p for p in _relocate(after.problems, temp, path) if p.message not in known],
    )


def _validate_original(path: Path) -> ValidationResult:
    """The catalog as it is must be valid: `new` adds a service, it does not fix a file."""
    try:
        result = validate(path)
    except InputError as exc:
        raise _invalid_original(path, exc.problems) from None
    if not result.ok:
        raise _invalid_original(path, result.problems)
    return result


def _invalid_original(path: Path, problems: list[Problem]) -> InputError:
    if all(p.location.line == 0 for p in problems):  # unreadable: the problem says it all
        return InputError(problems=problems)
    summary = Problem(
        Location(str(path)),
        "the catalog has problems of its own; fix them (fleetform validate) before adding"
        " a service",
    )
    return InputError(problems=[summary, *problems])


# ------------------------------------------------------------------ the request


def request_problems(catalog: Catalog, request: NewService) -> list[str]:
    """Everything wrong with the request against the catalog, each as one short sentence."""
    problems: list[str] = []
    ident = load_schema("catalog.schema.json")["$defs"]["id"]
    if not re.search(ident["pattern"], request.id):
        problems.append(f"service name {request.id!r} is not {ident['patternErrorMessage']}")
    elif request.id in catalog.services:
        where = catalog.services[request.id].location
        problems.append(f"service {request.id!r} is already in the catalog ({where})")
    group = catalog.groups.get(request.group)
    if group is None:
        problems.append(
            f"unknown group {request.group!r} (groups: {', '.join(sorted(catalog.groups))})"
        )
    runtimes = [r.value for r in Runtime]
    if request.runtime not in runtimes:
        problems.append(f"unknown runtime {request.runtime!r} (one of {', '.join(runtimes)})")
    elif request.runtime == Runtime.MODEL and _gpu(request) < 1:
        problems.append("a model service needs --gpu 1 or more")
    elif request.runtime == Runtime.IMAGE and not request.image:
        problems.append("an image service needs --image (the image it runs, e.g. nginx:1.27)")
    elif request.image and request.runtime != Runtime.IMAGE:
        problems.append(f"--image is only for image services, not {request.runtime} services")
    tiers = [t.value for t in Tier]
    if request.resources is not None and request.resources not in tiers:
        problems.append(f"unknown resources tier {request.resources!r} (one of {', '.join(tiers)})")
    for name, count in Counter(request.depends_on).items():
        if name not in catalog.services:
            problems.append(f"unknown dependency {name!r}")
        elif count > 1:
            problems.append(f"dependency {name!r} is named twice")
    if request.port is not None and group is not None:
        owners = {claim.port: claim.label for claim in catalog_claims(catalog)}
        if request.port not in group.ports:
            problems.append(
                f"port {request.port} is outside the range {group.ports} of group {group.id!r};"
                " pick a port inside it, or leave --port out to take the lowest free one"
            )
        elif request.port in owners:
            problems.append(
                f"port {request.port} is taken by {owners[request.port]!r}; leave --port out"
                f" to take the lowest free port of {group.id!r}"
            )
    return problems


def _gpu(request: NewService) -> int:
    if request.gpu is not None:
        return request.gpu
    return 1 if request.runtime == Runtime.MODEL else 0


def service_entry(request: NewService, port: int, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog entry: required keys, and the optional ones only where they change
    something (catalog.py's builder gives a service the catalog's `defaults`, then these)."""
    entry: dict[str, Any] = {}
    if request.description:
        entry["description"] = request.description
    entry["group"] = request.group
    entry["runtime"] = request.runtime
    if request.image:
        entry["image"] = request.image
    entry["port"] = port
    if request.repo and request.repo != request.id:
        entry["repo"] = request.repo
    if _gpu(request):
        entry["gpu"] = _gpu(request)
    runtime_tier = Tier.XLARGE if request.runtime == Runtime.MODEL else Tier.MEDIUM
    if request.resources and request.resources != defaults.get("resources", runtime_tier):
        entry["resources"] = request.resources
    if request.depends_on:
        entry["depends_on"] = list(request.depends_on)
    return entry


# ------------------------------------------------------------------ the round-trip edit


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


def _check_only_inserted(old: str, new: str, path: Path, service_id: str) -> None:
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


# ------------------------------------------------------------------ validate, then replace


def _validated_copy(
    path: Path, target: Path, content: bytes, service_id: str
) -> tuple[ValidationResult, Path]:
    """Write `content` beside the catalog and validate it as `fleetform validate` would (plus
    the new service's Copier answers); the temporary file is removed unless returned."""
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".fleetform-new", dir=target.parent
        )
    except OSError as exc:
        message = f"cannot write beside it: {exc.strerror}; nothing was written"
        raise InputError.at(path=path, message=message) from None
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        temp.chmod(stat.S_IMODE(target.stat().st_mode))
        try:
            result = validate(temp)
            errors = [p for p in result.problems if p.severity is Severity.ERROR]
            if not errors and result.catalog.services[service_id].runtime.generated:
                service_answers(result.catalog, service_id)
        except InputError as exc:
            errors = exc.problems
        if errors:
            summary = Problem(
                Location(str(path)),
                f"adding {service_id!r} would make the catalog invalid; nothing was written"
                " (positions below are in the edited text)",
            )
            raise InputError(problems=[summary, *_relocate(errors, temp, path)])
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return result, temp


def _relocate(problems: list[Problem], temp: Path, path: Path) -> list[Problem]:
    """Problems found in the temporary copy, told against the catalog's own name."""
    return [
        Problem(
            Location(str(path), p.location.line, p.location.col)
            if p.location.path == str(temp)
            else p.location,
            p.message.replace(str(temp), str(path)),
            p.severity,
        )
        for p in problems
    ]
