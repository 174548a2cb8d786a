/*
 * `ztiam keys list|rotate`: the server's signing keys through the REST
 * API (system administrator tokens only).
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "cli/cli.h"

static const char *const key_cols[] = {
	"scope", "kid", "alg", "state", "created_at", "activated_at",
	"retired_at", "publish_until",
};

static int
keys_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam keys list [--scope S]\n"
	    "       ztiam keys rotate --scope S [--alg ES256|RS256|PS256|"
	    "EdDSA]\n"
	    "                         [--max-token-lifetime 1d]\n"
	    "common: --server URL (ZTIAM_SERVER) --token T (ZTIAM_TOKEN) "
	    "--cacert FILE --json\n");
	return 2;
}

/* Percent-encodes a scope for the query string (it may hold ':' '/' '@'). */
static void
query_escape(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c))
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static int
keys_list(zt_client *c, int argc, char **argv)
{
	const char *scope = zt_cli_take_opt(&argc, argv, "scope");
	char path[1024], esc[800];
	json_t *resp;
	int status;

	if (argc != 0 || (scope && strlen(scope) > 255))
		return keys_usage();
	if (scope) {
		query_escape(esc, sizeof(esc), scope);
		snprintf(path, sizeof(path), "/v1/keys?scope=%s", esc);
	} else
		snprintf(path, sizeof(path), "/v1/keys");
	status = zt_client_call(c, "GET", path, NULL, &resp);
	if (status != 200) {
		zt_client_print_error(status, resp);
		json_decref(resp);
		return 1;
	}
	zt_client_print_table(c, json_object_get(resp, "items"), key_cols,
	    ZT_ARRAY_LEN(key_cols));
	json_decref(resp);
	return 0;
}

static int
keys_rotate(zt_client *c, int argc, char **argv)
{
	const char *scope, *alg, *life;
	int64_t secs = 0;
	json_t *body, *resp, *key, *one;
	int status;

	scope = zt_cli_take_opt(&argc, argv, "scope");
	alg = zt_cli_take_opt(&argc, argv, "alg");
	life = zt_cli_take_opt(&argc, argv, "max-token-lifetime");
	if (scope == NULL || argc != 0)
		return keys_usage();
	if (life && zt_parse_duration(life, &secs) < 0) {
		fprintf(stderr, "ztiam: --max-token-lifetime: %s\n",
		    zt_error_msg());
		return 2;
	}
	body = json_pack("{s:s, s:s}", "scope", scope, "alg",
	    alg ? alg : "ES256");
	if (secs)
		json_object_set_new(body, "max_token_lifetime",
		    json_integer(secs));
	status = zt_client_call(c, "POST", "/v1/keys/rotate", body, &resp);
	json_decref(body);
	if (status != 200) {
		zt_client_print_error(status, resp);
		json_decref(resp);
		return 1;
	}
	key = json_object_get(resp, "key");
	if (c->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("%s: %s\n", json_string_value(json_object_get(resp,
		    "step")), json_string_value(json_object_get(key, "kid")));
		one = json_pack("[O]", key);
		zt_client_print_table(c, one, key_cols,
		    ZT_ARRAY_LEN(key_cols));
		json_decref(one);
	}
	json_decref(resp);
	return 0;
}

int
zt_cmd_keys(int argc, char **argv)
{
	const char *verb;
	zt_client c;
	int rc;

	if (argc < 1)
		return keys_usage();
	verb = argv[0];
	argc = zt_client_init(&c, argc - 1, argv + 1);
	if (argc < 0)
		rc = 2;
	else if (strcmp(verb, "list") == 0)
		rc = keys_list(&c, argc, argv + 1);
	else if (strcmp(verb, "rotate") == 0)
		rc = keys_rotate(&c, argc, argv + 1);
	else
		rc = keys_usage();
	zt_client_free(&c);
	return rc;
}
