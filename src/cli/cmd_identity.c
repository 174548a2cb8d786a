/*
 * `ztiam tenant|acctsys|identity|account|group|org|client <verb>`: the
 * identity space and the OAuth clients through the REST API.  Each command is a row of one table: the
 * HTTP method, the path with {tenant} and positional slots, and the
 * options that become body fields or query parameters.  The tenant comes
 * from --tenant or ZTIAM_TENANT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/base.h"
#include "cli/cli.h"

enum arg_kind {
	A_STR,		/* --opt VALUE -> "field": "VALUE" */
	A_INT,		/* --opt N -> "field": N */
	A_FLAG,		/* --opt -> "field": true */
	A_FALSE,	/* --opt -> "field": false */
	A_NULL,		/* --opt -> "field": null */
	A_ATTRS,	/* --attr k=v, repeatable -> "attributes": {...} */
	A_LIST,		/* --opt X, repeatable -> "field": ["X", ...] */
	A_QUERY,	/* --opt VALUE -> ?field=VALUE */
	A_QATTRS,	/* --attr k=v, repeatable -> ?attr.k=v */
};

struct cli_arg {
	const char *opt;
	const char *field;
	enum arg_kind kind;
	bool required;
};

struct cli_cmd {
	const char *noun;
	const char *verb;
	const char *method;
	const char *path;	/* {tenant}, {1}, {2} are filled in */
	int npos;		/* positional arguments */
	const char *pos_help;
	struct cli_arg args[8];
	const char *cols;	/* table columns, space-separated */
};

#define T "/v1/tenants/{tenant}"
#define IDCOLS "id kind name state unit_id spiffe_id"

