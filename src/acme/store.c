/*
 * ACME state in the database: nonces, accounts, orders, authorizations
 * and challenges, and the state machine that moves them (RFC 8555 7.1.6):
 *
 *   challenge      pending -> processing -> valid | invalid
 *   authorization  pending -> valid | invalid (with its challenge)
 *   order          pending -> ready (every authorization valid)
 *                  ready -> valid (certificate issued)
 *                  pending | ready -> invalid (an authorization failed,
 *                  the issuance was refused, or it expired)
 *
 * Every table is keyed by tenant first.  JSON members (contacts, keys,
 * identifiers, problems) are stored as compact JSON text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/acme.h"

#define ACME_SCHEMA_V1(TEXT) \
	"CREATE TABLE acme_nonces (" \
	"  nonce " TEXT " PRIMARY KEY," \
	"  expires BIGINT NOT NULL);" \
	"CREATE INDEX acme_nonces_expires ON acme_nonces (expires);" \
	"CREATE TABLE acme_accounts (" \
	"  tenant " TEXT " NOT NULL," \
	"  id " TEXT " NOT NULL," \
	"  thumbprint " TEXT " NOT NULL," \
	"  jwk TEXT NOT NULL," \
	"  contact TEXT NOT NULL," \
	"  status TEXT NOT NULL," \
	"  created_at BIGINT NOT NULL," \
	"  PRIMARY KEY (tenant, id)," \
	"  UNIQUE (tenant, thumbprint));" \
	"CREATE TABLE acme_orders (" \
	"  tenant " TEXT " NOT NULL," \
	"  id " TEXT " NOT NULL," \
	"  account_id " TEXT " NOT NULL," \
	"  status TEXT NOT NULL," \
	"  expires BIGINT NOT NULL," \
	"  identifiers TEXT NOT NULL," \
	"  error TEXT," \
	"  serial " TEXT "," \
	"  cert_pem TEXT," \
	"  created_at BIGINT NOT NULL," \
	"  PRIMARY KEY (tenant, id));" \
	"CREATE INDEX acme_orders_serial ON acme_orders (tenant, serial);" \
	"CREATE TABLE acme_authzs (" \
	"  tenant " TEXT " NOT NULL," \
	"  id " TEXT " NOT NULL," \
	"  order_id " TEXT " NOT NULL," \
	"  account_id " TEXT " NOT NULL," \
	"  pos INTEGER NOT NULL," \
	"  type TEXT NOT NULL," \
	"  value TEXT NOT NULL," \
	"  status TEXT NOT NULL," \
	"  expires BIGINT NOT NULL," \
	"  PRIMARY KEY (tenant, id));" \
	"CREATE INDEX acme_authzs_order ON acme_authzs (tenant, order_id);" \
	"CREATE TABLE acme_challenges (" \
	"  tenant " TEXT " NOT NULL," \
	"  id " TEXT " NOT NULL," \
	"  authz_id " TEXT " NOT NULL," \
	"  account_id " TEXT " NOT NULL," \
	"  type TEXT NOT NULL," \
	"  token TEXT NOT NULL," \
	"  status TEXT NOT NULL," \
	"  validated BIGINT NOT NULL DEFAULT 0," \
	"  error TEXT," \
	"  attempts INTEGER NOT NULL DEFAULT 0," \
	"  due BIGINT NOT NULL DEFAULT 0," \
	"  PRIMARY KEY (tenant, id));" \
	"CREATE INDEX acme_challenges_authz ON acme_challenges " \
	"  (tenant, authz_id);" \
	"CREATE INDEX acme_challenges_due ON acme_challenges (status, due);"

static const zt_migration acme_steps[] = {
	{ 1, "accounts, orders, authorizations, challenges, nonces",
	  ACME_SCHEMA_V1("TEXT"), ACME_SCHEMA_V1("TEXT COLLATE \"C\"") },
};

const zt_migration_set zt_acme_migrations = {
	"acme", acme_steps, ZT_ARRAY_LEN(acme_steps),
};

/* A claimed challenge is left alone this long by other validators: more
 * than one attempt can take. */
#define CLAIM_MS 30000

static int
fail(enum zt_acme_prob *prob, enum zt_acme_prob p, int err)
{
	if (prob)
		*prob = p;
	return err;
}

static int
new_id(char out[ZT_ACME_ID_LEN + 1])
{
	return zt_random_id(out, ZT_ACME_ID_LEN + 1, 16);
}

/* Prepares `sql` and binds text arguments (NULL binds NULL). */
static int
prep(zt_stmt **st, zt_db *db, const char *sql, int n, ...)
{
	va_list ap;
	int i, err;

	if ((err = zt_db_prepare(st, db, sql)) < 0)
		return err;
	va_start(ap, n);
	for (i = 1; i <= n && err == 0; i++) {
		const char *s = va_arg(ap, const char *);

		err = s ? zt_stmt_bind_text(*st, i, s) :
		    zt_stmt_bind_null(*st, i);
	}
	va_end(ap);
	if (err < 0)
		zt_stmt_reset(*st);
	return err;
}


