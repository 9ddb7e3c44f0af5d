"""`fleetform new`: the catalog gains exactly the new entry's lines, then Copier renders it."""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from generator.catalog.ports import used_ports
from generator.catalog.validation import open_catalog
from tests.helpers import BUNDLED_CATALOG, TEMPLATE_TAG, catalog_at, commit_all, git

Run = Callable[..., Result]


def fleetform_new(run: Run, catalog: Path, service: str, *options: str | Path) -> Result:
    """`fleetform new SERVICE -c CATALOG`: group common-npm, runtime node and --no-render
    unless the options say otherwise."""
    args = [*options]
    for flag, value in (("--group", "common-npm"), ("--runtime", "node")):
        if flag not in args:
            args += [flag, value]
    if not {"-w", "-o", "--no-render"} & {str(a) for a in args}:
        args.append("--no-render")
    return run("new", service, "-c", catalog, *args)


def inserted_lines(old: str, new: str) -> list[str]:
    """The lines `new` adds to `old`; fails unless every line of `old` is kept, in order."""
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    diff = "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm=""))
    assert [op[0] for op in changes] == ["insert"], diff
    _, _, _, j1, j2 = changes[0]
    return new.splitlines()[j1:j2]


def with_block(old: str, before: str, block: str) -> str:
    """`old` with `block` inserted just before its line `before` (which must be unique)."""
    lines = old.splitlines(keepends=True)
    [index] = [i for i, line in enumerate(lines) if line.rstrip("\n") == before]
    return "".join([*lines[:index], block, *lines[index:]])


