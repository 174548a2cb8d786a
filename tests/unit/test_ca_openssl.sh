#!/bin/sh
# The certificate center checked by openssl's own commands: an issued
# X.509-SVID verifies with -crl_check against the CRL, stops verifying once
# revoked, and `openssl ocsp` reads good, revoked and unknown answers with
# the nonce echoed, from requests it made itself.
#   test_ca_openssl.sh CA_DRIVER
set -eu
drv=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$drv" init "$d"
serial=$("$drv" issue "$d" spiffe://test.example/acme/service/web)
"$drv" crl "$d"
openssl crl -inform DER -in "$d/crl.der" -out "$d/crl.pem"
openssl crl -in "$d/crl.pem" -noout -CAfile "$d/int.pem" 2>&1 |
    grep -q "verify OK" || fail "CRL signature"

# ok before revocation
openssl verify -CAfile "$d/root.pem" -untrusted "$d/int.pem" \
    -crl_check -CRLfile "$d/crl.pem" "$d/leaf.pem" | grep -q ": OK" ||
    fail "verify before revocation"
openssl verify -CAfile "$d/root.pem" -untrusted "$d/int.pem" \
    -purpose sslserver "$d/leaf.pem" >/dev/null || fail "sslserver"
openssl verify -CAfile "$d/root.pem" -untrusted "$d/int.pem" \
    -purpose sslclient "$d/leaf.pem" >/dev/null || fail "sslclient"
# the SVID's one URI SAN
openssl x509 -in "$d/leaf.pem" -noout -ext subjectAltName |
    grep -q "URI:spiffe://test.example/acme/service/web" || fail "SAN"

ocsp_check() {	# ocsp_check NAME EXPECTED [openssl ocsp selection args]
	name=$1 want=$2
	shift 2
	openssl ocsp -issuer "$d/int.pem" "$@" -reqout "$d/$name.req" \
	    >/dev/null 2>&1
	"$drv" ocsp "$d" "$d/$name.req" "$d/$name.resp"
	# -reqin alone: openssl checks the response against that request,
	# nonce included (with -cert it would make a new request).
	out=$(openssl ocsp -respin "$d/$name.resp" -reqin "$d/$name.req" \
	    -CAfile "$d/root.pem" -verify_other "$d/int.pem" -resp_text 2>&1)
	echo "$out" | grep -q "Response verify OK" ||
	    fail "$name: response does not verify: $out"
	echo "$out" | grep -qi "nonce verify error\|no nonce" &&
	    fail "$name: nonce: $out"
	echo "$out" | grep -q "OCSP Nonce" || fail "$name: nonce not echoed"
	echo "$out" | grep -q "Cert Status: $want" ||
	    fail "$name: want $want: $out"
	echo "ocsp $name: $want"
}

ocsp_check good good -cert "$d/leaf.pem"
ocsp_check unknown unknown -serial 0x1234

# A response to another request's nonce is caught by openssl.
openssl ocsp -issuer "$d/int.pem" -cert "$d/leaf.pem" -reqout "$d/other.req" \
    >/dev/null 2>&1
openssl ocsp -respin "$d/good.resp" -reqin "$d/other.req" \
    -CAfile "$d/root.pem" -verify_other "$d/int.pem" 2>&1 | grep -qi "nonce verify error" ||
    fail "nonce mismatch not detected"

# revoked: the CRL and OCSP both say so
"$drv" revoke "$d" "$serial"
"$drv" crl "$d"
openssl crl -inform DER -in "$d/crl.der" -out "$d/crl.pem"
if openssl verify -CAfile "$d/root.pem" -untrusted "$d/int.pem" \
    -crl_check -CRLfile "$d/crl.pem" "$d/leaf.pem" >"$d/v.out" 2>&1; then
	fail "revoked certificate still verifies"
fi
grep -q "certificate revoked" "$d/v.out" || fail "$(cat "$d/v.out")"
openssl crl -in "$d/crl.pem" -noout -text | grep -q "Key Compromise" ||
    fail "CRL reason"
ocsp_check revoked revoked -cert "$d/leaf.pem"

# malformed input answers malformedRequest
printf 'junk' >"$d/junk.req"
"$drv" ocsp "$d" "$d/junk.req" "$d/junk.resp"
openssl ocsp -respin "$d/junk.resp" -resp_text -noverify 2>&1 |
    grep -q "malformedrequest" || fail "malformed request"
echo "all openssl checks passed"
