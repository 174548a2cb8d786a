/*
 * `ztiam token create|list|get|revoke`: API tokens through the REST API.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "cli/cli.h"

static const char *const token_cols[] = {
	"id", "name", "tenant", "created_at", "expires_at", "revoked_at",
};

static int
token_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam token create --name NAME [--tenant T] "
	    "[--expires-in 30d]\n"
	    "       ztiam token list\n"
	    "       ztiam token get ID\n"
	    "       ztiam token revoke ID\n"
	    "common: --server URL (ZTIAM_SERVER) --token T (ZTIAM_TOKEN) "
	    "--cacert FILE --json\n");
	return 2;
}

static int
token_create(zt_client *c, int argc, char **argv)
{
	const char *name, *tenant, *ttl;
	int64_t secs = 0;
	json_t *body, *resp;
	int status;

	name = zt_cli_take_opt(&argc, argv, "name");
	tenant = zt_cli_take_opt(&argc, argv, "tenant");
	ttl = zt_cli_take_opt(&argc, argv, "expires-in");
	if (name == NULL || argc != 0)
		return token_usage();
	if (ttl && zt_parse_duration(ttl, &secs) < 0) {
		fprintf(stderr, "ztiam: --expires-in: %s\n", zt_error_msg());
		return 2;
	}
	body = json_pack("{s:s}", "name", name);
	if (tenant)
		json_object_set_new(body, "tenant", json_string(tenant));
	if (secs)
		json_object_set_new(body, "expires_in", json_integer(secs));
	status = zt_client_call(c, "POST", "/v1/tokens", body, &resp);
	json_decref(body);
	if (status != 201) {
		zt_client_print_error(status, resp);
		json_decref(resp);
		return 1;
	}
	if (c->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		printf("id:     %s\ntoken:  %s\n(the token is shown only "
		    "once)\n",
		    json_string_value(json_object_get(resp, "id")),
		    json_string_value(json_object_get(resp, "token")));
	json_decref(resp);
	return 0;
}

/* GET, DELETE or list on the tokens collection. */
static int
token_simple(zt_client *c, const char *verb, int argc, char **argv)
{
	char path[256];
	json_t *resp, *one;
	int status, want;

	if (strcmp(verb, "list") == 0) {
		if (argc != 0)
			return token_usage();
		status = zt_client_call(c, "GET", "/v1/tokens", NULL, &resp);
		want = 200;
	} else {
		if (argc != 1 || strlen(argv[0]) > 64)
			return token_usage();
		snprintf(path, sizeof(path), "/v1/tokens/%s", argv[0]);
		want = strcmp(verb, "get") == 0 ? 200 : 204;
		status = zt_client_call(c, want == 200 ? "GET" : "DELETE",
		    path, NULL, &resp);
	}
	if (status != want) {
		zt_client_print_error(status, resp);
		json_decref(resp);
		return 1;
	}
	if (strcmp(verb, "list") == 0)
		zt_client_print_table(c, json_object_get(resp, "items"),
		    token_cols, ZT_ARRAY_LEN(token_cols));
	else if (want == 200) {
		one = json_pack("[O]", resp);
		zt_client_print_table(c, c->json ? resp : one, token_cols,
		    ZT_ARRAY_LEN(token_cols));
		json_decref(one);
	} else if (!c->json)
		printf("revoked %s\n", argv[0]);
	json_decref(resp);
	return 0;
}

int
zt_cmd_token(int argc, char **argv)
{
	const char *verb;
	zt_client c;
	int rc;

	if (argc < 1)
		return token_usage();
	verb = argv[0];
	argc = zt_client_init(&c, argc - 1, argv + 1);
	if (strcmp(verb, "create") == 0)
		rc = token_create(&c, argc, argv + 1);
	else if (strcmp(verb, "list") == 0 || strcmp(verb, "get") == 0 ||
	    strcmp(verb, "revoke") == 0)
		rc = token_simple(&c, verb, argc, argv + 1);
	else
		rc = token_usage();
	zt_client_free(&c);
	return rc;
}
