#!/usr/bin/env bash
# A Docker engine for fleetform's engine tests: scripts/engine.sh start|stop|status|run CMD...
#
#   start   install Debian's docker.io and busybox-static if missing (apt-get, as root),
#           start `dockerd --iptables=false --ip6tables=false` in the background unless an
#           engine already answers, and wait until `docker info` does (bounded). Idempotent.
#   stop    stop the engine, only if `start` started it (its pid file); an engine that was
#           already running is left alone.
#   status  say whether an engine answers and whether this script started it (exit 0 / 1).
#   run CMD...  start, run CMD, then stop the engine only if this run started it; exits
#           with CMD's status. If no engine can be started, CMD still runs (the engine tests
#           then fail, or skip under FLEETFORM_REQUIRE_ENGINE=0).
#
# Environment: FLEETFORM_ENGINE_STATE (pid and log files, default /tmp/fleetform-engine),
# FLEETFORM_ENGINE_TIMEOUT (seconds to wait for the engine, default 60),
# FLEETFORM_DOCKERD_ARGS (extra dockerd flags, e.g. --storage-driver vfs).
set -euo pipefail

STATE=${FLEETFORM_ENGINE_STATE:-/tmp/fleetform-engine}
TIMEOUT=${FLEETFORM_ENGINE_TIMEOUT:-60}
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log

say() { echo "engine.sh: $*" >&2; }

answers() { docker info >/dev/null 2>&1; }

ours() {
    # The pid of the dockerd this script started, if it still runs.
    [[ -f $PIDFILE ]] || return 1
    local pid
    pid=$(<"$PIDFILE")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        say "need root to run: $*"
        return 1
    fi
}

static_busybox() {
    # The stand-in images need a static busybox: Debian's busybox-static package.
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'
}

install_missing() {
    local packages=()
    command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
    static_busybox || packages+=(busybox-static)
    [[ ${#packages[@]} -eq 0 ]] && return 0
    say "installing ${packages[*]}"
    # No questions, and no needrestart prompt (it hooks apt on Debian).
    local quiet=(env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1)
    as_root "${quiet[@]}" apt-get update -qq || return 1
    as_root "${quiet[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

start() {
    # Explicit returns: `run` calls this in a condition, where `set -e` does not apply.
    install_missing || return 1
    if answers; then
        if pid=$(ours); then
            say "engine already running (started by engine.sh, pid $pid)"
        else
            say "an engine already answers; using it (stop will leave it alone)"
        fi
        return 0
    fi
    command -v dockerd >/dev/null 2>&1 || { say "dockerd is not installed"; return 1; }
    mkdir -p "$STATE" || return 1
    rm -f "$PIDFILE"
    say "starting dockerd (log: $LOG)"
    # setsid: the engine outlives this shell and make's process group.
    # shellcheck disable=SC2086 # extra flags, split on purpose
    as_root setsid dockerd --iptables=false --ip6tables=false --pidfile "$PIDFILE" \
        ${FLEETFORM_DOCKERD_ARGS:-} >"$LOG" 2>&1 </dev/null &
    local waited=0
    until answers; do
        if ((waited >= TIMEOUT)); then
            say "dockerd did not answer within ${TIMEOUT}s; last lines of $LOG:"
            tail -n 20 "$LOG" >&2 || true
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    say "engine ready after ${waited}s: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"
}

stop() {
    local pid
    if ! pid=$(ours); then
        if answers; then
            say "the running engine was not started by engine.sh; leaving it"
        else
            say "no engine running"
        fi
        rm -f "$PIDFILE"
        return 0
    fi
    say "stopping dockerd (pid $pid)"
    as_root kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= 30)); then
            say "dockerd still running after 30s; sending KILL"
            as_root kill -KILL "$pid" || true
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
    rm -f "$PIDFILE"
}

status() {
    if answers; then
        if pid=$(ours); then
            say "engine answers (started by engine.sh, pid $pid)"
        else
            say "engine answers (not started by engine.sh)"
        fi
        return 0
    fi
    say "no engine answers"
    return 1
}

run() {
    local started=0 status=0
    if answers; then
        install_missing || say "could not install the test packages"
    elif start; then
        started=1
    else
        say "no engine; running the command anyway"
    fi
    "$@" || status=$?
    if ((started)); then
        stop
    fi
    return "$status"
}

case ${1:-} in
    start) start ;;
    run)
        shift
        [[ $# -gt 0 ]] || { echo "usage: $0 run CMD..." >&2; exit 2; }
        run "$@"
        ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|status|run CMD..." >&2
        exit 2
        ;;
esac
