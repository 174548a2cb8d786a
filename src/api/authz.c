/*
 * The authorization service's routes: applications and their policy
 * stores under /v1/tenants/{tenant}/apps, the tenant-wide store at
 * /v1/tenants/{tenant}/policies, and the decision API at /v1/authorize.
 *
 * Who may call /v1/authorize: any valid API token of the application's
 * tenant (a unit-scoped one included) or a system token.  An application
 * of another tenant is answered exactly as an unknown appid, 404 with
 * reason unknown_app, so a token learns nothing of other tenants.
 *
 * Each worker keeps its own view of the compiled stores (authz.h) and a
 * five-second cache of the users it looked up, so a busy application
 * costs no database read per decision.  The cache is dropped whenever a
 * new snapshot is published, which every policy, role or grant change
 * does, and whenever this process commits an identity-space change (a
 * suspension, a membership, an attribute, a move), so such a change
 * made through this node counts from the next decision; one made through
 * another node on the same database counts within the five seconds.
 * The identity data a decision used is named in its answer (identity id
 * and version).
 *
 * Roles and grants live under /v1/tenants/{tenant}/apps/{appid}/roles;
 * the enumeration questions are /v1/authorize/actions and
 * /v1/authorize/principals.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "authz/authz.h"
#include "base/base.h"

/* How long a worker trusts a user it looked up when the identity space
 * may have changed elsewhere: a group or attribute change made through
 * another node reaches decisions within this time.  At 1 s, 1,000 active
 * users cost each worker 1,000 lookups (two queries each) a second,
 * a third of its decision rate; at 5 s a fifth of that
 * (docs/benchmarks.md). */
#define SUBJECT_TTL_MS 5000
/* 4-way sets: with one slot per hash, 1,000 users in 4,096 slots left
 * about a tenth of them sharing a slot with another and evicting it on
 * every request, which made a tenth of all decisions a database read. */
#define SUBJECT_SLOTS 4096
#define SUBJECT_WAYS 4
/* The longest user a lookup can find: a login name (identity.h). */
#define USER_MAX 256

struct subject_slot {
	char tenant[ZT_TENANT_ID_MAX + 1];
	char user[USER_MAX + 1];
	zt_authz_subject sub;
	int64_t loaded_at;
	uint64_t gen;		/* the snapshot generation it was read at */
	uint64_t idgen;		/* zt_identity_generation() before the read */
	bool used;
};

struct api_authz_worker {
	zt_authz_view view;
	struct subject_slot slot[SUBJECT_SLOTS];
};

static _Atomic uint64_t n_allow, n_deny, n_request_error;

void
api_authz_worker_free(zt_worker *w)
{
	size_t i;

	if (w->authz == NULL)
		return;
	zt_authz_view_release(&w->authz->view);
	for (i = 0; i < SUBJECT_SLOTS; i++)
		zt_authz_subject_clear(&w->authz->slot[i].sub);
	free(w->authz);
	w->authz = NULL;
}

static struct api_authz_worker *
worker_state(zt_req *req)
{
	zt_worker *w = zt_req_worker(req);

	if (w->authz == NULL)
		w->authz = calloc(1, sizeof(*w->authz));
	return w->authz;
}

/* FNV-1a of tenant and user: the set of a cache entry.  A hit compares
 * both names, so a collision never gives a wrong answer. */
