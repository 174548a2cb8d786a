/*
 * activate.c: compiled policy stores published to every worker thread.
 *
 * A snapshot is an immutable, sorted array of compiled stores (az_store),
 * each with its own reference count so that a new snapshot shares every
 * store that did not change.  The registry holds one reference to the
 * current snapshot; each reader (a worker thread) holds one more on the
 * snapshot it decides with, and a generation counter tells it when to
 * move on.  The hot path is one atomic load and a compare: the registry's
 * mutex is taken by a reader once per published change (to take its
 * reference safely), and by a writer only to swap the pointer.  Compiling
 * happens outside any lock a reader could meet.  The last reference to
 * go frees a snapshot, and the last to go of a store frees its compiled
 * set, so an old revision lives exactly as long as a decision uses it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/authz_int.h"
#include "authz/snap.h"
#include "base/base.h"

struct zt_authz {
	pthread_mutex_t mu;		/* guards cur and gen's move */
	zt_authz_snap *cur;
	_Atomic uint64_t gen;
	pthread_mutex_t reload_mu;	/* one refresh at a time */
	int64_t loaded_seq;		/* authz_state.seq last loaded */
	pthread_t poller;
	bool polling;
	_Atomic bool stop;
	char *db_url;
};

/* ---- reference counts ------------------------------------------------ */

static void
store_unref(az_store *st)
{
	if (st == NULL || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	zt_policy_set_free(st->ps);
	zt_policy_set_free(st->roles);
	zt_policy_schema_free(st->schema);
	free(st);
}

static void
snap_unref(zt_authz_snap *s)
{
	size_t i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (i = 0; i < s->n; i++)
		store_unref(s->stores[i]);
	free(s->stores);
	free(s);
}

/* ---- the registry ----------------------------------------------------- */

int
zt_authz_new(zt_authz **out)
{
	zt_authz *az;

	*out = NULL;
	if ((az = calloc(1, sizeof(*az))) == NULL ||
	    (az->cur = calloc(1, sizeof(*az->cur))) == NULL) {
		free(az);
		return ZT_ENOMEM;
	}
	atomic_init(&az->cur->refs, 1);
	atomic_init(&az->gen, 1);
	az->loaded_seq = -1;
	pthread_mutex_init(&az->mu, NULL);
	pthread_mutex_init(&az->reload_mu, NULL);
	*out = az;
	return ZT_OK;
}

void
zt_authz_free(zt_authz *az)
{
	if (az == NULL)
		return;
	zt_authz_poller_stop(az);
	snap_unref(az->cur);
	pthread_mutex_destroy(&az->mu);
	pthread_mutex_destroy(&az->reload_mu);
	free(az->db_url);
	free(az);
}

uint64_t
zt_authz_generation(const zt_authz *az)
{
	return atomic_load(&((zt_authz *)(uintptr_t)az)->gen);
}

const zt_authz_snap *
zt_authz_view_get(zt_authz *az, zt_authz_view *v)
{
	uint64_t g = atomic_load_explicit(&az->gen, memory_order_acquire);
	zt_authz_snap *s, *old = v->snap;

	if (old != NULL && v->gen == g)
		return old;
	pthread_mutex_lock(&az->mu);
	s = az->cur;
	atomic_fetch_add(&s->refs, 1);
	v->gen = atomic_load(&az->gen);
	pthread_mutex_unlock(&az->mu);
	v->snap = s;
	snap_unref(old);
	return s;
}

void
zt_authz_view_release(zt_authz_view *v)
{
	snap_unref(v->snap);
	v->snap = NULL;
	v->gen = 0;
}

/* Swaps in `s` (taking the caller's reference). */
static void
publish(zt_authz *az, zt_authz_snap *s)
{
	zt_authz_snap *old;

	pthread_mutex_lock(&az->mu);
	old = az->cur;
	az->cur = s;
	atomic_fetch_add_explicit(&az->gen, 1, memory_order_release);
	pthread_mutex_unlock(&az->mu);
	snap_unref(old);
}

/* ---- lookups --------------------------------------------------------- */

static int
key_cmp(const void *a, const void *b)
{
	const az_store *x = *(az_store *const *)a;
	const az_store *y = *(az_store *const *)b;

	return strcmp(x->key, y->key);
}

/* Store keys: the appid for an app, "*<tenant>" for a tenant store
 * ('*' is no appid character). */
static void
make_key(char out[AZ_KEY_MAX], const char *tenant, const char *appid)
{
	if (appid != NULL)
		snprintf(out, AZ_KEY_MAX, "%s", appid);
	else
		snprintf(out, AZ_KEY_MAX, "*%s", tenant);
}

const az_store *
az_snap_find(const zt_authz_snap *s, const char *tenant, const char *appid)
{
	az_store probe, *pp = &probe, **hit;

	if (s == NULL || s->n == 0 || (appid != NULL &&
	    !zt_appid_valid(appid)))
		return NULL;
	make_key(probe.key, tenant, appid);
	hit = bsearch(&pp, s->stores, s->n, sizeof(*s->stores), key_cmp);
	return hit != NULL ? *hit : NULL;
}

const char *
zt_authz_app_tenant(const zt_authz_snap *s, const char *appid)
{
	const az_store *st = az_snap_find(s, NULL, appid);

	return st != NULL ? st->tenant : NULL;
}

/* ---- building snapshots ---------------------------------------------- */

/* A new snapshot: `s`'s stores with `add` (may be NULL) in place of the
 * one of key `key`, or without it. */
static zt_authz_snap *
snap_with(const zt_authz_snap *s, const char *key, az_store *add)
{
	zt_authz_snap *n;
	size_t i;

	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->stores = calloc(s->n + 1, sizeof(*n->stores))) == NULL) {
		free(n);
		return NULL;
	}
	atomic_init(&n->refs, 1);
	for (i = 0; i < s->n; i++) {
		if (strcmp(s->stores[i]->key, key) == 0)
			continue;
		atomic_fetch_add(&s->stores[i]->refs, 1);
		n->stores[n->n++] = s->stores[i];
	}
	if (add != NULL)
		n->stores[n->n++] = add;
	qsort(n->stores, n->n, sizeof(*n->stores), key_cmp);
	return n;
}

