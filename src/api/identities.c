/*
 * /v1/tenants/{tenant}/identities and /accounts: the parties of a tenant,
 * their SPIFFE IDs, attributes and lifecycle, the accounts that map them
 * into account systems, bulk import as NDJSON, and the lookups the rest of
 * the platform asks (by SPIFFE ID, by login name, effective groups).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/base.h"

/* ---- identities ------------------------------------------------------------ */

static void
identity_create(zt_req *req)
{
	zt_identity_spec spec = { 0 };
	json_t *body, *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "kind", ZT_J_STRING, true, &spec.kind, NULL },
	    { "name", ZT_J_STRING, true, &spec.name, NULL },
	    { "state", ZT_J_STRING, false, &spec.state, NULL },
	    { "unit_id", ZT_J_STRING, false, &spec.unit, NULL },
	    { "attributes", ZT_J_OBJECT, false, &spec.attributes, NULL },
	}, 5);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_identity_create(&doc, &cx, zt_req_param(req, "tenant"), &spec);
	json_decref(body);
	api_reply_result(req, err, 201, doc);
}

static void
identity_get(zt_req *req)
{
	api_get(req, zt_identity_get, "id");
}

/*
 * Reads "attr.KEY=VALUE" filters from the query string.  A value that
 * parses as a JSON number, true or false is taken as that; anything else
 * is a string ("attr.level=\"3\"" asks for the string "3").
 */
static bool
identity_attr_filters(zt_req *req, zt_identity_query *q, json_t **owned)
{
	const char *name, *v;
	void *it = NULL;
	json_t *val;

	while ((v = zt_req_query_next(req, &it, &name)) != NULL) {
		if (strncmp(name, "attr.", 5) != 0)
			continue;
		if (q->nattrs == ZT_QUERY_ATTRS_MAX || name[5] == '\0') {
			zt_reply_problem(req, 400, "invalid_parameter", "at most "
			    "%d attr.KEY=VALUE filters, each with a key",
			    ZT_QUERY_ATTRS_MAX);
			return false;
		}
		val = json_loads(v, JSON_DECODE_ANY, NULL);
		if (val == NULL || !(json_is_string(val) ||
		    json_is_number(val) || json_is_boolean(val))) {
			json_decref(val);
			if ((val = json_string(v)) == NULL) {
				zt_reply_problem(req, 400, "invalid_parameter",
				    "filter values must be UTF-8");
				return false;
			}
		}
		owned[q->nattrs] = val;
		q->attrs[q->nattrs].key = name + 5;
		q->attrs[q->nattrs].value = val;
		q->nattrs++;
	}
	return true;
}

static void
identity_list(zt_req *req)
{
	zt_identity_query q = { 0 };
	json_t *owned[ZT_QUERY_ATTRS_MAX] = { 0 }, *page = NULL;
	const char *sort;
	zt_actor actor;
	zt_id_ctx cx;
	size_t i;
	int err;

	if (!api_page(req, &q.cursor, &q.limit))
		return;
	q.kind = zt_req_query(req, "kind");
	q.state = zt_req_query(req, "state");
	q.name_prefix = zt_req_query(req, "name_prefix");
	sort = zt_req_query(req, "sort");
	if (sort == NULL || strcmp(sort, "name") == 0)
		q.sort = ZT_SORT_NAME;
	else if (strcmp(sort, "created") == 0)
		q.sort = ZT_SORT_CREATED;
	else {
		zt_reply_problem(req, 400, "invalid_parameter", "sort must be "
		    "name or created");
		return;
	}
	if (identity_attr_filters(req, &q, owned)) {
		api_idctx(req, &cx, &actor);
		err = zt_identity_list(&page, &cx, zt_req_param(req, "tenant"),
		    &q);
		api_reply_result(req, err, 200, page);
	}
	for (i = 0; i < ZT_QUERY_ATTRS_MAX; i++)
		json_decref(owned[i]);
}