static uint32_t
slot_hash(const char *tenant, const char *user)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = tenant; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (p = user; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/* The subject for (tenant, user): from the cache, else loaded.  NULL
 * with *err ZT_OK when there is no such user. */
static zt_authz_subject *
subject_get(zt_req *req, struct api_authz_worker *aw, const char *tenant,
    const char *user, int *err)
{
	zt_app *app = zt_req_app(req);
	struct subject_slot *set, *s = NULL;
	int64_t now = zt_now_ms();
	uint64_t idgen = zt_identity_generation();
	size_t i;

	*err = ZT_OK;
	set = &aw->slot[slot_hash(tenant, user) % (SUBJECT_SLOTS /
	    SUBJECT_WAYS) * SUBJECT_WAYS];
	for (i = 0; i < SUBJECT_WAYS && s == NULL; i++)
		if (set[i].used && strcmp(set[i].tenant, tenant) == 0 &&
		    strcmp(set[i].user, user) == 0)
			s = &set[i];
	if (s != NULL && now - s->loaded_at < SUBJECT_TTL_MS &&
	    s->gen == aw->view.gen && s->idgen == idgen)
		return &s->sub;
	/* Not there: the way loaded longest ago (an empty one reads 0). */
	if (s == NULL) {
		s = &set[0];
		for (i = 1; i < SUBJECT_WAYS; i++)
			if (set[i].loaded_at < s->loaded_at)
				s = &set[i];
	}
	zt_authz_subject_clear(&s->sub);
	s->used = false;
	s->loaded_at = 0;
	if (strlen(user) > USER_MAX)
		return NULL;
	*err = zt_authz_subject_load(&s->sub, api_db(req), &app->identity,
	    tenant, user);
	if (*err == ZT_ENOTFOUND) {
		*err = ZT_OK;
		return NULL;
	}
	if (*err < 0)
		return NULL;
	snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
	snprintf(s->user, sizeof(s->user), "%s", user);
	s->loaded_at = now;
	s->gen = aw->view.gen;
	s->idgen = idgen;
	s->used = true;
	return &s->sub;
}

/* ---- decisions ----------------------------------------------------------- */

static json_t *
log_record(zt_req *req, const char *tenant, const zt_authz_request *r,
    json_t *answer)
{
	char t[32];
	json_t *rec;

	zt_time_format(t, zt_now_ms());
	rec = json_pack("{s:s, s:O, s:s?, s:s, s:{s:s, s:s, s:s, s:s}}",
	    "time", t, "decision_id", json_object_get(answer, "decision_id"),
	    "tenant", tenant, "caller", api_principal(req)->actor,
	    "request", "appid", r->appid, "user", r->user, "action",
	    r->action, "resource", r->resource);
	if (rec == NULL)
		return NULL;
	if (r->context != NULL)
		json_object_set_new(json_object_get(rec, "request"), "context",
		    json_deep_copy(r->context));
	json_object_set(rec, "decision", json_object_get(answer,
	    "decision"));
	json_object_set(rec, "reason", json_object_get(answer, "reason"));
	/* Shared with the answer: zt_dlog_submit serialises the record
	 * before the answer is touched again, and masks only "request"
	 * (whose context is a copy). */
	json_object_set(rec, "determining", json_object_get(answer,
	    "determining"));
	json_object_set(rec, "revisions", json_object_get(answer,
	    "revisions"));
	return rec;
}

static void
count(json_t *answer)
{
	const char *reason = json_string_value(json_object_get(answer,
	    "reason"));

	if (strcmp(json_string_value(json_object_get(answer, "decision")),
	    "allow") == 0)
		atomic_fetch_add(&n_allow, 1);
	else
		atomic_fetch_add(&n_deny, 1);
	if (reason != NULL && strcmp(reason, "request_error") == 0)
		atomic_fetch_add(&n_request_error, 1);
}

/*
 * Decides one request document into *out.  *unknown_app says the appid
 * is unknown to this caller.  Returns ZT_EINVAL (message set) for a
 * malformed request, or a server error.
 */
static int
decide_one(zt_req *req, json_t *doc, bool explain, json_t **out,
    bool *unknown_app)
{
	zt_app *app = zt_req_app(req);
	const zt_principal *p = api_principal(req);
	struct api_authz_worker *aw = worker_state(req);
	zt_authz_subject *sub = NULL;
	const zt_authz_snap *snap;
	const char *tenant, *asked = NULL;
	zt_authz_request r;
	char id[24];
	int err;

	*out = NULL;
	*unknown_app = false;
	if (aw == NULL)
		return ZT_ENOMEM;
	if ((err = zt_authz_request_read(&r, doc)) < 0)
		return err;
	snap = zt_authz_view_get(app->authz, &aw->view);
	tenant = zt_authz_app_tenant(snap, r.appid);
	if (tenant != NULL && !p->system && strcmp(p->tenant, tenant) != 0)
		tenant = NULL;
	if (tenant == NULL) {
		/* Decided as unknown, whoever owns it. */
		*unknown_app = true;
		asked = r.appid;
		r.appid = "";
	} else if ((sub = subject_get(req, aw, tenant, r.user, &err)) ==
	    NULL && err < 0)
		return err;
	if ((err = zt_authz_decide(out, snap, &r, sub, explain)) < 0)
		return err;
	if ((err = zt_random_id(id, sizeof(id), 12)) < 0) {
		json_decref(*out);
		*out = NULL;
		return err;
	}
	json_object_set_new(*out, "decision_id", json_string(id));
	count(*out);
	if (asked != NULL)
		r.appid = asked;
	if (app->dlog != NULL)
		zt_dlog_submit(app->dlog, log_record(req, tenant, &r, *out));
	return ZT_OK;
}

static void
authorize_common(zt_req *req, bool explain)
{
	json_t *body, *answer = NULL;
	bool unknown;
	int err;

	if ((body = zt_req_json(req)) == NULL)
		return;
	err = decide_one(req, body, explain, &answer, &unknown);
	json_decref(body);
	if (err == ZT_EINVAL) {
		zt_reply_problem(req, 400, "invalid_request", "%s",
		    zt_error_msg());
		return;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		return;
	}
	if (unknown) {
		json_object_del(answer, "message");
		zt_reply_problem_ext(req, 404, "unknown_app", answer, "no "
		    "application with this appid is visible to the caller");
		return;
	}
	zt_reply_json(req, 200, answer);
}

static void
authorize(zt_req *req)
{
	authorize_common(req, false);
}

static void
authorize_explain(zt_req *req)
{
	authorize_common(req, true);
}

static void
authorize_batch(zt_req *req)
{
	json_t *body, *list, *results, *item, *answer;
	bool unknown;
	size_t i;
	int err;

	if ((body = zt_req_json(req)) == NULL)
		return;
	list = json_object_get(body, "requests");
	if (!json_is_array(list) || json_object_size(body) != 1 ||
	    json_array_size(list) > ZT_AUTHZ_BATCH_MAX) {
		json_decref(body);
		zt_reply_problem(req, 400, "invalid_request", "the body is "
		    "{\"requests\": [...]} with at most %d requests",
		    ZT_AUTHZ_BATCH_MAX);
		return;
	}
	results = json_array();
	json_array_foreach(list, i, item) {
		err = decide_one(req, item, false, &answer, &unknown);
		if (err == ZT_EINVAL)
			answer = json_pack("{s:s, s:s, s:s}", "decision",
			    "deny", "reason", "invalid_request", "message",
			    zt_error_msg());
		else if (err < 0) {
			json_decref(results);
			json_decref(body);
			zt_reply_error(req, err);
			return;
		}
		json_array_append_new(results, answer);
	}
	json_decref(body);
	zt_reply_json(req, 200, json_pack("{s:o}", "results", results));
}

/* ---- applications -------------------------------------------------------- */

static void
activate(zt_req *req)
{
	zt_app *app = zt_req_app(req);

	/* The change is committed; make it active here before answering.
	 * A failure leaves the poller to catch up. */
	if (zt_authz_refresh(app->authz, api_db(req)) < 0)
		log_warn("policy activation deferred to the poller",
		    ZS("error", zt_error_msg()));
}

static void
app_create(zt_req *req)
{
	json_t *body, *doc = NULL;
	const char *appid = NULL, *name = NULL, *ns = NULL;
	const zt_json_field fields[] = {
		{ "appid", ZT_J_STRING, true, &appid, NULL },
		{ "name", ZT_J_STRING, false, &name, NULL },
		{ "namespace", ZT_J_STRING, false, &ns, NULL },
	};
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if ((body = api_body(req, fields, ZT_ARRAY_LEN(fields))) == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_authz_app_create(&doc, &cx, zt_req_param(req, "tenant"),
	    appid, name, ns);
	json_decref(body);
	if (err == ZT_OK)
		activate(req);
	api_reply_result(req, err, 201, doc);
}

static int
list_fn(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *unused)
{
	(void)unused;
	return zt_authz_app_list(out, cx, tenant);
}

static void
app_list(zt_req *req)
{
	api_get_items(req, list_fn, NULL);
}

static void
app_get(zt_req *req)
{
	api_get(req, zt_authz_app_get, "appid");
}

static void
app_delete(zt_req *req)
{
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	api_idctx(req, &cx, &actor);
	err = zt_authz_app_delete(&cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "appid"), version);
	if (err == ZT_OK)
		activate(req);
	api_reply_result(req, err, 204, NULL);
}

/* ---- stores ---------------------------------------------------------------- */

static bool
media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void
store_put(zt_req *req, const char *appid, enum zt_authz_part part)
{
	const char *ct = zt_req_header(req, "Content-Type"), *body;
	enum zt_authz_format fmt;
	json_t *doc = NULL, *errors = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	size_t len;
	int err;

	if (media_is(ct, "application/json"))
		fmt = ZT_AUTHZ_JSON;
	else if (part == ZT_AUTHZ_POLICIES && (media_is(ct, "text/plain") ||
	    media_is(ct, "application/cedar")))
		fmt = ZT_AUTHZ_CEDAR;
	else {
		zt_reply_problem(req, 415, "unsupported_media_type", "%s",
		    part == ZT_AUTHZ_SCHEMA ? "a schema is application/json" :
		    "policies are text/plain or application/cedar (Cedar "
		    "text) or application/json (Cedar JSON)");
		return;
	}
	if (!api_if_match(req, &version))
		return;
	body = zt_req_body(req, &len);
	api_idctx(req, &cx, &actor);
	err = zt_authz_store_put(&doc, &errors, &cx, zt_req_param(req,
	    "tenant"), appid, part, fmt, body, len, version);
	if (err == ZT_EINVAL && errors != NULL) {
		zt_reply_problem_ext(req, 400, "invalid_policy", json_pack(
		    "{s:o}", "errors", errors), "%s", zt_error_msg());
		return;
	}
	json_decref(errors);
	if (err == ZT_OK)
		activate(req);
	api_reply_result(req, err, 200, doc);
}

static void
store_get(zt_req *req, const char *appid, enum zt_authz_part part)
{
	json_t *doc = NULL, *schema;
	int64_t rev = 0;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_query_int(req, "revision", 1, INT64_MAX, &rev))
		return;
	api_idctx(req, &cx, &actor);
	err = zt_authz_store_get(&doc, &cx, zt_req_param(req, "tenant"),
	    appid, rev);
	if (err == ZT_OK && part == ZT_AUTHZ_SCHEMA) {
		schema = json_incref(json_object_get(doc, "schema"));
		if (schema == NULL)
			err = zt_error_set(ZT_ENOTFOUND, "the application has "
			    "no schema yet");
		else {
			char etag[32];

			snprintf(etag, sizeof(etag), "\"%lld\"", (long long)
			    json_integer_value(json_object_get(doc,
			    "revision")));
			zt_reply_header(req, "ETag", etag);
			json_decref(doc);
			zt_reply_json(req, 200, schema);
			return;
		}
	} else if (err == ZT_OK)
		json_object_del(doc, "schema");
	api_reply_result(req, err, 200, err < 0 ? NULL : doc);
	if (err < 0)
		json_decref(doc);
}

