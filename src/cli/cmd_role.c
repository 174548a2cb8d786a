/*
 * `ztiam role ...`: an application's roles and their grants, and
 * `ztiam authorize actions|principals`: the enumeration questions.  Both
 * are thin clients of the REST API (docs/api.md, "Roles";
 * docs/cli.md).
 *
 *   role create  --tenant T --app A --role R [--permissions FILE]
 *                [--description TEXT]
 *   role update  --tenant T --app A --role R [--permissions FILE]
 *                [--description TEXT] [--if-match N]
 *   role list    --tenant T --app A
 *   role get     --tenant T --app A --role R
 *   role delete  --tenant T --app A --role R [--if-match N]
 *   role grant   --tenant T --app A --role R (--identity ID | --group ID)
 *   role grants  --tenant T --app A --role R
 *   role revoke  --tenant T --app A --role R --grant ID
 *
 *   authorize actions    --app A --user U --resource R [--context JSON]
 *   authorize principals --app A --action X --resource R [--context JSON]
 *                        [--limit N] [--all]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/base.h"
#include "cli/cli.h"

/* A permissions file is a small JSON array: 64 permissions of a few
 * kilobytes each at most (authz.h). */
#define MAX_PERMS_FILE (1u << 20)
/* `--all` follows the cursor at most this many pages. */
#define MAX_PAGES 10000

static int
role_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam role create|update --tenant T --app A --role R "
	    "[--permissions FILE]\n"
	    "                 [--description TEXT] [--if-match N]\n"
	    "       ztiam role list --tenant T --app A\n"
	    "       ztiam role get|delete|grants --tenant T --app A "
	    "--role R\n"
	    "       ztiam role grant --tenant T --app A --role R "
	    "(--identity ID | --group ID)\n"
	    "       ztiam role revoke --tenant T --app A --role R "
	    "--grant ID\n"
	    "  plus --server URL --token TOKEN --json\n");
	return 2;
}

static int
with_client(int (*fn)(zt_client *, int, char **), int argc, char **argv)
{
	zt_client c;
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((argc = zt_client_init(&c, argc, argv)) < 0) {
		curl_global_cleanup();
		return 2;
	}
	rc = fn(&c, argc, argv);
	zt_client_free(&c);
	curl_global_cleanup();
	return rc;
}

/* Prints a refusal with each validation fault on its own line. */
static int
refused(int status, json_t *doc)
{
	json_t *e;
	size_t i;

	zt_client_print_error(status, doc);
	json_array_foreach(json_object_get(doc, "errors"), i, e)
		fprintf(stderr, "  %s: %s\n", json_is_string(json_object_get(e,
		    "policy")) ? json_string_value(json_object_get(e,
		    "policy")) : "-", json_string_value(json_object_get(e,
		    "message")));
	json_decref(doc);
	return 1;
}

static void
print_one(const zt_client *c, json_t *doc, const char *const *cols,
    size_t n)
{
	json_t *one;

	if (c->json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		return;
	}
	one = json_array();
	json_array_append(one, doc);
	zt_client_print_table(c, one, cols, n);
	json_decref(one);
}

static const char *const role_cols[] = { "role", "description",
    "version", "revision", "updated_at" };
static const char *const grant_cols[] = { "id", "identity", "group",
    "created_by", "created_at" };

/* The options every verb has: tenant, app and (when `want_role`) role.
 * Builds the roles path, with `tail` after the role. */
static bool
role_path(char *out, size_t n, int *argc, char **argv, bool want_role,
    const char *tail)
{
	const char *tenant = zt_cli_take_opt(argc, argv, "tenant");
	const char *app = zt_cli_take_opt(argc, argv, "app");
	const char *role = zt_cli_take_opt(argc, argv, "role");

	if (tenant == NULL || app == NULL || (want_role != (role != NULL)))
		return false;
	snprintf(out, n, "/v1/tenants/%s/apps/%s/roles%s%s%s", tenant, app,
	    role != NULL ? "/" : "", role != NULL ? role : "",
	    tail != NULL ? tail : "");
	return true;
}

static int
read_perms(json_t **out, const char *file)
{
	json_error_t jerr;

	*out = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (*out == NULL) {
		fprintf(stderr, "ztiam: %s: %s\n", file, jerr.text);
		return 2;
	}
	if (!json_is_array(*out)) {
		fprintf(stderr, "ztiam: %s: a JSON array of permissions is "
		    "expected\n", file);
		json_decref(*out);
		*out = NULL;
		return 2;
	}
	return 0;
}

