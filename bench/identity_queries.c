/*
 * identity_queries: how long the identity queries take on a large tenant.
 *
 * Builds, in one database:
 *   - 10,000 tenants, each with two account systems and ten identities,
 *     to compare per-tenant reads with those of a database holding one
 *     tenant (measured first, then the schema is dropped);
 *   - tenant "org": an org tree 10 levels deep of 100,000 units, each
 *     with its org group; 1,000 role groups nested three deep (10
 *     divisions > 90 departments > 900 teams) with the org group of
 *     every top unit in a division; 1,000,000 people spread over the leaf
 *     units (imported with zt_identity_import), each a direct member of
 *     two teams; and a role group "big" of 100,000 direct members.
 * Units, tenants and memberships go in with multi-row INSERTs (setup is
 * not measured); groups and nesting through the API, so the closure
 * table is what the code makes.
 *
 * Then times, in process: zt_identity_groups of random people;
 * zt_identity_list with kind and an attribute filter (first page and the
 * page after it); every 1,000-member page of "big", direct and
 * effective; and the per-tenant reads.  Prints percentiles in
 * microseconds next to the targets.  Asserts nothing.
 *
 *   bench_identity_queries [-p PEOPLE] [-u UNITS] [-t TENANTS]
 *                          [-m MEMBERS] [-q QUERIES] [-k PATH | -r PATH]
 *
 *   -p, -u, -t, -m   sizes (defaults above; -t 0 skips the tenants)
 *   -q QUERIES       timed calls per measure (default 2,000)
 *   -k PATH          keep the SQLite database at PATH
 *   -r PATH          measure a database kept by -k, without building
 *
 * Like bench_identity_import, it uses ZTIAM_TEST_DB when that names a
 * PostgreSQL server, and runs BENCH_SQL first when set.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define TENANT "org"
#define LEVELS 10
#define ROOTS 10
#define DIVISIONS 10
#define DEPTS 90
#define TEAMS 900
#define PAGE 1000
/* Rows per bulk transaction while setting up. */
#define SETUP_TX_ROWS 50000

typedef char idbuf[ZT_ID_LEN + 1];

struct opts {
	long people, units, tenants, members, queries;
	const char *keep, *reuse;
};

/* What the measures need to know of the database. */
struct world {
	zt_id_ctx cx;
	idbuf *people;
	size_t npeople;
	idbuf *leaves;
	size_t nleaves;
	idbuf *roles;			/* divisions, departments, teams */
	char big[ZT_ID_LEN + 1];
};

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, zt_error_msg());
	exit(1);
}

static void
make_id(idbuf out)
{
	if (zt_random_id(out, ZT_ID_LEN + 1, 12) < 0)
		die("random");
}

/* Progress of the setup, on stderr. */
static void
say(const char *what, int64_t t0)
{
	fprintf(stderr, "%s (%.1f s)\n", what, (double)(bench_ns() - t0) /
	    1e9);
}

/* ---- timing -------------------------------------------------------------- */

struct samples {
	int64_t *v;
	size_t n;
};

static void
samples_init(struct samples *s, size_t cap)
{
	if ((s->v = calloc(cap ? cap : 1, sizeof(*s->v))) == NULL)
		die("memory");
	s->n = 0;
}

static void
row(const char *what, struct samples *s, const char *target)
{
	int64_t p50 = bench_pct(s->v, s->n, 50), p99 = bench_pct(s->v,
	    s->n, 99), max = bench_pct(s->v, s->n, 100);

	printf("| %s | %zu | %.0f | %.0f | %.0f | %s |\n", what, s->n,
	    (double)p50 / 1e3, (double)p99 / 1e3, (double)max / 1e3, target);
	fflush(stdout);
}

/* ---- per-tenant reads ---------------------------------------------------- */