static void
app_policies_put(zt_req *req)
{
	store_put(req, zt_req_param(req, "appid"), ZT_AUTHZ_POLICIES);
}

static void
app_policies_get(zt_req *req)
{
	store_get(req, zt_req_param(req, "appid"), ZT_AUTHZ_POLICIES);
}

static void
app_schema_put(zt_req *req)
{
	store_put(req, zt_req_param(req, "appid"), ZT_AUTHZ_SCHEMA);
}

static void
app_schema_get(zt_req *req)
{
	store_get(req, zt_req_param(req, "appid"), ZT_AUTHZ_SCHEMA);
}

static void
tenant_policies_put(zt_req *req)
{
	store_put(req, NULL, ZT_AUTHZ_POLICIES);
}

static void
tenant_policies_get(zt_req *req)
{
	store_get(req, NULL, ZT_AUTHZ_POLICIES);
}

static int
app_revs_fn(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid)
{
	return zt_authz_store_revisions(out, cx, tenant, appid);
}

static void
app_revisions(zt_req *req)
{
	api_get_items(req, app_revs_fn, "appid");
}

static void
tenant_revisions(zt_req *req)
{
	api_get_items(req, app_revs_fn, NULL);
}

/* ---- enumeration ----------------------------------------------------------- */

/*
 * The app of an enumeration request and its tenant, as decide_one finds
 * them: NULL (having replied 404 or 400) when the request is malformed
 * or the appid is not the caller's.
 */
