/*
 * `ztiam cert issue|renew|jwt|revoke|list` and `ztiam ca show|rotate|csr|
 * import`: the certificate center through the REST API.  Certificates
 * and keys are written to files (keys mode 0600), never printed; tables
 * and --json like the other commands.  `cert renew` authenticates with
 * the current certificate over mutual TLS instead of a token.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/base.h"
#include "cli/cli.h"

/* A CSR file is at most the server's limit (ZT_CA_CSR_MAX). */
#define CSR_FILE_MAX 16384

static const char *const cert_cols[] = {
	"serial", "identity_id", "spiffe_id", "profile", "not_after",
	"revoked_at", "reason",
};

static int
cert_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam cert issue --tenant T (--identity ID | --spiffe-id S)\n"
	    "                  (--csr FILE | --out-key FILE) --out FILE\n"
	    "                  [--profile svid|tls-server|tls-client] "
	    "[--ttl 1h] [--dns NAME]... [--ip ADDR]...\n"
	    "       ztiam cert renew --cert FILE --key FILE --csr FILE "
	    "--out FILE\n"
	    "       ztiam cert jwt --tenant T --identity ID --audience A... "
	    "--out FILE\n"
	    "                  [--ttl 5m] [--cert FILE --key FILE]\n"
	    "       ztiam cert revoke SERIAL --tenant T [--reason R]\n"
	    "       ztiam cert list --tenant T [--identity ID] [--expiring 1h] "
	    "[--revoked]\n"
	    "common: --server URL (ZTIAM_SERVER) --token T (ZTIAM_TOKEN) "
	    "--cacert FILE --json\n");
	return 2;
}