static void
tenant_seed(const zt_id_ctx *cx, char policy[4096])
{
	zt_buf nd = ZT_BUF_INIT(1 << 16);
	zt_import_stats st;
	zt_stmt *q;
	json_t *doc;
	long i;

	if (zt_tenant_create(&doc, cx, "t00000", "Tenant 0") < 0)
		die("tenant");
	json_decref(doc);
	if (zt_acctsys_create(&doc, cx, "t00000", &(zt_acctsys_spec){
	    .name = "staff", .kind = "workforce" }) < 0)
		die("account system");
	json_decref(doc);
	if (zt_acctsys_create(&doc, cx, "t00000", &(zt_acctsys_spec){
	    .name = "partners", .kind = "partner" }) < 0)
		die("account system");
	json_decref(doc);
	for (i = 0; i < 10; i++)
		zt_buf_addf(&nd, "{\"kind\":\"person\",\"name\":\"p%ld\"}\n",
		    i);
	if (zt_identity_import(&st, cx, "t00000", nd.data, nd.len, NULL,
	    NULL) < 0 || st.ok != 10)
		die("import");
	zt_buf_free(&nd);
	if (zt_db_prepare(&q, cx->db, "SELECT password_policy FROM"
	    " account_systems WHERE tenant = 't00000'") < 0 ||
	    zt_stmt_step(q) != ZT_ROW)
		die("policy");
	snprintf(policy, 4096, "%s", zt_stmt_text(q, 0));
	zt_stmt_reset(q);
}

/* Tenants 1 to n-1 like tenant 0, by direct inserts. */
static void
tenant_fill(zt_db *db, long n, const char *policy)
{
	bench_rows t, s, i;
	char tid[24], name[32], now[24], ok = 1;
	idbuf id;
	long k, j;

	snprintf(now, sizeof(now), "%lld", (long long)zt_now_ms());
	if (bench_rows_init(&t, db, "tenants (id, display_name, version,"
	    " created_at, updated_at)", 5, 0x1c, 500) < 0 ||
	    bench_rows_init(&s, db, "account_systems (tenant, id, name, kind,"
	    " password_policy, mfa_required, version, created_at,"
	    " updated_at)", 9, 0x1e0, 500) < 0 ||
	    bench_rows_init(&i, db, "identities (tenant, id, kind, name,"
	    " state, unit_id, attributes, version, created_at, updated_at)",
	    10, 0x380, 500) < 0 || zt_db_begin(db) < 0)
		die("tenants");
	/* Tenants first: the other rows refer to them. */
	for (k = 1; k < n && ok; k++) {
		snprintf(tid, sizeof(tid), "t%05ld", k);
		ok = bench_rows_add(&t, (const char *[]){ tid, tid, "1", now,
		    now }) == ZT_OK;
	}
	ok = ok && bench_rows_flush(&t) == ZT_OK;
	for (k = 1; k < n && ok; k++) {
		snprintf(tid, sizeof(tid), "t%05ld", k);
		make_id(id);
		ok = bench_rows_add(&s, (const char *[]){ tid, id,
		    "staff", "workforce", policy, "0", "1", now, now }) == 0;
		make_id(id);
		ok = ok && bench_rows_add(&s, (const char *[]){ tid, id,
		    "partners", "partner", policy, "0", "1", now, now }) == 0;
		for (j = 0; j < 10 && ok; j++) {
			snprintf(name, sizeof(name), "p%ld", j);
			make_id(id);
			ok = bench_rows_add(&i, (const char *[]){ tid, id,
			    "person", name, "staged", NULL, "{}", "1", now,
			    now }) == ZT_OK;
		}
	}
	if (!ok || bench_rows_flush(&s) < 0 ||
	    bench_rows_flush(&i) < 0 || zt_db_commit(db) < 0)
		die("tenants");
	bench_rows_free(&t);
	bench_rows_free(&s);
	bench_rows_free(&i);
}

