/*
 * libFuzzer harness for request-body decoding: zt_json_parse (UTF-8,
 * duplicates, depth) followed by zt_json_decode against a field table like
 * the API's, so both the parser and the strict mapper see hostile input.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name = NULL, *tenant = NULL;
	int64_t ttl = 0;
	bool flag = false;
	json_t *v, *obj = NULL;
	zt_json_field fields[] = {
		{ "name", ZT_J_STRING, true, &name, NULL },
		{ "tenant", ZT_J_STRING, false, &tenant, NULL },
		{ "expires_in", ZT_J_INT, false, &ttl, NULL },
		{ "flag", ZT_J_BOOL, false, &flag, NULL },
		{ "attrs", ZT_J_OBJECT, false, &obj, NULL },
	};

	if (zt_json_parse(&v, (const char *)data, size, 32) == ZT_OK) {
		zt_json_decode(v, fields, ZT_ARRAY_LEN(fields));
		json_decref(v);
	}
	return 0;
}
