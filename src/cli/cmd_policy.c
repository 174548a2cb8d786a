/*
 * `ztiam policy eval`: decisions worked out offline, in Cedar's own
 * terms, with no server.  It reads a policy set in Cedar's text syntax,
 * an entity store in Cedar's entities JSON and a file of requests, one
 * JSON object a line:
 *
 *   {"principal": {"type": "User", "id": "alice"},
 *    "action": {"type": "Action", "id": "read"},
 *    "resource": {"type": "Doc", "id": "d1"}, "context": {...}}
 *
 * and prints one JSON line per request, in order:
 *
 *   {"decision": "allow", "determining": ["policy0"],
 *    "errors": [{"policy": "policy3", "message": "..."}]}
 *
 * A line that is not such a request prints {"error": "..."} and the run
 * goes on; the exit status is then 1.  Blank lines are skipped.  This is
 * what the differential suite (tests/policy-diff) runs against Cedar.
 *
 * With --schema (Cedar's JSON schema format) the policy set is validated
 * first and refused whole if any policy fails; entities are converted
 * against the schema; and each request is checked and its context
 * converted before it is decided.  A request that does not fit is denied
 * unevaluated, its line carrying "request_error" with the reason: that is
 * a decision, not a malformed line.
 *
 * The other verbs manage the server's policy stores (put, put-schema,
 * get, list, app-create, app-list), check a policy file against a schema
 * (validate, offline or with the application's schema from the server),
 * and run a policy test file (test, offline like eval or through the
 * server's batch decision API); `ztiam authorize` sends one decision
 * request.  docs/cli.md and docs/policy.md describe them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "authz/authz.h"
#include "base/base.h"
#include "cli/cli.h"
#include "policy/policy.h"

/* Policy and entity files are read whole; the library refuses more than
 * 16 MiB of either, so reading stops just past that. */
#define MAX_FILE ((16u << 20) + 1)

/* A request line over this is refused unread: contexts are small. */
#define MAX_LINE (1u << 20)

/* Requests nest no deeper than the library's own value limit. */
#define MAX_DEPTH 130

static int
policy_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam policy eval --policies FILE --entities FILE "
	    "[--schema FILE]\n"
	    "                         --requests FILE\n"
	    "  FILE may be - for standard input (one of them at most)\n"
	    "       ztiam policy app-create --tenant T --app APPID "
	    "[--name N] [--namespace NS]\n"
	    "       ztiam policy app-list --tenant T\n"
	    "       ztiam policy put --tenant T [--app APPID] --file FILE "
	    "[--format cedar|json]\n"
	    "                        [--if-match REV]  (no --app: the "
	    "tenant-wide store)\n"
	    "       ztiam policy put-schema --tenant T --app APPID --file "
	    "FILE [--if-match REV]\n"
	    "       ztiam policy get --tenant T [--app APPID] [--revision N] "
	    "[--schema]\n"
	    "       ztiam policy list --tenant T [--app APPID]   "
	    "(revisions)\n"
	    "       ztiam policy validate --file FILE [--format cedar|json] "
	    "(--schema FILE |\n"
	    "                             --tenant T --app APPID)\n"
	    "       ztiam policy test --file TESTS (--policies FILE "
	    "--entities FILE [--schema FILE]\n"
	    "                         | server options)\n"
	    "  server options: --server URL --token T --cacert FILE "
	    "--json\n");
	return 2;
}

/* Reads a whole file (or stdin for "-") into a NUL-terminated buffer
 * the caller frees. */
