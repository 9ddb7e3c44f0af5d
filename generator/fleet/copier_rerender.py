"""The third render of `copier update`, taken from the second instead of rendered again.

Copier's update renders the new version twice with the same answers: into the repository
(where files that already exist may be kept, `skip_if_exists`) and into an empty folder
(`new_copy`, the clean render it diffs and merges against). Both compute every file's bytes
and mode from the same template, version and answers before deciding whether to write it,
so `copier_worker.UpdateWorker` records them from the first (`Rendered.add`, called where
Copier asks whether a path may be written) and writes the record into the empty folder
instead of rendering a third time: about a third of an update's rendering.

Only the destination itself can differ between the two renders: Copier gives templates
`_copier_conf` (with `dst_path` and the `data` it was called with) and `_folder_name`. Every
text a render evaluates (a file, an include, a path, a question's default or condition) is
compiled in the version's shared Jinja environment first, so the environment notes any
source that names either (`names_destination`; the usual answers file name
`_copier_conf.answers_file` is the same in both). A version whose environment has compiled
one renders a third time as Copier does; so does a template with Jinja extensions of its own
(they could read anything) or symlinks kept as links. tests/fleet/test_copier_rerender.py
compares whole updates made both ways.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# What a render may read that is not the same for the repository and an empty folder.
_DESTINATION_NAMES = re.compile(r"_copier_conf(?!\.answers_file\b)|_folder_name")


@dataclass
class Rendered:
    """Every folder and file one render produced (relative paths), with file bytes and modes."""

    folders: list[Path] = field(default_factory=list)
    files: dict[Path, tuple[bytes, int | None]] = field(default_factory=dict)

    def add(self, path: Path, is_dir: bool, contents: bytes | Path, mode: int | None) -> None:
        if is_dir:
            self.folders.append(path)
        elif isinstance(contents, bytes):
            self.files[path] = (contents, mode)
        else:  # a symlink's target: UpdateWorker records no template that keeps links
            raise TypeError(f"a link in a recorded render: {path}")

    def write(self, root: Path) -> None:
        """Make the render under `root` (an empty folder of Copier's), as Copier writes it."""
        root.mkdir(parents=True, exist_ok=True)
        for folder in self.folders:
            (root / folder).mkdir(parents=True, exist_ok=True)
        for path, (contents, mode) in self.files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(contents)
            if mode is not None and target.stat().st_mode != mode:
                target.chmod(mode)


def names_destination(source: str) -> bool:
    """Whether a template source reads what differs between the two renders."""
    return _DESTINATION_NAMES.search(source) is not None
