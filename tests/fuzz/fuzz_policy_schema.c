/*
 * libFuzzer harness for Cedar's JSON schema format (policy/schema.c) and
 * what is built on it: the input is read as a schema and, if accepted,
 * a fixed policy set is validated against it (validate.c) and a fixed
 * context and entity list are converted to it (convert.c, entities.c),
 * so the type checker and the converter meet arbitrary types.  Beyond
 * not crashing: a refused schema leaves no object and a message; a
 * validation either passes or lists errors that each name a policy and
 * carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policies[] =
    "permit (principal, action, resource);\n"
    "permit (principal is User, action == Action::\"view\", resource in "
    "Folder::\"f\") when { principal has age && principal.age > 3 && "
    "context.ip.isInRange(ip(\"10.0.0.0/8\")) && resource.owner == "
    "principal && [1, 2].contains(principal.n) };\n"
    "forbid (principal in Group::\"g\", action in [Action::\"view\", "
    "Action::\"edit\"], resource) unless { context.t < "
    "datetime(\"2024-01-01\") || (if context has x then context.x else "
    "false) };\n";

static const char context_json[] =
    "{\"ip\": \"10.1.2.3\", \"t\": \"2024-10-15\", \"x\": \"true\", "
    "\"n\": \"7\", \"s\": [\"a\"], \"r\": {\"k\": 1}}";

static const char entities_json[] =
    "[{\"uid\": {\"type\": \"User\", \"id\": \"u\"}, \"attrs\": "
    "{\"age\": \"5\", \"owner\": \"u\"}, \"parents\": [{\"type\": "
    "\"Group\", \"id\": \"g\"}]}, {\"uid\": {\"type\": \"Doc\", \"id\": "
    "\"d\"}, \"attrs\": {}}]";

static zt_policy_set *ps;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_policy_validation val = ZT_POLICY_VALIDATION_INIT;
	zt_policy_uid view = ZT_POLICY_UID("Action", "view");
	zt_policy_context *ctx;
	zt_policy_schema *s;
	zt_entities *es;
	size_t i;
	int rc;

	if (ps == NULL && zt_policy_set_parse(&ps, policies,
	    strlen(policies), NULL) != ZT_OK)
		abort();
	rc = zt_policy_schema_from_json(&s, (const char *)data, size);
	if (rc != ZT_OK) {
		if (s != NULL || zt_error_msg()[0] == '\0')
			abort();
		return 0;
	}
	rc = zt_policy_validate(&val, ps, s);
	if ((rc == ZT_OK) != (val.nerrors == 0) ||
	    (rc != ZT_OK && rc != ZT_EINVAL))
		abort();
	for (i = 0; i < val.nerrors; i++)
		if (val.errors[i].policy_id == NULL ||
		    val.errors[i].message[0] == '\0')
			abort();
	zt_policy_validation_free(&val);
	if (zt_policy_context_from_json_schema(&ctx, s, &view, context_json,
	    strlen(context_json)) == ZT_OK)
		zt_policy_context_free(ctx);
	if (zt_entities_from_json_schema(&es, s, entities_json,
	    strlen(entities_json)) == ZT_OK)
		zt_entities_free(es);
	zt_policy_schema_free(s);
	return 0;
}