static int
read_all(char **out, size_t *len, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	zt_buf b = { .max = MAX_FILE };
	char chunk[65536];
	size_t n;
	int rc = ZT_OK;

	*out = NULL;
	if (f == NULL)
		return zt_error_set(ZT_ENOTFOUND, "%s: cannot open", path);
	while (rc == ZT_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = zt_buf_add(&b, chunk, n);
	if (rc == ZT_OK && ferror(f))
		rc = zt_error_set(ZT_ERR, "%s: read error", path);
	if (rc == ZT_OK)
		rc = zt_buf_addc(&b, '\0');
	if (f != stdin)
		fclose(f);
	if (rc != ZT_OK) {
		zt_buf_free(&b);
		return rc == ZT_ETOOBIG ? zt_error_set(rc, "%s: over 16 MiB",
		    path) : rc;
	}
	*len = b.len - 1;
	*out = zt_buf_detach(&b);
	return *out != NULL ? ZT_OK : ZT_ENOMEM;
}

/* {"type": T, "id": I} into a uid borrowing the JSON strings. */
static int
uid_from(zt_policy_uid *u, json_t *j, const char *what)
{
	json_t *t = json_object_get(j, "type"), *id = json_object_get(j, "id");

	if (!json_is_object(j) || json_object_size(j) != 2 ||
	    !json_is_string(t) || !json_is_string(id))
		return zt_error_set(ZT_EINVAL, "%s must be {\"type\": ..., "
		    "\"id\": ...}", what);
	u->type = json_string_value(t);
	u->type_len = json_string_length(t);
	u->id = json_string_value(id);
	u->id_len = json_string_length(id);
	return ZT_OK;
}

/* What every request is decided against. */
typedef struct eval_env {
	zt_policy_set *ps;
	zt_entities *es;
	zt_policy_schema *schema;	/* NULL without --schema */
} eval_env;

/* With a schema: checks the request and converts its context.  A
 * refusal is ZT_EINVAL with *refused set: the request is denied. */
static int
schema_context(zt_policy_context **ctx, bool *refused, const eval_env *env,
    const zt_policy_request *req, const char *text)
{
	int rc;

	if ((rc = zt_policy_request_check(env->schema, req)) == ZT_OK)
		rc = zt_policy_context_from_json_schema(ctx, env->schema,
		    &req->action, text, strlen(text));
	*refused = rc == ZT_EINVAL;
	return rc;
}

/* Decides one request line into `ans`; *refused says the schema turned
 * the request away (the answer is then deny). */
static int
decide_line(zt_policy_answer *ans, bool *refused, const eval_env *env,
    const char *line, size_t len)
{
	json_t *doc = NULL, *p = NULL, *a = NULL, *r = NULL, *c = NULL;
	const zt_json_field fields[] = {
		{ "principal", ZT_J_OBJECT, true, &p, NULL },
		{ "action", ZT_J_OBJECT, true, &a, NULL },
		{ "resource", ZT_J_OBJECT, true, &r, NULL },
		{ "context", ZT_J_OBJECT, false, &c, NULL },
	};
	zt_policy_context *ctx = NULL;
	zt_policy_request req;
	char *text = NULL;
	int rc;

	*refused = false;
	memset(&req, 0, sizeof(req));
	if ((rc = zt_json_parse(&doc, line, len, MAX_DEPTH)) != ZT_OK)
		return rc;
	if (!json_is_object(doc)) {
		rc = zt_error_set(ZT_EINVAL, "a request is a JSON object");
		goto cleanup;
	}
	if ((rc = zt_json_decode(doc, fields, ZT_ARRAY_LEN(fields))) != 0 ||
	    (rc = uid_from(&req.principal, p, "principal")) != ZT_OK ||
	    (rc = uid_from(&req.action, a, "action")) != ZT_OK ||
	    (rc = uid_from(&req.resource, r, "resource")) != ZT_OK)
		goto cleanup;

	/* The library reads a context from text; hand it the object back.
	 * A schema's context type may require attributes, so an absent
	 * context is converted too, as the empty record. */
	if (c != NULL || env->schema != NULL) {
		text = c != NULL ? json_dumps(c, JSON_COMPACT) : strdup("{}");
		if (text == NULL) {
			rc = ZT_ENOMEM;
			goto cleanup;
		}
		rc = env->schema != NULL ?
		    schema_context(&ctx, refused, env, &req, text) :
		    zt_policy_context_from_json(&ctx, text, strlen(text));
		if (rc != ZT_OK)
			goto cleanup;
		req.context = ctx;
	}
	rc = zt_policy_decide(ans, env->ps, env->es, &req);

cleanup:
	free(text);
	zt_policy_context_free(ctx);
	json_decref(doc);
	return rc;
}

static json_t *
answer_json(const zt_policy_answer *ans)
{
	json_t *o = json_object(), *det = json_array(), *errs = json_array();
	size_t i;

	json_object_set_new(o, "decision", json_string(ans->decision ==
	    ZT_POLICY_ALLOW ? "allow" : "deny"));
	for (i = 0; i < ans->ndetermining; i++)
		json_array_append_new(det, json_string(ans->determining[i]));
	for (i = 0; i < ans->nerrors; i++)
		json_array_append_new(errs, json_pack("{s:s, s:s}",
		    "policy", ans->errors[i].policy_id,
		    "message", ans->errors[i].message));
	json_object_set_new(o, "determining", det);
	json_object_set_new(o, "errors", errs);
	return o;
}

static void
print_line(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	if (s != NULL)
		printf("%s\n", s);
	else
		printf("{\"error\":\"out of memory\"}\n");
	free(s);
	json_decref(o);
}

static bool
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n')
			return false;
	return true;
}

