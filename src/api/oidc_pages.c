/*
 * The browser side of each issuer <public-url>/t/{tenant}/{system}: the
 * sign-in pages (password, then a TOTP or recovery code when the account
 * has TOTP or the account system wants a second factor), the
 * authorization endpoint and its consent page, userinfo, RP-initiated
 * logout, and the pages' style sheet.
 *
 * Every form carries a CSRF token: bound to the session once there is
 * one, to the random login cookie before (oidc/login.c); a POST without a
 * valid one is refused with 403 and changes nothing.  Messages on the
 * pages are plain words and never say whether an account exists: a
 * wrong password and an unknown name read the same, and are throttled
 * alike (authn).  No password, code or cookie value is logged.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "base/base.h"
#include "oidc/flow.h"

#define URL_MAX		(8 * 1024)
#define CSRF_CONSENT	"consent"
#define CSRF_TOTP	"totp"
#define CSRF_LOGOUT	"logout"
#define LOGIN_COOKIE_BYTES	32

static const char bad_login[] = "The login name or password is not right. "
    "Check them and try again.";

static int64_t
now_s(void)
{
	return zt_now_ms() / 1000;
}

static void
redirect(zt_req *req, const char *url)
{
	api_no_store(req);
	zt_reply_header(req, "Location", url);
	zt_reply(req, 303, NULL, NULL, 0);
}

static void
error_page(zt_req *req, int status, const char *title, const char *msg)
{
	zt_page p = { .title = title, .error = msg };

	api_page_reply(req, status, &p);
}

/* An identity context for the pages: the issuer's tenant, the audit
 * actor `who`. */
static void
page_idctx(zt_req *req, zt_id_ctx *cx, zt_actor *actor,
    const zt_issuer *iss, const char *who)
{
	zt_app *app = zt_req_app(req);

	*actor = (zt_actor){ who, iss->tenant, zt_req_id(req) };
	*cx = (zt_id_ctx){ .db = api_db(req), .cfg = &app->identity,
	    .actor = actor, .scope = { .tenant = iss->tenant } };
}

/* The request's parameters: the query of a GET, the form body of a
 * POST.  Replies 400 and returns false when they do not parse. */
static bool
params_read(zt_form *f, zt_req *req)
{
	zt_buf b = ZT_BUF_INIT(ZT_FORM_BODY_MAX);
	const char *name, *v, *body;
	void *it = NULL;
	size_t len = 0;
	int err = ZT_OK;

	if (zt_req_method(req) == ZT_POST) {
		body = zt_req_body(req, &len);
		if (api_form_content_type(zt_req_header(req, "Content-Type")) &&
		    zt_form_parse(f, body, len) == ZT_OK)
			return true;
		error_page(req, 400, "This request is not valid", "The form "
		    "could not be read. Go back and try again.");
		return false;
	}
	while (err == ZT_OK && (v = zt_req_query_next(req, &it, &name)) !=
	    NULL) {
		if (b.len > 0)
			err = zt_buf_addc(&b, '&');
		if (err == ZT_OK)
			err = zt_form_encode(&b, name);
		if (err == ZT_OK)
			err = zt_buf_addc(&b, '=');
		if (err == ZT_OK)
			err = zt_form_encode(&b, v);
	}
	if (err == ZT_OK)
		err = zt_form_parse(f, b.data ? b.data : "", b.len);
	zt_buf_free(&b);
	if (err == ZT_OK)
		return true;
	error_page(req, 400, "This request is not valid", "The link has "
	    "parameters that cannot be read.");
	return false;
}

/* Sets the session cookie to `token` (or deletes it, with NULL). */
static void
session_cookie(zt_req *req, const char *token)
{
	char c[256];

	if (zt_session_cookie(c, sizeof(c), token ? token : "",
	    token ? -1 : 0, zt_req_is_tls(req)) == ZT_OK)
		zt_reply_header(req, "Set-Cookie", c);
	zt_wipe(c, sizeof(c));
}

/* ---- the style sheet ----------------------------------------------------- */

static void
css(zt_req *req)
{
	zt_reply_header(req, "Cache-Control", "public, max-age=3600");
	zt_reply(req, 200, "text/css; charset=utf-8", zt_page_css,
	    strlen(zt_page_css));
}

/* ---- sign-in: the password page ------------------------------------------ */

