#!/bin/sh
# ztiam's OAuth provider side by side with its peers, in one run: Glewlwyd
# (C, Debian package) and node oidc-provider, as set up by
# ../shared/peers/oidc (its install.sh must have run once).  Starts all
# three on loopback with the same confidential client, then runs the same
# wrk workloads, with the same settings, against each: the
# client_credentials token endpoint (client_secret_basic, ES256 JWT access
# tokens; ztiam audits each one durably before its answer) and the
# discovery document.  Prints a markdown table: requests/s, p99, non-2xx,
# the server's CPU time per request (from /proc, all its threads), and the
# ratios ztiam/peer.  Asserts nothing.
#
#   bench/oauth_peers.sh BUILD         (BUILD is a meson build directory)
#
# DURATION (default 10s) of each measured run, after a WARMUP (2s) run;
# THREADS (2) and CONNS (64) set wrk; ENDPOINTS ("token discovery");
# TARGETS ("ztiam glewlwyd node"); PEERS (the peers' directory, default
# ../shared/peers/oidc next to this repository, else /work/shared/...).
# The peers' state goes to a temporary directory and is removed.  Keep
# DURATION short (3s) for a smoke test; the figures need a quiet machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_build "${1:-build}"

warmup=${WARMUP:-2s}
endpoints=${ENDPOINTS:-token discovery}
targets=${TARGETS:-ztiam glewlwyd node}
peers=${PEERS:-}
if [ -z "$peers" ]; then
	for d in "$here/../../shared/peers/oidc" /work/shared/peers/oidc; do
		[ -d "$d" ] && { peers=$(cd "$d" && pwd); break; }
	done
fi
if [ -z "$peers" ] || [ ! -d "$peers/bench" ]; then
	echo "peers directory not found; set PEERS" >&2
	exit 2
fi

tmp=$(mktemp -d /tmp/ztiam-bench-peers.XXXXXX)
PEERS_RUN_DIR=$tmp/peers
GLEWLWYD_PORT=$(free_port)
NODE_OIDC_PORT=$(free_port)
export PEERS_RUN_DIR GLEWLWYD_PORT NODE_OIDC_PORT
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	"$peers/glewlwyd/stop.sh" >/dev/null 2>&1 || true
	"$peers/node-provider/stop.sh" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- ztiam, with a client like the peers' bench-client ----
serve_spawn "$tmp" --log-level warn || exit 1
api -o /dev/null -d '{"id":"bench"}' "$url/v1/tenants"
api -o /dev/null -d '{"name":"svc","kind":"service"}' \
    "$url/v1/tenants/bench/account-systems"
api -d '{"account_system":"svc","grant_types":["client_credentials"],"scope":"bench"}' \
    "$url/v1/tenants/bench/clients" >"$tmp/client.json"
zt_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_id"])' "$tmp/client.json")
zt_secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["client_secret"])' "$tmp/client.json")
rm -f "$tmp/client.json"

# ---- the peers ----
for t in $targets; do
	case $t in
	glewlwyd)
		"$peers/glewlwyd/setup.sh" >"$tmp/glewlwyd.log" 2>&1 || {
			echo "Glewlwyd did not start (see its install.sh):" >&2
			tail -5 "$tmp/glewlwyd.log" >&2
			exit 1
		} ;;
	node)
		"$peers/node-provider/start.sh" >"$tmp/node.log" 2>&1 || {
			echo "node oidc-provider did not start:" >&2
			tail -5 "$tmp/node.log" >&2
			exit 1
		} ;;
	esac
done

# target_info NAME: sets tpid, token, disco, cid, csec for one server.
target_info() {
	case $1 in
	ztiam)
		tpid=$pid
		token=$url/t/bench/svc/token
		disco=$url/t/bench/svc/.well-known/openid-configuration
		cid=$zt_id
		csec=$zt_secret ;;
	glewlwyd)
		tpid=$(cat "$PEERS_RUN_DIR/glewlwyd/glewlwyd.pid")
		token=http://127.0.0.1:$GLEWLWYD_PORT/api/oidc/token
		disco=http://127.0.0.1:$GLEWLWYD_PORT/api/oidc/.well-known/openid-configuration
		cid=bench-client
		csec=bench-secret ;;
	node)
		tpid=$(cat "$PEERS_RUN_DIR/node-provider/provider.pid")
		token=http://127.0.0.1:$NODE_OIDC_PORT/token
		disco=http://127.0.0.1:$NODE_OIDC_PORT/.well-known/openid-configuration
		cid=bench-client
		csec=bench-secret ;;
	*)
		echo "unknown target $1" >&2
		exit 2 ;;
	esac
}

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)

# measure TARGET ENDPOINT: one warm-up and one measured run; appends
# "target endpoint rps p99 non2xx us_cpu_per_request" to results.
measure() {
	target_info "$1"
	if [ "$2" = token ]; then
		target=$token
		script=$peers/bench/token_client_credentials.lua
	else
		target=$disco
		script=$peers/bench/get.lua
	fi
	code=$(curl -s -o "$tmp/check" -w '%{http_code}' -u "$cid:$csec" \
	    -d grant_type=client_credentials -d scope=bench "$token")
	if [ "$code" != 200 ] || ! grep -q access_token "$tmp/check"; then
		echo "$1: the token endpoint answered $code" >&2
		exit 1
	fi
	CLIENT_ID=$cid CLIENT_SECRET=$csec SCOPE=bench AUTH_MODE=basic \
	    wrk -t"$threads" -c"$conns" -d"$warmup" -s "$script" "$target" \
	    >/dev/null
	c0=$(cpu_ticks "$tpid")
	CLIENT_ID=$cid CLIENT_SECRET=$csec SCOPE=bench AUTH_MODE=basic \
	    wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$script" \
	    "$target" >"$tmp/wrk.txt"
	c1=$(cpu_ticks "$tpid")
	n=$(awk '/requests in/ { print $1 }' "$tmp/wrk.txt")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.txt")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")
	bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$tmp/wrk.txt")
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="${n:-0}" \
	    'BEGIN { printf "%.0f", (n > 0) ? (b - a) / hz * 1e6 / n : 0 }')
	echo "$1 $2 ${rps:-0} ${p99:-?} ${bad:-0} $cpu" >>"$tmp/results"
}

: >"$tmp/results"
for ep in $endpoints; do
	for t in $targets; do
		measure "$t" "$ep"
	done
done

echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs," \
    "$(uname -sr); wrk -t$threads -c$conns -d$duration after ${warmup}" \
    "warm-up, each server alone on loopback, client_secret_basic, ES256."
echo
echo "| endpoint | server | req/s | p99 | non-2xx | server CPU/request | ztiam/server |"
echo "|---|---|---:|---:|---:|---:|---:|"
awk '
{ ep[NR] = $2; t[NR] = $1; rps[NR] = $3; p99[NR] = $4; bad[NR] = $5;
  cpu[NR] = $6; if ($1 == "ztiam") ours[$2] = $3 }
END {
	for (i = 1; i <= NR; i++) {
		r = "";
		if (t[i] != "ztiam" && ours[ep[i]] != "" && rps[i] > 0)
			r = sprintf("%.1fx", ours[ep[i]] / rps[i]);
		printf "| %s | %s | %.0f | %s | %s | %s us | %s |\n", ep[i],
		    t[i], rps[i], p99[i], bad[i], cpu[i], r;
	}
}' "$tmp/results"
kill -TERM "$pid"
wait "$pid" || true
pid=
