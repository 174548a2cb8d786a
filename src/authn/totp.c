/*
 * totp.c: time-based one-time passwords (RFC 6238) and recovery codes.
 *
 * Codes are HMAC-SHA-1, 6 digits, 30-second steps from the epoch: what
 * every authenticator app assumes from an otpauth:// URI.  liboath makes
 * the code of a step; the comparison is ours, in constant time, against
 * the steps one before and one after now as well (clock drift), and the
 * step of the last code that passed is kept so a code never passes twice,
 * even within its own 30 seconds.  The update of last_step is conditional
 * (last_step < new), so two requests racing with one code cannot both win.
 *
 * The secret is 160 random bits, stored as hex in account_totp and never
 * written to a log or an audit record.  It is not encrypted at rest yet:
 * the master key that will encrypt signing keys (src/keys) is the planned
 * wrapping key (docs/authn.md).
 *
 * Recovery codes are 10 random base32 characters ("abcde-fghij", 50 bits),
 * kept as SHA-256 hex: their entropy makes a slow hash pointless, as for
 * API tokens.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <qrencode.h>

#include "authn/authn_int.h"

#define WINDOW 1
#define RECOVERY_CHARS 10

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;

static void
oath_setup(void)
{
	(void)oath_init();
}

int
zt_totp_code(char *out, size_t outlen, const void *secret, size_t n,
    int64_t t, unsigned digits)
{
	pthread_once(&oath_once, oath_setup);
	if (digits < 6 || digits > 8 || outlen < digits + 1 || t < 0)
		return zt_error_set(ZT_EINVAL, "totp: bad arguments");
	if (oath_totp_generate(secret, n, (time_t)t, ZT_TOTP_STEP_S, 0,
	    digits, out) != OATH_OK)
		return zt_error_set(ZT_ERR, "totp: cannot make a code");
	return ZT_OK;
}

/* ---- otpauth:// and the QR code ------------------------------------------ */

/* Appends `s` percent-encoded: only RFC 3986's unreserved characters stay. */
static int
pct_add(zt_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int err = ZT_OK;

	for (; *s && err == ZT_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			err = zt_buf_addc(b, (char)c);
		else
			err = zt_buf_addf(b, "%%%c%c", hex[c >> 4],
			    hex[c & 15]);
	}
	return err;
}

static int
base32(char **out, const void *p, size_t n)
{
	size_t len;

	pthread_once(&oath_once, oath_setup);
	if (oath_base32_encode(p, n, out, &len) != OATH_OK)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	/* The Key Uri Format leaves the padding out. */
	while (len > 0 && (*out)[len - 1] == '=')
		(*out)[--len] = '\0';
	return ZT_OK;
}

int
zt_totp_uri(char **out, const char *issuer, const char *label,
    const void *secret, size_t n)
{
	zt_buf b = ZT_BUF_INIT(4096);
	char *b32 = NULL;
	int err;

	*out = NULL;
	if ((err = base32(&b32, secret, n)) < 0)
		return err;
	if ((err = zt_buf_adds(&b, "otpauth://totp/")) == ZT_OK &&
	    (err = pct_add(&b, issuer)) == ZT_OK &&
	    (err = zt_buf_addc(&b, ':')) == ZT_OK &&
	    (err = pct_add(&b, label)) == ZT_OK &&
	    (err = zt_buf_addf(&b, "?secret=%s&issuer=", b32)) == ZT_OK &&
	    (err = pct_add(&b, issuer)) == ZT_OK)
		err = zt_buf_addf(&b, "&algorithm=SHA1&digits=%d&period=%d",
		    ZT_TOTP_DIGITS, ZT_TOTP_STEP_S);
	zt_wipe(b32, strlen(b32));
	free(b32);
	if (err < 0) {
		zt_buf_free(&b);
		return err;
	}
	*out = zt_buf_detach(&b);
	return ZT_OK;
}

/* Quiet zone around the symbol, in modules, as ISO 18004 asks. */
#define QR_QUIET 4

int
zt_qr_svg(char **out, const char *text)
{
	zt_buf b = ZT_BUF_INIT(256 * 1024);
	QRcode *qr;
	int x, y, run, w, err;

	*out = NULL;
	if ((qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8,
	    1)) == NULL)
		return zt_error_set(ZT_EINVAL, "text too long for a QR code");
	w = qr->width + 2 * QR_QUIET;
	err = zt_buf_addf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
	    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
	    "<path fill=\"#000\" d=\"", w, w, w, w);
	for (y = 0; y < qr->width && err == ZT_OK; y++)
		for (x = 0; x < qr->width && err == ZT_OK; x += run) {
			run = 0;
			while (x + run < qr->width &&
			    (qr->data[y * qr->width + x + run] & 1))
				run++;
			if (run == 0) {
				run = 1;
				continue;
			}
			err = zt_buf_addf(&b, "M%d %dh%dv1h-%dz", x + QR_QUIET,
			    y + QR_QUIET, run, run);
		}
	if (err == ZT_OK)
		err = zt_buf_adds(&b, "\"/></svg>");
	QRcode_free(qr);
	if (err < 0) {
		zt_buf_free(&b);
		return err;
	}
	*out = zt_buf_detach(&b);
	return ZT_OK;
}

