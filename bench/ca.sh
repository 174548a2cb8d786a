#!/bin/sh
# The certificate center's figures: bench_ca (issuance, OCSP, CRLs) and,
# in the same run on the same machine, `openssl speed ecdsap256` as the
# raw signing rate issuance is compared with.  Prints markdown for
# docs/benchmarks.md; asserts nothing.
#   bench/ca.sh BUILD [SECONDS]
set -eu
build=${1:-build}
secs=${2:-3}
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) CPUs" \
    "(${cpu:-unknown CPU}), $(uname -sr), $(openssl version)."
echo "Load before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
"$build/bench/bench_ca" "$secs"
openssl speed -seconds "$secs" ecdsap256 2>/dev/null |
    awk '/256 bits ecdsa/ { printf "| openssl speed ecdsap256 (1 process) | %s sign/s, %s verify/s | |\n", $(NF-1), $NF }'
openssl speed -seconds "$secs" -multi 2 ecdsap256 2>/dev/null |
    awk '/256 bits ecdsa/ { printf "| openssl speed -multi 2 ecdsap256 | %s sign/s, %s verify/s | |\n", $(NF-1), $NF }'
echo
echo "Load after: $(cut -d' ' -f1-3 /proc/loadavg)."
