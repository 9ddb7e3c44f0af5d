"""fleetform's `copier update` (generator.fleet.update.copier_update, with the shared worker)
leaves exactly what plain `copier update` leaves, while rendering the new version once
instead of twice when the template allows it (generator.fleet.copier_rerender).

A small template at v1.0.0 and v2.0.0; a repository made from v1 by plain Copier, committed,
then edited by its owners: one edit v2 merges cleanly, one that conflicts, one file the
template only creates (`_skip_if_exists`). Two copies of it are updated to v2, one by each.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest
from copier._main import Worker

from generator.fleet.update import copier_update
from tests.helpers import commit_all, git, init_repo

ANSWERS = {"name": "billing", "port": 8080}
COPIER_YML = """\
_templates_suffix: .jinja
_skip_if_exists: [owned.txt]
name:
  type: str
port:
  type: int
"""


def template(root: Path, extra: dict[str, str]) -> Path:
    """v1.0.0 and v2.0.0 of a template (`extra`: more files, in both versions)."""
    files = {
        "copier.yml": COPIER_YML,
        "{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers|to_nice_yaml }}",
        "app.txt.jinja": "name: {{ name }}\nport: {{ port }}\nmode: one\n",
        "merged.txt.jinja": "first\nsecond\nthird\nfourth\nfifth\n",
        "owned.txt.jinja": "owned by {{ name }}\n",
        "run.sh": "#!/bin/sh\necho v1\n",
        "conf/{{ name }}.yaml.jinja": "port: {{ port }}\n",
        **extra,
    }
    init_repo(root)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "run.sh").chmod(0o755)
    commit_all(root, "v1")
    git(root, "tag", "v1.0.0")
    (root / "app.txt.jinja").write_text(
        "name: {{ name }}\nport: {{ port }}\nmode: two\n", encoding="utf-8"
    )
    (root / "merged.txt.jinja").write_text(
        "first\nsecond\nthird\nfourth\nfifth (v2)\n", encoding="utf-8"
    )
    (root / "added.txt.jinja").write_text("new in v2 for {{ name }}\n", encoding="utf-8")
    (root / "run.sh").write_text("#!/bin/sh\necho v2\n", encoding="utf-8")
    commit_all(root, "v2")
    git(root, "tag", "v2.0.0")
    return root


def owners_repository(source: Path, repo: Path) -> Path:
    copier.run_copy(str(source), repo, data=ANSWERS, vcs_ref="v1.0.0", defaults=True, quiet=True)
    init_repo(repo)
    commit_all(repo, "generated")
    app = repo / "app.txt"
    app.write_text(app.read_text(encoding="utf-8").replace("mode: one", "mode: mine"))
    merged = repo / "merged.txt"
    merged.write_text(merged.read_text(encoding="utf-8").replace("first", "first (ours)"))
    (repo / "owned.txt").write_text("the owners' own\n", encoding="utf-8")
    commit_all(repo, "owners' edits")
    return repo


def tree(repo: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file but .git: its bytes and whether it is executable."""
    return {
        path.relative_to(repo).as_posix(): (path.read_bytes(), bool(path.stat().st_mode & 0o100))
        for path in sorted(repo.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(repo).parts
    }


def state(repo: Path) -> tuple[dict[str, tuple[bytes, bool]], str, str]:
    return (
        tree(repo),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "ls-files", "--stage"),
    )


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The folders Copier renders a template into, in order (observed, not changed)."""
    seen: list[str] = []
    render: Callable[[Worker], None] = Worker._render_template

    def observed(worker: Worker) -> None:
        seen.append(Path(worker.dst_path).name)
        render(worker)

    monkeypatch.setattr(Worker, "_render_template", observed)
    return seen


@pytest.mark.parametrize(
    ("extra", "fleetform_renders"),
    [
        pytest.param({}, 2, id="rendered-once"),
        # A template reading the destination's folder name (or anything of _copier_conf but
        # the answers file name) renders a third time, as Copier.
        # (Named as such it differs from run to run: Copier renders into random folders.)
        pytest.param(
            {"where.txt.jinja": "{{ _folder_name is string }}\n"}, 3, id="names-its-folder"
        ),
    ],
)
def test_an_update_leaves_what_plain_copier_update_leaves(
    tmp_path: Path, renders: list[str], extra: dict[str, str], fleetform_renders: int
) -> None:
    source = template(tmp_path / "template", extra)
    owners = owners_repository(source, tmp_path / "owners")
    ours, plain = tmp_path / "ours" / "billing", tmp_path / "plain" / "billing"
    for copy in (ours, plain):
        shutil.copytree(owners, copy, symlinks=True)
    renders.clear()

    copier_update(ours, dict(ANSWERS), "v2.0.0")
    ours_renders = len(renders)
    settings: dict[str, Any] = {"defaults": True, "overwrite": True, "quiet": True}
    copier.run_update(plain, data=dict(ANSWERS), vcs_ref="v2.0.0", conflict="inline", **settings)

    assert state(ours) == state(plain)
    assert ours_renders == fleetform_renders
    assert "<<<<<<< before updating" in (ours / "app.txt").read_text(encoding="utf-8")
    assert (ours / "merged.txt").read_text(encoding="utf-8").startswith("first (ours)\n")
    assert (ours / "owned.txt").read_text(encoding="utf-8") == "the owners' own\n"
    assert tree(ours)["run.sh"] == (b"#!/bin/sh\necho v2\n", True)