static json_t *
jload(const char *s)
{
	return s ? json_loads(s, 0, NULL) : NULL;
}

/* Compact JSON text of `v` (free() it), NULL on failure. */
static char *
jdump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- nonces ------------------------------------------------------------- */

int
zt_acme_nonce_new(zt_db *db, char out[ZT_ACME_NONCE_LEN + 1])
{
	int64_t now = zt_now_ms();
	uint8_t r;
	zt_stmt *st;
	int err;

	if ((err = new_id(out)) < 0)
		return err;

	/* Now and then sweep the expired ones, rather than on a timer. */
	if (zt_random(&r, 1) == 0 && r < 4) {
		if ((err = zt_db_prepare(&st, db, "DELETE FROM acme_nonces "
		    "WHERE expires < $1")) < 0 ||
		    (err = zt_stmt_bind_int(st, 1, now)) < 0 ||
		    (err = zt_stmt_run(st)) < 0)
			return err;
	}
	if ((err = prep(&st, db, "INSERT INTO acme_nonces (nonce, expires) "
	    "VALUES ($1, $2)", 1, out)) < 0 ||
	    (err = zt_stmt_bind_int(st, 2, now + ZT_ACME_NONCE_TTL_MS)) < 0)
		return err;
	return zt_stmt_run(st);
}

int
zt_acme_nonce_use(zt_db *db, const char *nonce)
{
	zt_stmt *st;
	int64_t n;
	int err;

	if (strlen(nonce) != ZT_ACME_NONCE_LEN)
		return zt_error_set(ZT_ENOTFOUND, "unknown nonce");
	if ((err = prep(&st, db, "DELETE FROM acme_nonces WHERE nonce = $1 "
	    "AND expires >= $2", 1, nonce)) < 0 ||
	    (err = zt_stmt_bind_int(st, 2, zt_now_ms())) < 0)
		return err;
	if ((err = zt_stmt_step(st)) < 0) {
		zt_stmt_reset(st);
		return err;
	}
	n = zt_stmt_changes(st);
	zt_stmt_reset(st);
	return n == 1 ? ZT_OK : zt_error_set(ZT_ENOTFOUND, "the nonce is "
	    "unknown, used or expired");
}

/* ---- accounts ----------------------------------------------------------- */

#define ACCOUNT_COLUMNS "id, status, contact, jwk, thumbprint, created_at"

static json_t *
account_row(zt_stmt *st)
{
	return json_pack("{s:s,s:s,s:o,s:o,s:s,s:I}",
	    "id", zt_stmt_text(st, 0), "status", zt_stmt_text(st, 1),
	    "contact", jload(zt_stmt_text(st, 2)),
	    "jwk", jload(zt_stmt_text(st, 3)),
	    "thumbprint", zt_stmt_text(st, 4),
	    "created_at", (json_int_t)zt_stmt_int(st, 5));
}

static int
account_query(json_t **out, zt_db *db, const char *sql, const char *tenant,
    const char *arg)
{
	zt_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = prep(&st, db, sql, 2, tenant, arg)) < 0)
		return rc;
	rc = zt_stmt_step(st);
	if (rc == ZT_ROW && (*out = account_row(st)) == NULL)
		rc = zt_error_set(ZT_ERR, "a stored ACME account is damaged");
	zt_stmt_reset(st);
	if (rc == ZT_DONE)
		return zt_error_set(ZT_ENOTFOUND, "no such account");
	return rc < 0 ? rc : ZT_OK;
}

int
zt_acme_account_get(json_t **out, zt_db *db, const char *tenant,
    const char *id)
{
	return account_query(out, db, "SELECT " ACCOUNT_COLUMNS " FROM "
	    "acme_accounts WHERE tenant = $1 AND id = $2", tenant, id);
}

int
zt_acme_account_by_key(json_t **out, zt_db *db, const char *tenant,
    const char *thumbprint)
{
	return account_query(out, db, "SELECT " ACCOUNT_COLUMNS " FROM "
	    "acme_accounts WHERE tenant = $1 AND thumbprint = $2", tenant,
	    thumbprint);
}