@pytest.fixture
def bundled_copy(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog.yaml"
    shutil.copyfile(BUNDLED_CATALOG, catalog)
    return catalog


# ------------------------------------------------------------------ the bundled catalog

BILLING = """\

  billing:
    description: 'Billing: invoices and payments.'
    group: common-npm
    runtime: node
    port: 3016
    depends_on: [redis, postgres]
"""
MODELS_HEADER = (
    "  # ------------------------------------------------------------------ models (GPU)"
)


def test_new_adds_exactly_its_lines_and_renders_the_repository(
    template_repo: Path, tmp_path: Path, run: Run
) -> None:
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    old = catalog.read_text(encoding="utf-8")
    used = used_ports(open_catalog(catalog).catalog)
    lowest_free = min(p for p in range(3000, 3100) if p not in used)
    workspace = tmp_path / "ws"

    description = ("--description", "Billing: invoices and payments.")
    dependencies = ("--depends-on", "redis", "--depends-on", "postgres")
    result = fleetform_new(run, catalog, "billing", *dependencies, *description, "-w", workspace)

    assert result.exit_code == 0, result.output
    new = catalog.read_text(encoding="utf-8")
    # Every original line, comments included, is kept; the entry is the only addition, at the
    # end of its group's services and above the next group's header comment.
    assert [line for line in inserted_lines(old, new) if line] == BILLING.strip("\n").splitlines()
    assert new == with_block(old, MODELS_HEADER, BILLING.removeprefix("\n") + "\n")
    assert lowest_free == 3016
    line = new.splitlines().index("  billing:") + 1
    assert result.stdout.splitlines()[0] == (
        f"added 'billing' at {catalog}:{line}:3: port 3016"
        " (the lowest free port of group 'common-npm')"
    )
    assert result.stdout.splitlines()[-1] == "1 service(s): 1 created"
    assert run("validate", "-c", catalog).exit_code == 0
    answers = yaml.safe_load((workspace / "billing" / ".copier-answers.yml").read_text())
    assert (answers["service_name"], answers["port"]) == ("billing", 3016)
    assert answers["_commit"] == TEMPLATE_TAG
    assert answers["direct_dependencies"] == ["redis", "postgres"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.yaml", "ws"]
    # A git repository from the start, nothing committed: the owners review and commit.
    repo = workspace / "billing"
    assert git(repo, "rev-parse", "--show-toplevel") == str(repo)
    assert "?? .copier-answers.yml" in git(repo, "status", "--porcelain", "--untracked-files=all")


def test_the_next_new_service_of_the_group_gets_the_next_port(bundled_copy: Path, run: Run) -> None:
    first = fleetform_new(run, bundled_copy, "billing")
    assert first.exit_code == 0, first.output
    old = bundled_copy.read_text()
    second = fleetform_new(run, bundled_copy, "ledger", "--runtime", "python")
    assert second.exit_code == 0, second.output
    assert "port 3017 (the lowest free port of group 'common-npm')" in second.stdout
    block = "  ledger:\n    group: common-npm\n    runtime: python\n    port: 3017\n\n"
    assert bundled_copy.read_text() == with_block(old, MODELS_HEADER, block)


def test_a_free_port_inside_the_range_can_be_asked_for(bundled_copy: Path, run: Run) -> None:
    result = fleetform_new(run, bundled_copy, "billing", "--port", "3050")
    assert result.exit_code == 0, result.output
    assert "port 3050 (as asked, in group 'common-npm')" in result.stdout
    assert open_catalog(bundled_copy).catalog.services["billing"].port.port == 3050


def test_new_model_and_image_services_write_only_what_differs_from_defaults(
    bundled_copy: Path, tmp_path: Path, run: Run
) -> None:
    old = bundled_copy.read_text()
    as_model = ("--group", "models", "--runtime", "model", "--depends-on", "minio")
    model = fleetform_new(run, bundled_copy, "vision-model", *as_model, "--resources", "xlarge")
    assert model.exit_code == 0, model.output
    as_image = ("--group", "data", "--runtime", "image", "--image", "nginx:1.27")
    workspace = ("-w", tmp_path / "ws")
    image = fleetform_new(
        run, bundled_copy, "nginx", *as_image, "--resources", "medium", *workspace
    )
    assert image.exit_code == 0, image.output
    assert "nginx: not rendered (image services are catalogued only)" in image.stdout
    assert not (tmp_path / "ws").exists()
    # In file order: data comes before models. medium is the catalog's default tier.
    assert _added(old, bundled_copy.read_text()) == [
        "  nginx:",
        "    group: data",
        "    runtime: image",
        "    image: nginx:1.27",
        "    port: 6300",
        "  vision-model:",
        "    group: models",
        "    runtime: model",
        "    port: 5004",
        "    gpu: 1",
        "    resources: xlarge",
        "    depends_on: [minio]",
    ]
    assert run("validate", "-c", bundled_copy).exit_code == 0


def _added(old: str, new: str) -> list[str]:
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    assert all(op[0] in ("equal", "insert") for op in matcher.get_opcodes())
    lines = new.splitlines()
    inserts = [op for op in matcher.get_opcodes() if op[0] == "insert"]
    return [line for _, _, _, j1, j2 in inserts for line in lines[j1:j2] if line]


# ------------------------------------------------------------------ refusals write nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "3000"], "port 3000 is taken by 'agent-brain'"),
        (["--port", "9001"], "port 9001 is outside the range 3000-3099 of group 'common-npm'"),
        (["--port", "70000"], "port 70000 is outside the range 3000-3099"),
    ],
    ids=["taken", "other-groups-range", "beyond-65535"],
)
def test_a_port_that_is_taken_or_out_of_range_is_refused(
    bundled_copy: Path, run: Run, args: list[str], message: str
) -> None:
    before = bundled_copy.read_bytes()
    result = fleetform_new(run, bundled_copy, "billing", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert bundled_copy.read_bytes() == before


@pytest.mark.parametrize(
    ("service", "args", "message"),
    [
        ("agent-chat", [], "service 'agent-chat' is already in the catalog ("),
        ("billing", ["--group", "payments"], "unknown group 'payments' (groups: common-npm,"),
        ("billing", ["--depends-on", "redis,kafka"], "unknown dependency 'kafka'"),
        ("Bad_Name", [], "service name 'Bad_Name' is not a DNS-1123 label"),
        ("vision", ["--runtime", "model", "--gpu", "0"], "a model service needs --gpu 1 or more"),
        ("billing", ["--runtime", "java"], "unknown runtime 'java' (one of node, python, model,"),
        ("billing", ["--resources", "huge"], "unknown resources tier 'huge'"),
        (
            "billing",
            ["--description", "{{ cookiecutter }}"],
            "is not accepted: Free text without template or shell syntax",
        ),
        (
            "billing",
            ["--repo", "../elsewhere"],
            "is not a normalised relative path inside the workspace",
        ),
    ],
    ids=[
        "duplicate",
        "unknown-group",
        "unknown-dependency",
        "bad-id",
        "model-without-gpu",
        "bad-runtime",
        "bad-tier",
        "template-syntax",
        "repo-outside",
    ],
)
def test_bad_input_is_exit_2_and_writes_nothing(
    bundled_copy: Path, tmp_path: Path, run: Run, service: str, args: list[str], message: str
) -> None:
    before = bundled_copy.read_bytes()
    result = fleetform_new(run, bundled_copy, service, *args, "-w", tmp_path / "ws")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert bundled_copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.yaml"]  # no temp file, no ws


def test_every_input_problem_is_reported_on_one_line(bundled_copy: Path, run: Run) -> None:
    bad = ("--group", "nope", "--runtime", "model", "--gpu", "0", "--depends-on", "x")
    result = fleetform_new(run, bundled_copy, "Bad_Name", *bad)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("fleetform: error: service name 'Bad_Name' is not a DNS-1123 label")
    assert "; unknown group 'nope'" in line
    assert "; a model service needs --gpu 1 or more; unknown dependency 'x'" in line


def test_an_invalid_edit_names_the_problem_at_its_place(bundled_copy: Path, run: Run) -> None:
    before = bundled_copy.read_bytes()
    result = fleetform_new(run, bundled_copy, "billing", "--description", "Bills {{ customers }}")
    assert result.exit_code == 2
    first, second = result.stderr.splitlines()
    assert first == (
        f"{bundled_copy}: error: adding 'billing' would make the catalog invalid; nothing was"
        " written (positions below are in the edited text)"
    )
    # The entry goes where the models' header comment is, its description on the next line.
    line = before.decode().splitlines().index(MODELS_HEADER) + 2
    assert second.startswith(f"{bundled_copy}:{line}:18: error: services.billing.description:")
    assert bundled_copy.read_bytes() == before


def test_a_catalog_that_is_already_invalid_is_not_edited(bundled_copy: Path, run: Run) -> None:
    text = bundled_copy.read_text().replace("depends_on: [redis]  ", "depends_on: [kafka]  ", 1)
    bundled_copy.write_text(text)
    result = fleetform_new(run, bundled_copy, "billing")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{bundled_copy}: error: the catalog has problems of its own; fix them"
        " (fleetform validate) before adding a service"
    )
    assert "unknown dependency 'kafka'" in result.stderr
    assert bundled_copy.read_text() == text


