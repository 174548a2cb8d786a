/*
 * Credentials and sessions of accounts: an administrator sets passwords,
 * enrolls TOTP, makes recovery codes, lists and revokes sessions; a
 * trusted front end of its own may log people in (POST .../sessions),
 * beside the provider's sign-in pages (api/oidc_pages.c).
 *
 * No password, code, secret or cookie value is logged here or echoed in
 * an error: bodies are decoded into locals, handed to authn, and the
 * buffers holding the password are wiped before the reply.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "base/base.h"

static zt_app *
app_of(zt_req *req)
{
	return zt_req_app(req);
}

/* Wipes a JSON body's string values (the password in it) before the
 * body is freed.  jansson hands out its strings read-only, but it owns
 * them and frees them next, so writing zeros into them is safe. */
static void
body_wipe(json_t *body)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v)
		if (json_is_string(v))
			zt_wipe((char *)(uintptr_t)json_string_value(v),
			    json_string_length(v));
}

/* ---- passwords ----------------------------------------------------------- */

/* 400 naming the policy rule from authn's message ("... rule \"x\": ..."). */
static void
reply_password_error(zt_req *req, int err)
{
	const char *msg = zt_error_msg(), *p, *q;
	char rule[32] = "";

	if (err != ZT_EINVAL) {
		zt_reply_error(req, err);
		return;
	}
	if ((p = strstr(msg, "rule \"")) != NULL &&
	    (q = strchr(p + 6, '"')) != NULL && (size_t)(q - p - 6) <
	    sizeof(rule))
		snprintf(rule, sizeof(rule), "%.*s", (int)(q - p - 6), p + 6);
	zt_reply_problem_ext(req, 400, "password_policy",
	    json_pack("{s:s}", "rule", rule), "%s", msg);
}

static void
password_put(zt_req *req)
{
	const char *pw = NULL;
	json_t *body;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "password", ZT_J_STRING, true, &pw, NULL },
	}, 1);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_password_set(&cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), pw, json_string_length(json_object_get(
	    body, "password")));
	body_wipe(body);
	json_decref(body);
	if (err < 0)
		reply_password_error(req, err);
	else
		zt_reply_empty(req, 204);
}

static void
password_delete(zt_req *req)
{
	zt_actor actor;
	zt_id_ctx cx;

	api_idctx(req, &cx, &actor);
	api_reply_result(req, zt_password_delete(&cx, zt_req_param(req,
	    "tenant"), zt_req_param(req, "id")), 204, NULL);
}

/* ---- TOTP and recovery codes --------------------------------------------- */

static void
totp_enroll(zt_req *req)
{
	json_t *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_totp_enroll(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), NULL);
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 201, doc);
}

static void
totp_confirm(zt_req *req)
{
	const char *code = NULL;
	json_t *body;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "code", ZT_J_STRING, true, &code, NULL },
	}, 1);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_totp_confirm(&cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), code);
	body_wipe(body);
	json_decref(body);
	api_reply_result(req, err, 204, NULL);
}

