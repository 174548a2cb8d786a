/*
 * authorize.c: the authorization endpoint's decisions (RFC 6749 4.1,
 * OpenID Connect Core 3.1.2), authorization codes and remembered
 * consents.  The pages and redirects are api/oidc_pages.c's.
 *
 * A request is checked in two halves.  Until the client and its redirect
 * URI are known to be right, an error goes on a page of ours: sending it
 * to an unchecked URI would make the provider an open redirector (RFC
 * 6749 4.1.2.1).  After that, errors go to the redirect URI with the
 * state and the issuer (RFC 9207).  The redirect URI must be one the
 * client registered, byte for byte.  PKCE is S256 only (RFC 9700 2.1.1
 * and RFC 7636 4.2: "plain" protects nothing against a leaked request),
 * and required of public clients.
 *
 * A request that must wait for a person (the sign-in or consent pages)
 * is parked: its checked parameters go in the pushed-request table under
 * an id starting "park~" (which no pushed request has) for
 * ZT_PARK_LIFETIME_S, and the browser comes back with that request_uri,
 * taken once.  Parked requests may carry parameters of ours ("zt_..."),
 * which every other request is refused for.
 *
 * A code is "ztac_" and 256 random bits; its row keeps the SHA-256, the
 * request's client, redirect URI, PKCE challenge, nonce, scope and
 * resources, and the session's subject, id, acr, amr and sign-in time.
 * It is spent at its first use.  A spent code presented again revokes
 * what it produced: its access tokens are noted in a family of its own
 * (or in the refresh family it started), which zt_refresh_revoke_family
 * revokes.  Rows stay a day past their expiry so a late replay is still
 * recognised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "oidc/flow.h"

#define CODE_PREFIX	"ztac_"
#define CODE_BYTES	32
#define PARK_PREFIX	"park~"
#define PARK_BYTES	32
#define HASH_HEX	(2 * ZT_SHA256_LEN + 1)
#define NONCE_MAX	255
#define STATE_MAX	1024
#define CODE_KEEP_S	86400

#define SCHEMA_V1(KT)							\
	"CREATE TABLE oauth_codes ("					\
	" tenant " KT " NOT NULL,"					\
	" hash " KT " NOT NULL,"					\
	" system_id " KT " NOT NULL,"					\
	" client_id " KT " NOT NULL,"					\
	" identity_id " KT " NOT NULL,"					\
	" account_id TEXT NOT NULL,"					\
	" session_id TEXT NOT NULL,"					\
	" redirect_uri TEXT NOT NULL,"					\
	" challenge TEXT,"						\
	" nonce TEXT,"							\
	" scope TEXT NOT NULL,"						\
	" resource TEXT,"						\
	" acr TEXT NOT NULL,"						\
	" amr TEXT NOT NULL,"						\
	" auth_time BIGINT NOT NULL,"					\
	" expires_at BIGINT NOT NULL,"					\
	" used_at BIGINT,"						\
	" family_id TEXT,"						\
	" refresh_family TEXT,"						\
	" PRIMARY KEY (tenant, hash));"					\
	"CREATE INDEX oauth_codes_expiry"				\
	" ON oauth_codes (tenant, expires_at);"				\
	"CREATE TABLE oauth_consents ("					\
	" tenant " KT " NOT NULL,"					\
	" identity_id " KT " NOT NULL,"					\
	" client_id " KT " NOT NULL,"					\
	" system_id " KT " NOT NULL,"					\
	" scope TEXT NOT NULL,"						\
	" granted_at BIGINT NOT NULL,"					\
	" PRIMARY KEY (tenant, identity_id, client_id));"

static const zt_migration code_steps[] = {
	{ 1, "authorization codes and consents", SCHEMA_V1("TEXT"),
	  SCHEMA_V1("TEXT COLLATE \"C\"") },
};

const zt_migration_set zt_oauth_code_migrations = {
	"oauth_codes", code_steps, ZT_ARRAY_LEN(code_steps),
};

/* ---- small checks ------------------------------------------------------- */

/* True when the space-separated token `tok` (n bytes) is in `list`. */
static bool
scope_has(const char *list, const char *tok, size_t n)
{
	const char *p = list, *end;

	while (p != NULL && *p != '\0') {
		end = p + strcspn(p, " ");
		if ((size_t)(end - p) == n && strncmp(p, tok, n) == 0)
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

static bool
b64url_chars(const char *s, size_t min, size_t max)
{
	size_t i, n = strlen(s);

	if (n < min || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* RFC 7636 4.1: 43 to 128 unreserved characters. */
static bool
verifier_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 43 || n > 128)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '.' || s[i] == '_' || s[i] == '~'))
			return false;
	return true;
}

static void
hash_hex(char out[HASH_HEX], const char *s)
{
	uint8_t h[ZT_SHA256_LEN];

	zt_sha256(h, s, strlen(s));
	zt_hex_encode(out, h, sizeof(h));
}

/* ---- checking a request ------------------------------------------------- */