static void
login_form(zt_req *req, int status, const zt_issuer *iss,
    const char *cookie, const char *return_to, const char *login,
    const char *error)
{
	char action[ZT_ISSUER_URL_MAX + 16], csrf[ZT_CSRF_LEN + 1];
	zt_page_hidden hidden[] = { { "csrf", csrf },
	    { "return_to", return_to } };
	zt_page_input inputs[] = {
		{ .name = "login_name", .label = "Login name",
		  .autocomplete = "username", .value = login,
		  .required = true },
		{ .name = "password", .label = "Password", .type = "password",
		  .autocomplete = "current-password", .required = true },
	};
	zt_page_button buttons[] = { { .label = "Sign in" } };
	zt_page p = {
		.title = "Sign in", .lead = iss->system, .error = error,
		.action = action, .hidden = hidden, .nhidden = 2,
		.inputs = inputs, .ninputs = 2,
		.buttons = buttons, .nbuttons = 1,
	};

	snprintf(action, sizeof(action), "%s/login", iss->url);
	zt_login_csrf(csrf, cookie);
	api_page_reply(req, status, &p);
}

/* The login cookie's value, made (and set on the reply) when absent. */
static const char *
login_cookie(char *out, size_t size, zt_req *req)
{
	char set[256];

	if (zt_oidc_cookie_value(out, size, zt_req_header(req, "Cookie"),
	    ZT_LOGIN_COOKIE, zt_req_is_tls(req)) != NULL && strlen(out) >= 43)
		return out;
	if (zt_random_id(out, size, LOGIN_COOKIE_BYTES) < 0)
		return NULL;
	if (zt_oidc_set_cookie(set, sizeof(set), ZT_LOGIN_COOKIE, out, -1,
	    zt_req_is_tls(req)) == ZT_OK)
		zt_reply_header(req, "Set-Cookie", set);
	return out;
}

static void
login_get(zt_req *req, const zt_issuer *iss)
{
	const char *rt = zt_req_query(req, "return_to");
	char cookie[64];

	if (!zt_oidc_return_ok(iss, rt)) {
		error_page(req, 400, "This sign-in link is not valid", "Go "
		    "back to the application and start again.");
		return;
	}
	if (login_cookie(cookie, sizeof(cookie), req) == NULL) {
		zt_reply_error(req, ZT_ERR);
		return;
	}
	login_form(req, 200, iss, cookie, rt, NULL, NULL);
}

static void
throttled_page(zt_req *req, int64_t wait, void (*again)(zt_req *, int,
    const char *, void *), void *arg)
{
	char msg[128], v[24];

	snprintf(v, sizeof(v), "%lld", (long long)wait);
	zt_reply_header(req, "Retry-After", v);
	snprintf(msg, sizeof(msg), "Too many attempts. Try again in %lld "
	    "seconds.", (long long)wait);
	again(req, 429, msg, arg);
}

struct login_again {
	const zt_issuer *iss;
	const char *cookie, *return_to, *login;
};

static void
login_again(zt_req *req, int status, const char *msg, void *arg)
{
	struct login_again *a = arg;

	login_form(req, status, a->iss, a->cookie, a->return_to, a->login,
	    msg);
}

/* The second-factor page's URL for `return_to`. */
static int
totp_url(zt_buf *out, const zt_issuer *iss, const char *return_to)
{
	int err;

	if ((err = zt_buf_addf(out, "%s/login/totp?return_to=", iss->url)) <
	    0)
		return err;
	return zt_form_encode(out, return_to);
}

/* A session for `who` after the steps in `amr`; sets its cookie. */
static int
session_start(zt_req *req, const zt_id_ctx *cx, const zt_issuer *iss,
    const char *account, const char *acr, const char *amr)
{
	char token[ZT_SESSION_TOKEN_LEN + 1];
	zt_app *app = zt_req_app(req);
	zt_session s;
	int err;

	err = zt_session_create(&s, cx, &app->sessions, iss->tenant,
	    &(zt_session_spec){ .account = account, .acr = acr, .amr = amr,
	    .client_addr = zt_req_peer_addr(req),
	    .user_agent = zt_req_header(req, "User-Agent") }, token);
	if (err == ZT_OK)
		session_cookie(req, token);
	zt_wipe(token, sizeof(token));
	zt_wipe(&s, sizeof(s));
	return err;
}

