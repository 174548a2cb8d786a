/*
 * par.c: pushed authorization requests (RFC 9126).
 *
 * A client posts its authorization request to the issuer directly,
 * authenticated, and gets a request_uri that stands for it; the browser
 * then carries only client_id and request_uri.  The parameters never pass
 * through the browser, and what can be checked without one (client,
 * response type, redirect URI) is checked here, where the client can see
 * the error.  A pushed request is good once, for ZT_PAR_LIFETIME_S.
 *
 * The parameters are kept as a JSON array of [name, value] pairs, in the
 * order sent, and handed back as a zt_form (by encoding them again and
 * parsing that: the form parser stays the one way parameters are read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/flow.h"

#define PAR_ID_BYTES	24

static const char *const multi_params[] = { "resource", NULL };

bool
zt_par_required(json_t *meta)
{
	return json_is_true(json_object_get(meta,
	    "require_pushed_authorization_requests"));
}

/* The checks a pushed request gets before it is kept. */
static int
par_check(const zt_oauth_client *c, const zt_form *f, zt_oauth_error *e)
{
	const char *cid = zt_form_get(f, "client_id");
	const char *rt = zt_form_get(f, "response_type");
	const char *ru = zt_form_get(f, "redirect_uri");
	const char *scope = zt_form_get(f, "scope");
	const char *rep;
	json_t *uris = json_object_get(c->meta, "redirect_uris");

	if ((rep = zt_form_repeated(f, multi_params)) != NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "parameter "
		    "\"%.40s\" is given more than once", rep);
	if (cid != NULL && strcmp(cid, c->id) != 0)
		return zt_oauth_fail(e, 400, "invalid_request", "client_id is "
		    "not the authenticated client");
	if (zt_form_get(f, "request_uri") != NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "a pushed "
		    "request cannot itself name a request_uri");
	if (!zt_json_set_has(json_object_get(c->meta, "grant_types"),
	    "authorization_code"))
		return zt_oauth_fail(e, 400, "unauthorized_client", "the client "
		    "is not registered for the authorization code grant");
	if (rt == NULL || strcmp(rt, "code") != 0)
		return zt_oauth_fail(e, 400, rt == NULL ? "invalid_request" :
		    "unsupported_response_type", "response_type must be "
		    "\"code\"");
	if (ru == NULL ? json_array_size(uris) != 1 :
	    !zt_json_set_has(uris, ru))
		return zt_oauth_fail(e, 400, "invalid_request", ru == NULL ?
		    "redirect_uri is required: the client registered several" :
		    "redirect_uri is not one the client registered");
	if (scope != NULL && !zt_scope_within(scope, json_string_value(
	    json_object_get(c->meta, "scope"))))
		return zt_oauth_fail(e, 400, "invalid_scope", "the client may "
		    "not ask for these scopes");
	return ZT_OK;
}

/* The request's parameters but the client's credentials, as JSON text. */
static char *
params_text(const zt_form *f)
{
	static const char *const skip[] = {
		"client_secret", "client_assertion", "client_assertion_type",
	};
	json_t *list = json_array();
	char *text;
	size_t i, j;

	if (list == NULL)
		return NULL;
	for (i = 0; i < f->n; i++) {
		for (j = 0; j < ZT_ARRAY_LEN(skip); j++)
			if (strcmp(f->p[i].name, skip[j]) == 0)
				break;
		if (j == ZT_ARRAY_LEN(skip) && f->p[i].value[0] != '\0')
			json_array_append_new(list, json_pack("[s,s]",
			    f->p[i].name, f->p[i].value));
	}
	text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	return text;
}

