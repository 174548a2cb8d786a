/*
 * The grant endpoints of each issuer beside the token endpoint: pushed
 * authorization requests (RFC 9126), device authorization and its
 * verification page (RFC 8628), dynamic client registration (RFC 7591);
 * and, for administrators, the registration setting of an account
 * system and the consents a person gave.
 *
 * The POST endpoints read application/x-www-form-urlencoded bodies and
 * answer RFC 6749 5.2 errors, as api/oauth.c's do (register reads JSON,
 * as RFC 7591 says).  The device page is HTML for a person: it needs a
 * signed-in session of the issuer (the sign-in pages send the browser
 * back here), every form carries a CSRF token bound to the session, and
 * wrong user codes are throttled per person and per address, so a
 * signed-in attacker cannot walk the code space.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "base/base.h"
#include "oidc/flow.h"

#define PAGE_MAX	(64 * 1024)
#define CSRF_FORM	"device"

static void
par(zt_req *req)
{
	api_oauth_post(req, "par", zt_par_push, false, 201);
}

static void
device_authorization(zt_req *req)
{
	api_oauth_post(req, "device_authorization", zt_device_authorize,
	    false, 200);
}

/* POST <issuer>/register: a 404 where registration is off, as for any
 * path that is not there. */
static void
register_client(zt_req *req)
{
	zt_oauth_error e = { 0 };
	json_t *doc = NULL;
	const char *body;
	zt_issuer iss;
	size_t len;

	if (!api_issuer_of(&iss, req))
		return;
	if (!zt_dcr_enabled(api_db(req), &iss)) {
		zt_reply_problem(req, 404, "not_found", "this issuer does not "
		    "accept dynamic registration");
		return;
	}
	body = zt_req_body(req, &len);
	if (zt_dcr_register(&doc, api_db(req), &iss,
	    zt_req_header(req, "Authorization"), body ? body : "", len,
	    zt_req_id(req), &e) < 0) {
		api_oauth_error(req, &e, iss.url);
		return;
	}
	api_no_store(req);
	zt_reply_json(req, 201, doc);
}

/* ---- the device verification page ---------------------------------------- */

static int
page_session(zt_session *s, zt_req *req, const zt_issuer *iss)
{
	zt_app *app = zt_req_app(req);

	return zt_oidc_session(s, api_db(req), &app->sessions, iss,
	    zt_req_header(req, "Cookie"), zt_req_is_tls(req));
}

void
api_page_reply(zt_req *req, int status, const zt_page *p)
{
	zt_buf out = ZT_BUF_INIT(PAGE_MAX);

	if (zt_page_render(&out, p) < 0) {
		zt_buf_free(&out);
		zt_reply_error(req, ZT_ERR);
		return;
	}
	api_no_store(req);
	zt_reply_header(req, "Content-Security-Policy", zt_page_csp);
	zt_reply_header(req, "X-Frame-Options", "DENY");
	zt_reply_header(req, "Referrer-Policy", "no-referrer");
	zt_reply(req, status, "text/html; charset=utf-8", out.data, out.len);
	zt_buf_free(&out);
}

/* Sends the browser to the sign-in page, to come back to this page (with
 * the user code it was given, if it is well formed). */
static void
to_login(zt_req *req, const zt_issuer *iss, const char *code)
{
	char back[ZT_TENANT_ID_MAX + ZT_NAME_MAX + 64];
	zt_buf url = ZT_BUF_INIT(4096);
	zt_page p = {
		.title = "Sign in first",
		.lead = "Sign in to this account system, then open this page "
		    "again to enter the code your device shows.",
	};

	snprintf(back, sizeof(back), "/t/%s/%s/device%s%s", iss->tenant,
	    iss->system, code ? "?user_code=" : "", code ? code : "");
	if (zt_oidc_login_url(&url, iss, back) < 0) {
		zt_buf_free(&url);
		api_page_reply(req, 401, &p);
		return;
	}
	api_no_store(req);
	zt_reply_header(req, "Location", url.data);
	zt_reply(req, 303, NULL, NULL, 0);
	zt_buf_free(&url);
}

/* The page asking for the code, with an error in plain words or none. */
static void
entry_page(zt_req *req, int status, const zt_issuer *iss,
    const zt_session *s, const char *error)
{
	char action[ZT_ISSUER_URL_MAX + 16], csrf[ZT_CSRF_LEN + 1];
	zt_page_hidden hidden[] = { { "csrf", csrf } };
	zt_page_input inputs[] = { {
		.name = "user_code", .label = "Code", .autocomplete = "off",
		.required = true,
	} };
	zt_page_button buttons[] = { { .label = "Continue" } };
	zt_page p = {
		.title = "Connect a device",
		.lead = "Enter the code your device shows.",
		.error = error, .action = action,
		.hidden = hidden, .nhidden = 1,
		.inputs = inputs, .ninputs = 1,
		.buttons = buttons, .nbuttons = 1,
	};

	snprintf(action, sizeof(action), "%s/device", iss->url);
	zt_csrf_token(csrf, s, CSRF_FORM);
	api_page_reply(req, status, &p);
}