def test_a_full_group_range_is_exit_1_and_the_catalog_is_unchanged(
    write: Callable[[str, str], Path], run: Run
) -> None:
    catalog = write(
        "catalog.yaml",
        """\
        version: 1
        name: demo
        groups:
          apps: {ports: "3000-3001", cluster: services}
        services:
          api: {group: apps, runtime: node, port: 3000}
          web: {group: apps, runtime: node, port: 3001}
        """,
    )
    before = catalog.read_bytes()
    result = fleetform_new(run, catalog, "jobs", "--group", "apps")
    assert result.exit_code == 1
    assert "group 'apps' has no free port left in its range 3000-3001" in result.stderr
    assert catalog.read_bytes() == before


def test_workspace_out_and_no_render_are_exclusive_and_one_is_needed(
    bundled_copy: Path, tmp_path: Path, run: Run
) -> None:
    before = bundled_copy.read_bytes()
    base = ["new", "billing", "--group", "common-npm", "--runtime", "node", "-c", bundled_copy]
    both = run(*base, "-w", tmp_path / "ws", "--no-render")
    neither = run(*base)
    assert (both.exit_code, neither.exit_code) == (2, 2)
    assert "give only one of --workspace, --out and --no-render" in both.stderr
    assert "give --workspace WORKSPACE, --out OUT or --no-render" in neither.stderr
    assert bundled_copy.read_bytes() == before


# ------------------------------------------------------------------ other layouts

WEB = ("--group", "apps", "--runtime", "python", "--depends-on", "api")

FOUR_SPACES = """\
# four-space indentation, sequences not indented
version: 1
name: demo
groups:
    apps:
        ports: "3000-3009"
        cluster: services
    data: {ports: "6000-6099", cluster: core}
services:
    # ---- apps
    api:
        group: apps
        runtime: node
        port: 3000
        depends_on:
        - db
        description: >-
            The public API, described
            over two lines.

    # ---- data
    db:
        group: data
        runtime: image
        image: 'postgres:15-alpine'   # quoted on purpose
        port: 6000
        container_port: 5432
"""
FOUR_SPACES_BLOCK = """\

    web:
        group: apps
        runtime: python
        port: 3001
        depends_on: [api]
"""

OFFSET_SEQUENCES = """\
---
version: 1
name: demo
groups:
    apps:
        ports: "3000-3009"
        cluster: services
services:
    api:
        group: apps
        runtime: node
        port: 3000
        env:
          - API_TOKEN
    worker:
        group: apps
        runtime: python
        port: 3001
        depends_on:
          - api
profiles:
    all:
        services:
          - api
          - worker
"""
OFFSET_BLOCK = """\
    web:
        group: apps
        runtime: python
        port: 3002
        depends_on: [api]
"""

