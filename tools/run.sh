#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh - installs what is missing, builds logferry (RelWithDebInfo) into
# build/ and runs it from the repository root. With no arguments logferry
# runs its embedded default configuration (conf/logferry.conf): it reads
# conf/sample/access.log and prints one JSON record per line on stdout.
# Arguments are passed to logferry, e.g. `tools/run.sh -c my.conf`.
# Build messages go to stderr, so stdout carries only logferry's output.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLF_SANITIZE= >&2
cmake --build build -j "$(nproc)" >&2
exec build/logferry "$@"
