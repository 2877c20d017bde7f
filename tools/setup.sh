#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# setup.sh - installs what building and testing logferry needs, and only what
# is missing. Safe to run again: with everything present it changes nothing
# and touches no network.
set -euo pipefail

# Debian packages: compiler, build system, libraries, lint tools, GNU time.
PACKAGES=(
    build-essential cmake pkg-config
    librdkafka-dev libyajl-dev libcurl4-openssl-dev libpcre2-dev libzstd-dev
    libmicrohttpd-dev libcmocka-dev zlib1g-dev
    prometheus kcat maven openjdk-17-jre-headless
    clang-format cppcheck clang-tidy
    time
)

log=$(mktemp "${TMPDIR:-/tmp}/logferry-setup.XXXXXX")
trap 'rm -f "$log"' EXIT

setup_fail() {
    echo "setup: $1 failed; its output:" >&2
    tail -n 40 "$log" >&2
    exit 1
}

# Runs a command as root: directly, or through sudo for a normal user.
setup_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup: need root (or sudo) to run: $*" >&2
        exit 1
    fi
}

setup_is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    setup_is_installed "$pkg" || missing+=("$pkg")
done

# pytest for the python3 found on PATH (the one CTest runs). Debian's
# python3-pytest only serves /usr/bin/python3, so prefer pip when the
# python3 on PATH is another interpreter.
need_pytest=0
python3 -m pytest --version >/dev/null 2>&1 || need_pytest=1
if [ "$need_pytest" = 1 ] && [ "$(command -v python3)" = /usr/bin/python3 ]; then
    setup_is_installed python3-pytest || missing+=(python3-pytest)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # One retry: a mirror can fail for a moment.
    setup_as_root apt-get update -qq >"$log" 2>&1 ||
        setup_as_root apt-get update -qq >>"$log" 2>&1 ||
        setup_fail "apt-get update"
    setup_apt_install() {
        setup_as_root apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1
    }
    setup_apt_install || setup_apt_install ||
        setup_fail "apt-get install ${missing[*]}"
fi

if ! python3 -m pytest --version >/dev/null 2>&1; then
    echo "setup: installing pytest with pip" >&2
    python3 -m pip install -q --disable-pip-version-check pytest \
        >"$log" 2>&1 || setup_fail "pip install pytest"
    python3 -m pytest --version >/dev/null 2>&1 ||
        setup_fail "python3 -m pytest after install"
fi

# PyYAML reads the corpus's YAML expectations (tests/integration).
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
    echo "setup: installing pyyaml with pip" >&2
    python3 -m pip install -q --disable-pip-version-check pyyaml \
        >"$log" 2>&1 || setup_fail "pip install pyyaml"
fi

for tool in cmake cc pkg-config clang-format cppcheck clang-tidy /usr/bin/time; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "setup: $tool is still missing after install" >&2
        exit 1
    }
done
