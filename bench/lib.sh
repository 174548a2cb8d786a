# Shared by the benchmark scripts (sourced, not run): the build to
# measure, a ztiam server on a free loopback port with a throwaway data
# directory, the API calls that set up its data, and a wrk run read back.
#
#   bench_build [DIR]             sets build and bin (DIR/src/ztiam, DIR
#                                 defaulting to "build"), checks it and
#                                 wrk, and sets duration, threads and
#                                 conns from DURATION (10s), THREADS (2)
#                                 and CONNS (64)
#   free_port                     prints a free loopback TCP port
#   serve_spawn DIR [FLAG...]     starts `$bin serve` with its data and
#                                 output in DIR; sets url, pid and admin
#                                 (the bootstrap token) once it is ready;
#                                 returns 1 if it does not start
#   serve_start NAME [FLAG...]    the same in a new directory tmp, which
#                                 goes, with the server, when the script
#                                 exits
#   serve_stop                    stops that server now and removes tmp
#   api CURL-ARG...               curl with the bootstrap token and a
#                                 JSON body type; fails on non-2xx
#   wrk_measure URL [WRK-ARG...]  a 2 s warm-up, then the measured run
#                                 into $tmp/wrk.txt; sets rps, p99 and
#                                 bad (non-2xx answers, empty for none)

bench_build() {
	build=$(cd "${1:-build}" && pwd)
	bin=$build/src/ztiam
	[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 2; }
	command -v wrk >/dev/null ||
	    { echo "wrk is not installed" >&2; exit 2; }
	duration=${DURATION:-10s}
	threads=${THREADS:-2}
	conns=${CONNS:-64}
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

serve_spawn() {
	_dir=$1
	shift
	_port=$(free_port)
	url=http://127.0.0.1:$_port
	"$bin" serve --listen "127.0.0.1:$_port" --data "$_dir/data" "$@" \
	    >"$_dir/stdout" 2>"$_dir/stderr" &
	pid=$!
	_i=0
	until curl -fs -o /dev/null "$url/readyz"; do
		_i=$((_i + 1))
		if [ $_i -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
			echo "ztiam serve did not start:" >&2
			tail -5 "$_dir/stderr" >&2
			kill $pid 2>/dev/null || true
			return 1
		fi
		sleep 0.1
	done
	admin=$(cat "$_dir/data/bootstrap-token")
}

serve_start() {
	tmp=$(mktemp -d "/tmp/ztiam-bench-$1.XXXXXX")
	shift
	trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
	serve_spawn "$tmp" "$@" || exit 1
}

serve_stop() {
	kill -TERM $pid
	wait $pid || true
	trap - EXIT
	rm -rf "$tmp"
}

api() {
	curl -fsS -H "Authorization: Bearer $admin" \
	    -H 'Content-Type: application/json' "$@"
}

wrk_measure() {
	_target=$1
	shift
	wrk -t"$threads" -c"$conns" -d2s "$@" "$_target" >/dev/null
	wrk -t"$threads" -c"$conns" -d"$duration" --latency "$@" "$_target" \
	    >"$tmp/wrk.txt"
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.txt")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$tmp/wrk.txt")
}
