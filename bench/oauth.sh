#!/bin/sh
# Throughput of the OAuth provider: wrk (2 threads, 64 connections, 10 s
# after a 2 s warm-up) against one issuer's client_credentials token
# endpoint (client_secret_basic, ES256 access tokens, each audited before
# its answer), introspection of a current token, and the discovery and
# JWKS GETs.  SQLite, --log-level warn (no access-log line per request).
# Prints markdown table rows: requests/s, p99, non-2xx; asserts nothing.
# Loopback only.
#
#   bench/oauth.sh BUILD           (BUILD is a meson build directory)
#
# DURATION (default 10s), THREADS (2) and CONNS (64) change the wrk runs.
# With PEERS=1 it also runs the peers of ../shared/peers/oidc (which must
# be set up and started; see their README) on the token endpoint and
# prints the ratios.  bench/oauth_peers.sh does the whole comparison in
# one run: it starts Glewlwyd and node oidc-provider itself and measures
# all three with the same wrk settings on the token and discovery
# endpoints.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_build "${1:-build}"

serve_start oauth --log-level warn
api -o /dev/null -d '{"id":"bench"}' "$url/v1/tenants"
api -o /dev/null -d '{"name":"svc","kind":"service"}' \
    "$url/v1/tenants/bench/account-systems"
client=$(api -d '{"account_system":"svc","grant_types":["client_credentials"],"scope":"bench"}' \
    "$url/v1/tenants/bench/clients")
id=$(printf '%s' "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
secret=$(printf '%s' "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
iss=$url/t/bench/svc
OAUTH_AUTH="Basic $(printf '%s:%s' "$id" "$secret" | base64 -w0)"
export OAUTH_AUTH

# run LABEL URL [post]: one warm-up and one measured run; prints a row.
run() {
	label=$1
	target=$2
	mode=${3:-}
	set --
	[ "$mode" = post ] && set -- -s "$here/oauth_post.lua"
	wrk_measure "$target" "$@"
	printf '| %s (wrk -t%s -c%s -d%s) | %s req/s, p99 %s%s |\n' "$label" \
	    "$threads" "$conns" "$duration" "${rps:-?}" "${p99:-?}" \
	    "${bad:+, $bad non-2xx}"
	echo "${rps:-0}" >"$tmp/rps.$label"
}

OAUTH_BODY="grant_type=client_credentials&scope=bench"
export OAUTH_BODY
code=$(curl -s -o "$tmp/tok.json" -w '%{http_code}' -H "Authorization: $OAUTH_AUTH" \
    -d "$OAUTH_BODY" "$iss/token")
[ "$code" = 200 ] || { echo "token endpoint answered $code" >&2; exit 1; }
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$tmp/tok.json")

run token "$iss/token" post
OAUTH_BODY="token=$token"
run introspect "$iss/introspect" post
run discovery "$iss/.well-known/openid-configuration"
run jwks "$iss/jwks"
audited=$(api "$url/v1/audit?limit=1" >/dev/null && echo yes)
echo "audit chain readable: ${audited:-no}" >&2

if [ "${PEERS:-}" = 1 ]; then
	peers=$(cd "$here/../../shared/peers/oidc" 2>/dev/null && pwd || true)
	[ -n "$peers" ] || peers=/work/shared/peers/oidc
	ours=$(cat "$tmp/rps.token")
	for p in glewlwyd:http://127.0.0.1:4593/api/oidc/token \
	    node:http://127.0.0.1:4600/token; do
		name=${p%%:*}
		target=${p#*:}
		if ! curl -fs -o /dev/null -u bench-client:bench-secret \
		    -d grant_type=client_credentials -d scope=bench "$target"; then
			echo "| peer $name | not running |"
			continue
		fi
		wrk -t"$threads" -c"$conns" -d2s -s \
		    "$peers/bench/token_client_credentials.lua" "$target" \
		    >/dev/null
		wrk -t"$threads" -c"$conns" -d"$duration" --latency -s \
		    "$peers/bench/token_client_credentials.lua" "$target" \
		    >"$tmp/wrk.txt"
		rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.txt")
		p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.txt")
		printf '| peer %s token | %s req/s, p99 %s; ztiam/%s = %s |\n' \
		    "$name" "$rps" "$p99" "$name" \
		    "$(awk -v a="$ours" -v b="$rps" 'BEGIN { printf "%.1f", a / b }')"
	done
fi
serve_stop
