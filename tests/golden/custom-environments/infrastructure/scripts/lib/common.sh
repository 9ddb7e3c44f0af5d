#!/usr/bin/env bash
# Shared by build.sh, deploy.sh, health-check.sh and rollback.sh, which source it; running it
# does nothing. Rendered by fleetform (Copier): changes are overwritten by `copier update`.
#
# Logging (seed 001's format), one line per event, to stderr and appended to LOG_FILE:
#   [YYYY-mm-dd HH:MM:SS] [LEVEL] [service] EVENT message
# LEVEL is ERROR for *_FAIL and *_TIMEOUT events, WARN for *_RETRY, INFO otherwise.
# LOG_FILE defaults to infrastructure/logs/<service>.log, or ${TMPDIR:-/tmp}/<service>.log
# when that folder cannot be written; LOG_FILE=/dev/null keeps the console only.
#
# Health checks (wait_healthy) back off exponentially: the delay between attempts doubles from
# HEALTH_INITIAL_DELAY (1s) up to HEALTH_MAX_DELAY (30s), and the check gives up after
# HEALTH_MAX_ATTEMPTS (10) attempts or HEALTH_MAX_WAIT (300) seconds, whichever comes first.
# Each probe uses curl, else wget (GNU or BusyBox), with HEALTH_REQUEST_TIMEOUT (5) seconds.
# Works with bash 3.2 (macOS) and later.

# This service, as rendered from the catalog (used by the scripts that source this file).
# shellcheck disable=SC2034,SC2209  # read by the sourcing scripts; strings, never commands
{
  SERVICE_NAME=publishing
  PLATFORM=llm-marketplace
  IMAGE_REPOSITORY=registry.example.com/llm-marketplace/publishing
  SERVICE_PORT=3001
  CONTAINER_PORT=3001
  SERVICE_HEALTH_PATH=/health
  ENVIRONMENTS=(local development staging production)
  # Exit codes shared by the scripts (each script's header lists the ones it uses).
  EXIT_OK=0 EXIT_FAILED=1 EXIT_USAGE=2 EXIT_MISSING_TOOL=3
}

# Folders: SCRIPT_DIR is set by the sourcing script before it sources this file.
INFRA_DIR=$(cd -- "${SCRIPT_DIR:?}/.." && pwd)
REPO_ROOT=$(cd -- "$INFRA_DIR/.." && pwd)

# init_log_file: choose LOG_FILE (exported, so scripts run from this one append to it too).
init_log_file() {
  if [[ -z "${LOG_FILE:-}" ]]; then
    LOG_FILE="$INFRA_DIR/logs/$SERVICE_NAME.log"
    if ! { mkdir -p -- "$INFRA_DIR/logs" && : >>"$LOG_FILE"; } 2>/dev/null; then
      LOG_FILE="${TMPDIR:-/tmp}/$SERVICE_NAME.log"
    fi
  fi
  export LOG_FILE
}

timestamp() {
  local ts
  # bash >= 4.2 formats the time itself; bash 3.2 (macOS) asks date(1).
  if ! printf -v ts '%(%Y-%m-%d %H:%M:%S)T' -1 2>/dev/null; then
    ts=$(date '+%Y-%m-%d %H:%M:%S')
  fi
  printf '%s' "$ts"
}

# log_event EVENT MESSAGE...
log_event() {
  local event=$1 level=INFO line
  shift
  case "$event" in
    *_FAIL | *_TIMEOUT) level=ERROR ;;
    *_RETRY) level=WARN ;;
  esac
  line="[$(timestamp)] [$level] [$SERVICE_NAME] $event $*"
  printf '%s\n' "$line" >&2
  printf '%s\n' "$line" >>"$LOG_FILE" 2>/dev/null || true
}

# die CODE MESSAGE: print an error line (no event) and exit with CODE.
die() {
  local code=$1
  shift
  printf '%s: %s\n' "${0##*/}" "$*" >&2
  exit "$code"
}

