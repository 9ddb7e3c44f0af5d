"""Prove a rendered service tree valid by running the real validator of each format on it.

| file in the tree                    | validator                                                |
| ----------------------------------- | -------------------------------------------------------- |
| `Dockerfile`, `Dockerfile.*`        | `hadolint --format json`                                 |
| `*.sh`                              | `shellcheck --format=json1 -x`                           |
| `docker-compose.yml`, `compose.yml` | `docker-compose -f FILE config -q` (clean environment)   |
| `.gitlab-ci.yml`                    | `check-jsonschema --builtin-schema vendor.gitlab-ci`     |
| a directory holding `Chart.yaml`    | helm lint + render, per values set (below); manifests    |
|                                     | through `kubernetes_validate` (strict) and the           |
|                                     | restricted Pod Security check `pod_security_problems`    |

Values sets: `values/base.yaml` alone, then `base + ENV [+ overrides]` for each other values file,
the layering deploy.sh uses (`values/overrides.yaml`, the owners' file, goes last).

Every finding becomes a `Problem` at `ROOT/relative/path:line:col` (ROOT as given), its message
prefixed by the tool: `hadolint DL3008: Pin versions in apt get install...`. A tool's `error` and
`warning` are errors, its `info` and `style` warnings; helm lint is strict (its warnings are
errors) and its info notes ("icon is recommended") are dropped.

| module | what it owns |
| --- | --- |
| `tree` | `verify_tree`: which validator each file of a tree gets |
| `trees` | `verify_trees`: many trees in turn, each reported as it finishes |
| `targets` | which files of a tree each validator takes |
| `tools` | finding and running the validators, and reading what they print |
| `dockerfile` | hadolint |
| `shell` | shellcheck |
| `compose` | the Compose v2 binary's `config` |
| `gitlab_ci` | the GitLab CI schema (check-jsonschema) |
| `helm` | helm lint and render per values set |
| `values` | the values sets of a chart, merged as deploy.sh layers them |
| `manifests` | each rendered manifest through the schemas and Pod Security checks |
| `kubernetes` | the Kubernetes schemas (kubernetes-validate, strict) |
| `pod_security` | the restricted Pod Security Standard |
| `positions` | where a field a validator names is written (file or template) |
| `markers` | conflict markers left in any file of the tree |
| `result` | `Checked`, `VerifyResult` |
"""

from generator.verify.kubernetes import KUBERNETES_VERSION
from generator.verify.pod_security import Locator, pod_security_problems
from generator.verify.positions import JsonPath
from generator.verify.result import Checked, VerifyResult
from generator.verify.tree import verify_tree
from generator.verify.trees import TreesVerified, TreeVerified, verify_trees
from generator.verify.values import merge_values

__all__ = [
    "KUBERNETES_VERSION",
    "Checked",
    "JsonPath",
    "Locator",
    "TreeVerified",
    "TreesVerified",
    "VerifyResult",
    "merge_values",
    "pod_security_problems",
    "verify_tree",
    "verify_trees",
]