int
zt_acme_account_orders(json_t **out, zt_db *db, const char *tenant,
    const char *id, int limit)
{
	zt_stmt *st;
	int rc;

	*out = json_array();
	if ((rc = prep(&st, db, "SELECT id FROM acme_orders WHERE tenant = "
	    "$1 AND account_id = $2 ORDER BY created_at DESC LIMIT $3", 2,
	    tenant, id)) < 0 ||
	    (rc = zt_stmt_bind_int(st, 3, limit)) < 0)
		goto bad;
	while ((rc = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(*out, json_string(zt_stmt_text(st, 0)));
	zt_stmt_reset(st);
	if (rc >= 0)
		return ZT_OK;
bad:
	json_decref(*out);
	*out = NULL;
	return rc;
}

int
zt_acme_account_key(zt_jose_key **out, json_t *account)
{
	return zt_jose_key_from_jwk(out, json_object_get(account, "jwk"));
}

/* Contacts: mailto: URIs of a plain address; RFC 8555 7.3 lets a
 * server refuse the rest (unsupportedContact). */
static int
contact_check(json_t *contact, enum zt_acme_prob *prob)
{
	const char *s;
	json_t *v;
	size_t i;

	if (!json_is_array(contact) ||
	    json_array_size(contact) > ZT_ACME_CONTACTS_MAX)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "contact is an array of at most %d URIs",
		    ZT_ACME_CONTACTS_MAX));
	json_array_foreach(contact, i, v) {
		if ((s = json_string_value(v)) == NULL ||
		    strlen(s) > ZT_ACME_CONTACT_LEN)
			return fail(prob, ZT_ACME_INVALID_CONTACT,
			    zt_error_set(ZT_EINVAL, "a contact is not a URI "
			    "of at most %d bytes", ZT_ACME_CONTACT_LEN));
		if (!zt_str_has_prefix(s, "mailto:"))
			return fail(prob, ZT_ACME_UNSUPPORTED_CONTACT,
			    zt_error_set(ZT_EINVAL, "only mailto: contacts "
			    "are supported"));
		s += 7;
		if (strchr(s, '@') == NULL || strchr(s, '?') != NULL ||
		    strchr(s, ',') != NULL || !zt_utf8_valid(s, strlen(s)) ||
		    strpbrk(s, " <>\"\r\n") != NULL)
			return fail(prob, ZT_ACME_INVALID_CONTACT,
			    zt_error_set(ZT_EINVAL, "a contact is not one "
			    "plain e-mail address"));
	}
	return ZT_OK;
}

int
zt_acme_account_new(json_t **out, zt_db *db, const char *tenant,
    json_t *jwk, json_t *contact, enum zt_acme_prob *prob)
{
	char id[ZT_ACME_ID_LEN + 1], tp[ZT_JOSE_THUMBPRINT_LEN + 1];
	char *jtext = NULL, *ctext = NULL;
	zt_jose_key *key = NULL;
	json_t *empty = NULL, *pub = NULL;
	zt_stmt *st;
	int err;

	*out = NULL;
	if (contact == NULL)
		contact = empty = json_array();
	if ((err = contact_check(contact, prob)) < 0)
		goto out;
	if ((err = zt_jose_key_from_jwk(&key, jwk)) < 0 ||
	    (err = zt_jose_thumbprint(tp, key)) < 0) {
		err = fail(prob, ZT_ACME_BAD_PUBLIC_KEY, err);
		goto out;
	}
	if (zt_acme_account_by_key(out, db, tenant, tp) == 0) {
		err = zt_error_set(ZT_EEXISTS, "the key has an account");
		goto out;
	}
	if ((err = new_id(id)) < 0)
		goto out;
	jtext = zt_jose_key_jwk(&pub, key, NULL, 0, NULL) == 0 ?
	    jdump(pub) : NULL;
	ctext = jdump(contact);
	if (jtext == NULL || ctext == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = prep(&st, db, "INSERT INTO acme_accounts (tenant, id, "
	    "thumbprint, jwk, contact, status, created_at) VALUES ($1, $2, "
	    "$3, $4, $5, 'valid', $6)", 5, tenant, id, tp, jtext, ctext)) < 0 ||
	    (err = zt_stmt_bind_int(st, 6, zt_now_ms())) < 0 ||
	    (err = zt_stmt_run(st)) < 0)
		goto out;
	err = zt_acme_account_get(out, db, tenant, id);
out:
	json_decref(empty);
	json_decref(pub);
	free(jtext);
	free(ctext);
	zt_jose_key_free(key);
	return err;
}

int
zt_acme_account_update(json_t **out, zt_db *db, const char *tenant,
    const char *id, json_t *contact, bool deactivate,
    enum zt_acme_prob *prob)
{
	char *ctext = NULL;
	zt_stmt *st;
	int err;

