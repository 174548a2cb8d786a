/*
 * login.c: what the sign-in pages need of the provider beside the pages
 * themselves (api/oidc_pages.c): finding the signed-in session of a
 * browser for an issuer, the sign-in URL with its return path, the
 * cookies, and the CSRF token of the sign-in form.
 *
 * A session belongs to a tenant (authn's sessions); it counts for an
 * issuer only when its account is one of the issuer's account system,
 * so signing in to one account system signs a person in nowhere else.
 * A session that passed the password step and still owes a second
 * factor carries the acr ZT_ACR_PENDING and counts nowhere but on the
 * second-factor page.
 *
 * Before the password step there is no session to bind a CSRF token to.
 * The sign-in page then sets a cookie of 256 random bits (ZT_LOGIN_COOKIE)
 * and its form carries an HMAC of that value: a page of another origin
 * can neither read the cookie nor compute the token, so it cannot sign a
 * browser in to an account of the attacker's (login CSRF).
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "oidc/flow.h"

#define SESSION_TOKEN_MAX	(ZT_SESSION_TOKEN_LEN + 8)

const char *
zt_oidc_cookie_value(char *out, size_t size, const char *cookie,
    const char *name, bool tls)
{
	char full[64];
	const char *p = cookie, *v;
	size_t n, vl;

	if (cookie == NULL)
		return NULL;
	snprintf(full, sizeof(full), "%s%s=", tls ? "__Host-" : "", name);
	n = strlen(full);
	while (*p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, full, n) == 0) {
			v = p + n;
			vl = strcspn(v, "; ");
			if (vl == 0 || vl >= size)
				return NULL;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return out;
		}
		if ((p = strchr(p, ';')) == NULL)
			break;
	}
	return NULL;
}

int
zt_oidc_set_cookie(char *out, size_t size, const char *name,
    const char *value, int64_t max_age_s, bool tls)
{
	char age[32] = "";
	int n;

	if (max_age_s >= 0)
		snprintf(age, sizeof(age), "; Max-Age=%lld",
		    (long long)max_age_s);
	n = snprintf(out, size, "%s%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s",
	    tls ? "__Host-" : "", name, value, tls ? "; Secure" : "", age);
	if (n < 0 || (size_t)n >= size)
		return zt_error_set(ZT_ETOOBIG, "a cookie too long");
	return ZT_OK;
}

/* ZT_OK when the account of `s` belongs to the issuer's account system
 * and both it and its identity are still active (a suspended person's
 * session stops counting at once, as the password step would refuse). */
static int
session_of_issuer(zt_db *db, const zt_issuer *iss, const zt_session *s)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT 1 FROM accounts a JOIN"
	    " identities i ON i.tenant = a.tenant AND i.id = a.identity_id"
	    " WHERE a.tenant = $1 AND a.id = $2 AND a.system_id = $3 AND"
	    " a.state = 'active' AND i.state = 'active'")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, s->account_id);
	zt_stmt_bind_text(st, 3, iss->system_id);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_ROW)
		return ZT_OK;
	return err < 0 ? err : zt_error_set(ZT_ENOTFOUND, "no session");
}

/*
 * The session of the cookie, pending or not as `pending` asks.  Over TLS
 * only the "__Host-" name counts: a cookie without the prefix may have
 * been planted by a neighbouring host or a plain-HTTP response (cookie
 * tossing), which the prefix exists to rule out.  Without TLS only the
 * plain name exists.
 */
static int
session_find(zt_session *out, zt_db *db, const zt_session_config *cfg,
    const zt_issuer *iss, const char *cookie, bool tls, bool pending)
{
	char tok[SESSION_TOKEN_MAX];
	int err;

	if (zt_oidc_cookie_value(tok, sizeof(tok), cookie, ZT_SESSION_COOKIE,
	    tls) == NULL)
		return zt_error_set(ZT_ENOTFOUND, "no session");
	err = zt_session_lookup(out, db, cfg, iss->tenant, tok);
	zt_wipe(tok, sizeof(tok));
	if (err < 0)
		return err;
	if ((strcmp(out->acr, ZT_ACR_PENDING) == 0) != pending) {
		zt_wipe(out, sizeof(*out));
		return zt_error_set(ZT_ENOTFOUND, "no session");
	}
	if ((err = session_of_issuer(db, iss, out)) < 0)
		zt_wipe(out, sizeof(*out));
	return err;
}

int
zt_oidc_session(zt_session *out, zt_db *db, const zt_session_config *cfg,
    const zt_issuer *iss, const char *cookie, bool tls)
{
	return session_find(out, db, cfg, iss, cookie, tls, false);
}

int
zt_oidc_session_pending(zt_session *out, zt_db *db,
    const zt_session_config *cfg, const zt_issuer *iss, const char *cookie,
    bool tls)
{
	return session_find(out, db, cfg, iss, cookie, tls, true);
}

bool
zt_oidc_return_ok(const zt_issuer *iss, const char *return_to)
{
	char prefix[ZT_TENANT_ID_MAX + ZT_NAME_MAX + 8];
	const unsigned char *p;
	size_t n;

	if (return_to == NULL || strlen(return_to) > 4096)
		return false;
	n = (size_t)snprintf(prefix, sizeof(prefix), "/t/%s/%s/",
	    iss->tenant, iss->system);
	if (strncmp(return_to, prefix, n) != 0)
		return false;
	/* No control bytes, spaces or backslashes (which some browsers read
	 * as slashes), and no ".." that could climb out of the prefix. */
	for (p = (const unsigned char *)return_to; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '\\')
			return false;
	return strstr(return_to, "/..") == NULL &&
	    strstr(return_to, "%2e") == NULL &&
	    strstr(return_to, "%2E") == NULL;
}

int
zt_oidc_login_url(zt_buf *out, const zt_issuer *iss, const char *return_to)
{
	int err;

	if (!zt_oidc_return_ok(iss, return_to))
		return zt_error_set(ZT_EINVAL, "return_to is not a path of "
		    "the issuer");
	if ((err = zt_buf_addf(out, "%s/login?return_to=", iss->url)) < 0 ||
	    (err = zt_form_encode(out, return_to)) < 0)
		return err;
	return ZT_OK;
}

/* A session-shaped holder of the login cookie's key, so the CSRF token
 * is authn's own construction. */
static void
login_key(zt_session *s, const char *cookie_value)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "login");
	zt_sha256(s->csrf_key, cookie_value, strlen(cookie_value));
}

void
zt_login_csrf(char out[ZT_CSRF_LEN + 1], const char *cookie_value)
{
	zt_session s;

	login_key(&s, cookie_value);
	zt_csrf_token(out, &s, "login");
	zt_wipe(&s, sizeof(s));
}

bool
zt_login_csrf_ok(const char *cookie_value, const char *token)
{
	zt_session s;
	bool ok;

	if (cookie_value == NULL || token == NULL ||
	    strlen(cookie_value) < 32)
		return false;
	login_key(&s, cookie_value);
	ok = zt_csrf_verify(&s, "login", token);
	zt_wipe(&s, sizeof(s));
	return ok;
}
