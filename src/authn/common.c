/*
 * common.c: what authn's credential files share: the clock, the account
 * as identity reports it, audit records and hashing.
 *
 * authn never reads identity's tables itself: accounts, identities and
 * account systems come through identity's public calls with the caller's
 * context, so scope rules live in one place.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "authn/authn_int.h"

static int64_t (*_Atomic clock_fn)(void) = zt_now_ms;

void
zt_authn_set_clock(int64_t (*now_ms)(void))
{
	atomic_store(&clock_fn, now_ms ? now_ms : zt_now_ms);
}

int64_t
authn_now_ms(void)
{
	return atomic_load(&clock_fn)();
}

void
authn_target(char out[AUTHN_TARGET_MAX], const char *kind, const char *id)
{
	snprintf(out, AUTHN_TARGET_MAX, "%s:%s", kind, id);
}

int
authn_audit(const zt_id_ctx *cx, const char *action, const char *tenant,
    const char *kind, const char *id, json_t *after)
{
	char target[AUTHN_TARGET_MAX];

	authn_target(target, kind, id);
	return zt_audit_append(cx->db, cx->actor, &(zt_audit_entry){
	    .action = action, .tenant = tenant, .target = target,
	    .after = after });
}

void
authn_sha256_hex(char out[AUTHN_HASH_HEX], const void *p, size_t n)
{
	uint8_t d[ZT_SHA256_LEN];

	zt_sha256(d, p, n);
	zt_hex_encode(out, d, sizeof(d));
}

static void
copy_str(char *dst, size_t n, json_t *doc, const char *key)
{
	const char *v = json_string_value(json_object_get(doc, key));

	snprintf(dst, n, "%s", v ? v : "");
}

int
authn_account_get(struct authn_account *out, const zt_id_ctx *cx,
    const char *tenant, const char *account)
{
	json_t *acct = NULL, *ident = NULL, *sys = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = zt_account_get(&acct, cx, tenant, account)) < 0)
		return err;
	copy_str(out->id, sizeof(out->id), acct, "id");
	copy_str(out->identity_id, sizeof(out->identity_id), acct,
	    "identity_id");
	copy_str(out->system_id, sizeof(out->system_id), acct, "system_id");
	copy_str(out->login_name, sizeof(out->login_name), acct,
	    "login_name");
	if ((err = zt_identity_get(&ident, cx, tenant, out->identity_id)) < 0 ||
	    (err = zt_acctsys_get(&sys, cx, tenant, out->system_id)) < 0)
		goto out;
	out->active = strcmp(json_string_value(json_object_get(acct,
	    "state")), "active") == 0 &&
	    strcmp(json_string_value(json_object_get(ident, "state")),
	    "active") == 0;
	out->mfa_required = json_is_true(json_object_get(sys,
	    "mfa_required"));
	zt_pw_policy_from_json(&out->policy,
	    json_object_get(sys, "password_policy"));
out:
	json_decref(acct);
	json_decref(ident);
	json_decref(sys);
	return err;
}