/* Times the three reads over `q` tenants picked from the first n. */
static void
tenant_reads(const zt_id_ctx *cx, long n, long q, const char *label)
{
	struct samples s[3];
	zt_identity_query lq = { 0 };
	char tid[24], what[96];
	const char *names[] = { "zt_tenant_get", "zt_acctsys_list",
	    "zt_identity_list, first page" };
	json_t *doc;
	int64_t t0;
	long k;
	int m, err;

	for (m = 0; m < 3; m++)
		samples_init(&s[m], (size_t)q);
	for (k = 0; k < q; k++) {
		snprintf(tid, sizeof(tid), "t%05ld",
		    (long)(bench_rand() % (uint64_t)n));
		for (m = 0; m < 3; m++) {
			t0 = bench_ns();
			err = m == 0 ? zt_tenant_get(&doc, cx, tid) :
			    m == 1 ? zt_acctsys_list(&doc, cx, tid) :
			    zt_identity_list(&doc, cx, tid, &lq);
			s[m].v[s[m].n++] = bench_ns() - t0;
			if (err < 0)
				die(names[m]);
			json_decref(doc);
		}
	}
	for (m = 0; m < 3; m++) {
		snprintf(what, sizeof(what), "%s, %s", names[m], label);
		row(what, &s[m], "-");
		free(s[m].v);
	}
}

static void
tenants(bench_db *bd, const zt_id_ctx *cx, const struct opts *o)
{
	char policy[4096], label[64], a[32];
	int64_t t0 = bench_ns();

	tenant_seed(cx, policy);
	tenant_reads(cx, 1, o->queries, "1 tenant");
	tenant_fill(bd->db, o->tenants, policy);
	snprintf(label, sizeof(label), "%s tenants made", bench_num(a,
	    o->tenants));
	say(label, t0);
	snprintf(label, sizeof(label), "%s tenants", bench_num(a,
	    o->tenants));
	tenant_reads(cx, o->tenants, o->queries, label);
	if (bench_db_reset(bd->db) < 0)
		die("reset");
}

/* ---- the org tenant ------------------------------------------------------ */

/* Level sizes: ROOTS units at the top, each level a constant factor
 * larger, the last level taking what is left of `total`. */
static void
level_sizes(long size[LEVELS], long total)
{
	double lo = 1.0, hi = 64.0, g = 2.0, sum;
	long used = 0;
	int i, it;

	for (it = 0; it < 100; it++) {
		g = (lo + hi) / 2;
		for (sum = 0, i = 0; i < LEVELS; i++)
			sum += ROOTS * pow(g, i);
		if (sum > (double)total)
			hi = g;
		else
			lo = g;
	}
	for (i = 0; i < LEVELS - 1; i++) {
		size[i] = (long)(ROOTS * pow(g, i) + 0.5);
		used += size[i];
	}
	size[LEVELS - 1] = total - used;
}

/* The units, their org groups and closure rows; level by level, each
 * unit's parent picked round-robin from the level above, so every unit
 * above the last level has children and the leaves are the last level. */
