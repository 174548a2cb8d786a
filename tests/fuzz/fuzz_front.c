/*
 * libFuzzer harness for what the sign-in pages read from a browser before
 * anything is looked up: the Cookie header (zt_oidc_cookie_value), the
 * return_to path of the sign-in page (zt_oidc_return_ok and
 * zt_oidc_login_url), and the percent-encoding of values put in a URL
 * (zt_form_encode).  The first byte picks the parser.  Beyond not
 * crashing: a cookie value never holds ';' or a space and fits its
 * buffer; an accepted return_to starts with the issuer's path and holds
 * no "//" start, backslash or control byte, and its sign-in URL starts
 * with the issuer's; encoding then decoding gives the input back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_cookie(const char *in)
{
	char out[64];
	const char *v;

	v = zt_oidc_cookie_value(out, sizeof(out), in, ZT_SESSION_COOKIE,
	    in[0] & 1);
	if (v != NULL && (v != out || strlen(v) >= sizeof(out) ||
	    strchr(v, ';') != NULL || strchr(v, ' ') != NULL || v[0] == '\0'))
		abort();
}

static void
fuzz_return_to(const char *in)
{
	zt_issuer iss = { .tenant = "acme", .system = "staff",
	    .url = "https://id.example/t/acme/staff" };
	zt_buf url = ZT_BUF_INIT(16 * 1024);
	const char *p;

	if (!zt_oidc_return_ok(&iss, in)) {
		if (zt_oidc_login_url(&url, &iss, in) == ZT_OK)
			abort();
		zt_buf_free(&url);
		return;
	}
	if (strncmp(in, "/t/acme/staff/", 14) != 0)
		abort();
	for (p = in; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '\\')
			abort();
	if (zt_oidc_login_url(&url, &iss, in) != ZT_OK ||
	    strncmp(url.data, "https://id.example/t/acme/staff/login?"
	    "return_to=%2Ft%2Facme%2Fstaff%2F", 70) != 0)
		abort();
	zt_buf_free(&url);
}

static void
fuzz_encode(const char *in)
{
	zt_buf b = ZT_BUF_INIT(64 * 1024);
	char *back;
	size_t n = strlen(in);

	if (zt_form_encode(&b, in) != ZT_OK || b.data == NULL) {
		zt_buf_free(&b);
		return;
	}
	if ((back = malloc(b.len + 1)) != NULL &&
	    zt_form_decode(back, b.len + 1, b.data, b.len) == ZT_OK &&
	    (strlen(back) != n || memcmp(back, in, n) != 0))
		abort();
	free(back);
	zt_buf_free(&b);
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
	switch (data[0] % 3) {
	case 0:
		fuzz_cookie(s);
		break;
	case 1:
		fuzz_return_to(s);
		break;
	default:
		fuzz_encode(s);
		break;
	}
	free(s);
	return 0;
}
