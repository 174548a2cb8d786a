/*
 * A CA key in a PKCS#11 token: test_pkcs11.sh makes a softhsm2 token with
 * a P-256 key pair and runs this program with the module, the key's URI
 * and the PIN in the environment.  The key loads, signs a root
 * certificate inside the token (the signature verifies with its public
 * key), and gives no private value away; a wrong PIN, a PIN in the URI and
 * a missing module are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

#include "base/base.h"
#include "ca/ca.h"
#include "keys/keys.h"

static const char *module, *uri, *pin;

static void
test_pkcs11__refusals(void **state)
{
	EVP_PKEY *pk;

	(void)state;
	/* Before any module loads: a missing one is "unavailable". */
	assert_int_equal(zt_keys_pkcs11_load(&pk, "/nonexistent/p11.so", uri,
	    pin), ZT_EUNAVAIL);
	assert_null(pk);
	assert_int_equal(zt_keys_pkcs11_load(&pk, module, "file:/etc/passwd",
	    pin), ZT_EINVAL);
	assert_int_equal(zt_keys_pkcs11_load(&pk, module,
	    "pkcs11:token=zt;object=ca;pin-value=1234", NULL), ZT_EINVAL);
	assert_non_null(strstr(zt_error_msg(), "not in the URI"));
	assert_int_equal(zt_keys_pkcs11_load(&pk, module, uri, "0000"),
	    ZT_ENOTFOUND);
	assert_int_equal(zt_keys_pkcs11_load(&pk, module,
	    "pkcs11:token=zt;object=nosuchkey;type=private", pin),
	    ZT_ENOTFOUND);
}

static void
test_pkcs11__signs_inside_the_token(void **state)
{
	BIGNUM *priv = NULL;
	EVP_PKEY *pk;
	X509 *root;

	(void)state;
	assert_int_equal(zt_keys_pkcs11_load(&pk, module, uri, pin), ZT_OK);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
	/* The private scalar is not in the process: whatever the engine
	 * keeps there is not the key's (libp11 keeps a placeholder). */
	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &priv))
		assert_true(BN_is_zero(priv));
	BN_free(priv);

	assert_int_equal(zt_ca_root_create(&root, pk, "example.org", 3600),
	    ZT_OK);
	assert_int_equal(X509_verify(root, X509_get0_pubkey(root)), 1);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(root), pk), 1);
	X509_free(root);
	EVP_PKEY_free(pk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkcs11__refusals),
		cmocka_unit_test(test_pkcs11__signs_inside_the_token),
	};

	module = getenv("ZT_P11_MODULE");
	uri = getenv("ZT_P11_URI");
	pin = getenv("ZT_P11_PIN");
	if (module == NULL || uri == NULL || pin == NULL) {
		fprintf(stderr, "run through test_pkcs11.sh\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
