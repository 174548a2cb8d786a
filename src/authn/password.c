/*
 * password.c: Argon2id password hashes in PHC strings, the password policy
 * of an account system, and setting an account's password.
 *
 * A hash is "$argon2id$v=19$m=M,t=T,p=P$<salt>$<hash>" with a 16-byte
 * random salt and a 32-byte digest, as libargon2 encodes it.  The cost
 * comes from the account system's policy at the moment of hashing; a login
 * that finds an older cost rehashes (login.c), so raising the cost needs
 * no password reset.
 *
 * History: the row keeps the current hash and up to `history - 1` earlier
 * ones, each with its own parameters.  Checking a new password against
 * them costs one Argon2 run per entry, outside any transaction, so an
 * administrator's change of a 64-entry history takes seconds but holds no
 * lock meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>

#include "authn/authn_int.h"

#define SALT_LEN 16
#define DIGEST_LEN 32

int
zt_password_hash(char out[ZT_PHC_MAX], const zt_argon2_params *prm,
    const char *pw, size_t len)
{
	uint8_t salt[SALT_LEN];
	int err, rc;

	if (len > ZT_PASSWORD_MAX_BYTES)
		return zt_error_set(ZT_EINVAL, "password longer than %d bytes",
		    ZT_PASSWORD_MAX_BYTES);
	if ((err = zt_random(salt, sizeof(salt))) < 0)
		return err;
	rc = argon2id_hash_encoded(prm->t, prm->m_kib, prm->p, pw, len, salt,
	    sizeof(salt), DIGEST_LEN, out, ZT_PHC_MAX);
	zt_wipe(salt, sizeof(salt));
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
		return zt_error_set(ZT_ENOMEM, "argon2: out of memory");
	if (rc != ARGON2_OK)
		return zt_error_set(ZT_ERR, "argon2: %s",
		    argon2_error_message(rc));
	return ZT_OK;
}

/* Reads a decimal number of at most 10 digits that fits in uint32_t. */
static const char *
read_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	int n = 0;

	while (*s >= '0' && *s <= '9' && n < 11) {
		v = v * 10 + (uint64_t)(*s++ - '0');
		n++;
	}
	if (n == 0 || n > 10 || v > UINT32_MAX)
		return NULL;
	*out = (uint32_t)v;
	return s;
}

int
zt_phc_params(const char *phc, zt_argon2_params *out)
{
	static const char head[] = "$argon2id$v=19$m=";
	const char *s = phc;

	if (phc == NULL || strncmp(s, head, sizeof(head) - 1) != 0)
		goto bad;
	s += sizeof(head) - 1;
	if ((s = read_u32(s, &out->m_kib)) == NULL || strncmp(s, ",t=", 3))
		goto bad;
	if ((s = read_u32(s + 3, &out->t)) == NULL || strncmp(s, ",p=", 3))
		goto bad;
	if ((s = read_u32(s + 3, &out->p)) == NULL || *s != '$')
		goto bad;
	return ZT_OK;
bad:
	return zt_error_set(ZT_EINVAL, "not an Argon2id PHC string");
}

int
zt_password_check(const char *phc, const char *pw, size_t len,
    const zt_argon2_params *want, bool *stale)
{
	zt_argon2_params have;
	int rc;

	if (stale)
		*stale = false;
	if (zt_phc_params(phc, &have) < 0)
		return ZT_EINVAL;
	if (len > ZT_PASSWORD_MAX_BYTES)
		return zt_error_set(ZT_ENOTFOUND, "invalid credentials");
	rc = argon2id_verify(phc, pw, len);
	if (rc == ARGON2_VERIFY_MISMATCH)
		return zt_error_set(ZT_ENOTFOUND, "invalid credentials");
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
		return zt_error_set(ZT_ENOMEM, "argon2: out of memory");
	if (rc != ARGON2_OK)
		return zt_error_set(ZT_EINVAL, "argon2: %s",
		    argon2_error_message(rc));
	if (stale && want)
		*stale = have.m_kib != want->m_kib || have.t != want->t ||
		    have.p != want->p;
	return ZT_OK;
}

/* ---- policy -------------------------------------------------------------- */

