/*
 * login.c: the password step of a login, as the login page will call it.
 *
 * What an attacker can learn from the answer is nothing: every failure is
 * the same "invalid credentials" after the same Argon2 work (an unknown
 * name is hashed against nothing with the account system's own cost), and
 * a throttled attempt is "too many attempts" whether the name exists or
 * not, decided before any lookup of the name.  The throttle counts names
 * and addresses, known or not (throttle.c).
 */
#include <stdio.h>
#include <string.h>

#include <argon2.h>

#include "authn/authn_int.h"

#define LOGIN_KEY_MAX (ZT_TENANT_ID_MAX + ZT_NAME_MAX + 256 + 8)

/* The throttle key of a name: case folded as identity folds logins. */
static void
name_key(char *out, size_t n, const char *tenant, const char *sys,
    const char *login)
{
	size_t i, len;

	snprintf(out, n, "n:%s\n%s\n%s", tenant, sys, login);
	len = strlen(out);
	for (i = 0; i < len; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = out[i] - 'A' + 'a';
}

/* The account system named `name`, its id and password policy; a missing
 * one leaves the defaults so the work done looks the same. */
static int
system_find(const zt_id_ctx *cx, const char *tenant, const char *name,
    char id[ZT_ID_LEN + 1], zt_pw_policy *pol, bool *mfa)
{
	json_t *s;
	int err;

	id[0] = '\0';
	*mfa = false;
	zt_pw_policy_from_json(pol, NULL);
	err = zt_acctsys_get_by_name(&s, cx, tenant, name);
	if (err == ZT_ENOTFOUND || err == ZT_EINVAL)
		return ZT_OK;
	if (err < 0)
		return err;
	snprintf(id, ZT_ID_LEN + 1, "%s",
	    json_string_value(json_object_get(s, "id")));
	zt_pw_policy_from_json(pol, json_object_get(s, "password_policy"));
	*mfa = json_is_true(json_object_get(s, "mfa_required"));
	json_decref(s);
	return ZT_OK;
}

/* The account of `login` in system `sys`: its id, identity and whether
 * both are active.  ZT_ENOTFOUND when there is none. */
static int
account_find(const zt_id_ctx *cx, const char *tenant, const char *sys,
    const char *login, zt_login *out, bool *active)
{
	json_t *ident = NULL, *accts = NULL, *a;
	const char *ident_id;
	size_t i;
	int err;

	*active = false;
	if ((err = zt_identity_get_by_login(&ident, cx, tenant, sys,
	    login)) < 0)
		return err;
	ident_id = json_string_value(json_object_get(ident, "id"));
	if ((err = zt_account_list(&accts, cx, tenant, ident_id)) < 0)
		goto out;
	err = zt_error_set(ZT_ENOTFOUND, "no account");
	json_array_foreach(accts, i, a) {
		if (strcmp(json_string_value(json_object_get(a, "system_id")),
		    sys) != 0)
			continue;
		snprintf(out->account_id, sizeof(out->account_id), "%s",
		    json_string_value(json_object_get(a, "id")));
		snprintf(out->identity_id, sizeof(out->identity_id), "%s",
		    ident_id);
		*active = strcmp(json_string_value(json_object_get(a,
		    "state")), "active") == 0 && strcmp(json_string_value(
		    json_object_get(ident, "state")), "active") == 0;
		err = ZT_OK;
		break;
	}
out:
	json_decref(ident);
	json_decref(accts);
	return err;
}

static int
hash_read(zt_db *db, const char *tenant, const char *account,
    char out[ZT_PHC_MAX])
{
	zt_stmt *st;
	int err;

	out[0] = '\0';
	if ((err = zt_db_prepare(&st, db, "SELECT hash FROM account_passwords"
	    " WHERE tenant = $1 AND account_id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, account);
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		snprintf(out, ZT_PHC_MAX, "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

/* The Argon2 work of a check, spent on nothing: for names without a
 * password, so that their answer takes as long as a wrong password. */
static void
dummy_hash(const zt_pw_policy *pol, const char *pw, size_t len)
{
	static const uint8_t salt[16] = "ztiam-no-such-1";
	uint8_t out[32];

	if (len > ZT_PASSWORD_MAX_BYTES)
		return;
	(void)argon2id_hash_raw(pol->argon2.t, pol->argon2.m_kib,
	    pol->argon2.p, pw, len, salt, sizeof(salt), out, sizeof(out));
	zt_wipe(out, sizeof(out));
}

/* Replaces a hash made with an older cost; the password is known good. */
static int
rehash(const zt_id_ctx *cx, const char *tenant, const char *account,
    const zt_pw_policy *pol, const char *pw, size_t len)
{
	char hash[ZT_PHC_MAX];
	json_t *doc;
	zt_stmt *st;
	int err;

	if ((err = zt_password_hash(hash, &pol->argon2, pw, len)) < 0)
		return err;
	if ((err = zt_db_begin(cx->db)) < 0)
		goto out;
	if ((err = zt_db_prepare(&st, cx->db, "UPDATE account_passwords SET"
	    " hash = $1 WHERE tenant = $2 AND account_id = $3")) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, hash);
	zt_stmt_bind_text(st, 2, tenant);
	zt_stmt_bind_text(st, 3, account);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;
	doc = json_pack("{s:s, s:{s:I, s:I, s:I}}", "account_id", account,
	    "argon2", "m_kib", (json_int_t)pol->argon2.m_kib,
	    "t", (json_int_t)pol->argon2.t, "p", (json_int_t)pol->argon2.p);
	err = authn_audit(cx, "password.rehash", tenant, "account", account,
	    doc);
	json_decref(doc);
	if (err < 0 || (err = zt_db_commit(cx->db)) < 0)
		goto fail;
	goto out;
fail:
	zt_db_rollback(cx->db);
out:
	zt_wipe(hash, sizeof(hash));
	return err;
}

int
zt_login_password(zt_login *out, const zt_id_ctx *cx, zt_throttle *th,
    const char *tenant, const char *system_name, const char *login_name,
    const char *pw, size_t len, const char *client_addr,
    int64_t *retry_after_s)
{
	char nkey[LOGIN_KEY_MAX], akey[80], hash[ZT_PHC_MAX];
	int64_t now = authn_now_ms(), wait = 0, w;
	zt_pw_policy pol;
	bool mfa, active = false, stale = false, ok = false;
	int err;

	memset(out, 0, sizeof(*out));
	*retry_after_s = 0;
	if ((err = system_find(cx, tenant, system_name, out->system_id, &pol,
	    &mfa)) < 0)
		return err;

	/* Throttled before anything about the name is looked at. */
	name_key(nkey, sizeof(nkey), tenant, system_name, login_name);
	snprintf(akey, sizeof(akey), "a:%s", client_addr ? client_addr : "");
	if (th) {
		wait = zt_throttle_wait(th, cx->db, nkey, ZT_THROTTLE_FREE,
		    pol.lockout, now);
		w = zt_throttle_wait(th, cx->db, akey, ZT_THROTTLE_ADDR_FREE, 0, now);
		wait = w > wait ? w : wait;
	}
	if (wait > 0) {
		*retry_after_s = wait;
		return zt_error_set(ZT_EBUSY, "too many attempts, retry after "
		    "%lld s", (long long)wait);
	}

	hash[0] = '\0';
	err = ZT_ENOTFOUND;
	if (out->system_id[0])
		err = account_find(cx, tenant, out->system_id, login_name, out,
		    &active);
	if (err == ZT_OK)
		err = hash_read(cx->db, tenant, out->account_id, hash);
	if (err < 0 && err != ZT_ENOTFOUND && err != ZT_EINVAL)
		return err;
	if (hash[0] == '\0')
		dummy_hash(&pol, pw, len);
	else
		ok = zt_password_check(hash, pw, len, &pol.argon2,
		    &stale) == ZT_OK && active;

	if (!ok) {
		if (th) {
			zt_throttle_fail(th, cx->db, nkey, now);
			zt_throttle_fail(th, cx->db, akey, now);
		}
		memset(out, 0, sizeof(*out));
		return zt_error_set(ZT_ENOTFOUND, "invalid credentials");
	}
	if (th)
		zt_throttle_reset(th, cx->db, nkey);
	if (stale && (err = rehash(cx, tenant, out->account_id, &pol, pw,
	    len)) < 0)
		log_warn("password rehash failed", ZS("tenant", tenant),
		    ZS("account", out->account_id),
		    ZS("error", zt_error_msg()));
	out->mfa_required = mfa;
	if ((err = authn_totp_active(cx->db, tenant, out->account_id,
	    &out->totp_active)) < 0)
		return err;
	zt_wipe(hash, sizeof(hash));
	return ZT_OK;
}

int
zt_login_second_factor(const zt_id_ctx *cx, zt_throttle *th,
    const char *tenant, const char *account, const char *totp_code,
    const char *recovery_code, int64_t *retry_after_s)
{
	char key[ZT_TENANT_ID_MAX + ZT_ID_LEN + 8];
	struct authn_account a;
	int64_t now = authn_now_ms(), wait;
	int err;

	*retry_after_s = 0;
	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	snprintf(key, sizeof(key), "m:%s\n%s", tenant, a.id);
	if (th && (wait = zt_throttle_wait(th, cx->db, key, ZT_THROTTLE_FREE,
	    a.policy.lockout, now)) > 0) {
		*retry_after_s = wait;
		return zt_error_set(ZT_EBUSY, "too many attempts, retry after "
		    "%lld s", (long long)wait);
	}
	if (totp_code && !recovery_code)
		err = zt_totp_verify(cx, tenant, a.id, totp_code);
	else if (recovery_code && !totp_code)
		err = zt_recovery_use(cx, tenant, a.id, recovery_code);
	else
		err = zt_error_set(ZT_ENOTFOUND, "invalid code");
	if (err == ZT_ENOTFOUND) {
		if (th)
			zt_throttle_fail(th, cx->db, key, now);
		return zt_error_set(ZT_ENOTFOUND, "invalid code");
	}
	if (err == ZT_OK && th)
		zt_throttle_reset(th, cx->db, key);
	return err;
}