/* ---- the stored enrollment ----------------------------------------------- */

struct totp_row {
	uint8_t secret[ZT_TOTP_SECRET_BYTES];
	bool active;
	int64_t last_step;
};

static int
totp_read(struct totp_row *r, zt_db *db, const char *tenant,
    const char *account)
{
	zt_stmt *st;
	int err;

	memset(r, 0, sizeof(*r));
	if ((err = zt_db_prepare(&st, db, "SELECT secret, active, last_step"
	    " FROM account_totp WHERE tenant = $1 AND account_id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, account);
	if ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (zt_hex_decode(r->secret, sizeof(r->secret),
		    zt_stmt_text(st, 0)) < 0)
			err = zt_error_set(ZT_ERR, "stored TOTP secret is "
			    "damaged");
		r->active = zt_stmt_int(st, 1) != 0;
		r->last_step = zt_stmt_int(st, 2);
	} else if (err == ZT_DONE)
		err = zt_error_set(ZT_ENOTFOUND, "the account has no TOTP");
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
authn_totp_active(zt_db *db, const char *tenant, const char *account,
    bool *active)
{
	struct totp_row r;
	int err;

	err = totp_read(&r, db, tenant, account);
	*active = err == ZT_OK && r.active;
	zt_wipe(&r, sizeof(r));
	if (err == ZT_ENOTFOUND) {
		zt_error_clear();
		return ZT_OK;
	}
	return err;
}

/* Changes an account's row by `sql` ($1 tenant, $2 account, $3 and $4
 * as given) inside a transaction with its audit record. */
static int
totp_change(const zt_id_ctx *cx, const char *tenant, const char *account,
    const char *sql, const char *p3, int64_t p4, const char *action,
    json_t *doc)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, sql)) < 0)
		goto fail;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, account);
	if (p3)
		zt_stmt_bind_text(st, 3, p3);
	if (p4 >= 0)
		zt_stmt_bind_int(st, p3 ? 4 : 3, p4);
	err = zt_stmt_step(st);
	if (err >= 0 && zt_stmt_changes(st) != 1)
		err = zt_error_set(ZT_ECONFLICT, "the TOTP changed meanwhile");
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;
	if ((err = authn_audit(cx, action, tenant, "account", account,
	    doc)) < 0 || (err = zt_db_commit(cx->db)) < 0)
		goto fail;
	return ZT_OK;
fail:
	zt_db_rollback(cx->db);
	return err;
}

int
zt_totp_enroll(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *account, const char *issuer)
{
	uint8_t secret[ZT_TOTP_SECRET_BYTES];
	char hex[2 * ZT_TOTP_SECRET_BYTES + 1], *uri = NULL, *svg = NULL;
	char *b32 = NULL;
	struct authn_account a;
	struct totp_row r;
	bool active;
	json_t *doc;
	int err;

	*out = NULL;
	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	err = totp_read(&r, cx->db, tenant, a.id);
	active = err == ZT_OK && r.active;
	zt_wipe(&r, sizeof(r));
	if (active)
		return zt_error_set(ZT_ECONFLICT, "the account has an active "
		    "TOTP; delete it before enrolling again");
	if (err < 0 && err != ZT_ENOTFOUND)
		return err;

	if ((err = zt_random(secret, sizeof(secret))) < 0)
		return err;
	zt_hex_encode(hex, secret, sizeof(secret));
	if ((err = zt_totp_uri(&uri, issuer ? issuer : tenant, a.login_name,
	    secret, sizeof(secret))) < 0 || (err = zt_qr_svg(&svg, uri)) < 0 ||
	    (err = base32(&b32, secret, sizeof(secret))) < 0)
		goto out;

	/* Replaces a pending enrollment, if any. */
	doc = json_pack("{s:s, s:b}", "account_id", a.id, "active", 0);
	err = totp_change(cx, tenant, a.id, "INSERT INTO account_totp"
	    " (tenant, account_id, secret, active, last_step, created_at)"
	    " VALUES ($1, $2, $3, 0, 0, $4) ON CONFLICT (tenant, account_id)"
	    " DO UPDATE SET secret = excluded.secret, active = 0,"
	    " last_step = 0, created_at = excluded.created_at",
	    hex, authn_now_ms(), "totp.enroll", doc);
	json_decref(doc);
	if (err == ZT_OK)
		*out = json_pack("{s:s, s:s, s:s}", "secret", b32, "uri", uri,
		    "qr_svg", svg);
out:
	zt_wipe(secret, sizeof(secret));
	zt_wipe(hex, sizeof(hex));
	if (uri)
		zt_wipe(uri, strlen(uri));
	if (b32)
		zt_wipe(b32, strlen(b32));
	free(uri);
	free(b32);
	free(svg);
	return err;
}