static int
store_new(az_store **out, const zt_authz_source *src)
{
	static _Atomic uint64_t serials;
	az_texts t = { src->format == ZT_AUTHZ_JSON ? "json" : "cedar",
	    src->policies != NULL ? src->policies : "", src->schema,
	    src->roles };
	az_store *st;
	int rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return ZT_ENOMEM;
	atomic_init(&st->refs, 1);
	st->serial = atomic_fetch_add(&serials, 1) + 1;
	make_key(st->key, src->tenant, src->appid);
	snprintf(st->tenant, sizeof(st->tenant), "%s", src->tenant);
	snprintf(st->appid, sizeof(st->appid), "%s", src->appid ? src->appid :
	    "");
	snprintf(st->ns, sizeof(st->ns), "%s", src->ns ? src->ns : "");
	st->revision = src->revision;
	st->is_tenant = src->appid == NULL;
	if (src->revision > 0 && (rc = az_compile(&st->ps, &st->roles,
	    &st->schema, &t)) != ZT_OK) {
		free(st);
		return rc;
	}
	*out = st;
	return ZT_OK;
}

int
zt_authz_install(zt_authz *az, const zt_authz_source *src)
{
	char key[AZ_KEY_MAX];
	az_store *st = NULL;
	zt_authz_view v = ZT_AUTHZ_VIEW_INIT;
	zt_authz_snap *n;
	bool remove = src->policies == NULL && src->schema == NULL &&
	    src->revision < 0;
	int rc;

	if (!remove && (rc = store_new(&st, src)) != ZT_OK)
		return rc;
	make_key(key, src->tenant, src->appid);
	pthread_mutex_lock(&az->reload_mu);
	n = snap_with(zt_authz_view_get(az, &v), key, st);
	zt_authz_view_release(&v);
	if (n == NULL) {
		pthread_mutex_unlock(&az->reload_mu);
		store_unref(st);
		return ZT_ENOMEM;
	}
	publish(az, n);
	pthread_mutex_unlock(&az->reload_mu);
	return ZT_OK;
}

