/*
 * `ztiam serve`: load the configuration, prepare the data directory and the
 * database (migrations, first-start bootstrap), start the HTTP workers, and
 * wait for SIGTERM or SIGINT to stop gracefully (SIGHUP reopens the
 * decision log, for logrotate).
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigwait(), so no code runs in a signal handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "authz/authz.h"
#include "base/base.h"
#include "cli/cli.h"
#include "http/http.h"
#include "store/store.h"

/* How long in-flight requests get to finish after SIGTERM. */
#define SHUTDOWN_GRACE_MS 10000

static int
make_data_dir(const char *dir)
{
	struct stat sb;

	if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
		if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
			return ZT_OK;
	}
	log_error("cannot create the data directory", ZS("path", dir),
	    ZS("error", strerror(errno)));
	return ZT_ERR;
}

/* Writes the bootstrap token for scripts, readable by the owner only. */
static int
write_token_file(const char *data, const char *secret)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/bootstrap-token", data);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		log_error("cannot write the bootstrap token file",
		    ZS("path", path), ZS("error", strerror(errno)));
		return ZT_ERR;
	}
	fchmod(fd, 0600);
	n = write(fd, secret, strlen(secret));
	if (n < 0 || (size_t)n != strlen(secret) || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0) {
		close(fd);
		return ZT_ERR;
	}
	close(fd);
	return ZT_OK;
}

/* The one place a secret is printed: to the operator's terminal on stdout,
 * once, at the very first start.  Logs go to stderr and never carry it. */
static void
announce_bootstrap(const zt_config *cfg, const char *secret, int port)
{
	const char *scheme = cfg->tls_cert ? "https" : "http";
	char host[256];
	const char *colon;

	snprintf(host, sizeof(host), "%s", cfg->listen);
	if ((colon = strrchr(host, ':')) != NULL)
		host[colon - host] = '\0';
	printf("\n"
	    "ztiam: first start: a system administrator token was created.\n"
	    "It is shown once here and kept in %s/bootstrap-token (mode 0600).\n"
	    "\n"
	    "    %s\n"
	    "\n"
	    "Try it:\n"
	    "    curl -H \"Authorization: Bearer $(cat %s/bootstrap-token)\" "
	    "%s://%s:%d/v1/whoami\n\n",
	    cfg->data, secret, cfg->data, scheme, host, port);
	fflush(stdout);
}

static int
prepare_database(const zt_config *cfg, char *secret, bool *created)
{
	zt_db *db;
	int err;

	if ((err = zt_db_open(&db, cfg->db)) < 0) {
		log_error("cannot open the database", ZS("error",
		    zt_error_msg()));
		return err;
	}
	if ((err = zt_store_migrate(db, zt_api_migrations,
	    zt_api_nmigrations)) < 0)
		log_error("database migration failed", ZS("error",
		    zt_error_msg()));
	else if ((err = zt_bootstrap(db, secret, created)) < 0)
		log_error("bootstrap failed", ZS("error", zt_error_msg()));
	if (err == ZT_OK && *created)
		err = write_token_file(cfg->data, secret);
	zt_db_close(db);
	return err;
}

/*
 * The master key that seals signing keys: ZTIAM_MASTER_KEY, else the file
 * named by --master-key-file, else DATA/master.key, made on the first
 * start.  The log says where the key came from, never the key.
 */
static int
load_master_key(const zt_config *cfg, zt_master_key *mk)
{
	char path[4096];
	int err;

	if (cfg->master_key) {
		if ((err = zt_master_key_from_text(mk, cfg->master_key)) < 0)
			log_error("ZTIAM_MASTER_KEY is not a master key",
			    ZS("error", zt_error_msg()));
		else
			log_info("master key loaded", ZS("from",
			    "ZTIAM_MASTER_KEY"), ZS("fingerprint", mk->id));
		return err;
	}
	if (cfg->master_key_file)
		snprintf(path, sizeof(path), "%s", cfg->master_key_file);
	else
		snprintf(path, sizeof(path), "%s/master.key", cfg->data);
	err = zt_master_key_load(mk, path);
	if (err == ZT_ENOTFOUND && cfg->master_key_file == NULL) {
		if ((err = zt_master_key_create(mk, path)) == ZT_OK) {
			log_info("master key created; back it up", ZS("path",
			    path), ZS("fingerprint", mk->id));
			return ZT_OK;
		}
	}
	if (err < 0)
		log_error("cannot load the master key", ZS("error",
		    zt_error_msg()));
	else
		log_info("master key loaded", ZS("from", path),
		    ZS("fingerprint", mk->id));
	return err;
}