/* Decides each line of `f`; returns the number of lines that failed. */
static size_t
eval_requests(FILE *f, const eval_env *env)
{
	zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
	char *line = NULL;
	size_t cap = 0, bad = 0;
	bool refused = false;
	ssize_t n;
	int rc;

	while ((n = getline(&line, &cap, f)) >= 0) {
		if (blank(line, (size_t)n))
			continue;
		if ((size_t)n > MAX_LINE)
			rc = zt_error_set(ZT_ETOOBIG, "request line over %u "
			    "bytes", MAX_LINE);
		else
			rc = decide_line(&ans, &refused, env, line, (size_t)n);
		if (refused) {
			print_line(json_pack("{s:s, s:[], s:[], s:s}",
			    "decision", "deny", "determining", "errors",
			    "request_error", zt_error_msg()));
			continue;
		}
		if (rc != ZT_OK) {
			print_line(json_pack("{s:s}", "error",
			    zt_error_msg()));
			bad++;
			continue;
		}
		print_line(answer_json(&ans));
	}
	free(line);
	zt_policy_answer_free(&ans);
	return bad;
}

/* Validates the set against the schema, printing every error. */
static int
validate_set(const eval_env *env, const char *pfile)
{
	zt_policy_validation v = ZT_POLICY_VALIDATION_INIT;
	size_t i;
	int rc;

	rc = zt_policy_validate(&v, env->ps, env->schema);
	for (i = 0; i < v.nerrors; i++)
		fprintf(stderr, "ztiam: %s:%d:%d: %s: %s\n", pfile,
		    v.errors[i].line, v.errors[i].column,
		    v.errors[i].policy_id, v.errors[i].message);
	zt_policy_validation_free(&v);
	if (rc == ZT_EINVAL)
		return zt_error_set(rc, "%s: the policy set does not validate "
		    "against the schema", pfile);
	return rc;
}

static int
load_inputs(eval_env *env, const char *pfile, const char *efile,
    const char *sfile)
{
	zt_policy_error perr;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = read_all(&text, &len, pfile)) != ZT_OK)
		return rc;
	rc = zt_policy_set_parse(&env->ps, text, len, &perr);
	free(text);
	if (rc == ZT_EINVAL)
		return zt_error_set(rc, "%s:%d:%d: %s", pfile, perr.line,
		    perr.column, perr.message);
	if (rc != ZT_OK)
		return rc;
	if (sfile != NULL) {
		if ((rc = read_all(&text, &len, sfile)) != ZT_OK)
			return rc;
		rc = zt_policy_schema_from_json(&env->schema, text, len);
		free(text);
		if (rc != ZT_OK || (rc = validate_set(env, pfile)) != ZT_OK)
			return rc;
	}
	if ((rc = read_all(&text, &len, efile)) != ZT_OK)
		return rc;
	rc = env->schema != NULL ?
	    zt_entities_from_json_schema(&env->es, env->schema, text, len) :
	    zt_entities_from_json(&env->es, text, len);
	free(text);
	return rc;
}