static const char *
enum_app(zt_req *req, json_t *body, const char *omit, zt_authz_request *r,
    const zt_authz_snap **snap)
{
	zt_app *app = zt_req_app(req);
	const zt_principal *p = api_principal(req);
	struct api_authz_worker *aw = worker_state(req);
	const char *tenant;

	if (aw == NULL) {
		zt_reply_error(req, ZT_ENOMEM);
		return NULL;
	}
	if (zt_authz_request_read_without(r, body, omit) < 0) {
		zt_reply_problem(req, 400, "invalid_request", "%s",
		    zt_error_msg());
		return NULL;
	}
	*snap = zt_authz_view_get(app->authz, &aw->view);
	tenant = zt_authz_app_tenant(*snap, r->appid);
	if (tenant == NULL || (!p->system && strcmp(p->tenant, tenant) != 0)) {
		zt_reply_problem(req, 404, "unknown_app", "no application "
		    "with this appid is visible to the caller");
		return NULL;
	}
	return tenant;
}

static void
authorize_actions(zt_req *req)
{
	struct api_authz_worker *aw;
	zt_authz_subject *sub;
	const zt_authz_snap *snap;
	zt_authz_request r;
	const char *tenant;
	json_t *body, *out = NULL;
	int err;

	if ((body = zt_req_json(req)) == NULL)
		return;
	if ((tenant = enum_app(req, body, "action", &r, &snap)) == NULL) {
		json_decref(body);
		return;
	}
	aw = worker_state(req);
	if ((sub = subject_get(req, aw, tenant, r.user, &err)) == NULL &&
	    err < 0) {
		json_decref(body);
		zt_reply_error(req, err);
		return;
	}
	err = zt_authz_actions(&out, snap, &r, sub);
	json_decref(body);
	if (err < 0)
		zt_reply_error(req, err);
	else
		zt_reply_json(req, 200, out);
}