static const struct cli_cmd cmds[] = {
	{ "tenant", "create", "POST", "/v1/tenants", 1, "ID",
	  { { "display-name", "display_name", A_STR, false } }, NULL },
	{ "tenant", "list", "GET", "/v1/tenants", 0, "", { { 0 } },
	  "id display_name created_at" },
	{ "tenant", "get", "GET", "/v1/tenants/{1}", 1, "ID", { { 0 } },
	  "id display_name version created_at" },
	{ "tenant", "delete", "DELETE", "/v1/tenants/{1}", 1, "ID", { { 0 } },
	  NULL },

	{ "acctsys", "create", "POST", T "/account-systems", 0, "",
	  { { "name", "name", A_STR, true }, { "kind", "kind", A_STR, true },
	    { "mfa-required", "mfa_required", A_FLAG, false } }, NULL },
	{ "acctsys", "list", "GET", T "/account-systems", 0, "", { { 0 } },
	  "id name kind mfa_required" },
	{ "acctsys", "get", "GET", T "/account-systems/{1}", 1, "ID",
	  { { 0 } }, "id name kind mfa_required version" },
	{ "acctsys", "set-mfa", "PATCH", T "/account-systems/{1}", 1, "ID",
	  { { "required", "mfa_required", A_FLAG, false },
	    { "optional", "mfa_required", A_FALSE, false } }, NULL },
	{ "acctsys", "delete", "DELETE", T "/account-systems/{1}", 1, "ID",
	  { { 0 } }, NULL },

	{ "identity", "create", "POST", T "/identities", 0, "",
	  { { "kind", "kind", A_STR, true }, { "name", "name", A_STR, true },
	    { "state", "state", A_STR, false },
	    { "unit", "unit_id", A_STR, false },
	    { "attr", "attributes", A_ATTRS, false } }, NULL },
	{ "identity", "list", "GET", T "/identities", 0, "",
	  { { "kind", "kind", A_QUERY, false },
	    { "state", "state", A_QUERY, false },
	    { "prefix", "name_prefix", A_QUERY, false },
	    { "sort", "sort", A_QUERY, false },
	    { "limit", "limit", A_QUERY, false },
	    { "cursor", "cursor", A_QUERY, false },
	    { "attr", "attr", A_QATTRS, false } }, IDCOLS },
	{ "identity", "get", "GET", T "/identities/{1}", 1, "ID", { { 0 } },
	  IDCOLS " version" },
	{ "identity", "set-state", "PATCH", T "/identities/{1}", 1, "ID",
	  { { "state", "state", A_STR, true } }, NULL },
	{ "identity", "set-attrs", "PATCH", T "/identities/{1}", 1, "ID",
	  { { "attr", "attributes", A_ATTRS, true } }, NULL },
	{ "identity", "move", "PATCH", T "/identities/{1}", 1, "ID",
	  { { "unit", "unit_id", A_STR, false },
	    { "no-unit", "unit_id", A_NULL, false } }, NULL },
	{ "identity", "delete", "DELETE", T "/identities/{1}", 1, "ID",
	  { { 0 } }, NULL },
	{ "identity", "groups", "GET", T "/identities/{1}/groups", 1, "ID",
	  { { 0 } }, "id kind name unit_id depth" },
	{ "identity", "accounts", "GET", T "/identities/{1}/accounts", 1, "ID",
	  { { 0 } }, "id system_id login_name state" },
	{ "identity", "consents", "GET", T "/identities/{1}/consents", 1, "ID",
	  { { 0 } }, "client_id account_system_id scope granted_at" },
	{ "identity", "consent-revoke", "DELETE",
	  T "/identities/{1}/consents/{2}", 2, "ID CLIENT_ID", { { 0 } },
	  NULL },
	{ "identity", "by-spiffe", "GET", "/v1/identities/by-spiffe-id", 0,
	  "", { { "id", "id", A_QUERY, true } }, IDCOLS },
	{ "identity", "by-login", "GET",
	  T "/account-systems/{1}/logins/{2}", 2, "SYSTEM_ID LOGIN",
	  { { 0 } }, IDCOLS },

	{ "account", "create", "POST", T "/accounts", 0, "",
	  { { "identity", "identity_id", A_STR, true },
	    { "system", "system_id", A_STR, true },
	    { "login", "login_name", A_STR, true },
	    { "state", "state", A_STR, false } }, NULL },
	{ "account", "get", "GET", T "/accounts/{1}", 1, "ID", { { 0 } },
	  "id identity_id system_id login_name state" },
	{ "account", "set-state", "PATCH", T "/accounts/{1}", 1, "ID",
	  { { "state", "state", A_STR, true } }, NULL },
	{ "account", "delete", "DELETE", T "/accounts/{1}", 1, "ID",
	  { { 0 } }, NULL },

	{ "group", "create", "POST", T "/groups", 0, "",
	  { { "name", "name", A_STR, true }, { "unit", "unit_id", A_STR, false },
	    { "description", "description", A_STR, false } }, NULL },
	{ "group", "list", "GET", T "/groups", 0, "",
	  { { "limit", "limit", A_QUERY, false },
	    { "cursor", "cursor", A_QUERY, false } }, "id kind name unit_id" },
	{ "group", "get", "GET", T "/groups/{1}", 1, "ID", { { 0 } },
	  "id kind name unit_id version" },
	{ "group", "update", "PATCH", T "/groups/{1}", 1, "ID",
	  { { "name", "name", A_STR, false },
	    { "description", "description", A_STR, false } }, NULL },
	{ "group", "delete", "DELETE", T "/groups/{1}", 1, "ID", { { 0 } },
	  NULL },
	{ "group", "add", "POST", T "/groups/{1}/members", 1, "GROUP_ID",
	  { { "type", "type", A_STR, true }, { "member", "id", A_STR, true } },
	  NULL },
	{ "group", "remove", "DELETE", T "/groups/{1}/members/{2}/{3}", 3,
	  "GROUP_ID identity|group MEMBER_ID", { { 0 } }, NULL },
	{ "group", "members", "GET", T "/groups/{1}/members", 1, "GROUP_ID",
	  { { "effective", "effective", A_QUERY, false },
	    { "limit", "limit", A_QUERY, false },
	    { "cursor", "cursor", A_QUERY, false } }, "type id kind name" },

	{ "org", "create", "POST", T "/units", 0, "",
	  { { "name", "name", A_STR, true },
	    { "parent", "parent_id", A_STR, false } }, NULL },
	{ "org", "list", "GET", T "/units", 0, "",
	  { { "parent", "parent", A_QUERY, false } }, "id name parent_id path" },
	{ "org", "get", "GET", T "/units/{1}", 1, "ID", { { 0 } },
	  "id name parent_id path version" },
	{ "org", "rename", "PATCH", T "/units/{1}", 1, "ID",
	  { { "name", "name", A_STR, true } }, NULL },
	{ "org", "move", "PATCH", T "/units/{1}", 1, "ID",
	  { { "parent", "parent_id", A_STR, false },
	    { "top", "parent_id", A_NULL, false } }, NULL },
	{ "org", "delete", "DELETE", T "/units/{1}", 1, "ID", { { 0 } }, NULL },

	{ "client", "create", "POST", T "/clients", 0, "",
	  { { "system", "account_system", A_STR, true },
	    { "name", "client_name", A_STR, false },
	    { "redirect-uri", "redirect_uris", A_LIST, false },
	    { "grant", "grant_types", A_LIST, false },
	    { "auth-method", "token_endpoint_auth_method", A_STR, false },
	    { "scope", "scope", A_STR, false },
	    { "dpop", "dpop_bound_access_tokens", A_FLAG, false } },
	  "client_id client_secret account_system token_endpoint_auth_method" },
	{ "client", "list", "GET", T "/clients", 0, "", { { 0 } },
	  "client_id account_system client_name token_endpoint_auth_method" },
	{ "client", "get", "GET", T "/clients/{1}", 1, "CLIENT_ID", { { 0 } },
	  "client_id account_system client_name token_endpoint_auth_method "
	  "version" },
	{ "client", "rotate-secret", "POST", T "/clients/{1}/secret", 1,
	  "CLIENT_ID", { { 0 } }, "client_id client_secret version" },
	{ "client", "delete", "DELETE", T "/clients/{1}", 1, "CLIENT_ID",
	  { { 0 } }, NULL },
	{ "client", "registration", "GET",
	  T "/account-systems/{1}/registration", 1, "SYSTEM_ID", { { 0 } },
	  "account_system_id enabled initial_access_token_required version" },
	{ "client", "set-registration", "PUT",
	  T "/account-systems/{1}/registration", 1, "SYSTEM_ID",
	  { { "enable", "enabled", A_FLAG, false },
	    { "disable", "enabled", A_FALSE, false },
	    { "initial-token", "initial_access_token_required", A_FLAG,
	      false } },
	  "account_system_id enabled initial_access_token_required "
	  "initial_access_token version" },
};

