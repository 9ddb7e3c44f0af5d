"""The files of the stand-in base image (`generator.stack.standin.images`), kept here as text.

They are Python strings rather than files beside the module so that an installed fleetform
carries them (the package data of pyproject.toml lists only the catalog and the schemas).
`FILES` maps each name in the build context to its text and whether it is executable; the
static busybox is added next to them at build time. A test runs shellcheck on the scripts.

Nothing here is the real tool it stands in for: no registry is reachable from the machines
fleetform verifies on, so the real base images (node, python, nvidia/cuda) and the catalog's
third-party images cannot be pulled. The scripts do what a build, a start and a health check
need of those tools, and say on stderr that they are stand-ins.
"""

from __future__ import annotations

DOCKERFILE = r"""# The stand-in image: FROM scratch plus Debian's busybox-static, nothing pulled.
# fleetform (generator/standin.py) copies the static busybox of the machine it runs on into
# the build context next to this file.
FROM scratch
COPY busybox /bin/busybox
# No base image means no shell to RUN in yet: the exec form runs busybox itself, which
# installs its applets (sh, httpd, wget, sed, timeout, ...) as symlinks.
RUN ["/bin/busybox", "--install", "-s", "/bin"]
# A /tmp that the generated Dockerfiles' non-root user (10001) can write to.
RUN ["/bin/sh", "-c", "mkdir -p /tmp /usr/local/bin && chmod 1777 /tmp"]
COPY run probe runtime /standin/
# The health-check commands of the catalog's images, all pointing at `probe`: pg_isready
# (postgres), redis-cli (redis), mc (minio), bash (qdrant's /dev/tcp check). The runtimes and
# package managers the generated Dockerfiles call point at `runtime`. Not the real tools.
RUN for tool in pg_isready redis-cli mc bash; do ln -s /standin/probe "/usr/local/bin/$tool"; done \
    && for tool in node npm python python3 pip pip3 apt-get; do \
        ln -s /standin/runtime "/usr/local/bin/$tool"; \
    done
ENV PATH=/usr/local/bin:/bin
# Like real images that declare VOLUME (postgres, redis), every container gets an
# anonymous volume here, so tearing down is tested on removing them.
VOLUME /scratch
LABEL fleetform.standin="1"
ENTRYPOINT ["/standin/run"]
"""

RUN = r"""#!/bin/sh
# Entry point of a fleetform stand-in container, and the "application" of a stand-in runtime
# (`node .`, `python -m app`): serves STANDIN_HEALTH_PATH with busybox httpd on every port of
# STANDIN_PORTS (default: $PORT, as the generated Dockerfiles set it), so health checks,
# published ports and depends_on behave as with the real service. Arguments (the catalog's
# `command:`, or the runtime's command line) are printed and otherwise ignored.
#
# Knobs (environment; a service's infrastructure/.env reaches its container):
#   START_DELAY=S    the health endpoint appears only after S seconds
#   NEVER_HEALTHY=1  the health endpoint never appears (httpd answers 404)
#   CRASH_AFTER=N    exit 1 after N seconds (with restart: unless-stopped, a restart loop)
set -u
name=${STANDIN_NAME:-stand-in}
ports=${STANDIN_PORTS:-${PORT:-8080}}
path=${STANDIN_HEALTH_PATH:-/health}
root=/tmp/www

say() { echo "$(date '+%Y-%m-%d %H:%M:%S') [$name] $*"; }
children=""
stop() {
    say "stopping (signal)"
    # shellcheck disable=SC2086 # a list of pids, split on purpose
    [ -n "$children" ] && kill $children 2>/dev/null
    exit 0
}
# PID 1 has no default signal handlers: without this trap `docker stop` waits 10 s and kills.
trap stop TERM INT
# A `sleep` in the foreground would delay the trap until it ends; `wait` is interruptible.
pause() { sleep "$1" & children="$children $!"; wait $!; }

mkdir -p "$root"
say "stand-in started (args: $*); ports: $ports; health: $path"
for port in $ports; do
    httpd -f -p "$port" -h "$root" &
    children="$children $!"
done
if [ -n "${START_DELAY:-}" ]; then
    say "START_DELAY=$START_DELAY: health endpoint in $START_DELAY s"
    pause "$START_DELAY"
fi
if [ "${NEVER_HEALTHY:-0}" = 1 ]; then
    say "NEVER_HEALTHY=1: $path will never answer"
else
    file="$root$path"
    case "$path" in */) file="${file}index.html" ;; esac
    mkdir -p "$(dirname "$file")"
    echo ok > "$file"
    say "healthy: $path answers"
fi
if [ -n "${CRASH_AFTER:-}" ]; then
    pause "$CRASH_AFTER"
    say "CRASH_AFTER=$CRASH_AFTER: exiting with status 1"
    exit 1
fi
while :; do pause 3600; done
"""

PROBE = r"""#!/bin/sh
# A stand-in for the health-check tools of the real images and runtimes (pg_isready,
# redis-cli, mc, bash are links to this script; `runtime` hands node -e / python -c probes
# to it). It is NOT the tool it is named after and runs none of its arguments: it only
# answers the health check. If an argument holds an http:// URL (the template's `node -e` /
# `python -c` probe), it fetches that URL; otherwise it fetches the stand-in's own health
# endpoint. Exit 0 when it answers.
url=""
for arg in "$@"; do
    case "$arg" in
        *http://*)
            url=$(printf '%s\n' "$arg" | sed -n 's|.*\(http://[^"'"'"' ,)]*\).*|\1|p')
            break
            ;;
    esac
done
if [ -z "$url" ]; then
    # shellcheck disable=SC2086 # the first of a space-separated list of ports
    set -- ${STANDIN_PORTS:-${PORT:-8080}}
    url="http://127.0.0.1:$1${STANDIN_HEALTH_PATH:-/health}"
fi
exec timeout 4 wget -q -O /dev/null "$url"
"""

