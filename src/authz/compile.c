/*
 * compile.c: policy texts parsed, validated and compiled, the same way
 * for a PUT (which refuses on any error) and for activation (which keeps
 * the old compiled set when a stored one no longer compiles).
 */
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"
#include "base/base.h"

int
az_texts_of(az_texts *t, json_t **hold, json_t *doc)
{
	json_t *h, *schema;
	char *text;

	t->format = "cedar";
	t->policies = "";
	t->schema = NULL;
	t->roles = NULL;
	*hold = NULL;
	if (doc == NULL)
		return ZT_OK;
	if ((h = json_array()) == NULL)
		return ZT_ENOMEM;
	json_array_append(h, doc);
	t->format = json_string_value(json_object_get(doc, "format"));
	t->policies = json_string_value(json_object_get(doc, "policies"));
	t->roles = json_string_value(json_object_get(doc, "role_policies"));
	if ((schema = json_object_get(doc, "schema")) != NULL) {
		if ((text = json_dumps(schema, JSON_COMPACT)) == NULL) {
			json_decref(h);
			return ZT_ENOMEM;
		}
		json_array_append_new(h, json_string(text));
		free(text);
		t->schema = json_string_value(json_array_get(h, 1));
	}
	if (t->format == NULL || t->policies == NULL) {
		json_decref(h);
		return zt_error_set(ZT_ERR, "a stored revision is damaged");
	}
	*hold = h;
	return ZT_OK;
}

static void
add_error(json_t *errors, const char *store, const char *app,
    const char *policy, int line, int col, const char *msg)
{
	json_t *e = json_pack("{s:s, s:i, s:i, s:s}", "store", store,
	    "line", line, "column", col, "message", msg);

	if (e == NULL)
		return;
	if (app != NULL)
		json_object_set_new(e, "app", json_string(app));
	json_object_set_new(e, "policy", policy != NULL ? json_string(policy) :
	    json_null());
	json_array_append_new(errors, e);
}

static int
parse_set(zt_policy_set **ps, const char *format, const char *text,
    zt_policy_error *perr)
{
	if (strcmp(format, "json") == 0)
		return zt_policy_set_parse_json(ps, text, strlen(text), perr);
	return zt_policy_set_parse(ps, text, strlen(text), perr);
}

void
az_check_texts(json_t *errors, const char *store, const char *app,
    const char *format, const char *policies, const char *schema)
{
	zt_policy_validation v = ZT_POLICY_VALIDATION_INIT;
	zt_policy_schema *s = NULL;
	zt_policy_set *ps = NULL;
	zt_policy_error perr;
	size_t i;
	int rc;

	if ((rc = parse_set(&ps, format, policies, &perr)) != ZT_OK) {
		add_error(errors, store, app, NULL, perr.line, perr.column,
		    rc == ZT_EINVAL ? perr.message : zt_error_msg());
		return;
	}
	if (schema == NULL)
		goto out;
	if (zt_policy_schema_from_json(&s, schema, strlen(schema)) != ZT_OK) {
		add_error(errors, "schema", app, NULL, 0, 0, zt_error_msg());
		goto out;
	}
	rc = zt_policy_validate(&v, ps, s);
	for (i = 0; i < v.nerrors; i++)
		add_error(errors, store, app, v.errors[i].policy_id,
		    v.errors[i].line, v.errors[i].column, v.errors[i].message);
	if (rc != ZT_OK && rc != ZT_EINVAL)
		add_error(errors, store, app, NULL, 0, 0, zt_error_msg());
	zt_policy_validation_free(&v);
out:
	zt_policy_schema_free(s);
	zt_policy_set_free(ps);
}

int
az_schema_normal(char **out, const char *body, json_t *errors)
{
	zt_policy_schema *s = NULL;
	json_t *doc = NULL;

	*out = NULL;
	if (zt_policy_schema_from_json(&s, body, strlen(body)) != ZT_OK ||
	    zt_json_parse(&doc, body, strlen(body), 64) != ZT_OK) {
		add_error(errors, "schema", NULL, NULL, 0, 0, zt_error_msg());
		zt_policy_schema_free(s);
		return ZT_OK;
	}
	zt_policy_schema_free(s);
	*out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return *out != NULL ? ZT_OK : ZT_ENOMEM;
}

int
az_compile(zt_policy_set **ps, zt_policy_set **roles, zt_policy_schema **s,
    const az_texts *t)
{
	zt_policy_error perr;
	int rc;

	*ps = NULL;
	*roles = NULL;
	if (s != NULL)
		*s = NULL;
	if ((rc = parse_set(ps, t->format, t->policies, &perr)) != ZT_OK)
		return rc;
	if (t->roles != NULL && t->roles[0] != '\0' &&
	    (rc = parse_set(roles, "cedar", t->roles, &perr)) != ZT_OK) {
		zt_policy_set_free(*ps);
		*ps = NULL;
		return rc;
	}
	if (t->schema != NULL && s != NULL &&
	    (rc = zt_policy_schema_from_json(s, t->schema,
	    strlen(t->schema))) != ZT_OK) {
		zt_policy_set_free(*ps);
		zt_policy_set_free(*roles);
		*ps = NULL;
		*roles = NULL;
	}
	return rc;
}

int
zt_authz_validate(json_t **errors, enum zt_authz_format fmt,
    const char *policies, size_t plen, const char *schema, size_t slen)
{
	json_t *errs = json_array();

	*errors = NULL;
	if (errs == NULL)
		return ZT_ENOMEM;
	if (strlen(policies) != plen || (schema && strlen(schema) != slen)) {
		json_decref(errs);
		return zt_error_set(ZT_EINVAL, "the text holds a NUL byte");
	}
	az_check_texts(errs, "app", NULL, fmt == ZT_AUTHZ_JSON ? "json" :
	    "cedar", policies, schema);
	if (json_array_size(errs) == 0) {
		json_decref(errs);
		return ZT_OK;
	}
	*errors = errs;
	return zt_error_set(ZT_EINVAL, "%s", json_string_value(
	    json_object_get(json_array_get(errs, 0), "message")));
}