#undef T

static int
usage(const char *noun)
{
	size_t i, j;

	fprintf(stderr, "usage:\n");
	for (i = 0; i < ZT_ARRAY_LEN(cmds); i++) {
		const struct cli_cmd *c = &cmds[i];

		if (noun && strcmp(noun, c->noun) != 0)
			continue;
		fprintf(stderr, "  ztiam %s %s%s%s", c->noun, c->verb,
		    c->npos ? " " : "", c->pos_help);
		for (j = 0; j < ZT_ARRAY_LEN(c->args) && c->args[j].opt; j++) {
			const struct cli_arg *a = &c->args[j];
			bool bare = a->kind == A_FLAG || a->kind == A_FALSE ||
			    a->kind == A_NULL;

			fprintf(stderr, " %s--%s%s%s%s", a->required ? "" : "[",
			    a->opt, bare ? "" : a->kind == A_ATTRS ||
			    a->kind == A_QATTRS ? " K=V" : " X",
			    a->kind == A_LIST ? " ..." : "",
			    a->required ? "" : "]");
		}
		fputc('\n', stderr);
	}
	fprintf(stderr, "common: --tenant T (ZTIAM_TENANT) --server URL "
	    "--token T --json --if-match N\n");
	return 2;
}

/* "k=v": v as JSON when it parses as a scalar or array, else a string. */
static int
attr_value(json_t **out, const char *kv, const char **key_end)
{
	const char *eq = strchr(kv, '=');
	json_t *v;

	if (eq == NULL || eq == kv) {
		fprintf(stderr, "ztiam: --attr wants KEY=VALUE\n");
		return ZT_EINVAL;
	}
	v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
	if (v == NULL || json_is_object(v) || json_is_null(v)) {
		json_decref(v);
		v = json_string(eq + 1);
	}
	*out = v;
	*key_end = eq;
	return v ? ZT_OK : ZT_EINVAL;
}

/* Appends "&name=value", escaped, to the query. */
static void
query_add(zt_buf *q, const char *name, const char *value)
{
	char *v = curl_easy_escape(NULL, value, 0);

	zt_buf_addf(q, "%c%s=%s", q->len ? '&' : '?', name, v ? v : "");
	curl_free(v);
}

