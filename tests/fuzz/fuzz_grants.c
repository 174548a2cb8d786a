/*
 * libFuzzer harness for what the grant endpoints read from people and
 * clients before anything is looked up: user codes typed on the device
 * page (zt_user_code_normalise) and the registration body of dynamic
 * client registration (zt_json_parse, then zt_client_metadata, as
 * oidc/dcr.c reads it).  The first byte picks the parser.  Beyond not
 * crashing: a normalised user code is exactly ZT_USER_CODE_LEN letters of
 * the alphabet, and normalising it again gives the same code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_user_code(const char *in)
{
	char out[ZT_USER_CODE_LEN + 1], again[ZT_USER_CODE_LEN + 1];
	size_t i;

	if (zt_user_code_normalise(out, in) < 0)
		return;
	if (strlen(out) != ZT_USER_CODE_LEN)
		abort();
	for (i = 0; i < ZT_USER_CODE_LEN; i++)
		if (strchr("BCDFGHJKLMNPQRSTVWXZ", out[i]) == NULL ||
		    out[i] == '\0')
			abort();
	if (zt_user_code_normalise(again, out) < 0 ||
	    strcmp(again, out) != 0)
		abort();
}

static void
fuzz_registration(const char *in, size_t n)
{
	json_t *body = NULL, *meta = NULL;

	if (zt_json_parse(&body, in, n, 8) < 0)
		return;
	if (json_is_object(body) && json_object_get(body, "account_system") ==
	    NULL) {
		json_object_set_new(body, "account_system", json_string("s"));
		if (zt_client_metadata(&meta, body) == ZT_OK &&
		    !json_is_object(meta))
			abort();
	}
	json_decref(meta);
	json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] & 1)
		fuzz_registration(s, size - 1);
	else
		fuzz_user_code(s);
	free(s);
	return 0;
}