static int
setup_logging(const zt_config *cfg)
{
	enum zt_log_level lvl;
	enum zt_log_format fmt;

	if (zt_log_parse_level(cfg->log_level, &lvl) < 0 ||
	    zt_log_parse_format(cfg->log_format, &fmt) < 0) {
		fprintf(stderr, "ztiam serve: %s\n", zt_error_msg());
		return ZT_EINVAL;
	}
	zt_log_setup(lvl, fmt, STDERR_FILENO);
	return ZT_OK;
}

/*
 * The trust domain's CA, loaded when the database has one; otherwise it
 * is made at its first use (docs/ca.md).  Without
 * --public-url the CRL and OCSP URLs in certificates name the listen
 * address, which suits a single node tried out locally.
 */
/* The token PIN: the first line of --ca-key-pin-file, a file that only
 * its owner may read (the PIN is never a flag: flags reach `ps`). */
static int
read_pin(const char *path, char *pin, size_t n)
{
	struct stat sb;
	size_t len;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL || fstat(fileno(f), &sb) < 0 ||
	    !S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0 ||
	    fgets(pin, (int)n, f) == NULL) {
		log_error("--ca-key-pin-file must be a regular file of mode "
		    "0600 or stricter holding the PIN", ZS("path", path));
		if (f)
			fclose(f);
		return ZT_EINVAL;
	}
	fclose(f);
	len = strcspn(pin, "\r\n");
	pin[len] = '\0';
	return ZT_OK;
}

static int
start_ca(zt_config *cfg, zt_app *app)
{
	static char url[300], pin[256];
	int err;

	if (cfg->ca_key_uri) {
		if (cfg->ca_pkcs11_module == NULL) {
			log_error("--ca-key-uri needs --ca-pkcs11-module");
			return ZT_EINVAL;
		}
		if (cfg->ca_key_pin_file && read_pin(cfg->ca_key_pin_file,
		    pin, sizeof(pin)) < 0)
			return ZT_EINVAL;
		app->ca_key_uri = cfg->ca_key_uri;
		app->ca_pkcs11_module = cfg->ca_pkcs11_module;
		app->ca_key_pin = cfg->ca_key_pin_file ? pin : NULL;
	}
	if (cfg->public_url == NULL) {
		snprintf(url, sizeof(url), "%s://%s", cfg->tls_cert ? "https" :
		    "http", cfg->listen);
		app->public_url = url;
	}
	if ((err = zt_api_ca_start(app)) < 0)
		log_error("cannot load or create the CA", ZS("error",
		    zt_error_msg()));
	return err;
}

/*
 * The authorization service: the compiled policy stores, loaded once
 * before serving and then kept fresh by a poller (authz.h), and the
 * decision log with its writer thread.
 */
static int
start_authz(const zt_config *cfg, zt_app *app)
{
	zt_dlog_config dc = { .mask = cfg->decision_log_mask };
	char path[4096];
	zt_db *db = NULL;
	char *end = NULL;
	int err;

	dc.sample = strtod(cfg->decision_log_sample ?
	    cfg->decision_log_sample : "1", &end);
	if (end == NULL || *end != '\0' || !(dc.sample >= 0.0 &&
	    dc.sample <= 1.0)) {
		log_error("--decision-log-sample must be a number from 0 to 1");
		return ZT_EINVAL;
	}
	if ((err = zt_authz_new(&app->authz)) < 0 ||
	    (err = zt_identity_on_delete(zt_authz_unlink_subject)) < 0 ||
	    (err = zt_db_open(&db, cfg->db)) < 0 ||
	    (err = zt_authz_refresh(app->authz, db)) < 0 ||
	    (err = zt_authz_poller_start(app->authz, cfg->db)) < 0) {
		log_error("cannot load the policy stores", ZS("error",
		    zt_error_msg()));
		zt_db_close(db);
		return err;
	}
	zt_db_close(db);
	if (cfg->decision_log != NULL && strcmp(cfg->decision_log, "off") == 0)
		return ZT_OK;
	if (cfg->decision_log != NULL)
		snprintf(path, sizeof(path), "%s", cfg->decision_log);
	else
		snprintf(path, sizeof(path), "%s/decisions.ndjson", cfg->data);
	dc.path = path;
	if ((err = zt_dlog_open(&app->dlog, &dc)) < 0)
		log_error("cannot open the decision log", ZS("error",
		    zt_error_msg()));
	return err;
}