/* Takes every option of `c` out of argv into the body and query. */
static int
collect_args(const struct cli_cmd *c, int *argc, char **argv, json_t *body,
    zt_buf *query)
{
	const struct cli_arg *a;
	const char *v, *key_end;
	char name[160];
	json_t *val, *attrs;
	size_t i;
	bool seen;

	for (i = 0; i < ZT_ARRAY_LEN(c->args) && c->args[i].opt; i++) {
		a = &c->args[i];
		seen = false;
		if (a->kind == A_FLAG || a->kind == A_FALSE ||
		    a->kind == A_NULL) {
			if ((seen = zt_cli_take_flag(argc, argv, a->opt)))
				json_object_set_new(body, a->field,
				    a->kind == A_FLAG ? json_true() :
				    a->kind == A_FALSE ? json_false() :
				    json_null());
		} else if (a->kind == A_ATTRS || a->kind == A_QATTRS) {
			attrs = json_object();
			while ((v = zt_cli_take_opt(argc, argv, a->opt))) {
				seen = true;
				if (attr_value(&val, v, &key_end) < 0) {
					json_decref(attrs);
					return ZT_EINVAL;
				}
				snprintf(name, sizeof(name), "%.*s",
				    (int)(key_end - v), v);
				if (a->kind == A_QATTRS) {
					char qn[180];

					snprintf(qn, sizeof(qn), "attr.%s", name);
					query_add(query, qn, key_end + 1);
					json_decref(val);
				} else
					json_object_set_new(attrs, name, val);
			}
			if (seen && a->kind == A_ATTRS)
				json_object_set(body, a->field, attrs);
			json_decref(attrs);
		} else if (a->kind == A_LIST) {
			val = json_array();
			while ((v = zt_cli_take_opt(argc, argv, a->opt))) {
				seen = true;
				json_array_append_new(val, json_string(v));
			}
			if (seen)
				json_object_set(body, a->field, val);
			json_decref(val);
		} else if ((v = zt_cli_take_opt(argc, argv, a->opt))) {
			seen = true;
			if (a->kind == A_QUERY)
				query_add(query, a->field, v);
			else if (a->kind == A_INT)
				json_object_set_new(body, a->field,
				    json_integer(strtoll(v, NULL, 10)));
			else
				json_object_set_new(body, a->field,
				    json_string(v));
		}
		if (a->required && !seen) {
			fprintf(stderr, "ztiam: --%s is required\n", a->opt);
			return ZT_EINVAL;
		}
	}
	return ZT_OK;
}

/* Fills {tenant} and {N} in the path template, escaping each value. */
static int
expand_path(zt_buf *out, const char *tmpl, const char *tenant, char **pos,
    int npos)
{
	const char *p = tmpl, *v;
	char *esc;

	while (*p) {
		if (*p != '{') {
			zt_buf_addc(out, *p++);
			continue;
		}
		if (zt_str_has_prefix(p, "{tenant}")) {
			if ((v = tenant) == NULL) {
				fprintf(stderr, "ztiam: --tenant (or "
				    "ZTIAM_TENANT) is required\n");
				return ZT_EINVAL;
			}
			p += 8;
		} else {
			int n = p[1] - '0';

			if (n < 1 || n > npos)
				return ZT_EINVAL;
			v = pos[n - 1];
			p += 3;
		}
		esc = curl_easy_escape(NULL, v, 0);
		zt_buf_adds(out, esc ? esc : "");
		curl_free(esc);
	}
	return ZT_OK;
}

/* Commands that change an object print it as their noun's `get` does. */
static const struct cli_cmd *
sibling_get(const struct cli_cmd *c)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].noun, c->noun) == 0 &&
		    strcmp(cmds[i].verb, "get") == 0)
			return &cmds[i];
	return c;
}

static void
print_result(const zt_client *cl, const struct cli_cmd *c, int status,
    json_t *resp)
{
	char cols[256], *save = NULL, *tok;
	const char *colv[16];
	size_t n = 0;
	json_t *items, *one;

	if (status == 204 || resp == NULL) {
		if (!cl->json)
			printf("ok\n");
		return;
	}
	if (c->cols == NULL)
		c = sibling_get(c);
	if (cl->json || c->cols == NULL) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
		return;
	}
	snprintf(cols, sizeof(cols), "%s", c->cols);
	for (tok = strtok_r(cols, " ", &save); tok && n < 16;
	    tok = strtok_r(NULL, " ", &save))
		colv[n++] = tok;
	if ((items = json_object_get(resp, "items")) != NULL) {
		zt_client_print_table(cl, items, colv, n);
		one = json_object_get(resp, "next_cursor");
		if (json_is_string(one))
			printf("(more: --cursor %s)\n", json_string_value(one));
		return;
	}
	one = json_pack("[O]", resp);
	zt_client_print_table(cl, one, colv, n);
	json_decref(one);
}