static void
login_post(zt_req *req, const zt_issuer *iss)
{
	zt_app *app = zt_req_app(req);
	const char *csrf, *rt, *login, *pw;
	zt_buf next = ZT_BUF_INIT(URL_MAX);
	struct login_again again;
	char cookie[64];
	int64_t wait = 0;
	zt_actor actor;
	zt_id_ctx cx;
	zt_login who;
	zt_form f;
	int err;

	if (!params_read(&f, req))
		return;
	csrf = zt_form_get(&f, "csrf");
	rt = zt_form_get(&f, "return_to");
	login = zt_form_get(&f, "login_name");
	pw = zt_form_get(&f, "password");
	if (zt_oidc_cookie_value(cookie, sizeof(cookie), zt_req_header(req,
	    "Cookie"), ZT_LOGIN_COOKIE, zt_req_is_tls(req)) == NULL ||
	    !zt_login_csrf_ok(cookie, csrf)) {
		error_page(req, 403, "The form has expired", "Open the sign-in "
		    "page again and retry.");
		goto out;
	}
	if (!zt_oidc_return_ok(iss, rt)) {
		error_page(req, 400, "This sign-in link is not valid", "Go "
		    "back to the application and start again.");
		goto out;
	}
	again = (struct login_again){ iss, cookie, rt, login };
	if (login == NULL || pw == NULL) {
		login_form(req, 400, iss, cookie, rt, login, "Enter your login "
		    "name and password.");
		goto out;
	}
	page_idctx(req, &cx, &actor, iss, "oidc:login");
	err = zt_login_password(&who, &cx, app->throttle, iss->tenant,
	    iss->system, login, pw, strlen(pw), zt_req_peer_addr(req), &wait);
	if (err == ZT_EBUSY && wait > 0) {
		throttled_page(req, wait, login_again, &again);
		goto out;
	}
	if (err == ZT_ENOTFOUND) {
		login_form(req, 401, iss, cookie, rt, login, bad_login);
		goto out;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		goto out;
	}
	if (who.mfa_required && !who.totp_active) {
		login_form(req, 403, iss, cookie, rt, login, "This account "
		    "needs a second factor, and none is set up for it. Ask "
		    "your administrator.");
		goto out;
	}
	if (who.totp_active) {
		err = session_start(req, &cx, iss, who.account_id,
		    ZT_ACR_PENDING, "pwd");
		if (err == ZT_OK)
			err = totp_url(&next, iss, rt);
	} else {
		err = session_start(req, &cx, iss, who.account_id, NULL,
		    "pwd");
		if (err == ZT_OK)
			err = zt_buf_adds(&next, rt);
	}
	if (err < 0)
		zt_reply_error(req, err);
	else
		redirect(req, next.data);
out:
	zt_buf_free(&next);
	zt_form_free(&f);
}

static void
login_page(zt_req *req)
{
	zt_issuer iss;

	if (!api_issuer_of(&iss, req))
		return;
	if (zt_req_method(req) == ZT_POST)
		login_post(req, &iss);
	else
		login_get(req, &iss);
}

/* ---- sign-in: the second factor ------------------------------------------ */

static void
totp_form(zt_req *req, int status, const zt_issuer *iss,
    const zt_session *s, const char *return_to, const char *error)
{
	char action[ZT_ISSUER_URL_MAX + 16], csrf[ZT_CSRF_LEN + 1];
	zt_page_hidden hidden[] = { { "csrf", csrf },
	    { "return_to", return_to } };
	zt_page_input inputs[] = { {
		.name = "code", .label = "Code from your authenticator app, "
		    "or a recovery code", .autocomplete = "one-time-code",
		.required = true,
	} };
	zt_page_button buttons[] = { { .label = "Continue" } };
	zt_page p = {
		.title = "Second step", .lead = "Enter the six-digit code your "
		    "authenticator app shows.", .error = error,
		.action = action, .hidden = hidden, .nhidden = 2,
		.inputs = inputs, .ninputs = 1,
		.buttons = buttons, .nbuttons = 1,
	};

	snprintf(action, sizeof(action), "%s/login/totp", iss->url);
	zt_csrf_token(csrf, s, CSRF_TOTP);
	api_page_reply(req, status, &p);
}

struct totp_again {
	const zt_issuer *iss;
	const zt_session *s;
	const char *return_to;
};

static void
totp_again(zt_req *req, int status, const char *msg, void *arg)
{
	struct totp_again *a = arg;

	totp_form(req, status, a->iss, a->s, a->return_to, msg);
}

static bool
all_digits(const char *s)
{
	size_t n = strlen(s);

	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return n >= 6 && n <= 8;
}

static void
totp_post(zt_req *req, const zt_issuer *iss, const zt_session *pend,
    zt_form *f)
{
	zt_app *app = zt_req_app(req);
	const char *rt = zt_form_get(f, "return_to");
	const char *code = zt_form_get(f, "code");
	struct totp_again again = { iss, pend, rt };
	int64_t wait = 0;
	zt_actor actor;
	zt_id_ctx cx;
	bool otp;
	int err;

	if (!zt_csrf_verify(pend, CSRF_TOTP, zt_form_get(f, "csrf") ?
	    zt_form_get(f, "csrf") : "")) {
		error_page(req, 403, "The form has expired", "Open the sign-in "
		    "page again and retry.");
		return;
	}
	if (!zt_oidc_return_ok(iss, rt)) {
		error_page(req, 400, "This sign-in link is not valid", "Go "
		    "back to the application and start again.");
		return;
	}
	if (code == NULL) {
		totp_form(req, 400, iss, pend, rt, "Enter the code.");
		return;
	}
	otp = all_digits(code);
	page_idctx(req, &cx, &actor, iss, "oidc:login");
	err = zt_login_second_factor(&cx, app->throttle, iss->tenant,
	    pend->account_id, otp ? code : NULL, otp ? NULL : code, &wait);
	if (err == ZT_EBUSY && wait > 0) {
		throttled_page(req, wait, totp_again, &again);
		return;
	}
	if (err == ZT_ENOTFOUND) {
		totp_form(req, 401, iss, pend, rt, "That code is not right. "
		    "Check your authenticator app and try again.");
		return;
	}
	/* The full session replaces the pending one. */
	if (err == ZT_OK)
		err = session_start(req, &cx, iss, pend->account_id, NULL,
		    otp ? "pwd otp" : "pwd rcode");
	if (err == ZT_OK)
		err = zt_session_revoke(&cx, iss->tenant, pend->id);
	if (err < 0)
		zt_reply_error(req, err);
	else
		redirect(req, rt);
}

