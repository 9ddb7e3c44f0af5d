"""`fleetform ci`: the catalog repository's `.gitlab-ci.yml`, checked by GitLab's CI schema
(check-jsonschema, as `fleetform verify` runs it) for every example catalog, read back as
YAML for what each pipeline runs, with hostile values kept as data, and never written over
a file fleetform did not write. The pipeline runs end to end in `test_ci_pipeline.py`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.fleet.pipeline_file import DIGEST_PREFIX
from generator.verify.gitlab_ci import gitlab_ci
from generator.verify.tools import require
from tests.helpers import BUNDLED_CATALOG, EXAMPLES, SMALL_CATALOG, catalog_at, fleetform

TEMPLATE_URL = "git@gitlab.example.com:platform/fleetform.git"
PINNED = "fleetform @ git+ssh://git@gitlab.example.com/platform/fleetform.git@v1.0.0"
OK, PROBLEMS, BAD_INPUT = 0, 1, 2


def pinned_catalog(repo: Path, source: Path = BUNDLED_CATALOG) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    return catalog_at(Path(TEMPLATE_URL), repo / "catalog.yaml", source=source)


def pinned_small(repo: Path, name: str = "catalog.yaml") -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    path = repo / name
    path.write_text(f"{SMALL_CATALOG}\ntemplate:\n  src: {TEMPLATE_URL}\n  ref: v1.0.0\n", "utf-8")
    return path


def write_ci(repo: Path, *args: str, cwd: Path | None = None) -> Any:
    """`fleetform ci ARGS -o repo/.gitlab-ci.yml`, run from `cwd` (default: repo)."""
    before = Path.cwd()
    os.chdir(cwd or repo)
    try:
        return fleetform("ci", *args, "-o", repo / ".gitlab-ci.yml")
    finally:
        os.chdir(before)


def jobs(text: str) -> dict[str, Any]:
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


# ------------------------------------------------------------------ every example catalog


@pytest.mark.parametrize("source", [BUNDLED_CATALOG, *EXAMPLES], ids=lambda p: p.stem)
def test_every_example_catalog_gives_a_pipeline_gitlab_accepts(
    source: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_catalog(repo, source)
    result = write_ci(repo, "--shards", "3")
    assert result.exit_code == OK, result.output
    assert result.stderr == f"{repo / '.gitlab-ci.yml'}: created\n"
    checked = gitlab_ci(require(["check-jsonschema"])["check-jsonschema"], repo / ".gitlab-ci.yml")
    assert checked.ok, checked.problems

    ci = jobs((repo / ".gitlab-ci.yml").read_text("utf-8"))
    assert ci["variables"]["FLEETFORM_CATALOG"] == "catalog.yaml"
    assert ci["variables"]["FLEETFORM_REQUIREMENT"] == PINNED
    assert ci["stages"] == ["check", "plan", "campaign", "report"]
    campaign = ci["campaign"]
    assert campaign["parallel"] == 3
    assert campaign["needs"] == ["plan"]
    # Each shard job clones only its own share of the fleet, the one it then works on.
    assert campaign["script"][-2] == (
        'fleetform clone -c "$FLEETFORM_CATALOG" -w "$FLEETFORM_WORKSPACE"'
        ' --shard "${CI_NODE_INDEX:-1}/${CI_NODE_TOTAL:-1}"'
    )
    assert campaign["script"][-1] == (
        'fleetform campaign run "$CAMPAIGN" -c "$FLEETFORM_CATALOG" -w "$FLEETFORM_WORKSPACE"'
        ' --shard "${CI_NODE_INDEX:-1}/${CI_NODE_TOTAL:-1}" --push'
    )
    assert campaign["artifacts"] == {
        "when": "always",
        "expire_in": "30 days",
        "paths": [".fleetform-workspace/.fleetform/campaigns/"],
    }
    assert ci["report"]["needs"] == ["campaign"]
    assert ci["report"]["rules"][0]["when"] == "always"
    assert "--format markdown" in ci["report"]["script"][0]
    # The merge-request dry run is the update a campaign makes, without writing.
    assert any("update" in line and "--dry-run" in line for line in ci["dry-run"]["script"])


def test_pipeline_sources_select_the_jobs(tmp_path: Path) -> None:
    """Merge requests and default-branch pushes check; only a started campaign pushes."""
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    assert write_ci(repo).exit_code == OK
    ci = jobs((repo / ".gitlab-ci.yml").read_text("utf-8"))
    merge_request = '$CI_PIPELINE_SOURCE == "merge_request_event"'
    campaign = (
        "$CAMPAIGN && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
        " && $CI_PIPELINE_SOURCE =~ /^(schedule|web|api|trigger)$/"
    )
    rules = {name: [rule["if"] for rule in ci[name]["rules"]] for name in ci if "rules" in ci[name]}
    assert rules["dry-run"] == [merge_request]
    assert merge_request in rules["validate"] and merge_request in rules["ports"]
    for name in ("plan", "campaign", "report"):
        assert rules[name] == [campaign]
    assert ci["campaign"]["parallel"] == 4  # the default


def test_one_shard_is_one_job_without_parallel(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    assert write_ci(repo, "--shards", "1").exit_code == OK
    ci = jobs((repo / ".gitlab-ci.yml").read_text("utf-8"))
    assert "parallel" not in ci["campaign"]
    assert ci["campaign"]["cache"]["key"] == "fleetform-1-of-1"


def test_the_catalog_path_is_relative_to_the_repository_root(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo / "fleet", "platform.yaml")
    result = write_ci(repo, "-c", "fleet/platform.yaml")
    assert result.exit_code == OK, result.output
    text = (repo / ".gitlab-ci.yml").read_text("utf-8")
    assert jobs(text)["variables"]["FLEETFORM_CATALOG"] == "fleet/platform.yaml"
    assert text.splitlines()[1] == (
        "#   fleetform ci -c fleet/platform.yaml --shards 4 -o .gitlab-ci.yml"
    )


def test_printing_writes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    before = Path.cwd()
    os.chdir(repo)
    try:
        result = fleetform("ci")
    finally:
        os.chdir(before)
    assert result.exit_code == OK
    assert jobs(result.stdout)["variables"]["FLEETFORM_CATALOG"] == "catalog.yaml"
    assert sorted(p.name for p in repo.iterdir()) == ["catalog.yaml"]


# ------------------------------------------------------------------ no injection


HOSTILE = (
    "fleetform @ https://h/x.whl#$(touch pwned)`touch pwned`; touch pwned"
    " \"' $HOME ${CI_JOB_TOKEN}: # x"
)


def test_hostile_values_stay_data_in_yaml_gitlab_and_shell(tmp_path: Path) -> None:
    """A catalog path and a requirement full of YAML, GitLab-variable and shell syntax reach
    the job's shell as exactly those bytes, and run nothing."""
    repo = tmp_path / "fleet-catalog"
    odd = 'it\'s a "catalog" $HOME: #1 `x`.yaml'
    pinned_small(repo, odd)
    result = write_ci(repo, "-c", odd, "--fleetform", HOSTILE)
    assert result.exit_code == OK, result.output
    text = (repo / ".gitlab-ci.yml").read_text("utf-8")
    ci = jobs(text)
    # GitLab reads `$$` in a variable as one `$`: undo that as it does, and get the value.
    variables = {k: v.replace("$$", "$") for k, v in ci["variables"].items() if isinstance(v, str)}
    assert variables["FLEETFORM_CATALOG"] == odd
    assert variables["FLEETFORM_REQUIREMENT"] == HOSTILE
    # Outside the comments, only the doubled (literal) form is in the file.
    body = "".join(line for line in text.splitlines(True) if not line.lstrip().startswith("#"))
    assert "$(touch" not in body.replace("$$(touch", "")
    assert "$HOME" not in body.replace("$$HOME", "")
    # The scripts name the values only as quoted variables: a shell given them as GitLab
    # would passes them to the command whole, and runs none of their syntax.
    for line in [*ci["validate"]["script"], *ci["campaign"]["script"]]:
        assert odd not in line and HOSTILE not in line
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fleetform").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n', "utf-8")
    (bin_dir / "fleetform").chmod(0o755)
    env = {
        **variables,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CAMPAIGN": "c1",
        "CI_NODE_INDEX": "2",
        "CI_NODE_TOTAL": "3",
        "FLEETFORM_WORKSPACE": "/builds/p/.fleetform-workspace",  # as before_script makes it
    }
    script = ci["campaign"]["script"][-1]
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [
        *("campaign", "run", "c1", "-c", odd, "-w", "/builds/p/.fleetform-workspace"),
        *("--shard", "2/3", "--push"),
    ]
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("where", ["catalog", "requirement"])
def test_a_newline_in_a_value_is_refused(where: str, tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    name = "cat\nalog.yaml" if where == "catalog" else "catalog.yaml"
    pinned_small(repo, name)
    extra = ["--fleetform", "fleetform\nstages: []"] if where == "requirement" else []
    result = write_ci(repo, "-c", name, *extra)
    assert result.exit_code == BAD_INPUT
    assert len(result.stderr.splitlines()) == 1
    assert "has control characters; not writing a CI file" in result.stderr
    assert not (repo / ".gitlab-ci.yml").exists()


# ------------------------------------------------------------------ only over its own file


def test_a_file_fleetform_did_not_write_is_kept_unless_forced(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    own = "stages: [test]\ntest:\n  script: [make test]\n"
    (repo / ".gitlab-ci.yml").write_text(own, "utf-8")
    result = write_ci(repo)
    assert result.exit_code == PROBLEMS
    assert result.stderr == (
        f"fleetform: error: {repo / '.gitlab-ci.yml'}: not written by fleetform ci;"
        " not overwriting it (--force replaces it)\n"
    )
    assert (repo / ".gitlab-ci.yml").read_text("utf-8") == own
    assert sorted(p.name for p in repo.iterdir()) == [".gitlab-ci.yml", "catalog.yaml"]

    forced = write_ci(repo, "--force")
    assert forced.exit_code == OK
    assert forced.stderr == f"{repo / '.gitlab-ci.yml'}: replaced\n"
    assert DIGEST_PREFIX in (repo / ".gitlab-ci.yml").read_text("utf-8")


def test_its_own_file_is_rewritten_and_an_edited_one_kept(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    ci_file = repo / ".gitlab-ci.yml"
    assert write_ci(repo).exit_code == OK
    first = ci_file.read_bytes()
    again = write_ci(repo)
    assert (again.exit_code, again.stderr) == (OK, f"{ci_file}: unchanged\n")
    assert ci_file.read_bytes() == first

    changed = write_ci(repo, "--shards", "8")
    assert (changed.exit_code, changed.stderr) == (OK, f"{ci_file}: replaced\n")
    assert jobs(ci_file.read_text("utf-8"))["campaign"]["parallel"] == 8

    edited = ci_file.read_text("utf-8").replace("parallel: 8", "parallel: 9")
    ci_file.write_text(edited, "utf-8")
    refused = write_ci(repo)
    assert refused.exit_code == PROBLEMS
    assert "edited since fleetform ci wrote it; not overwriting it" in refused.stderr
    assert ci_file.read_text("utf-8") == edited


def test_a_symbolic_link_is_never_written_through(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    target = tmp_path / "elsewhere.yml"
    target.write_text("mine\n", "utf-8")
    (repo / ".gitlab-ci.yml").symlink_to(target)
    result = write_ci(repo)
    assert result.exit_code == PROBLEMS
    assert "a symbolic link; not overwriting it" in result.stderr
    assert target.read_text("utf-8") == "mine\n"
    assert write_ci(repo, "--force").exit_code == OK
    assert not (repo / ".gitlab-ci.yml").is_symlink()
    assert target.read_text("utf-8") == "mine\n"


# ------------------------------------------------------------------ bad input: exit 2


UNPINNED = (
    "fleetform: error: fleetform ci: the jobs install fleetform from the catalog's template"
    " (one repository, one release tag), and this catalog pins none; set template:"
    " {src: <git URL>, ref: <tag>} in the catalog, or give --fleetform REQUIREMENT"
    " (a pip requirement: a wheel URL, or a package on your index)"
)


def test_a_catalog_without_a_pinned_template_needs_fleetform_named(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    repo.mkdir()
    shutil.copy(EXAMPLES[0], repo / "catalog.yaml")
    result = write_ci(repo)
    assert (result.exit_code, result.stderr) == (BAD_INPUT, UNPINNED + "\n")
    assert not (repo / ".gitlab-ci.yml").exists()
    named = write_ci(repo, "--fleetform", "fleetform==1.2.0")
    assert named.exit_code == OK
    ci = jobs((repo / ".gitlab-ci.yml").read_text("utf-8"))
    assert ci["variables"]["FLEETFORM_REQUIREMENT"] == "fleetform==1.2.0"


def test_a_catalog_outside_the_repository_is_refused(tmp_path: Path) -> None:
    catalog = pinned_small(tmp_path / "elsewhere")
    repo = tmp_path / "fleet-catalog"
    repo.mkdir()
    result = write_ci(repo, "-c", str(catalog))
    assert result.exit_code == BAD_INPUT
    assert result.stderr.startswith(f"fleetform: error: the catalog {catalog} is not inside ")
    assert len(result.stderr.splitlines()) == 1
    assert list(repo.iterdir()) == []


@pytest.mark.parametrize("shards", ["0", "201", "two"])
def test_shards_out_of_range_are_bad_usage(shards: str, tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    result = write_ci(repo, "--shards", shards)
    assert result.exit_code == BAD_INPUT
    assert "Invalid value for '--shards'" in result.stderr
    assert not (repo / ".gitlab-ci.yml").exists()


def test_an_invalid_catalog_is_reported_where_it_is_wrong(tmp_path: Path) -> None:
    repo = tmp_path / "fleet-catalog"
    repo.mkdir()
    (repo / "catalog.yaml").write_text("version: 1\nname: x\nservices: []\n", "utf-8")
    result = write_ci(repo)
    assert result.exit_code == BAD_INPUT
    assert result.stderr.startswith("catalog.yaml:")
    assert "Traceback" not in result.output
    assert not (repo / ".gitlab-ci.yml").exists()


def test_an_empty_requirement_uses_the_fleetform_the_image_has(tmp_path: Path) -> None:
    """A runner image with fleetform installed: nothing to pip-install, even unpinned."""
    repo = tmp_path / "fleet-catalog"
    repo.mkdir()
    shutil.copy(EXAMPLES[0], repo / "catalog.yaml")
    assert write_ci(repo, "--fleetform", "").exit_code == OK
    ci = jobs((repo / ".gitlab-ci.yml").read_text("utf-8"))
    assert ci["variables"]["FLEETFORM_REQUIREMENT"] == ""
    assert ci["report"]["script"][0] == (
        'fleetform campaign status "$CAMPAIGN" -w "$FLEETFORM_WORKSPACE" --format markdown'
        " > campaign-report.md || status=$?"
    )


def test_jobs_give_git_the_token_in_their_environment_only(tmp_path: Path) -> None:
    """The before_script's URL rewriting, run by bash as a job would: git reads the three
    rewrites (after any GIT_CONFIG_* the runner set), and no configuration file is written."""
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    assert write_ci(repo).exit_code == OK
    setup = jobs((repo / ".gitlab-ci.yml").read_text("utf-8"))[".fleetform"]["before_script"][0]
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CI_SERVER_HOST": "gitlab.example.com",
        "FLEETFORM_PUSH_TOKEN": "glpat-secret",
        "GIT_CONFIG_COUNT": "1",  # the runner's own entry stays
        "GIT_CONFIG_KEY_0": "core.autocrlf",
        "GIT_CONFIG_VALUE_0": "input",
    }
    shown = subprocess.run(
        ["bash", "-c", f"{setup}\ngit config --list --show-scope"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    shown = [line.removeprefix("command\t") for line in shown if line.startswith("command\t")]
    base = "url.https://fleetform:glpat-secret@gitlab.example.com/.insteadof"
    assert shown == [
        "core.autocrlf=input",
        f"{base}=git@gitlab.example.com:",
        f"{base}=ssh://git@gitlab.example.com/",
        f"{base}=https://gitlab.example.com/",
    ]
    assert list(home.iterdir()) == []


def test_every_script_line_is_valid_shell(tmp_path: Path) -> None:
    """bash -n over every job's before_script and script, as the runner joins them."""
    repo = tmp_path / "fleet-catalog"
    pinned_small(repo)
    assert write_ci(repo).exit_code == OK
    ci = jobs((repo / ".gitlab-ci.yml").read_text("utf-8"))
    for name, job in ci.items():
        if not isinstance(job, dict) or not ({"script", "before_script"} & set(job)):
            continue
        text = "\n".join([*job.get("before_script", []), *job.get("script", [])])
        checked = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
        assert checked.returncode == 0, (name, checked.stderr)