void
zt_authreq_free(zt_authreq *a)
{
	zt_oauth_client_free(&a->client);
	zt_form_free(&a->params);
	json_decref(a->resource);
	memset(a, 0, sizeof(*a));
}

/*
 * The prompt values (OIDC Core 3.1.2.1); "select_account" means nothing
 * here (one account per system).  a->prompt is the one that acts first:
 * "none", else "login" (consent, if asked too, comes after the sign-in:
 * the parked request keeps it), else "consent".
 */
static int
prompt_read(zt_authreq *a, zt_oauth_error *e)
{
	const char *p = zt_form_get(&a->params, "prompt");
	bool none = false, login = false, consent = false, other = false;
	size_t n;

	if (p == NULL)
		return ZT_OK;
	for (; *p != '\0'; p += n) {
		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == 0)
			continue;
		if (n == 4 && strncmp(p, "none", 4) == 0)
			none = true;
		else if (n == 5 && strncmp(p, "login", 5) == 0)
			login = true;
		else if (n == 7 && strncmp(p, "consent", 7) == 0)
			consent = true;
		else if (n == 14 && strncmp(p, "select_account", 14) == 0)
			other = true;
		else
			return zt_oauth_fail(e, 400, "invalid_request",
			    "prompt takes none, login, consent or "
			    "select_account");
	}
	if (none && (login || consent || other))
		return zt_oauth_fail(e, 400, "invalid_request", "prompt=none "
		    "goes with no other value");
	a->prompt = none ? "none" : login ? "login" : consent ? "consent" :
	    NULL;
	return ZT_OK;
}

/* The checks whose errors go to the redirect URI. */
static int
check_rest(zt_authreq *a, bool parked, zt_oauth_error *e)
{
	const zt_form *f = &a->params;
	const char *rt = zt_form_get(f, "response_type");
	const char *rm = zt_form_get(f, "response_mode");
	const char *method = zt_form_get(f, "code_challenge_method");
	const char *registered = json_string_value(json_object_get(
	    a->client.meta, "scope"));
	const char *v;
	size_t i;

	if (!parked)
		for (i = 0; i < f->n; i++)
			if (strncmp(f->p[i].name, "zt_", 3) == 0)
				return zt_oauth_fail(e, 400, "invalid_request",
				    "parameter \"%.40s\" is not one a client "
				    "may send", f->p[i].name);
	if (a->state != NULL && strlen(a->state) > STATE_MAX)
		return zt_oauth_fail(e, 400, "invalid_request", "state is at "
		    "most %d bytes", STATE_MAX);
	if (rt == NULL)
		return zt_oauth_fail(e, 400, "invalid_request",
		    "response_type is required");
	if (strcmp(rt, "code") != 0)
		return zt_oauth_fail(e, 400, "unsupported_response_type",
		    "only response_type=code is supported");
	if (!zt_json_set_has(json_object_get(a->client.meta, "grant_types"),
	    "authorization_code"))
		return zt_oauth_fail(e, 400, "unauthorized_client", "the "
		    "client is not registered for the authorization code "
		    "grant");
	if (zt_par_required(a->client.meta) && !a->via_par)
		return zt_oauth_fail(e, 400, "invalid_request", "this client "
		    "must push its authorization requests (RFC 9126)");
	if (zt_form_get(f, "request") != NULL)
		return zt_oauth_fail(e, 400, "request_not_supported",
		    "request objects are not supported; use a pushed request");
	if (rm != NULL && strcmp(rm, "query") != 0)
		return zt_oauth_fail(e, 400, "invalid_request", "only "
		    "response_mode=query is supported");
	a->scope = zt_form_get(f, "scope");
	if (a->scope == NULL)
		a->scope = registered;
	if (!zt_scope_syntax_ok(a->scope) ||
	    !zt_scope_within(a->scope, registered))
		return zt_oauth_fail(e, 400, "invalid_scope", "the client may "
		    "ask for these scopes only: %.150s", registered);
	a->challenge = zt_form_get(f, "code_challenge");
	if (method != NULL && strcmp(method, "S256") != 0)
		return zt_oauth_fail(e, 400, "invalid_request", "only the S256 "
		    "code_challenge_method is supported");
	if (a->challenge != NULL && method == NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "send "
		    "code_challenge_method=S256 (plain is not supported)");
	if (a->challenge != NULL && !b64url_chars(a->challenge, 43, 43))
		return zt_oauth_fail(e, 400, "invalid_request",
		    "code_challenge is the base64url SHA-256 of the verifier "
		    "(43 characters)");
	if (a->challenge == NULL && strcmp(a->client.method, "none") == 0)
		return zt_oauth_fail(e, 400, "invalid_request", "a public "
		    "client must use PKCE (code_challenge)");
	a->nonce = zt_form_get(f, "nonce");
	if (a->nonce != NULL && strlen(a->nonce) > NONCE_MAX)
		return zt_oauth_fail(e, 400, "invalid_request", "nonce is at "
		    "most %d bytes", NONCE_MAX);
	if ((v = zt_form_get(f, "max_age")) != NULL &&
	    zt_parse_i64(v, 0, 366 * 86400LL, &a->max_age) < 0)
		return zt_oauth_fail(e, 400, "invalid_request", "max_age is a "
		    "number of seconds");
	if (parked && (v = zt_form_get(f, "zt_auth_after")) != NULL &&
	    zt_parse_i64(v, 0, INT64_MAX / 2, &a->auth_after) < 0)
		a->auth_after = 0;
	a->first_party = json_is_true(json_object_get(a->client.meta,
	    "first_party"));
	if (prompt_read(a, e) < 0)
		return ZT_EINVAL;
	return zt_oauth_audience_read(&a->resource, &a->params, false, e);
}