static int
role_write(zt_client *c, int argc, char **argv, bool create)
{
	const char *perms_file = zt_cli_take_opt(&argc, argv, "permissions");
	const char *desc = zt_cli_take_opt(&argc, argv, "description");
	/* create names the role in the body, update in the path */
	const char *role = create ? zt_cli_take_opt(&argc, argv, "role") :
	    NULL;
	json_t *body, *perms = NULL, *out = NULL;
	char path[768];
	int status;

	c->if_match = zt_cli_take_opt(&argc, argv, "if-match");
	if (!role_path(path, sizeof(path), &argc, argv, !create, NULL) ||
	    argc != 0 || (create && role == NULL))
		return role_usage();
	if (perms_file != NULL && (status = read_perms(&perms,
	    perms_file)) != 0)
		return status;
	body = json_object();
	if (create)
		json_object_set_new(body, "role", json_string(role));
	if (perms != NULL)
		json_object_set_new(body, "permissions", perms);
	if (desc != NULL)
		json_object_set_new(body, "description", json_string(desc));
	status = zt_client_call(c, create ? "POST" : "PATCH", path, body,
	    &out);
	json_decref(body);
	if (status != (create ? 201 : 200))
		return refused(status, out);
	print_one(c, out, role_cols, ZT_ARRAY_LEN(role_cols));
	json_decref(out);
	return 0;
}

static int
role_create(zt_client *c, int argc, char **argv)
{
	return role_write(c, argc, argv, true);
}

static int
role_update(zt_client *c, int argc, char **argv)
{
	return role_write(c, argc, argv, false);
}

static int
role_get_list(zt_client *c, int argc, char **argv, bool one,
    const char *tail, const char *const *cols, size_t ncols)
{
	json_t *out = NULL;
	char path[768];
	int status;

	if (!role_path(path, sizeof(path), &argc, argv, one, tail) ||
	    argc != 0)
		return role_usage();
	if ((status = zt_client_call(c, "GET", path, NULL, &out)) != 200)
		return refused(status, out);
	if (json_is_array(json_object_get(out, "items")))
		zt_client_print_table(c, json_object_get(out, "items"), cols,
		    ncols);
	else
		print_one(c, out, cols, ncols);
	json_decref(out);
	return 0;
}

static int
role_list(zt_client *c, int argc, char **argv)
{
	return role_get_list(c, argc, argv, false, NULL, role_cols,
	    ZT_ARRAY_LEN(role_cols));
}

static int
role_get(zt_client *c, int argc, char **argv)
{
	return role_get_list(c, argc, argv, true, NULL, role_cols,
	    ZT_ARRAY_LEN(role_cols));
}

static int
role_grants(zt_client *c, int argc, char **argv)
{
	return role_get_list(c, argc, argv, true, "/grants", grant_cols,
	    ZT_ARRAY_LEN(grant_cols));
}

static int
role_delete(zt_client *c, int argc, char **argv)
{
	json_t *out = NULL;
	char path[768];
	int status;

	c->if_match = zt_cli_take_opt(&argc, argv, "if-match");
	if (!role_path(path, sizeof(path), &argc, argv, true, NULL) ||
	    argc != 0)
		return role_usage();
	if ((status = zt_client_call(c, "DELETE", path, NULL, &out)) != 204)
		return refused(status, out);
	json_decref(out);
	return 0;
}

static int
role_grant(zt_client *c, int argc, char **argv)
{
	const char *ident = zt_cli_take_opt(&argc, argv, "identity");
	const char *group = zt_cli_take_opt(&argc, argv, "group");
	json_t *body, *out = NULL;
	char path[768];
	int status;

	if (!role_path(path, sizeof(path), &argc, argv, true, "/grants") ||
	    argc != 0 || (ident == NULL) == (group == NULL))
		return role_usage();
	body = json_pack("{s:s}", ident != NULL ? "identity" : "group",
	    ident != NULL ? ident : group);
	status = zt_client_call(c, "POST", path, body, &out);
	json_decref(body);
	if (status != 201)
		return refused(status, out);
	print_one(c, out, grant_cols, ZT_ARRAY_LEN(grant_cols));
	json_decref(out);
	return 0;
}

static int
role_revoke(zt_client *c, int argc, char **argv)
{
	const char *grant = zt_cli_take_opt(&argc, argv, "grant");
	char path[768], full[900];
	json_t *out = NULL;
	int status;

	if (grant == NULL || !role_path(path, sizeof(path), &argc, argv, true,
	    "/grants") || argc != 0)
		return role_usage();
	snprintf(full, sizeof(full), "%s/%s", path, grant);
	if ((status = zt_client_call(c, "DELETE", full, NULL, &out)) != 204)
		return refused(status, out);
	json_decref(out);
	return 0;
}

