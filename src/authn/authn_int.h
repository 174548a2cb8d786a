/* Shared by authn's credential files; not part of the module's interface. */
#ifndef ZT_AUTHN_INT_H
#define ZT_AUTHN_INT_H

#include "authn/authn.h"
#include "base/base.h"

/* The module's clock: the wall clock unless a test set another. */
int64_t authn_now_ms(void);

/* What the credential files need of an account: its ids, state and its
 * account system's password policy and MFA rule. */
struct authn_account {
	char id[ZT_ID_LEN + 1];
	char identity_id[ZT_ID_LEN + 1];
	char system_id[ZT_ID_LEN + 1];
	char login_name[257];
	bool active;		/* account active and identity active */
	bool mfa_required;
	zt_pw_policy policy;
};

/* Reads an account through identity's calls, so the caller's scope
 * applies: outside it is ZT_ENOTFOUND, as identity answers. */
int authn_account_get(struct authn_account *out, const zt_id_ctx *cx,
    const char *tenant, const char *account);

/* "account:<id>" */
#define AUTHN_TARGET_MAX (ZT_ID_LEN + 16)
void authn_target(char out[AUTHN_TARGET_MAX], const char *kind,
    const char *id);

/* Appends an audit record for a change of one account's credentials.
 * `after` is borrowed and must hold no secret. */
int authn_audit(const zt_id_ctx *cx, const char *action, const char *tenant,
    const char *kind, const char *id, json_t *after);

/* SHA-256 in hex (65 bytes with the NUL). */
#define AUTHN_HASH_HEX (2 * ZT_SHA256_LEN + 1)
void authn_sha256_hex(char out[AUTHN_HASH_HEX], const void *p, size_t n);

/* True when the account has a confirmed TOTP (totp.c). */
int authn_totp_active(zt_db *db, const char *tenant, const char *account,
    bool *active);

/* The sorted list of common passwords (common_passwords.c, generated from
 * data/common-passwords.txt at build time). */
extern const char *const zt_common_passwords[];
extern const size_t zt_common_passwords_count;

#endif
