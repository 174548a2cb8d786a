/*
 * cli: the `ztiam` command line.  `serve` runs the server; the other
 * commands are clients of its REST API (over libcurl), except `audit
 * verify`, which reads the database directly so it works while the server
 * is down.
 */
#ifndef ZT_CLI_H
#define ZT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* ---- server configuration: flags > ZTIAM_* environment > file > default */

typedef struct zt_config {
	char *listen;
	char *data;
	char *db;
	int workers;
	char *tls_cert;
	char *tls_key;
	char *tls_client_ca;
	size_t max_body;
	size_t max_header;
	int max_conns;
	int idle_timeout;
	int session_idle;	/* login sessions (authn), seconds */
	int session_lifetime;
	char *log_level;
	char *log_format;
	char *trust_domain;
	char *decision_log;	/* NDJSON path, "off", or NULL: default */
	char *decision_log_sample;	/* 0..1 */
	char *decision_log_mask;	/* comma-separated field names */
	char *master_key_file;	/* signing keys' master key (keys.h) */
	char *master_key;	/* ZTIAM_MASTER_KEY only: base64url text */
	char *public_url;	/* base URL clients use; CRL/OCSP URLs */
	int ca_max_ttl;		/* seconds; 0: the profile's maximum */
	char *ca_key_uri;	/* intermediate key in a PKCS#11 token */
	char *ca_pkcs11_module;
	char *ca_key_pin_file;
	int acme_http01_port;	/* ACME validation ports (docs/acme.md) */
	int acme_tlsalpn01_port;
	char *acme_test_resolve;	/* tests only: where every name goes */
	char *config;	/* the file read, if any */
} zt_config;

/* Fills `cfg` from defaults, the file named by --config or ZTIAM_CONFIG,
 * the environment and argv (in rising precedence).  Prints what is wrong
 * and returns ZT_EINVAL on a bad option or value. */
int zt_config_load(zt_config *cfg, int argc, char **argv);
void zt_config_free(zt_config *cfg);
void zt_config_usage(void);
/* Parses one "key = value" config file into `cfg`; exposed for tests. */
int zt_config_read_file(zt_config *cfg, const char *path);

/* ---- commands ---------------------------------------------------------- */

int zt_cmd_serve(int argc, char **argv);
int zt_cmd_token(int argc, char **argv);
int zt_cmd_audit(int argc, char **argv);
int zt_cmd_keys(int argc, char **argv);
/* cert issue|renew|revoke|list, ca show (cmd_ca.c) */
int zt_cmd_cert(int argc, char **argv);
int zt_cmd_ca(int argc, char **argv);
/* policy eval: offline decisions, no server (cmd_policy.c) */
int zt_cmd_policy(int argc, char **argv);
/* authorize: one decision request to the server (cmd_policy.c) */
int zt_cmd_authorize(int argc, char **argv);
/* role create|update|list|get|delete|grant|grants|revoke (cmd_role.c) */
int zt_cmd_role(int argc, char **argv);
/* authorize actions|principals: the enumeration questions (cmd_role.c) */
int zt_cmd_authorize_enum(int argc, char **argv);
/* account password|totp|recovery-codes, session (cmd_authn.c) */
bool zt_cmd_authn_has(const char *noun, int argc, char **argv);
int zt_cmd_authn(const char *noun, int argc, char **argv);
/* tenant, acctsys, identity, account, group, org */
bool zt_cmd_identity_has(const char *noun);
int zt_cmd_identity(const char *noun, int argc, char **argv);

/* ---- the API client ---------------------------------------------------- */

typedef struct zt_client {
	const char *server;	/* base URL */
	char *token;		/* bearer token (owned, wiped on free) */
	const char *cacert;	/* CA file for https, or NULL */
	bool json;		/* print raw JSON instead of tables */
	const char *if_match;	/* version for If-Match, or NULL */
	const char *client_cert;	/* PEM for mutual TLS, or NULL */
	const char *client_key;
} zt_client;

/* Takes --server, --token, --cacert and --json out of argv (shifting the
 * rest down) and fills in defaults from ZTIAM_SERVER, ZTIAM_TOKEN and
 * $ZTIAM_DATA/bootstrap-token.  Returns the new argc, or -1. */
int zt_client_init(zt_client *c, int argc, char **argv);
void zt_client_free(zt_client *c);
/* Calls the API; `body` may be NULL.  Returns the HTTP status (or -1 when
 * the server could not be reached) and the parsed response in *out. */
int zt_client_call(zt_client *c, const char *method, const char *path,
    json_t *body, json_t **out);
/* Sends the file at `file` as the body with `content_type`. */
int zt_client_upload(zt_client *c, const char *method, const char *path,
    const char *content_type, const char *file, json_t **out);
/* Prints a problem document or transport failure to stderr. */
void zt_client_print_error(int status, json_t *doc);
/* Prints `items` as a table of `cols` (keys), or as JSON with --json. */
void zt_client_print_table(const zt_client *c, json_t *items,
    const char *const *cols, size_t ncols);

/* Looks for "--name value" or "--name=value" in argv; removes it. */
const char *zt_cli_take_opt(int *argc, char **argv, const char *name);
bool zt_cli_take_flag(int *argc, char **argv, const char *name);

#define ZTIAM_VERSION "0.1.0"

#endif
