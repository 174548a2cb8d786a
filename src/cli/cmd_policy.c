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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
	    "  FILE may be - for standard input (one of them at most)\n");
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

int
zt_cmd_policy(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "eval") == 0)
		return policy_eval(argc - 1, argv + 1);
	return policy_usage();
}
