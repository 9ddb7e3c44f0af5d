#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# image-tag.sh: print the image tag that build.sh builds, deploy.sh deploys and `make
# local-up` runs: IMAGE_TAG when set (CI sets it to CI_COMMIT_SHORT_SHA), else the first 8 hex
# digits of the commit (CI_COMMIT_SHORT_SHA's rule), else "latest" outside a git work tree.
# Rendered by fleetform: changes are overwritten by `copier update`.
#
# Usage: image-tag.sh
# Exit codes: 0 printed, 2 bad usage (any argument)
set -euo pipefail

case "${BASH_SOURCE[0]}" in
  */*) SCRIPT_DIR=${BASH_SOURCE[0]%/*} ;;
  *) SCRIPT_DIR=. ;;
esac
SCRIPT_DIR=$(cd -- "$SCRIPT_DIR" && pwd)
# It only prints: no log file is created for it.
LOG_FILE=${LOG_FILE:-/dev/null}
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"

if (($# > 0)); then
  printf 'usage: %s (no arguments)\n' "${0##*/}" >&2
  exit "$EXIT_USAGE"
fi
image_tag
