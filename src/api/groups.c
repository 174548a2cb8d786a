/*
 * /v1/tenants/{tenant}/groups and /units: role groups with nested members,
 * and the organization tree whose units each own an org group.  Moving a
 * unit is a PATCH of its parent_id; the whole subtree follows in one
 * statement.
 */
#include <string.h>

#include "api/api_int.h"
#include "base/base.h"

/* ---- groups ---------------------------------------------------------------- */

static void
group_create(zt_req *req)
{
	zt_group_spec spec = { 0 };
	json_t *body, *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "name", ZT_J_STRING, true, &spec.name, NULL },
	    { "unit_id", ZT_J_STRING, false, &spec.unit, NULL },
	    { "description", ZT_J_STRING, false, &spec.description, NULL },
	}, 3);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_group_create(&doc, &cx, zt_req_param(req, "tenant"), &spec);
	json_decref(body);
	api_reply_result(req, err, 201, doc);
}

static void
group_list(zt_req *req)
{
	const char *cursor;
	json_t *page = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int limit, err;

	if (!api_page(req, &cursor, &limit))
		return;
	api_idctx(req, &cx, &actor);
	err = zt_group_list(&page, &cx, zt_req_param(req, "tenant"), cursor,
	    limit);
	api_reply_result(req, err, 200, page);
}

static void
group_get(zt_req *req)
{
	api_get(req, zt_group_get, "id");
}

/* PATCH {"name": ..., "description": ...}: either or both. */
static void
group_update(zt_req *req)
{
	const char *name = NULL, *description = NULL;
	json_t *body, *doc = NULL;
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "name", ZT_J_STRING, false, &name, NULL },
	    { "description", ZT_J_STRING, false, &description, NULL },
	}, 2);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_group_update(&doc, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), name, description, version);
	json_decref(body);
	api_reply_result(req, err, 200, doc);
}

static void
group_delete(zt_req *req)
{
	api_delete(req, zt_group_delete, "id");
}

/* GET .../members?effective=true&cursor=&limit= */
static void
group_members(zt_req *req)
{
	const char *cursor, *eff = zt_req_query(req, "effective");
	json_t *page = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int limit, err;

	if (!api_page(req, &cursor, &limit))
		return;
	if (eff && strcmp(eff, "true") != 0 && strcmp(eff, "false") != 0) {
		zt_reply_problem(req, 400, "invalid_parameter", "effective "
		    "must be true or false");
		return;
	}
	api_idctx(req, &cx, &actor);
	err = zt_group_members(&page, &cx, zt_req_param(req, "tenant"),
	    zt_req_param(req, "id"), eff && strcmp(eff, "true") == 0, cursor,
	    limit);
	api_reply_result(req, err, 200, page);
}

static int
member_type(enum zt_member_type *out, const char *s)
{
	if (s && strcmp(s, "identity") == 0)
		*out = ZT_MEMBER_IDENTITY;
	else if (s && strcmp(s, "group") == 0)
		*out = ZT_MEMBER_GROUP;
	else
		return zt_error_set(ZT_EINVAL, "member type must be identity "
		    "or group");
	return ZT_OK;
}

/* POST .../members {"type": "identity"|"group", "id": ...} */
static void
group_member_add(zt_req *req)
{
	const char *type = NULL, *id = NULL;
	enum zt_member_type t;
	json_t *body;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "type", ZT_J_STRING, true, &type, NULL },
	    { "id", ZT_J_STRING, true, &id, NULL },
	}, 2);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	if ((err = member_type(&t, type)) == ZT_OK)
		err = zt_group_member_add(&cx, zt_req_param(req, "tenant"),
		    zt_req_param(req, "id"), t, id);
	json_decref(body);
	api_reply_result(req, err, 204, NULL);
}

/* DELETE .../members/{type}/{member} */
static void
group_member_remove(zt_req *req)
{
	enum zt_member_type t;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	if ((err = member_type(&t, zt_req_param(req, "type"))) == ZT_OK)
		err = zt_group_member_remove(&cx, zt_req_param(req, "tenant"),
		    zt_req_param(req, "id"), t, zt_req_param(req, "member"));
	api_reply_result(req, err, 204, NULL);
}

