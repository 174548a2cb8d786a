#!/bin/sh
# The decision API over HTTP: wrk (2 threads, 64 connections, 10 s)
# against POST /v1/authorize on a server holding one application with a
# realistic store (100 policies: 50 group permits on article folders, 40
# attribute conditions, 10 forbids, a tenant-wide forbid) and 1,000
# users in 20 groups with attributes.  Prints requests/s, wrk's p99 and
# the server-side p50/p99 taken from the access log's duration_us of the
# measured run; asserts nothing.  SQLite, loopback only.
#
#   bench/authz_http.sh BUILD      (BUILD is a meson build directory)
#
# DURATION (default 10s), THREADS (2), CONNS (64) change the wrk run;
# SERVE_FLAGS adds flags to `ztiam serve` (--decision-log off, say).
# ROLES=1 gives the 50 folder permits as 20 roles instead (role rNN may
# read the folders k with k % 20 == NN, granted to group gNN), so the
# decisions go through Role parents and the role policies.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_build "${1:-build}"

# shellcheck disable=SC2086
serve_start authz ${SERVE_FLAGS:-}
ZTIAM_TOKEN=$admin
export ZTIAM_TOKEN

# The data set, made through the API.
ROLES=${ROLES:-} python3 - "$url" <<'PY'
import json, os, sys, urllib.request
url, tok = sys.argv[1], os.environ["ZTIAM_TOKEN"]
def call(method, path, body=None, ctype="application/json"):
    data = body if isinstance(body, bytes) else (
        json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + path, data=data, method=method,
        headers={"Authorization": "Bearer " + tok, "Content-Type": ctype})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
T = "/v1/tenants/bench"
call("POST", "/v1/tenants", {"id": "bench"})
lines = "".join(json.dumps({"kind": "person", "name": "user%04d" % i,
    "state": "active", "attributes": {"level": str(i % 7),
    "department": "d%d" % (i % 5)}}) + "\n" for i in range(1000))
call("POST", T + "/identities/import", lines.encode(), "application/x-ndjson")
ids = {}
cursor = None
while True:
    q = "?limit=1000" + ("&cursor=" + cursor if cursor else "")
    page = call("GET", T + "/identities" + q)
    ids.update({i["name"]: i["id"] for i in page["items"]})
    cursor = page.get("next_cursor")
    if not cursor:
        break
groups = [call("POST", T + "/groups", {"name": "g%02d" % g})["id"]
          for g in range(20)]
for i in range(1000):
    call("POST", T + "/groups/%s/members" % groups[i % 20],
         {"type": "identity", "id": ids["user%04d" % i]})
call("POST", T + "/apps", {"appid": "eihxiidhh23s"})
schema = {"": {"entityTypes": {
    "User": {"memberOfTypes": ["Group", "Role"], "shape": {"type": "Record",
        "attributes": {"level": {"type": "Long"},
                       "department": {"type": "String"}}}},
    "Group": {}, "Role": {}, "Application": {},
    "Resource": {"memberOfTypes": ["Resource", "Application"]}},
  "actions": {"read": {}, "getArticleID": {"memberOf": [{"id": "read"}],
    "appliesTo": {"principalTypes": ["User"], "resourceTypes": ["Resource"],
      "context": {"type": "Record", "attributes": {
        "remoteIP": {"type": "Extension", "name": "ipaddr"},
        "trustScore": {"type": "Long"}}}}}}}}
call("PUT", T + "/apps/eihxiidhh23s/schema", schema)
pol = []
roles = bool(os.environ.get("ROLES"))
for k in range(0 if roles else 50):
    pol.append('@id("folder%d") permit(principal in Group::"g%02d", '
               'action in Action::"read", resource in '
               'Resource::"resources:articles:a%d");' % (k, k % 20, k))
for k in range(40):
    pol.append('@id("attr%d") permit(principal, action == '
               'Action::"getArticleID", resource in Resource::"resources:'
               'articles:a%d") when { principal.level >= %d && '
               'context.trustScore > %d && principal.department == "d%d" };'
               % (k, k, k % 7, 50 + k % 30, k % 5))
for k in range(10):
    pol.append('@id("deny%d") forbid(principal, action, resource in '
               'Resource::"resources:articles:a%d") when { '
               'context.trustScore < %d };' % (k, k * 5, 45 + k))
call("PUT", T + "/apps/eihxiidhh23s/policies", "\n".join(pol).encode(),
     "application/cedar")
for r in range(20 if roles else 0):
    perms = [{"actions": ["read"], "resource_prefix":
              "resources:articles:a%d" % k} for k in range(r, 50, 20)]
    call("POST", T + "/apps/eihxiidhh23s/roles", {"role": "r%02d" % r,
         "permissions": perms})
    call("POST", T + "/apps/eihxiidhh23s/roles/r%02d/grants" % r,
         {"group": groups[r]})
call("PUT", T + "/policies", b'@id("net") forbid(principal, action, '
     b'resource) when { context.remoteIP.isInRange(ip("10.0.0.0/8")) };',
     "text/plain")
PY

echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs," \
    "$(uname -sr); wrk -t$threads -c$conns -d$duration, SQLite, 100" \
    "policies${ROLES:+ (50 of them from 20 roles)} + 1 tenant-wide," \
    "1,000 users in 20 groups."
wrk -t"$threads" -c"$conns" -d2s -s "$here/authz.lua" "$url" >/dev/null
before=$(wc -l <"$tmp/stderr")
wrk -t"$threads" -c"$conns" -d"$duration" --latency \
    -s "$here/authz.lua" "$url" >"$tmp/wrk.txt"
tail -n +"$((before + 1))" "$tmp/stderr" | python3 -c '
import json, re, sys
d = []
codes = {}
for line in sys.stdin:
    if "\"route\":\"authorize\"" not in line:
        continue
    m = json.loads(line)
    d.append(m["duration_us"])
    codes[m["status"]] = codes.get(m["status"], 0) + 1
d.sort()
rps = re.search(r"Requests/sec:\s+([\d.]+)", open(sys.argv[1]).read())
p99w = re.search(r"\s99%\s+(\S+)", open(sys.argv[1]).read())
pick = lambda q: d[min(len(d) - 1, int(q * len(d)))] if d else 0
print("| POST /v1/authorize | %.0f req/s | wrk p99 %s | server p50 %d us, p99 %d us | statuses %s |"
      % (float(rps.group(1)) if rps else 0, p99w.group(1) if p99w else "?",
         pick(0.50), pick(0.99), codes))
' "$tmp/wrk.txt"
curl -s "$url/metrics" | grep -E '^ztiam_authz_decisions_total|^ztiam_decision_log_(written|dropped)'
