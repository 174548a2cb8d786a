/*
 * pkcs11.c: private keys that never leave a PKCS#11 token.
 *
 * Debian 12 ships no OpenSSL 3 provider for PKCS#11, only libp11's
 * engine (libengine-pkcs11-openssl), so this file uses OpenSSL's ENGINE
 * interface, deprecated in OpenSSL 3 but present; it is the one file of
 * ztiam that does, and it says so to the compiler.  The engine hands back
 * an EVP_PKEY whose private operations it forwards to the token: the key
 * signs there and is never read out (a token's key is created with
 * CKA_EXTRACTABLE false, as pkcs11-tool and softhsm2 do by default).
 *
 * One engine is set up per process, for one module; its handle is kept
 * for the life of the process, as every key loaded from it needs it.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/engine.h>

#include "base/base.h"
#include "keys/keys.h"

static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;
static ENGINE *engine;
static char engine_module[4096];
static bool engine_used;	/* a key has loaded through it */

/* The engine for `module`, set up on the first call; NULL on failure
 * with the error set.  The caller holds engine_lock. */
static ENGINE *
engine_get(const char *module)
{
	ENGINE *e;

	if (engine != NULL) {
		if (strcmp(engine_module, module) != 0) {
			zt_error_set(ZT_EINVAL, "one PKCS#11 module per "
			    "process: %s is loaded", engine_module);
			return NULL;
		}
		return engine;
	}
	if (strlen(module) >= sizeof(engine_module)) {
		zt_error_set(ZT_EINVAL, "PKCS#11 module path too long");
		return NULL;
	}
	if (access(module, R_OK) != 0) {
		zt_error_set(ZT_EUNAVAIL, "cannot read the PKCS#11 module %s",
		    module);
		return NULL;
	}
	ENGINE_load_builtin_engines();
	if ((e = ENGINE_by_id("pkcs11")) == NULL) {
		zt_error_set(ZT_EUNAVAIL, "OpenSSL's pkcs11 engine is not "
		    "installed (Debian: libengine-pkcs11-openssl)");
		return NULL;
	}
	if (!ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0) ||
	    !ENGINE_init(e)) {
		ENGINE_free(e);
		zt_error_set(ZT_EUNAVAIL, "the PKCS#11 module %s did not "
		    "load", module);
		return NULL;
	}
	ENGINE_free(e);		/* ENGINE_init holds its own reference */
	snprintf(engine_module, sizeof(engine_module), "%s", module);
	return engine = e;
}

int
zt_keys_pkcs11_load(EVP_PKEY **out, const char *module, const char *uri,
    const char *pin)
{
	EVP_PKEY *pk = NULL;
	ENGINE *e;

	*out = NULL;
	if (module == NULL || uri == NULL || strncmp(uri, "pkcs11:", 7) != 0)
		return zt_error_set(ZT_EINVAL, "a PKCS#11 key needs a module "
		    "path and a pkcs11: URI (RFC 7512)");
	if (strstr(uri, "pin-value") != NULL)
		return zt_error_set(ZT_EINVAL, "put the PIN in the PIN "
		    "setting, not in the URI, so that it is not logged");
	pthread_mutex_lock(&engine_lock);
	if ((e = engine_get(module)) != NULL &&
	    (pin == NULL || ENGINE_ctrl_cmd_string(e, "PIN", pin, 0)))
		pk = ENGINE_load_private_key(e, uri, NULL, NULL);
	/* libp11 opens the module at the first load: until one key has
	 * loaded, a failure may be the module's, so the next call starts
	 * over (perhaps with another module). */
	if (e != NULL && pk == NULL && !engine_used) {
		ENGINE_finish(e);
		engine = NULL;
	}
	engine_used |= pk != NULL;
	pthread_mutex_unlock(&engine_lock);
	if (e == NULL)
		return zt_error_code();
	if (pk == NULL)
		return zt_error_set(ZT_ENOTFOUND, "no private key at that "
		    "PKCS#11 URI, or the PIN is wrong");
	*out = pk;
	return ZT_OK;
}
