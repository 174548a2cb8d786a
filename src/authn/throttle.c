/*
 * throttle.c: failure counts for logins, in memory, one table per process,
 * and on PostgreSQL also in a table every node reads (shared_read below).
 *
 * Keys are SHA-256 digests (first 16 bytes) of what they count: "n:" plus
 * tenant, account system and login name, or "a:" plus a client address,
 * so the table holds no login names.  A key's slot is found by probing
 * PROBE slots from its hash; when all of them hold other keys, the least
 * recently touched one is evicted.  That keeps memory fixed (slots * 40
 * bytes) whatever an attacker sends, at the price described in authn.h:
 * a flood of distinct names can push a victim's count out.  Per-address
 * throttling bounds how fast one address can flood.
 *
 * Counts are forgotten FORGET_MS after the last failure, and a success
 * clears the name's count (not the address's: one good login of an
 * attacker's own account must not buy more guesses at others).
 *
 * Worker threads share the table under one mutex held for a few hundred
 * instructions per login, which Argon2's tens of milliseconds dwarf.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"

#define KEY_LEN 16
#define PROBE 8
#define FORGET_MS (3600 * 1000LL)

struct slot {
	uint8_t key[KEY_LEN];
	int32_t fails;
	bool used;
	int64_t last_fail;	/* ms */
	int64_t touched;	/* ms, for eviction */
};

struct zt_throttle {
	pthread_mutex_t lock;
	size_t nslots;
	size_t used;
	struct slot *slots;
};

int
zt_throttle_new(zt_throttle **out, size_t slots)
{
	zt_throttle *t;

	if (slots < PROBE)
		slots = PROBE;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->slots = calloc(slots, sizeof(*t->slots))) == NULL) {
		free(t);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&t->lock, NULL);
	t->nslots = slots;
	*out = t;
	return ZT_OK;
}

void
zt_throttle_free(zt_throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

static void
key_digest(uint8_t out[KEY_LEN], const char *key)
{
	uint8_t d[ZT_SHA256_LEN];

	zt_sha256(d, key, strlen(key));
	memcpy(out, d, KEY_LEN);
}

static size_t
key_home(const zt_throttle *t, const uint8_t k[KEY_LEN])
{
	uint64_t h;

	memcpy(&h, k, sizeof(h));
	return (size_t)(h % t->nslots);
}

/* The key's slot, or NULL when absent and `make` is false.  With `make`,
 * takes a free slot of the probe window or evicts its stalest. */
static struct slot *
slot_find(zt_throttle *t, const uint8_t k[KEY_LEN], bool make, int64_t now)
{
	size_t home = key_home(t, k), i;
	struct slot *s, *victim = NULL;

	for (i = 0; i < PROBE; i++) {
		s = &t->slots[(home + i) % t->nslots];
		if (s->used && memcmp(s->key, k, KEY_LEN) == 0)
			return s;
		if (!s->used) {
			if (victim == NULL || victim->used)
				victim = s;
		} else if (victim == NULL ||
		    (victim->used && s->touched < victim->touched))
			victim = s;
	}
	if (!make)
		return NULL;
	if (!victim->used)
		t->used++;
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, k, KEY_LEN);
	victim->used = true;
	victim->touched = now;
	return victim;
}

static void
slot_drop(zt_throttle *t, struct slot *s)
{
	memset(s, 0, sizeof(*s));
	t->used--;
}

/* Milliseconds a key with `fails` failures, the last at `last_fail`,
 * must still wait at `now`; *forget when the count has lapsed. */
static int64_t
wait_ms(int64_t fails, int64_t last_fail, int free_fails, int64_t lockout,
    int64_t now, bool *forget)
{
	int64_t until, shift;

	*forget = false;
	if (now - last_fail >= FORGET_MS) {
		*forget = true;
		return 0;
	}
	if (lockout > 0 && fails >= lockout) {
		until = last_fail + ZT_THROTTLE_MAX_S * 1000LL;
		if (until <= now) {
			/* The lock has run out: start counting afresh. */
			*forget = true;
			return 0;
		}
		return until - now;
	}
	if (fails < free_fails)
		return 0;
	shift = fails - free_fails;
	until = last_fail + (shift >= 10 ? ZT_THROTTLE_MAX_S * 1000LL :
	    ((1000LL << shift) < ZT_THROTTLE_MAX_S * 1000LL ?
	    (1000LL << shift) : ZT_THROTTLE_MAX_S * 1000LL));
	return until > now ? until - now : 0;
}

/*
 * On PostgreSQL the counts are also kept in login_throttle, which every
 * node sharing the database reads: a node takes the larger of its own
 * count and the shared one, so failures on any node slow the next guess
 * on all of them.  SQLite is one node; it keeps memory only.  A database
 * error leaves the in-memory count to decide (logged), never an open
 * door: the local count still grows.
 */