RUNTIME = r"""#!/bin/sh
# A stand-in for the runtimes and package managers the generated Dockerfiles call: node, npm,
# python, python3, pip, pip3 and apt-get are links to this script. It is NOT them: it installs
# nothing and runs no JavaScript or Python. It checks what the real tool would need to find
# (package.json and its lock file, requirements.txt, the entry point) and fails the way the
# tool would when it is missing; everything else it only reports on stderr:
#   node -e CODE, python -c CODE   a health probe: fetches the http:// URL in CODE (probe)
#   node FILE|DIR, python -m MOD   the application: the entry point must exist, then the
#                                  stand-in server answers the health path (run)
#   python -m venv DIR             DIR/bin/{python,python3,pip,pip3} link to this script
#   npm ci | run | prune | install, pip install -r FILE | PATH, apt-get ...: install nothing
tool=${0##*/}
note() { echo "stand-in $tool (not the real one): $*" >&2; }
fail() {
    echo "stand-in $tool: $*" >&2
    exit 1
}

probe_code() {
    case "$1" in
        *http://*) exec /standin/probe "$1" ;;
    esac
    fail "cannot run code, only the health probes of the template (an http:// URL)"
}

node_main() {
    case "${1:-}" in
        -e | --eval | -p | --print) probe_code "${2:-}" ;;
        "" | -*) fail "only 'node -e PROBE' and 'node ENTRY' are stood in for" ;;
    esac
    entry=$1
    if [ -d "$entry" ]; then
        main=""
        if [ -f "$entry/package.json" ]; then
            main=$(sed -n 's/.*"main"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' \
                "$entry/package.json" | head -n 1)
        fi
        entry="$entry/${main:-index.js}"
    fi
    [ -f "$entry" ] || [ -f "$entry.js" ] || fail "Cannot find module '$entry'"
    note "not running $entry; serving the health path instead"
    exec /standin/run "$@"
}

make_venv() {
    dir=""
    for arg in "$@"; do
        case "$arg" in -*) ;; *) dir=$arg ;; esac
    done
    [ -n "$dir" ] || fail "usage: python -m venv DIR"
    mkdir -p "$dir/bin" || exit 1
    for name in python python3 pip pip3; do
        ln -sf /standin/runtime "$dir/bin/$name"
    done
    echo "home = /usr/local/bin" >"$dir/pyvenv.cfg"
    note "made $dir: links to the stand-in, not a virtual environment"
}

python_main() {
    case "${1:-}" in
        -c) probe_code "${2:-}" ;;
        -m) ;;
        *) fail "only 'python -c PROBE' and 'python -m MODULE' are stood in for" ;;
    esac
    module=${2:-}
    [ -n "$module" ] || fail "Argument expected for the -m option"
    shift 2
    case "$module" in
        venv) make_venv "$@" ;;
        pip) pip_main "$@" ;;
        *)
            file=$(printf '%s' "$module" | tr . /)
            [ -f "$file/__main__.py" ] || [ -f "$file.py" ] || fail "No module named $module"
            note "not running $module; serving the health path instead"
            exec /standin/run -m "$module" "$@"
            ;;
    esac
}

pip_main() {
    [ "${1:-}" = install ] || fail "only 'pip install' is stood in for"
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            -r | --requirement)
                [ -f "${2:-}" ] || fail "Could not open requirements file: ${2:-}"
                note "installed nothing from $2"
                shift
                ;;
            -*) ;;
            *)
                if [ -d "$1" ]; then
                    [ -f "$1/pyproject.toml" ] || [ -f "$1/setup.py" ] \
                        || fail "Directory '$1' is not installable"
                fi
                note "installed nothing for $1"
                ;;
        esac
        shift
    done
}

npm_main() {
    case "${1:-}" in
        ci)
            [ -f package.json ] || fail "npm ci: no package.json in $(pwd)"
            [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ] \
                || fail "The 'npm ci' command can only install with an existing package-lock.json"
            mkdir -p node_modules
            note "installed nothing"
            ;;
        run | run-script)
            script=${2:-}
            [ -f package.json ] || fail "no package.json in $(pwd)"
            if grep -q "\"$script\"[[:space:]]*:" package.json; then
                note "did not run script $script"
            else
                case " $* " in
                    *" --if-present "*) ;;
                    *) fail "Missing script: \"$script\"" ;;
                esac
            fi
            ;;
        prune | install | i) note "did nothing for: npm $*" ;;
        *) fail "only npm ci, run, prune and install are stood in for" ;;
    esac
}

case "$tool" in
    node) node_main "$@" ;;
    python | python3) python_main "$@" ;;
    pip | pip3) pip_main "$@" ;;
    npm) npm_main "$@" ;;
    apt-get) note "installed nothing: apt-get $*" ;;
    *) fail "not a stood-in tool" ;;
esac
"""

#: name in the build context -> (text, executable)
FILES: dict[str, tuple[str, bool]] = {
    "Dockerfile": (DOCKERFILE, False),
    "run": (RUN, True),
    "probe": (PROBE, True),
    "runtime": (RUNTIME, True),
}