/*
 * Each call examines one page of the tenant's identities (those the
 * caller's token may list, in name order, `limit` of them, at most
 * ZT_PAGE_MAX) and answers those allowed, so its cost is bounded by the
 * page, not by the tenant: a page of 1,000 costs 1,000 group and grant
 * lookups and decisions.  A page may allow none and still have a next
 * cursor; the caller follows next_cursor until it is null.
 */
static void
authorize_principals(zt_req *req)
{
	zt_app *app = zt_req_app(req);
	zt_identity_query q = { .sort = ZT_SORT_NAME };
	json_t *body, *page = NULL, *list, *it, *ans, *revs = NULL;
	const zt_authz_snap *snap;
	zt_authz_subject sub;
	zt_authz_request r;
	const char *tenant;
	zt_actor actor;
	zt_id_ctx cx;
	size_t i;
	int err;

	if (!api_page(req, &q.cursor, &q.limit) ||
	    (body = zt_req_json(req)) == NULL)
		return;
	if ((tenant = enum_app(req, body, "user", &r, &snap)) == NULL) {
		json_decref(body);
		return;
	}
	api_idctx(req, &cx, &actor);
	if ((err = zt_identity_list(&page, &cx, tenant, &q)) < 0) {
		json_decref(body);
		api_reply_result(req, err, 200, NULL);
		return;
	}
	list = json_array();
	json_array_foreach(json_object_get(page, "items"), i, it) {
		if ((err = zt_authz_subject_from(&sub, api_db(req),
		    &app->identity, tenant, it)) < 0)
			break;
		r.user = sub.name;
		err = zt_authz_decide(&ans, snap, &r, &sub, false);
		zt_authz_subject_clear(&sub);
		if (err < 0)
			break;
		if (revs == NULL)
			revs = json_incref(json_object_get(ans, "revisions"));
		if (strcmp(json_string_value(json_object_get(ans,
		    "decision")), "allow") == 0)
			json_array_append_new(list, json_pack("{s:O, s:O, s:O,"
			    " s:O}", "id", json_object_get(it, "id"), "name",
			    json_object_get(it, "name"), "kind",
			    json_object_get(it, "kind"), "determining",
			    json_object_get(ans, "determining")));
		json_decref(ans);
	}
	json_decref(body);
	if (err < 0) {
		json_decref(list);
		json_decref(revs);
		json_decref(page);
		zt_reply_error(req, err);
		return;
	}
	zt_reply_json(req, 200, json_pack("{s:o, s:I, s:O, s:o*}",
	    "principals", list, "examined", (json_int_t)json_array_size(
	    json_object_get(page, "items")), "next_cursor", json_object_get(
	    page, "next_cursor"), "revisions", revs));
	json_decref(page);
}

/* ---- roles and grants -------------------------------------------------------- */

/* Replies to a role change: 400 with the validation faults, else as
 * api_reply_result; a change that stored something is activated. */