/* ---- organization units ---------------------------------------------------- */

static void
unit_create(zt_req *req)
{
	const char *name = NULL, *parent = NULL;
	json_t *body, *doc = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	body = api_body(req, (zt_json_field[]){
	    { "name", ZT_J_STRING, true, &name, NULL },
	    { "parent_id", ZT_J_STRING, false, &parent, NULL },
	}, 2);
	if (body == NULL)
		return;
	api_idctx(req, &cx, &actor);
	err = zt_unit_create(&doc, &cx, zt_req_param(req, "tenant"), parent,
	    name);
	json_decref(body);
	api_reply_result(req, err, 201, doc);
}

/* GET .../units?parent=ID: the children of a unit, or the top units. */
static void
unit_list(zt_req *req)
{
	json_t *list = NULL;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	api_idctx(req, &cx, &actor);
	err = zt_unit_list(&list, &cx, zt_req_param(req, "tenant"),
	    zt_req_query(req, "parent"));
	api_reply_result(req, err, 200, err ? NULL :
	    json_pack("{s:o}", "items", list));
}

static void
unit_get(zt_req *req)
{
	api_get(req, zt_unit_get, "id");
}

/* PATCH {"name": ...} renames; {"parent_id": ID or null} moves the
 * subtree.  One of the two per request. */
static void
unit_patch(zt_req *req)
{
	const char *name = NULL;
	bool has_name, has_parent;
	json_t *body, *parent = NULL, *doc = NULL;
	const char *tenant = zt_req_param(req, "tenant");
	const char *id = zt_req_param(req, "id");
	int64_t version;
	zt_actor actor;
	zt_id_ctx cx;
	int err;

	if (!api_if_match(req, &version))
		return;
	body = api_body(req, (zt_json_field[]){
	    { "name", ZT_J_STRING, false, &name, &has_name },
	    { "parent_id", ZT_J_ANY, false, &parent, &has_parent },
	}, 2);
	if (body == NULL)
		return;
	if (has_name == has_parent) {
		zt_reply_problem(req, 400, "invalid_request", "a PATCH changes "
		    "exactly one of \"name\" or \"parent_id\"");
		goto out;
	}
	if (has_parent && !json_is_string(parent) && !json_is_null(parent)) {
		zt_reply_problem(req, 400, "invalid_request", "field "
		    "\"parent_id\" must be a string or null");
		goto out;
	}
	api_idctx(req, &cx, &actor);
	if (has_name)
		err = zt_unit_rename(&doc, &cx, tenant, id, name, version);
	else
		err = zt_unit_move(&doc, &cx, tenant, id,
		    json_string_value(parent), version);
	api_reply_result(req, err, 200, doc);
out:
	json_decref(body);
}

static void
unit_delete(zt_req *req)
{
	api_delete(req, zt_unit_delete, "id");
}

int
api_group_routes(zt_http *srv)
{
	static const struct api_route routes[] = {
#define T "/v1/tenants/{tenant}"
		{ ZT_POST, T "/groups", group_create, "groups.create" },
		{ ZT_GET, T "/groups", group_list, "groups.list" },
		{ ZT_GET, T "/groups/{id}", group_get, "groups.get" },
		{ ZT_PATCH, T "/groups/{id}", group_update, "groups.update" },
		{ ZT_DELETE, T "/groups/{id}", group_delete, "groups.delete" },
		{ ZT_GET, T "/groups/{id}/members", group_members,
		  "groups.members" },
		{ ZT_POST, T "/groups/{id}/members", group_member_add,
		  "groups.members.add" },
		{ ZT_DELETE, T "/groups/{id}/members/{type}/{member}",
		  group_member_remove, "groups.members.remove" },
		{ ZT_POST, T "/units", unit_create, "units.create" },
		{ ZT_GET, T "/units", unit_list, "units.list" },
		{ ZT_GET, T "/units/{id}", unit_get, "units.get" },
		{ ZT_PATCH, T "/units/{id}", unit_patch, "units.update" },
		{ ZT_DELETE, T "/units/{id}", unit_delete, "units.delete" },
#undef T
	};

	return api_add_routes(srv, routes, ZT_ARRAY_LEN(routes));
}
