/*
 * libFuzzer harness for request conversion against a schema
 * (policy/convert.c, entities.c): the input is converted as a request
 * context against a fixed schema, and as an entity list, so the
 * converter meets arbitrary request JSON.  Beyond not crashing: a
 * refusal leaves no object and a message; an accepted context decides a
 * fixed policy set without evaluation errors, since every value now has
 * its declared type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_json[] =
    "{\"\": {\"entityTypes\": {\"User\": {\"memberOfTypes\": [\"Role\"], "
    "\"shape\": {\"type\": \"Record\", \"attributes\": {\"level\": "
    "{\"type\": \"Long\"}, \"tags\": {\"type\": \"Set\", \"element\": "
    "{\"type\": \"String\"}, \"required\": false}}}}, \"Role\": {}, "
    "\"Doc\": {}}, \"actions\": {\"get\": {\"appliesTo\": "
    "{\"principalTypes\": [\"User\"], \"resourceTypes\": [\"Doc\"], "
    "\"context\": {\"type\": \"Record\", \"attributes\": {"
    "\"ip\": {\"type\": \"Extension\", \"name\": \"ipaddr\"}, "
    "\"score\": {\"type\": \"Long\"}, "
    "\"mfa\": {\"type\": \"Boolean\", \"required\": false}, "
    "\"at\": {\"type\": \"Extension\", \"name\": \"datetime\", "
    "\"required\": false}, "
    "\"d\": {\"type\": \"Extension\", \"name\": \"decimal\", "
    "\"required\": false}, "
    "\"who\": {\"type\": \"Entity\", \"name\": \"User\", "
    "\"required\": false}, "
    "\"geo\": {\"type\": \"Record\", \"required\": false, \"attributes\": "
    "{\"lat\": {\"type\": \"Long\"}}}}}}}}}}";

static const char policies[] =
    "forbid (principal, action, resource) when { context.score < 50 };\n"
    "permit (principal, action, resource) when {"
    " context.ip.isInRange(ip(\"10.0.0.0/8\")) && (!(context has mfa) ||"
    " context.mfa) && (!(context has geo) || context.geo.lat > 0) };\n";

static zt_policy_schema *schema;
static zt_policy_set *ps;
static zt_policy_answer ans = ZT_POLICY_ANSWER_INIT;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_policy_request req = {
		ZT_POLICY_UID("User", "u"), ZT_POLICY_UID("Action", "get"),
		ZT_POLICY_UID("Doc", "d"), NULL,
	};
	zt_policy_context *ctx;
	zt_entities *es;
	int rc;

	if (schema == NULL && (zt_policy_schema_from_json(&schema,
	    schema_json, strlen(schema_json)) != ZT_OK ||
	    zt_policy_set_parse(&ps, policies, strlen(policies), NULL) !=
	    ZT_OK))
		abort();
	rc = zt_policy_context_from_json_schema(&ctx, schema, &req.action,
	    (const char *)data, size);
	if (rc != ZT_OK) {
		if (ctx != NULL || zt_error_msg()[0] == '\0')
			abort();
	} else {
		req.context = ctx;
		if (zt_policy_decide(&ans, ps, NULL, &req) != ZT_OK ||
		    ans.nerrors != 0)
			abort();
		zt_policy_context_free(ctx);
	}
	rc = zt_entities_from_json_schema(&es, schema, (const char *)data,
	    size);
	if (rc == ZT_OK)
		zt_entities_free(es);
	else if (es != NULL)
		abort();
	return 0;
}
