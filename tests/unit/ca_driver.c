/*
 * ca_driver: a small command-line front to the ca module, so that
 * test_ca_openssl.sh can check its output with the real openssl commands.
 * State lives in one directory: PEM keys and certificates and an SQLite
 * inventory.  Test keys only: the private keys are written unencrypted.
 *
 *   ca_driver init DIR
 *   ca_driver issue DIR SPIFFE_ID      writes DIR/leaf.pem, prints serial
 *   ca_driver revoke DIR SERIAL
 *   ca_driver crl DIR                  writes DIR/crl.der
 *   ca_driver ocsp DIR REQ.der RESP.der
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "base/base.h"
#include "ca/ca.h"

#define TD "test.example"

static const zt_migration_set *const sets[] = {
	&zt_audit_migrations, &zt_ca_migrations,
};

static char path_buf[4][4096];

static const char *
path(int slot, const char *dir, const char *name)
{
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", dir, name);
	return path_buf[slot];
}

static int
die(const char *what)
{
	fprintf(stderr, "ca_driver: %s: %s\n", what, zt_error_msg());
	return 1;
}

static void
allow_all(void *arg, const zt_ca_request *req, zt_ca_decision *out)
{
	(void)arg;
	(void)req;
	out->allow = true;
}

static int
write_file(const char *p, const void *data, size_t n)
{
	FILE *f = fopen(p, "wb");
	int ok = f && fwrite(data, 1, n, f) == n;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static uint8_t *
read_file(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	uint8_t *buf = malloc(65536);

	if (f == NULL || buf == NULL) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	*n = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

static int
save_key(const char *p, EVP_PKEY *k)
{
	FILE *f = fopen(p, "w");
	int ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static int
save_cert(const char *p, X509 *x)
{
	FILE *f = fopen(p, "w");
	int ok = f && PEM_write_X509(f, x);

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static EVP_PKEY *
load_key(const char *p)
{
	FILE *f = fopen(p, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return k;
}

static X509 *
load_cert(const char *p)
{
	FILE *f = fopen(p, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

struct env {
	zt_db *db;
	zt_ca *ca;
	X509 *root, *inter;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
};

static int
env_open(struct env *e, const char *dir)
{
	zt_ca_config cfg = { 0 };
	char url[4200];

	cfg.trust_domain = TD;
	cfg.crl_url = "http://127.0.0.1:9/crl";
	cfg.ocsp_url = "http://127.0.0.1:9/ocsp";
	cfg.gate = allow_all;
	snprintf(url, sizeof(url), "sqlite:%s/ca.db", dir);
	if (zt_db_open(&e->db, url) < 0 ||
	    zt_store_migrate(e->db, sets, ZT_ARRAY_LEN(sets)) < 0)
		return -1;
	e->root = load_cert(path(0, dir, "root.pem"));
	e->inter = load_cert(path(0, dir, "int.pem"));
	e->key = load_key(path(0, dir, "int.key"));
	e->chain = sk_X509_new_null();
	if (!e->root || !e->inter || !e->key || !e->chain)
		return zt_error_set(ZT_ERR, "cannot load the CA from %s", dir);
	X509_up_ref(e->root);
	sk_X509_push(e->chain, e->root);
	return zt_ca_new(&e->ca, &cfg, e->inter, e->key, e->chain);
}

static int
cmd_init(const char *dir)
{
	EVP_PKEY *rk, *ik;
	X509 *root, *inter;

	if (zt_ca_key_generate(&rk, ZT_CA_KEY_P256) < 0 ||
	    zt_ca_key_generate(&ik, ZT_CA_KEY_P256) < 0 ||
	    zt_ca_root_create(&root, rk, TD, 86400 * 30) < 0 ||
	    zt_ca_intermediate_create(&inter, root, rk, ik, TD, 86400 * 7,
	    false) < 0)
		return die("init");
	if (save_key(path(0, dir, "root.key"), rk) < 0 ||
	    save_key(path(0, dir, "int.key"), ik) < 0 ||
	    save_cert(path(0, dir, "root.pem"), root) < 0 ||
	    save_cert(path(0, dir, "int.pem"), inter) < 0)
		return die("write");
	X509_free(root);
	X509_free(inter);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	return 0;
}

int
main(int argc, char **argv)
{
	zt_actor actor = { "system", NULL, NULL };
	struct env e = { 0 };
	const char *cmd = argc > 2 ? argv[1] : "", *dir = argc > 2 ? argv[2] : "";

	zt_log_setup(ZT_LOG_ERROR, ZT_LOG_JSON, 2);
	if (strcmp(cmd, "init") == 0)
		return cmd_init(dir);
	if (argc < 3 || env_open(&e, dir) < 0)
		return die("open");
	if (strcmp(cmd, "issue") == 0 && argc == 4) {
		zt_ca_request r = { 0 };
		zt_ca_issued c;

		r.caller = &actor;
		r.tenant = "acme";
		r.identity_id = "id-1";
		r.profile = ZT_CA_SVID;
		r.spiffe_id = argv[3];
		if (zt_ca_issue(&c, e.ca, e.db, &r, NULL, 0) < 0)
			return die("issue");
		if (write_file(path(1, dir, "leaf.pem"), c.pem,
		    strlen(c.pem)) < 0 || write_file(path(1, dir, "leaf.key"),
		    c.key_pem, strlen(c.key_pem)) < 0)
			return die("write");
		printf("%s\n", c.serial);
		zt_ca_issued_free(&c);
	} else if (strcmp(cmd, "revoke") == 0 && argc == 4) {
		if (zt_ca_revoke_serial(e.db, &actor, NULL, argv[3],
		    ZT_CA_KEY_COMPROMISE) < 0)
			return die("revoke");
	} else if (strcmp(cmd, "crl") == 0) {
		uint8_t *der;
		size_t n;

		if (zt_ca_crl_generate(&der, &n, e.ca, e.db, 3600) < 0 ||
		    write_file(path(1, dir, "crl.der"), der, n) < 0)
			return die("crl");
		free(der);
	} else if (strcmp(cmd, "ocsp") == 0 && argc == 5) {
		zt_ca_ocsp rsp = { e.ca, NULL, NULL, zt_ca_status_db, e.db,
		    600 };
		uint8_t *req, *out;
		size_t n, outlen;

		if ((req = read_file(argv[3], &n)) == NULL)
			return die("read");
		if (zt_ca_ocsp_respond(&out, &outlen, &rsp, req, n) < 0 ||
		    write_file(argv[4], out, outlen) < 0)
			return die("ocsp");
		free(req);
		free(out);
	} else {
		fprintf(stderr, "usage: ca_driver init|issue|revoke|crl|ocsp "
		    "DIR ...\n");
		return 2;
	}
	zt_ca_free(e.ca);
	X509_free(e.root);
	X509_free(e.inter);
	EVP_PKEY_free(e.key);
	sk_X509_pop_free(e.chain, X509_free);
	zt_db_close(e.db);
	return 0;
}