static char *
read_small_file(const char *path, size_t max)
{
	char *buf;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		fprintf(stderr, "ztiam: %s: larger than %zu bytes\n", path, max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Writes `a` then `b` (may be NULL) to `path` with `mode`. */
static int
write_file(const char *path, const char *a, const char *b, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t la = strlen(a), lb = b ? strlen(b) : 0;

	if (fd < 0 || write(fd, a, la) != (ssize_t)la ||
	    (lb && write(fd, b, lb) != (ssize_t)lb)) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fchmod(fd, (mode_t)mode);
	return close(fd);
}

/* Writes the certificate (with its chain) and the key, if any; prints a
 * summary or the JSON without the key. */
static int
save_issued(zt_client *c, json_t *resp, const char *out, const char *key)
{
	const char *pem = json_string_value(json_object_get(resp,
	    "certificate"));
	const char *chain = json_string_value(json_object_get(resp, "chain"));
	const char *priv = json_string_value(json_object_get(resp,
	    "private_key"));
	json_t *one;

	if (pem == NULL || write_file(out, pem, chain, 0644) < 0)
		return 1;
	if (priv && (key == NULL || write_file(key, priv, NULL, 0600) < 0))
		return 1;
	json_object_del(resp, "private_key");
	json_object_del(resp, "certificate");
	json_object_del(resp, "chain");
	if (c->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		one = json_pack("[O]", resp);
		zt_client_print_table(c, one, cert_cols, 5);
		json_decref(one);
	}
	return 0;
}

static json_t *
take_list(int *argc, char **argv, const char *name)
{
	json_t *arr = json_array();
	const char *v;

	while ((v = zt_cli_take_opt(argc, argv, name)) != NULL)
		json_array_append_new(arr, json_string(v));
	return arr;
}

static int
cert_issue(zt_client *c, const char *tenant, int argc, char **argv)
{
	const char *identity = zt_cli_take_opt(&argc, argv, "identity");
	const char *spiffe = zt_cli_take_opt(&argc, argv, "spiffe-id");
	const char *csrf = zt_cli_take_opt(&argc, argv, "csr");
	const char *keyf = zt_cli_take_opt(&argc, argv, "out-key");
	const char *out = zt_cli_take_opt(&argc, argv, "out");
	const char *profile = zt_cli_take_opt(&argc, argv, "profile");
	const char *ttl = zt_cli_take_opt(&argc, argv, "ttl");
	json_t *dns = take_list(&argc, argv, "dns");
	json_t *ips = take_list(&argc, argv, "ip");
	json_t *body = NULL, *resp = NULL;
	char path[512], *csr = NULL;
	int64_t secs = 0;
	int status, rc = 2;

	if (tenant == NULL || out == NULL || argc != 0 ||
	    (identity == NULL) == (spiffe == NULL) ||
	    (csrf == NULL) == (keyf == NULL)) {
		rc = cert_usage();
		goto out;
	}
	if (ttl && zt_parse_duration(ttl, &secs) < 0) {
		fprintf(stderr, "ztiam: --ttl: %s\n", zt_error_msg());
		goto out;
	}
	if (csrf && (csr = read_small_file(csrf, CSR_FILE_MAX)) == NULL) {
		rc = 1;
		goto out;
	}
	body = json_pack("{s:s*, s:s*, s:s, s:s*, s:b}",
	    "identity_id", identity, "spiffe_id", spiffe,
	    "profile", profile ? profile : "svid", "csr", csr,
	    "generate_key", csr == NULL);
	if (secs)
		json_object_set_new(body, "ttl", json_integer(secs));
	if (json_array_size(dns))
		json_object_set(body, "dns_names", dns);
	if (json_array_size(ips))
		json_object_set(body, "ip_addresses", ips);
	snprintf(path, sizeof(path), "/v1/tenants/%s/certificates", tenant);
	status = zt_client_call(c, "POST", path, body, &resp);
	if (status != 201) {
		zt_client_print_error(status, resp);
		rc = 1;
	} else
		rc = save_issued(c, resp, out, keyf);
out:
	free(csr);
	json_decref(dns);
	json_decref(ips);
	json_decref(body);
	json_decref(resp);
	return rc;
}

static int
cert_renew(zt_client *c, int argc, char **argv)
{
	const char *cert = zt_cli_take_opt(&argc, argv, "cert");
	const char *key = zt_cli_take_opt(&argc, argv, "key");
	const char *csrf = zt_cli_take_opt(&argc, argv, "csr");
	const char *out = zt_cli_take_opt(&argc, argv, "out");
	json_t *body, *resp = NULL;
	char *csr;
	int status, rc;

	if (cert == NULL || key == NULL || csrf == NULL || out == NULL ||
	    argc != 0)
		return cert_usage();
	if ((csr = read_small_file(csrf, CSR_FILE_MAX)) == NULL)
		return 1;
	c->client_cert = cert;
	c->client_key = key;
	body = json_pack("{s:s}", "csr", csr);
	status = zt_client_call(c, "POST", "/v1/certificates/renew", body,
	    &resp);
	if (status != 201) {
		zt_client_print_error(status, resp);
		rc = 1;
	} else
		rc = save_issued(c, resp, out, NULL);
	free(csr);
	json_decref(body);
	json_decref(resp);
	return rc;
}

/* A JWT-SVID, written to --out (mode 0600: it is a bearer token) and
 * never printed.  With --cert and --key the workload asks with its own
 * X.509-SVID over mutual TLS instead of a token. */
static int
cert_jwt(zt_client *c, const char *tenant, int argc, char **argv)
{
	const char *identity = zt_cli_take_opt(&argc, argv, "identity");
	const char *out = zt_cli_take_opt(&argc, argv, "out");
	const char *ttl = zt_cli_take_opt(&argc, argv, "ttl");
	const char *cert = zt_cli_take_opt(&argc, argv, "cert");
	const char *key = zt_cli_take_opt(&argc, argv, "key");
	json_t *aud = take_list(&argc, argv, "audience");
	json_t *body = NULL, *resp = NULL;
	const char *token;
	char path[512];
	int64_t secs = 0;
	int status, rc = 2;

	if (tenant == NULL || identity == NULL || out == NULL || argc != 0 ||
	    strlen(identity) > 64 || (cert == NULL) != (key == NULL)) {
		rc = cert_usage();
		goto out;
	}
	if (ttl && zt_parse_duration(ttl, &secs) < 0) {
		fprintf(stderr, "ztiam: --ttl: %s\n", zt_error_msg());
		goto out;
	}
	if (cert) {
		/* The SVID is the credential: no token goes along. */
		if (c->token) {
			zt_wipe(c->token, strlen(c->token));
			free(c->token);
			c->token = NULL;
		}
		c->client_cert = cert;
		c->client_key = key;
	}
	body = json_pack("{s:O}", "audience", aud);
	if (secs)
		json_object_set_new(body, "ttl", json_integer(secs));
	snprintf(path, sizeof(path), "/v1/tenants/%s/identities/%s/jwt-svids",
	    tenant, identity);
	status = zt_client_call(c, "POST", path, body, &resp);
	if (status != 201) {
		zt_client_print_error(status, resp);
		rc = 1;
		goto out;
	}
	token = json_string_value(json_object_get(resp, "token"));
	if (token == NULL || write_file(out, token, "\n", 0600) < 0) {
		rc = 1;
		goto out;
	}
	json_object_del(resp, "token");
	if (c->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		printf("JWT-SVID for %s written to %s\n", json_string_value(
		    json_object_get(resp, "spiffe_id")), out);
	rc = 0;
out:
	json_decref(aud);
	json_decref(body);
	json_decref(resp);
	return rc;
}

static int
cert_revoke(zt_client *c, const char *tenant, int argc, char **argv)
{
	const char *reason = zt_cli_take_opt(&argc, argv, "reason");
	json_t *body, *resp = NULL;
	char path[512];
	int status;

	if (tenant == NULL || argc != 1 || strlen(argv[0]) > 64)
		return cert_usage();
	snprintf(path, sizeof(path), "/v1/tenants/%s/certificates/%s/revoke",
	    tenant, argv[0]);
	body = json_pack("{s:s}", "reason", reason ? reason : "unspecified");
	status = zt_client_call(c, "POST", path, body, &resp);
	json_decref(body);
	if (status != 200) {
		zt_client_print_error(status, resp);
		json_decref(resp);
		return 1;
	}
	if (c->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		printf("revoked %s (%s)\n", argv[0], json_string_value(
		    json_object_get(resp, "reason")));
	json_decref(resp);
	return 0;
}

static int
cert_list(zt_client *c, const char *tenant, int argc, char **argv)
{
	const char *identity = zt_cli_take_opt(&argc, argv, "identity");
	const char *expiring = zt_cli_take_opt(&argc, argv, "expiring");
	bool revoked = zt_cli_take_flag(&argc, argv, "revoked");
	char path[512];
	json_t *resp;
	int64_t secs;
	int status;

	if (tenant == NULL || argc != 0 || (identity && strlen(identity) > 64))
		return cert_usage();
	if (expiring && zt_parse_duration(expiring, &secs) < 0) {
		fprintf(stderr, "ztiam: --expiring: %s\n", zt_error_msg());
		return 2;
	}
	if (identity)
		snprintf(path, sizeof(path), "/v1/tenants/%s/certificates?"
		    "identity_id=%s", tenant, identity);
	else if (revoked)
		snprintf(path, sizeof(path), "/v1/tenants/%s/certificates?"
		    "revoked=true", tenant);
	else if (expiring)
		snprintf(path, sizeof(path), "/v1/tenants/%s/certificates?"
		    "expiring_within=%lld", tenant, (long long)secs);
	else
		snprintf(path, sizeof(path), "/v1/tenants/%s/certificates",
		    tenant);
	status = zt_client_call(c, "GET", path, NULL, &resp);
	if (status != 200) {
		zt_client_print_error(status, resp);
		json_decref(resp);
		return 1;
	}
	zt_client_print_table(c, json_object_get(resp, "items"), cert_cols,
	    ZT_ARRAY_LEN(cert_cols));
	json_decref(resp);
	return 0;
}

int
zt_cmd_cert(int argc, char **argv)
{
	const char *verb, *tenant;
	zt_client c;
	int rc;

	if (argc < 1)
		return cert_usage();
	verb = argv[0];
	argc = zt_client_init(&c, argc - 1, argv + 1);
	if (argc < 0)
		return 2;
	argv++;
	if ((tenant = zt_cli_take_opt(&argc, argv, "tenant")) == NULL)
		tenant = getenv("ZTIAM_TENANT");
	if (tenant && strlen(tenant) > 128)
		rc = cert_usage();
	else if (strcmp(verb, "issue") == 0)
		rc = cert_issue(&c, tenant, argc, argv);
	else if (strcmp(verb, "renew") == 0)
		rc = cert_renew(&c, argc, argv);
	else if (strcmp(verb, "jwt") == 0)
		rc = cert_jwt(&c, tenant, argc, argv);
	else if (strcmp(verb, "revoke") == 0)
		rc = cert_revoke(&c, tenant, argc, argv);
	else if (strcmp(verb, "list") == 0)
		rc = cert_list(&c, tenant, argc, argv);
	else
		rc = cert_usage();
	zt_client_free(&c);
	return rc;
}

static int
ca_usage(void)
{
	fprintf(stderr,
	    "usage: ztiam ca show [--json]\n"
	    "       ztiam ca rotate [--root]    one step: prepare, then "
	    "activate\n"
	    "       ztiam ca csr --out FILE [--key-type p256|p384|rsa3072|"
	    "ed25519...]\n"
	    "       ztiam ca import --chain FILE   the upstream-signed "
	    "certificate, then its chain\n"
	    "common: --server URL (ZTIAM_SERVER) --token T (ZTIAM_TOKEN) "
	    "--cacert FILE --json\n");
	return 2;
}

/* The trust domain, the intermediates and the roots with their key ids
 * and states; with --json the certificates and the bundle too. */
static int
ca_show(zt_client *c, int argc)
{
	static const char *const cols[] = { "key_id", "state", "not_after" };
	static const char *const root_cols[] = { "key_id", "state",
	    "not_after", "published_until" };
	json_t *resp;
	int status, rc = 0;

	if (argc != 0)
		return ca_usage();
	status = zt_client_call(c, "GET", "/v1/ca", NULL, &resp);
	if (status != 200) {
		zt_client_print_error(status, resp);
		rc = 1;
	} else if (c->json) {
		json_dumpf(resp, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("trust domain %s, signing key %s\n",
		    json_string_value(json_object_get(resp, "trust_domain")),
		    json_string_value(json_object_get(resp, "active_key_id")));
		zt_client_print_table(c, json_object_get(resp,
		    "intermediates"), cols, ZT_ARRAY_LEN(cols));
		printf("\nroots\n");
		zt_client_print_table(c, json_object_get(resp, "roots"),
		    root_cols, ZT_ARRAY_LEN(root_cols));
	}
	json_decref(resp);
	return rc;
}

/* Calls one CA operation and prints its answer's `field`s. */
static int
ca_call(zt_client *c, const char *path, json_t *body, int want,
    json_t **out)
{
	json_t *empty = body ? NULL : json_object();
	int status = zt_client_call(c, "POST", path, body ? body : empty,
	    out);

	json_decref(empty);

	if (status != want) {
		zt_client_print_error(status, *out);
		return 1;
	}
	if (c->json) {
		json_dumpf(*out, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	return 0;
}

static int
ca_rotate(zt_client *c, int argc, char **argv)
{
	bool root = zt_cli_take_flag(&argc, argv, "root");
	json_t *resp = NULL, *body;
	int rc;

	if (argc != 0)
		return ca_usage();
	body = json_pack("{s:b}", "root", root);
	rc = ca_call(c, "/v1/ca/rotate", body, 200, &resp);
	json_decref(body);
	if (rc == 0 &&
	    !c->json)
		printf("%s: %s\n", json_string_value(json_object_get(resp,
		    "step")), json_string_value(json_object_get(resp,
		    "key_id")));
	json_decref(resp);
	return rc;
}

static int
ca_csr(zt_client *c, int argc, char **argv)
{
	const char *out = zt_cli_take_opt(&argc, argv, "out");
	const char *type = zt_cli_take_opt(&argc, argv, "key-type");
	json_t *body, *resp = NULL;
	const char *pem;
	int rc;

	if (out == NULL || argc != 0)
		return ca_usage();
	body = json_pack("{s:s}", "key_type", type ? type : "p256");
	rc = ca_call(c, "/v1/ca/csr", body, 201, &resp);
	json_decref(body);
	if (rc == 0) {
		pem = json_string_value(json_object_get(resp, "csr"));
		if (pem == NULL || write_file(out, pem, NULL, 0644) < 0)
			rc = 1;
		else if (!c->json)
			printf("prepared %s; CSR written to %s\n",
			    json_string_value(json_object_get(resp, "key_id")),
			    out);
	}
	json_decref(resp);
	return rc;
}

/* A chain file: the signed intermediate and the certificates above it. */
#define CHAIN_FILE_MAX 65536

static int
ca_import(zt_client *c, int argc, char **argv)
{
	const char *file = zt_cli_take_opt(&argc, argv, "chain");
	json_t *body, *resp = NULL;
	char *pem;
	int rc;

	if (file == NULL || argc != 0)
		return ca_usage();
	if ((pem = read_small_file(file, CHAIN_FILE_MAX)) == NULL)
		return 1;
	body = json_pack("{s:s}", "chain", pem);
	rc = ca_call(c, "/v1/ca/import", body, 200, &resp);
	if (rc == 0 && !c->json)
		printf("imported %s (prepared; `ztiam ca rotate` activates "
		    "it)\n", json_string_value(json_object_get(resp,
		    "key_id")));
	json_decref(body);
	json_decref(resp);
	free(pem);
	return rc;
}

int
zt_cmd_ca(int argc, char **argv)
{
	const char *verb;
	zt_client c;
	int rc;

	if (argc < 1)
		return ca_usage();
	verb = argv[0];
	if ((argc = zt_client_init(&c, argc - 1, argv + 1)) < 0)
		return 2;
	argv++;
	if (strcmp(verb, "show") == 0)
		rc = ca_show(&c, argc);
	else if (strcmp(verb, "rotate") == 0)
		rc = ca_rotate(&c, argc, argv);
	else if (strcmp(verb, "csr") == 0)
		rc = ca_csr(&c, argc, argv);
	else if (strcmp(verb, "import") == 0)
		rc = ca_import(&c, argc, argv);
	else
		rc = ca_usage();
	zt_client_free(&c);
	return rc;
}
