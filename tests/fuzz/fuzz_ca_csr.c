/*
 * libFuzzer harness for the CSR checks of the certificate center
 * (ca/issue.c: zt_ca_csr_check), which read PKCS#10 requests in DER or
 * PEM from any caller.  Beyond not crashing: a refusal is one of the
 * documented codes with a message, and an accepted request hands back a
 * public key of a kind the CA signs for.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/base.h"
#include "ca/ca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *pub = NULL;
	int rc, id;

	rc = zt_ca_csr_check(&pub, data, size);
	if (rc == ZT_OK) {
		id = EVP_PKEY_get_id(pub);
		if (pub == NULL || (id != EVP_PKEY_RSA && id != EVP_PKEY_EC &&
		    id != EVP_PKEY_ED25519))
			abort();
		if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pub) < 2048)
			abort();
	} else if ((rc != ZT_EINVAL && rc != ZT_ETOOBIG && rc != ZT_ENOMEM) ||
	    zt_error_msg()[0] == '\0') {
		abort();
	}
	EVP_PKEY_free(pub);
	return 0;
}
