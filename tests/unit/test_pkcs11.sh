#!/bin/sh
# Makes a throwaway softhsm2 token holding a P-256 key pair (made inside
# the token, not extractable) and runs test_pkcs11 against it.
#   test_pkcs11.sh TEST_BINARY
set -eu
module=/usr/lib/softhsm/libsofthsm2.so
for tool in softhsm2-util pkcs11-tool; do
	command -v $tool >/dev/null || {
		echo "$tool is missing (Debian: softhsm2, opensc)" >&2; exit 1; }
done
[ -f $module ] || { echo "$module is missing (softhsm2)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' \
    "$dir" > "$dir/softhsm2.conf"
export SOFTHSM2_CONF="$dir/softhsm2.conf"
softhsm2-util --init-token --free --label zt --pin 1234 --so-pin 5678 \
    >/dev/null
pkcs11-tool --module $module --login --pin 1234 --keypairgen \
    --key-type EC:prime256v1 --label ca --id 01 >/dev/null 2>&1
# The token holds the private key as sensitive and never extractable.
pkcs11-tool --module $module --login --pin 1234 --list-objects \
    --type privkey 2>/dev/null | grep -q 'sensitive.*never extractable' || {
	echo "the token's private key may leave it" >&2; exit 1; }
ZT_P11_MODULE=$module ZT_P11_URI="pkcs11:token=zt;object=ca;type=private" \
    ZT_P11_PIN=1234 "$1"
