/*
 * The audit chain.  A record's hash covers every column of the record and
 * the hash of its predecessor, encoded as length-prefixed fields so no two
 * different records serialise alike.  Appending takes the head row's lock
 * (an UPDATE, on both drivers) before it reads the previous hash, so
 * concurrent writers on one database, or on several nodes of a PostgreSQL
 * cluster, form one chain.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/base.h"

#define HASH_HEX (2 * ZT_SHA256_LEN + 1)
#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static const zt_migration audit_steps[] = {
	{ 1, "audit log and head",
	  "CREATE TABLE audit_log ("
	  " seq BIGINT PRIMARY KEY,"
	  " at BIGINT NOT NULL,"
	  " actor TEXT NOT NULL,"
	  " tenant TEXT,"
	  " action TEXT NOT NULL,"
	  " target TEXT NOT NULL,"
	  " request_id TEXT,"
	  " summary TEXT NOT NULL,"
	  " prev_hash TEXT NOT NULL,"
	  " hash TEXT NOT NULL);"
	  "CREATE INDEX audit_log_tenant ON audit_log (tenant, seq);"
	  "CREATE TABLE audit_head ("
	  " id INTEGER PRIMARY KEY CHECK (id = 1),"
	  " seq BIGINT NOT NULL,"
	  " hash TEXT NOT NULL);"
	  "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" GENESIS "');",
	  NULL },
};

const zt_migration_set zt_audit_migrations = {
	"audit", audit_steps, ZT_ARRAY_LEN(audit_steps),
};

/* One record as stored, for hashing and verification. */
struct record {
	int64_t seq;
	int64_t at;
	const char *actor;
	const char *tenant;	/* NULL allowed */
	const char *action;
	const char *target;
	const char *request_id;	/* NULL allowed */
	const char *summary;
	const char *prev_hash;
};

static void
hash_field(EVP_MD_CTX *md, const char *s)
{
	char len[24];

	/* A NULL field is "-", which no length prefix can produce. */
	if (s == NULL) {
		EVP_DigestUpdate(md, "-\n", 2);
		return;
	}
	snprintf(len, sizeof(len), "%zu:", strlen(s));
	EVP_DigestUpdate(md, len, strlen(len));
	EVP_DigestUpdate(md, s, strlen(s));
	EVP_DigestUpdate(md, "\n", 1);
}

/* SHA-256 fetched once: an implicit fetch per record costs OpenSSL 3 a
 * provider lookup each time.  Lives until exit. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void
record_hash(char out[HASH_HEX], const struct record *r)
{
	uint8_t digest[ZT_SHA256_LEN];
	char num[24];
	EVP_MD_CTX *md;

	pthread_once(&sha256_once, sha256_fetch);
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, sha256_md != NULL ? sha256_md : EVP_sha256(),
	    NULL);
	hash_field(md, "ztiam-audit-v1");
	snprintf(num, sizeof(num), "%lld", (long long)r->seq);
	hash_field(md, num);
	snprintf(num, sizeof(num), "%lld", (long long)r->at);
	hash_field(md, num);
	hash_field(md, r->actor);
	hash_field(md, r->tenant);
	hash_field(md, r->action);
	hash_field(md, r->target);
	hash_field(md, r->request_id);
	hash_field(md, r->summary);
	hash_field(md, r->prev_hash);
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	zt_hex_encode(out, digest, sizeof(digest));
}

/* {"before":...,"after":...}, compact with sorted keys so the text, and so
 * the hash, is the same whichever order a module built its objects in. */
static char *
summary_text(const zt_audit_entry *e)
{
	json_t *doc;
	char *s;

	doc = json_object();
	if (e->before)
		json_object_set(doc, "before", e->before);
	if (e->after)
		json_object_set(doc, "after", e->after);
	s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return s;
}

