#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# rollback.sh: roll the service's Helm release in one environment back to an earlier revision
# (default: the previous one) and wait for it. deploy.sh calls it when a deployed release fails
# its health check. Rendered by fleetform: changes are overwritten by `copier update`.
#
# Usage: rollback.sh [-n] [-h] ENV [REVISION]
#
# Environment: NAMESPACE (default: the platform name), RELEASE (default: the service name),
# KUBE_CONTEXT, HELM_TIMEOUT (default 10m), HELM (helm binary), LOG_FILE.
#
# Events: ROLLBACK_START, ROLLBACK_SUCCESS, ROLLBACK_FAIL.
# Exit codes:
#   0  rolled back
#   1  helm rollback failed
#   2  bad usage (unknown option, missing or unknown ENV, bad REVISION)
#   3  helm not installed
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
Usage: ${0##*/} [-n] [-h] ENV [REVISION]

Roll the $SERVICE_NAME release back to REVISION (default: the previous revision).

  ENV       one of: ${ENVIRONMENTS[*]}
  REVISION  Helm revision number (see: helm history RELEASE)
  -n        dry run: print the helm command instead of running it
  -h        show this help

Environment: NAMESPACE (default $PLATFORM), RELEASE (default $SERVICE_NAME), KUBE_CONTEXT,
HELM_TIMEOUT (default 10m), HELM (default helm), LOG_FILE.
Exit codes: 0 rolled back, 1 rollback failed, 2 bad usage, 3 helm missing.
USAGE
}

bad_usage() {
  printf '%s: %s\n\n' "${0##*/}" "$1" >&2
  usage >&2
  exit "$EXIT_USAGE"
}

dry_run=false
while getopts ':nh' opt; do
  case "$opt" in
    n) dry_run=true ;;
    h)
      usage
      exit "$EXIT_OK"
      ;;
    *) bad_usage "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))
if (($# < 1 || $# > 2)); then
  bad_usage "expected ENV and an optional REVISION"
fi
env_name=$1
revision=${2:-}
if ! is_environment "$env_name"; then
  bad_usage "unknown environment '$env_name' (expected one of: ${ENVIRONMENTS[*]})"
fi
if [[ -n "$revision" ]] && { ! is_uint "$revision" || ((10#$revision < 1)); }; then
  bad_usage "REVISION must be a positive whole number, not '$revision'"
fi

release=${RELEASE:-$SERVICE_NAME}
namespace=${NAMESPACE:-$PLATFORM}
helm_bin=${HELM:-helm}

helm_args=(rollback "$release")
if [[ -n "$revision" ]]; then
  helm_args+=("$((10#$revision))")
fi
helm_args+=(--namespace "$namespace" --wait --timeout "${HELM_TIMEOUT:-10m}")
if [[ -n "${KUBE_CONTEXT:-}" ]]; then
  helm_args+=(--kube-context "$KUBE_CONTEXT")
fi

if [[ "$dry_run" == true ]]; then
  printf '%q ' "$helm_bin" "${helm_args[@]}"
  printf '\n'
  exit "$EXIT_OK"
fi
require_tool "$helm_bin"

log_event ROLLBACK_START "release $release in $env_name to revision ${revision:-previous}"
if "$helm_bin" "${helm_args[@]}"; then
  log_event ROLLBACK_SUCCESS "release $release in $env_name rolled back to revision ${revision:-previous}"
else
  status=$?
  log_event ROLLBACK_FAIL "helm rollback of release $release in $env_name exited with $status"
  exit "$EXIT_FAILED"
fi
