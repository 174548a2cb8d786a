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
build=$(cd "${1:-build}" && pwd)
bin=$build/src/ztiam
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

duration=${DURATION:-10s}
threads=${THREADS:-2}
conns=${CONNS:-64}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# run_one LABEL [DB-URL [SERVE-FLAGS]]: one server, one warm-up, one
# measured wrk run.
run_one() {
	label=$1
	db=${2:-}
	extra=${3:-}
	tmp=$(mktemp -d /tmp/ztiam-bench.XXXXXX)
	port=$(free_port)
	url=http://127.0.0.1:$port

	set -- --listen "127.0.0.1:$port" --data "$tmp/data"
	[ -n "$db" ] && set -- "$@" --db "$db"
	# shellcheck disable=SC2086
	set -- "$@" $extra
	"$bin" serve "$@" >"$tmp/stdout" 2>"$tmp/stderr" &
	pid=$!

	i=0
	until curl -fs -o /dev/null "$url/readyz"; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
			echo "ztiam serve ($label) did not start:" >&2
			tail -5 "$tmp/stderr" >&2
			kill $pid 2>/dev/null || true
			rm -rf "$tmp"
			return 1
		fi
		sleep 0.1
	done

	ZTIAM_TOKEN=$(cat "$tmp/data/bootstrap-token")
	export ZTIAM_TOKEN
	code=$(curl -s -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $ZTIAM_TOKEN" "$url/v1/whoami")
	if [ "$code" != 200 ]; then
		echo "GET /v1/whoami answered $code, not 200" >&2
	fi

	wrk -t"$threads" -c"$conns" -d2s -s "$here/auth.lua" \
	    "$url/v1/whoami" >/dev/null
	wrk -t"$threads" -c"$conns" -d"$duration" --latency \
	    -s "$here/auth.lua" "$url/v1/whoami" >"$tmp/wrk.txt"

	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.txt")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$tmp/wrk.txt")
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
