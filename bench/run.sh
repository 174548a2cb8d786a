#!/bin/sh
# Runs every benchmark against one build and prints the figures as a
# markdown table, headed by the machine they were measured on, ready to
# paste into docs/benchmarks.md.  Asserts nothing: figures are compared
# with the targets by a person.
#
#   bench/run.sh BUILD        (BUILD is a meson build directory)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs" \
    "(${cpu:-unknown CPU}), $mem of memory, $(uname -sr);"
echo "ztiam $("$build/src/ztiam" version | awk '{ print $2 }')," \
    "build directory $build."
echo
echo "| measure | result | target |"
echo "|---|---|---|"
"$here/startup.sh" "$build"
"$here/http_get.sh" "$build"