static void
make_tree(struct world *w, long total)
{
	long size[LEVELS], k, at = 0, first = 0, pfirst = 0;
	char (*path)[LEVELS * (ZT_ID_LEN + 1) + 2];
	char name[32], now[24];
	idbuf *ids;
	bench_rows u, g, c;
	zt_db *db = w->cx.db;
	int lv, ok = 1;

	level_sizes(size, total);
	ids = calloc((size_t)total, sizeof(*ids));
	path = calloc((size_t)total, sizeof(*path));
	if (ids == NULL || path == NULL)
		die("memory");
	snprintf(now, sizeof(now), "%lld", (long long)zt_now_ms());
	if (bench_rows_init(&u, db, "org_units (tenant, id, parent_id, name,"
	    " path, version, created_at, updated_at)", 8, 0xe0, 1000) < 0 ||
	    bench_rows_init(&g, db, "identity_groups (tenant, id, kind, name,"
	    " unit_id, description, version, created_at, updated_at)", 9,
	    0x1c0, 1000) < 0 ||
	    bench_rows_init(&c, db, "group_closure (tenant, ancestor,"
	    " descendant, depth)", 4, 0x8, 1000) < 0 || zt_db_begin(db) < 0)
		die("tree");
	for (lv = 0; lv < LEVELS && ok; lv++) {
		for (k = 0; k < size[lv] && ok; k++, at++) {
			const char *parent = lv ? ids[pfirst + k %
			    size[lv - 1]] : NULL;

			make_id(ids[at]);
			snprintf(path[at], sizeof(path[0]), "%s%s/", lv ?
			    path[pfirst + k % size[lv - 1]] : "/", ids[at]);
			snprintf(name, sizeof(name), "u%d-%ld", lv, k);
			ok = bench_rows_add(&u, (const char *[]){ TENANT,
			    ids[at], parent, name, path[at], "1", now,
			    now }) == 0 &&
			    bench_rows_add(&g, (const char *[]){ TENANT,
			    ids[at], "org", name, ids[at], "", "1", now,
			    now }) == 0 &&
			    bench_rows_add(&c, (const char *[]){ TENANT,
			    ids[at], ids[at], "0" }) == 0;
		}
		pfirst = first;
		first = at;
	}
	if (!ok || bench_rows_flush(&u) < 0 || bench_rows_flush(&g) < 0 ||
	    bench_rows_flush(&c) < 0 || zt_db_commit(db) < 0)
		die("tree");
	bench_rows_free(&u);
	bench_rows_free(&g);
	bench_rows_free(&c);
	free(path);
	w->nleaves = (size_t)size[LEVELS - 1];
	if ((w->leaves = calloc(w->nleaves, sizeof(*w->leaves))) == NULL)
		die("memory");
	memcpy(w->leaves, ids + (total - size[LEVELS - 1]),
	    w->nleaves * sizeof(*w->leaves));
	/* The top units' org groups go into the divisions below. */
	memcpy(w->roles[DIVISIONS + DEPTS + TEAMS], ids,
	    ROOTS * sizeof(*ids));
	free(ids);
}

static void
group_create(const zt_id_ctx *cx, idbuf out, const char *name)
{
	json_t *doc;

	if (zt_group_create(&doc, cx, TENANT, &(zt_group_spec){
	    .name = name }) < 0)
		die("group");
	snprintf(out, ZT_ID_LEN + 1, "%s",
	    json_string_value(json_object_get(doc, "id")));
	json_decref(doc);
}

static void
nest(const zt_id_ctx *cx, const char *parent, const char *child)
{
	if (zt_group_member_add(cx, TENANT, parent, ZT_MEMBER_GROUP,
	    child) < 0)
		die("nest");
}

/* Divisions > departments > teams, and each top unit's org group in a
 * division, through the API. */
static void
make_roles(struct world *w)
{
	char name[32];
	int i;

	for (i = 0; i < DIVISIONS + DEPTS + TEAMS; i++) {
		snprintf(name, sizeof(name), "role-%03d", i);
		group_create(&w->cx, w->roles[i], name);
	}
	for (i = 0; i < DEPTS; i++)
		nest(&w->cx, w->roles[i % DIVISIONS], w->roles[DIVISIONS + i]);
	for (i = 0; i < TEAMS; i++)
		nest(&w->cx, w->roles[DIVISIONS + i % DEPTS],
		    w->roles[DIVISIONS + DEPTS + i]);
	for (i = 0; i < ROOTS; i++)
		nest(&w->cx, w->roles[i % DIVISIONS],
		    w->roles[DIVISIONS + DEPTS + TEAMS + i]);
	group_create(&w->cx, w->big, "big");
}

/* People in the leaf units, through the import, in slices so the input
 * stays small. */
static void
make_people(struct world *w, long n)
{
	zt_buf nd = ZT_BUF_INIT((size_t)1 << 30);
	zt_import_stats st;
	long i, from;

	for (from = 0; from < n; from += 100000) {
		zt_buf_reset(&nd);
		for (i = from; i < n && i < from + 100000; i++)
			bench_person_line(&nd, i, w->leaves[(size_t)i %
			    w->nleaves], false);
		if (zt_identity_import(&st, &w->cx, TENANT, nd.data, nd.len,
		    NULL, NULL) < 0 || st.failed != 0)
			die("import");
	}
	zt_buf_free(&nd);
}