# image_tag: the image tag every build, deploy and local run uses, one rule: IMAGE_TAG when set
# (CI sets it to CI_COMMIT_SHORT_SHA), else the first 8 hex digits of the commit (what GitLab
# calls CI_COMMIT_SHORT_SHA), else "latest" outside a git work tree.
image_tag() {
  local commit
  if [[ -n "${IMAGE_TAG:-}" ]]; then
    printf '%s\n' "$IMAGE_TAG"
  elif command -v git >/dev/null 2>&1 && commit=$(git -C "$REPO_ROOT" rev-parse --verify -q HEAD 2>/dev/null); then
    printf '%s\n' "${commit:0:8}"
  else
    printf 'latest\n'
  fi
}

# is_image_tag VALUE: true for a valid image tag.
is_image_tag() {
  [[ "$1" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]
}

# is_uint VALUE: true for a non-negative decimal integer.
is_uint() {
  [[ "$1" =~ ^[0-9]+$ ]]
}

# is_environment NAME: true when NAME is one of this service's environments.
is_environment() {
  local e
  for e in "${ENVIRONMENTS[@]}"; do
    if [[ "$e" == "$1" ]]; then
      return 0
    fi
  done
  return 1
}

# require_tool NAME: exit EXIT_MISSING_TOOL unless NAME is on PATH (or an executable path).
require_tool() {
  command -v "$1" >/dev/null 2>&1 || die "$EXIT_MISSING_TOOL" "$1 not found"
}

HTTP_CLIENT=""
# detect_http_client: pick curl, else wget (GNU wget gets --tries=1; BusyBox wget has no such
# option and never retries). Returns 1 when neither is installed.
detect_http_client() {
  local version
  if command -v curl >/dev/null 2>&1; then
    HTTP_CLIENT=curl
  elif command -v wget >/dev/null 2>&1; then
    version=$(wget --version 2>/dev/null) || version=""
    case "$version" in
      *"GNU Wget"*) HTTP_CLIENT=gnu-wget ;;
      *) HTTP_CLIENT=wget ;;
    esac
  else
    return 1
  fi
}

# http_ok URL: one probe; true on a status below 400 within HEALTH_REQUEST_TIMEOUT seconds.
http_ok() {
  local timeout=${HEALTH_REQUEST_TIMEOUT:-5}
  case "$HTTP_CLIENT" in
    curl) curl -fsS -o /dev/null --max-time "$timeout" "$1" 2>/dev/null ;;
    gnu-wget) wget -q -O /dev/null --tries=1 -T "$timeout" "$1" 2>/dev/null ;;
    *) wget -q -O /dev/null -T "$timeout" "$1" 2>/dev/null ;;
  esac
}

# wait_healthy URL: probe URL with exponential backoff until it is healthy (0) or the attempts
# or the time run out (1). Logs HEALTH_RETRY per failed attempt, then HEALTH_SUCCESS or
# HEALTH_TIMEOUT.
wait_healthy() {
  local url=$1
  local max_attempts=${HEALTH_MAX_ATTEMPTS:-10}
  local max_delay=${HEALTH_MAX_DELAY:-30}
  local max_wait=${HEALTH_MAX_WAIT:-300}
  local delay=${HEALTH_INITIAL_DELAY:-1}
  local attempt=1 started=$SECONDS
  if [[ -z "$HTTP_CLIENT" ]] && ! detect_http_client; then
    die "$EXIT_MISSING_TOOL" "neither curl nor wget found"
  fi
  while :; do
    if http_ok "$url"; then
      log_event HEALTH_SUCCESS "$url is healthy (attempt $attempt, $((SECONDS - started))s)"
      return 0
    fi
    if ((attempt >= max_attempts || SECONDS - started + delay > max_wait)); then
      log_event HEALTH_TIMEOUT "$url is not healthy after $attempt attempts in $((SECONDS - started))s"
      return 1
    fi
    log_event HEALTH_RETRY "attempt $attempt/$max_attempts failed for $url; next in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
    if ((delay > max_delay)); then
      delay=$max_delay
    fi
  done
}

init_log_file