/* Hashes and inserts record `r` of entry `e`; `hash` gets its hash. */
static int
record_insert(zt_db *db, struct record *r, const zt_actor *actor,
    const zt_audit_entry *e, char hash[HASH_HEX])
{
	zt_stmt *st;
	char *summary;
	int err;

	if ((summary = summary_text(e)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	r->actor = actor && actor->id ? actor->id : "system";
	r->tenant = e->tenant;
	r->action = e->action;
	r->target = e->target;
	r->request_id = actor ? actor->request_id : NULL;
	r->summary = summary;
	record_hash(hash, r);

	if ((err = zt_db_prepare(&st, db, "INSERT INTO audit_log (seq, at,"
	    " actor, tenant, action, target, request_id, summary, prev_hash,"
	    " hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")) == ZT_OK) {
		zt_stmt_bind_int(st, 1, r->seq);
		zt_stmt_bind_int(st, 2, r->at);
		zt_stmt_bind_text(st, 3, r->actor);
		zt_stmt_bind_text(st, 4, r->tenant);
		zt_stmt_bind_text(st, 5, r->action);
		zt_stmt_bind_text(st, 6, r->target);
		zt_stmt_bind_text(st, 7, r->request_id);
		zt_stmt_bind_text(st, 8, r->summary);
		zt_stmt_bind_text(st, 9, r->prev_hash);
		zt_stmt_bind_text(st, 10, hash);
		err = zt_stmt_step(st);
		zt_stmt_reset(st);
	}
	free(summary);
	r->summary = NULL;
	return err < 0 ? err : ZT_OK;
}

/*
 * Appends n records as one run of the chain: one UPDATE of the head
 * claims n numbers (and holds the row until commit, as for one record),
 * the records are chained in memory, and the head's hash is written once,
 * after the last.  The chain is the same as n single appends would make;
 * a group commit of n issued tokens saves 2(n - 1) statements.
 */
int
zt_audit_append_n(zt_db *db, const zt_actor *const *actors,
    const zt_audit_entry *const *entries, size_t n)
{
	char prev[HASH_HEX], hash[HASH_HEX];
	struct record r = { 0 };
	int64_t last, at;
	zt_stmt *st;
	size_t i;
	int err;

	if (!zt_db_in_tx(db))
		return zt_error_set(ZT_ERR, "audit append outside a transaction");
	if (n == 0)
		return ZT_OK;

	/* Claim the next n numbers; the UPDATE holds the head row until
	 * commit. */
	if ((err = zt_db_prepare(&st, db, "UPDATE audit_head SET seq = seq +"
	    " $1 WHERE id = 1 RETURNING seq, hash")) < 0)
		return err;
	zt_stmt_bind_int(st, 1, (int64_t)n);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : zt_error_set(ZT_ERR, "audit head missing");
	}
	last = zt_stmt_int(st, 0);
	snprintf(prev, sizeof(prev), "%s", zt_stmt_text(st, 1));
	zt_stmt_reset(st);

	at = zt_now_ms();
	for (i = 0; i < n; i++) {
		r.seq = last - (int64_t)(n - 1 - i);
		r.at = at;
		r.prev_hash = prev;
		if ((err = record_insert(db, &r, actors[i], entries[i],
		    hash)) < 0)
			return err;
		memcpy(prev, hash, sizeof(prev));
	}

	if ((err = zt_db_prepare(&st, db,
	    "UPDATE audit_head SET hash = $1 WHERE id = 1")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, hash);
	err = zt_stmt_step(st);
	zt_stmt_reset(st);
	return err < 0 ? err : ZT_OK;
}

int
zt_audit_append(zt_db *db, const zt_actor *actor, const zt_audit_entry *e)
{
	return zt_audit_append_n(db, &actor, &e, 1);
}

int
zt_audit_change(zt_db *db, const zt_actor *actor, const char *action,
    const char *tenant, const char *type, const char *id, json_t *before,
    json_t *after)
{
	char target[256];

	if (id != NULL)
		snprintf(target, sizeof(target), "%s:%s", type, id);
	else
		snprintf(target, sizeof(target), "%s", type);
	return zt_audit_append(db, actor, &(zt_audit_entry){
	    .action = action, .tenant = tenant, .target = target,
	    .before = before, .after = after });
}

static int verify_fail(zt_audit_report *out, int64_t seq, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static int
verify_fail(zt_audit_report *out, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	out->first_bad = seq;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	return zt_error_set(ZT_ECONFLICT, "audit record %lld: %s",
	    (long long)seq, out->reason);
}

/* Compares the newest record with the head row, which catches records cut
 * off the end of the log. */
static int
verify_head(zt_db *db, zt_audit_report *out, int64_t last_seq,
    const char *last_hash)
{
	zt_stmt *st;
	int64_t seq;
	int err;

	if ((err = zt_db_prepare(&st, db,
	    "SELECT seq, hash FROM audit_head WHERE id = 1")) < 0)
		return err;
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : verify_fail(out, last_seq + 1,
		    "the head row is missing");
	}
	seq = zt_stmt_int(st, 0);
	if (seq != last_seq)
		err = verify_fail(out, last_seq + 1, "the head names record "
		    "%lld but the log ends at %lld: records were deleted",
		    (long long)seq, (long long)last_seq);
	else if (strcmp(zt_stmt_text(st, 1), last_hash) != 0)
		err = verify_fail(out, last_seq, "its hash differs from the "
		    "head's: the record was replaced");
	else
		err = ZT_OK;
	zt_stmt_reset(st);
	return err;
}

int
zt_audit_verify(zt_db *db, zt_audit_report *out)
{
	char prev[HASH_HEX] = GENESIS, hash[HASH_HEX];
	struct record r;
	int64_t expect = 1;
	zt_stmt *st;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = zt_db_prepare(&st, db, "SELECT seq, at, actor, tenant,"
	    " action, target, request_id, summary, prev_hash, hash"
	    " FROM audit_log ORDER BY seq")) < 0)
		return err;
	while ((err = zt_stmt_step(st)) == ZT_ROW) {
		r.seq = zt_stmt_int(st, 0);
		r.at = zt_stmt_int(st, 1);
		r.actor = zt_stmt_text(st, 2);
		r.tenant = zt_stmt_text(st, 3);
		r.action = zt_stmt_text(st, 4);
		r.target = zt_stmt_text(st, 5);
		r.request_id = zt_stmt_text(st, 6);
		r.summary = zt_stmt_text(st, 7);
		r.prev_hash = zt_stmt_text(st, 8);
		if (r.actor == NULL || r.action == NULL || r.target == NULL ||
		    r.summary == NULL || r.prev_hash == NULL) {
			err = verify_fail(out, r.seq, "a required column is "
			    "empty");
			break;
		}
		if (r.seq != expect) {
			err = verify_fail(out, expect, "missing: the log jumps "
			    "from %lld to %lld (deleted or renumbered)",
			    (long long)expect - 1, (long long)r.seq);
			break;
		}
		record_hash(hash, &r);
		if (strcmp(hash, zt_stmt_text(st, 9) ? zt_stmt_text(st, 9) :
		    "") != 0) {
			err = verify_fail(out, r.seq, "its content does not "
			    "match its hash: the record was edited");
			break;
		}
		if (strcmp(r.prev_hash, prev) != 0) {
			err = verify_fail(out, r.seq, "it does not follow "
			    "record %lld: records were reordered or replaced",
			    (long long)r.seq - 1);
			break;
		}
		memcpy(prev, hash, sizeof(prev));
		out->records++;
		expect++;
	}
	zt_stmt_reset(st);
	if (err < 0)
		return err;
	return verify_head(db, out, expect - 1, prev);
}