static const char *const multi_params[] = { "resource", NULL };

int
zt_authreq_check(zt_authreq *a, zt_db *db, const zt_issuer *iss, zt_form *in,
    int64_t now, bool *redirectable, zt_oauth_error *e)
{
	const size_t pn = sizeof(ZT_PAR_URI_PREFIX) - 1;
	zt_oauth_req r = { .db = db, .iss = iss };
	const char *cid = zt_form_get(in, "client_id");
	const char *ru = zt_form_get(in, "request_uri"), *rep, *inner;
	json_t *uris;
	bool parked = false;
	int err;

	memset(a, 0, sizeof(*a));
	a->max_age = -1;
	*redirectable = false;
	if (cid == NULL) {
		zt_form_free(in);
		return zt_oauth_fail(e, 400, "invalid_request", "client_id is "
		    "required");
	}
	if ((err = zt_oauth_client_get(&a->client, &r, cid)) < 0) {
		zt_form_free(in);
		if (err == ZT_ENOTFOUND)
			return zt_oauth_fail(e, 400, "invalid_client", "there "
			    "is no such client at this issuer");
		return zt_oauth_fail(e, 500, "server_error", "the client "
		    "could not be read");
	}
	if (ru != NULL) {
		parked = strncmp(ru, ZT_PAR_URI_PREFIX, pn) == 0 &&
		    strncmp(ru + pn, PARK_PREFIX, sizeof(PARK_PREFIX) - 1) ==
		    0;
		err = zt_par_take(&a->params, db, iss, a->client.id, ru, now);
		zt_form_free(in);
		if (err == ZT_ENOTFOUND)
			return zt_oauth_fail(e, 400, "invalid_request_uri",
			    "the request_uri is unknown, used or expired; "
			    "start again");
		if (err < 0)
			return zt_oauth_fail(e, 500, "server_error", "the "
			    "request could not be read");
		a->via_par = !parked || zt_form_get(&a->params,
		    "zt_via_par") != NULL;
	} else {
		a->params = *in;
		memset(in, 0, sizeof(*in));
	}
	if ((rep = zt_form_repeated(&a->params, multi_params)) != NULL)
		return zt_oauth_fail(e, 400, "invalid_request", "parameter "
		    "\"%.40s\" is given more than once", rep);
	inner = zt_form_get(&a->params, "client_id");
	if (inner != NULL && strcmp(inner, a->client.id) != 0)
		return zt_oauth_fail(e, 400, "invalid_request", "client_id "
		    "differs from the pushed request's");
	uris = json_object_get(a->client.meta, "redirect_uris");
	a->redirect_uri = zt_form_get(&a->params, "redirect_uri");
	if (a->redirect_uri == NULL) {
		if (json_array_size(uris) != 1)
			return zt_oauth_fail(e, 400, "invalid_request",
			    "redirect_uri is required");
		a->redirect_uri = json_string_value(json_array_get(uris, 0));
	} else if (!zt_json_set_has(uris, a->redirect_uri)) {
		return zt_oauth_fail(e, 400, "invalid_request", "redirect_uri "
		    "is not one this client registered");
	}
	a->state = zt_form_get(&a->params, "state");
	*redirectable = true;
	return check_rest(a, parked, e);
}

/* ---- parking ------------------------------------------------------------ */

/* The prompt without "login" (met by the sign-in the request waited
 * for), or NULL when nothing is left. */
