/*
 * store.c: the certificate inventory, revocation and the counters the CA
 * keeps (revocation epoch, CRL numbers, bundle sequence numbers).
 *
 * ca_certs is keyed by serial alone, not by tenant first as tenant data
 * elsewhere is: OCSP and CRLs ask by serial and issuer, with no tenant in
 * the question, and serials are 128 random bits, unique across the CA.
 * Every tenant-facing query binds the tenant and reads a tenant-first
 * index.
 *
 * Revocation bumps one counter, ca_state "revocation_epoch", in the same
 * transaction; holders of an in-memory revoked set (zt_ca_revset) compare
 * the counter and reload only when it moved.  OCSP answers from the
 * primary key directly, so a revocation is visible to the next OCSP
 * request on every node that shares the database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca_int.h"

#define CA_SCHEMA_V1(KT, BLOB)						\
	"CREATE TABLE ca_certs ("					\
	" serial " KT " PRIMARY KEY,"					\
	" tenant " KT " NOT NULL,"					\
	" identity_id " KT ","						\
	" spiffe_id TEXT,"						\
	" profile TEXT NOT NULL,"					\
	" not_before BIGINT NOT NULL,"					\
	" not_after BIGINT NOT NULL,"					\
	" issuer_key_id " KT " NOT NULL,"				\
	" revoked_at BIGINT NOT NULL,"					\
	" reason INTEGER NOT NULL,"					\
	" created_at BIGINT NOT NULL,"					\
	" der " BLOB " NOT NULL);"					\
	"CREATE INDEX ca_certs_identity"				\
	" ON ca_certs (tenant, identity_id, not_after);"		\
	"CREATE INDEX ca_certs_expiry ON ca_certs (tenant, not_after);"	\
	"CREATE INDEX ca_certs_revoked ON ca_certs (tenant, revoked_at)" \
	" WHERE revoked_at > 0;"					\
	"CREATE INDEX ca_certs_issuer_revoked"				\
	" ON ca_certs (issuer_key_id, revoked_at) WHERE revoked_at > 0;" \
	"CREATE INDEX ca_certs_issuer ON ca_certs (issuer_key_id, not_after);" \
	"CREATE TABLE ca_state ("					\
	" name " KT " PRIMARY KEY,"					\
	" value BIGINT NOT NULL);"

static const zt_migration ca_steps[] = {
	{ 1, "certificate inventory and CA counters",
	  CA_SCHEMA_V1("TEXT", "BLOB"),
	  CA_SCHEMA_V1("TEXT COLLATE \"C\"", "BYTEA") },
};

const zt_migration_set zt_ca_migrations = {
	"ca", ca_steps, ZT_ARRAY_LEN(ca_steps),
};

#define CERT_COLUMNS "serial, tenant, identity_id, spiffe_id, profile," \
	" not_before, not_after, issuer_key_id, revoked_at, reason"

/* ---- names of things ------------------------------------------------------------- */