	*out = NULL;
	if (contact && (err = contact_check(contact, prob)) < 0)
		return err;
	if (contact) {
		if ((ctext = jdump(contact)) == NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		err = prep(&st, db, "UPDATE acme_accounts SET contact = $3 "
		    "WHERE tenant = $1 AND id = $2 AND status = 'valid'", 3,
		    tenant, id, ctext);
		free(ctext);
		if (err < 0 || (err = zt_stmt_run(st)) < 0)
			return err;
	}
	if (deactivate) {
		if ((err = prep(&st, db, "UPDATE acme_accounts SET status = "
		    "'deactivated' WHERE tenant = $1 AND id = $2", 2, tenant,
		    id)) < 0 || (err = zt_stmt_run(st)) < 0)
			return err;
	}
	return zt_acme_account_get(out, db, tenant, id);
}

int
zt_acme_account_rekey(zt_db *db, const char *tenant, const char *id,
    json_t *jwk, char other[ZT_ACME_ID_LEN + 1])
{
	char tp[ZT_JOSE_THUMBPRINT_LEN + 1];
	zt_jose_key *key = NULL;
	json_t *pub = NULL, *acct = NULL;
	char *jtext = NULL;
	zt_stmt *st;
	int err;

	other[0] = '\0';
	if ((err = zt_jose_key_from_jwk(&key, jwk)) < 0 ||
	    (err = zt_jose_thumbprint(tp, key)) < 0 ||
	    (err = zt_jose_key_jwk(&pub, key, NULL, 0, NULL)) < 0)
		goto out;
	if (zt_acme_account_by_key(&acct, db, tenant, tp) == 0) {
		snprintf(other, ZT_ACME_ID_LEN + 1, "%s", json_string_value(
		    json_object_get(acct, "id")));
		err = zt_error_set(ZT_EEXISTS, "the new key has an account");
		goto out;
	}
	if ((jtext = jdump(pub)) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = prep(&st, db, "UPDATE acme_accounts SET jwk = $3, "
	    "thumbprint = $4 WHERE tenant = $1 AND id = $2 AND status = "
	    "'valid'", 4, tenant, id, jtext, tp)) < 0)
		goto out;
	err = zt_stmt_run(st);
	if (err == ZT_EEXISTS)
		err = zt_error_set(ZT_EEXISTS, "the new key has an account");
out:
	free(jtext);
	json_decref(pub);
	json_decref(acct);
	zt_jose_key_free(key);
	return err;
}

/* ---- orders ------------------------------------------------------------- */

/* Checks and canonicalises the identifiers: a new array, duplicates
 * merged. */
static int
identifiers_check(json_t **out, json_t *in, enum zt_acme_prob *prob)
{
	char value[256];
	json_t *v, *res;
	size_t i, j;
	bool is_ip;
	int err;

	*out = NULL;
	if (!json_is_array(in) || json_array_size(in) == 0 ||
	    json_array_size(in) > ZT_ACME_IDENTIFIERS_MAX)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "identifiers is an array of 1 to %d identifiers",
		    ZT_ACME_IDENTIFIERS_MAX));
	res = json_array();
	json_array_foreach(in, i, v) {
		const char *type;
		json_t *w;
		bool dup = false;

		if ((err = zt_acme_identifier_check(v, value, sizeof(value),
		    &is_ip, prob)) < 0) {
			json_decref(res);
			return err;
		}
		type = is_ip ? "ip" : "dns";
		json_array_foreach(res, j, w)
			if (strcmp(json_string_value(json_object_get(w,
			    "type")), type) == 0 &&
			    strcmp(json_string_value(json_object_get(w,
			    "value")), value) == 0)
				dup = true;
		if (!dup)
			json_array_append_new(res, json_pack("{s:s,s:s}",
			    "type", type, "value", value));
	}
	*out = res;
	return ZT_OK;
}

static int
challenge_insert(zt_db *db, const char *tenant, const char *authz,
    const char *account, const char *type, const char *token)
{
	char id[ZT_ACME_ID_LEN + 1];
	zt_stmt *st;
	int err;

	if ((err = new_id(id)) < 0 ||
	    (err = prep(&st, db, "INSERT INTO acme_challenges (tenant, id, "
	    "authz_id, account_id, type, token, status) VALUES ($1, $2, $3, "
	    "$4, $5, $6, 'pending')", 6, tenant, id, authz, account, type,
	    token)) < 0)
		return err;
	return zt_stmt_run(st);
}

static int
authz_insert(zt_db *db, const char *tenant, const char *order,
    const char *account, int pos, json_t *ident, int64_t expires)
{
	char id[ZT_ACME_ID_LEN + 1], token[ZT_ACME_TOKEN_LEN + 1];
	const char *type = json_string_value(json_object_get(ident, "type"));
	zt_stmt *st;
	int err;

	if ((err = new_id(id)) < 0 ||
	    (err = zt_random_id(token, sizeof(token), 32)) < 0 ||
	    (err = prep(&st, db, "INSERT INTO acme_authzs (tenant, id, "
	    "order_id, account_id, type, value, status, pos, expires) "
	    "VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)", 6, tenant,
	    id, order, account, type, json_string_value(json_object_get(
	    ident, "value")))) < 0)
		return err;
	if ((err = zt_stmt_bind_int(st, 7, pos)) < 0 ||
	    (err = zt_stmt_bind_int(st, 8, expires)) < 0 ||
	    (err = zt_stmt_run(st)) < 0)
		return err;

	/* One token for both methods: the client answers whichever it
	 * likes (RFC 8555 8 lets challenges of one authorization share). */
	if ((err = challenge_insert(db, tenant, id, account, "http-01",
	    token)) < 0)
		return err;
	if (strcmp(type, "dns") == 0)
		err = challenge_insert(db, tenant, id, account, "tls-alpn-01",
		    token);
	return err;
}