static int
policy_eval(int argc, char **argv)
{
	const char *pfile, *efile, *sfile, *rfile;
	eval_env env = { NULL, NULL, NULL };
	FILE *rf = NULL;
	size_t bad;
	int status = 1;

	pfile = zt_cli_take_opt(&argc, argv, "policies");
	efile = zt_cli_take_opt(&argc, argv, "entities");
	sfile = zt_cli_take_opt(&argc, argv, "schema");
	rfile = zt_cli_take_opt(&argc, argv, "requests");
	if (argc != 0 || pfile == NULL || efile == NULL || rfile == NULL)
		return policy_usage();

	if (load_inputs(&env, pfile, efile, sfile) != ZT_OK) {
		fprintf(stderr, "ztiam: %s\n", zt_error_msg());
		goto out;
	}
	rf = strcmp(rfile, "-") == 0 ? stdin : fopen(rfile, "r");
	if (rf == NULL) {
		fprintf(stderr, "ztiam: %s: cannot open\n", rfile);
		goto out;
	}
	bad = eval_requests(rf, &env);
	if (ferror(rf))
		fprintf(stderr, "ztiam: %s: read error\n", rfile);
	else if (bad == 0)
		status = 0;
	if (fflush(stdout) != 0)
		status = 1;

out:
	if (rf != NULL && rf != stdin)
		fclose(rf);
	zt_entities_free(env.es);
	zt_policy_set_free(env.ps);
	zt_policy_schema_free(env.schema);
	return status;
}

/* ---- the server's policy stores -------------------------------------- */

/* Runs a verb with an API client made from the server options. */
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

/* The path of a store: the app's, or the tenant-wide one. */
static void
store_path(char *out, size_t n, const char *tenant, const char *app,
    const char *what)
{
	if (app != NULL)
		snprintf(out, n, "/v1/tenants/%s/apps/%s/%s", tenant, app, what);
	else
		snprintf(out, n, "/v1/tenants/%s/%s", tenant,
		    strcmp(what, "revisions") == 0 ? "policies/revisions" :
		    what);
}

/* Prints a refusal, with each validation error on a line of its own. */
static int
print_refusal(int status, json_t *doc)
{
	json_t *e;
	size_t i;

	zt_client_print_error(status, doc);
	json_array_foreach(json_object_get(doc, "errors"), i, e)
		fprintf(stderr, "  %s%s%s:%lld:%lld: %s\n",
		    json_is_string(json_object_get(e, "app")) ? "app " : "",
		    json_is_string(json_object_get(e, "app")) ?
		    json_string_value(json_object_get(e, "app")) : "",
		    json_is_string(json_object_get(e, "policy")) ?
		    json_string_value(json_object_get(e, "policy")) : "-",
		    (long long)json_integer_value(json_object_get(e, "line")),
		    (long long)json_integer_value(json_object_get(e, "column")),
		    json_string_value(json_object_get(e, "message")));
	json_decref(doc);
	return 1;
}

static void
print_doc(const zt_client *c, json_t *doc, const char *const *cols,
    size_t n)
{
	json_t *one = json_array();

	json_array_append(one, doc);
	zt_client_print_table(c, one, cols, n);
	json_decref(one);
}

static const char *const rev_cols[] = { "revision", "change", "format",
    "created_by", "created_at" };

static bool
is_json_file(const char *file, const char *format)
{
	size_t n = strlen(file);

	if (format != NULL)
		return strcmp(format, "json") == 0;
	return n > 5 && strcmp(file + n - 5, ".json") == 0;
}