static int
run_cmd(const struct cli_cmd *c, zt_client *cl, int argc, char **argv)
{
	zt_buf path = ZT_BUF_INIT(8192), query = ZT_BUF_INIT(8192);
	const char *tenant, *if_match;
	json_t *body = json_object(), *resp = NULL;
	int status, rc = 2;

	if ((tenant = zt_cli_take_opt(&argc, argv, "tenant")) == NULL)
		tenant = getenv("ZTIAM_TENANT");
	if (tenant && *tenant == '\0')
		tenant = NULL;
	if_match = zt_cli_take_opt(&argc, argv, "if-match");
	if (collect_args(c, &argc, argv, body, &query) < 0)
		goto out;
	if (strcmp(c->noun, "tenant") == 0 && strcmp(c->verb, "create") == 0 &&
	    argc == 1)
		json_object_set_new(body, "id", json_string(argv[0]));
	else if (argc != c->npos) {
		usage(c->noun);
		goto out;
	}
	if (expand_path(&path, c->path, tenant, argv, argc) < 0)
		goto out;
	if (query.len)
		zt_buf_add(&path, query.data, query.len);
	cl->if_match = if_match;
	status = zt_client_call(cl, c->method, path.data,
	    strcmp(c->method, "GET") && strcmp(c->method, "DELETE") ? body :
	    NULL, &resp);
	if (status < 200 || status > 299) {
		zt_client_print_error(status, resp);
		rc = 1;
	} else {
		print_result(cl, c, status, resp);
		rc = 0;
	}
out:
	json_decref(body);
	json_decref(resp);
	zt_buf_free(&path);
	zt_buf_free(&query);
	return rc;
}

/* `ztiam identity import FILE`: NDJSON straight to the server, one result
 * line per input line. */
static int
identity_import(zt_client *cl, int argc, char **argv)
{
	const char *tenant;
	char path[160];
	json_t *resp = NULL, *r;
	size_t i;
	int status, rc = 1;

	if ((tenant = zt_cli_take_opt(&argc, argv, "tenant")) == NULL)
		tenant = getenv("ZTIAM_TENANT");
	if (argc != 1 || tenant == NULL || strlen(tenant) > 63) {
		fprintf(stderr, "usage: ztiam identity import --tenant T "
		    "FILE.ndjson\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/v1/tenants/%s/identities/import",
	    tenant);
	status = zt_client_upload(cl, "POST", path, "application/x-ndjson",
	    argv[0], &resp);
	if (status != 200)
		zt_client_print_error(status, resp);
	else if (cl->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
		rc = 0;
	} else {
		json_array_foreach(json_object_get(resp, "results"), i, r)
			if (strcmp(json_string_value(json_object_get(r,
			    "status")), "ok") != 0)
				printf("line %lld: %s\n", (long long)
				    json_integer_value(json_object_get(r,
				    "line")), json_string_value(
				    json_object_get(r, "detail")));
		printf("%lld lines: %lld imported, %lld failed\n",
		    (long long)json_integer_value(json_object_get(resp,
		    "lines")), (long long)json_integer_value(json_object_get(
		    resp, "ok")), (long long)json_integer_value(
		    json_object_get(resp, "failed")));
		rc = json_integer_value(json_object_get(resp, "failed")) ?
		    1 : 0;
	}
	json_decref(resp);
	return rc;
}

bool
zt_cmd_identity_has(const char *noun)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].noun, noun) == 0)
			return true;
	return false;
}

int
zt_cmd_identity(const char *noun, int argc, char **argv)
{
	zt_client cl;
	size_t i;
	int rc;

	if (argc < 1)
		return usage(noun);
	argc = zt_client_init(&cl, argc, argv);
	if (strcmp(noun, "identity") == 0 && strcmp(argv[0], "import") == 0)
		rc = identity_import(&cl, argc - 1, argv + 1);
	else {
		for (i = 0; i < ZT_ARRAY_LEN(cmds); i++)
			if (strcmp(cmds[i].noun, noun) == 0 &&
			    strcmp(cmds[i].verb, argv[0]) == 0)
				break;
		rc = i < ZT_ARRAY_LEN(cmds) ?
		    run_cmd(&cmds[i], &cl, argc - 1, argv + 1) : usage(noun);
	}
	zt_client_free(&cl);
	return rc;
}
