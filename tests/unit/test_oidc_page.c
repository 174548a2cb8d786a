/*
 * The provider's pages: every string is escaped wherever it lands (text,
 * attribute values, the form's action), the sign-in form has what a
 * password manager and a screen reader need, and a page that outgrows
 * its buffer is an error, not a truncated page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "oidc/oidc.h"

static const char *const evil[] = {
	"<script>alert(1)</script>",
	"\"><img src=x onerror=alert(1)>",
	"' autofocus onfocus='alert(1)",
	"&lt;already&gt; & more",
};

static void
test_oidc_page__escape(void **state)
{
	zt_buf b = ZT_BUF_INIT(4096);

	(void)state;
	assert_int_equal(zt_html_escape(&b, "a<b>&\"c'd"), ZT_OK);
	assert_string_equal(b.data, "a&lt;b&gt;&amp;&quot;c&#39;d");
	zt_buf_reset(&b);
	assert_int_equal(zt_html_escape(&b, ""), ZT_OK);
	assert_int_equal(b.len, 0);
	assert_int_equal(zt_html_escape(&b, "plain text \xc3\xa9"), ZT_OK);
	assert_string_equal(b.data, "plain text \xc3\xa9");
	zt_buf_free(&b);
}

static void
test_oidc_page__sign_in(void **state)
{
	zt_buf b = ZT_BUF_INIT(64 * 1024);
	const zt_page_hidden hidden[] = { { "csrf", "tok123" } };
	const zt_page_input inputs[] = {
		{ "username", "Login name", NULL, "username", NULL, "ann",
		  true },
		{ "password", "Password", "password", "current-password",
		  NULL, NULL, true },
	};
	const zt_page_button buttons[] = { { "Sign in", NULL, NULL, false } };
	zt_page p = {
		.title = "Sign in", .lead = "to continue to Shop",
		.error = "The login name or password is wrong.",
		.action = "/t/acme/staff/login",
		.hidden = hidden, .nhidden = 1,
		.inputs = inputs, .ninputs = 2,
		.buttons = buttons, .nbuttons = 1,
	};

	(void)state;
	assert_int_equal(zt_page_render(&b, &p), ZT_OK);
	assert_non_null(strstr(b.data, "<!doctype html>"));
	assert_non_null(strstr(b.data, "<form method=\"post\" "
	    "action=\"/t/acme/staff/login\">"));
	assert_non_null(strstr(b.data, "<input type=\"hidden\" name=\"csrf\" "
	    "value=\"tok123\">"));
	assert_non_null(strstr(b.data, "<label for=\"username\">Login name"
	    "</label>"));
	assert_non_null(strstr(b.data, "autocomplete=\"current-password\""));
	assert_non_null(strstr(b.data, "value=\"ann\" required autofocus>"));
	assert_non_null(strstr(b.data, "role=\"alert\">The login name or "
	    "password is wrong."));
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "style="));	/* the CSP allows none */
	zt_buf_free(&b);
}

static void
test_oidc_page__everything_is_escaped(void **state)
{
	const char *items[1];
	zt_page_hidden hidden[1];
	zt_page_input inputs[1];
	zt_page_button buttons[1];
	zt_page p;
	size_t i;

	(void)state;
	for (i = 0; i < ZT_ARRAY_LEN(evil); i++) {
		zt_buf b = ZT_BUF_INIT(64 * 1024);
		const char *e = evil[i];

		items[0] = e;
		hidden[0] = (zt_page_hidden){ e, e };
		inputs[0] = (zt_page_input){ e, e, e, e, e, e, false };
		buttons[0] = (zt_page_button){ e, e, e, true };
		p = (zt_page){ e, e, e, e, e, items, 1, e, hidden, 1,
		    inputs, 1, buttons, 1 };
		assert_int_equal(zt_page_render(&b, &p), ZT_OK);
		assert_null(strstr(b.data, e));	/* only escaped */
		assert_null(strstr(b.data, "<script"));
		assert_null(strstr(b.data, "<img src=x"));
		assert_null(strstr(b.data, "' autofocus"));
		zt_buf_free(&b);
	}
}

static void
test_oidc_page__too_big_is_an_error(void **state)
{
	zt_buf b = ZT_BUF_INIT(256);
	zt_page p = { .title = "Sign in", .lead = "x" };

	(void)state;
	assert_int_equal(zt_page_render(&b, &p), ZT_ETOOBIG);
	zt_buf_free(&b);
	assert_non_null(strstr(zt_page_csp, "default-src 'none'"));
	assert_non_null(strstr(zt_page_csp, "frame-ancestors 'none'"));
	assert_null(strstr(zt_page_csp, "unsafe-inline"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oidc_page__escape),
		cmocka_unit_test(test_oidc_page__sign_in),
		cmocka_unit_test(test_oidc_page__everything_is_escaped),
		cmocka_unit_test(test_oidc_page__too_big_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
