#!/bin/sh
# Runs a libFuzzer harness for a bounded number of inputs, starting from a
# copy of its seed corpus (libFuzzer writes new inputs into the first
# corpus directory, and the source tree must stay clean).
#   run.sh HARNESS SEED_DIR RUNS [libFuzzer options...]
set -eu
harness=$1 seeds=$2 runs=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -d "$seeds" ] && cp -r "$seeds/." "$work/"
"$harness" -runs="$runs" "$@" "$work"