static void
load_people(struct world *w)
{
	zt_stmt *st;
	size_t cap = 1024;
	int err;

	w->npeople = 0;
	if ((w->people = malloc(cap * sizeof(*w->people))) == NULL ||
	    zt_db_prepare(&st, w->cx.db, "SELECT id FROM identities"
	    " WHERE tenant = $1 ORDER BY id") < 0)
		die("people");
	zt_stmt_bind_text(st, 1, TENANT);
	while ((err = zt_stmt_step(st)) == ZT_ROW) {
		if (w->npeople == cap && (w->people = realloc(w->people,
		    (cap *= 2) * sizeof(*w->people))) == NULL)
			die("memory");
		snprintf(w->people[w->npeople++], ZT_ID_LEN + 1, "%s",
		    zt_stmt_text(st, 0));
	}
	zt_stmt_reset(st);
	if (err < 0)
		die("people");
}

/* Two teams per person, and `members` people in "big". */
static void
make_members(struct world *w, long members)
{
	zt_db *db = w->cx.db;
	char now[24];
	bench_rows r;
	size_t i, stride, rows = 0;
	int t, ok = 1;

	snprintf(now, sizeof(now), "%lld", (long long)zt_now_ms());
	if (bench_rows_init(&r, db, "group_members (tenant, group_id,"
	    " member_type, member_id, created_at)", 5, 0x10, 1000) < 0 ||
	    zt_db_begin(db) < 0)
		die("members");
	for (i = 0; i < w->npeople && ok; i++)
		for (t = 0; t < 2 && ok; t++, rows++) {
			ok = bench_rows_add(&r, (const char *[]){ TENANT,
			    w->roles[DIVISIONS + DEPTS + (i * 7 + (size_t)t *
			    450) % TEAMS], "identity", w->people[i],
			    now }) == 0;
			if (ok && rows % SETUP_TX_ROWS == SETUP_TX_ROWS - 1)
				ok = bench_rows_flush(&r) == 0 &&
				    zt_db_commit(db) == 0 &&
				    zt_db_begin(db) == 0;
		}
	stride = members > 0 && w->npeople > (size_t)members ?
	    w->npeople / (size_t)members : 1;
	for (i = 0; i < (size_t)members && i * stride < w->npeople && ok; i++)
		ok = bench_rows_add(&r, (const char *[]){ TENANT, w->big,
		    "identity", w->people[i * stride], now }) == 0;
	if (!ok || bench_rows_flush(&r) < 0 || zt_db_commit(db) < 0)
		die("members");
	bench_rows_free(&r);
}

static void
build(struct world *w, const struct opts *o)
{
	int64_t t0 = bench_ns();
	char a[32], what[64];
	json_t *doc;

	if (zt_tenant_create(&doc, &w->cx, TENANT, "Org") < 0)
		die("tenant");
	json_decref(doc);
	make_tree(w, o->units);
	snprintf(what, sizeof(what), "%s units made", bench_num(a,
	    o->units));
	say(what, t0);
	make_roles(w);
	say("1,001 role groups made and nested", t0);
	make_people(w, o->people);
	snprintf(what, sizeof(what), "%s people imported", bench_num(a,
	    o->people));
	say(what, t0);
	load_people(w);
	make_members(w, o->members);
	say("memberships made", t0);
}

/* For -r: what build() would have left in memory. */
static void
load(struct world *w)
{
	zt_stmt *st;

	load_people(w);
	if (zt_db_prepare(&st, w->cx.db, "SELECT id FROM identity_groups"
	    " WHERE tenant = $1 AND kind = 'role' AND name = 'big'") < 0)
		die("big");
	zt_stmt_bind_text(st, 1, TENANT);
	if (zt_stmt_step(st) != ZT_ROW)
		die("no group \"big\": not a database of this benchmark");
	snprintf(w->big, sizeof(w->big), "%s", zt_stmt_text(st, 0));
	zt_stmt_reset(st);
}

/* ---- measures ------------------------------------------------------------ */

static const char *
some_person(const struct world *w)
{
	return w->people[bench_rand() % w->npeople];
}