static const struct { int code; const char *name; } reasons[] = {
	{ ZT_CA_UNSPECIFIED, "unspecified" },
	{ ZT_CA_KEY_COMPROMISE, "keyCompromise" },
	{ ZT_CA_CA_COMPROMISE, "cACompromise" },
	{ ZT_CA_AFFILIATION_CHANGED, "affiliationChanged" },
	{ ZT_CA_SUPERSEDED, "superseded" },
	{ ZT_CA_CESSATION, "cessationOfOperation" },
	{ ZT_CA_CERTIFICATE_HOLD, "certificateHold" },
	{ ZT_CA_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn" },
};

int
zt_ca_reason_parse(const char *s, int *reason)
{
	size_t i;

	for (i = 0; s != NULL && i < ZT_ARRAY_LEN(reasons); i++)
		if (strcmp(s, reasons[i].name) == 0) {
			*reason = reasons[i].code;
			return ZT_OK;
		}
	return zt_error_set(ZT_EINVAL, "unknown revocation reason");
}

const char *
zt_ca_reason_name(int reason)
{
	size_t i;

	for (i = 0; i < ZT_ARRAY_LEN(reasons); i++)
		if (reasons[i].code == reason)
			return reasons[i].name;
	return NULL;
}

/* Canonical form of a serial given by a caller: lowercase hex without
 * leading zeros, 1 to 40 digits. */
static int
serial_norm(char out[ZT_CA_SERIAL_HEX], const char *in)
{
	size_t i = 0, n, o = 0;

	if (in == NULL)
		return zt_error_set(ZT_EINVAL, "serial is required");
	n = strnlen(in, 200);
	while (i + 1 < n && in[i] == '0')
		i++;
	if (n == 0 || n - i > 40)
		return zt_error_set(ZT_EINVAL, "serial must be 1 to 40 hex "
		    "digits");
	for (; i < n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return zt_error_set(ZT_EINVAL, "serial must be hex");
		out[o++] = c;
	}
	out[o] = '\0';
	return ZT_OK;
}

int
ca_serial_bytes(uint8_t out[20], size_t *n, const char *hex)
{
	size_t len = strlen(hex), i, nb = (len + 1) / 2;
	char pad[42];

	if (len == 0 || len > 40)
		return ZT_EINVAL;
	/* An odd count gets a leading zero nibble. */
	snprintf(pad, sizeof(pad), "%s%s", len % 2 ? "0" : "", hex);
	memset(out, 0, 20);
	for (i = 0; i < 2 * nb; i++) {
		char c = pad[i];
		int v = c >= '0' && c <= '9' ? c - '0' :
		    c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return ZT_EINVAL;
		out[20 - nb + i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
	}
	*n = nb;
	return ZT_OK;
}

/* ---- counters ----------------------------------------------------------------------- */

static int
counter_next(zt_db *db, const char *name, int64_t *value)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "INSERT INTO ca_state (name, value)"
	    " VALUES ($1, 1) ON CONFLICT (name) DO UPDATE"
	    " SET value = ca_state.value + 1 RETURNING value")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, name);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*value = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		err = zt_error_set(ZT_ERR, "counter %s not returned", name);
	return err < 0 ? err : ZT_OK;
}

/* Runs counter_next in a transaction of its own. */
static int
counter_next_tx(zt_db *db, const char *name, int64_t *value)
{
	int err;

	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = counter_next(db, name, value)) < 0 ||
	    (err = zt_db_commit(db)) < 0)
		zt_db_rollback(db);
	return err;
}

int
zt_ca_epoch(zt_db *db, int64_t *epoch)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT value FROM ca_state"
	    " WHERE name = 'revocation_epoch'")) < 0)
		return err;
	*epoch = 0;
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*epoch = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
zt_ca_crl_number_next(zt_db *db, const char *key_id, int64_t *number)
{
	char name[ZT_CA_KEY_ID_MAX + 16];

	snprintf(name, sizeof(name), "crl_number:%s", key_id);
	return counter_next_tx(db, name, number);
}

int
zt_ca_bundle_sequence_next(zt_db *db, const char *trust_domain,
    int64_t *seq)
{
	char name[SPIFFE_TD_MAX + 16];

	snprintf(name, sizeof(name), "bundle_seq:%s", trust_domain);
	return counter_next_tx(db, name, seq);
}

int
zt_ca_generation(zt_db *db, const char *trust_domain, int64_t *gen)
{
	char name[SPIFFE_TD_MAX + 16];
	zt_stmt *st;
	int err;

	snprintf(name, sizeof(name), "generation:%s", trust_domain);
	if ((err = zt_db_prepare(&st, db, "SELECT value FROM ca_state"
	    " WHERE name = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, name);
	*gen = 0;
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*gen = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
zt_ca_generation_bump(zt_db *db, const char *trust_domain)
{
	char name[SPIFFE_TD_MAX + 16];
	int64_t gen;

	snprintf(name, sizeof(name), "generation:%s", trust_domain);
	return counter_next_tx(db, name, &gen);
}

/* ---- issuance and refusal records --------------------------------------------------- */

int
ca_store_cert(zt_db *db, const zt_ca *ca, const zt_ca_request *req,
    const zt_ca_issued *c)
{
	char target[ZT_CA_SERIAL_HEX + 8];
	zt_audit_entry e;
	json_t *after;
	zt_stmt *st;
	int err;

	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, "INSERT INTO ca_certs (serial,"
	    " tenant, identity_id, spiffe_id, profile, not_before, not_after,"
	    " issuer_key_id, revoked_at, reason, created_at, der)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10)")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, c->serial);
	zt_stmt_bind_text(st, 2, req->tenant);
	zt_stmt_bind_text(st, 3, req->identity_id);
	zt_stmt_bind_text(st, 4, req->spiffe_id);
	zt_stmt_bind_text(st, 5, zt_ca_profile_name(req->profile));
	zt_stmt_bind_int(st, 6, c->not_before);
	zt_stmt_bind_int(st, 7, c->not_after);
	zt_stmt_bind_text(st, 8, ca->key_id);
	zt_stmt_bind_int(st, 9, zt_now_ms());
	zt_stmt_bind_blob(st, 10, c->der, c->der_len);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;

	snprintf(target, sizeof(target), "cert:%s", c->serial);
	after = json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:s, s:s?}",
	    "profile", zt_ca_profile_name(req->profile),
	    "identity_id", req->identity_id,
	    "spiffe_id", req->spiffe_id,
	    "issuer_key_id", ca->key_id,
	    "not_after", (json_int_t)c->not_after,
	    "serial", c->serial,
	    "via", req->via);
	e = (zt_audit_entry){ "cert.issue", req->tenant, target, NULL, after };
	err = zt_audit_append(db, req->caller, &e);
	json_decref(after);
	if (err < 0 || (err = zt_db_commit(db)) < 0)
		goto fail;
	return ZT_OK;
fail:
	zt_db_rollback(db);
	return err;
}