static void
role_reply(zt_req *req, int err, json_t *errors, int status, json_t *doc)
{
	if (err == ZT_EINVAL && errors != NULL) {
		zt_reply_problem_ext(req, 400, "invalid_policy", json_pack(
		    "{s:o}", "errors", errors), "%s", zt_error_msg());
		return;
	}
	json_decref(errors);
	if (err == ZT_OK)
		activate(req);
	api_reply_result(req, err, status, doc);
}

static void
role_create(zt_req *req)
{
	json_t *body, *doc = NULL, *errors = NULL, *perms = NULL;
	const char *role = NULL, *desc = NULL;
	const zt_json_field fields[] = {
		{ "role", ZT_J_STRING, true, &role, NULL },
		{ "description", ZT_J_STRING, false, &desc, NULL },
		{ "permissions", ZT_J_ARRAY, false, &perms, NULL },
	};
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if ((body = api_body(req, fields, ZT_ARRAY_LEN(fields))) == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_authz_role_create(&doc, &errors, &cx, zt_req_param(req,
	    "tenant"), zt_req_param(req, "appid"), role, desc, perms);
	json_decref(body);
	role_reply(req, err, errors, 201, doc);
}

static void
role_update(zt_req *req)
{
	json_t *body, *doc = NULL, *errors = NULL, *perms = NULL;
	const char *desc = NULL;
	const zt_json_field fields[] = {
		{ "description", ZT_J_STRING, false, &desc, NULL },
		{ "permissions", ZT_J_ARRAY, false, &perms, NULL },
	};
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version) ||
	    (body = api_body(req, fields, ZT_ARRAY_LEN(fields))) == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_authz_role_update(&doc, &errors, &cx, zt_req_param(req,
	    "tenant"), zt_req_param(req, "appid"), zt_req_param(req, "role"),
	    desc, perms, version);
	json_decref(body);
	role_reply(req, err, errors, 200, doc);
}

static int
role_list_fn(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *appid)
{
	return zt_authz_role_list(out, cx, tenant, appid);
}

static void
role_list(zt_req *req)
{
	api_get_items(req, role_list_fn, "appid");
}

static void
role_get(zt_req *req)
{
	json_t *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_authz_role_get(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "appid"), zt_req_param(req, "role"));
	api_reply_result(req, err, 200, doc);
}

static void
role_delete(zt_req *req)
{
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	api_idctx(req, &cx, &actor);
	err = zt_authz_role_delete(&cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "appid"), zt_req_param(req, "role"), version);
	role_reply(req, err, NULL, 204, NULL);
}

static void
grant_create(zt_req *req)
{
	json_t *body, *doc = NULL;
	const char *ident = NULL, *group = NULL;
	const zt_json_field fields[] = {
		{ "identity", ZT_J_STRING, false, &ident, NULL },
		{ "group", ZT_J_STRING, false, &group, NULL },
	};
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if ((body = api_body(req, fields, ZT_ARRAY_LEN(fields))) == NULL)
		return;
	if ((ident == NULL) == (group == NULL)) {
		json_decref(body);
		zt_reply_problem(req, 400, "invalid_request", "a grant is "
		    "{\"identity\": id} or {\"group\": id}");
		return;
	}
	api_idctx(req, &cx, &actor);
	err = zt_authz_role_grant(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "appid"), zt_req_param(req, "role"),
	    ident != NULL ? "identity" : "group", ident != NULL ? ident :
	    group);
	json_decref(body);
	role_reply(req, err, NULL, 201, doc);
}

static void
grant_list(zt_req *req)
{
	json_t *list = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_authz_role_grants(&list, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "appid"), zt_req_param(req, "role"));
	api_reply_result(req, err, 200, err < 0 ? NULL : json_pack("{s:o}",
	    "items", list));
}

static void
grant_delete(zt_req *req)
{
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_authz_role_revoke(&cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "appid"), zt_req_param(req, "role"),
	    zt_req_param(req, "grant"));
	role_reply(req, err, NULL, 204, NULL);
}

/* ---- metrics --------------------------------------------------------------- */