static void
totp_page(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	zt_buf url = ZT_BUF_INIT(URL_MAX);
	const char *rt;
	zt_issuer iss;
	zt_session s;
	zt_form f;
	int err;

	if (!api_issuer_of(&iss, req) || !params_read(&f, req))
		return;
	rt = zt_form_get(&f, "return_to");
	err = zt_oidc_session_pending(&s, api_db(req), &app->sessions, &iss,
	    zt_req_header(req, "Cookie"), zt_req_is_tls(req));
	if (err == ZT_ENOTFOUND) {
		if (zt_oidc_login_url(&url, &iss, rt) == ZT_OK)
			redirect(req, url.data);
		else
			error_page(req, 400, "This sign-in link is not valid",
			    "Go back to the application and start again.");
	} else if (err < 0) {
		zt_reply_error(req, err);
	} else if (zt_req_method(req) == ZT_POST) {
		totp_post(req, &iss, &s, &f);
	} else if (!zt_oidc_return_ok(&iss, rt)) {
		error_page(req, 400, "This sign-in link is not valid", "Go "
		    "back to the application and start again.");
	} else {
		totp_form(req, 200, &iss, &s, rt, NULL);
	}
	zt_wipe(&s, sizeof(s));
	zt_buf_free(&url);
	zt_form_free(&f);
}

/* ---- the authorization endpoint ------------------------------------------ */

/* Sends the error `e` of the request `a` to its redirect URI. */
static void
authz_error(zt_req *req, const zt_issuer *iss, const zt_authreq *a,
    const zt_oauth_error *e)
{
	zt_buf url = ZT_BUF_INIT(URL_MAX);

	if (zt_authreq_response(&url, iss, a->redirect_uri, a->state, NULL,
	    e) < 0)
		zt_reply_error(req, ZT_ERR);
	else
		redirect(req, url.data);
	zt_buf_free(&url);
}

static void
authz_fail(zt_req *req, const zt_issuer *iss, const zt_authreq *a,
    const char *error, const char *why)
{
	zt_oauth_error e = { 0 };

	zt_oauth_fail(&e, 400, error, "%s", why);
	authz_error(req, iss, a, &e);
}

/* Issues the code and sends the browser back to the client. */
static void
authz_grant(zt_req *req, const zt_issuer *iss, const zt_authreq *a,
    const zt_session *s)
{
	zt_buf url = ZT_BUF_INIT(URL_MAX);
	char code[ZT_CODE_LEN + 1];

	if (zt_code_issue(code, api_db(req), iss, a, s, now_s()) < 0) {
		authz_fail(req, iss, a, "temporarily_unavailable", "the code "
		    "could not be issued; retry");
		return;
	}
	if (zt_authreq_response(&url, iss, a->redirect_uri, a->state, code,
	    NULL) < 0)
		zt_reply_error(req, ZT_ERR);
	else
		redirect(req, url.data);
	zt_wipe(code, sizeof(code));
	zt_buf_free(&url);
}

/*
 * Sends the browser to the sign-in page, to come back to the request.
 * After a first sign-in (no session: `auth_after` 0) the request's own
 * query comes back, and nothing is written, so a stranger's requests
 * cost no row; a pushed request (used up by now) or one that needs a
 * fresher sign-in than the session's is parked.
 */
static void
authz_login(zt_req *req, const zt_issuer *iss, const zt_authreq *a,
    int64_t auth_after)
{
	char uri[160];
	zt_buf back = ZT_BUF_INIT(URL_MAX), url = ZT_BUF_INIT(URL_MAX);
	int err;

	err = zt_buf_addf(&back, "/t/%s/%s/authorize?", iss->tenant,
	    iss->system);
	if (err == ZT_OK && auth_after == 0 && !a->via_par &&
	    zt_authreq_query(&back, a) == ZT_OK &&
	    zt_oidc_return_ok(iss, back.data)) {
		err = zt_oidc_login_url(&url, iss, back.data);
		goto out;
	}
	zt_buf_free(&back);
	back = (zt_buf)ZT_BUF_INIT(URL_MAX);
	if ((err = zt_authreq_park(uri, sizeof(uri), api_db(req), iss, a,
	    auth_after, now_s())) == ZT_OK &&
	    (err = zt_buf_addf(&back, "/t/%s/%s/authorize?client_id=",
	    iss->tenant, iss->system)) == ZT_OK &&
	    (err = zt_form_encode(&back, a->client.id)) == ZT_OK &&
	    (err = zt_buf_adds(&back, "&request_uri=")) == ZT_OK &&
	    (err = zt_form_encode(&back, uri)) == ZT_OK)
		err = zt_oidc_login_url(&url, iss, back.data);
out:
	if (err < 0)
		authz_fail(req, iss, a, "temporarily_unavailable",
		    "the request could not be kept; retry");
	else
		redirect(req, url.data);
	zt_buf_free(&back);
	zt_buf_free(&url);
}