static int
start_http(const zt_config *cfg, zt_app *app)
{
	zt_http_config hc = {
		.listen = cfg->listen,
		.workers = cfg->workers,
		.tls_cert = cfg->tls_cert,
		.tls_key = cfg->tls_key,
		.tls_client_ca = cfg->tls_client_ca,
		.max_header_bytes = cfg->max_header,
		.max_body_bytes = cfg->max_body,
		.max_connections = cfg->max_conns,
		.idle_timeout_s = cfg->idle_timeout,
		.app = app,
		.worker_init = zt_api_worker_init,
		.worker_fini = zt_api_worker_fini,
		.auth = zt_api_auth,
	};
	int err;

	if ((err = zt_http_new(&app->http, &hc)) == ZT_OK &&
	    (err = zt_api_routes(app->http)) == ZT_OK) {
		/* Roots published since the --tls-client-ca file was
		 * written are trusted too. */
		zt_api_ca_trust(app);
		err = zt_http_start(app->http);
	}
	if (err < 0) {
		log_error("cannot start the HTTP server", ZS("error",
		    zt_error_msg()));
		return err;
	}
	return ZT_OK;
}

int
zt_cmd_serve(int argc, char **argv)
{
	static zt_master_key master_key;
	char secret[ZT_TOKEN_LEN + 1] = "";
	zt_app app = { .version = ZTIAM_VERSION };
	int64_t t0 = zt_mono_us();
	bool created = false;
	zt_config cfg;
	sigset_t sigs;
	int sig = SIGTERM, rc = 1;

	if (argc > 0 && (strcmp(argv[0], "-h") == 0 ||
	    strcmp(argv[0], "--help") == 0)) {
		zt_config_usage();
		return 0;
	}
	if (zt_config_load(&cfg, argc, argv) < 0) {
		zt_config_usage();
		zt_config_free(&cfg);
		return 2;
	}
	if (setup_logging(&cfg) < 0)
		goto out;
	app.db_url = cfg.db;
	app.master_key = &master_key;
	app.identity.trust_domain = cfg.trust_domain;
	if (zt_identity_config_check(&app.identity) < 0) {
		log_error("bad --trust-domain", ZS("error", zt_error_msg()));
		goto out;
	}
	app.started_ms = zt_now_ms();
	app.public_url = cfg.public_url;
	app.ca_max_ttl = cfg.ca_max_ttl;
	app.acme_http01_port = cfg.acme_http01_port;
	app.acme_tlsalpn01_port = cfg.acme_tlsalpn01_port;
	app.acme_resolve = cfg.acme_test_resolve;
	app.sessions.idle_s = cfg.session_idle;
	app.sessions.lifetime_s = cfg.session_lifetime;
	if (zt_throttle_new(&app.throttle, ZT_THROTTLE_SLOTS_DEFAULT) < 0) {
		log_error("cannot make the login throttle", ZS("error",
		    zt_error_msg()));
		goto out;
	}

	/* Every thread started from here on inherits the blocked set. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (make_data_dir(cfg.data) < 0 ||
	    load_master_key(&cfg, &master_key) < 0 ||
	    prepare_database(&cfg, secret, &created) < 0 ||
	    start_ca(&cfg, &app) < 0 ||
	    start_authz(&cfg, &app) < 0 ||
	    start_http(&cfg, &app) < 0)
		goto out;
	log_info("ready", ZS("listen", cfg.listen),
	    ZI("port", zt_http_port(app.http)),
	    ZS("db", zt_str_has_prefix(cfg.db, "postgres") ? "postgres" :
	    "sqlite"), ZB("tls", cfg.tls_cert != NULL),
	    ZI("startup_us", zt_mono_us() - t0));
	if (created)
		announce_bootstrap(&cfg, secret, zt_http_port(app.http));
	zt_wipe(secret, sizeof(secret));

	/* SIGHUP: files rotated away are opened again by name. */
	while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
		zt_dlog_reopen(app.dlog);
	log_info("stopping", ZS("signal", sig == SIGTERM ? "TERM" : "INT"));
	zt_http_stop(app.http, SHUTDOWN_GRACE_MS);
	zt_http_wait(app.http);
	log_info("stopped");
	rc = 0;
out:
	zt_wipe(secret, sizeof(secret));
	if (app.http)
		zt_http_free(app.http);
	zt_dlog_close(app.dlog);
	zt_authz_free(app.authz);
	zt_api_ca_stop(&app);
	zt_master_key_wipe(&master_key);
	zt_throttle_free(app.throttle);
	zt_config_free(&cfg);
	return rc;
}