static int
policy_app_create(zt_client *c, int argc, char **argv)
{
	const char *tenant = zt_cli_take_opt(&argc, argv, "tenant");
	const char *app = zt_cli_take_opt(&argc, argv, "app");
	const char *name = zt_cli_take_opt(&argc, argv, "name");
	const char *ns = zt_cli_take_opt(&argc, argv, "namespace");
	static const char *const cols[] = { "appid", "tenant", "name",
	    "namespace", "revision" };
	json_t *body, *out = NULL;
	char path[512];
	int status;

	if (argc != 0 || tenant == NULL || app == NULL)
		return policy_usage();
	body = json_pack("{s:s}", "appid", app);
	if (name != NULL)
		json_object_set_new(body, "name", json_string(name));
	if (ns != NULL)
		json_object_set_new(body, "namespace", json_string(ns));
	snprintf(path, sizeof(path), "/v1/tenants/%s/apps", tenant);
	status = zt_client_call(c, "POST", path, body, &out);
	json_decref(body);
	if (status != 201)
		return print_refusal(status, out);
	print_doc(c, out, cols, ZT_ARRAY_LEN(cols));
	json_decref(out);
	return 0;
}

static int
policy_app_list(zt_client *c, int argc, char **argv)
{
	const char *tenant = zt_cli_take_opt(&argc, argv, "tenant");
	static const char *const cols[] = { "appid", "name", "namespace",
	    "revision", "updated_at" };
	json_t *out = NULL;
	char path[512];
	int status;

	if (argc != 0 || tenant == NULL)
		return policy_usage();
	snprintf(path, sizeof(path), "/v1/tenants/%s/apps", tenant);
	if ((status = zt_client_call(c, "GET", path, NULL, &out)) != 200)
		return print_refusal(status, out);
	zt_client_print_table(c, json_object_get(out, "items"), cols,
	    ZT_ARRAY_LEN(cols));
	json_decref(out);
	return 0;
}

static int
put_common(zt_client *c, int argc, char **argv, bool schema)
{
	const char *tenant = zt_cli_take_opt(&argc, argv, "tenant");
	const char *app = zt_cli_take_opt(&argc, argv, "app");
	const char *file = zt_cli_take_opt(&argc, argv, "file");
	const char *format = zt_cli_take_opt(&argc, argv, "format");
	json_t *out = NULL;
	char path[512];
	int status;

	c->if_match = zt_cli_take_opt(&argc, argv, "if-match");
	if (argc != 0 || tenant == NULL || file == NULL ||
	    (schema && app == NULL) || (format != NULL &&
	    strcmp(format, "json") != 0 && strcmp(format, "cedar") != 0))
		return policy_usage();
	store_path(path, sizeof(path), tenant, app, schema ? "schema" :
	    "policies");
	status = zt_client_upload(c, "PUT", path, schema ||
	    is_json_file(file, format) ? "application/json" :
	    "application/cedar", file, &out);
	if (status != 200)
		return print_refusal(status, out);
	print_doc(c, out, rev_cols, ZT_ARRAY_LEN(rev_cols));
	json_decref(out);
	return 0;
}

static int
policy_put(zt_client *c, int argc, char **argv)
{
	return put_common(c, argc, argv, false);
}

static int
policy_put_schema(zt_client *c, int argc, char **argv)
{
	return put_common(c, argc, argv, true);
}

static int
policy_get(zt_client *c, int argc, char **argv)
{
	const char *tenant = zt_cli_take_opt(&argc, argv, "tenant");
	const char *app = zt_cli_take_opt(&argc, argv, "app");
	const char *rev = zt_cli_take_opt(&argc, argv, "revision");
	bool schema = zt_cli_take_flag(&argc, argv, "schema");
	char path[600], *text;
	json_t *out = NULL;
	size_t n;
	int status;

	if (argc != 0 || tenant == NULL || (schema && app == NULL))
		return policy_usage();
	store_path(path, sizeof(path), tenant, app, schema ? "schema" :
	    "policies");
	if (rev != NULL) {
		n = strlen(path);
		snprintf(path + n, sizeof(path) - n, "?revision=%s", rev);
	}
	if ((status = zt_client_call(c, "GET", path, NULL, &out)) != 200)
		return print_refusal(status, out);
	if (c->json || schema) {
		text = json_dumps(out, JSON_INDENT(2));
		printf("%s\n", text != NULL ? text : "");
		free(text);
	} else
		fputs(json_string_value(json_object_get(out, "policies")),
		    stdout);
	json_decref(out);
	return 0;
}

