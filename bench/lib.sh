# Shared by the benchmark scripts (sourced, not run): a ztiam server on a
# free loopback port with a throwaway data directory, and the API calls
# that set up its data.
#
#   serve_start BIN NAME [FLAG...]   starts `BIN serve` with FLAGs; sets
#                                    tmp (its directory), url, pid and
#                                    admin (the bootstrap token), and
#                                    stops it when the script exits
#   serve_stop                       stops it now and removes tmp
#   api CURL-ARG...                  curl with the bootstrap token and a
#                                    JSON body type; fails on non-2xx

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

serve_start() {
	_bin=$1
	tmp=$(mktemp -d "/tmp/ztiam-bench-$2.XXXXXX")
	shift 2
	_port=$(free_port)
	url=http://127.0.0.1:$_port
	"$_bin" serve --listen "127.0.0.1:$_port" --data "$tmp/data" "$@" \
	    >"$tmp/stdout" 2>"$tmp/stderr" &
	pid=$!
	trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
	_i=0
	until curl -fs -o /dev/null "$url/readyz"; do
		_i=$((_i + 1))
		if [ $_i -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
			echo "ztiam serve did not start" >&2
			tail -5 "$tmp/stderr" >&2
			exit 1
		fi
		sleep 0.1
	done
	admin=$(cat "$tmp/data/bootstrap-token")
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
