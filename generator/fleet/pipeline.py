"""The `.gitlab-ci.yml` of the repository that holds the catalog (`fleetform ci`).

Two pipelines in one file:

- **merge requests** (and pushes to the default branch): `validate`, `ports` and, on merge
  requests, `dry-run`: the fleet cloned (fetched when the cache has it) and `fleetform update
  --dry-run`, which lists the repositories whose recorded template version or answers differ
  from what this catalog gives: exactly the repositories a campaign started from it would
  touch (a campaign runs that update; `generate --dry-run` would also list every owner's edit);
- **campaigns** (a schedule, or a pipeline run by hand or through the API, with a `CAMPAIGN`
  variable, on the default branch): `plan` (the catalog and its ports checked, so that a bad
  catalog stops before any push), then `campaign` as `parallel: N` jobs, each cloning the fleet
  and running `fleetform campaign run "$CAMPAIGN" --shard I/N --push` with its ledger as an
  artifact, then `report`, which merges the ledgers into Markdown.

Every value from the catalog or the command line reaches the file as a JSON string (a valid
YAML scalar) with `$` doubled (GitLab expands variables in `variables:`), and reaches a shell
only as a quoted variable (`"$FLEETFORM_CATALOG"`): scripts hold no catalog text at all.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from generator.catalog.model import Catalog
from generator.errors import UsageError
from generator.fleet.template import TemplateSource, catalog_template

# The image of every job: Debian's Python with git, as the service repositories' lint:ports job.
CI_IMAGE = "python:3.12.9-bookworm"
# Where the jobs keep the fleet's clones, inside the project directory (artifacts and caches
# can only take paths below it).
WORKSPACE = ".fleetform-workspace"
MAX_SHARDS = 200  # GitLab's limit for `parallel:`

# Campaign pipelines: started on purpose with a campaign name, from the catalog as merged.
_CAMPAIGN_RULE = (
    "$CAMPAIGN && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    " && $CI_PIPELINE_SOURCE =~ /^(schedule|web|api|trigger)$/"
)
_MERGE_REQUEST_RULE = '$CI_PIPELINE_SOURCE == "merge_request_event"'
_DEFAULT_BRANCH_PUSH_RULE = (
    '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
)


@dataclass(frozen=True)
class PipelineOptions:
    """`catalog` is the catalog's path relative to the project root, as jobs see it;
    `fleetform` the pip requirement each job installs (None: from the catalog's template)."""

    catalog: str
    shards: int = 4
    fleetform: str | None = None
    image: str = CI_IMAGE


def pipeline_yaml(catalog: Catalog, options: PipelineOptions) -> str:
    """The catalog repository's `.gitlab-ci.yml`, without the header `pipeline_file` adds."""
    if not 1 <= options.shards <= MAX_SHARDS:
        raise UsageError(message=f"--shards must be from 1 to {MAX_SHARDS}, got {options.shards}")
    _plain(options.catalog, "the catalog path")
    requirement = options.fleetform
    if requirement is None:
        requirement = fleetform_requirement(catalog_template(catalog))
    _plain(requirement, "the fleetform requirement")
    lines = [
        *_comment(catalog, options, requirement),
        "workflow:",
        "  rules:",
        f"    - if: {_sq(_MERGE_REQUEST_RULE)}",
        f"    - if: {_sq(_DEFAULT_BRANCH_PUSH_RULE)}",
        f"    - if: {_sq(_CAMPAIGN_RULE)}",
        "",
        "stages: [check, plan, campaign, report]",
        "",
        "variables:",
        f"  FLEETFORM_CATALOG: {_v(options.catalog)}",
        f"  FLEETFORM_WORKSPACE: {_v(WORKSPACE)}",
        f"  FLEETFORM_REQUIREMENT: {_v(requirement)}",
        "  CAMPAIGN:",
        '    value: ""',
        "    description: "
        + _q(
            "The campaign to run (a branch name part): fleetform/<CAMPAIGN> in every"
            " repository the catalog changes, one merge request each."
        ),
        "",
        *_hidden_job(options.image),
        *_check_jobs(),
        *_campaign_jobs(options.shards),
    ]
    return "\n".join(lines) + "\n"


def fleetform_requirement(template: TemplateSource) -> str:
    """fleetform as pip installs it in a job: the template's repository (fleetform and its
    template are one repository, released under one tag) at the catalog's template ref."""
    if not template.shareable or not template.ref:
        raise UsageError(
            message="fleetform ci: the jobs install fleetform from the catalog's template"
            " (one repository, one release tag), and this catalog pins none; set template:"
            " {src: <git URL>, ref: <tag>} in the catalog, or give --fleetform REQUIREMENT"
            " (a pip requirement: a wheel URL, or a package on your index)"
        )
    src = template.src
    if src.startswith("git+"):
        url = src
    elif "://" in src:
        url = "git+" + src
    elif src.startswith("/"):
        url = "git+file://" + src
    else:  # git@host:group/fleetform.git, git's scp-like form, which pip does not take
        url = "git+ssh://" + src.replace(":", "/", 1)
    return f"fleetform @ {url}@{template.ref}"


def _comment(catalog: Catalog, options: PipelineOptions, requirement: str) -> list[str]:
    shards = f"{options.shards} parallel jobs" if options.shards > 1 else "one job"
    return [
        f"# CI of the fleet catalog {_q(catalog.name)} ({_q(options.catalog)}).",
        "#",
        "# Merge requests: validate, ports, and dry-run, which lists the repositories the change",
        "# would touch (`fleetform update --dry-run`; its JSON is the job's artifact).",
        "# Campaigns: a schedule, or Build > Pipelines > Run pipeline on the default branch, with",
        "# the variable CAMPAIGN=<name>: plan, then the campaign in " + shards + " (each",
        "# `fleetform campaign run --shard I/N --push`, its ledger an artifact and, for the next",
        "# run, its shard's clones and ledger in the cache), then report, the merged ledgers as",
        "# Markdown (artifact campaign-report.md). Rerunning a campaign redoes only what changed.",
        "#",
        f"# fleetform: {_q(requirement)}",
        "#   which each job installs (FLEETFORM_REQUIREMENT; empty: use the image's fleetform).",
        "# CI/CD variables to define (Settings > CI/CD > Variables, masked and protected):",
        "#   FLEETFORM_PUSH_TOKEN   a group access token with write_repository on the fleet's",
        "#                          repositories: campaign jobs push their branches with it",
        "#                          (without it, jobs read with the job token and cannot push)",
        "",
    ]


def _hidden_job(image: str) -> list[str]:
    """What every job shares: the image, git reaching this GitLab over HTTPS with a token (set
    in the job's environment only, never written to a runner's configuration), fleetform."""
    return [
        ".fleetform:",
        f"  image: {_q(image)}",
        "  before_script:",
        "    - |",
        "      # git@HOST:, ssh://git@HOST/ and https://HOST/ are read (and pushed) with a token.",
        '      token="${FLEETFORM_PUSH_TOKEN:-${CI_JOB_TOKEN:-}}"',
        '      user=gitlab-ci-token; [ -z "${FLEETFORM_PUSH_TOKEN:-}" ] || user=fleetform',
        '      if [ -n "$token" ] && [ -n "${CI_SERVER_HOST:-}" ]; then',
        '        base="https://${user}:${token}@${CI_SERVER_HOST}/"',
        "        n=${GIT_CONFIG_COUNT:-0}",
        '        for from in "git@${CI_SERVER_HOST}:" "ssh://git@${CI_SERVER_HOST}/" \\',
        '            "https://${CI_SERVER_HOST}/"; do',
        '          export "GIT_CONFIG_KEY_$n=url.${base}.insteadOf" "GIT_CONFIG_VALUE_$n=$from"',
        "          n=$((n + 1))",
        "        done",
        "        export GIT_CONFIG_COUNT=$n",
        "      fi",
        "    - |",
        '      if [ -n "$FLEETFORM_REQUIREMENT" ]; then',
        # A venv of the job's own: shell runners run several jobs on one machine.
        '        venv="${TMPDIR:-/tmp}/fleetform-${CI_JOB_ID:-job}"',
        '        python3 -m venv "$venv"',
        '        "$venv/bin/pip" install --quiet "$FLEETFORM_REQUIREMENT"',
        '        export PATH="$venv/bin:$PATH"',
        "      fi",
        # One absolute workspace for every command, whatever folder each works from; the
        # artifacts and caches name it relative to the job's folder, as GitLab requires.
        "    - |",
        "      case $FLEETFORM_WORKSPACE in",
        "        /*) ;;",
        '        *) FLEETFORM_WORKSPACE="$PWD/$FLEETFORM_WORKSPACE" ;;',
        "      esac",
        "      export FLEETFORM_WORKSPACE",
        "    - 'fleetform --version'",
        "",
    ]


def _check_jobs() -> list[str]:
    # A newer commit cancels these (they only look); never a campaign's jobs.
    checks = [
        "  interruptible: true",
        "  rules:",
        f"    - if: {_sq(_MERGE_REQUEST_RULE)}",
        f"    - if: {_sq(_DEFAULT_BRANCH_PUSH_RULE)}",
    ]
    return [
        "validate:",
        "  extends: .fleetform",
        "  stage: check",
        *checks,
        *_script('fleetform validate -c "$FLEETFORM_CATALOG"'),
        "",
        "ports:",
        "  extends: .fleetform",
        "  stage: check",
        *checks,
        *_script('fleetform ports check -c "$FLEETFORM_CATALOG"'),
        "",
        "dry-run:",
        "  extends: .fleetform",
        "  stage: check",
        "  interruptible: true",
        "  rules:",
        f"    - if: {_sq(_MERGE_REQUEST_RULE)}",
        *_workspace_cache("fleetform-dry-run"),
        *_script(
            # A repository that cannot be cloned fails the job, after the dry run of the others.
            'fleetform clone -c "$FLEETFORM_CATALOG" -w "$FLEETFORM_WORKSPACE" -q || status=$?',
            'fleetform update -c "$FLEETFORM_CATALOG" -w "$FLEETFORM_WORKSPACE" --dry-run',
            'fleetform update -c "$FLEETFORM_CATALOG" -w "$FLEETFORM_WORKSPACE" --dry-run -q'
            " --format json > fleetform-dry-run.json",
            'exit "${status:-0}"',
        ),
        "  artifacts:",
        "    when: always",
        "    expose_as: " + _q("fleet dry run"),
        "    paths: [fleetform-dry-run.json]",
        "",
    ]


def _campaign_jobs(shards: int) -> list[str]:
    campaign = [
        "  rules:",
        f"    - if: {_sq(_CAMPAIGN_RULE)}",
    ]
    ledgers = f"{WORKSPACE}/.fleetform/campaigns/"
    return [
        "plan:",
        "  extends: .fleetform",
        "  stage: plan",
        *campaign,
        *_script(
            'fleetform validate -c "$FLEETFORM_CATALOG"',
            'fleetform ports check -c "$FLEETFORM_CATALOG"',
            f'echo "campaign $CAMPAIGN: the catalog is valid; {shards:d} shard(s) follow"',
        ),
        "",
        "campaign:",
        "  extends: .fleetform",
        "  stage: campaign",
        *campaign,
        "  needs: [plan]",
        *([f"  parallel: {shards:d}"] if shards > 1 else []),
        # GitLab expands `$VAR` in a cache key, not the shell's `${VAR:-1}`.
        *_workspace_cache(
            "fleetform-$CI_NODE_INDEX-of-$CI_NODE_TOTAL" if shards > 1 else "fleetform-1-of-1"
        ),
        *_script(
            # Each job clones only its own shard's repositories (the same stable split).
            'fleetform clone -c "$FLEETFORM_CATALOG" -w "$FLEETFORM_WORKSPACE"'
            ' --shard "${CI_NODE_INDEX:-1}/${CI_NODE_TOTAL:-1}"',
            'fleetform campaign run "$CAMPAIGN" -c "$FLEETFORM_CATALOG" -w "$FLEETFORM_WORKSPACE"'
            ' --shard "${CI_NODE_INDEX:-1}/${CI_NODE_TOTAL:-1}" --push',
        ),
        "  artifacts:",
        "    when: always",
        "    expire_in: 30 days",
        f"    paths: [{_q(ledgers)}]",
        "",
        "report:",
        "  extends: .fleetform",
        "  stage: report",
        "  rules:",
        f"    - if: {_sq(_CAMPAIGN_RULE)}",
        "      when: always",
        "  needs: [campaign]",
        *_script(
            # The shards' ledgers arrive as artifacts in the workspace, where status reads
            # every ledger of the campaign.
            'fleetform campaign status "$CAMPAIGN" -w "$FLEETFORM_WORKSPACE" --format markdown'
            " > campaign-report.md || status=$?",
            "cat campaign-report.md",
            'exit "${status:-0}"',
        ),
        "  artifacts:",
        "    when: always",
        "    expose_as: " + _q("campaign report"),
        "    paths: [campaign-report.md]",
    ]


def _workspace_cache(key: str) -> list[str]:
    """The clones (fetched, not cloned, next time) and a shard's ledger, kept between
    pipelines even when a job fails, so a rerun resumes where the last one stopped."""
    return [
        "  cache:",
        f"    key: {_q(key)}",
        f"    paths: [{_q(WORKSPACE + '/')}]",
        "    when: always",
    ]


def regenerate_command(options: PipelineOptions, output: str | None) -> str:
    """The command that writes this file again, for its header."""
    argv = ["fleetform", "ci", "-c", options.catalog, "--shards", str(options.shards)]
    if options.fleetform is not None:
        argv += ["--fleetform", options.fleetform]
    if output is not None:
        argv += ["-o", output]
    return shlex.join(argv)


def _plain(value: str, what: str) -> None:
    """Control characters (a newline above all) have no place in a CI file's values."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise UsageError(message=f"{what} {value!r} has control characters; not writing a CI file")


def _q(value: str) -> str:
    """A YAML scalar that reads back as `value`: JSON's double-quoted string."""
    return json.dumps(value, ensure_ascii=False)


def _sq(text: str) -> str:
    """Fixed text (a rule, a command) as a YAML single-quoted scalar: readable, and no `: `
    or `#` in it can change what YAML reads."""
    return "'" + text.replace("'", "''") + "'"


def _script(*commands: str) -> list[str]:
    return ["  script:", *(f"    - {_sq(command)}" for command in commands)]


def _v(value: str) -> str:
    """A value under `variables:`: GitLab expands `$NAME` there, `$$` is a literal `$`."""
    return _q(value.replace("$", "$$"))