static int
policy_list(zt_client *c, int argc, char **argv)
{
	const char *tenant = zt_cli_take_opt(&argc, argv, "tenant");
	const char *app = zt_cli_take_opt(&argc, argv, "app");
	json_t *out = NULL;
	char path[512];
	int status;

	if (argc != 0 || tenant == NULL)
		return policy_usage();
	store_path(path, sizeof(path), tenant, app, "revisions");
	if ((status = zt_client_call(c, "GET", path, NULL, &out)) != 200)
		return print_refusal(status, out);
	zt_client_print_table(c, json_object_get(out, "items"), rev_cols,
	    ZT_ARRAY_LEN(rev_cols));
	json_decref(out);
	return 0;
}

/* ---- validate --------------------------------------------------------- */

static int
policy_validate(zt_client *c, int argc, char **argv)
{
	const char *file = zt_cli_take_opt(&argc, argv, "file");
	const char *format = zt_cli_take_opt(&argc, argv, "format");
	const char *sfile = zt_cli_take_opt(&argc, argv, "schema");
	const char *tenant = zt_cli_take_opt(&argc, argv, "tenant");
	const char *app = zt_cli_take_opt(&argc, argv, "app");
	char *text = NULL, *stext = NULL, path[512];
	json_t *errors = NULL, *sdoc = NULL;
	size_t len = 0, slen = 0;
	int rc = 1, status;

	if (argc != 0 || file == NULL || (sfile == NULL) == (app == NULL) ||
	    (app != NULL && tenant == NULL))
		return policy_usage();
	if (read_all(&text, &len, file) != ZT_OK)
		goto fail;
	if (sfile != NULL && read_all(&stext, &slen, sfile) != ZT_OK)
		goto fail;
	if (app != NULL) {
		store_path(path, sizeof(path), tenant, app, "schema");
		if ((status = zt_client_call(c, "GET", path, NULL, &sdoc)) !=
		    200) {
			free(text);
			return print_refusal(status, sdoc);
		}
		if ((stext = json_dumps(sdoc, JSON_COMPACT)) == NULL)
			goto fail;
		slen = strlen(stext);
	}
	if (zt_authz_validate(&errors, is_json_file(file, format) ?
	    ZT_AUTHZ_JSON : ZT_AUTHZ_CEDAR, text, len, stext, slen) ==
	    ZT_OK) {
		if (c->json)
			printf("{\"valid\":true,\"errors\":[]}\n");
		else
			printf("%s: valid\n", file);
		rc = 0;
	} else if (errors == NULL) {
		goto fail;
	} else if (c->json) {
		json_t *doc = json_pack("{s:b, s:O}", "valid", 0, "errors",
		    errors);
		char *s = json_dumps(doc, JSON_COMPACT);

		printf("%s\n", s != NULL ? s : "");
		free(s);
		json_decref(doc);
	} else {
		json_t *e;
		size_t i;

		json_array_foreach(errors, i, e)
			fprintf(stderr, "%s:%lld:%lld: %s: %s\n", file,
			    (long long)json_integer_value(json_object_get(e,
			    "line")), (long long)json_integer_value(
			    json_object_get(e, "column")),
			    json_is_string(json_object_get(e, "policy")) ?
			    json_string_value(json_object_get(e, "policy")) :
			    "-", json_string_value(json_object_get(e,
			    "message")));
	}
	goto out;
fail:
	fprintf(stderr, "ztiam: %s\n", zt_error_msg());
out:
	json_decref(errors);
	json_decref(sdoc);
	free(text);
	free(stext);
	return rc;
}

/* ---- test ------------------------------------------------------------- */

/*
 * A test file is a JSON object {"tests": [{"name": ..., "request": {...},
 * "expect": "allow" | "deny", "reason": ...}, ...]}.  Offline, requests
 * are in eval's Cedar form; against the server, in the decision API's
 * form.  "reason" (optional) must equal the answer's reason.
 */
#define TESTS_MAX 10000

