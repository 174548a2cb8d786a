/*
 * libFuzzer harness for the SPIFFE ID parser (identity/spiffe.c), which
 * reads IDs from certificates, request paths and the Workload API.  Beyond
 * not crashing, an accepted ID must come apart and back together into the
 * same bytes, with every segment in the alphabet and neither "." nor "..",
 * and the NUL-terminated entry point must agree with the counted one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "identity/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_segments(const zt_spiffe_id *id)
{
	const char *p = id->path;
	size_t segs = 0, n;

	while (*p != '\0') {
		if (*p++ != '/')
			abort();
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			abort();
		p += n;
		segs++;
	}
	if (segs != id->nsegs)
		abort();
}

static void
check_accepted(const zt_spiffe_id *id, const uint8_t *data, size_t size)
{
	size_t tdlen = strlen(id->trust_domain);

	if (tdlen == 0 || tdlen > ZT_SPIFFE_TD_MAX ||
	    zt_spiffe_td_validate(id->trust_domain) != ZT_OK)
		abort();
	/* "spiffe://" + trust domain + path is the input, byte for byte. */
	if (9 + tdlen + strlen(id->path) != size ||
	    memcmp(data, "spiffe://", 9) != 0 ||
	    memcmp(data + 9, id->trust_domain, tdlen) != 0 ||
	    memcmp(data + 9 + tdlen, id->path, strlen(id->path)) != 0)
		abort();
	check_segments(id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_spiffe_id id;
	char *s;
	int rc;

	rc = zt_spiffe_id_parse(&id, (const char *)data, size);
	if (rc == ZT_OK)
		check_accepted(&id, data, size);
	else if (rc != ZT_EINVAL || zt_error_msg()[0] == '\0')
		abort();

	/* The string form stops at the first NUL; without one it must give
	 * the same answer. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (memchr(data, '\0', size) == NULL &&
	    (zt_spiffe_id_validate(s) == ZT_OK) != (rc == ZT_OK))
		abort();
	(void)zt_spiffe_td_validate(s);
	free(s);
	return 0;
}