/* The page that shows what the device asks for, to approve or deny. */
static void
confirm_page(zt_req *req, const zt_issuer *iss, const zt_session *s,
    const zt_device_info *d)
{
	char action[ZT_ISSUER_URL_MAX + 16], csrf[ZT_CSRF_LEN + 1];
	char lead[ZT_CLIENT_NAME_MAX + 128], shown[ZT_USER_CODE_LEN + 2];
	const char *items[32];
	char scope[ZT_CLIENT_SCOPE_MAX + 1], *tok, *save = NULL;
	size_t n = 0;
	zt_page_hidden hidden[] = { { "csrf", csrf },
	    { "user_code", shown } };
	zt_page_button buttons[] = {
		{ .label = "Approve", .name = "action", .value = "approve" },
		{ .label = "Deny", .name = "action", .value = "deny",
		  .secondary = true },
	};
	zt_page p = {
		.title = "Connect a device", .lead = lead,
		.items = items, .action = action,
		.hidden = hidden, .nhidden = 2,
		.buttons = buttons, .nbuttons = 2,
	};

	snprintf(shown, sizeof(shown), "%.4s-%.4s", d->user_code,
	    d->user_code + 4);
	snprintf(lead, sizeof(lead), "%s (code %s) asks for access to your "
	    "account with these permissions:", d->client_name[0] ?
	    d->client_name : d->client_id, shown);
	snprintf(scope, sizeof(scope), "%s", d->scope);
	for (tok = strtok_r(scope, " ", &save); tok != NULL && n <
	    ZT_ARRAY_LEN(items); tok = strtok_r(NULL, " ", &save))
		items[n++] = tok;
	p.nitems = n;
	snprintf(action, sizeof(action), "%s/device", iss->url);
	zt_csrf_token(csrf, s, CSRF_FORM);
	api_page_reply(req, 200, &p);
}

static void
done_page(zt_req *req, bool approved)
{
	zt_page p = {
		.title = approved ? "Device connected" : "Request denied",
		.lead = approved ? "You can go back to your device now." :
		    "The device gets no access. You can close this page.",
	};

	api_page_reply(req, 200, &p);
}

/*
 * Throttling of wrong codes: per person and per address, as for
 * passwords.  Returns the seconds to wait, 0 when the person may try.
 */
static int64_t
guess_wait(zt_req *req, const zt_session *s, bool fail)
{
	zt_app *app = zt_req_app(req);
	char who[ZT_TENANT_ID_MAX + ZT_ID_LEN + 16], addr[96];
	int64_t now = zt_now_ms(), a, b;

	if (app->throttle == NULL)
		return 0;
	snprintf(who, sizeof(who), "device:%s/%s", s->tenant,
	    s->identity_id);
	snprintf(addr, sizeof(addr), "device-addr:%s",
	    zt_req_peer_addr(req) ? zt_req_peer_addr(req) : "");
	if (fail) {
		zt_throttle_fail(app->throttle, api_db(req), who, now);
		zt_throttle_fail(app->throttle, api_db(req), addr, now);
		return 0;
	}
	a = zt_throttle_wait(app->throttle, api_db(req), who, ZT_THROTTLE_FREE, 0, now);
	b = zt_throttle_wait(app->throttle, api_db(req), addr, ZT_THROTTLE_ADDR_FREE, 0,
	    now);
	return a > b ? a : b;
}

static const char bad_code[] = "That code is not right, or it has "
    "expired. Check the code on your device and try again.";

/* Looks the code up and shows the confirmation, or the entry page with
 * the reason. */
