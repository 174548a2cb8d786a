#!/bin/sh
# Runs every test suite in each build directory given and prints one
# closing line with the totals.  Usage: tests/run-all.sh BUILD [BUILD...]
#   build        unit, store (SQLite and PostgreSQL), integration
#   build-asan   the same under AddressSanitizer + UBSan
#   build-fuzz   each libFuzzer harness for a short bounded run
set -u
passed=0
failed=0
skipped=0
for dir in "$@"; do
	log="$dir/meson-logs/run-all.txt"
	echo "== meson test -C $dir"
	meson test -C "$dir" --no-rebuild --print-errorlogs \
	    --num-processes 2 >"$log" 2>&1
	status=$?
	grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Skipped|Timeout|Expected Fail|Unexpected Pass):' "$log"
	ok=$(awk '/^Ok:/ {print $2}' "$log")
	bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$log")
	skip=$(awk '/^Skipped:/ {print $2}' "$log")
	if [ -z "$ok" ]; then
		# meson itself failed before running anything
		sed -n '1,80p' "$log"
		bad=$((bad + 1))
		ok=0
	elif [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	[ "$bad" -ne 0 ] && sed -n '/^Summary of Failures/,$p' "$log" | head -40
	passed=$((passed + ok))
	failed=$((failed + bad))
	skipped=$((skipped + ${skip:-0}))
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
