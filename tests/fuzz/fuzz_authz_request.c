/*
 * libFuzzer harness for the decision request parser and mapping
 * (authz/decide.c): the input is read as a decision request in the
 * applications' format and, when it reads, decided against a fixed
 * application store for a fixed user, so the request reader, the
 * resource splitter, the entity builder and the context conversion all
 * meet arbitrary input.  Beyond not crashing: every answer is a
 * decision, and allow only ever comes with determining policies.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_json[] =
    "{\"\": {\"entityTypes\": {\"User\": {\"memberOfTypes\": [\"Group\"], "
    "\"shape\": {\"type\": \"Record\", \"attributes\": {\"level\": "
    "{\"type\": \"Long\", \"required\": false}}}}, \"Group\": {}, "
    "\"Application\": {}, \"Resource\": {\"memberOfTypes\": [\"Resource\", "
    "\"Application\"]}}, \"actions\": {\"read\": {}, \"get\": {\"memberOf\":"
    " [{\"id\": \"read\"}], \"appliesTo\": {\"principalTypes\": [\"User\"], "
    "\"resourceTypes\": [\"Resource\"], \"context\": {\"type\": \"Record\", "
    "\"attributes\": {\"ip\": {\"type\": \"Extension\", \"name\": "
    "\"ipaddr\"}, \"score\": {\"type\": \"Long\"}, \"tags\": {\"type\": "
    "\"Set\", \"element\": {\"type\": \"String\"}, \"required\": "
    "false}}}}}}}}";

static const char policies[] =
    "@id(\"a\") permit (principal in Group::\"g\", action in "
    "Action::\"read\", resource in Resource::\"x\") when "
    "{ context.score > 10 };\n"
    "@id(\"b\") forbid (principal, action, resource) when "
    "{ context.ip.isLoopback() };\n";

static zt_authz *az;
static zt_authz_view view = ZT_AUTHZ_VIEW_INIT;
static zt_authz_subject sub;

static void
setup(void)
{
	zt_authz_source src = { "t", "app", "", 1, ZT_AUTHZ_CEDAR, policies,
	    schema_json, NULL };

	if (zt_authz_new(&az) != ZT_OK || zt_authz_install(az, &src) != ZT_OK)
		abort();
	snprintf(sub.id, sizeof(sub.id), "%s", "i");
	snprintf(sub.name, sizeof(sub.name), "%s", "u");
	sub.version = 1;
	snprintf(sub.state, sizeof(sub.state), "%s", "active");
	sub.attributes = json_pack("{s:s}", "level", "3");
	sub.groups = json_pack("[s]", "g");
	sub.units = json_array();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_authz_request r;
	json_t *doc = NULL, *out = NULL;
	const char *d;

	if (az == NULL)
		setup();
	if (zt_json_parse(&doc, (const char *)data, size, 32) != ZT_OK)
		return 0;
	if (zt_authz_request_read(&r, doc) == ZT_OK) {
		if (zt_authz_decide(&out, zt_authz_view_get(az, &view), &r,
		    &sub, size % 2 == 0) != ZT_OK)
			abort();
		d = json_string_value(json_object_get(out, "decision"));
		if (d == NULL || (strcmp(d, "allow") == 0 &&
		    json_array_size(json_object_get(out, "determining")) == 0))
			abort();
		json_decref(out);
	}
	json_decref(doc);
	return 0;
}