static void
measure_groups(const struct world *w, long q)
{
	struct samples s;
	size_t total = 0;
	json_t *doc;
	int64_t t0;
	long k;

	samples_init(&s, (size_t)q);
	for (k = 0; k < q + q / 10; k++) {
		t0 = bench_ns();
		if (zt_identity_groups(&doc, &w->cx, TENANT,
		    some_person(w)) < 0)
			die("groups");
		/* The first tenth warms the cache and is not counted. */
		if (k >= q / 10) {
			s.v[s.n++] = bench_ns() - t0;
			total += json_array_size(doc);
		}
		json_decref(doc);
	}
	fprintf(stderr, "groups per person: %.1f on average\n",
	    (double)total / (double)(s.n ? s.n : 1));
	row("zt_identity_groups (effective groups of a person)", &s,
	    "p99 < 1,000");
	free(s.v);
}

/* A value that no one holds: the answer is empty, and the list scans
 * every person by name to find that out. */
static void
measure_list_rare(const struct world *w, long q)
{
	zt_identity_query lq = { .kind = "person", .nattrs = 1 };
	struct samples s;
	json_t *doc;
	int64_t t0;
	long k;

	samples_init(&s, (size_t)q);
	lq.attrs[0].key = "dept";
	lq.attrs[0].value = json_string("none");
	for (k = 0; k < q; k++) {
		t0 = bench_ns();
		if (zt_identity_list(&doc, &w->cx, TENANT, &lq) < 0)
			die("list");
		s.v[s.n++] = bench_ns() - t0;
		json_decref(doc);
	}
	json_decref(lq.attrs[0].value);
	row("the same with dept=none (no one matches)", &s, "p99 < 10,000");
	free(s.v);
}

static void
measure_list(const struct world *w, long q)
{
	struct samples first, second;
	zt_identity_query lq = { .kind = "person", .nattrs = 1 };
	char dept[8], what[96], a[32];
	json_t *doc, *v;
	int64_t t0;
	long k;

	samples_init(&first, (size_t)q);
	samples_init(&second, (size_t)q);
	lq.attrs[0].key = "dept";
	for (k = 0; k < q; k++) {
		snprintf(dept, sizeof(dept), "d%d", (int)(bench_rand() % 50));
		v = json_string(dept);
		lq.attrs[0].value = v;
		lq.cursor = NULL;
		t0 = bench_ns();
		if (zt_identity_list(&doc, &w->cx, TENANT, &lq) < 0)
			die("list");
		first.v[first.n++] = bench_ns() - t0;
		lq.cursor = json_string_value(json_object_get(doc,
		    "next_cursor"));
		if (lq.cursor != NULL) {
			json_t *next;

			t0 = bench_ns();
			if (zt_identity_list(&next, &w->cx, TENANT, &lq) < 0)
				die("list");
			second.v[second.n++] = bench_ns() - t0;
			json_decref(next);
		}
		json_decref(doc);
		json_decref(v);
	}
	snprintf(what, sizeof(what), "zt_identity_list kind=person, dept=dN, "
	    "%s identities, first page of 100", bench_num(a,
	    (int64_t)w->npeople));
	row(what, &first, "p99 < 10,000");
	row("the same, page 2 (from the cursor)", &second, "p99 < 10,000");
	free(first.v);
	free(second.v);
	measure_list_rare(w, q / 100 > 5 ? q / 100 : 5);
}

/* Walks the pages of "big" `walks` times; page i's times go to s[i]. */
static size_t
walk_pages(const struct world *w, bool effective, struct samples *s,
    size_t maxpages, int walks)
{
	char cur[512];
	json_t *doc, *next;
	size_t page, pages = 0;
	bool more;
	int64_t t0;
	int r;

	for (r = 0; r < walks; r++) {
		cur[0] = '\0';
		for (page = 0; page < maxpages; page++) {
			t0 = bench_ns();
			if (zt_group_members(&doc, &w->cx, TENANT, w->big,
			    effective, cur[0] ? cur : NULL, PAGE) < 0)
				die("members");
			s[page].v[s[page].n++] = bench_ns() - t0;
			next = json_object_get(doc, "next_cursor");
			more = json_is_string(next);
			if (more)
				snprintf(cur, sizeof(cur), "%s",
				    json_string_value(next));
			json_decref(doc);
			if (!more)
				break;
		}
		pages = page + 1 < maxpages ? page + 1 : maxpages;
	}
	return pages;
}