/* The step a code belongs to, if it is the code of a step within the
 * window after `last_step`; -1 otherwise.  Every candidate is compared,
 * whatever matched before, so timing says nothing about which step. */
static int64_t
code_step(const struct totp_row *r, const char *code, int64_t now_s)
{
	char want[ZT_TOTP_DIGITS + 1];
	int64_t now_step = now_s / ZT_TOTP_STEP_S, step, hit = -1;
	size_t n = strlen(code), i;

	if (n != ZT_TOTP_DIGITS)
		return -1;
	for (i = 0; i < n; i++)
		if (code[i] < '0' || code[i] > '9')
			return -1;
	for (step = now_step - WINDOW; step <= now_step + WINDOW; step++) {
		if (step < 0 || zt_totp_code(want, sizeof(want), r->secret,
		    sizeof(r->secret), step * ZT_TOTP_STEP_S,
		    ZT_TOTP_DIGITS) < 0)
			continue;
		if (zt_ct_equal(want, code, ZT_TOTP_DIGITS) &&
		    step > r->last_step && hit < 0)
			hit = step;
	}
	zt_wipe(want, sizeof(want));
	return hit;
}

/* Checks `code` and spends its step; `want_active` selects a confirmed
 * (login) or pending (confirmation) enrollment. */
static int
totp_spend(const zt_id_ctx *cx, const char *tenant, const char *account,
    const char *code, bool want_active)
{
	struct totp_row r;
	int64_t step;
	json_t *doc;
	int err;

	if ((err = totp_read(&r, cx->db, tenant, account)) < 0) {
		zt_wipe(&r, sizeof(r));
		return err == ZT_ENOTFOUND ? zt_error_set(ZT_ENOTFOUND,
		    want_active ? "invalid code" : "no pending TOTP "
		    "enrollment") : err;
	}
	if (r.active != want_active) {
		zt_wipe(&r, sizeof(r));
		return want_active ? zt_error_set(ZT_ENOTFOUND,
		    "invalid code") : zt_error_set(ZT_ECONFLICT,
		    "the TOTP is already active");
	}
	step = code_step(&r, code, authn_now_ms() / 1000);
	zt_wipe(&r, sizeof(r));
	if (step < 0)
		return zt_error_set(ZT_ENOTFOUND, "invalid code");
	doc = json_pack("{s:s, s:b}", "account_id", account, "active", 1);
	err = totp_change(cx, tenant, account, "UPDATE account_totp SET"
	    " last_step = $3, active = 1 WHERE tenant = $1"
	    " AND account_id = $2 AND last_step < $3", NULL, step,
	    want_active ? "totp.use" : "totp.confirm", doc);
	json_decref(doc);
	/* Another request spent this step first. */
	if (err == ZT_ECONFLICT)
		return zt_error_set(ZT_ENOTFOUND, "invalid code");
	return err;
}

int
zt_totp_confirm(const zt_id_ctx *cx, const char *tenant, const char *account,
    const char *code)
{
	struct authn_account a;
	int err;

	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	if ((err = totp_spend(cx, tenant, a.id, code, false)) == ZT_ENOTFOUND &&
	    strcmp(zt_error_msg(), "invalid code") == 0)
		return zt_error_set(ZT_EINVAL, "invalid code");
	return err;
}

int
zt_totp_verify(const zt_id_ctx *cx, const char *tenant, const char *account,
    const char *code)
{
	struct authn_account a;
	int err;

	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	return totp_spend(cx, tenant, a.id, code, true);
}

int
zt_totp_delete(const zt_id_ctx *cx, const char *tenant, const char *account)
{
	struct authn_account a;
	json_t *doc;
	int err;

	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	doc = json_pack("{s:s}", "account_id", a.id);
	err = totp_change(cx, tenant, a.id, "DELETE FROM account_totp"
	    " WHERE tenant = $1 AND account_id = $2", NULL, -1,
	    "totp.delete", doc);
	json_decref(doc);
	if (err == ZT_ECONFLICT)
		return zt_error_set(ZT_ENOTFOUND, "the account has no TOTP");
	return err;
}

/* ---- recovery codes ------------------------------------------------------ */

/* Lower case, without the dash and spaces people type; NULL when not
 * RECOVERY_CHARS base32 characters. */
static bool
recovery_norm(char out[RECOVERY_CHARS + 1], const char *in)
{
	size_t n = 0;

	for (; *in; in++) {
		char c = *in;

		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = c - 'A' + 'a';
		if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) ||
		    n == RECOVERY_CHARS)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == RECOVERY_CHARS;
}

