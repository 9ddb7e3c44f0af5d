#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# health-check.sh: wait until the service answers its health endpoint, backing off
# exponentially between attempts (1s, 2s, 4s, ... capped at HEALTH_MAX_DELAY). Needs only
# curl or wget (GNU or BusyBox). Rendered by fleetform: changes are overwritten by
# `copier update`.
#
# Usage: health-check.sh [-u URL] [-H HOST] [-p PORT] [-P PATH] [-n ATTEMPTS] [-d SECONDS]
#                        [-w SECONDS] [-h]
# The URL defaults to http://HOST:PORT/PATH with HOST 127.0.0.1, PORT the service's host port
# and PATH its health path (see usage below); flags win over the environment variables.
#
# Exit codes:
#   0  healthy
#   1  not healthy within the attempts or the time allowed (HEALTH_TIMEOUT logged)
#   2  bad usage
#   3  neither curl nor wget installed
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
Usage: ${0##*/} [-u URL] [-H HOST] [-p PORT] [-P PATH] [-n ATTEMPTS] [-d SECONDS] [-w SECONDS]

Wait until $SERVICE_NAME is healthy, with exponential backoff between attempts.

  -u URL       full URL to probe              (HEALTH_URL; default http://HOST:PORT/PATH)
  -H HOST      host                           (HEALTH_HOST; default 127.0.0.1)
  -p PORT      port                           (HEALTH_PORT; default $SERVICE_PORT)
  -P PATH      health path                    (HEALTH_PATH; default $SERVICE_HEALTH_PATH)
  -n ATTEMPTS  attempts before giving up      (HEALTH_MAX_ATTEMPTS; default 10)
  -d SECONDS   longest delay between attempts (HEALTH_MAX_DELAY; default 30)
  -w SECONDS   give up after this long        (HEALTH_MAX_WAIT; default 300)
  -h           show this help

Each probe times out after HEALTH_REQUEST_TIMEOUT seconds (default 5). Events are logged to
stderr and to LOG_FILE (default infrastructure/logs/$SERVICE_NAME.log).
Exit codes: 0 healthy, 1 not healthy in time, 2 bad usage, 3 neither curl nor wget installed.
USAGE
}

bad_usage() {
  printf '%s: %s\n\n' "${0##*/}" "$1" >&2
  usage >&2
  exit "$EXIT_USAGE"
}

url=${HEALTH_URL:-}
host=${HEALTH_HOST:-127.0.0.1}
port=${HEALTH_PORT:-$SERVICE_PORT}
path=${HEALTH_PATH:-$SERVICE_HEALTH_PATH}
HEALTH_MAX_ATTEMPTS=${HEALTH_MAX_ATTEMPTS:-10}
HEALTH_MAX_DELAY=${HEALTH_MAX_DELAY:-30}
HEALTH_MAX_WAIT=${HEALTH_MAX_WAIT:-300}

while getopts ':u:H:p:P:n:d:w:h' opt; do
  case "$opt" in
    u) url=$OPTARG ;;
    H) host=$OPTARG ;;
    p) port=$OPTARG ;;
    P) path=$OPTARG ;;
    n) HEALTH_MAX_ATTEMPTS=$OPTARG ;;
    d) HEALTH_MAX_DELAY=$OPTARG ;;
    w) HEALTH_MAX_WAIT=$OPTARG ;;
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

for value in "$HEALTH_MAX_ATTEMPTS" "$HEALTH_MAX_DELAY" "$HEALTH_MAX_WAIT"; do
  if ! is_uint "$value" || ((10#$value < 1)); then
    bad_usage "attempts, delay and wait must be whole numbers of at least 1, not '$value'"
  fi
done
if [[ -z "$url" ]]; then
  if ! is_uint "$port" || ((10#$port < 1 || 10#$port > 65535)); then
    bad_usage "port must be between 1 and 65535, not '$port'"
  fi
  if [[ "$path" != /* ]]; then
    bad_usage "path must start with /, not '$path'"
  fi
  url="http://$host:$port$path"
fi
if [[ ! "$url" =~ ^https?://[^[:space:]]+$ ]]; then
  bad_usage "URL must be http:// or https:// without spaces, not '$url'"
fi

if ! detect_http_client; then
  die "$EXIT_MISSING_TOOL" "neither curl nor wget found"
fi
if wait_healthy "$url"; then
  exit "$EXIT_OK"
fi
exit "$EXIT_FAILED"