int
ca_audit_refusal(zt_db *db, const zt_ca_request *req, const char *why)
{
	char target[300];
	zt_audit_entry e;
	json_t *after;
	int err;

	if (db == NULL)
		return ZT_OK;
	snprintf(target, sizeof(target), "identity:%s",
	    req->identity_id ? req->identity_id : "-");
	after = json_pack("{s:s, s:s, s:s?, s:s?}",
	    "reason", why,
	    "profile", zt_ca_profile_name(req->profile),
	    "spiffe_id", req->spiffe_id,
	    "via", req->via);
	e = (zt_audit_entry){ "cert.refuse", req->tenant, target, NULL, after };
	if ((err = zt_db_begin(db)) == ZT_OK) {
		if ((err = zt_audit_append(db, req->caller, &e)) < 0 ||
		    (err = zt_db_commit(db)) < 0)
			zt_db_rollback(db);
	}
	json_decref(after);
	if (err < 0)
		log_warn("ca: refusal not audited", ZS("error",
		    zt_error_msg()));
	return err;
}

/* ---- revocation ------------------------------------------------------------------------ */

static int
reason_check(int reason)
{
	if (zt_ca_reason_name(reason) == NULL)
		return zt_error_set(ZT_EINVAL, "unknown revocation reason %d",
		    reason);
	/* removeFromCRL (8) belongs to delta CRLs, which ztiam does not
	 * make. */
	return ZT_OK;
}

/* Records the revocation and bumps the epoch; the caller's transaction. */
static int
revoked_record(zt_db *db, const zt_actor *actor, const char *tenant,
    const char *target, int reason, int64_t count)
{
	zt_audit_entry e;
	json_t *after;
	int64_t epoch;
	int err;

	if ((err = counter_next(db, "revocation_epoch", &epoch)) < 0)
		return err;
	after = json_pack("{s:s, s:I}", "reason", zt_ca_reason_name(reason),
	    "count", (json_int_t)count);
	e = (zt_audit_entry){ "cert.revoke", tenant, target, NULL, after };
	err = zt_audit_append(db, actor, &e);
	json_decref(after);
	return err;
}

int
zt_ca_revoke_serial(zt_db *db, const zt_actor *actor, const char *tenant,
    const char *serial, int reason)
{
	char sn[ZT_CA_SERIAL_HEX], target[ZT_CA_SERIAL_HEX + 8], *owner = NULL;
	zt_stmt *st;
	int err;

	if ((err = serial_norm(sn, serial)) < 0 ||
	    (err = reason_check(reason)) < 0)
		return err;
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, "SELECT tenant, revoked_at FROM"
	    " ca_certs WHERE serial = $1")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, sn);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (tenant && strcmp(tenant, zt_stmt_text(st, 0)) != 0)
			err = ZT_DONE;	/* another tenant's: not found */
		else if (zt_stmt_int(st, 1) != 0)
			err = zt_error_set(ZT_ECONFLICT, "certificate is "
			    "already revoked");
		else if ((owner = strdup(zt_stmt_text(st, 0))) == NULL)
			err = zt_error_set(ZT_ENOMEM, "out of memory");
	}
	zt_stmt_reset(st);
	if (err == ZT_DONE)
		err = zt_error_set(ZT_ENOTFOUND, "no such certificate");
	if (err < 0)
		goto fail;

	if ((err = zt_db_prepare(&st, db, "UPDATE ca_certs SET revoked_at ="
	    " $2, reason = $3 WHERE serial = $1 AND revoked_at = 0")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, sn);
	zt_stmt_bind_int(st, 2, zt_now_ms());
	zt_stmt_bind_int(st, 3, reason);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	snprintf(target, sizeof(target), "cert:%s", sn);
	if (err < 0 || (err = revoked_record(db, actor, owner, target, reason,
	    1)) < 0 || (err = zt_db_commit(db)) < 0)
		goto fail;
	free(owner);
	return ZT_OK;
fail:
	free(owner);
	zt_db_rollback(db);
	return err;
}

