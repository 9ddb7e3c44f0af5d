#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# deploy.sh: deploy the service's Helm chart to one environment. The chart is packaged with
# the image tag as its appVersion and a version of its own naming it (CHART_VERSION, default
# Chart.yaml's version + "+TAG"), so `helm list` and `helm history` say what runs; then
#   helm upgrade --install --atomic --wait PACKAGE --set-string image.tag=TAG
#     -f helm/values/ENV.yaml [-f helm/values/overrides.yaml]   (over the chart's values.yaml)
# --atomic makes Helm roll a failed upgrade back (and remove a failed first install) itself.
# With HEALTH_URL set, the deployed service must then pass health-check.sh (exponential
# backoff); if it does not, rollback.sh returns the release to its previous revision.
# Rendered by fleetform: changes are overwritten by `copier update`.
#
# Usage: deploy.sh [-t TAG] [-n] [-h] ENV
#
# Environment: IMAGE_TAG (image tag to deploy; default: the commit's first 8 hex digits, the
# tag build.sh gives it), CHART_VERSION, NAMESPACE (default: the platform name), RELEASE
# (default: the service name), KUBE_CONTEXT, HELM_TIMEOUT (default 10m), HEALTH_URL
# (post-deploy check), HELM (helm binary), LOG_FILE.
#
# Events: DEPLOY_START, DEPLOY_SUCCESS, DEPLOY_FAIL (+ HEALTH_* from the post-deploy check).
# Exit codes:
#   0  deployed (and healthy, when HEALTH_URL is set)
#   1  deploy failed: Helm rolled back (--atomic), or the health check failed and the
#      release was rolled back
#   2  bad usage (unknown option, missing or unknown ENV, missing values file)
#   3  helm (or curl/wget for HEALTH_URL) not installed
set -euo pipefail

case "${BASH_SOURCE[0]}" in
  */*) SCRIPT_DIR=${BASH_SOURCE[0]%/*} ;;
  *) SCRIPT_DIR=. ;;
esac
SCRIPT_DIR=$(cd -- "$SCRIPT_DIR" && pwd)
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"

usage() {
  cat <<USAGE
Usage: ${0##*/} [-t TAG] [-n] [-h] ENV

Deploy $SERVICE_NAME with helm upgrade --install --atomic --wait.

  ENV      one of: ${ENVIRONMENTS[*]}
  -t TAG   image tag to deploy (default: IMAGE_TAG, else the commit's first 8 hex digits,
           as build.sh tags it)
  -n       dry run: print the helm command instead of running it
  -h       show this help

Environment: CHART_VERSION (default: Chart.yaml's version+TAG), NAMESPACE (default
$PLATFORM), RELEASE (default $SERVICE_NAME), KUBE_CONTEXT,
HELM_TIMEOUT (default 10m), HEALTH_URL (checked after the deploy; rollback if unhealthy),
HELM (default helm), LOG_FILE.
Exit codes: 0 deployed, 1 failed (rolled back), 2 bad usage, 3 helm or curl/wget missing.
USAGE
}

bad_usage() {
  printf '%s: %s\n\n' "${0##*/}" "$1" >&2
  usage >&2
  exit "$EXIT_USAGE"
}

tag=""
dry_run=false
while getopts ':t:nh' opt; do
  case "$opt" in
    t) tag=$OPTARG ;;
    n) dry_run=true ;;
    h)
      usage
      exit "$EXIT_OK"
      ;;
    :) bad_usage "option -$OPTARG needs a value" ;;
    *) bad_usage "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))
if (($# != 1)); then
  bad_usage "expected exactly one ENV argument"
fi
env_name=$1
if ! is_environment "$env_name"; then
  bad_usage "unknown environment '$env_name' (expected one of: ${ENVIRONMENTS[*]})"
fi
tag=${tag:-$(image_tag)}
if ! is_image_tag "$tag"; then
  bad_usage "invalid image tag '$tag'"
fi

release=${RELEASE:-$SERVICE_NAME}
namespace=${NAMESPACE:-$PLATFORM}
helm_bin=${HELM:-helm}

cd -- "$INFRA_DIR"
if [[ ! -f "helm/values/$env_name.yaml" ]]; then
  bad_usage "missing values file infrastructure/helm/values/$env_name.yaml"
fi
# SemVer build metadata takes letters, digits, '-' and '.': a '_' of the tag becomes '-'.
chart_version=${CHART_VERSION:-$(sed -n 's/^version:[[:space:]]*//p' helm/Chart.yaml | tr -d "\"'")+${tag//_/-}}
if [[ ! "$chart_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$ ]]; then
  bad_usage "CHART_VERSION must be a SemVer version such as 1.2.3, not '$chart_version'"
fi
package_dir=$(mktemp -d "${TMPDIR:-/tmp}/$SERVICE_NAME-chart.XXXXXX")
trap 'rm -rf -- "$package_dir"' EXIT
package_args=(
  package helm --version "$chart_version" --app-version "$tag" --destination "$package_dir"
)
helm_args=(
  upgrade --install "$release" "$package_dir/$SERVICE_NAME-$chart_version.tgz"
  --namespace "$namespace" --create-namespace
  --atomic --wait --timeout "${HELM_TIMEOUT:-10m}"
  -f "helm/values/$env_name.yaml"
)
if [[ -f helm/values/overrides.yaml ]]; then
  helm_args+=(-f helm/values/overrides.yaml)
fi
helm_args+=(--set-string "image.tag=$tag")
if [[ -n "${KUBE_CONTEXT:-}" ]]; then
  helm_args+=(--kube-context "$KUBE_CONTEXT")
fi

if [[ "$dry_run" == true ]]; then
  printf '%q ' "$helm_bin" "${package_args[@]}"
  printf '\n'
  printf '%q ' "$helm_bin" "${helm_args[@]}"
  printf '\n'
  exit "$EXIT_OK"
fi
require_tool "$helm_bin"
if [[ -n "${HEALTH_URL:-}" ]] && ! detect_http_client; then
  die "$EXIT_MISSING_TOOL" "HEALTH_URL is set but neither curl nor wget found"
fi

log_event DEPLOY_START "release $release to $env_name (namespace $namespace, image tag $tag, chart $chart_version)"
if ! "$helm_bin" "${package_args[@]}" >/dev/null; then
  log_event DEPLOY_FAIL "helm package of the chart failed"
  exit "$EXIT_FAILED"
fi
if "$helm_bin" "${helm_args[@]}"; then
  :
else
  status=$?
  log_event DEPLOY_FAIL "helm exited with $status; --atomic rolled release $release back"
  exit "$EXIT_FAILED"
fi

if [[ -n "${HEALTH_URL:-}" ]] && ! wait_healthy "$HEALTH_URL"; then
  log_event DEPLOY_FAIL "release $release in $env_name is unhealthy; rolling back"
  if ! "$SCRIPT_DIR/rollback.sh" "$env_name"; then
    log_event DEPLOY_FAIL "rollback of release $release in $env_name failed too; act by hand"
  fi
  exit "$EXIT_FAILED"
fi
log_event DEPLOY_SUCCESS "release $release deployed to $env_name"
