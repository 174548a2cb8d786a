/*
 * Server configuration.  Every setting has one name used three ways: a
 * flag (--max-body), an environment variable (ZTIAM_MAX_BODY) and a key in
 * the optional config file (max-body = 1MiB).  Precedence rises from the
 * built-in default to the file, the environment, and the command line, so
 * a container image can carry a file and a script can still override one
 * value.
 *
 * The file format is deliberately tiny: "key = value" lines, '#' comments,
 * no sections, no quoting; a value runs to the end of the line.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "cli/cli.h"

enum opt_kind { OPT_STR, OPT_INT, OPT_SIZE, OPT_SECS };

struct opt {
	const char *name;	/* flag and file key; env is ZTIAM_ + upper */
	enum opt_kind kind;
	size_t offset;
	const char *def;
	const char *help;
};

#define O(field) offsetof(zt_config, field)

static const struct opt opts[] = {
	{ "listen", OPT_STR, O(listen), "127.0.0.1:8080",
	  "address and port to serve on" },
	{ "data", OPT_STR, O(data), "./var",
	  "data directory (database, bootstrap token)" },
	{ "db", OPT_STR, O(db), NULL,
	  "database URL: postgres://... or a SQLite path "
	  "(default DATA/ztiam.db)" },
	{ "workers", OPT_INT, O(workers), "0",
	  "worker threads (0 = one per core)" },
	{ "tls-cert", OPT_STR, O(tls_cert), NULL,
	  "PEM certificate chain: serve HTTPS" },
	{ "tls-key", OPT_STR, O(tls_key), NULL, "PEM private key" },
	{ "tls-client-ca", OPT_STR, O(tls_client_ca), NULL,
	  "PEM CA bundle: require client certificates (mutual TLS)" },
	{ "max-body", OPT_SIZE, O(max_body), "1MiB", "largest request body" },
	{ "max-header", OPT_SIZE, O(max_header), "16KiB",
	  "largest request header block" },
	{ "max-conns", OPT_INT, O(max_conns), "4096",
	  "most open connections" },
	{ "session-idle", OPT_SECS, O(session_idle), "30m",
	  "end a login session unused this long" },
	{ "session-lifetime", OPT_SECS, O(session_lifetime), "12h",
	  "end a login session this long after the login" },
	{ "idle-timeout", OPT_SECS, O(idle_timeout), "60s",
	  "close connections idle this long" },
	{ "log-level", OPT_STR, O(log_level), "info",
	  "debug, info, warn or error" },
	{ "log-format", OPT_STR, O(log_format), "json", "json or logfmt" },
	{ "master-key-file", OPT_STR, O(master_key_file), NULL,
	  "file holding the master key that seals signing keys "
	  "(default DATA/master.key, made on first start; or set "
	  "ZTIAM_MASTER_KEY)" },
	{ "trust-domain", OPT_STR, O(trust_domain), "ztiam.local",
	  "SPIFFE trust domain of the identities this server names" },
	{ "decision-log", OPT_STR, O(decision_log), NULL,
	  "authorization decision log, NDJSON (default "
	  "DATA/decisions.ndjson; \"off\": none)" },
	{ "decision-log-sample", OPT_STR, O(decision_log_sample), "1",
	  "share of decisions logged, 0 to 1" },
	{ "decision-log-mask", OPT_STR, O(decision_log_mask), NULL,
	  "comma-separated request fields left out of the decision log" },
	{ "public-url", OPT_STR, O(public_url), NULL,
	  "URL clients reach this server at (OAuth issuers, CRL and OCSP "
	  "URLs in issued certificates; default http(s)://LISTEN)" },
	{ "ca-max-ttl", OPT_SECS, O(ca_max_ttl), "0",
	  "longest certificate lifetime the CA issues (0 = the profile's)" },
	{ "ca-key-uri", OPT_STR, O(ca_key_uri), NULL,
	  "pkcs11: URI (RFC 7512) of the CA's intermediate key in a PKCS#11 "
	  "token; the key signs there and never leaves it" },
	{ "ca-pkcs11-module", OPT_STR, O(ca_pkcs11_module), NULL,
	  "the token's PKCS#11 module (e.g. "
	  "/usr/lib/softhsm/libsofthsm2.so); needed with --ca-key-uri" },
	{ "ca-key-pin-file", OPT_STR, O(ca_key_pin_file), NULL,
	  "file holding the token's user PIN (mode 0600 or stricter)" },
	{ "acme-http01-port", OPT_INT, O(acme_http01_port), "80",
	  "port ACME http-01 validation connects to" },
	{ "acme-tls-alpn01-port", OPT_INT, O(acme_tlsalpn01_port), "443",
	  "port ACME tls-alpn-01 validation connects to" },
	{ "acme-test-resolve", OPT_STR, O(acme_test_resolve), NULL,
	  "TESTS ONLY: ACME validation connects to this IP address "
	  "whatever a name resolves to" },
};

