/* Shared by the files of jose/; not part of the module's interface. */
#ifndef ZT_JOSE_INT_H
#define ZT_JOSE_INT_H

#include <stdatomic.h>

#include <openssl/evp.h>

#include "jose/jose.h"

enum jose_kty { KTY_EC, KTY_RSA, KTY_OKP };

struct zt_jose_key {
	EVP_PKEY *pkey;
	enum jose_kty kty;
	bool private;		/* holds the private half */
	_Atomic int refs;
};

/* Smallest and largest RSA moduli accepted, in bits.  Below 2048 is
 * forbidden by RFC 7518 3.3; above 8192 only costs verifiers time. */
#define JOSE_RSA_MIN_BITS 2048
#define JOSE_RSA_MAX_BITS 8192

/* Takes a reference. */
zt_jose_key *jose_key_ref(zt_jose_key *key);
/* Drops whatever OpenSSL left on its error queue, so that a later,
 * unrelated failure does not report it. */
void jose_ossl_clear(void);

#endif