/* ---- refreshing from the database -------------------------------------- */

static int
read_seq(int64_t *seq, zt_db *db)
{
	zt_stmt *st;
	int err;

	if ((err = zt_db_prepare(&st, db, "SELECT seq FROM authz_state"
	    " WHERE id = 1")) < 0)
		return err;
	if ((err = zt_stmt_step(st)) == ZT_ROW)
		*seq = zt_stmt_int(st, 0);
	zt_stmt_reset(st);
	return err == ZT_ROW ? ZT_OK : err < 0 ? err :
	    zt_error_set(ZT_ERR, "authz_state has no row");
}

/* The texts of one stored revision, into `src` (strings in *hold). */
static int
read_revision(zt_authz_source *src, json_t **hold, zt_db *db,
    const char *store)
{
	zt_stmt *st;
	json_t *h;
	int err;

	*hold = NULL;
	if ((err = zt_db_prepare(&st, db, "SELECT format, policies,"
	    " schema_json, role_policies FROM authz_revisions WHERE"
	    " tenant = $1 AND"
	    " store = $2 AND revision = $3")) < 0)
		return err;
	zt_stmt_bind_text(st, 1, src->tenant);
	zt_stmt_bind_text(st, 2, store);
	zt_stmt_bind_int(st, 3, src->revision);
	if ((err = zt_stmt_step(st)) != ZT_ROW) {
		zt_stmt_reset(st);
		return err < 0 ? err : zt_error_set(ZT_ENOTFOUND, "revision "
		    "gone");
	}
	h = json_pack("[s, s, s?, s?]", zt_stmt_text(st, 0),
	    zt_stmt_text(st, 1), zt_stmt_text(st, 2), zt_stmt_is_null(st, 3) ?
	    NULL : zt_stmt_text(st, 3));
	zt_stmt_reset(st);
	if (h == NULL)
		return ZT_ENOMEM;
	src->format = strcmp(json_string_value(json_array_get(h, 0)), "json")
	    == 0 ? ZT_AUTHZ_JSON : ZT_AUTHZ_CEDAR;
	src->policies = json_string_value(json_array_get(h, 1));
	src->schema = json_string_value(json_array_get(h, 2));
	src->roles = json_string_value(json_array_get(h, 3));
	*hold = h;
	return ZT_OK;
}

/* The compiled store for one head row: the current one when its
 * revision has not moved, else a new compile; on a compile failure the
 * current one stays (a bad policy never replaces a good one). */
static az_store *
store_for(zt_db *db, const zt_authz_snap *cur, zt_authz_source *src,
    const char *store)
{
	const az_store *have = az_snap_find(cur, src->tenant, src->appid);
	az_store *st = NULL;
	json_t *hold = NULL;

	if (have != NULL && have->revision == src->revision &&
	    strcmp(have->ns, src->ns ? src->ns : "") == 0) {
		atomic_fetch_add(&((az_store *)(uintptr_t)have)->refs, 1);
		return (az_store *)(uintptr_t)have;
	}
	if ((src->revision == 0 || read_revision(src, &hold, db, store) ==
	    ZT_OK) && store_new(&st, src) == ZT_OK) {
		json_decref(hold);
		return st;
	}
	log_error("a policy store does not compile; the last good one stays",
	    ZS("tenant", src->tenant), ZS("store", store),
	    ZI("revision", src->revision), ZS("error", zt_error_msg()));
	json_decref(hold);
	if (have != NULL)
		atomic_fetch_add(&((az_store *)(uintptr_t)have)->refs, 1);
	return (az_store *)(uintptr_t)have;
}

static int
snap_add(zt_authz_snap *n, size_t *cap, az_store *st)
{
	void *p;

	if (st == NULL)
		return ZT_OK;
	if (n->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		if ((p = realloc(n->stores, *cap * sizeof(*n->stores))) ==
		    NULL) {
			store_unref(st);
			return ZT_ENOMEM;
		}
		n->stores = p;
	}
	n->stores[n->n++] = st;
	return ZT_OK;
}