static const struct opt *
opt_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(opts); i++)
		if (strlen(opts[i].name) == len &&
		    strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

static int
opt_set(zt_config *cfg, const struct opt *o, const char *value,
    const char *from)
{
	char *base = (char *)cfg + o->offset;
	int64_t n;
	size_t sz;

	switch (o->kind) {
	case OPT_STR:
		free(*(char **)base);
		*(char **)base = value ? strdup(value) : NULL;
		return ZT_OK;
	case OPT_INT:
		if (zt_parse_i64(value, 0, 1000000, &n) < 0)
			break;
		*(int *)base = (int)n;
		return ZT_OK;
	case OPT_SIZE:
		if (zt_parse_size(value, &sz) < 0 || sz > (1u << 30))
			break;
		*(size_t *)base = sz;
		return ZT_OK;
	case OPT_SECS:
		if (zt_parse_duration(value, &n) < 0 || n > 86400)
			break;
		*(int *)base = (int)n;
		return ZT_OK;
	}
	fprintf(stderr, "ztiam: %s: invalid value for %s\n", from, o->name);
	return ZT_EINVAL;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int
zt_config_read_file(zt_config *cfg, const char *path)
{
	char line[1024], where[64], *key, *eq;
	const struct opt *o;
	int lineno = 0, err = ZT_OK;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "ztiam: %s: %s\n", path, strerror(errno));
		return ZT_EINVAL;
	}
	while (err == ZT_OK && fgets(line, sizeof(line), f)) {
		lineno++;
		snprintf(where, sizeof(where), "config line %d", lineno);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(stderr, "ztiam: %s: line too long\n", where);
			err = ZT_EINVAL;
			break;
		}
		key = trim(line);
		if (*key == '#' || *key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			fprintf(stderr, "ztiam: %s: expected key = value\n",
			    where);
			err = ZT_EINVAL;
			break;
		}
		*eq = '\0';
		key = trim(key);
		if ((o = opt_find(key, strlen(key))) == NULL) {
			fprintf(stderr, "ztiam: %s: unknown key\n", where);
			err = ZT_EINVAL;
			break;
		}
		err = opt_set(cfg, o, trim(eq + 1), where);
	}
	fclose(f);
	return err;
}

static int
config_from_env(zt_config *cfg)
{
	char env[64], *p;
	const char *v;
	size_t i;
	int err;

	for (i = 0; i < ZT_ARRAY_LEN(opts); i++) {
		snprintf(env, sizeof(env), "ZTIAM_%s", opts[i].name);
		for (p = env; *p; p++)
			*p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ?
			    *p - 32 : *p);
		if ((v = getenv(env)) == NULL || *v == '\0')
			continue;
		if ((err = opt_set(cfg, &opts[i], v, env)) < 0)
			return err;
	}
	return ZT_OK;
}

