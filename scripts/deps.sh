#!/bin/sh
# Installs the Debian packages ztiam needs to build, test and benchmark,
# but only those missing.  As root it runs apt-get; otherwise it prints the
# exact command to run and fails.
set -eu

PACKAGES="
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libssl-dev openssl libevent-dev libjansson-dev libsqlite3-dev sqlite3
  libpq-dev postgresql libargon2-dev libcurl4-openssl-dev curl
  liboath-dev libqrencode-dev python3-zxcvbn
  softhsm2 opensc libengine-pkcs11-openssl
  libcmocka-dev python3 wrk procps nodejs
  python3-authlib python3-requests python3-cryptography
  certbot lego chromium fonts-liberation
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
# npm comes inside nodesource's nodejs package; Debian ships it apart.
command -v npm >/dev/null 2>&1 || missing="$missing npm"

# The differential suite's Node modules (tests/policy-diff), pinned by its
# package-lock.json and fetched once from the npm registry.
npm_deps() {
	dir="$(cd "$(dirname "$0")/.." && pwd)/tests/policy-diff"
	if [ ! -d "$dir/node_modules" ]; then
		echo "installing node modules for tests/policy-diff (npm ci)" >&2
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
	# The OAuth provider's certified clients (tests/oidc): openid-client,
	# oauth4webapi and jose, and playwright-core for the browser test
	# (which drives Debian's chromium), pinned by its
	# package-lock.json.
	dir="$(cd "$(dirname "$0")/.." && pwd)/tests/oidc"
	if [ ! -d "$dir/node_modules" ] ||
	    [ ! -d "$dir/node_modules/playwright-core" ]; then
		echo "installing node modules for tests/oidc (npm ci)" >&2
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
}

[ -z "$missing" ] && { npm_deps; exit 0; }

if [ "$(id -u)" -ne 0 ]; then
	echo "ztiam needs these Debian packages:$missing" >&2
	echo "run as root:  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
npm_deps