/* One UPDATE over many rows, then its record, in one transaction. */
static int
revoke_many(zt_db *db, const zt_actor *actor, const char *tenant,
    const char *target, const char *sql, const char *a, const char *b,
    int reason, int64_t *count)
{
	int64_t n, now = zt_now_ms();
	zt_stmt *st;
	int err;

	if ((err = reason_check(reason)) < 0)
		return err;
	if ((err = zt_db_begin(db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		goto fail;
	zt_stmt_bind_int(st, 1, now);
	zt_stmt_bind_int(st, 2, reason);
	zt_stmt_bind_text(st, 3, a);
	if (b)
		zt_stmt_bind_text(st, 4, b);
	err = zt_stmt_step(st);
	n = zt_stmt_changes(st);
	zt_stmt_reset(st);
	if (err < 0 || (err = revoked_record(db, actor, tenant, target, reason,
	    n)) < 0 || (err = zt_db_commit(db)) < 0)
		goto fail;
	if (count)
		*count = n;
	return ZT_OK;
fail:
	zt_db_rollback(db);
	return err;
}

int
zt_ca_revoke_identity(zt_db *db, const zt_actor *actor, const char *tenant,
    const char *identity_id, int reason, int64_t *count)
{
	char target[300];

	if (tenant == NULL || identity_id == NULL)
		return zt_error_set(ZT_EINVAL, "tenant and identity are "
		    "required");
	snprintf(target, sizeof(target), "identity:%s", identity_id);
	/* Expired certificates need no revocation and stay as they were. */
	return revoke_many(db, actor, tenant, target, "UPDATE ca_certs SET"
	    " revoked_at = $1, reason = $2 WHERE tenant = $3 AND"
	    " identity_id = $4 AND revoked_at = 0 AND not_after > $1",
	    tenant, identity_id, reason, count);
}

int
zt_ca_revoke_issuer(zt_db *db, const zt_actor *actor,
    const char *issuer_key_id, int reason, int64_t *count)
{
	char target[ZT_CA_KEY_ID_MAX + 8];

	if (issuer_key_id == NULL)
		return zt_error_set(ZT_EINVAL, "issuer key id is required");
	snprintf(target, sizeof(target), "key:%s", issuer_key_id);
	return revoke_many(db, actor, NULL, target, "UPDATE ca_certs SET"
	    " revoked_at = $1, reason = $2 WHERE issuer_key_id = $3 AND"
	    " revoked_at = 0 AND not_after > $1", issuer_key_id, NULL,
	    reason, count);
}

/* ---- lists ------------------------------------------------------------------------------- */

static json_t *
cert_json(zt_stmt *st)
{
	char nb[32], na[32], ra[32];
	int64_t rev = zt_stmt_int(st, 8);

	zt_time_format(nb, zt_stmt_int(st, 5));
	zt_time_format(na, zt_stmt_int(st, 6));
	zt_time_format(ra, rev);
	return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s?,"
	    " s:s?}",
	    "serial", zt_stmt_text(st, 0),
	    "tenant", zt_stmt_text(st, 1),
	    "identity_id", zt_stmt_text(st, 2),
	    "spiffe_id", zt_stmt_text(st, 3),
	    "profile", zt_stmt_text(st, 4),
	    "not_before", nb,
	    "not_after", na,
	    "issuer_key_id", zt_stmt_text(st, 7),
	    "revoked_at", rev ? ra : NULL,
	    "reason", rev ? zt_ca_reason_name((int)zt_stmt_int(st, 9)) : NULL);
}

/* Runs a list query: $1 the tenant, $2 the limit, $3 `text3` or `num`,
 * and $4 `num4` when the SQL has it (`four`). */
static int
list_run(json_t **out, zt_db *db, const char *sql, const char *tenant,
    const char *text3, int64_t num, int limit, bool four, int64_t num4)
{
	json_t *arr;
	zt_stmt *st;
	int err;

	if (tenant == NULL)
		return zt_error_set(ZT_EINVAL, "tenant is required");
	if (limit < 1 || limit > 1000)
		return zt_error_set(ZT_EINVAL, "limit must be 1 to 1000");
	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_int(st, 2, limit);
	if (text3)
		zt_stmt_bind_text(st, 3, text3);
	else
		zt_stmt_bind_int(st, 3, num);
	if (four)
		zt_stmt_bind_int(st, 4, num4);
	arr = json_array();
	while ((err = zt_stmt_step(st)) == ZT_ROW)
		json_array_append_new(arr, cert_json(st));
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(arr);
		return err;
	}
	*out = arr;
	return ZT_OK;
}

int
zt_ca_list_identity(json_t **out, zt_db *db, const char *tenant,
    const char *identity_id, int limit)
{
	if (identity_id == NULL)
		return zt_error_set(ZT_EINVAL, "identity is required");
	return list_run(out, db, "SELECT " CERT_COLUMNS " FROM ca_certs"
	    " WHERE tenant = $1 AND identity_id = $3"
	    " ORDER BY not_after DESC LIMIT $2", tenant, identity_id, 0, limit,
	    false, 0);
}

int
zt_ca_list_expiring(json_t **out, zt_db *db, const char *tenant,
    int64_t within_s, int limit)
{
	int64_t now = zt_now_ms();

	if (within_s < 0 || within_s > 10LL * 365 * 86400)
		return zt_error_set(ZT_EINVAL, "window out of range");
	/* Still valid now, not revoked, ending within the window: the
	 * ones someone should renew. */
	return list_run(out, db, "SELECT " CERT_COLUMNS " FROM ca_certs"
	    " WHERE tenant = $1 AND not_after > $4 AND not_after <= $3"
	    " AND revoked_at = 0 ORDER BY not_after LIMIT $2", tenant, NULL,
	    now + within_s * 1000, limit, true, now);
}

int
zt_ca_list_revoked(json_t **out, zt_db *db, const char *tenant, int limit)
{
	return list_run(out, db, "SELECT " CERT_COLUMNS " FROM ca_certs"
	    " WHERE tenant = $1 AND revoked_at > $3"
	    " ORDER BY revoked_at DESC LIMIT $2", tenant, NULL, 0, limit,
	    false, 0);
}

int
zt_ca_get_der(uint8_t **der, size_t *len, zt_db *db, const char *tenant,
    const char *serial)
{
	char sn[ZT_CA_SERIAL_HEX];
	const void *p;
	zt_stmt *st;
	int err;

	if ((err = serial_norm(sn, serial)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, db, "SELECT der, tenant FROM ca_certs"
	    " WHERE serial = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, sn);
	err = zt_stmt_step(st);
	if (err == ZT_ROW && (tenant == NULL ||
	    strcmp(tenant, zt_stmt_text(st, 1)) == 0)) {
		p = zt_stmt_blob(st, 0, len);
		if ((*der = malloc(*len ? *len : 1)) == NULL)
			err = zt_error_set(ZT_ENOMEM, "out of memory");
		else
			memcpy(*der, p, *len);
	} else if (err >= 0) {
		err = zt_error_set(ZT_ENOTFOUND, "no such certificate");
	}
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
zt_ca_issuer_last_expiry(zt_db *db, const char *key_id, int64_t *ms)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT MAX(not_after) FROM ca_certs"
	    " WHERE issuer_key_id = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, key_id);
	*ms = 0;
	if ((err = zt_stmt_step(st)) == ZT_ROW && !zt_stmt_is_null(st, 0))
		*ms = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
zt_ca_status_db(void *arg, const char *issuer_key_id, const char *serial,
    enum zt_ca_status *status, int64_t *revoked_at, int *reason)
{
	zt_db *db = arg;
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT revoked_at, reason,"
	    " issuer_key_id FROM ca_certs WHERE serial = $1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, serial);
	*status = ZT_CA_UNKNOWN;
	if ((err = zt_stmt_step(st)) == ZT_ROW &&
	    strcmp(zt_stmt_text(st, 2), issuer_key_id) == 0) {
		*revoked_at = zt_stmt_int(st, 0);
		*reason = (int)zt_stmt_int(st, 1);
		*status = *revoked_at ? ZT_CA_REVOKED : ZT_CA_GOOD;
	}
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}