static int
config_from_args(zt_config *cfg, int argc, char **argv)
{
	const struct opt *o;
	const char *arg, *eq, *value;
	int i, err;

	for (i = 0; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--config") == 0) {
			i++;	/* read earlier */
			continue;
		}
		if (zt_str_has_prefix(arg, "--config="))
			continue;
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "ztiam serve: unexpected argument\n");
			return ZT_EINVAL;
		}
		arg += 2;
		eq = strchr(arg, '=');
		o = opt_find(arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (o == NULL) {
			fprintf(stderr, "ztiam serve: unknown option --%.*s\n",
			    (int)(eq ? eq - arg : (long)strlen(arg)), arg);
			return ZT_EINVAL;
		}
		if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "ztiam serve: --%s needs a value\n",
			    o->name);
			return ZT_EINVAL;
		}
		if ((err = opt_set(cfg, o, value, "command line")) < 0)
			return err;
	}
	return ZT_OK;
}

/* The config file is named by --config or ZTIAM_CONFIG. */
static const char *
config_file(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (zt_str_has_prefix(argv[i], "--config="))
			return argv[i] + 9;
	}
	return getenv("ZTIAM_CONFIG");
}

int
zt_config_load(zt_config *cfg, int argc, char **argv)
{
	const char *file;
	size_t i;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < ZT_ARRAY_LEN(opts); i++)
		if (opts[i].def &&
		    (err = opt_set(cfg, &opts[i], opts[i].def, "default")) < 0)
			return err;
	file = config_file(argc, argv);
	if (file && *file) {
		if ((err = zt_config_read_file(cfg, file)) < 0)
			return err;
		cfg->config = strdup(file);
	}
	if ((err = config_from_env(cfg)) < 0 ||
	    (err = config_from_args(cfg, argc, argv)) < 0)
		return err;
	/* The master key itself comes from the environment only: a flag
	 * would show in `ps`, a config file line would sit in a file that
	 * is seldom kept as private as a key. */
	if (getenv("ZTIAM_MASTER_KEY") && *getenv("ZTIAM_MASTER_KEY")) {
		if (cfg->master_key_file) {
			fprintf(stderr, "ztiam serve: give the master key by "
			    "ZTIAM_MASTER_KEY or by --master-key-file, not "
			    "both\n");
			return ZT_EINVAL;
		}
		cfg->master_key = strdup(getenv("ZTIAM_MASTER_KEY"));
	}
	if (cfg->db == NULL) {
		size_t n = strlen(cfg->data) + sizeof("/ztiam.db");

		cfg->db = malloc(n);
		snprintf(cfg->db, n, "%s/ztiam.db", cfg->data);
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		fprintf(stderr, "ztiam serve: --tls-cert and --tls-key go "
		    "together\n");
		return ZT_EINVAL;
	}
	if (cfg->tls_client_ca && cfg->tls_cert == NULL) {
		fprintf(stderr, "ztiam serve: --tls-client-ca needs "
		    "--tls-cert and --tls-key\n");
		return ZT_EINVAL;
	}
	return ZT_OK;
}

void
zt_config_free(zt_config *cfg)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(opts); i++)
		if (opts[i].kind == OPT_STR)
			free(*(char **)((char *)cfg + opts[i].offset));
	free(cfg->config);
	if (cfg->master_key) {
		zt_wipe(cfg->master_key, strlen(cfg->master_key));
		free(cfg->master_key);
	}
	memset(cfg, 0, sizeof(*cfg));
}

void
zt_config_usage(void)
{
	char flag[40];
	size_t i;

	fprintf(stderr, "usage: ztiam serve [options]\n\n"
	    "Each option is also read from ZTIAM_<NAME> in the environment "
	    "and from\n\"name = value\" lines in the file named by --config "
	    "FILE or ZTIAM_CONFIG.\n\n");
	for (i = 0; i < ZT_ARRAY_LEN(opts); i++) {
		snprintf(flag, sizeof(flag), "--%s", opts[i].name);
		fprintf(stderr, "  %-18s %s", flag, opts[i].help);
		if (opts[i].def)
			fprintf(stderr, " [%s]", opts[i].def);
		fputc('\n', stderr);
	}
	fprintf(stderr, "  %-18s %s\n", "--config FILE", "read a config file");
}
