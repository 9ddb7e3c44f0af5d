#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# build.sh: build the service's container image from the repository root with
# infrastructure/Dockerfile, with the OCI version/revision/created labels filled in, and
# optionally push it. Rendered by fleetform: changes are overwritten by `copier update`.
#
# Usage: build.sh [-t TAG] [-p] [-n] [-h]
#
# Environment: IMAGE_TAG (default tag), DOCKER (docker binary), LOG_FILE.
# Events: BUILD_START, BUILD_SUCCESS, BUILD_FAIL, PUSH_SUCCESS, PUSH_FAIL.
# Exit codes:
#   0  built (and pushed with -p)
#   1  docker build or push failed
#   2  bad usage
#   3  docker not installed
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
Usage: ${0##*/} [-t TAG] [-p] [-n] [-h]

Build $IMAGE_REPOSITORY:TAG from infrastructure/Dockerfile.

  -t TAG   image tag (default: IMAGE_TAG, else the commit's first 8 hex digits as in
           CI_COMMIT_SHORT_SHA, else "latest": the rule make deploy and make local-up share)
  -p       push the image after building it
  -n       dry run: print the docker commands instead of running them
  -h       show this help

Environment: DOCKER (default docker), LOG_FILE.
Exit codes: 0 built (and pushed), 1 build or push failed, 2 bad usage, 3 docker missing.
USAGE
}

bad_usage() {
  printf '%s: %s\n\n' "${0##*/}" "$1" >&2
  usage >&2
  exit "$EXIT_USAGE"
}

tag=""
push=false
dry_run=false
while getopts ':t:pnh' opt; do
  case "$opt" in
    t) tag=$OPTARG ;;
    p) push=true ;;
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
if (($# > 0)); then
  bad_usage "unexpected argument: $1"
fi

revision=unknown
if command -v git >/dev/null 2>&1 && git -C "$REPO_ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  revision=$(git -C "$REPO_ROOT" rev-parse HEAD)
fi
tag=${tag:-$(image_tag)}
if ! is_image_tag "$tag"; then
  bad_usage "invalid image tag '$tag'"
fi
image="$IMAGE_REPOSITORY:$tag"
created=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
docker_bin=${DOCKER:-docker}

build_args=(
  build --file "$INFRA_DIR/Dockerfile" --tag "$image"
  --build-arg "VERSION=$tag" --build-arg "REVISION=$revision" --build-arg "CREATED=$created"
  "$REPO_ROOT"
)
if [[ "$dry_run" == true ]]; then
  printf '%q ' "$docker_bin" "${build_args[@]}"
  printf '\n'
  if [[ "$push" == true ]]; then
    printf '%q ' "$docker_bin" push "$image"
    printf '\n'
  fi
  exit "$EXIT_OK"
fi
require_tool "$docker_bin"

log_event BUILD_START "building $image"
if "$docker_bin" "${build_args[@]}"; then
  log_event BUILD_SUCCESS "built $image"
else
  status=$?
  log_event BUILD_FAIL "docker build of $image exited with $status"
  exit "$EXIT_FAILED"
fi
if [[ "$push" == true ]]; then
  if "$docker_bin" push "$image"; then
    log_event PUSH_SUCCESS "pushed $image"
  else
    status=$?
    log_event PUSH_FAIL "docker push of $image exited with $status"
    exit "$EXIT_FAILED"
  fi
fi