FLOW_SERVICES = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3009", cluster: services}
  data: {ports: "6000-6099", cluster: core}
services:
  api: {group: apps, runtime: node, port: 3000, depends_on: [db]}   # the public API
  # the database, kept where it always was
  db: {group: data, runtime: image, image: "postgres:15-alpine", port: 6000, container_port: 5432}
"""
FLOW_BLOCK = "  web: {group: apps, runtime: python, port: 3001, depends_on: [api]}\n"

UNGROUPED = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3009", cluster: services}
  data: {ports: "6000-6099", cluster: core}
services:
  api:
    group: apps
    runtime: node
    port: 3000
  db:
    group: data
    runtime: image
    image: redis:7
    port: 6000
  worker:
    group: apps
    runtime: python
    port: 3001
# end of services
"""
UNGROUPED_BLOCK = """\
  web:
    group: apps
    runtime: python
    port: 3002
    depends_on: [api]
"""

COMMENTED_LAST = """\
version: 1
name: demo
groups:
  apps: {ports: "3000-3009", cluster: services}
  data: {ports: "6000-6099", cluster: core}
services:
  api:
    group: apps
    runtime: node
    port: 3000
    health:   # a custom check
      path: /ping
      # /ping answers before the database is up
  # ---- data
  db: {group: data, runtime: image, image: "redis:7", port: 6000}
"""
COMMENTED_LAST_BLOCK = """\
  web:
    group: apps
    runtime: python
    port: 3001
    depends_on: [api]
"""


@pytest.mark.parametrize(
    ("text", "before", "block"),
    [
        (FOUR_SPACES, "    # ---- data", FOUR_SPACES_BLOCK.removeprefix("\n") + "\n"),
        (OFFSET_SEQUENCES, "profiles:", OFFSET_BLOCK),
        (FLOW_SERVICES, "  # the database, kept where it always was", FLOW_BLOCK),
        (UNGROUPED, "# end of services", UNGROUPED_BLOCK),
        (COMMENTED_LAST, "  # ---- data", COMMENTED_LAST_BLOCK),
    ],
    ids=[
        "four-spaces",
        "offset-sequences",
        "flow-services",
        "ungrouped-at-the-end",
        "comments-stay-with-their-entry",
    ],
)
def test_the_rest_of_the_file_keeps_its_layout(
    write: Callable[[str, str], Path], run: Run, text: str, before: str, block: str
) -> None:
    catalog = write("catalog.yaml", text)
    result = fleetform_new(run, catalog, "web", *WEB)
    assert result.exit_code == 0, result.output
    new = catalog.read_text()
    inserted_lines(text, new)
    assert new == with_block(text, before, block)
    assert run("validate", "-c", catalog).exit_code == 0


def test_line_ends_and_byte_order_mark_are_kept(tmp_path: Path, run: Run) -> None:
    catalog = tmp_path / "catalog.yaml"
    text = FLOW_SERVICES.replace("\n", "\r\n")
    catalog.write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = fleetform_new(run, catalog, "web", *WEB)
    assert result.exit_code == 0, result.output
    expected = with_block(FLOW_SERVICES, "  # the database, kept where it always was", FLOW_BLOCK)
    assert catalog.read_bytes() == b"\xef\xbb\xbf" + expected.replace("\n", "\r\n").encode()


def test_a_file_without_a_final_line_break_keeps_it_that_way(tmp_path: Path, run: Run) -> None:
    catalog = tmp_path / "catalog.yaml"
    text = UNGROUPED.removesuffix("# end of services\n").removesuffix("\n")
    catalog.write_text(text)
    result = fleetform_new(run, catalog, "web", *WEB)
    assert result.exit_code == 0, result.output
    assert catalog.read_text() == text + "\n" + UNGROUPED_BLOCK.removesuffix("\n")


def test_a_layout_ruamel_cannot_keep_is_refused(
    write: Callable[[str, str], Path], run: Run
) -> None:
    text = FLOW_SERVICES.replace(
        '  apps: {ports: "3000-3009", cluster: services}\n',
        '  apps:\n    ports: "3000-3009"\n    cluster: services\n'
        "    description: a plain text\n      folded over two lines\n",
    )
    catalog = write("catalog.yaml", text)
    result = fleetform_new(run, catalog, "web", *WEB)
    assert result.exit_code == 2
    assert (
        f"{catalog}:7:1: error: cannot add 'web' without rewriting this line (ruamel would write"
        " it as '    description: a plain text folded over two lines'); nothing was written"
    ) in result.stderr
    assert catalog.read_text() == text