int
zt_par_push(json_t **out, const zt_oauth_req *r, const zt_form *f,
    zt_oauth_error *e)
{
	int64_t now = r->now ? r->now : zt_now_ms() / 1000;
	char id[(PAR_ID_BYTES * 4 + 2) / 3 + 2];
	char uri[sizeof(ZT_PAR_URI_PREFIX) + sizeof(id)];
	zt_oauth_client c;
	char *text = NULL;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_oauth_client_auth(&c, r, f, e)) < 0)
		return err;
	if ((err = par_check(&c, f, e)) < 0)
		goto out;
	if (zt_random_id(id, sizeof(id), PAR_ID_BYTES) < 0 ||
	    (text = params_text(f)) == NULL) {
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
		goto out;
	}
	if ((err = zt_db_begin(r->db)) < 0)
		goto fail;
	if ((err = zt_db_prepare(&st, r->db, "DELETE FROM oauth_par WHERE"
	    " tenant = $1 AND expires_at < $2")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, r->iss->tenant);
		zt_stmt_bind_int(st, 2, now);
		err = zt_stmt_step(st);
		zt_stmt_reset(st);
		err = err == ZT_DONE ? ZT_OK : err;
	}
	if (err == ZT_OK && (err = zt_db_prepare(&st, r->db, "INSERT INTO"
	    " oauth_par (tenant, id, system_id, client_id, params,"
	    " expires_at) VALUES ($1, $2, $3, $4, $5, $6)")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, r->iss->tenant);
		zt_stmt_bind_text(st, 2, id);
		zt_stmt_bind_text(st, 3, r->iss->system_id);
		zt_stmt_bind_text(st, 4, c.id);
		zt_stmt_bind_text(st, 5, text);
		zt_stmt_bind_int(st, 6, now + ZT_PAR_LIFETIME_S);
		err = zt_stmt_step(st);
		zt_stmt_reset(st);
		err = err == ZT_DONE ? ZT_OK : err;
	}
	if ((err = zt_db_end(r->db, err)) < 0)
		goto fail;
	snprintf(uri, sizeof(uri), "%s%s", ZT_PAR_URI_PREFIX, id);
	if ((*out = json_pack("{s:s, s:i}", "request_uri", uri,
	    "expires_in", ZT_PAR_LIFETIME_S)) == NULL)
		err = zt_oauth_fail(e, 500, "server_error", "out of memory");
	goto out;
fail:
	err = zt_oauth_fail(e, 503, "temporarily_unavailable", "the request "
	    "could not be kept; retry");
out:
	free(text);
	zt_oauth_client_free(&c);
	return err;
}

int
zt_par_take(zt_form *params, zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *request_uri, int64_t now)
{
	const size_t pn = sizeof(ZT_PAR_URI_PREFIX) - 1;
	zt_buf body = ZT_BUF_INIT(ZT_FORM_BODY_MAX);
	json_t *list = NULL, *pair;
	zt_stmt *st;
	size_t i;
	int err, found = 0;

	memset(params, 0, sizeof(*params));
	if (strncmp(request_uri, ZT_PAR_URI_PREFIX, pn) != 0 ||
	    strlen(request_uri + pn) > 64)
		return zt_error_set(ZT_ENOTFOUND, "no such pushed request");
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, "SELECT params FROM oauth_par"
	    " WHERE tenant = $1 AND id = $2 AND system_id = $3 AND"
	    " client_id = $4 AND expires_at > $5")) < 0)
		goto end;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, request_uri + pn);
	zt_stmt_bind_text(st, 3, iss->system_id);
	zt_stmt_bind_text(st, 4, client_id);
	zt_stmt_bind_int(st, 5, now);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		list = json_loads(zt_stmt_text(st, 0), 0, NULL);
		found = 1;
		err = ZT_OK;
	} else if (err == ZT_DONE) {
		err = ZT_OK;
	}
	zt_stmt_reset(st);
	/* Once: the row goes whatever comes next. */
	if (err == ZT_OK && found && (err = zt_db_prepare(&st, db, "DELETE"
	    " FROM oauth_par WHERE tenant = $1 AND id = $2")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, iss->tenant);
		zt_stmt_bind_text(st, 2, request_uri + pn);
		err = zt_stmt_step(st);
		if (err == ZT_DONE && zt_stmt_changes(st) != 1)
			found = 0;
		zt_stmt_reset(st);
		err = err == ZT_DONE ? ZT_OK : err;
	}
end:
	if ((err = zt_db_end(db, err)) < 0) {
		json_decref(list);
		return err;
	}
	if (!found) {
		json_decref(list);
		return zt_error_set(ZT_ENOTFOUND, "no such pushed request");
	}
	if (!json_is_array(list)) {
		json_decref(list);
		return zt_error_set(ZT_ERR, "a pushed request does not parse");
	}
	json_array_foreach(list, i, pair) {
		if (err == ZT_OK && i > 0)
			err = zt_buf_addc(&body, '&');
		if (err == ZT_OK)
			err = zt_form_encode(&body, json_string_value(
			    json_array_get(pair, 0)));
		if (err == ZT_OK)
			err = zt_buf_addc(&body, '=');
		if (err == ZT_OK)
			err = zt_form_encode(&body, json_string_value(
			    json_array_get(pair, 1)));
	}
	json_decref(list);
	if (err == ZT_OK)
		err = zt_form_parse(params, body.data ? body.data : "",
		    body.len);
	zt_buf_free(&body);
	return err;
}