/*
 * PATCH changes any of attributes, unit and state in one transaction;
 * each is audited as its own transition (identity.update, identity.move,
 * identity.state).
 */
static void
identity_patch(zt_req *req)
{
	zt_identity_patch p = { 0 };
	bool has_state, has_attrs;
	json_t *body, *unit_v = NULL, *doc = NULL;
	const char *tenant = zt_req_param(req, "tenant");
	const char *id = zt_req_param(req, "id");
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "state", ZT_J_STRING, false, &p.state, &has_state },
	    { "unit_id", ZT_J_ANY, false, &unit_v, &p.set_unit },
	    { "attributes", ZT_J_OBJECT, false, &p.attributes, &has_attrs },
	}, 3);
	if (body == NULL)
		return;
	if (!has_state && !p.set_unit && !has_attrs) {
		zt_reply_problem(req, 400, "invalid_request", "a PATCH changes "
		    "at least one of \"state\", \"unit_id\" or "
		    "\"attributes\"");
		goto out;
	}
	if (p.set_unit && !json_is_string(unit_v) && !json_is_null(unit_v)) {
		zt_reply_problem(req, 400, "invalid_request", "field "
		    "\"unit_id\" must be a string or null");
		goto out;
	}
	p.unit = json_string_value(unit_v);
	api_idctx(req, &cx, &actor);
	err = zt_identity_update(&doc, &cx, tenant, id, &p, version);
	api_reply_result(req, err, 200, doc);
out:
	json_decref(body);
}

static void
identity_delete(zt_req *req)
{
	api_delete(req, zt_identity_delete, "id");
}

static void
identity_groups(zt_req *req)
{
	api_get_items(req, zt_identity_groups, "id");
}

static void
identity_accounts(zt_req *req)
{
	api_get_items(req, zt_account_list, "id");
}

/* GET /v1/identities/by-spiffe-id?id=spiffe://...: the tenant is in the
 * ID itself. */
static void
identity_by_spiffe(zt_req *req)
{
	const char *sid = zt_req_query(req, "id");
	json_t *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (sid == NULL) {
		zt_reply_problem(req, 400, "invalid_parameter", "query "
		    "parameter \"id\" (a SPIFFE ID) is required");
		return;
	}
	api_idctx(req, &cx, &actor);
	err = zt_identity_get_by_spiffe(&doc, &cx, sid);
	api_reply_result(req, err, 200, doc);
}

/* ---- bulk import ------------------------------------------------------------- */

static void
import_line(void *arg, size_t line, int rc, const char *id_or_msg)
{
	json_t *results = arg;

	const char *code;

	if (rc == ZT_OK) {
		json_array_append_new(results, json_pack("{s:I, s:s, s:s}",
		    "line", (json_int_t)line, "status", "ok", "id", id_or_msg));
		return;
	}
	/* The codes of the problem documents; a server-side failure keeps
	 * its message to the log, as zt_reply_error does. */
	switch (rc) {
	case ZT_EINVAL:		code = "invalid_request"; break;
	case ZT_ENOTFOUND:	code = "not_found"; break;
	case ZT_EEXISTS:
	case ZT_ECONFLICT:	code = "conflict"; break;
	case ZT_EFORBIDDEN:	code = "forbidden"; break;
	case ZT_ETOOBIG:	code = "payload_too_large"; break;
	default:
		log_error("import line failed", ZI("line", (long long)line),
		    ZS("error", id_or_msg));
		code = "internal";
		id_or_msg = "internal error";
		break;
	}
	json_array_append_new(results, json_pack("{s:I, s:s, s:s, s:s}",
	    "line", (json_int_t)line, "status", "error", "code", code,
	    "detail", id_or_msg));
}

/* POST .../identities/import with an application/x-ndjson body: one
 * identity (with optional accounts) per line, each applied whole or not
 * at all; the answer lists every line's outcome. */
