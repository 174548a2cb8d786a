/*
 * libFuzzer harness for Cedar's JSON policy format (policy/parse_json.c,
 * template.c): the input is parsed as a JSON policy set and, if accepted,
 * decided for one fixed request, so every expression form the fuzzer can
 * spell meets real values.  Beyond not crashing: a refusal carries a
 * message; an accepted set names every policy and template; a link names
 * a template of the set; an answer lists no more policies than the set
 * holds and allows only with a determining permit.
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
    "    \"t\": {\"__extn\": {\"fn\": \"datetime\", \"arg\": \"2024-01-01\"}},"
    "    \"ip\": {\"__extn\": {\"fn\": \"ip\", \"arg\": \"10.0.0.1\"}}},"
    "  \"parents\": [{\"type\": \"G\", \"id\": \"g\"}]},"
    " {\"uid\": {\"type\": \"Action\", \"id\": \"a\"},"
    "  \"parents\": [{\"type\": \"Action\", \"id\": \"all\"}]}]";

static zt_entities *es;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_policy_request req = {
		ZT_POLICY_UID("User", "u"), ZT_POLICY_UID("Action", "a"),
		ZT_POLICY_UID("G", "g"), NULL,
	};
	zt_policy_error err;
	zt_policy_set *ps;
	const char *t;
	size_t i, j, n;
	int rc;

	if (es == NULL && zt_entities_from_json(&es, entities_json,
	    strlen(entities_json)) != ZT_OK)
		abort();
	rc = zt_policy_set_parse_json(&ps, (const char *)data, size, &err);
	if (rc != ZT_OK) {
		if ((rc != ZT_EINVAL && rc != ZT_ETOOBIG) || ps != NULL ||
		    err.message[0] == '\0')
			abort();
		return 0;
	}
	n = zt_policy_set_count(ps);
	for (i = 0; i < n; i++) {
		if (zt_policy_set_id(ps, i) == NULL)
			abort();
		if ((t = zt_policy_set_template_of(ps, i)) == NULL)
			continue;
		for (j = 0; j < zt_policy_set_template_count(ps); j++)
			if (strcmp(zt_policy_set_template_id(ps, j), t) == 0)
				break;
		if (j == zt_policy_set_template_count(ps))
			abort();
	}
	if (zt_policy_decide(&ans, ps, es, &req) != ZT_OK)
		abort();
	if (ans.ndetermining > n || ans.nerrors > n ||
	    (ans.decision == ZT_POLICY_ALLOW && ans.ndetermining == 0))
		abort();
	zt_policy_set_free(ps);
	return 0;
}
