#!/bin/sh
# Start-up cost of `ztiam serve`: milliseconds from exec to the first
# 200 from /readyz, for a first start (empty data directory: migrations
# and the bootstrap token) and for a restart on existing data, each the
# median of RUNS runs (default 10); and the resident memory (VmRSS) of an
# idle server a second after it is ready.  Prints markdown table rows and
# asserts nothing.  SQLite only; loopback only.
#
#   bench/startup.sh BUILD        (BUILD is a meson build directory)
set -eu

build=${1:-build}
bin=$build/src/ztiam
[ -x "$bin" ] || { echo "no $bin: build first" >&2; exit 2; }

exec python3 - "$bin" "${RUNS:-10}" <<'PY'
import os, shutil, signal, socket, statistics, subprocess, sys, tempfile
import time

binary, runs = sys.argv[1], int(sys.argv[2])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    """One GET /readyz on a raw socket: cheap enough to poll every ms."""
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start(data):
    """Returns (ms to ready, process)."""
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--listen",
                          "127.0.0.1:%d" % port, "--data", data],
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = t0 + 30
    while not ready(port):
        if p.poll() is not None or time.perf_counter() > deadline:
            p.kill()
            sys.exit("ztiam serve did not become ready")
        time.sleep(0.001)
    return (time.perf_counter() - t0) * 1000, p


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(30)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


first, again, rss = [], [], []
for _ in range(runs):
    tmp = tempfile.mkdtemp(prefix="ztiam-bench-")
    try:
        data = os.path.join(tmp, "data")
        ms, p = start(data)
        first.append(ms)
        stop(p)
        ms, p = start(data)
        again.append(ms)
        time.sleep(1)
        rss.append(rss_kib(p.pid))
        stop(p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

print("| ready after exec, first start (median of %d) | %.1f ms "
      "(min %.1f, max %.1f) | < 100 ms |"
      % (runs, statistics.median(first), min(first), max(first)))
print("| ready after exec, restart (median of %d) | %.1f ms "
      "(min %.1f, max %.1f) | < 100 ms |"
      % (runs, statistics.median(again), min(again), max(again)))
print("| idle RSS, 1 s after ready (median of %d) | %.1f MiB | < 20 MB |"
      % (runs, statistics.median(rss) / 1024))
PY
