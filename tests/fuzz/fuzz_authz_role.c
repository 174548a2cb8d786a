/*
 * libFuzzer harness for a role's permissions (authz/roles.c): the input
 * is read as JSON and handed to zt_authz_role_policies as the
 * permissions of role "r" of app "a", so the permission reader, the
 * Cedar literal escaping and the one-policy check meet arbitrary input.
 * Beyond not crashing: whatever is accepted parses back as exactly one
 * static policy per permission, so no input can smuggle in a policy of
 * its own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zt_policy_set *ps = NULL;
	zt_policy_error perr;
	json_t *perms = NULL;
	char *text = NULL;

	if (zt_json_parse(&perms, (const char *)data, size, 16) != ZT_OK)
		return 0;
	if (zt_authz_role_policies(&text, "NS", "a", "r", perms) == ZT_OK) {
		if (zt_policy_set_parse(&ps, text, strlen(text), &perr) !=
		    ZT_OK)
			abort();
		if (zt_policy_set_count(ps) != json_array_size(perms) ||
		    zt_policy_set_template_count(ps) != 0)
			abort();
		zt_policy_set_free(ps);
	}
	free(text);
	json_decref(perms);
	return 0;
}