int
zt_acme_order_new(json_t **out, zt_db *db, const char *tenant,
    const char *account, json_t *identifiers, enum zt_acme_prob *prob)
{
	char id[ZT_ACME_ID_LEN + 1];
	int64_t now = zt_now_ms(), expires = now + ZT_ACME_ORDER_TTL_MS;
	json_t *idents = NULL, *v;
	char *itext = NULL;
	zt_stmt *st;
	size_t i;
	int err;

	*out = NULL;
	if ((err = identifiers_check(&idents, identifiers, prob)) < 0)
		return err;
	if ((err = new_id(id)) < 0)
		goto out;
	if ((itext = jdump(idents)) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = zt_db_begin(db)) < 0)
		goto out;
	if ((err = prep(&st, db, "INSERT INTO acme_orders (tenant, id, "
	    "account_id, status, expires, identifiers, created_at) VALUES "
	    "($1, $2, $3, 'pending', $4, $5, $6)", 3, tenant, id,
	    account)) < 0 ||
	    (err = zt_stmt_bind_int(st, 4, expires)) < 0 ||
	    (err = zt_stmt_bind_text(st, 5, itext)) < 0 ||
	    (err = zt_stmt_bind_int(st, 6, now)) < 0 ||
	    (err = zt_stmt_run(st)) < 0)
		goto rollback;
	json_array_foreach(idents, i, v)
		if ((err = authz_insert(db, tenant, id, account, (int)i, v,
		    expires)) < 0)
			goto rollback;
	if ((err = zt_db_commit(db)) < 0)
		goto rollback;
	err = zt_acme_order_get(out, db, tenant, id);
	goto out;
rollback:
	zt_db_rollback(db);
out:
	free(itext);
	json_decref(idents);
	return err;
}

#define ORDER_COLUMNS "id, account_id, status, expires, identifiers, " \
	"error, serial"