static int
test_offline(json_t *results, json_t *tests, const char *pfile,
    const char *efile, const char *sfile)
{
	zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;
	eval_env env = { NULL, NULL, NULL };
	json_t *t, *got;
	bool refused;
	char *line;
	size_t i;
	int rc;

	if ((rc = load_inputs(&env, pfile, efile, sfile)) != ZT_OK)
		goto out;
	json_array_foreach(tests, i, t) {
		line = json_dumps(json_object_get(t, "request"), JSON_COMPACT);
		rc = line != NULL ? decide_line(&ans, &refused, &env, line,
		    strlen(line)) : ZT_ENOMEM;
		free(line);
		if (refused)
			got = json_pack("{s:s, s:s}", "decision", "deny",
			    "reason", "request_error");
		else if (rc != ZT_OK)
			got = json_pack("{s:s, s:s}", "decision", "error",
			    "reason", zt_error_msg());
		else
			got = answer_json(&ans);
		json_array_append_new(results, got);
	}
	rc = ZT_OK;
out:
	zt_policy_answer_free(&ans);
	zt_entities_free(env.es);
	zt_policy_set_free(env.ps);
	zt_policy_schema_free(env.schema);
	return rc;
}

static int
test_server(zt_client *c, json_t *results, json_t *tests)
{
	json_t *batch, *body, *out = NULL, *t;
	size_t i, from;
	int status;

	for (from = 0; from < json_array_size(tests);
	    from += ZT_AUTHZ_BATCH_MAX) {
		batch = json_array();
		for (i = from; i < json_array_size(tests) &&
		    i < from + ZT_AUTHZ_BATCH_MAX; i++) {
			t = json_object_get(json_array_get(tests, i),
			    "request");
			json_array_append(batch, t != NULL ? t : json_null());
		}
		body = json_pack("{s:o}", "requests", batch);
		status = zt_client_call(c, "POST", "/v1/authorize/batch", body,
		    &out);
		json_decref(body);
		if (status != 200) {
			print_refusal(status, out);
			return ZT_ERR;
		}
		json_array_extend(results, json_object_get(out, "results"));
		json_decref(out);
		out = NULL;
	}
	return ZT_OK;
}

static bool
test_passed(json_t *t, json_t *got)
{
	const char *want = json_string_value(json_object_get(t, "expect"));
	const char *reason = json_string_value(json_object_get(t, "reason"));
	const char *dec = json_string_value(json_object_get(got, "decision"));
	const char *r = json_string_value(json_object_get(got, "reason"));

	if (want == NULL || dec == NULL || strcmp(want, dec) != 0)
		return false;
	return reason == NULL || (r != NULL && strcmp(reason, r) == 0);
}

static int
test_report(const zt_client *c, json_t *tests, json_t *results)
{
	static const char *const cols[] = { "result", "name", "expect",
	    "decision", "reason" };
	json_t *rows = json_array(), *t, *got;
	size_t i, failed = 0;
	bool ok;

	json_array_foreach(tests, i, t) {
		got = json_array_get(results, i);
		ok = test_passed(t, got);
		failed += !ok;
		json_array_append_new(rows, json_pack("{s:s, s:O?, s:O?, s:O?,"
		    " s:O?}", "result", ok ? "pass" : "FAIL", "name",
		    json_object_get(t, "name"), "expect", json_object_get(t,
		    "expect"), "decision", json_object_get(got, "decision"),
		    "reason", json_object_get(got, "reason")));
	}
	zt_client_print_table(c, rows, cols, ZT_ARRAY_LEN(cols));
	if (!c->json)
		printf("%zu tests, %zu failed\n", json_array_size(tests),
		    failed);
	json_decref(rows);
	return failed == 0 ? 0 : 1;
}

