/*
 * libFuzzer harness for what authn reads from outside: PHC strings
 * (zt_phc_params), passwords against a policy and the common list, the
 * otpauth:// URI builder and its QR code with hostile issuers and labels,
 * and CSRF tokens.  Beyond not crashing: an accepted PHC string names
 * numbers that parse back the same when printed, a URI holds only unreserved
 * characters and percent escapes after its scheme, and no token but the
 * one made for the session verifies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn.h"
#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_uri(const char *uri)
{
	const char *p = uri + strlen("otpauth://totp/");

	for (; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~%:?&=", *p)))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *uri = NULL, *svg = NULL, buf[96];
	zt_argon2_params p;
	zt_pw_policy pol;
	zt_session sess;
	char tok[ZT_CSRF_LEN + 1];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (zt_phc_params(s, &p) == ZT_OK) {
		zt_argon2_params q;

		snprintf(buf, sizeof(buf), "$argon2id$v=19$m=%u,t=%u,p=%u$",
		    p.m_kib, p.t, p.p);
		if (zt_phc_params(buf, &q) != ZT_OK || q.m_kib != p.m_kib ||
		    q.t != p.t || q.p != p.p)
			abort();
	}

	zt_pw_policy_from_json(&pol, NULL);
	pol.min_chars = 1;
	(void)zt_pw_policy_check(&pol, s, size);
	(void)zt_password_is_common(s, size);

	if (size < 200 && zt_utf8_valid(s, size) &&
	    zt_totp_uri(&uri, s, s, data, size) == ZT_OK) {
		check_uri(uri);
		if (zt_qr_svg(&svg, uri) == ZT_OK &&
		    strncmp(svg, "<svg ", 5) != 0)
			abort();
	}

	memset(&sess, 0, sizeof(sess));
	snprintf(sess.id, sizeof(sess.id), "fuzzsession00000");
	zt_csrf_token(tok, &sess, "form");
	if (zt_csrf_verify(&sess, "form", s) && strcmp(s, tok) != 0)
		abort();
	if (!zt_csrf_verify(&sess, "form", tok))
		abort();

	free(uri);
	free(svg);
	free(s);
	return 0;
}