static int
order_query(json_t **out, zt_db *db, const char *sql, const char *tenant,
    const char *arg)
{
	json_t *authzs = NULL, *err_doc;
	const char *status;
	zt_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = prep(&st, db, sql, 2, tenant, arg)) < 0)
		return rc;
	if ((rc = zt_stmt_step(st)) == ZT_ROW) {
		status = zt_stmt_text(st, 2);
		if ((strcmp(status, "pending") == 0 ||
		    strcmp(status, "ready") == 0) &&
		    zt_stmt_int(st, 3) < zt_now_ms())
			status = "invalid";
		*out = json_pack("{s:s,s:s,s:s,s:I,s:o}",
		    "id", zt_stmt_text(st, 0), "account", zt_stmt_text(st, 1),
		    "status", status, "expires", (json_int_t)zt_stmt_int(st, 3),
		    "identifiers", jload(zt_stmt_text(st, 4)));
		if (*out && (err_doc = jload(zt_stmt_text(st, 5))) != NULL)
			json_object_set_new(*out, "error", err_doc);
		if (*out && zt_stmt_text(st, 6))
			json_object_set_new(*out, "serial",
			    json_string(zt_stmt_text(st, 6)));
	}
	zt_stmt_reset(st);
	if (rc == ZT_DONE)
		return zt_error_set(ZT_ENOTFOUND, "no such order");
	if (rc < 0)
		return rc;
	if (*out == NULL)
		return zt_error_set(ZT_ERR, "a stored ACME order is damaged");

	/* Its authorizations, in the order of the identifiers. */
	authzs = json_array();
	if ((rc = prep(&st, db, "SELECT id FROM acme_authzs WHERE tenant = "
	    "$1 AND order_id = $2 ORDER BY pos", 2, tenant,
	    json_string_value(json_object_get(*out, "id")))) < 0)
		goto bad;
	while ((rc = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(authzs, json_string(zt_stmt_text(st,
		    0)));
	zt_stmt_reset(st);
	if (rc < 0)
		goto bad;
	json_object_set_new(*out, "authorizations", authzs);
	return ZT_OK;
bad:
	json_decref(authzs);
	json_decref(*out);
	*out = NULL;
	return rc;
}

int
zt_acme_order_get(json_t **out, zt_db *db, const char *tenant,
    const char *id)
{
	return order_query(out, db, "SELECT " ORDER_COLUMNS " FROM "
	    "acme_orders WHERE tenant = $1 AND id = $2", tenant, id);
}

int
zt_acme_order_by_serial(json_t **out, zt_db *db, const char *tenant,
    const char *serial)
{
	return order_query(out, db, "SELECT " ORDER_COLUMNS " FROM "
	    "acme_orders WHERE tenant = $1 AND serial = $2", tenant, serial);
}

/* Runs an UPDATE that must change exactly one row: ZT_ECONFLICT with
 * `msg` otherwise. */
static int
run_one(zt_stmt *st, const char *msg)
{
	int64_t n;
	int err;

	if ((err = zt_stmt_step(st)) < 0) {
		zt_stmt_reset(st);
		return err;
	}
	n = zt_stmt_changes(st);
	zt_stmt_reset(st);
	return n == 1 ? ZT_OK : zt_error_set(ZT_ECONFLICT, "%s", msg);
}

int
zt_acme_order_begin(zt_db *db, const char *tenant, const char *id)
{
	zt_stmt *st;
	int err;

	if ((err = prep(&st, db, "UPDATE acme_orders SET status = "
	    "'processing' WHERE tenant = $1 AND id = $2 AND status = 'ready' "
	    "AND expires >= $3", 2, tenant, id)) < 0 ||
	    (err = zt_stmt_bind_int(st, 3, zt_now_ms())) < 0)
		return err;
	return run_one(st, "the order is not ready");
}

int
zt_acme_order_abort(zt_db *db, const char *tenant, const char *id)
{
	zt_stmt *st;
	int err;

	if ((err = prep(&st, db, "UPDATE acme_orders SET status = 'ready' "
	    "WHERE tenant = $1 AND id = $2 AND status = 'processing'", 2,
	    tenant, id)) < 0)
		return err;
	return run_one(st, "the order is not processing");
}

int
zt_acme_order_set_cert(zt_db *db, const char *tenant, const char *id,
    const char *serial, const char *chain_pem)
{
	zt_stmt *st;
	int err;

	if ((err = prep(&st, db, "UPDATE acme_orders SET status = 'valid', "
	    "serial = $3, cert_pem = $4 WHERE tenant = $1 AND id = $2 AND "
	    "status = 'processing'", 4, tenant, id, serial, chain_pem)) < 0)
		return err;
	return run_one(st, "the order is not processing");
}

int
zt_acme_order_fail(zt_db *db, const char *tenant, const char *id,
    json_t *problem)
{
	char *etext = jdump(problem);
	zt_stmt *st;
	int err;

	if (etext == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	err = prep(&st, db, "UPDATE acme_orders SET status = 'invalid', "
	    "error = $3 WHERE tenant = $1 AND id = $2 AND status IN "
	    "('pending', 'ready')", 3, tenant, id, etext);
	free(etext);
	return err < 0 ? err : zt_stmt_run(st);
}

int
zt_acme_order_cert(char **pem, zt_db *db, const char *tenant,
    const char *id)
{
	zt_stmt *st;
	int rc;

	*pem = NULL;
	if ((rc = prep(&st, db, "SELECT cert_pem FROM acme_orders WHERE "
	    "tenant = $1 AND id = $2 AND status = 'valid'", 2, tenant,
	    id)) < 0)
		return rc;
	if ((rc = zt_stmt_step(st)) == ZT_ROW && zt_stmt_text(st, 0) &&
	    (*pem = strdup(zt_stmt_text(st, 0))) == NULL)
		rc = zt_error_set(ZT_ENOMEM, "out of memory");
	zt_stmt_reset(st);
	if (rc < 0)
		return rc;
	return *pem ? ZT_OK : zt_error_set(ZT_ENOTFOUND, "no such "
	    "certificate");
}

/* ---- authorizations and challenges -------------------------------------- */

#define CHALL_COLUMNS "id, authz_id, account_id, type, token, status, " \
	"validated, error"

static json_t *
chall_row(zt_stmt *st)
{
	json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}",
	    "id", zt_stmt_text(st, 0), "authz", zt_stmt_text(st, 1),
	    "account", zt_stmt_text(st, 2), "type", zt_stmt_text(st, 3),
	    "token", zt_stmt_text(st, 4), "status", zt_stmt_text(st, 5));
	json_t *e;

	if (c && zt_stmt_int(st, 6) > 0)
		json_object_set_new(c, "validated",
		    json_integer(zt_stmt_int(st, 6)));
	if (c && (e = jload(zt_stmt_text(st, 7))) != NULL)
		json_object_set_new(c, "error", e);
	return c;
}

int
zt_acme_chall_get(json_t **out, zt_db *db, const char *tenant,
    const char *id)
{
	zt_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = prep(&st, db, "SELECT " CHALL_COLUMNS " FROM "
	    "acme_challenges WHERE tenant = $1 AND id = $2", 2, tenant,
	    id)) < 0)
		return rc;
	if ((rc = zt_stmt_step(st)) == ZT_ROW &&
	    (*out = chall_row(st)) == NULL)
		rc = zt_error_set(ZT_ENOMEM, "out of memory");
	zt_stmt_reset(st);
	if (rc == ZT_DONE)
		return zt_error_set(ZT_ENOTFOUND, "no such challenge");
	return rc < 0 ? rc : ZT_OK;
}