static int
policy_test(zt_client *c, int argc, char **argv)
{
	const char *file = zt_cli_take_opt(&argc, argv, "file");
	const char *pfile = zt_cli_take_opt(&argc, argv, "policies");
	const char *efile = zt_cli_take_opt(&argc, argv, "entities");
	const char *sfile = zt_cli_take_opt(&argc, argv, "schema");
	json_t *doc = NULL, *tests, *results = json_array();
	char *text = NULL;
	size_t len;
	int rc = 1, err;

	if (argc != 0 || file == NULL || (pfile == NULL) != (efile == NULL))
		return policy_usage();
	if ((err = read_all(&text, &len, file)) != ZT_OK ||
	    (err = zt_json_parse(&doc, text, len, MAX_DEPTH)) != ZT_OK)
		goto fail;
	tests = json_object_get(doc, "tests");
	if (!json_is_array(tests) || json_array_size(tests) > TESTS_MAX) {
		zt_error_set(ZT_EINVAL, "%s: {\"tests\": [...]} with at most "
		    "%d tests", file, TESTS_MAX);
		goto fail;
	}
	err = pfile != NULL ? test_offline(results, tests, pfile, efile,
	    sfile) : test_server(c, results, tests);
	if (err != ZT_OK)
		goto fail;
	rc = test_report(c, tests, results);
	goto out;
fail:
	fprintf(stderr, "ztiam: %s\n", zt_error_msg());
out:
	json_decref(results);
	json_decref(doc);
	free(text);
	return rc;
}

/* ---- authorize -------------------------------------------------------- */

static int
authorize_usage(void)
{
	fprintf(stderr, "usage: ztiam authorize [--explain] (REQUEST-JSON | "
	    "--file FILE)\n"
	    "  REQUEST: {\"appid\", \"user\", \"action\", \"resource\", "
	    "\"context\"}\n");
	return 2;
}

static int
authorize_run(zt_client *c, int argc, char **argv)
{
	const char *file = zt_cli_take_opt(&argc, argv, "file");
	bool explain = zt_cli_take_flag(&argc, argv, "explain");
	static const char *const cols[] = { "decision", "reason",
	    "determining", "decision_id" };
	json_t *req = NULL, *out = NULL;
	char *text = NULL;
	size_t len = 0;
	int status;

	if ((file == NULL) == (argc != 1) || argc > 1)
		return authorize_usage();
	if (file != NULL && read_all(&text, &len, file) != ZT_OK) {
		fprintf(stderr, "ztiam: %s\n", zt_error_msg());
		return 1;
	}
	if (zt_json_parse(&req, text != NULL ? text : argv[0], text != NULL ?
	    len : strlen(argv[0]), MAX_DEPTH) != ZT_OK) {
		fprintf(stderr, "ztiam: the request: %s\n", zt_error_msg());
		free(text);
		return 2;
	}
	free(text);
	status = zt_client_call(c, "POST", explain ? "/v1/authorize/explain" :
	    "/v1/authorize", req, &out);
	json_decref(req);
	if (status != 200 && !(status == 404 && json_object_get(out,
	    "decision") != NULL))
		return print_refusal(status, out);
	if (c->json || explain) {
		text = json_dumps(out, c->json ? JSON_COMPACT : JSON_INDENT(2));
		printf("%s\n", text != NULL ? text : "");
		free(text);
	} else
		print_doc(c, out, cols, ZT_ARRAY_LEN(cols));
	status = strcmp(json_string_value(json_object_get(out, "decision")),
	    "allow") == 0 ? 0 : 3;
	json_decref(out);
	return status;
}

int
zt_cmd_authorize(int argc, char **argv)
{
	if (argc >= 1 && (strcmp(argv[0], "actions") == 0 ||
	    strcmp(argv[0], "principals") == 0))
		return zt_cmd_authorize_enum(argc, argv);
	return with_client(authorize_run, argc, argv);
}

int
zt_cmd_policy(int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*fn)(zt_client *, int, char **);
	} verbs[] = {
		{ "app-create", policy_app_create },
		{ "app-list", policy_app_list },
		{ "put", policy_put },
		{ "put-schema", policy_put_schema },
		{ "get", policy_get },
		{ "list", policy_list },
		{ "validate", policy_validate },
		{ "test", policy_test },
	};
	size_t i;

	if (argc >= 1 && strcmp(argv[0], "eval") == 0)
		return policy_eval(argc - 1, argv + 1);
	for (i = 0; argc >= 1 && i < ZT_ARRAY_LEN(verbs); i++)
		if (strcmp(argv[0], verbs[i].verb) == 0)
			return with_client(verbs[i].fn, argc - 1, argv + 1);
	return policy_usage();
}
