#!/bin/sh
# Runs the differential suite (run.mjs) against the ztiam binary given as
# the first argument; the rest are passed on.  Node and cedar-wasm are
# required: when either is missing the suite fails, it never skips, so a
# machine without them cannot report the engine as agreeing with Cedar.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
	echo "usage: run.sh ZTIAM [run.mjs options]" >&2
	exit 2
fi
ztiam=$1
shift
if ! command -v node >/dev/null 2>&1; then
	echo "policy-diff: node not found (scripts/deps.sh installs nodejs)" >&2
	exit 1
fi
if [ ! -f "$here/node_modules/@cedar-policy/cedar-wasm/package.json" ]; then
	echo "policy-diff: @cedar-policy/cedar-wasm is not installed;" \
	    "run: (cd $here && npm ci)  (scripts/deps.sh does)" >&2
	exit 1
fi
exec node "$here/run.mjs" --ztiam "$ztiam" "$@"
