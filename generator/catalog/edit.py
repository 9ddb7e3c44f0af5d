"""Add a service to catalog.yaml: check the request, pick the port, edit, validate, replace.

The request is checked against the catalog as it is (which must itself be valid), the port is
the one asked for or the group's lowest free one, and the entry is written by the round-trip
editor (`generator.catalog.roundtrip`), which keeps every other byte. The edited text is
validated beside the catalog as `fleetform validate` would, plus any check the caller adds,
and only then replaces the file; on any problem the catalog keeps every byte.

Only keys that differ from what the catalog would give anyway are written, so a small
catalog stays small. No "added on <date>" comment: the output depends on the input only.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.catalog.model import Catalog, Runtime, Tier
from generator.catalog.ports import allocate, catalog_claims
from generator.catalog.roundtrip import CatalogEditor, check_only_inserted
from generator.catalog.schema import load_schema
from generator.catalog.validation import ValidationResult, validate
from generator.errors import InputError, UsageError
from generator.problems import Location, Problem, Severity

ServiceCheck = Callable[[Catalog, str], None]
"""A check of the new service that needs more than the catalog (fleet checks its Copier
answers): called with the edited catalog and the service's id, it raises `InputError`."""


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
    original: str = ""  # the catalog's text before the edit, and after it
    edited: str = ""
    written: bool = True  # False: validated only, the file was left as it was


def add_service(
    path: Path,
    request: NewService,
    *,
    check_service: ServiceCheck | None = None,
    write: bool = True,
) -> AddedService:
    """Check the request, pick the port, edit the file, validate the result, then replace.

    Bad input raises `UsageError` (every problem on one line), a full port range
    `RangeFullError`, an edit that would not validate (or fail `check_service`)
    `InputError`; in every case the catalog keeps every byte. `write=False` stops before
    the replace (a dry run, a preview): the result is the catalog the edit would give.
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
    check_only_inserted(editor.text, edited, path, request.id)

    # Beside the catalog, so the replace is a rename; a run that writes nothing keeps even its
    # temporary copy away from the catalog's folder (which may be read-only to it).
    beside = target.parent if write else None
    content = editor.encode(edited)
    after, temp = _validated_copy(path, target, content, request.id, check_service, beside)
    try:
        if not write:
            pass
        elif target.read_bytes() != raw:
            raise InputError.at(
                path=path,
                message="changed while fleetform new was editing it; nothing was written,"
                " run the command again",
            )
        else:
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
        original=editor.text,
        edited=edited,
        written=write,
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
    something (load.py's builder gives a service the catalog's `defaults`, then these)."""
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


# ------------------------------------------------------------------ validate, then replace


def _validated_copy(
    path: Path,
    target: Path,
    content: bytes,
    service_id: str,
    check_service: ServiceCheck | None,
    folder: Path | None,
) -> tuple[ValidationResult, Path]:
    """Write `content` into `folder` (None: the system's temporary folder) and validate it as
    `fleetform validate` would (then `check_service`, if given); the temporary file is
    removed unless returned."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".fleetform-new", dir=folder)
    except OSError as exc:
        message = f"cannot write beside it: {exc.strerror}; nothing was written"
        raise InputError.at(path=path, message=message) from None
    temp = Path(name)
    try:
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
            temp.chmod(stat.S_IMODE(target.stat().st_mode))
        except OSError as exc:  # a full disk (ENOSPC), a file size limit (EFBIG), EIO
            message = f"cannot write beside it: {exc.strerror or exc}; nothing was written"
            raise InputError.at(path=path, message=message) from None
        try:
            result = validate(temp)
            errors = [p for p in result.problems if p.severity is Severity.ERROR]
            if not errors and check_service is not None:
                check_service(result.catalog, service_id)
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
