#!/bin/sh
# The authorization engines side by side on the peers' workload
# (/work/shared/peers/authz: seeded RBAC+ABAC policies, seed-format
# requests, cedar-wasm and node-casbin ready to run): ztiam's in-process
# decisions (bench_authz_seed) at about 100, 1,000 and 10,000 policies
# with 100,000 users, then cedar-wasm and casbin on the same policies and
# requests in the same run, and the ratios.  Prints markdown; asserts
# nothing.  The peers' copy and its node_modules go to bench/results/.
#   bench/authz_peers.sh BUILD [PEERS]
set -eu
build=$(cd "${1:?usage: authz_peers.sh BUILD [PEERS]}" && pwd)
peers=${2:-/work/shared/peers/authz}
here=$(cd "$(dirname "$0")" && pwd)
work=$here/results/authz-peers
mkdir -p "$work"
cp "$peers"/*.js "$peers"/package.json "$peers"/package-lock.json "$work"/
[ -d "$work/node_modules" ] ||
	(cd "$work" && npm ci --no-audit --no-fund --loglevel=error)

echo "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| policies | entities | requests | parse ms | entities ms | decisions/s | p50 us | p99 us | disagreements |"
echo "|---|---|---|---|---|---|---|---|---|"
for apps in 6 62 624; do
	AUTHZ_APPS=$apps node "$here/authz/dump.js" "$work" "$work/w$apps" \
	    --n 10000 --users 100000 2>/dev/null
	"$build/bench/bench_authz_seed" "$work/w$apps" 5
done
echo
# The peers re-read the workload themselves; fewer requests at scale, as
# their cost grows with the number of policies.
for apps in 6 62 624; do
	case $apps in 6) n=10000 ;; 62) n=2000 ;; *) n=200 ;; esac
	echo "## AUTHZ_APPS=$apps, $n requests"
	(cd "$work" && AUTHZ_APPS=$apps node cedar_bench.js --n $n --runs 3 |
	    grep -E '^(cedar-wasm|statefulIsAuthorized \(pre)')
	(cd "$work" && AUTHZ_APPS=$apps node casbin_bench.js --n $n --runs 3 |
	    grep -E '^(node-casbin|enforceSync)')
done
