/*
 * libFuzzer harness for OAuth client metadata (oidc/meta.c), which the
 * admin API and, later, dynamic client registration take from callers.
 * Beyond not crashing: accepted metadata is in normal form, so checking
 * it again must accept it unchanged; and every redirect URI it kept is
 * printable ASCII without a fragment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_uris(json_t *list)
{
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);

		if (s == NULL || strchr(s, '#') != NULL)
			abort();
		for (; *s != '\0'; s++)
			if (*s <= ' ' || *s > '~')
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = NULL, *out = NULL, *again = NULL;

	if (zt_json_parse(&in, (const char *)data, size, 8) < 0)
		return 0;
	if (zt_client_metadata(&out, in) == ZT_OK) {
		check_uris(json_object_get(out, "redirect_uris"));
		check_uris(json_object_get(out, "post_logout_redirect_uris"));
		if (zt_client_metadata(&again, out) != ZT_OK ||
		    !json_equal(again, out))
			abort();
	} else if (out != NULL) {
		abort();
	}
	json_decref(again);
	json_decref(out);
	json_decref(in);
	return 0;
}