/* A scope in words a person reads; unknown scopes show as they are. */
static const char *
scope_words(const char *scope)
{
	static const struct { const char *scope, *words; } known[] = {
		{ "openid", "Know who you are (your account identifier)" },
		{ "profile", "Your name, login name and organization unit" },
		{ "email", "Your email address" },
		{ "groups", "The groups you belong to" },
	};
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(known); i++)
		if (strcmp(known[i].scope, scope) == 0)
			return known[i].words;
	return scope;
}

static void
consent_page(zt_req *req, const zt_issuer *iss, const zt_authreq *a,
    const zt_session *s)
{
	char action[ZT_ISSUER_URL_MAX + 16], csrf[ZT_CSRF_LEN + 1];
	char uri[160], lead[ZT_CLIENT_NAME_MAX + 96];
	char scope[ZT_CLIENT_SCOPE_MAX + 1], *tok, *save = NULL;
	const char *items[32], *name;
	size_t n = 0;
	zt_page_hidden hidden[] = { { "csrf", csrf }, { "request_uri", uri },
	    { "client_id", a->client.id } };
	zt_page_button buttons[] = {
		{ .label = "Allow", .name = "action", .value = "allow" },
		{ .label = "Deny", .name = "action", .value = "deny",
		  .secondary = true },
	};
	zt_page p = {
		.title = "Allow access?", .lead = lead, .items = items,
		.action = action, .hidden = hidden, .nhidden = 3,
		.buttons = buttons, .nbuttons = 2,
	};

	if (zt_authreq_park(uri, sizeof(uri), api_db(req), iss, a, 0,
	    now_s()) < 0) {
		authz_fail(req, iss, a, "temporarily_unavailable",
		    "the request could not be kept; retry");
		return;
	}
	name = json_string_value(json_object_get(a->client.meta,
	    "client_name"));
	snprintf(lead, sizeof(lead), "%s asks for access to your account "
	    "with these permissions:", name && name[0] ? name : a->client.id);
	snprintf(scope, sizeof(scope), "%s", a->scope);
	for (tok = strtok_r(scope, " ", &save); tok != NULL &&
	    n < ZT_ARRAY_LEN(items); tok = strtok_r(NULL, " ", &save))
		items[n++] = scope_words(tok);
	p.nitems = n;
	snprintf(action, sizeof(action), "%s/consent", iss->url);
	zt_csrf_token(csrf, s, CSRF_CONSENT);
	api_page_reply(req, 200, &p);
}

/* Whether the session `s` is fresh enough for the request `a`. */
static bool
fresh_enough(const zt_authreq *a, const zt_session *s, int64_t now)
{
	int64_t at = s->created_at / 1000;

	if (a->auth_after > 0)
		return at >= a->auth_after;
	if (a->prompt != NULL && strcmp(a->prompt, "login") == 0)
		return false;
	return a->max_age < 0 || now - at <= a->max_age;
}

static void
authorize(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	zt_oauth_error e = { 0 };
	bool redirectable, covered = true;
	int64_t now = now_s();
	zt_issuer iss;
	zt_authreq a;
	zt_session s;
	zt_form f;
	int err;

	if (!api_issuer_of(&iss, req) || !params_read(&f, req))
		return;
	if (zt_authreq_check(&a, api_db(req), &iss, &f, now, &redirectable,
	    &e) < 0) {
		if (!redirectable)
			error_page(req, e.status >= 500 ? 500 : 400, "This "
			    "sign-in link is not valid", e.description);
		else
			authz_error(req, &iss, &a, &e);
		goto out;
	}
	err = zt_oidc_session(&s, api_db(req), &app->sessions, &iss,
	    zt_req_header(req, "Cookie"), zt_req_is_tls(req));
	if (err < 0 && err != ZT_ENOTFOUND) {
		zt_reply_error(req, err);
		goto out;
	}
	if (err == ZT_ENOTFOUND || !fresh_enough(&a, &s, now)) {
		if (a.prompt != NULL && strcmp(a.prompt, "none") == 0)
			authz_fail(req, &iss, &a, "login_required",
			    "the person is not signed in");
		else
			authz_login(req, &iss, &a, err == ZT_OK ||
			    (a.prompt && strcmp(a.prompt, "login") == 0) ?
			    now : 0);
		goto out;
	}
	if (!a.first_party && zt_consent_covers(&covered, api_db(req), &iss,
	    s.identity_id, a.client.id, a.scope) < 0) {
		zt_reply_error(req, ZT_ERR);
		goto out;
	}
	if (!a.first_party && (!covered || (a.prompt != NULL &&
	    strcmp(a.prompt, "consent") == 0))) {
		if (a.prompt != NULL && strcmp(a.prompt, "none") == 0)
			authz_fail(req, &iss, &a, "consent_required", "the "
			    "person has not allowed this client yet");
		else
			consent_page(req, &iss, &a, &s);
		goto out;
	}
	authz_grant(req, &iss, &a, &s);
out:
	zt_authreq_free(&a);
}