# ------------------------------------------------------------------ a failed render


def test_a_failed_render_is_exit_1_and_the_catalog_keeps_the_service(
    template_repo: Path, tmp_path: Path, run: Run
) -> None:
    broken = tmp_path / "broken-template"
    shutil.copytree(template_repo, broken, symlinks=True)
    dockerfile = broken / "template" / "infrastructure" / "Dockerfile.jinja"
    dockerfile.write_text(
        "{% if service_name == 'billing' %}{{ no_such_function() }}{% endif %}\n"
        + dockerfile.read_text()
    )
    commit_all(broken, "break the template for billing")
    git(broken, "tag", "-f", TEMPLATE_TAG)
    catalog = catalog_at(broken, tmp_path / "catalog.yaml")
    workspace = tmp_path / "ws"

    result = fleetform_new(run, catalog, "billing", "-w", workspace)

    assert result.exit_code == 1
    assert "billing: service 'billing': render failed: UndefinedError" in result.stdout
    assert (
        f"fleetform: the catalog keeps 'billing'; once the render is fixed run:"
        f" fleetform generate -c {catalog} -w {workspace} billing"
    ) in result.stderr
    assert "billing" in open_catalog(catalog).catalog.services
    assert not (workspace / "billing").exists()


# ------------------------------------------------------------------ --dry-run and -o previews


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative name -> bytes), to prove a run wrote nothing."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_dry_run_shows_the_edit_and_the_files_and_writes_nothing(
    template_repo: Path, tmp_path: Path, run: Run
) -> None:
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    workspace = tmp_path / "ws"
    before = tree(tmp_path)
    dependencies = ("--depends-on", "redis,postgres")

    dry = fleetform_new(run, catalog, "billing", *dependencies, "-w", workspace, "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert tree(tmp_path) == before  # the catalog's bytes, and no workspace, no temporary file
    assert not workspace.exists()
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"would add 'billing' at {catalog}:")
    assert lines[1:3] == [f"--- a/{catalog}", f"+++ b/{catalog}"]
    added = [line[1:] for line in lines if line.startswith("+") and not line.startswith("+++")]
    assert [line for line in added if line] == [
        "  billing:",
        "    group: common-npm",
        "    runtime: node",
        "    port: 3016",
        "    depends_on: [redis, postgres]",
    ]
    assert f"fleetform: {catalog} not edited: --dry-run" in dry.stderr
    listed = {line.removeprefix("would create ") for line in lines if "would create" in line}

    real = fleetform_new(run, catalog, "billing", *dependencies, "-w", workspace)

    assert real.exit_code == 0, real.output
    # What the dry run listed is exactly what the real run created, and the edit the same.
    created = {str(workspace / "billing" / name) for name in tree(workspace / "billing")}
    assert listed == {name for name in created if "/.git/" not in name}
    assert dry.stdout.splitlines()[0].replace("would add", "added") == real.stdout.splitlines()[0]


def test_a_preview_renders_into_out_and_leaves_the_catalog_alone(
    template_repo: Path, tmp_path: Path, run: Run
) -> None:
    catalog = catalog_at(template_repo, tmp_path / "catalog.yaml")
    text = catalog.read_bytes()
    out = tmp_path / "preview"

    result = fleetform_new(run, catalog, "billing", "-o", out)

    assert result.exit_code == 0, result.output
    assert catalog.read_bytes() == text
    assert "billing" not in open_catalog(catalog).catalog.services
    assert f"fleetform: {catalog} not edited: a preview (-o)" in result.stderr
    assert "+  billing:" in result.stdout.splitlines()
    answers = yaml.safe_load((out / "billing" / ".copier-answers.yml").read_text())
    assert (answers["service_name"], answers["port"]) == ("billing", 3016)
    assert not (out / "billing" / ".git").exists()  # a preview is no repository to commit in
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.yaml", "preview"]


def test_a_dry_run_without_render_prints_only_the_edit(bundled_copy: Path, run: Run) -> None:
    before = tree(bundled_copy.parent)
    result = fleetform_new(run, bundled_copy, "billing", "--dry-run")
    assert result.exit_code == 0, result.output
    assert tree(bundled_copy.parent) == before
    assert "+  billing:" in result.stdout.splitlines()
    assert "would create" not in result.stdout