static void
identity_import(zt_req *req)
{
	const char *ct = zt_req_header(req, "Content-Type");
	zt_import_stats stats = { 0 };
	json_t *results;
	const char *data;
	zt_actor actor;
	zt_id_ctx cx;
	size_t len;
	int err;

	if (ct == NULL || (strncmp(ct, "application/x-ndjson", 20) != 0 &&
	    strncmp(ct, "application/jsonl", 17) != 0)) {
		zt_reply_problem(req, 415, "unsupported_media_type", "send "
		    "the identities as application/x-ndjson");
		return;
	}
	data = zt_req_body(req, &len);
	api_idctx(req, &cx, &actor);

	/* The tenant must be there (and the caller's) even for an empty
	 * file, which the import itself would never look it up for. */
	if ((err = zt_tenant_get(&results, &cx,
	    zt_req_param(req, "tenant"))) < 0) {
		zt_reply_error(req, err);
		return;
	}
	json_decref(results);
	results = json_array();
	err = zt_identity_import(&stats, &cx, zt_req_param(req, "tenant"),
	    data, len, import_line, results);
	if (err < 0) {
		json_decref(results);
		zt_reply_error(req, err);
		return;
	}
	zt_reply_json(req, 200, json_pack("{s:I, s:I, s:I, s:o}",
	    "lines", (json_int_t)stats.lines, "ok", (json_int_t)stats.ok,
	    "failed", (json_int_t)stats.failed, "results", results));
}

/* ---- accounts ---------------------------------------------------------------- */

static void
account_create(zt_req *req)
{
	zt_account_spec spec = { 0 };
	json_t *body, *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "identity_id", ZT_J_STRING, true, &spec.identity, NULL },
	    { "system_id", ZT_J_STRING, true, &spec.system, NULL },
	    { "login_name", ZT_J_STRING, true, &spec.login_name, NULL },
	    { "state", ZT_J_STRING, false, &spec.state, NULL },
	}, 4);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_account_create(&doc, &cx, zt_req_param(req, "tenant"), &spec);
	json_decref(body);
	api_reply_result(req, err, 201, doc);
}

static void
account_get(zt_req *req)
{
	api_get(req, zt_account_get, "id");
}

static void
account_patch(zt_req *req)
{
	const char *state = NULL;
	json_t *body, *doc = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "state", ZT_J_STRING, true, &state, NULL },
	}, 1);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_account_set_state(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), state, version);
	json_decref(body);
	api_reply_result(req, err, 200, doc);
}

static void
account_delete(zt_req *req)
{
	api_delete(req, zt_account_delete, "id");
}

int
api_identity_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
#define T "/v1/tenants/{tenant}"
		{ ZT_POST, T "/identities", identity_create,
		  "identities.create" },
		{ ZT_GET, T "/identities", identity_list, "identities.list" },
		{ ZT_POST, T "/identities/import", identity_import,
		  "identities.import" },
		{ ZT_GET, T "/identities/{id}", identity_get,
		  "identities.get" },
		{ ZT_PATCH, T "/identities/{id}", identity_patch,
		  "identities.update" },
		{ ZT_DELETE, T "/identities/{id}", identity_delete,
		  "identities.delete" },
		{ ZT_GET, T "/identities/{id}/groups", identity_groups,
		  "identities.groups" },
		{ ZT_GET, T "/identities/{id}/accounts", identity_accounts,
		  "identities.accounts" },
		{ ZT_POST, T "/accounts", account_create, "accounts.create" },
		{ ZT_GET, T "/accounts/{id}", account_get, "accounts.get" },
		{ ZT_PATCH, T "/accounts/{id}", account_patch,
		  "accounts.update" },
		{ ZT_DELETE, T "/accounts/{id}", account_delete,
		  "accounts.delete" },
		{ ZT_GET, "/v1/identities/by-spiffe-id", identity_by_spiffe,
		  "identities.by_spiffe_id" },
#undef T
	};

	return api_add_routes(srv, routes, ZT_ARRAY_LEN(routes));
}