/* POST <issuer>/consent: the person allows or denies a parked request. */
static void
consent(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	zt_oauth_error e = { 0 };
	const char *action, *csrf;
	bool redirectable = false;
	zt_issuer iss;
	zt_authreq a;
	zt_session s;
	zt_form f;
	int err;

	if (!api_issuer_of(&iss, req) || !params_read(&f, req))
		return;
	memset(&a, 0, sizeof(a));
	err = zt_oidc_session(&s, api_db(req), &app->sessions, &iss,
	    zt_req_header(req, "Cookie"), zt_req_is_tls(req));
	csrf = zt_form_get(&f, "csrf");
	action = zt_form_get(&f, "action");
	if (err == ZT_ENOTFOUND || (err == ZT_OK &&
	    !zt_csrf_verify(&s, CSRF_CONSENT, csrf ? csrf : ""))) {
		error_page(req, 403, "The form has expired", "Go back to the "
		    "application and start again.");
		zt_form_free(&f);
		return;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		zt_form_free(&f);
		return;
	}
	if (action == NULL || (strcmp(action, "allow") != 0 &&
	    strcmp(action, "deny") != 0)) {
		error_page(req, 400, "This request is not valid",
		    "Choose Allow or Deny.");
		zt_form_free(&f);
		return;
	}
	action = strcmp(action, "allow") == 0 ? "allow" : "deny";
	if (zt_form_get(&f, "request_uri") == NULL ||
	    zt_authreq_check(&a, api_db(req), &iss, &f, now_s(),
	    &redirectable, &e) < 0) {
		if (!redirectable)
			error_page(req, 400, "This request is not valid",
			    e.description[0] ? e.description : "Go back to "
			    "the application and start again.");
		else
			authz_error(req, &iss, &a, &e);
		goto out;
	}
	if (strcmp(action, "deny") == 0) {
		authz_fail(req, &iss, &a, "access_denied", "the person denied "
		    "the request");
		goto out;
	}
	if (zt_consent_grant(api_db(req), &iss, &s, a.client.id, a.scope,
	    zt_req_id(req), now_s()) < 0) {
		authz_fail(req, &iss, &a, "temporarily_unavailable", "the "
		    "consent could not be kept; retry");
		goto out;
	}
	authz_grant(req, &iss, &a, &s);
out:
	zt_authreq_free(&a);
	zt_form_free(&f);
}

/* ---- userinfo ------------------------------------------------------------ */

static void
bearer_error(zt_req *req, int status, bool dpop, const char *error,
    const char *why)
{
	char h[256];

	snprintf(h, sizeof(h), "%s error=\"%s\", error_description=\"%s\"%s",
	    dpop ? "DPoP" : "Bearer", error, why, dpop ?
	    ", algs=\"ES256 RS256 PS256 EdDSA\"" : "");
	api_no_store(req);
	zt_reply_header(req, "WWW-Authenticate", h);
	zt_reply_json(req, status, json_pack("{s:s, s:s}", "error", error,
	    "error_description", why));
}

/* RFC 9449 7.1: the proof's ath is the base64url SHA-256 of the
 * access token. */
static bool
proof_ath_ok(const char *proof, const char *token)
{
	uint8_t h[ZT_SHA256_LEN];
	char want[64];
	const char *ath;
	json_t *c = NULL;
	zt_jws jws;
	bool ok;

	if (zt_jws_parse(&jws, proof, strlen(proof)) < 0)
		return false;
	c = json_loadb(jws.payload, jws.payload_len, 0, NULL);
	zt_jws_free(&jws);
	zt_sha256(h, token, strlen(token));
	zt_b64url_encode(want, h, sizeof(h));
	ath = json_string_value(json_object_get(c, "ath"));
	ok = ath != NULL && strcmp(ath, want) == 0;
	json_decref(c);
	return ok;
}

