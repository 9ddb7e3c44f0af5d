#!/usr/bin/env bash
# The Debian packages fleetform's tests need beyond Python (the engine's are scripts/engine.sh's):
#   strace   the fault-injection tests kill fleetform at its N-th process spawn with it.
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
[[ ${#packages[@]} -eq 0 ]] && exit 0
say "installing ${packages[*]}"
quiet=(env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1)
as_root "${quiet[@]}" apt-get update -qq
as_root "${quiet[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