static bool
shared(zt_db *db)
{
	return db != NULL && zt_db_driver(db) == ZT_DB_POSTGRES;
}

static void
key_hex(char out[2 * KEY_LEN + 1], const uint8_t k[KEY_LEN])
{
	zt_hex_encode(out, k, KEY_LEN);
}

static void
shared_read(zt_db *db, const uint8_t k[KEY_LEN], int64_t *fails,
    int64_t *last_fail)
{
	char hex[2 * KEY_LEN + 1];
	zt_stmt *st;
	int err;

	key_hex(hex, k);
	if ((err = zt_db_prepare(&st, db, "SELECT fails, last_fail FROM"
	    " login_throttle WHERE key = $1")) == ZT_OK) {
		zt_stmt_bind_text(st, 1, hex);
		if ((err = zt_stmt_step(st)) == ZT_ROW &&
		    zt_stmt_int(st, 0) > *fails) {
			*fails = zt_stmt_int(st, 0);
			*last_fail = zt_stmt_int(st, 1);
		}
		zt_stmt_reset(st);
	}
	if (err < 0)
		log_warn("cannot read the shared login throttle",
		    ZS("error", zt_error_msg()));
}

static void
shared_write(zt_db *db, const uint8_t k[KEY_LEN], bool fail, int64_t now)
{
	static _Atomic uint32_t writes;
	char hex[2 * KEY_LEN + 1];
	zt_stmt *st;
	int err;

	key_hex(hex, k);
	err = zt_db_prepare(&st, db, fail ? "INSERT INTO login_throttle"
	    " (key, fails, last_fail) VALUES ($1, 1, $2) ON CONFLICT (key)"
	    " DO UPDATE SET fails = CASE WHEN login_throttle.last_fail < $3"
	    " THEN 1 ELSE login_throttle.fails + 1 END, last_fail = $2" :
	    "DELETE FROM login_throttle WHERE key = $1");
	if (err == ZT_OK) {
		zt_stmt_bind_text(st, 1, hex);
		if (fail) {
			zt_stmt_bind_int(st, 2, now);
			zt_stmt_bind_int(st, 3, now - FORGET_MS);
		}
		err = zt_stmt_run(st);
	}
	/* Now and then, the counts nobody will read again. */
	if (err == ZT_OK && fail && atomic_fetch_add(&writes, 1) % 1024 ==
	    1023 && zt_db_prepare(&st, db, "DELETE FROM login_throttle"
	    " WHERE last_fail < $1") == ZT_OK) {
		zt_stmt_bind_int(st, 1, now - FORGET_MS);
		(void)zt_stmt_run(st);
	}
	if (err < 0)
		log_warn("cannot write the shared login throttle",
		    ZS("error", zt_error_msg()));
}

int64_t
zt_throttle_wait(zt_throttle *t, zt_db *db, const char *key,
    int free_fails, int64_t lockout, int64_t now_ms)
{
	uint8_t k[KEY_LEN];
	int64_t fails = 0, last = 0, ms;
	struct slot *s;
	bool forget;

	key_digest(k, key);
	pthread_mutex_lock(&t->lock);
	if ((s = slot_find(t, k, false, now_ms)) != NULL) {
		fails = s->fails;
		last = s->last_fail;
		(void)wait_ms(fails, last, free_fails, lockout, now_ms,
		    &forget);
		if (forget) {
			slot_drop(t, s);
			fails = last = 0;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (shared(db))
		shared_read(db, k, &fails, &last);
	ms = fails > 0 ? wait_ms(fails, last, free_fails, lockout, now_ms,
	    &forget) : 0;
	return (ms + 999) / 1000;
}

void
zt_throttle_fail(zt_throttle *t, zt_db *db, const char *key,
    int64_t now_ms)
{
	uint8_t k[KEY_LEN];
	struct slot *s;

	key_digest(k, key);
	pthread_mutex_lock(&t->lock);
	s = slot_find(t, k, true, now_ms);
	if (s->fails < INT32_MAX)
		s->fails++;
	s->last_fail = now_ms;
	s->touched = now_ms;
	pthread_mutex_unlock(&t->lock);
	if (shared(db))
		shared_write(db, k, true, now_ms);
}

void
zt_throttle_reset(zt_throttle *t, zt_db *db, const char *key)
{
	uint8_t k[KEY_LEN];
	struct slot *s;

	key_digest(k, key);
	pthread_mutex_lock(&t->lock);
	if ((s = slot_find(t, k, false, 0)) != NULL)
		slot_drop(t, s);
	pthread_mutex_unlock(&t->lock);
	if (shared(db))
		shared_write(db, k, false, 0);
}

size_t
zt_throttle_count(zt_throttle *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->used;
	pthread_mutex_unlock(&t->lock);
	return n;
}