static void
userinfo(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	const char *auth = zt_req_header(req, "Authorization"), *tok, *bound;
	const char *scope, *sub;
	char url[ZT_ISSUER_URL_MAX + 16], jkt[ZT_JOSE_THUMBPRINT_LEN + 1];
	zt_oauth_error e = { 0 };
	json_t *claims = NULL, *doc;
	bool dpop;
	zt_issuer iss;

	if (!api_issuer_of(&iss, req))
		return;
	if (auth == NULL || (strncasecmp(auth, "Bearer ", 7) != 0 &&
	    strncasecmp(auth, "DPoP ", 5) != 0)) {
		api_no_store(req);
		zt_reply_header(req, "WWW-Authenticate", "Bearer, DPoP "
		    "algs=\"ES256 RS256 PS256 EdDSA\"");
		zt_reply_json(req, 401, json_pack("{s:s, s:s}", "error",
		    "invalid_request", "error_description", "send an access "
		    "token"));
		return;
	}
	dpop = strncasecmp(auth, "DPoP ", 5) == 0;
	tok = auth + (dpop ? 5 : 7);
	while (*tok == ' ')
		tok++;
	if (strlen(tok) > ZT_JWS_MAX || zt_oauth_verify_access(&claims,
	    api_db(req), &iss, tok, now_s()) < 0) {
		bearer_error(req, 401, dpop, "invalid_token",
		    "the access token is not valid");
		return;
	}
	bound = json_string_value(json_object_get(json_object_get(claims,
	    "cnf"), "jkt"));
	snprintf(url, sizeof(url), "%s/userinfo", iss.url);
	if (bound != NULL && (!dpop || zt_req_header(req, "DPoP") == NULL ||
	    zt_dpop_check(jkt, api_db(req), zt_req_header(req, "DPoP"),
	    zt_req_method(req) == ZT_POST ? "POST" : "GET", url, now_s(),
	    &e) < 0 || strcmp(jkt, bound) != 0 ||
	    !proof_ath_ok(zt_req_header(req, "DPoP"), tok))) {
		bearer_error(req, 401, true, "invalid_token", "the token is "
		    "DPoP-bound: send a DPoP proof of its key");
		goto out;
	}
	scope = json_string_value(json_object_get(claims, "scope"));
	sub = json_string_value(json_object_get(claims, "sub"));
	if (scope == NULL || strcmp(json_string_value(json_object_get(claims,
	    "client_id")), sub) == 0 || !(strcmp(scope, "openid") == 0 ||
	    strncmp(scope, "openid ", 7) == 0 || strstr(scope, " openid") !=
	    NULL)) {
		bearer_error(req, 403, dpop, "insufficient_scope", "the token "
		    "has no openid scope");
		goto out;
	}
	doc = json_pack("{s:s}", "sub", sub);
	if (doc == NULL || zt_oidc_claims(doc, api_db(req), &app->identity,
	    &iss, sub, NULL, scope) < 0) {
		json_decref(doc);
		bearer_error(req, 401, dpop, "invalid_token", "the token's "
		    "subject is gone");
		goto out;
	}
	api_no_store(req);
	zt_reply_json(req, 200, doc);
out:
	json_decref(claims);
}

/* ---- RP-initiated logout ------------------------------------------------- */

static void
signed_out(zt_req *req)
{
	zt_page p = { .title = "Signed out", .lead = "You are signed out. "
	    "You can close this page." };

	api_page_reply(req, 200, &p);
}

static void
logout_confirm(zt_req *req, const zt_issuer *iss, const zt_session *s,
    const zt_form *f)
{
	char action[ZT_ISSUER_URL_MAX + 16], csrf[ZT_CSRF_LEN + 1];
	const char *pl = zt_form_get(f, "post_logout_redirect_uri");
	const char *st = zt_form_get(f, "state");
	const char *cid = zt_form_get(f, "client_id");
	zt_page_hidden hidden[4] = { { "csrf", csrf } };
	zt_page_button buttons[] = { { .label = "Sign out" } };
	zt_page p = {
		.title = "Sign out?", .lead = "Do you want to sign out of "
		    "this account system?", .action = action,
		.hidden = hidden, .nhidden = 1,
		.buttons = buttons, .nbuttons = 1,
	};

	if (pl != NULL)
		hidden[p.nhidden++] = (zt_page_hidden){
		    "post_logout_redirect_uri", pl };
	if (st != NULL)
		hidden[p.nhidden++] = (zt_page_hidden){ "state", st };
	if (cid != NULL)
		hidden[p.nhidden++] = (zt_page_hidden){ "client_id", cid };
	snprintf(action, sizeof(action), "%s/logout", iss->url);
	zt_csrf_token(csrf, s, CSRF_LOGOUT);
	api_page_reply(req, 200, &p);
}