static int
recovery_make(char out[RECOVERY_CHARS + 2], char norm[RECOVERY_CHARS + 1])
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint8_t raw[RECOVERY_CHARS];
	int err, i, j = 0;

	if ((err = zt_random(raw, sizeof(raw))) < 0)
		return err;
	for (i = 0; i < RECOVERY_CHARS; i++) {
		norm[i] = alpha[raw[i] & 31];
		if (i == RECOVERY_CHARS / 2)
			out[j++] = '-';
		out[j++] = norm[i];
	}
	norm[RECOVERY_CHARS] = '\0';
	out[j] = '\0';
	zt_wipe(raw, sizeof(raw));
	return ZT_OK;
}

static int
recovery_store(zt_db *db, const char *tenant, const char *account,
    json_t *codes)
{
	char shown[RECOVERY_CHARS + 2], norm[RECOVERY_CHARS + 1];
	char hash[AUTHN_HASH_HEX];
	zt_stmt *st;
	int err, i;

	if ((err = zt_db_prepare(&st, db, "DELETE FROM account_recovery_codes"
	    " WHERE tenant = $1 AND account_id = $2")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	zt_stmt_bind_text(st, 2, account);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	for (i = 0; i < ZT_RECOVERY_CODES && err >= 0; i++) {
		if ((err = recovery_make(shown, norm)) < 0)
			break;
		authn_sha256_hex(hash, norm, RECOVERY_CHARS);
		if ((err = zt_db_prepare(&st, db, "INSERT INTO"
		    " account_recovery_codes (tenant, account_id, code_hash,"
		    " used_at) VALUES ($1, $2, $3, 0)")) < 0)
			break;
		zt_stmt_bind_text(st, 1, tenant);
		zt_stmt_bind_text(st, 2, account);
		zt_stmt_bind_text(st, 3, hash);
		err = zt_stmt_step(st);
		zt_stmt_reset(st);
		json_array_append_new(codes, json_string(shown));
	}
	zt_wipe(shown, sizeof(shown));
	zt_wipe(norm, sizeof(norm));
	return err < 0 ? err : ZT_OK;
}

int
zt_recovery_generate(json_t **out, const zt_id_ctx *cx, const char *tenant,
    const char *account)
{
	struct authn_account a;
	json_t *codes, *doc;
	int err;

	*out = NULL;
	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	codes = json_array();
	doc = json_pack("{s:s, s:i}", "account_id", a.id, "count",
	    ZT_RECOVERY_CODES);
	if ((err = recovery_store(cx->db, tenant, a.id, codes)) < 0 ||
	    (err = authn_audit(cx, "recovery_codes.generate", tenant,
	    "account", a.id, doc)) < 0 || (err = zt_db_commit(cx->db)) < 0) {
		zt_db_rollback(cx->db);
		json_decref(codes);
	} else
		*out = codes;
	json_decref(doc);
	return err;
}

int
zt_recovery_use(const zt_id_ctx *cx, const char *tenant, const char *account,
    const char *code)
{
	char norm[RECOVERY_CHARS + 1], hash[AUTHN_HASH_HEX];
	struct authn_account a;
	zt_stmt *st;
	json_t *doc;
	int err;

	if ((err = authn_account_get(&a, cx, tenant, account)) < 0)
		return err;
	if (!recovery_norm(norm, code))
		return zt_error_set(ZT_ENOTFOUND, "invalid code");
	authn_sha256_hex(hash, norm, RECOVERY_CHARS);
	zt_wipe(norm, sizeof(norm));
	if ((err = zt_db_begin(cx->db)) < 0)
		return err;
	if ((err = zt_db_prepare(&st, cx->db, "UPDATE account_recovery_codes"
	    " SET used_at = $1 WHERE tenant = $2 AND account_id = $3"
	    " AND code_hash = $4 AND used_at = 0")) < 0)
		goto fail;
	zt_stmt_bind_int(st, 1, authn_now_ms());
	zt_stmt_bind_text(st, 2, tenant);
	zt_stmt_bind_text(st, 3, a.id);
	zt_stmt_bind_text(st, 4, hash);
	err = zt_stmt_step(st);
	if (err >= 0 && zt_stmt_changes(st) != 1)
		err = zt_error_set(ZT_ENOTFOUND, "invalid code");
	zt_stmt_reset(st);
	if (err < 0)
		goto fail;
	doc = json_pack("{s:s}", "account_id", a.id);
	err = authn_audit(cx, "recovery_code.use", tenant, "account", a.id,
	    doc);
	json_decref(doc);
	if (err < 0 || (err = zt_db_commit(cx->db)) < 0)
		goto fail;
	return ZT_OK;
fail:
	zt_db_rollback(cx->db);
	return err;
}
