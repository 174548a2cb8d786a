#!/bin/sh
# Resident memory of `ztiam serve` on a large database: starts the server
# on DATA (whose ztiam.db bench_identity_import -k made, tenant "bench"),
# sends a few reads of that tenant (lists with and without a filter, one
# identity, whoami) with the bootstrap token, and prints VmRSS after them,
# after the same reads twenty times over, and VmHWM.  Asserts nothing;
# loopback only.
#
#   bench_identity_import -n 1000000 -k DIR/ztiam.db
#   bench/server_rss.sh BUILD DIR
set -eu

build=${1:-build}
data=${2:?usage: server_rss.sh BUILD DATA-DIR}
bin=$build/src/ztiam
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 2; }
[ -f "$data/ztiam.db" ] || { echo "no $data/ztiam.db" >&2; exit 2; }

exec python3 - "$bin" "$data" <<'PY'
import http.client, json, os, signal, socket, subprocess, sys, time

binary, data = sys.argv[1], sys.argv[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


port = free_port()
p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:%d" % port,
                      "--data", data, "--log-level", "warn"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    deadline = time.time() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if p.poll() is not None or time.time() > deadline:
            sys.exit("ztiam serve did not become ready")
        time.sleep(0.05)
    ready = status_kib(p.pid, "VmRSS")
    with open(os.path.join(data, "bootstrap-token")) as f:
        token = f.read().strip()
    auth = {"Authorization": "Bearer " + token}

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", path, headers=auth)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit("GET %s: %d %s" % (path, r.status, body[:200]))
        return json.loads(body)

    def reads():
        page = get("/v1/tenants/bench/identities?limit=1000")
        get("/v1/tenants/bench/identities?kind=person&attr.dept=d7")
        get("/v1/tenants/bench/identities/%s" % page["items"][500]["id"])
        get("/v1/whoami")

    reads()
    after = status_kib(p.pid, "VmRSS")
    for _ in range(20):
        reads()
    more = status_kib(p.pid, "VmRSS")
    hwm = status_kib(p.pid, "VmHWM")
    print("| server RSS when ready | %.1f MiB | - |" % (ready / 1024))
    print("| server RSS after 4 reads | %.1f MiB | < 50 MB |"
          % (after / 1024))
    print("| server RSS after 84 reads (peak %.1f MiB) | %.1f MiB "
          "| < 50 MB |" % (hwm / 1024, more / 1024))
finally:
    p.send_signal(signal.SIGTERM)
    p.wait(30)
PY
