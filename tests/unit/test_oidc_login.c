/*
 * The sign-in side's pieces that need no database: which return_to paths
 * the sign-in page accepts (no open redirect), the sign-in URL, reading a
 * cookie out of a Cookie header, the Set-Cookie attributes, the login
 * form's CSRF token, and the authorization response URL (RFC 6749
 * 4.1.2, RFC 9207).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "oidc/flow.h"

static const zt_issuer iss = {
	.tenant = "acme", .system = "staff",
	.url = "https://id.example/t/acme/staff",
};

static void
test_oidc_login__return_to(void **state)
{
	static const char *const good[] = {
		"/t/acme/staff/authorize?client_id=x&request_uri=urn%3Ay",
		"/t/acme/staff/device?user_code=BCDF-GHJK",
		"/t/acme/staff/x",
	};
	static const char *const bad[] = {
		"https://evil.example/", "//evil.example/t/acme/staff/",
		"/\\evil.example/", "/t/acme/staff", "/t/acme/staffer/x",
		"/t/acme/other/x", "/t/acme/staff/../../v1/tenants",
		"/t/acme/staff/%2e%2e/x", "/t/acme/staff/x y",
		"/t/acme/staff/x\r\nSet-Cookie: a=b", "t/acme/staff/x",
		"/t/acme/staff/\\\\evil", "",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(good); i++)
		assert_true(zt_oidc_return_ok(&iss, good[i]));
	for (i = 0; i < ZT_ARRAY_LEN(bad); i++)
		assert_false(zt_oidc_return_ok(&iss, bad[i]));
	assert_false(zt_oidc_return_ok(&iss, NULL));
}

static void
test_oidc_login__login_url(void **state)
{
	zt_buf b = ZT_BUF_INIT(4096);

	(void)state;
	assert_int_equal(zt_oidc_login_url(&b, &iss,
	    "/t/acme/staff/device?user_code=BCDF-GHJK"), ZT_OK);
	assert_string_equal(b.data, "https://id.example/t/acme/staff/login?"
	    "return_to=%2Ft%2Facme%2Fstaff%2Fdevice%3Fuser_code%3DBCDF-GHJK");
	zt_buf_reset(&b);
	assert_int_equal(zt_oidc_login_url(&b, &iss, "https://evil/"),
	    ZT_EINVAL);
	zt_buf_free(&b);
}

static void
test_oidc_login__cookies(void **state)
{
	char v[64], c[256];

	(void)state;
	assert_string_equal(zt_oidc_cookie_value(v, sizeof(v),
	    "a=1; ztiam_session=abc; b=2", ZT_SESSION_COOKIE, false), "abc");
	assert_null(zt_oidc_cookie_value(v, sizeof(v),
	    "a=1; ztiam_session=abc", ZT_SESSION_COOKIE, true));
	assert_string_equal(zt_oidc_cookie_value(v, sizeof(v),
	    "__Host-ztiam_session=def", ZT_SESSION_COOKIE, true), "def");
	/* A longer name that ends the same is another cookie. */
	assert_null(zt_oidc_cookie_value(v, sizeof(v), "xztiam_session=abc",
	    ZT_SESSION_COOKIE, false));
	assert_null(zt_oidc_cookie_value(v, sizeof(v), "ztiam_session=",
	    ZT_SESSION_COOKIE, false));
	assert_null(zt_oidc_cookie_value(v, 4, "ztiam_session=toolong",
	    ZT_SESSION_COOKIE, false));
	assert_null(zt_oidc_cookie_value(v, sizeof(v), NULL,
	    ZT_SESSION_COOKIE, false));

	assert_int_equal(zt_oidc_set_cookie(c, sizeof(c), ZT_LOGIN_COOKIE,
	    "v", -1, true), ZT_OK);
	assert_string_equal(c, "__Host-ztiam_login=v; Path=/; HttpOnly; "
	    "SameSite=Lax; Secure");
	assert_int_equal(zt_oidc_set_cookie(c, sizeof(c), ZT_LOGIN_COOKIE,
	    "", 0, false), ZT_OK);
	assert_string_equal(c, "ztiam_login=; Path=/; HttpOnly; "
	    "SameSite=Lax; Max-Age=0");
}

static void
test_oidc_login__login_csrf(void **state)
{
	const char *cookie = "0123456789abcdef0123456789abcdef0123456789a";
	const char *other = "0123456789abcdef0123456789abcdef0123456789b";
	char tok[ZT_CSRF_LEN + 1];

	(void)state;
	zt_login_csrf(tok, cookie);
	assert_true(zt_login_csrf_ok(cookie, tok));
	assert_false(zt_login_csrf_ok(other, tok));
	assert_false(zt_login_csrf_ok(cookie, NULL));
	assert_false(zt_login_csrf_ok(NULL, tok));
	/* A short cookie is no key at all. */
	assert_false(zt_login_csrf_ok("short", tok));
	tok[5] = tok[5] == 'A' ? 'B' : 'A';
	assert_false(zt_login_csrf_ok(cookie, tok));
}

static void
test_oidc_login__authorization_response(void **state)
{
	zt_buf b = ZT_BUF_INIT(4096);
	zt_oauth_error e = { 0 };

	(void)state;
	assert_int_equal(zt_authreq_response(&b, &iss, "https://app/cb",
	    "s 1&x", "ztac_c", NULL), ZT_OK);
	assert_string_equal(b.data, "https://app/cb?code=ztac_c&state=s%201"
	    "%26x&iss=https%3A%2F%2Fid.example%2Ft%2Facme%2Fstaff");
	zt_buf_reset(&b);
	zt_oauth_fail(&e, 400, "access_denied", "no");
	assert_int_equal(zt_authreq_response(&b, &iss, "https://app/cb?a=1",
	    NULL, NULL, &e), ZT_OK);
	assert_string_equal(b.data, "https://app/cb?a=1&error=access_denied&"
	    "error_description=no&iss=https%3A%2F%2Fid.example%2Ft%2Facme%2F"
	    "staff");
	zt_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oidc_login__return_to),
		cmocka_unit_test(test_oidc_login__login_url),
		cmocka_unit_test(test_oidc_login__cookies),
		cmocka_unit_test(test_oidc_login__login_csrf),
		cmocka_unit_test(test_oidc_login__authorization_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
