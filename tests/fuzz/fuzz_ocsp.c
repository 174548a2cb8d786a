/*
 * libFuzzer harness for the OCSP responder (ca/ocsp.c), which parses
 * OCSPRequests from anyone on the network, and for the GET decoding.
 * A throwaway CA is made once; the status source answers "good" for
 * every serial.  Every input must get a response that parses as an
 * OCSPResponse; only out-of-memory may make it fail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>

#include "base/base.h"
#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zt_ca *ca;

static int
all_good(void *arg, const char *key_id, const char *serial,
    enum zt_ca_status *status, int64_t *at, int *reason)
{
	(void)arg;
	(void)key_id;
	(void)serial;
	(void)at;
	(void)reason;
	*status = ZT_CA_GOOD;
	return ZT_OK;
}

static void
allow(void *arg, const zt_ca_request *req, zt_ca_decision *out)
{
	(void)arg;
	(void)req;
	out->allow = true;
}

static void
make_ca(void)
{
	zt_ca_config cfg = { .trust_domain = "fuzz.example", .gate = allow };
	EVP_PKEY *k;
	X509 *root;

	if (zt_ca_key_generate(&k, ZT_CA_KEY_P256) < 0 ||
	    zt_ca_root_create(&root, k, "fuzz.example", 86400) < 0 ||
	    zt_ca_new(&ca, &cfg, root, k, NULL) < 0)
		abort();
	X509_free(root);
	EVP_PKEY_free(k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_ca_ocsp rsp = { 0 };
	const uint8_t *p;
	OCSP_RESPONSE *resp;
	uint8_t *out = NULL, *der = NULL;
	size_t outlen, dlen;
	char *s;

	if (ca == NULL)
		make_ca();
	rsp.ca = ca;
	rsp.status = all_good;
	if (zt_ca_ocsp_respond(&out, &outlen, &rsp, data, size) < 0)
		return 0;
	p = out;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)outlen)) == NULL)
		abort();
	OCSP_RESPONSE_free(resp);
	free(out);

	/* The same bytes as a GET path segment. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (zt_ca_ocsp_decode_get(&der, &dlen, s) == ZT_OK) {
		if (dlen == 0 || dlen > size)
			abort();
		free(der);
	}
	free(s);
	return 0;
}
