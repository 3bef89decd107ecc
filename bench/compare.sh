#!/usr/bin/env bash
# Side-by-side comparison of wsedge with nginx, HAProxy and Caddy (see
# bench/README.md). Builds wsedge in Release, installs what is missing from
# Debian, and runs bench/compare.py; every argument is passed on, e.g.
#   bench/compare.sh --quick
#   bench/compare.sh --schemes ws --scenarios 1k --repeat 3
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory deps
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DWSEDGE_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j "$(nproc)" >/dev/null
exec /usr/bin/python3 bench/compare.py --build build-release "$@"