static void
measure_pages(const struct world *w, long members)
{
	size_t maxpages = (size_t)members / PAGE + 2, pages, i;
	const int walks = 5;
	struct samples *s;
	char what[128];
	int eff;

	if ((s = calloc(maxpages, sizeof(*s))) == NULL)
		die("memory");
	for (eff = 0; eff < 2; eff++) {
		for (i = 0; i < maxpages; i++)
			samples_init(&s[i], walks);
		pages = walk_pages(w, eff, s, maxpages, walks);
		snprintf(what, sizeof(what), "zt_group_members %s, page 1 of "
		    "%zu (1,000 a page)", eff ? "effective" : "direct", pages);
		row(what, &s[0], "flat");
		snprintf(what, sizeof(what), "the same, page %zu", pages / 2);
		row(what, &s[pages / 2 - 1], "flat");
		snprintf(what, sizeof(what), "the same, page %zu", pages);
		row(what, &s[pages - 1], "flat");
		for (i = 0; i < maxpages; i++)
			free(s[i].v);
	}
	free(s);
}

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: bench_identity_queries [-p PEOPLE] "
	    "[-u UNITS] [-t TENANTS] [-m MEMBERS] [-q QUERIES]\n"
	    "                              [-k PATH | -r PATH]\n");
	exit(2);
}

static void
options(struct opts *o, int argc, char **argv)
{
	long *num;
	int c;

	*o = (struct opts){ 1000000, 100000, 10000, 100000, 2000, NULL,
	    NULL };
	while ((c = getopt(argc, argv, "p:u:t:m:q:k:r:")) != -1) {
		num = c == 'p' ? &o->people : c == 'u' ? &o->units :
		    c == 't' ? &o->tenants : c == 'm' ? &o->members :
		    c == 'q' ? &o->queries : NULL;
		if (num != NULL)
			*num = strtol(optarg, NULL, 10);
		else if (c == 'k')
			o->keep = optarg;
		else if (c == 'r')
			o->reuse = optarg;
		else
			usage();
	}
	if (optind != argc || o->people < 1 || o->units < 1000 ||
	    o->tenants < 0 || o->members < PAGE * 2 || o->queries < 10 ||
	    (o->keep && o->reuse))
		usage();
}

int
main(int argc, char **argv)
{
	zt_actor actor = { "system", NULL, NULL };
	char load0[64], load1[64];
	struct world w = { 0 };
	struct opts o;
	bench_db bd = { 0 };

	options(&o, argc, argv);
	zt_log_setup(ZT_LOG_WARN, ZT_LOG_LOGFMT, 2);
	if (o.reuse != NULL) {
		snprintf(bd.url, sizeof(bd.url), "%s", o.reuse);
		if (zt_db_open(&bd.db, bd.url) < 0)
			die("open");
	} else if (bench_db_open(&bd, o.keep) < 0)
		die("open");
	w.cx = (zt_id_ctx){ bd.db, NULL, &actor, { NULL, NULL } };
	if ((w.roles = calloc(DIVISIONS + DEPTS + TEAMS + ROOTS,
	    sizeof(*w.roles))) == NULL)
		die("memory");

	bench_load(load0);
	printf("| measure (%s) | calls | p50 µs | p99 µs | max µs | "
	    "target µs |\n|---|---|---|---|---|---|\n",
	    zt_db_driver_name(bd.db));
	if (o.reuse == NULL && o.tenants > 0)
		tenants(&bd, &w.cx, &o);
	if (o.reuse == NULL)
		build(&w, &o);
	else
		load(&w);
	measure_groups(&w, o.queries);
	measure_list(&w, o.queries);
	measure_pages(&w, o.members);
	bench_load(load1);
	printf("\nload average before / after: %s / %s\n", load0, load1);

	free(w.people);
	free(w.leaves);
	free(w.roles);
	bench_db_close(&bd);
	return 0;
}
