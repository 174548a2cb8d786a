/*
 * libFuzzer harness for the router: a fixed table shaped like the API's
 * (literals, parameters, a literal shadowing a parameter, shared
 * prefixes) built once, then each input is a method byte and a path.
 * Besides the sanitizers' checks it asserts what a match promises: a
 * route index from the table, parameter values that are non-empty single
 * segments, and a 405 only with some allowed method.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
	"/", "/healthz", "/metrics", "/v1/tokens", "/v1/tokens/{id}",
	"/v1/tokens/{id}/revoke", "/v1/users/me", "/v1/users/{id}",
	"/v1/users/{id}/keys/{kid}", "/v1/tenants/{t}/users/{u}/roles/{r}",
	"/v1/audit",
};

static zt_router *
router(void)
{
	static zt_router *r;
	size_t i;

	if (r != NULL)
		return r;
	if (zt_router_new(&r) != ZT_OK)
		abort();
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		if (zt_router_add(r, i % 2 ? ZT_GET | ZT_HEAD :
		    ZT_POST | ZT_DELETE, patterns[i], (int)i) != ZT_OK)
			abort();
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_route_match m;
	char *path;
	unsigned method;
	int err, i;

	if (size < 1)
		return 0;
	method = 1u << (data[0] % 9);
	if ((path = malloc(size)) == NULL)
		return 0;
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';

	err = zt_router_match(router(), method, path, &m);
	if (err == ZT_OK) {
		if (m.route < 0 ||
		    m.route >= (int)(sizeof(patterns) / sizeof(patterns[0])))
			abort();
		for (i = 0; i < m.nparams; i++)
			if (m.params[i].value[0] == '\0' ||
			    strchr(m.params[i].value, '/') != NULL)
				abort();
	} else if (err == ZT_ECONFLICT) {
		if (m.allowed == 0 || (m.allowed & method) != 0)
			abort();
	} else if (err != ZT_ENOTFOUND)
		abort();
	zt_route_match_clear(&m);
	free(path);
	return 0;
}