static char *
prompt_after_login(const char *p)
{
	zt_buf b = ZT_BUF_INIT(256);
	size_t n;

	while (p != NULL && *p != '\0') {
		n = strcspn(p, " ");
		if (n > 0 && !(n == 5 && strncmp(p, "login", 5) == 0)) {
			if (b.len > 0)
				zt_buf_addc(&b, ' ');
			zt_buf_add(&b, p, n);
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return b.len > 0 ? zt_buf_detach(&b) : NULL;
}

int
zt_authreq_park(char *uri, size_t size, zt_db *db, const zt_issuer *iss,
    const zt_authreq *a, int64_t auth_after, int64_t now)
{
	char id[sizeof(PARK_PREFIX) + (PARK_BYTES * 4 + 2) / 3 + 2];
	char num[24], *text = NULL, *prompt = NULL;
	json_t *list = json_array();
	const char *name, *val;
	zt_stmt *st;
	size_t i;
	int err;

	if (list == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	for (i = 0; i < a->params.n; i++) {
		name = a->params.p[i].name;
		val = a->params.p[i].value;
		if (val[0] == '\0' || strncmp(name, "zt_", 3) == 0 ||
		    strcmp(name, "request_uri") == 0 ||
		    strcmp(name, "redirect_uri") == 0)
			continue;
		if (strcmp(name, "prompt") == 0 && auth_after > 0) {
			if ((prompt = prompt_after_login(val)) == NULL)
				continue;
			val = prompt;
		}
		json_array_append_new(list, json_pack("[s,s]", name, val));
	}
	json_array_append_new(list, json_pack("[s,s]", "redirect_uri",
	    a->redirect_uri));
	if (a->via_par)
		json_array_append_new(list, json_pack("[s,s]", "zt_via_par",
		    "1"));
	if (auth_after < a->auth_after)
		auth_after = a->auth_after;
	if (auth_after > 0) {
		snprintf(num, sizeof(num), "%lld", (long long)auth_after);
		json_array_append_new(list, json_pack("[s,s]",
		    "zt_auth_after", num));
	}
	text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	free(prompt);
	memcpy(id, PARK_PREFIX, sizeof(PARK_PREFIX) - 1);
	if (text == NULL || zt_random_id(id + sizeof(PARK_PREFIX) - 1,
	    sizeof(id) - sizeof(PARK_PREFIX) + 1, PARK_BYTES) < 0) {
		free(text);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	/* Requests nobody came back for go, as pushed ones do. */
	if ((err = zt_db_prepare(&st, db, "DELETE FROM oauth_par WHERE"
	    " tenant = $1 AND expires_at < $2")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, iss->tenant);
		zt_stmt_bind_int(st, 2, now);
		err = zt_stmt_run(st);
	}
	if (err == ZT_OK && (err = zt_db_prepare(&st, db, "INSERT INTO"
	    " oauth_par (tenant, id, system_id, client_id, params,"
	    " expires_at) VALUES ($1, $2, $3, $4, $5, $6)")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, iss->tenant);
		zt_stmt_bind_text(st, 2, id);
		zt_stmt_bind_text(st, 3, iss->system_id);
		zt_stmt_bind_text(st, 4, a->client.id);
		zt_stmt_bind_text(st, 5, text);
		zt_stmt_bind_int(st, 6, now + ZT_PARK_LIFETIME_S);
		err = zt_stmt_run(st);
	}
	free(text);
	if (err < 0)
		return err;
	if ((size_t)snprintf(uri, size, "%s%s", ZT_PAR_URI_PREFIX, id) >=
	    size)
		return zt_error_set(ZT_ETOOBIG, "request_uri buffer");
	return ZT_OK;
}

int
zt_authreq_query(zt_buf *out, const zt_authreq *a)
{
	const char *name, *val;
	char *prompt = NULL;
	bool first = true;
	size_t i;
	int err = ZT_OK;

	for (i = 0; i < a->params.n && err == ZT_OK; i++) {
		name = a->params.p[i].name;
		val = a->params.p[i].value;
		if (val[0] == '\0' || strncmp(name, "zt_", 3) == 0 ||
		    strcmp(name, "request_uri") == 0 ||
		    strcmp(name, "redirect_uri") == 0 ||
		    strcmp(name, "max_age") == 0)
			continue;
		if (strcmp(name, "prompt") == 0) {
			free(prompt);
			if ((prompt = prompt_after_login(val)) == NULL)
				continue;
			val = prompt;
		}
		if (!first)
			err = zt_buf_addc(out, '&');
		first = false;
		if (err == ZT_OK && (err = zt_form_encode(out, name)) == ZT_OK &&
		    (err = zt_buf_addc(out, '=')) == ZT_OK)
			err = zt_form_encode(out, val);
	}
	free(prompt);
	if (err == ZT_OK && !first)
		err = zt_buf_addc(out, '&');
	if (err == ZT_OK && (err = zt_buf_adds(out, "redirect_uri=")) == ZT_OK)
		err = zt_form_encode(out, a->redirect_uri);
	return err;
}

/* ---- consent ------------------------------------------------------------ */

int
zt_consent_covers(bool *yes, zt_db *db, const zt_issuer *iss,
    const char *identity, const char *client_id, const char *scope)
{
	zt_stmt *st;
	int err;

	*yes = false;
	if ((err = zt_db_prepare(&st, db, "SELECT scope FROM oauth_consents"
	    " WHERE tenant = $1 AND identity_id = $2 AND client_id = $3"
	    " AND system_id = $4")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, identity);
	zt_stmt_bind_text(st, 3, client_id);
	zt_stmt_bind_text(st, 4, iss->system_id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*yes = zt_scope_within(scope, zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
zt_consent_grant(zt_db *db, const zt_issuer *iss, const zt_session *s,
    const char *client_id, const char *scope, const char *request_id,
    int64_t now)
{
	char actor_id[ZT_ID_LEN + 16];
	zt_actor actor = { actor_id, iss->tenant, request_id };
	zt_buf merged = ZT_BUF_INIT(2 * ZT_CLIENT_SCOPE_MAX + 2);
	const char *w;
	json_t *rec;
	zt_stmt *st;
	size_t n;
	int err;

	snprintf(actor_id, sizeof(actor_id), "identity:%s", s->identity_id);
	if ((err = zt_db_begin(db)) < 0)
		return err;
	/* The new scope joins what was granted before. */
	if ((err = zt_db_prepare(&st, db, "SELECT scope FROM oauth_consents"
	    " WHERE tenant = $1 AND identity_id = $2 AND client_id = $3"))
	    < 0)
		goto out;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, s->identity_id);
	zt_stmt_bind_text(st, 3, client_id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		err = zt_buf_adds(&merged, zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	if (err < 0)
		goto out;
	for (w = scope; *w != '\0' && err == ZT_OK; ) {
		n = strcspn(w, " ");
		if (n > 0 && !scope_has(merged.data ? merged.data : "", w,
		    n)) {
			if (merged.len > 0)
				err = zt_buf_addc(&merged, ' ');
			if (err == ZT_OK)
				err = zt_buf_add(&merged, w, n);
		}
		w += n;
		while (*w == ' ')
			w++;
	}
	if (err == ZT_OK)
		err = zt_buf_addc(&merged, '\0');
	if (err < 0)
		goto out;
	if ((err = zt_db_prepare(&st, db, "DELETE FROM oauth_consents WHERE"
	    " tenant = $1 AND identity_id = $2 AND client_id = $3")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, s->identity_id);
	zt_stmt_bind_text(st, 3, client_id);
	if ((err = zt_stmt_run(st)) < 0 ||
	    (err = zt_db_prepare(&st, db, "INSERT INTO oauth_consents"
	    " (tenant, identity_id, client_id, system_id, scope, granted_at)"
	    " VALUES ($1, $2, $3, $4, $5, $6)")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, iss->tenant);
	zt_stmt_bind_text(st, 2, s->identity_id);
	zt_stmt_bind_text(st, 3, client_id);
	zt_stmt_bind_text(st, 4, iss->system_id);
	zt_stmt_bind_text(st, 5, merged.data);
	zt_stmt_bind_int(st, 6, now);
	if ((err = zt_stmt_run(st)) < 0)
		goto out;
	rec = json_pack("{s:s, s:s, s:s}", "issuer", iss->url, "client_id",
	    client_id, "scope", merged.data);
	if (rec == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	err = zt_audit_append(db, &actor, &(zt_audit_entry){
	    .action = "oauth.consent", .tenant = iss->tenant,
	    .target = actor_id, .after = rec });
	json_decref(rec);
out:
	zt_buf_free(&merged);
	return zt_db_end(db, err);
}

int
zt_consent_list(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *identity)
{
	json_t *doc = NULL, *list;
	zt_stmt *st;
	int err;

	*out = NULL;
	if ((err = zt_identity_get(&doc, cx, tenant, identity)) < 0)
		return err;
	json_decref(doc);
	if ((err = zt_db_prepare(&st, cx->db, "SELECT client_id, system_id,"
	    " scope, granted_at FROM oauth_consents WHERE tenant = $1 AND"
	    " identity_id = $2 ORDER BY client_id")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, identity);
	list = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}",
		    "client_id", zt_stmt_text(st, 0), "account_system_id",
		    zt_stmt_text(st, 1), "scope", zt_stmt_text(st, 2),
		    "granted_at", zt_time_json(zt_stmt_int(st, 3) * 1000)));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}

int
zt_consent_revoke(const zt_id_ctx *cx, const char *tenant,
    const char *identity, const char *client_id, int64_t *families)
{
	int64_t now = zt_now_ms() / 1000;
	char target[2 * ZT_ID_LEN + ZT_CLIENT_ID_LEN + 4];
	json_t *doc = NULL, *before = NULL, *ids;
	zt_stmt *st;
	size_t i;
	int err;

	*families = 0;
	if ((err = zt_identity_get(&doc, cx, tenant, identity)) < 0)
		return err;
	json_decref(doc);
	if ((ids = json_array()) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = zt_db_begin(cx->db)) < 0) {
		json_decref(ids);
		return err;
	}
	if ((err = zt_db_prepare(&st, cx->db, "SELECT scope FROM"
	    " oauth_consents WHERE tenant = $1 AND identity_id = $2 AND"
	    " client_id = $3")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, identity);
	zt_stmt_bind_text(st, 3, client_id);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		before = json_pack("{s:s, s:s}", "client_id", client_id,
		    "scope", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	if (err < 0)
		goto out;
	if (before == NULL) {
		err = zt_error_set(ZT_ENOTFOUND, "no consent of this identity "
		    "for this client");
		goto out;
	}
	/* What the consent let the client hold goes with it: its refresh
	 * token families, and the access tokens issued from them. */
	if ((err = zt_db_prepare(&st, cx->db, "SELECT id FROM"
	    " oauth_refresh_families WHERE tenant = $1 AND identity_id = $2"
	    " AND client_id = $3 AND revoked_at IS NULL")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, identity);
	zt_stmt_bind_text(st, 3, client_id);
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(ids, json_string(zt_stmt_text(st, 0)));
	zt_stmt_reset(st);
	if (err < 0)
		goto out;
	for (i = 0; i < json_array_size(ids) && err == ZT_OK; i++)
		err = zt_refresh_revoke_family(cx->db, tenant,
		    json_string_value(json_array_get(ids, i)), now);
	if (err < 0 || (err = zt_db_prepare(&st, cx->db, "DELETE FROM"
	    " oauth_consents WHERE tenant = $1 AND identity_id = $2 AND"
	    " client_id = $3")) < 0)
		goto out;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, identity);
	zt_stmt_bind_text(st, 3, client_id);
	if ((err = zt_stmt_run(st)) < 0)
		goto out;
	json_object_set_new(before, "refresh_families",
	    json_integer((json_int_t)json_array_size(ids)));
	snprintf(target, sizeof(target), "%s:%s", identity, client_id);
	err = zt_audit_change(cx->db, cx->actor, "oauth.consent.revoke",
	    tenant, "consent", target, before, NULL);
	*families = (int64_t)json_array_size(ids);
out:
	json_decref(before);
	json_decref(ids);
	return zt_db_end(cx->db, err);
}

/* ---- codes -------------------------------------------------------------- */

int
zt_code_issue(char code[ZT_CODE_LEN + 1], zt_db *db, const zt_issuer *iss,
    const zt_authreq *a, const zt_session *s, int64_t now)
{
	char hash[HASH_HEX], *res = NULL;
	zt_stmt *st;
	int err;

	memcpy(code, CODE_PREFIX, sizeof(CODE_PREFIX) - 1);
	if ((err = zt_random_id(code + sizeof(CODE_PREFIX) - 1,
	    ZT_CODE_LEN + 2 - sizeof(CODE_PREFIX), CODE_BYTES)) < 0)
		return err;
	hash_hex(hash, code);
	if (a->resource != NULL && (res = json_dumps(a->resource,
	    JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = zt_db_begin(db)) < 0)
		goto out;
	if ((err = zt_db_prepare(&st, db, "DELETE FROM oauth_codes WHERE"
	    " tenant = $1 AND expires_at < $2")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, iss->tenant);
		zt_stmt_bind_int(st, 2, now - CODE_KEEP_S);
		err = zt_stmt_run(st);
	}
	if (err == ZT_OK && (err = zt_db_prepare(&st, db, "INSERT INTO"
	    " oauth_codes (tenant, hash, system_id, client_id, identity_id,"
	    " account_id, session_id, redirect_uri, challenge, nonce, scope,"
	    " resource, acr, amr, auth_time, expires_at) VALUES ($1, $2, $3,"
	    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"))
	    == ZT_OK) {
		zt_stmt_bind_text(st, 1, iss->tenant);
		zt_stmt_bind_text(st, 2, hash);
		zt_stmt_bind_text(st, 3, iss->system_id);
		zt_stmt_bind_text(st, 4, a->client.id);
		zt_stmt_bind_text(st, 5, s->identity_id);
		zt_stmt_bind_text(st, 6, s->account_id);
		zt_stmt_bind_text(st, 7, s->id);
		zt_stmt_bind_text(st, 8, a->redirect_uri);
		if (a->challenge)
			zt_stmt_bind_text(st, 9, a->challenge);
		else
			zt_stmt_bind_null(st, 9);
		if (a->nonce)
			zt_stmt_bind_text(st, 10, a->nonce);
		else
			zt_stmt_bind_null(st, 10);
		zt_stmt_bind_text(st, 11, a->scope);
		if (res)
			zt_stmt_bind_text(st, 12, res);
		else
			zt_stmt_bind_null(st, 12);
		zt_stmt_bind_text(st, 13, s->acr);
		zt_stmt_bind_text(st, 14, s->amr);
		zt_stmt_bind_int(st, 15, s->created_at / 1000);
		zt_stmt_bind_int(st, 16, now + ZT_CODE_LIFETIME_S);
		err = zt_stmt_run(st);
	}
	err = zt_db_end(db, err);
out:
	free(res);
	if (err < 0)
		zt_wipe(code, ZT_CODE_LEN + 1);
	return err;
}

static int
param_add(zt_buf *b, char *sep, const char *name, const char *value)
{
	int err;

	if (value == NULL)
		return ZT_OK;
	if ((err = zt_buf_addc(b, *sep)) < 0 ||
	    (err = zt_buf_adds(b, name)) < 0 ||
	    (err = zt_buf_addc(b, '=')) < 0)
		return err;
	*sep = '&';
	return zt_form_encode(b, value);
}

int
zt_authreq_response(zt_buf *out, const zt_issuer *iss,
    const char *redirect_uri, const char *state, const char *code,
    const zt_oauth_error *e)
{
	char sep = strchr(redirect_uri, '?') ? '&' : '?';
	int err;

	if ((err = zt_buf_adds(out, redirect_uri)) < 0)
		return err;
	if (code != NULL)
		err = param_add(out, &sep, "code", code);
	else if ((err = param_add(out, &sep, "error", e->error)) == ZT_OK)
		err = param_add(out, &sep, "error_description",
		    e->description);
	if (err == ZT_OK)
		err = param_add(out, &sep, "state", state);
	if (err == ZT_OK)
		err = param_add(out, &sep, "iss", iss->url);
	return err;
}

/* ---- redeeming ---------------------------------------------------------- */

void
zt_code_grant_free(zt_code_grant *g)
{
	zt_refresh_grant_free(&g->rt);
}

struct code_row {
	char client_id[ZT_CLIENT_ID_LEN + 1];
	char system_id[ZT_ID_LEN + 1];
	char redirect_uri[ZT_CLIENT_URI_MAX + 1];
	char challenge[64];
	char family[ZT_ID_LEN + 1];
	char rfamily[ZT_ID_LEN + 1];
	int64_t expires_at;
	bool used;
};

#define CODE_COLS "client_id, system_id, redirect_uri, challenge, nonce," \
	" scope, resource, acr, amr, auth_time, expires_at, used_at," \
	" family_id, refresh_family, identity_id, account_id, session_id"

static void
copy(char *out, size_t size, const char *s)
{
	snprintf(out, size, "%s", s ? s : "");
}

static int
code_read(zt_code_grant *g, struct code_row *r, zt_db *db,
    const char *tenant, const char *hash)
{
	const char *res;
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT " CODE_COLS " FROM"
	    " oauth_codes WHERE tenant = $1 AND hash = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, hash);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : ZT_ENOTFOUND;
	}
	copy(r->client_id, sizeof(r->client_id), zt_stmt_text(st, 0));
	copy(r->system_id, sizeof(r->system_id), zt_stmt_text(st, 1));
	copy(r->redirect_uri, sizeof(r->redirect_uri), zt_stmt_text(st, 2));
	copy(r->challenge, sizeof(r->challenge), zt_stmt_text(st, 3));
	copy(g->nonce, sizeof(g->nonce), zt_stmt_text(st, 4));
	g->rt.scope = strdup(zt_stmt_text(st, 5));
	if ((res = zt_stmt_text(st, 6)) != NULL)
		g->rt.resource = json_loads(res, JSON_DECODE_ANY, NULL);
	copy(g->acr, sizeof(g->acr), zt_stmt_text(st, 7));
	copy(g->amr, sizeof(g->amr), zt_stmt_text(st, 8));
	g->rt.auth_time = zt_stmt_int(st, 9);
	r->expires_at = zt_stmt_int(st, 10);
	r->used = !zt_stmt_is_null(st, 11);
	copy(r->family, sizeof(r->family), zt_stmt_text(st, 12));
	copy(r->rfamily, sizeof(r->rfamily), zt_stmt_text(st, 13));
	copy(g->rt.identity_id, sizeof(g->rt.identity_id),
	    zt_stmt_text(st, 14));
	copy(g->account_id, sizeof(g->account_id), zt_stmt_text(st, 15));
	copy(g->rt.session_id, sizeof(g->rt.session_id),
	    zt_stmt_text(st, 16));
	zt_stmt_reset(st);
	if (g->rt.scope == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

/* A replayed code: what it produced is revoked, and the event audited. */
static int
code_replayed(zt_db *db, const zt_issuer *iss, const char *client_id,
    const struct code_row *r, int64_t now)
{
	char actor_id[ZT_CLIENT_ID_LEN + 16];
	zt_actor actor = { actor_id, iss->tenant, NULL };
	json_t *rec;
	int err = ZT_OK;

	if (r->family[0] != '\0')
		err = zt_refresh_revoke_family(db, iss->tenant, r->family, now);
	if (err == ZT_OK && r->rfamily[0] != '\0')
		err = zt_refresh_revoke_family(db, iss->tenant, r->rfamily,
		    now);
	if (err < 0)
		return err;
	snprintf(actor_id, sizeof(actor_id), "client:%s", client_id);
	rec = json_pack("{s:s, s:s, s:s, s:s}", "issuer", iss->url,
	    "client_id", client_id, "event", "replay", "family", r->family);
	if (rec == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	err = zt_audit_append(db, &actor, &(zt_audit_entry){
	    .action = "oauth.code", .tenant = iss->tenant,
	    .target = actor_id, .after = rec });
	json_decref(rec);
	return err;
}

/* ZT_OK while the sign-in session of the code is there (logout and
 * revocation delete it), else ZT_ENOTFOUND. */
static int
session_alive(zt_db *db, const char *tenant, const char *id)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT 1 FROM sessions WHERE"
	    " tenant = $1 AND id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, id);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err == ZT_ROW)
		return ZT_OK;
	return err < 0 ? err : ZT_ENOTFOUND;
}

/* PKCE (RFC 7636 4.6): BASE64URL(SHA256(verifier)) equals the
 * challenge; no verifier without a challenge (RFC 9700 2.1.1). */
static bool
pkce_ok(const char *challenge, const char *verifier)
{
	uint8_t h[ZT_SHA256_LEN];
	char enc[64];
	size_t n;

	if (challenge[0] == '\0')
		return verifier == NULL;
	if (verifier == NULL || !verifier_ok(verifier))
		return false;
	zt_sha256(h, verifier, strlen(verifier));
	n = zt_b64url_encode(enc, h, sizeof(h));
	return n == strlen(challenge) && zt_ct_equal(enc, challenge, n);
}

int
zt_code_redeem(zt_code_grant *out, zt_db *db, const zt_issuer *iss,
    const char *client_id, const char *code, const char *redirect_uri,
    const char *verifier, int64_t now, zt_oauth_error *e)
{
	char hash[HASH_HEX];
	struct code_row r;
	zt_stmt *st;
	int err;
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if (strlen(code) != ZT_CODE_LEN || strncmp(code, CODE_PREFIX,
	    sizeof(CODE_PREFIX) - 1) != 0)
		return zt_oauth_fail(e, 400, "invalid_grant", "the code is "
		    "not valid");
	hash_hex(hash, code);
	memcpy(out->hash, hash, sizeof(out->hash));
	if ((err = zt_db_begin(db)) < 0)
		goto fail;
	err = code_read(out, &r, db, iss->tenant, hash);
	if (err == ZT_ENOTFOUND || (err == ZT_OK &&
	    (strcmp(r.client_id, client_id) != 0 ||
	    strcmp(r.system_id, iss->system_id) != 0))) {
		(void)zt_db_end(db, ZT_ENOTFOUND);
		why = "the code is not valid";
		goto refuse;
	}
	if (err == ZT_OK && r.used) {
		err = code_replayed(db, iss, client_id, &r, now);
		if ((err = zt_db_end(db, err)) < 0)
			goto fail;
		why = "the code was used before: the tokens issued from it "
		    "are revoked";
		goto refuse;
	}
	if (err == ZT_OK && r.expires_at <= now)
		why = "the code has expired";
	else if (err == ZT_OK && redirect_uri != NULL &&
	    strcmp(redirect_uri, r.redirect_uri) != 0)
		why = "redirect_uri differs from the authorization request's";
	else if (err == ZT_OK && !pkce_ok(r.challenge, verifier))
		why = r.challenge[0] ? "code_verifier does not match the "
		    "code_challenge" : "a code_verifier without a "
		    "code_challenge";
	else if (err == ZT_OK && (err = session_alive(db, iss->tenant,
	    out->rt.session_id)) == ZT_ENOTFOUND) {
		err = ZT_OK;
		why = "the sign-in session has ended";
	}
	if (err == ZT_OK && why != NULL) {
		(void)zt_db_end(db, ZT_EINVAL);
		goto refuse;
	}
	/* Spent now, with the family its access tokens will be noted in. */
	if (err == ZT_OK)
		err = zt_random_id(out->family, sizeof(out->family), 12);
	if (err == ZT_OK && (err = zt_db_prepare(&st, db, "UPDATE oauth_codes"
	    " SET used_at = $3, family_id = $4 WHERE tenant = $1 AND"
	    " hash = $2 AND used_at IS NULL")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, iss->tenant);
		zt_stmt_bind_text(st, 2, hash);
		zt_stmt_bind_int(st, 3, now);
		zt_stmt_bind_text(st, 4, out->family);
		if ((err = zt_stmt_step(st)) == ZT_DONE)
			err = zt_stmt_changes(st) == 1 ? ZT_OK : ZT_ECONFLICT;
		zt_stmt_reset(st);
	}
	if ((err = zt_db_end(db, err)) == ZT_ECONFLICT) {
		why = "the code was used before";
		goto refuse;
	}
	if (err < 0)
		goto fail;
	return ZT_OK;
refuse:
	zt_code_grant_free(out);
	return zt_oauth_fail(e, 400, "invalid_grant", "%s", why);
fail:
	zt_code_grant_free(out);
	return zt_oauth_fail(e, 503, "temporarily_unavailable", "the code "
	    "could not be redeemed; retry");
}

int
zt_code_note_family(zt_db *db, const char *tenant, const char *hash,
    const char *family)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "UPDATE oauth_codes SET"
	    " refresh_family = $3 WHERE tenant = $1 AND hash = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, hash);
	zt_stmt_bind_text(st, 3, family);
	return zt_stmt_run(st);
}
