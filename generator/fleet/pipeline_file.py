"""Writing the catalog repository's `.gitlab-ci.yml`: only over a file fleetform wrote.

The file's first lines say it is fleetform's and carry a digest of everything else in it
(`# fleetform-ci: sha256=...`). A file without that line is someone's own CI configuration,
and one whose digest no longer matches was edited since: either is left alone unless the
caller forces it, as `generate` leaves a file it did not write. The write is atomic.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from generator.catalog.model import Catalog
from generator.errors import ForeignFileError, UsageError, WriteError
from generator.files import write_atomically
from generator.fleet.pipeline import PipelineOptions, pipeline_yaml, regenerate_command

DIGEST_PREFIX = "# fleetform-ci: sha256="


class Outcome(Enum):
    PRINTED = "printed"
    CREATED = "created"
    REPLACED = "replaced"  # a file fleetform wrote, with other content
    UNCHANGED = "unchanged"  # the same bytes: not written again


@dataclass(frozen=True)
class PipelineResult:
    text: str
    output: Path | None
    outcome: Outcome


def write_pipeline(
    catalog: Catalog,
    *,
    shards: int,
    fleetform: str | None,
    output: Path | None,
    force: bool = False,
) -> PipelineResult:
    """The pipeline of `catalog`'s repository, written to `output` (None: only returned).

    The catalog path in the jobs is relative to the directory `output` goes to (the
    repository's root), or to the working directory when printing.
    """
    root = (output.parent if output is not None else Path()).resolve()
    catalog_file = catalog.path.resolve()
    if not catalog_file.is_relative_to(root):
        raise UsageError(
            message=f"the catalog {catalog.path} is not inside {root}, where the CI file goes:"
            " the jobs read the catalog from the repository that holds the pipeline"
        )
    options = PipelineOptions(
        catalog=catalog_file.relative_to(root).as_posix(), shards=shards, fleetform=fleetform
    )
    shown = None if output is None else os.path.relpath(output, Path.cwd())
    text = with_header(pipeline_yaml(catalog, options), regenerate_command(options, shown))
    if output is None:
        return PipelineResult(text, None, Outcome.PRINTED)
    if output.is_symlink():
        # Its target is someone's file, wherever it is: never written through (--force
        # replaces the link itself).
        existing: str | None = ""
        reason: str | None = "a symbolic link"
    else:
        existing = _read_existing(output)
        reason = None if existing is None else owned_reason(existing)
    if existing is None:
        outcome = Outcome.CREATED
    elif existing == text and reason is None:
        return PipelineResult(text, output, Outcome.UNCHANGED)
    elif reason is not None and not force:
        raise ForeignFileError(path=output, reason=reason)
    else:
        outcome = Outcome.REPLACED
    write_atomically(output, text)
    return PipelineResult(text, output, outcome)


def with_header(body: str, command: str) -> str:
    head = (
        "# Written by `fleetform ci`; edit the catalog or the command, not this file:\n"
        f"#   {command}\n"
    )
    return f"{head}{DIGEST_PREFIX}{_digest(head + body)}\n{body}"


def owned_reason(text: str) -> str | None:
    """None when `text` is a file fleetform ci wrote, unedited; else why it is not."""
    lines = text.splitlines(keepends=True)
    marked = [i for i, line in enumerate(lines) if line.startswith(DIGEST_PREFIX)]
    if len(marked) != 1:
        return "not written by fleetform ci"
    index = marked[0]
    recorded = lines[index].removeprefix(DIGEST_PREFIX).strip()
    rest = "".join(lines[:index] + lines[index + 1 :])
    if recorded != _digest(rest):
        return "edited since fleetform ci wrote it"
    return None


def _read_existing(output: Path) -> str | None:
    if not output.exists():
        return None
    if not output.is_file():
        raise WriteError(path=output, reason="not a regular file")
    try:
        return output.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""  # not fleetform's: refused below unless forced
    except OSError as exc:
        raise WriteError(path=output, reason=exc.strerror or str(exc)) from exc


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
