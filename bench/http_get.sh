#!/bin/sh
# Throughput of authenticated GETs: wrk (2 threads, 64 connections, 10 s,
# with auth.lua adding the bearer token) against GET /v1/whoami, which
# verifies the token against the database on every request.  Runs on
# SQLite and on a throwaway PostgreSQL started by
# tests/store/with-postgres.sh, both with the default settings (an access
# log line per request at level info), and once more on SQLite with
# --log-level warn to show what the access log costs.  Prints markdown
# table rows with requests/s, p99 latency and the count of non-2xx
# answers (a benchmark of 401s would be meaningless); asserts nothing.
# Loopback only.
#
#   bench/http_get.sh BUILD        (BUILD is a meson build directory)
#
# DURATION (default 10s), THREADS (2) and CONNS (64) change the wrk run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

inner=
if [ "${1:-}" = "--postgres-inner" ]; then
	inner=1
	shift
fi
. "$here/lib.sh"
bench_build "${1:-build}"

# run_one LABEL [DB-URL [SERVE-FLAGS]]: one server, one warm-up, one
# measured wrk run.
run_one() {
	label=$1
	db=${2:-}
	extra=${3:-}
	tmp=$(mktemp -d /tmp/ztiam-bench.XXXXXX)
	set --
	[ -n "$db" ] && set -- --db "$db"
	# shellcheck disable=SC2086
	if ! serve_spawn "$tmp" "$@" $extra; then
		echo "(the $label server)" >&2
		rm -rf "$tmp"
		return 1
	fi

	ZTIAM_TOKEN=$admin
	export ZTIAM_TOKEN
	code=$(curl -s -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $ZTIAM_TOKEN" "$url/v1/whoami")
	if [ "$code" != 200 ]; then
		echo "GET /v1/whoami answered $code, not 200" >&2
	fi

	wrk_measure "$url/v1/whoami" -s "$here/auth.lua"
	errs=$(awk '/Socket errors:/ { sub(/^ *Socket errors: */, ""); print }' \
	    "$tmp/wrk.txt")
	rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' /proc/$pid/status)

	kill -TERM $pid
	wait $pid || echo "ztiam serve ($label) exited $?" >&2
	unset ZTIAM_TOKEN

	printf '| GET /v1/whoami, %s (wrk -t%s -c%s -d%s) | %s req/s, p99 %s' \
	    "$label" "$threads" "$conns" "$duration" "${rps:-?}" "${p99:-?}"
	printf '%s%s, RSS after %s MiB | >= 30,000 req/s |\n' \
	    "${bad:+, $bad non-2xx}" "${errs:+, socket errors: $errs}" \
	    "${rss:-?}"
	rm -rf "$tmp"
}

if [ -n "$inner" ]; then
	run_one PostgreSQL "$ZTIAM_TEST_DB"
	exit 0
fi

run_one SQLite
run_one "SQLite, --log-level warn" "" "--log-level warn"
"$root/tests/store/with-postgres.sh" "$0" --postgres-inner "$build" ||
    echo "| GET /v1/whoami, PostgreSQL | not measured (no server) | |"