static void
show_code(zt_req *req, const zt_issuer *iss, const zt_session *s,
    const char *typed)
{
	char code[ZT_USER_CODE_LEN + 1], msg[96];
	zt_device_info d;
	int64_t wait;
	int err;

	if ((wait = guess_wait(req, s, false)) > 0) {
		snprintf(msg, sizeof(msg), "Too many wrong codes. Try again in "
		    "%lld seconds.", (long long)wait);
		entry_page(req, 429, iss, s, msg);
		return;
	}
	if (zt_user_code_normalise(code, typed) < 0 ||
	    (err = zt_device_lookup(&d, api_db(req), iss, code,
	    zt_now_ms() / 1000)) == ZT_ENOTFOUND) {
		guess_wait(req, s, true);
		entry_page(req, 400, iss, s, bad_code);
		return;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	confirm_page(req, iss, s, &d);
}

static void
device_get(zt_req *req, const zt_issuer *iss)
{
	const char *typed = zt_req_query(req, "user_code");
	char code[ZT_USER_CODE_LEN + 1], shown[ZT_USER_CODE_LEN + 2];
	zt_session s;
	int err;

	if ((err = page_session(&s, req, iss)) == ZT_ENOTFOUND) {
		if (typed != NULL && zt_user_code_normalise(code, typed) ==
		    ZT_OK) {
			snprintf(shown, sizeof(shown), "%.4s-%.4s", code,
			    code + 4);
			to_login(req, iss, shown);
		} else
			to_login(req, iss, NULL);
		return;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	if (typed == NULL)
		entry_page(req, 200, iss, &s, NULL);
	else
		show_code(req, iss, &s, typed);
}

static void
device_post(zt_req *req, const zt_issuer *iss)
{
	const char *csrf, *typed, *action, *body;
	char code[ZT_USER_CODE_LEN + 1];
	size_t len = 0;
	zt_page expired = {
		.title = "The form has expired",
		.lead = "Open the page again and enter the code once more.",
	};
	zt_session s;
	zt_form f;
	int err;

	if ((err = page_session(&s, req, iss)) == ZT_ENOTFOUND) {
		to_login(req, iss, NULL);
		return;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	body = zt_req_body(req, &len);
	if (!api_form_content_type(zt_req_header(req, "Content-Type")) ||
	    zt_form_parse(&f, body ? body : "", len) < 0) {
		api_page_reply(req, 400, &expired);
		return;
	}
	csrf = zt_form_get(&f, "csrf");
	typed = zt_form_get(&f, "user_code");
	action = zt_form_get(&f, "action");
	if (csrf == NULL || !zt_csrf_verify(&s, CSRF_FORM, csrf)) {
		api_page_reply(req, 403, &expired);
		goto out;
	}
	if (typed == NULL) {
		entry_page(req, 400, iss, &s, bad_code);
		goto out;
	}
	if (action == NULL) {
		show_code(req, iss, &s, typed);
		goto out;
	}
	if ((strcmp(action, "approve") != 0 && strcmp(action, "deny") != 0) ||
	    zt_user_code_normalise(code, typed) < 0) {
		entry_page(req, 400, iss, &s, bad_code);
		goto out;
	}
	err = zt_device_decide(api_db(req), iss, code,
	    strcmp(action, "approve") == 0, &s, zt_req_id(req),
	    zt_now_ms() / 1000);
	if (err == ZT_ENOTFOUND)
		entry_page(req, 400, iss, &s, "That request is no longer "
		    "waiting: it expired or was already answered. Start "
		    "again on your device.");
	else if (err < 0)
		zt_reply_error(req, err);
	else
		done_page(req, strcmp(action, "approve") == 0);
out:
	zt_form_free(&f);
}

static void
device_page(zt_req *req)
{
	zt_issuer iss;

	if (!api_issuer_of(&iss, req))
		return;
	if (zt_req_method(req) == ZT_POST)
		device_post(req, &iss);
	else
		device_get(req, &iss);
}

/* ---- the registration setting (admin) ------------------------------------ */

static void
registration_get(zt_req *req)
{
	api_get(req, zt_dcr_setting_get, "id");
}

static void
registration_put(zt_req *req)
{
	bool enabled = false, token = false;
	json_t *body, *doc = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "enabled", ZT_J_BOOL, true, &enabled, NULL },
	    { "initial_access_token_required", ZT_J_BOOL, false, &token,
	      NULL },
	}, 2);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_dcr_setting_put(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), enabled, token, version);
	json_decref(body);
	api_reply_result(req, err, 200, doc);
}

/* ---- a person's consents (admin) ----------------------------------------- */

static void
consents_list(zt_req *req)
{
	api_get_items(req, zt_consent_list, "id");
}

static void
consent_revoke(zt_req *req)
{
	zt_actor actor;
	zt_id_ctx cx;
	int64_t n;

	api_idctx(req, &cx, &actor);
	api_reply_result(req, zt_consent_revoke(&cx, zt_req_param(req,
	    "tenant"), zt_req_param(req, "id"), zt_req_param(req, "client"),
	    &n), 204, NULL);
}

int
api_oauth_grant_routes(zt_http *srv)
{
	static const struct {
		unsigned methods;
		const char *pattern;
		zt_handler fn;
		const char *name;
	} routes[] = {
#define I "/t/{tenant}/{system}"
		{ ZT_POST, I "/par", par, "oauth.par" },
		{ ZT_POST, I "/device_authorization", device_authorization,
		  "oauth.device_authorization" },
		{ ZT_GET | ZT_POST, I "/device", device_page, "oauth.device" },
		{ ZT_POST, I "/register", register_client, "oauth.register" },
#undef I
	};
	static const struct api_route admin[] = {
		{ ZT_GET, "/v1/tenants/{tenant}/account-systems/{id}/"
		  "registration", registration_get, "registration.get" },
		{ ZT_PUT, "/v1/tenants/{tenant}/account-systems/{id}/"
		  "registration", registration_put, "registration.put" },
		{ ZT_GET, "/v1/tenants/{tenant}/identities/{id}/consents",
		  consents_list, "identities.consents.list" },
		{ ZT_DELETE, "/v1/tenants/{tenant}/identities/{id}/consents/"
		  "{client}", consent_revoke, "identities.consents.revoke" },
	};
	size_t i;
	int err;

	for (i = 0; i < ZT_ARRAY_LEN(routes); i++)
		if ((err = zt_http_route(srv, routes[i].methods,
		    routes[i].pattern, routes[i].fn, routes[i].name,
		    ZT_ROUTE_PUBLIC)) < 0)
			return err;
	return api_add_routes(srv, admin, ZT_ARRAY_LEN(admin));
}
