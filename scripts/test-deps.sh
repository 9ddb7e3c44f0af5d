#!/usr/bin/env bash
# The Debian packages fleetform's tests need beyond Python (the engine's are scripts/engine.sh's):
#   strace   the fault-injection tests kill fleetform at its N-th process spawn with it.
#   rsync    gitlab-ci-local copies the project into each job's build folder with it.
#   npm      installs package.json's tools into ./node_modules (below); any Node runs it.
# Then the npm tools of package-lock.json (gitlab-ci-local on Node 22 from the npm package
# `node`), with `npm ci` into the checkout, again only when the lock file changed.
# Installs what is missing (apt-get, as root or with passwordless sudo); idempotent.
set -euo pipefail

say() { echo "test-deps.sh: $*" >&2; }

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

packages=()
command -v strace >/dev/null 2>&1 || packages+=(strace)
command -v rsync >/dev/null 2>&1 || packages+=(rsync)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [[ ${#packages[@]} -gt 0 ]]; then
    say "installing ${packages[*]}"
    quiet=(env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1)
    as_root "${quiet[@]}" apt-get update -qq
    as_root "${quiet[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# The stamp is newer than the lock file exactly when node_modules/ holds what it pins.
cd "$(dirname "$0")/.."
stamp=node_modules/.fleetform-installed
if [[ ! -e $stamp || package-lock.json -nt $stamp || package.json -nt $stamp ]]; then
    say "installing package-lock.json's tools into node_modules/ (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    touch "$stamp"
fi