/* The client a logout names: the hint's audience or client_id. */
static bool
logout_client(zt_oauth_client *c, zt_req *req, const zt_issuer *iss,
    json_t *hint, const char *cid)
{
	zt_app *app = zt_req_app(req);
	json_t *aud = json_object_get(hint, "aud");
	zt_oauth_req r = { .db = api_db(req), .mk = app->master_key,
	    .iss = iss };

	if (json_is_string(aud))
		cid = json_string_value(aud);
	else if (json_is_array(aud) && json_array_size(aud) == 1)
		cid = json_string_value(json_array_get(aud, 0));
	return cid != NULL && zt_oauth_client_get(c, &r, cid) == ZT_OK;
}

static bool
in_list(json_t *set, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(set, i, v)
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

static void
logout(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	zt_buf url = ZT_BUF_INIT(URL_MAX);
	const char *hint_s, *pl, *state, *csrf;
	zt_oauth_client c = { .meta = NULL };
	json_t *hint = NULL;
	bool have_client, session, confirmed;
	zt_issuer iss;
	zt_session s;
	zt_actor actor;
	zt_id_ctx cx;
	zt_form f;
	int err;

	if (!api_issuer_of(&iss, req) || !params_read(&f, req))
		return;
	hint_s = zt_form_get(&f, "id_token_hint");
	pl = zt_form_get(&f, "post_logout_redirect_uri");
	state = zt_form_get(&f, "state");
	csrf = zt_form_get(&f, "csrf");
	if (hint_s != NULL && zt_id_token_hint(&hint, api_db(req), &iss,
	    hint_s) < 0) {
		error_page(req, 400, "This sign-out link is not valid", "Go "
		    "back to the application and sign out again.");
		goto out;
	}
	have_client = logout_client(&c, req, &iss, hint, zt_form_get(&f,
	    "client_id"));
	if (pl != NULL && (!have_client || !in_list(json_object_get(c.meta,
	    "post_logout_redirect_uris"), pl))) {
		error_page(req, 400, "This sign-out link is not valid", "The "
		    "address to return to is not one the application "
		    "registered.");
		goto out;
	}
	err = zt_oidc_session(&s, api_db(req), &app->sessions, &iss,
	    zt_req_header(req, "Cookie"), zt_req_is_tls(req));
	if (err < 0 && err != ZT_ENOTFOUND) {
		zt_reply_error(req, err);
		goto out;
	}
	session = err == ZT_OK;
	/* Without a hint of this very person, only the person's own click
	 * (a form with the session's CSRF token) ends the session: a link on
	 * another site must not sign people out. */
	confirmed = session && ((hint != NULL && strcmp(json_string_value(
	    json_object_get(hint, "sub")), s.identity_id) == 0) ||
	    (zt_req_method(req) == ZT_POST && csrf != NULL &&
	    zt_csrf_verify(&s, CSRF_LOGOUT, csrf)));
	if (session && !confirmed) {
		logout_confirm(req, &iss, &s, &f);
		goto out;
	}
	if (session) {
		page_idctx(req, &cx, &actor, &iss, "oidc:logout");
		if ((err = zt_session_revoke(&cx, iss.tenant, s.id)) < 0 &&
		    err != ZT_ENOTFOUND) {
			zt_reply_error(req, err);
			goto out;
		}
	}
	session_cookie(req, NULL);
	if (pl == NULL) {
		signed_out(req);
		goto out;
	}
	if (zt_buf_adds(&url, pl) == ZT_OK && state != NULL) {
		zt_buf_addc(&url, strchr(pl, '?') ? '&' : '?');
		zt_buf_adds(&url, "state=");
		zt_form_encode(&url, state);
	}
	redirect(req, url.data);
out:
	json_decref(hint);
	zt_oauth_client_free(&c);
	zt_buf_free(&url);
	zt_form_free(&f);
}

int
api_oidc_page_routes(zt_http *srv)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		zt_handler fn;
		const char *name;
	} routes[] = {
#define I "/t/{tenant}/{system}"
		{ ZT_GET, "/assets/ztiam.css", css, "assets.css" },
		{ ZT_GET | ZT_POST, I "/login", login_page, "oidc.login" },
		{ ZT_GET | ZT_POST, I "/login/totp", totp_page,
		  "oidc.login.totp" },
		{ ZT_GET | ZT_POST, I "/authorize", authorize,
		  "oauth.authorize" },
		{ ZT_POST, I "/consent", consent, "oauth.consent" },
		{ ZT_GET | ZT_POST, I "/userinfo", userinfo, "oidc.userinfo" },
		{ ZT_GET | ZT_POST, I "/logout", logout, "oidc.logout" },
#undef I
	};
	size_t i;
	int err;

	for (i = 0; i < ZT_ARRAY_LEN(routes); i++)
		if ((err = zt_http_route(srv, routes[i].methods,
		    routes[i].pattern, routes[i].fn, routes[i].name,
		    ZT_ROUTE_PUBLIC)) < 0)
			return err;
	return ZT_OK;
}