void
api_authz_metrics(zt_app *app, zt_buf *out)
{
	zt_dlog_stats st;

	zt_dlog_stats_get(app->dlog, &st);
	zt_buf_addf(out,
	    "# HELP ztiam_authz_decisions_total Authorization decisions.\n"
	    "# TYPE ztiam_authz_decisions_total counter\n"
	    "ztiam_authz_decisions_total{decision=\"allow\"} %llu\n"
	    "ztiam_authz_decisions_total{decision=\"deny\"} %llu\n"
	    "# HELP ztiam_authz_request_errors_total Requests denied "
	    "unevaluated because they did not fit the schema.\n"
	    "# TYPE ztiam_authz_request_errors_total counter\n"
	    "ztiam_authz_request_errors_total %llu\n"
	    "# HELP ztiam_authz_policy_generation Policy snapshots "
	    "published.\n"
	    "# TYPE ztiam_authz_policy_generation counter\n"
	    "ztiam_authz_policy_generation %llu\n"
	    "# HELP ztiam_decision_log_written_total Decision log lines "
	    "written.\n"
	    "# TYPE ztiam_decision_log_written_total counter\n"
	    "ztiam_decision_log_written_total %llu\n"
	    "# HELP ztiam_decision_log_dropped_total Decisions not logged "
	    "because the queue was full.\n"
	    "# TYPE ztiam_decision_log_dropped_total counter\n"
	    "ztiam_decision_log_dropped_total %llu\n"
	    "# HELP ztiam_decision_log_failed_total Decision log writes "
	    "that failed.\n"
	    "# TYPE ztiam_decision_log_failed_total counter\n"
	    "ztiam_decision_log_failed_total %llu\n",
	    (unsigned long long)atomic_load(&n_allow),
	    (unsigned long long)atomic_load(&n_deny),
	    (unsigned long long)atomic_load(&n_request_error),
	    (unsigned long long)(app->authz ?
	    zt_authz_generation(app->authz) : 0),
	    (unsigned long long)st.written, (unsigned long long)st.dropped,
	    (unsigned long long)st.failed);
}

int
api_authz_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
#define T "/v1/tenants/{tenant}"
#define A T "/apps/{appid}"
		{ ZT_POST, T "/apps", app_create, "apps.create" },
		{ ZT_GET, T "/apps", app_list, "apps.list" },
		{ ZT_GET, T "/apps/{appid}", app_get, "apps.get" },
		{ ZT_DELETE, T "/apps/{appid}", app_delete,
		  "apps.delete" },
		{ ZT_PUT, A "/policies", app_policies_put, "apps.policies.put" },
		{ ZT_GET, A "/policies", app_policies_get, "apps.policies.get" },
		{ ZT_PUT, A "/schema", app_schema_put, "apps.schema.put" },
		{ ZT_GET, A "/schema", app_schema_get, "apps.schema.get" },
		{ ZT_GET, A "/revisions", app_revisions, "apps.revisions" },
		{ ZT_PUT, T "/policies", tenant_policies_put,
		  "policies.put" },
		{ ZT_GET, T "/policies", tenant_policies_get,
		  "policies.get" },
		{ ZT_GET, T "/policies/revisions", tenant_revisions,
		  "policies.revisions" },
		{ ZT_POST, "/v1/authorize", authorize, "authorize" },
		{ ZT_POST, "/v1/authorize/batch", authorize_batch,
		  "authorize.batch" },
		{ ZT_POST, "/v1/authorize/explain", authorize_explain,
		  "authorize.explain" },
		{ ZT_POST, "/v1/authorize/actions", authorize_actions,
		  "authorize.actions" },
		{ ZT_POST, "/v1/authorize/principals", authorize_principals,
		  "authorize.principals" },
		{ ZT_POST, A "/roles", role_create, "apps.roles.create" },
		{ ZT_GET, A "/roles", role_list, "apps.roles.list" },
		{ ZT_GET, A "/roles/{role}", role_get, "apps.roles.get" },
		{ ZT_PATCH, A "/roles/{role}", role_update,
		  "apps.roles.update" },
		{ ZT_DELETE, A "/roles/{role}", role_delete,
		  "apps.roles.delete" },
		{ ZT_POST, A "/roles/{role}/grants", grant_create,
		  "apps.roles.grants.create" },
		{ ZT_GET, A "/roles/{role}/grants", grant_list,
		  "apps.roles.grants.list" },
		{ ZT_DELETE, A "/roles/{role}/grants/{grant}", grant_delete,
		  "apps.roles.grants.delete" },
#undef A
#undef T
	};

	return api_add_routes(srv, routes, ZT_ARRAY_LEN(routes));
}
