/*
 * libFuzzer harness for what the OAuth endpoints read from a request
 * before any client is authenticated: the form body (oidc/form.c), a
 * Basic-style form-encoded value (zt_form_decode) and a DPoP proof
 * (oidc/dpop.c).  The first byte picks the parser.  Beyond not crashing:
 * a parsed form holds no control character in any name or value, every
 * name is non-empty, and a DPoP proof made of fuzz never verifies (its
 * signature cannot be right by chance).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void
fuzz_form(const char *in, size_t n)
{
	static const char *const multi[] = { "resource", NULL };
	zt_form f;
	size_t i;

	if (zt_form_parse(&f, in, n) < 0)
		return;
	for (i = 0; i < f.n; i++) {
		if (f.p[i].name[0] == '\0')
			abort();
		check_text(f.p[i].name);
		check_text(f.p[i].value);
		(void)zt_form_count(&f, f.p[i].name);
		(void)zt_form_get(&f, f.p[i].name);
	}
	(void)zt_form_repeated(&f, multi);
	zt_form_free(&f);
}

static void
fuzz_decode(const char *in, size_t n)
{
	char out[512];

	if (zt_form_decode(out, sizeof(out), in, n) == ZT_OK)
		check_text(out);
}

static void
fuzz_dpop(const char *in)
{
	char jkt[ZT_JOSE_THUMBPRINT_LEN + 1];
	zt_oauth_error e;

	if (zt_dpop_check(jkt, NULL, in, "POST", "https://a.example/token",
	    1700000000, &e) == ZT_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 8192)
		return 0;
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		fuzz_form(s, size - 1);
		break;
	case 1:
		fuzz_decode(s, size - 1);
		break;
	default:
		fuzz_dpop(s);
		break;
	}
	free(s);
	return 0;
}