static int
load_all(zt_authz_snap *n, zt_db *db, const zt_authz_snap *cur)
{
	static const char *const q[] = {
		"SELECT a.tenant, a.appid, a.namespace,"
		" COALESCE(s.revision, 0) FROM authz_apps a LEFT JOIN"
		" authz_stores s ON s.tenant = a.tenant AND s.store = a.appid",
		"SELECT tenant, store, '', revision FROM authz_stores"
		" WHERE store = '*'",
	};
	json_t *rows = json_array(), *r;
	zt_authz_source src;
	size_t cap = 0, i, k;
	zt_stmt *st;
	int err = ZT_OK;

	for (k = 0; k < 2 && err >= 0; k++) {
		if ((err = zt_db_prepare(&st, db, q[k])) < 0)
			break;
		while ((err = zt_stmt_step(st)) == ZT_ROW)
			json_array_append_new(rows, json_pack("[s,s,s,I]",
			    zt_stmt_text(st, 0), zt_stmt_text(st, 1),
			    zt_stmt_text(st, 2), (json_int_t)zt_stmt_int(st,
			    3)));
		zt_stmt_reset(st);
	}
	json_array_foreach(rows, i, r) {
		const char *store = json_string_value(json_array_get(r, 1));

		if (err < 0)
			break;
		memset(&src, 0, sizeof(src));
		src.tenant = json_string_value(json_array_get(r, 0));
		src.appid = strcmp(store, "*") == 0 ? NULL : store;
		src.ns = json_string_value(json_array_get(r, 2));
		src.revision = json_integer_value(json_array_get(r, 3));
		err = snap_add(n, &cap, store_for(db, cur, &src, store));
	}
	json_decref(rows);
	if (err >= 0 && n->n > 1)
		qsort(n->stores, n->n, sizeof(*n->stores), key_cmp);
	return err < 0 ? err : ZT_OK;
}

int
zt_authz_refresh(zt_authz *az, zt_db *db)
{
	zt_authz_view v = ZT_AUTHZ_VIEW_INIT;
	zt_authz_snap *n;
	int64_t seq = 0;
	int err;

	pthread_mutex_lock(&az->reload_mu);
	if ((err = read_seq(&seq, db)) < 0 || seq == az->loaded_seq)
		goto out;
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		err = ZT_ENOMEM;
		goto out;
	}
	atomic_init(&n->refs, 1);
	err = load_all(n, db, zt_authz_view_get(az, &v));
	zt_authz_view_release(&v);
	if (err < 0) {
		snap_unref(n);
		goto out;
	}
	publish(az, n);
	az->loaded_seq = seq;
out:
	pthread_mutex_unlock(&az->reload_mu);
	return err;
}

/* ---- the poller --------------------------------------------------------- */

static void *
poll_main(void *arg)
{
	zt_authz *az = arg;
	struct timespec ts = { 0, ZT_AUTHZ_POLL_MS * 1000000L };
	zt_db *db = NULL;

	while (!atomic_load(&az->stop)) {
		if (db == NULL && zt_db_open(&db, az->db_url) < 0)
			db = NULL;
		if (db != NULL && zt_authz_refresh(az, db) < 0) {
			log_warn("policy refresh failed", ZS("error",
			    zt_error_msg()));
			zt_db_close(db);
			db = NULL;
		}
		nanosleep(&ts, NULL);
	}
	zt_db_close(db);
	return NULL;
}

int
zt_authz_poller_start(zt_authz *az, const char *db_url)
{
	if (az->polling)
		return ZT_OK;
	if ((az->db_url = strdup(db_url)) == NULL)
		return ZT_ENOMEM;
	atomic_store(&az->stop, false);
	if (pthread_create(&az->poller, NULL, poll_main, az) != 0)
		return zt_error_set(ZT_ERR, "cannot start the policy poller");
	az->polling = true;
	return ZT_OK;
}

void
zt_authz_poller_stop(zt_authz *az)
{
	if (!az->polling)
		return;
	atomic_store(&az->stop, true);
	pthread_join(az->poller, NULL);
	az->polling = false;
}