static void
totp_delete(zt_req *req)
{
	zt_actor actor;
	zt_id_ctx cx;

	api_idctx(req, &cx, &actor);
	api_reply_result(req, zt_totp_delete(&cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id")), 204, NULL);
}

static void
recovery_create(zt_req *req)
{
	json_t *codes = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_recovery_generate(&codes, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"));
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 201, json_pack("{s:o}", "codes", codes));
}

/* ---- sessions ------------------------------------------------------------ */

static void
sessions_list(zt_req *req)
{
	api_get_items(req, zt_session_list, "id");
}

static void
session_revoke(zt_req *req)
{
	zt_actor actor;
	zt_id_ctx cx;

	api_idctx(req, &cx, &actor);
	api_reply_result(req, zt_session_revoke(&cx, zt_req_param(req,
	    "tenant"), zt_req_param(req, "sid")), 204, NULL);
}

static void
sessions_revoke_all(zt_req *req)
{
	zt_actor actor;
	zt_id_ctx cx;
	int64_t n = 0;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_session_revoke_identity(&cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), &n);
	api_reply_result(req, err, 200, err ? NULL :
	    json_pack("{s:I}", "revoked", (json_int_t)n));
}

static void
reply_throttled(zt_req *req, int64_t secs)
{
	char v[24];

	snprintf(v, sizeof(v), "%lld", (long long)secs);
	zt_reply_header(req, "Retry-After", v);
	zt_reply_problem(req, 429, "too_many_attempts", "too many attempts, "
	    "retry after %lld s", (long long)secs);
}

/* The login steps of one request; replies on failure and returns false. */
static bool
login_check(zt_req *req, const zt_id_ctx *cx, const char *tenant,
    json_t *body, zt_login *who, const char **amr)
{
	const char *sys = NULL, *login = NULL, *pw = NULL, *code = NULL;
	const char *rcode = NULL;
	zt_app *app = app_of(req);
	int64_t wait = 0;
	int err;

	if (zt_json_decode(body, (zt_json_field[]){
	    { "system", ZT_J_STRING, true, &sys, NULL },
	    { "login_name", ZT_J_STRING, true, &login, NULL },
	    { "password", ZT_J_STRING, true, &pw, NULL },
	    { "code", ZT_J_STRING, false, &code, NULL },
	    { "recovery_code", ZT_J_STRING, false, &rcode, NULL },
	}, 5) < 0) {
		zt_reply_problem(req, 400, "invalid_request", "%s",
		    zt_error_msg());
		return false;
	}
	err = zt_login_password(who, cx, app->throttle, tenant, sys, login,
	    pw, json_string_length(json_object_get(body, "password")),
	    zt_req_peer_addr(req), &wait);
	if (err == ZT_OK && (who->mfa_required || who->totp_active)) {
		if (code == NULL && rcode == NULL) {
			zt_reply_problem(req, 401, "mfa_required", "a TOTP "
			    "code or a recovery code is required");
			return false;
		}
		err = zt_login_second_factor(cx, app->throttle, tenant,
		    who->account_id, code, rcode, &wait);
		*amr = code ? "pwd otp" : "pwd rcode";
	}
	if (err == ZT_EBUSY && wait > 0)
		reply_throttled(req, wait);
	else if (err == ZT_ENOTFOUND)
		zt_reply_problem(req, 401, "invalid_credentials", "%s",
		    zt_error_msg());
	else if (err < 0)
		zt_reply_error(req, err);
	return err == ZT_OK;
}

/* POST /v1/tenants/{tenant}/sessions: a login by a trusted front end. */
static void
session_login(zt_req *req)
{
	char token[ZT_SESSION_TOKEN_LEN + 1], cookie[256];
	const char *tenant = zt_req_param(req, "tenant");
	const char *amr = "pwd";
	zt_app *app = app_of(req);
	zt_session s;
	zt_login who;
	json_t *body;
	zt_actor actor;
	zt_id_ctx cx;
	bool ok;
	int err;

	if ((body = zt_req_json(req)) == NULL)
		return;
	api_idctx(req, &cx, &actor);
	ok = login_check(req, &cx, tenant, body, &who, &amr);
	body_wipe(body);
	json_decref(body);
	if (!ok)
		return;
	err = zt_session_create(&s, &cx, &app->sessions, tenant,
	    &(zt_session_spec){ .account = who.account_id, .amr = amr,
	    .client_addr = zt_req_peer_addr(req),
	    .user_agent = zt_req_header(req, "User-Agent") }, token);
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	zt_session_cookie(cookie, sizeof(cookie), token, -1,
	    zt_req_is_tls(req));
	zt_reply_json(req, 201, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "id", s.id, "identity_id", s.identity_id,
	    "account_id", s.account_id, "amr", s.amr, "token", token,
	    "set_cookie", cookie));
	zt_wipe(token, sizeof(token));
	zt_wipe(cookie, sizeof(cookie));
	zt_wipe(&s, sizeof(s));
}

int
api_authn_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
#define T "/v1/tenants/{tenant}"
		{ ZT_PUT, T "/accounts/{id}/password", password_put,
		  "accounts.password.set" },
		{ ZT_DELETE, T "/accounts/{id}/password", password_delete,
		  "accounts.password.delete" },
		{ ZT_POST, T "/accounts/{id}/totp", totp_enroll,
		  "accounts.totp.enroll" },
		{ ZT_DELETE, T "/accounts/{id}/totp", totp_delete,
		  "accounts.totp.delete" },
		{ ZT_POST, T "/accounts/{id}/totp/confirm", totp_confirm,
		  "accounts.totp.confirm" },
		{ ZT_POST, T "/accounts/{id}/recovery-codes", recovery_create,
		  "accounts.recovery_codes.create" },
		{ ZT_GET, T "/identities/{id}/sessions", sessions_list,
		  "identities.sessions.list" },
		{ ZT_DELETE, T "/identities/{id}/sessions", sessions_revoke_all,
		  "identities.sessions.revoke" },
		{ ZT_POST, T "/sessions", session_login, "sessions.create" },
		{ ZT_DELETE, T "/sessions/{sid}", session_revoke,
		  "sessions.revoke" },
#undef T
	};

	return api_add_routes(srv, routes, ZT_ARRAY_LEN(routes));
}