int
zt_cmd_role(int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*fn)(zt_client *, int, char **);
	} verbs[] = {
		{ "create", role_create },
		{ "update", role_update },
		{ "list", role_list },
		{ "get", role_get },
		{ "delete", role_delete },
		{ "grant", role_grant },
		{ "grants", role_grants },
		{ "revoke", role_revoke },
	};
	size_t i;

	for (i = 0; argc >= 1 && i < ZT_ARRAY_LEN(verbs); i++)
		if (strcmp(argv[0], verbs[i].verb) == 0)
			return with_client(verbs[i].fn, argc - 1, argv + 1);
	return role_usage();
}

/* ---- authorize actions | principals -------------------------------------- */

static int
enum_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam authorize actions --app A --user U --resource R "
	    "[--context JSON]\n"
	    "       ztiam authorize principals --app A --action X "
	    "--resource R [--context JSON]\n"
	    "                                  [--limit N] [--all]\n");
	return 2;
}

/* The request body shared by both questions. */
static json_t *
enum_body(int *argc, char **argv, const char *who_key)
{
	const char *app = zt_cli_take_opt(argc, argv, "app");
	const char *who = zt_cli_take_opt(argc, argv, who_key);
	const char *res = zt_cli_take_opt(argc, argv, "resource");
	const char *ctx = zt_cli_take_opt(argc, argv, "context");
	json_t *body, *c = NULL;

	if (app == NULL || who == NULL || res == NULL)
		return NULL;
	if (ctx != NULL && (zt_json_parse(&c, ctx, strlen(ctx), 64) !=
	    ZT_OK || !json_is_object(c))) {
		fprintf(stderr, "ztiam: --context: a JSON object is "
		    "expected\n");
		json_decref(c);
		return NULL;
	}
	body = json_pack("{s:s, s:s, s:s}", "appid", app, who_key, who,
	    "resource", res);
	if (c != NULL)
		json_object_set_new(body, "context", c);
	return body;
}

static int
enum_actions(zt_client *c, int argc, char **argv)
{
	static const char *const cols[] = { "action", "determining" };
	json_t *body = enum_body(&argc, argv, "user"), *out = NULL;
	char *text;
	int status;

	if (body == NULL || argc != 0) {
		json_decref(body);
		return enum_usage();
	}
	status = zt_client_call(c, "POST", "/v1/authorize/actions", body,
	    &out);
	json_decref(body);
	if (status != 200)
		return refused(status, out);
	if (c->json) {
		text = json_dumps(out, JSON_COMPACT);
		printf("%s\n", text != NULL ? text : "");
		free(text);
	} else {
		zt_client_print_table(c, json_object_get(out, "actions"), cols,
		    ZT_ARRAY_LEN(cols));
		if (json_is_string(json_object_get(out, "reason")))
			fprintf(stderr, "ztiam: nothing is allowed: %s\n",
			    json_string_value(json_object_get(out,
			    "message")));
	}
	json_decref(out);
	return 0;
}

static int
enum_principals(zt_client *c, int argc, char **argv)
{
	static const char *const cols[] = { "name", "kind", "id",
	    "determining" };
	const char *limit = zt_cli_take_opt(&argc, argv, "limit");
	bool all = zt_cli_take_flag(&argc, argv, "all");
	json_t *body = enum_body(&argc, argv, "action"), *out = NULL;
	json_t *found = json_array();
	const char *cursor = NULL;
	char path[512];
	int status = 200, pages = 0;
	char *held = NULL;

	if (body == NULL || argc != 0) {
		json_decref(body);
		json_decref(found);
		return enum_usage();
	}
	/* Without --limit, a page as large as the server allows. */
	do {
		snprintf(path, sizeof(path), "/v1/authorize/principals?"
		    "limit=%s%s%s", limit != NULL ? limit : "1000",
		    cursor != NULL ? "&cursor=" : "", cursor != NULL ?
		    cursor : "");
		json_decref(out);
		out = NULL;
		if ((status = zt_client_call(c, "POST", path, body, &out)) !=
		    200)
			break;
		json_array_extend(found, json_object_get(out, "principals"));
		free(held);
		held = NULL;
		cursor = json_string_value(json_object_get(out,
		    "next_cursor"));
		if (cursor != NULL && (held = strdup(cursor)) == NULL)
			break;
		cursor = held;
	} while (all && cursor != NULL && ++pages < MAX_PAGES);
	json_decref(body);
	if (status != 200) {
		free(held);
		json_decref(found);
		return refused(status, out);
	}
	zt_client_print_table(c, found, cols, ZT_ARRAY_LEN(cols));
	if (!all && cursor != NULL)
		fprintf(stderr, "ztiam: more identities to examine: "
		    "--all follows the cursor\n");
	free(held);
	json_decref(found);
	json_decref(out);
	return 0;
}

int
zt_cmd_authorize_enum(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "actions") == 0)
		return with_client(enum_actions, argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "principals") == 0)
		return with_client(enum_principals, argc - 1, argv + 1);
	return enum_usage();
}