static int64_t
policy_int(json_t *doc, const char *key, int64_t def)
{
	json_t *v = json_object_get(doc, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

void
zt_pw_policy_from_json(zt_pw_policy *out, json_t *doc)
{
	out->min_chars = policy_int(doc, "min_length", 12);
	out->max_chars = policy_int(doc, "max_length", 1024);
	out->history = policy_int(doc, "history", 0);
	out->lockout = policy_int(doc, "lockout_threshold", 10);
	out->argon2.m_kib = (uint32_t)policy_int(doc, "argon2_memory_kib",
	    ZT_ARGON2_M_DEFAULT);
	out->argon2.t = (uint32_t)policy_int(doc, "argon2_iterations",
	    ZT_ARGON2_T_DEFAULT);
	out->argon2.p = (uint32_t)policy_int(doc, "argon2_parallelism",
	    ZT_ARGON2_P_DEFAULT);
}

static int
common_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* Longer than any entry of the list. */
#define COMMON_MAX 64

bool
zt_password_is_common(const char *pw, size_t len)
{
	char low[COMMON_MAX + 1];
	bool hit;
	size_t i;

	if (len > COMMON_MAX)
		return false;
	for (i = 0; i < len; i++)
		low[i] = pw[i] >= 'A' && pw[i] <= 'Z' ? pw[i] - 'A' + 'a' :
		    pw[i];
	low[len] = '\0';
	hit = bsearch(low, zt_common_passwords, zt_common_passwords_count,
	    sizeof(zt_common_passwords[0]), common_cmp) != NULL;
	zt_wipe(low, sizeof(low));
	return hit;
}

/* Code points of valid UTF-8. */
static int64_t
utf8_count(const char *s, size_t n)
{
	int64_t c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

int
zt_pw_policy_check(const zt_pw_policy *pol, const char *pw, size_t len)
{
	int64_t chars;

	if (len > ZT_PASSWORD_MAX_BYTES)
		return zt_error_set(ZT_EINVAL, "password refused by rule "
		    "\"max_bytes\": at most %d bytes", ZT_PASSWORD_MAX_BYTES);
	if (!zt_utf8_valid(pw, len))
		return zt_error_set(ZT_EINVAL, "password refused by rule "
		    "\"utf8\": it must be UTF-8 text without NUL");
	chars = utf8_count(pw, len);
	if (chars < pol->min_chars)
		return zt_error_set(ZT_EINVAL, "password refused by rule "
		    "\"min_length\": at least %lld characters",
		    (long long)pol->min_chars);
	if (chars > pol->max_chars)
		return zt_error_set(ZT_EINVAL, "password refused by rule "
		    "\"max_length\": at most %lld characters",
		    (long long)pol->max_chars);
	if (zt_password_is_common(pw, len))
		return zt_error_set(ZT_EINVAL, "password refused by rule "
		    "\"common\": it is on the list of common passwords");
	return ZT_OK;
}

/* ---- an account's password ---------------------------------------------- */

/* The stored row, or an empty current hash and history when none. */
struct pw_row {
	char hash[ZT_PHC_MAX];
	json_t *history;	/* array of PHC strings, newest first */
	bool exists;
};

static int
pw_row_read(struct pw_row *r, zt_db *db, const char *tenant,
    const char *account)
{
	zt_stmt *st;
	int err;

	memset(r, 0, sizeof(*r));
	if ((err = zt_db_prepare(&st, db, "SELECT hash, history FROM"
	    " account_passwords WHERE tenant = $1 AND account_id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, account);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		r->exists = true;
		snprintf(r->hash, sizeof(r->hash), "%s", zt_stmt_text(st, 0));
		r->history = json_loads(zt_stmt_text(st, 1), 0, NULL);
	}
	zt_stmt_reset(st);
	if (!json_is_array(r->history)) {
		json_decref(r->history);
		r->history = json_array();
	}
	return err < 0 ? err : ZT_OK;
}

/* ZT_EINVAL when `pw` matches the current hash or one of the `keep`
 * newest earlier ones. */
static int
pw_history_check(const struct pw_row *r, int64_t n, const char *pw,
    size_t len)
{
	size_t i;
	int err;

	if (n <= 0 || !r->exists)
		return ZT_OK;
	err = zt_password_check(r->hash, pw, len, NULL, NULL);
	for (i = 0; err != ZT_OK && (int64_t)i < n - 1 &&
	    i < json_array_size(r->history); i++)
		err = zt_password_check(json_string_value(json_array_get(
		    r->history, i)), pw, len, NULL, NULL);
	if (err == ZT_OK)
		return zt_error_set(ZT_EINVAL, "password refused by rule "
		    "\"history\": it is one of the last %lld passwords",
		    (long long)n);
	zt_error_clear();
	return ZT_OK;
}

static int
pw_row_write(zt_db *db, const char *tenant, const char *account,
    const char *hash, json_t *history, int64_t now)
{
	char *hist = json_dumps(history, JSON_COMPACT);
	zt_stmt *st;
	int err;

	if (hist == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = zt_db_prepare(&st, db, "INSERT INTO account_passwords"
	    " (tenant, account_id, hash, history, changed_at) VALUES"
	    " ($1, $2, $3, $4, $5) ON CONFLICT (tenant, account_id) DO UPDATE"
	    " SET hash = excluded.hash, history = excluded.history,"
	    " changed_at = excluded.changed_at")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, tenant);
		zt_stmt_bind_text(st, 2, account);
		zt_stmt_bind_text(st, 3, hash);
		zt_stmt_bind_text(st, 4, hist);
		zt_stmt_bind_int(st, 5, now);
		err = zt_stmt_step(st);
		zt_stmt_reset(st);
	}
	free(hist);
	return err < 0 ? err : ZT_OK;
}

/* The earlier hashes to keep after a change: the old current one first,
 * `n - 1` in all. */
static json_t *
pw_history_next(const struct pw_row *r, int64_t n)
{
	json_t *h = json_array();
	size_t i;

	if (n <= 1 || !r->exists)
		return h;
	json_array_append_new(h, json_string(r->hash));
	for (i = 0; (int64_t)json_array_size(h) < n - 1 &&
	    i < json_array_size(r->history); i++)
		json_array_append(h, json_array_get(r->history, i));
	return h;
}

static json_t *
pw_audit_doc(const char *account, const zt_argon2_params *p)
{
	return json_pack("{s:s, s:{s:I, s:I, s:I}}", "account_id", account,
	    "argon2", "m_kib", (json_int_t)p->m_kib, "t", (json_int_t)p->t,
	    "p", (json_int_t)p->p);
}

int
zt_password_set(const zt_id_ctx *cx, const char *tenant, const char *account,
    const char *pw, size_t len)
{
	struct authn_account a;
	struct pw_row row = { 0 };
	char hash[ZT_PHC_MAX];
	json_t *hist = NULL, *doc = NULL;
	int err;

	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	if ((err = zt_pw_policy_check(&a.policy, pw, len)) < 0)
		return err;

	/* The slow part, before the transaction. */
	if ((err = pw_row_read(&row, cx->db, tenant, a.id)) < 0 ||
	    (err = pw_history_check(&row, a.policy.history, pw, len)) < 0 ||
	    (err = zt_password_hash(hash, &a.policy.argon2, pw, len)) < 0)
		goto out;
	hist = pw_history_next(&row, a.policy.history);
	doc = pw_audit_doc(a.id, &a.policy.argon2);

	if ((err = zt_db_begin(cx->db)) < 0)
		goto out;
	if ((err = pw_row_write(cx->db, tenant, a.id, hash, hist,
	    authn_now_ms())) < 0 ||
	    (err = authn_audit(cx, "password.set", tenant, "account", a.id,
	    doc)) < 0 || (err = zt_db_commit(cx->db)) < 0)
		zt_db_rollback(cx->db);
out:
	zt_wipe(hash, sizeof(hash));
	json_decref(row.history);
	json_decref(hist);
	json_decref(doc);
	return err;
}

int
zt_password_delete(const zt_id_ctx *cx, const char *tenant,
    const char *account)
{
	struct authn_account a;
	zt_stmt *st;
	json_t *doc;
	int err;

	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, "DELETE FROM account_passwords"
	    " WHERE tenant = $1 AND account_id = $2")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, a.id);
	err = zt_stmt_step(st);
	if (err >= 0 && zt_stmt_changes(st) == 0)
		err = zt_error_set(ZT_ENOTFOUND, "the account has no password");
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;
	doc = json_pack("{s:s}", "account_id", a.id);
	err = authn_audit(cx, "password.delete", tenant, "account", a.id, doc);
	json_decref(doc);
	if (err < 0 || (err = zt_db_commit(cx->db)) < 0)
		goto fail;
	return ZT_OK;
fail:
	zt_db_rollback(cx->db);
	return err;
}