int
zt_acme_authz_get(json_t **out, zt_db *db, const char *tenant,
    const char *id)
{
	json_t *challs;
	const char *status;
	zt_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = prep(&st, db, "SELECT id, order_id, account_id, type, "
	    "value, status, expires FROM acme_authzs WHERE tenant = $1 AND "
	    "id = $2", 2, tenant, id)) < 0)
		return rc;
	if ((rc = zt_stmt_step(st)) == ZT_ROW) {
		status = zt_stmt_text(st, 5);
		if (strcmp(status, "pending") == 0 &&
		    zt_stmt_int(st, 6) < zt_now_ms())
			status = "expired";
		*out = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:s,s:I}",
		    "id", zt_stmt_text(st, 0), "order", zt_stmt_text(st, 1),
		    "account", zt_stmt_text(st, 2), "identifier",
		    "type", zt_stmt_text(st, 3), "value", zt_stmt_text(st, 4),
		    "status", status, "expires",
		    (json_int_t)zt_stmt_int(st, 6));
	}
	zt_stmt_reset(st);
	if (rc == ZT_DONE)
		return zt_error_set(ZT_ENOTFOUND, "no such authorization");
	if (rc < 0)
		return rc;
	if (*out == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");

	challs = json_array();
	json_object_set_new(*out, "challenges", challs);
	if ((rc = prep(&st, db, "SELECT " CHALL_COLUMNS " FROM "
	    "acme_challenges WHERE tenant = $1 AND authz_id = $2 ORDER BY "
	    "type", 2, tenant, id)) < 0)
		goto bad;
	while ((rc = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(challs, chall_row(st));
	zt_stmt_reset(st);
	if (rc >= 0)
		return ZT_OK;
bad:
	json_decref(*out);
	*out = NULL;
	return rc;
}

int
zt_acme_chall_start(zt_db *db, const char *tenant, const char *id)
{
	zt_stmt *st;
	int err;

	if ((err = prep(&st, db, "UPDATE acme_challenges SET status = "
	    "'processing', due = $3 WHERE tenant = $1 AND id = $2 AND "
	    "status = 'pending' AND NOT EXISTS (SELECT 1 FROM "
	    "acme_challenges o WHERE o.tenant = $1 AND o.authz_id = "
	    "acme_challenges.authz_id AND o.status <> 'pending') AND "
	    "EXISTS (SELECT 1 FROM acme_authzs a WHERE a.tenant = $1 AND "
	    "a.id = acme_challenges.authz_id AND a.status = 'pending' AND "
	    "a.expires >= $3)", 2, tenant, id)) < 0 ||
	    (err = zt_stmt_bind_int(st, 3, zt_now_ms())) < 0)
		return err;
	return zt_stmt_run(st);
}

int
zt_acme_jobs_claim(zt_db *db, zt_acme_job *jobs, size_t max, size_t *n)
{
	int64_t now = zt_now_ms();
	zt_jose_key *key;
	zt_stmt *st;
	size_t i, k = 0;
	int rc;

	*n = 0;
	if ((rc = zt_db_prepare(&st, db, "SELECT c.tenant, c.id, c.type, "
	    "c.token, c.attempts, a.type, a.value, acc.jwk FROM "
	    "acme_challenges c JOIN acme_authzs a ON a.tenant = c.tenant AND "
	    "a.id = c.authz_id JOIN acme_accounts acc ON acc.tenant = "
	    "c.tenant AND acc.id = c.account_id WHERE c.status = "
	    "'processing' AND c.due <= $1 ORDER BY c.due LIMIT $2")) < 0 ||
	    (rc = zt_stmt_bind_int(st, 1, now)) < 0 ||
	    (rc = zt_stmt_bind_int(st, 2, (int64_t)max)) < 0)
		return rc;
	while (k < max && (rc = zt_stmt_step(st)) == ZT_ROW) {
		zt_acme_job *j = &jobs[k];

		memset(j, 0, sizeof(*j));
		snprintf(j->tenant, sizeof(j->tenant), "%s",
		    zt_stmt_text(st, 0));
		snprintf(j->id, sizeof(j->id), "%s", zt_stmt_text(st, 1));
		snprintf(j->type, sizeof(j->type), "%s", zt_stmt_text(st, 2));
		snprintf(j->token, sizeof(j->token), "%s",
		    zt_stmt_text(st, 3));
		j->attempts = (int)zt_stmt_int(st, 4);
		j->is_ip = strcmp(zt_stmt_text(st, 5), "ip") == 0;
		snprintf(j->value, sizeof(j->value), "%s",
		    zt_stmt_text(st, 6));
		key = NULL;
		if (zt_jose_key_from_jwk_text(&key, zt_stmt_text(st, 7),
		    strlen(zt_stmt_text(st, 7))) < 0 ||
		    zt_acme_keyauth(j->keyauth, sizeof(j->keyauth), j->token,
		    key) < 0) {
			zt_jose_key_free(key);
			continue;
		}
		zt_jose_key_free(key);
		k++;
	}
	zt_stmt_reset(st);
	if (rc < 0)
		return rc;

	/* Claim each: only the validator whose update moved `due` owns it. */
	for (i = 0; i < k; i++) {
		int64_t changed;

		if ((rc = prep(&st, db, "UPDATE acme_challenges SET due = $3 "
		    "WHERE tenant = $1 AND id = $2 AND status = 'processing' "
		    "AND due <= $4", 2, jobs[i].tenant, jobs[i].id)) < 0 ||
		    (rc = zt_stmt_bind_int(st, 3, now + CLAIM_MS)) < 0 ||
		    (rc = zt_stmt_bind_int(st, 4, now)) < 0)
			return rc;
		rc = zt_stmt_step(st);
		changed = zt_stmt_changes(st);
		zt_stmt_reset(st);
		if (rc < 0)
			return rc;
		if (changed == 1)
			jobs[(*n)++] = jobs[i];
	}
	return ZT_OK;
}

/* Makes the order of `authz` ready when all its authorizations are
 * valid, or invalid (with `problem`) when `problem` is given. */
static int
order_advance(zt_db *db, const char *tenant, const char *authz,
    const char *problem)
{
	zt_stmt *st;
	int err;

	if (problem) {
		if ((err = prep(&st, db, "UPDATE acme_orders SET status = "
		    "'invalid', error = $3 WHERE tenant = $1 AND status = "
		    "'pending' AND id = (SELECT order_id FROM acme_authzs "
		    "WHERE tenant = $1 AND id = $2)", 3, tenant, authz,
		    problem)) < 0)
			return err;
		return zt_stmt_run(st);
	}
	if ((err = prep(&st, db, "UPDATE acme_orders SET status = 'ready' "
	    "WHERE tenant = $1 AND status = 'pending' AND id = (SELECT "
	    "order_id FROM acme_authzs WHERE tenant = $1 AND id = $2) AND "
	    "NOT EXISTS (SELECT 1 FROM acme_authzs a WHERE a.tenant = $1 "
	    "AND a.order_id = acme_orders.id AND a.status <> 'valid')", 2,
	    tenant, authz)) < 0)
		return err;
	return zt_stmt_run(st);
}

int
zt_acme_job_done(zt_db *db, const zt_acme_job *job, bool ok, bool retry,
    enum zt_acme_prob prob, const char *detail)
{
	int64_t now = zt_now_ms();
	char *ptext = NULL, authz[ZT_ACME_ID_LEN + 1] = "";
	json_t *pdoc = NULL;
	zt_stmt *st;
	int err;

	/* Another try later: the target may not be listening yet. */
	if (!ok && retry && job->attempts + 1 < ZT_ACME_ATTEMPTS) {
		if ((err = prep(&st, db, "UPDATE acme_challenges SET attempts "
		    "= attempts + 1, due = $3 WHERE tenant = $1 AND id = $2 "
		    "AND status = 'processing'", 2, job->tenant,
		    job->id)) < 0 ||
		    (err = zt_stmt_bind_int(st, 3, now +
		    ZT_ACME_RETRY_MS)) < 0)
			return err;
		return zt_stmt_run(st);
	}
	if (!ok) {
		pdoc = zt_acme_prob_doc(prob, detail);
		if (pdoc)
			json_object_set_new(pdoc, "identifier", json_pack(
			    "{s:s,s:s}", "type", job->is_ip ? "ip" : "dns",
			    "value", job->value));
		if (pdoc == NULL || (ptext = jdump(pdoc)) == NULL) {
			json_decref(pdoc);
			return zt_error_set(ZT_ENOMEM, "out of memory");
		}
	}
	if ((err = zt_db_begin(db)) < 0)
		goto out;
	if ((err = prep(&st, db, "SELECT authz_id FROM acme_challenges "
	    "WHERE tenant = $1 AND id = $2 AND status = 'processing'", 2,
	    job->tenant, job->id)) < 0)
		goto rollback;
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		snprintf(authz, sizeof(authz), "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	if (err < 0)
		goto rollback;
	if (authz[0] == '\0') {
		err = zt_db_commit(db);
		goto out;
	}
	if ((err = prep(&st, db, "UPDATE acme_challenges SET status = $3, "
	    "validated = $4, error = $5, attempts = attempts + 1 WHERE "
	    "tenant = $1 AND id = $2", 3, job->tenant, job->id, ok ? "valid" :
	    "invalid")) < 0 ||
	    (err = zt_stmt_bind_int(st, 4, ok ? now : 0)) < 0 ||
	    (err = (ptext ? zt_stmt_bind_text(st, 5, ptext) :
	    zt_stmt_bind_null(st, 5))) < 0 ||
	    (err = zt_stmt_run(st)) < 0)
		goto rollback;
	if ((err = prep(&st, db, "UPDATE acme_authzs SET status = $3 WHERE "
	    "tenant = $1 AND id = $2 AND status = 'pending'", 3, job->tenant,
	    authz, ok ? "valid" : "invalid")) < 0 ||
	    (err = zt_stmt_run(st)) < 0 ||
	    (err = order_advance(db, job->tenant, authz, ptext)) < 0 ||
	    (err = zt_db_commit(db)) < 0)
		goto rollback;
	goto out;
rollback:
	zt_db_rollback(db);
out:
	free(ptext);
	json_decref(pdoc);
	return err;
}