static json_t *
record_json(zt_stmt *st)
{
	char at[32];
	json_t *rec, *summary;

	zt_time_format(at, zt_stmt_int(st, 1));
	summary = json_loads(zt_stmt_text(st, 7), 0, NULL);
	rec = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s, s:s?, s:o, s:s}",
	    "seq", (json_int_t)zt_stmt_int(st, 0),
	    "at", at,
	    "actor", zt_stmt_text(st, 2),
	    "tenant", zt_stmt_text(st, 3),
	    "action", zt_stmt_text(st, 4),
	    "target", zt_stmt_text(st, 5),
	    "request_id", zt_stmt_text(st, 6),
	    "summary", summary ? summary : json_object(),
	    "hash", zt_stmt_text(st, 9));
	return rec;
}

int
zt_audit_list(zt_db *db, const char *tenant, const char *actor,
    int64_t after_seq, int limit, json_t **out, int64_t *next)
{
	zt_stmt *st;
	json_t *list;
	int err;

	/* One text per filter rather than optional conditions: each keeps an
	 * index plan on (tenant, seq) or on seq. */
	if (tenant && actor) {
		err = zt_db_prepare(&st, db, "SELECT seq, at, actor, tenant,"
		    " action, target, request_id, summary, prev_hash, hash"
		    " FROM audit_log WHERE tenant = $3 AND seq > $1"
		    " AND actor = $4 ORDER BY seq LIMIT $2");
		if (err == ZT_OK) {
			zt_stmt_bind_text(st, 3, tenant);
			zt_stmt_bind_text(st, 4, actor);
		}
	} else if (tenant) {
		err = zt_db_prepare(&st, db, "SELECT seq, at, actor, tenant,"
		    " action, target, request_id, summary, prev_hash, hash"
		    " FROM audit_log WHERE tenant = $3 AND seq > $1"
		    " ORDER BY seq LIMIT $2");
		if (err == ZT_OK)
			zt_stmt_bind_text(st, 3, tenant);
	} else
		err = zt_db_prepare(&st, db, "SELECT seq, at, actor, tenant,"
		    " action, target, request_id, summary, prev_hash, hash"
		    " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
	if (err < 0)
		return err;
	zt_stmt_bind_int(st, 1, after_seq);
	zt_stmt_bind_int(st, 2, limit);
	list = json_array();
	*next = after_seq;
	while ((err = zt_stmt_step(st)) == ZT_ROW) {
		json_array_append_new(list, record_json(st));
		*next = zt_stmt_int(st, 0);
	}
	zt_stmt_reset(st);
	if (err < 0) {
		json_decref(list);
		return err;
	}
	*out = list;
	return ZT_OK;
}
