#!/usr/bin/env bash
#
# with-postgres.sh: runs a command against a throwaway PostgreSQL server.
#
#   tests/store/with-postgres.sh COMMAND [ARG...]
#
# Makes a new cluster in a temporary directory, starts it on 127.0.0.1 at a
# free port (its unix socket in the same directory, so it never meets a
# system server), creates a database, and runs COMMAND with
#
#   ZTIAM_TEST_DB=postgres://ztiam@127.0.0.1:PORT/ztiam_test
#
# Then it stops the server and removes the directory, whatever happened,
# and exits with COMMAND's status.  Authentication is "trust": the cluster
# listens on loopback only and lives as long as the command.  fsync stays
# on, so crash tests see real durability.
#
# When ZTIAM_TEST_DB already holds a postgres:// URL, COMMAND simply runs
# against that server.
#
# Tests that need the server itself (crash tests kill and restart it) also
# get:
#   ZTIAM_TEST_PG_CTL     a pg_ctl for this cluster, run as its owner:
#                         "$ZTIAM_TEST_PG_CTL" stop -m immediate
#                         "$ZTIAM_TEST_PG_CTL" start -w
#   ZTIAM_TEST_PG_DATA    the data directory
#   ZTIAM_TEST_PG_PORT    the TCP port
#   ZTIAM_TEST_PG_BINDIR  the server's programs (psql, pg_ctl, ...), also
#                         put first on PATH so client tools match the server
#
# Settings: ZTIAM_PG_BINDIR picks an installation (default: PostgreSQL 15
# as Debian installs it, else the newest in /usr/lib/postgresql, else
# initdb on PATH).  As root the server runs as ZTIAM_PG_USER (default
# "postgres"), because initdb and postgres refuse to run as root.
#
# Exit status 77 (meson's "skipped") means no PostgreSQL server is
# installed here.

set -u

case "${ZTIAM_TEST_DB:-}" in
postgres://* | postgresql://*)
	exec "$@"
	;;
esac

if [ $# -eq 0 ]; then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi

# Port attempts: another process may take the free port we picked before
# the server binds it.
max_tries=5
db_user=ztiam
db_name=ztiam_test

say() {
	echo "with-postgres: $*" >&2
}

find_bindir() {
	local newest

	if [ -n "${ZTIAM_PG_BINDIR:-}" ]; then
		echo "$ZTIAM_PG_BINDIR"
	elif [ -x /usr/lib/postgresql/15/bin/initdb ]; then
		echo /usr/lib/postgresql/15/bin
	elif newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null |
	    sort -V | tail -n 1) && [ -n "$newest" ]; then
		echo "$newest"
	elif command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
	fi
}

bindir=$(find_bindir)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	say "no PostgreSQL server installed; skipping"
	exit 77
fi

runas=()
if [ "$(id -u)" = 0 ]; then
	pg_user=${ZTIAM_PG_USER:-postgres}
	if ! id "$pg_user" >/dev/null 2>&1; then
		say "running as root, and there is no user '$pg_user' to run" \
		    "the server as (set ZTIAM_PG_USER)"
		exit 1
	fi
	runas=(runuser -u "$pg_user" --)
fi

dir=
cleanup() {
	if [ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" stop -m fast -w \
		    -t 30 >/dev/null 2>&1 ||
		    as_owner "$bindir/pg_ctl" -D "$dir/data" stop \
		    -m immediate -w >/dev/null 2>&1
	fi
	if [ -n "$dir" ]; then
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command as the cluster's owner, from a directory it can enter.
as_owner() {
	(cd "$dir" && ${runas[@]+"${runas[@]}"} "$@")
}

# A directory the owner can write: $TMPDIR, or /tmp when the owner cannot
# reach into $TMPDIR.
make_dir() {
	local base

	for base in "${TMPDIR:-/tmp}" /tmp; do
		dir=$(mktemp -d "$base/ztiam-pg.XXXXXX") || continue
		if [ ${#runas[@]} -gt 0 ]; then
			chown "$pg_user:" "$dir" || return 1
		fi
		if as_owner test -w "$dir" 2>/dev/null; then
			return 0
		fi
		rm -rf "$dir"
		dir=
	done
	return 1
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null ||
	    echo $((20000 + RANDOM % 40000))
}

if ! make_dir; then
	say "cannot make a temporary directory the server can use"
	exit 1
fi

if ! as_owner "$bindir/initdb" -D "$dir/data" -U "$db_user" \
    --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
	say "initdb failed:"
	cat "$dir/initdb.log" >&2
	exit 1
fi
echo "include_if_exists = 'ztiam.conf'" >>"$dir/data/postgresql.conf"

started=
for try in $(seq 1 "$max_tries"); do
	port=$(free_port)
	cat >"$dir/ztiam.conf.tmp" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 50
EOF
	chmod 644 "$dir/ztiam.conf.tmp"
	mv "$dir/ztiam.conf.tmp" "$dir/data/ztiam.conf"
	if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
	    -w -t 60 start </dev/null >"$dir/pg_ctl.log" 2>&1; then
		started=1
		break
	fi
	if ! grep -q "could not bind\|already in use" "$dir/server.log" \
	    2>/dev/null; then
		break
	fi
	say "port $port taken (try $try of $max_tries)"
done
if [ -z "$started" ]; then
	say "the server did not start:"
	cat "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null
	exit 1
fi

if ! "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$db_user" \
    "$db_name" >&2; then
	say "createdb failed"
	exit 1
fi

# pg_ctl for the command, bound to this cluster and its owner.
cat >"$dir/pg_ctl" <<EOF
#!/bin/sh
cd '$dir' || exit 1
exec ${runas[*]:-} '$bindir/pg_ctl' -D '$dir/data' -l '$dir/server.log' "\$@"
EOF
chmod 755 "$dir/pg_ctl"

export ZTIAM_TEST_DB="postgres://$db_user@127.0.0.1:$port/$db_name"
export ZTIAM_TEST_PG_CTL="$dir/pg_ctl"
export ZTIAM_TEST_PG_DATA="$dir/data"
export ZTIAM_TEST_PG_PORT="$port"
export ZTIAM_TEST_PG_BINDIR="$bindir"
export PATH="$bindir:$PATH"

"$@"
status=$?
exit "$status"
