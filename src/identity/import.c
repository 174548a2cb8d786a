/*
 * import.c: bulk import of identities and their accounts from NDJSON.
 *
 * Lines go in batches, one transaction per batch, in three steps:
 *
 *   read      before the transaction: parse each line, run every check
 *             that needs no database, and copy what the line will write
 *             into the batch's arena, so its JSON tree is freed at once;
 *   resolve   in the transaction: look up units and account systems
 *             (through small caches), give out ids, and find names and
 *             logins that an earlier line of the batch has taken;
 *   write     the rows of every line that passed, table by table, many
 *             rows per INSERT, then one audit record for the batch.
 *
 * Nearly every line of a real import passes the checks and takes no name
 * or login that exists already, so the write step needs no savepoints:
 * that, the multi-row INSERTs and the one audit record per batch are what
 * make the import fast.  When a row does fail there (a name or login that
 * a row outside the batch holds, or anything the checks cannot see), the
 * transaction is rolled back and the batch runs again line by line, each
 * line in a savepoint of its own, as a sequence of single creates would:
 * a line is applied whole or not at all, and a bad line does not stop the
 * others.  A line that lost its name or login to an earlier line of the
 * batch fails in the first run only if that earlier line went in; the
 * second run leaves the question to the database.
 *
 * A line at fault is reported with the fault a single create would name
 * first: the read step keeps an account's fault until the resolve step
 * has looked up the unit and the systems of the accounts before it.
 *
 * Results reach the caller's callback only after the batch commits, so a
 * reported success is durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity_int.h"

/* Nesting in one line: the object, "attributes" or "accounts", an
 * account or a set. */
#define LINE_DEPTH_MAX 4
/* Message kept per failed line until its batch commits: messages are one
 * line, naming a field and quoting at most QUOTE_MAX bytes of input. */
#define RESULT_MSG_MAX 240
/* Accounts in one line: one per account system is the normal case. */
#define LINE_ACCOUNTS_MAX 32
/* Input bytes per batch.  What a line writes stays in the arena until its
 * batch commits, at about twice its size, so this bounds the import's
 * memory when lines are long (ZT_IMPORT_BATCH bounds it when they are
 * short). */
#define BATCH_BYTES_MAX (4 * 1024 * 1024)
/* Arena chunks: large enough for several of the longest lines. */
#define CHUNK_SIZE (256 * 1024)
/*
 * Rows per INSERT in the write step, as a power of two: 2^8 = 256.  On
 * PostgreSQL each statement is a round trip.  On SQLite an INSERT of
 * several rows keeps a statement journal (a copy of each page it changes
 * first) so that it can undo itself, and every statement of a batch
 * copies the same hot pages again: 256 rows spread that over four times
 * as many rows as 64 did, for 5 % less work per line; 1024 was slower.
 * 256 rows of the widest table bind 1538 parameters, far below either
 * engine's limit (32766 and 65535).  A remainder goes in the powers of
 * two below, so each table has at most 9 statement texts per connection.
 */
#define ROWS_LOG2 8
/* Account systems cached per batch, by name or id: a tenant has a
 * handful. */
#define SYS_CACHE 8
/* Units cached per batch, by id (a power of two).  Imports often put many
 * people in a few units; with more units than this a miss costs one
 * indexed read, as a single create does. */
#define UNIT_CACHE 256

/* ---- the arena ----------------------------------------------------------- */

/*
 * Memory for the strings and arrays of a batch's lines: chunks that are
 * filled in turn and kept from one batch to the next.  Nothing in it is
 * freed on its own, which keeps the thousands of small strings of a batch
 * close together and spares malloc and free a call for each.
 */
struct chunk {
	struct chunk *next;
	size_t size, used;
	char data[];
};

struct arena {
	struct chunk *head, *cur;
};

/* `n` bytes aligned for a pointer or a size, or NULL when memory ran
 * out. */
static void *
arena_alloc(struct arena *a, size_t n)
{
	struct chunk *c = a->cur, *nc;
	size_t at;

	n = (n + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	while (c != NULL && c->size - c->used < n) {
		if ((c = c->next) != NULL)
			c->used = 0;
	}
	if (c == NULL) {
		if ((nc = malloc(sizeof(*nc) + (n > CHUNK_SIZE ? n :
		    CHUNK_SIZE))) == NULL)
			return NULL;
		nc->size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		nc->used = 0;
		nc->next = a->cur ? a->cur->next : NULL;
		if (a->cur != NULL)
			a->cur->next = nc;
		else
			a->head = nc;
		c = nc;
	}
	a->cur = c;
	at = c->used;
	c->used += n;
	return c->data + at;
}

static char *
arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if ((p = arena_alloc(a, n)) != NULL)
		memcpy(p, s, n);
	return p;
}

/* The JSON text of `v` with `flags`, in the arena. */
static char *
arena_dump(struct arena *a, json_t *v, size_t flags)
{
	size_t n = json_dumpb(v, NULL, 0, flags);
	char *p;

	if (n == 0 || (p = arena_alloc(a, n + 1)) == NULL)
		return NULL;
	json_dumpb(v, p, n, flags);
	p[n] = '\0';
	return p;
}

static void
arena_reset(struct arena *a)
{
	a->cur = a->head;
	if (a->cur != NULL)
		a->cur->used = 0;
}

static void
arena_free(struct arena *a)
{
	struct chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = a->cur = NULL;
}

/* ---- state of one batch -------------------------------------------------- */

/* One row of identity_attrs: a scalar, or one member of a set. */
struct attr_row {
	const char *identity;
	const char *name;		/* the identity's */
	const char *key;
	const char *value;		/* JSON text */
};

struct acct {
	const char *sys;		/* the system's name or id as given */
	bool by_name;
	const char *login;
	const char *state;		/* NULL: "active" */
	const char *key;		/* the login folded */
	const char *owner;		/* the line's identity id */
	char system[ZT_ID_LEN + 1];	/* the system's id, once resolved */
	char id[ZT_ID_LEN + 1];
};

/* A fault the read step found in an account, kept for the resolve step. */
enum acct_fault {
	AF_NONE,
	AF_BEFORE_LOOKUP,		/* in the account's fields */
	AF_AFTER_LOOKUP,		/* in its login or state */
};

/* A line, with its strings and arrays in the batch's arena. */
struct line {
	size_t lineno;
	int rc;				/* ZT_OK, or why it failed */
	bool lost;			/* rc: a name or login an earlier line
					 * of the batch took */
	char text[RESULT_MSG_MAX];	/* an error message */
	const char *kind, *name, *state, *unit;
	const char *attrs_text;		/* normal form, for the row */
	struct attr_row *attrs;
	size_t nattrs;
	struct acct *acct;
	size_t nacct;
	size_t bad_acct;		/* the first account at fault */
	enum acct_fault fault;		/* its message is in text */
	int fault_rc;
	char id[ZT_ID_LEN + 1];
};

struct sys_entry {
	bool by_name;
	char key[ZT_NAME_MAX + 1];
	char id[ZT_ID_LEN + 1];
};

struct unit_entry {
	char id[ZT_ID_LEN + 1];		/* "" when the slot is free */
	int rc;				/* ZT_OK or ZT_ENOTFOUND */
};

/* Names and logins claimed by the lines of a batch: open addressing on a
 * hash, comparing the lines' own strings. */
struct claim {
	uint64_t hash;
	const char *a, *b;		/* kind and name, or system and key */
};

/* The tables the write step fills, in the order it fills them. */
enum { T_IDENTITIES, T_ATTRS, T_ACCOUNTS, T_COUNT };

/* The rows to write, by table, pointing into the batch's lines. */
struct write_set {
	const struct line **lines;
	size_t nlines, cap_lines;
	const struct attr_row **attrs;
	size_t nattrs, cap_attrs;
	const struct acct **accts;
	size_t naccts, cap_accts;
};

/* A batch, and the buffers an import keeps from one batch to the next. */
struct batch {
	struct line *l;
	size_t n;
	size_t naccts;
	struct arena mem;
	struct sys_entry sys[SYS_CACHE];
	size_t nsys;
	struct unit_entry unit[UNIT_CACHE];
	struct claim *claims;
	size_t ncap, cap_claims;
	int64_t now;
	bool row_failed;		/* the fast run failed on a row */
	uint8_t *rnd;			/* random bytes for its ids */
	size_t rnd_used, cap_rnd;
	struct write_set all;		/* the fast run's rows */
	struct write_set one;		/* one line's rows, line by line */
	char *sql[T_COUNT][ROWS_LOG2 + 1];	/* INSERT texts, made once */
};

/* Makes room for `want` elements of `size` bytes in the array at *pp,
 * which has room for *cap; at least doubles, so appends are cheap. */
static int
grow(void *pp, size_t *cap, size_t want, size_t size)
{
	void **p = pp, *np;
	size_t n = *cap ? *cap : 64;

	if (want <= *cap)
		return ZT_OK;
	while (n < want)
		n *= 2;
	if ((np = realloc(*p, n * size)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	*p = np;
	*cap = n;
	return ZT_OK;
}

static void
write_set_free(struct write_set *w)
{
	free(w->lines);
	free(w->attrs);
	free(w->accts);
	memset(w, 0, sizeof(*w));
}

/* Empties the batch for the next one; its buffers stay. */
static void
batch_clear(struct batch *b)
{
	memset(b->l, 0, b->n * sizeof(*b->l));
	arena_reset(&b->mem);
	b->rnd_used = 0;
	b->n = 0;
	b->naccts = 0;
	b->nsys = 0;
	memset(b->unit, 0, sizeof(b->unit));
}

static void
batch_free(struct batch *b)
{
	int t, lg;

	free(b->l);
	arena_free(&b->mem);
	free(b->claims);
	free(b->rnd);
	write_set_free(&b->all);
	write_set_free(&b->one);
	for (t = 0; t < T_COUNT; t++)
		for (lg = 0; lg <= ROWS_LOG2; lg++)
			free(b->sql[t][lg]);
}

/* Records why a line failed: the current error, under `prefix`. */
static int
line_fail(struct line *ln, int err, const char *prefix)
{
	ln->rc = err;
	snprintf(ln->text, sizeof(ln->text), "%s%s", prefix, zt_error_msg());
	return err;
}

static int
no_memory(void)
{
	return zt_error_set(ZT_ENOMEM, "out of memory");
}

/* ---- read: checks without the database ----------------------------------- */

/* Copies the index rows of normalised attributes, as attrs_write makes
 * them. */
static int
read_attrs(struct line *ln, struct arena *a, json_t *attrs)
{
	const char *key, *k;
	json_t *v, *m;
	size_t n = 0, i;

	json_object_foreach(attrs, key, v)
		n += json_is_array(v) ? json_array_size(v) : 1;
	if ((ln->attrs_text = arena_dump(a, attrs, JSON_COMPACT |
	    JSON_SORT_KEYS)) == NULL ||
	    (ln->attrs = arena_alloc(a, (n ? n : 1) *
	    sizeof(*ln->attrs))) == NULL)
		return no_memory();
	json_object_foreach(attrs, key, v) {
		if ((k = arena_strdup(a, key)) == NULL)
			return no_memory();
		for (i = 0; i < (json_is_array(v) ? json_array_size(v) : 1);
		    i++) {
			m = json_is_array(v) ? json_array_get(v, i) : v;
			ln->attrs[ln->nattrs].identity = ln->id;
			ln->attrs[ln->nattrs].name = ln->name;
			ln->attrs[ln->nattrs].key = k;
			if ((ln->attrs[ln->nattrs++].value = arena_dump(a, m,
			    JSON_ENCODE_ANY | JSON_COMPACT)) == NULL)
				return no_memory();
		}
	}
	return ZT_OK;
}

/* Keeps the first fault of account i for the resolve step; later
 * accounts are not read. */
static void
acct_fault(struct line *ln, size_t i, int err, enum acct_fault when)
{
	char prefix[48];

	prefix[0] = '\0';
	if (when != AF_NONE)
		snprintf(prefix, sizeof(prefix), "accounts[%zu]: ", i);
	line_fail(ln, err, prefix);
	ln->rc = ZT_OK;
	ln->fault_rc = err;
	ln->bad_acct = i;
	ln->fault = when == AF_NONE ? AF_BEFORE_LOOKUP : when;
}

/* Reads account i: its fields, then the checks of its login and state,
 * which a single create runs after finding the system. */
static int
read_account(struct line *ln, struct arena *a, json_t *j, size_t i)
{
	struct acct *ac = &ln->acct[i];
	const char *sys = NULL, *sys_id = NULL;
	bool has_name = false, has_id = false;
	zt_account_spec spec = { 0 };
	zt_json_field f[] = {
		{ "system", ZT_J_STRING, false, &sys, &has_name },
		{ "system_id", ZT_J_STRING, false, &sys_id, &has_id },
		{ "login_name", ZT_J_STRING, true, &spec.login_name, NULL },
		{ "state", ZT_J_STRING, false, &spec.state, NULL },
	};
	char key[LOGIN_MAX + 1];
	int err;

	if ((err = zt_json_decode(j, f, ZT_ARRAY_LEN(f))) < 0 ||
	    (has_name == has_id && (err = zt_error_set(ZT_EINVAL, "give "
	    "one of \"system\" (a name) or \"system_id\"")) < 0)) {
		acct_fault(ln, i, err, AF_BEFORE_LOOKUP);
		return ZT_OK;
	}
	ac->by_name = has_name;
	if ((ac->sys = arena_strdup(a, has_name ? sys : sys_id)) == NULL)
		return no_memory();
	if ((err = account_check(&spec)) < 0) {
		acct_fault(ln, i, err, AF_AFTER_LOOKUP);
		return ZT_OK;
	}
	login_fold(key, spec.login_name);
	if ((ac->login = arena_strdup(a, spec.login_name)) == NULL ||
	    (spec.state != NULL &&
	    (ac->state = arena_strdup(a, spec.state)) == NULL) ||
	    (ac->key = arena_strdup(a, key)) == NULL)
		return no_memory();
	return ZT_OK;
}

/* Reads the accounts up to the first at fault.  Returns an error only
 * when memory ran out. */
static int
read_accounts(struct line *ln, struct arena *a, json_t *accounts)
{
	size_t n = json_array_size(accounts), i;
	int err;

	if (n > LINE_ACCOUNTS_MAX) {
		acct_fault(ln, 0, zt_error_set(ZT_ETOOBIG, "field "
		    "\"accounts\": more than %d", LINE_ACCOUNTS_MAX),
		    AF_NONE);
		return ZT_OK;
	}
	if (n == 0)
		return ZT_OK;
	if ((ln->acct = arena_alloc(a, n * sizeof(*ln->acct))) == NULL)
		return no_memory();
	memset(ln->acct, 0, n * sizeof(*ln->acct));
	ln->nacct = n;
	for (i = 0; i < n && ln->fault == AF_NONE; i++)
		if ((err = read_account(ln, a, json_array_get(accounts, i),
		    i)) < 0)
			return err;
	return ZT_OK;
}

/* Copies the identity's strings. */
static int
read_identity(struct line *ln, struct arena *a, const zt_identity_spec *s)
{
	if ((ln->kind = arena_strdup(a, s->kind)) == NULL ||
	    (ln->name = arena_strdup(a, s->name)) == NULL ||
	    (s->state != NULL &&
	    (ln->state = arena_strdup(a, s->state)) == NULL) ||
	    (s->unit != NULL && (ln->unit = arena_strdup(a, s->unit)) == NULL))
		return no_memory();
	return ZT_OK;
}

/* Parses one line and checks what needs no database, in the order a
 * single create checks it; the line's JSON is freed before returning. */
static int
line_read(struct line *ln, struct arena *a, const zt_id_ctx *cx,
    const char *p, size_t n)
{
	zt_identity_spec spec = { 0 };
	json_t *v = NULL, *accounts = NULL, *attrs = NULL;
	zt_json_field f[] = {
		{ "kind", ZT_J_STRING, true, &spec.kind, NULL },
		{ "name", ZT_J_STRING, true, &spec.name, NULL },
		{ "state", ZT_J_STRING, false, &spec.state, NULL },
		{ "unit_id", ZT_J_STRING, false, &spec.unit, NULL },
		{ "attributes", ZT_J_OBJECT, false, &spec.attributes, NULL },
		{ "accounts", ZT_J_ARRAY, false, &accounts, NULL },
	};
	/* scope_enter makes a unit scope a subtree; the rest of the scope
	 * is the resolve step's. */
	struct scope sc = { .subtree = cx->scope.unit != NULL };
	int err;

	if (n > ZT_IMPORT_LINE_MAX)
		return zt_error_set(ZT_ETOOBIG, "line longer than %d bytes",
		    ZT_IMPORT_LINE_MAX);
	if ((err = zt_json_parse(&v, p, n, LINE_DEPTH_MAX)) < 0 ||
	    (err = zt_json_decode(v, f, ZT_ARRAY_LEN(f))) < 0 ||
	    (err = identity_check(&sc, &spec)) < 0 ||
	    (err = attrs_normalize(&attrs, spec.attributes)) < 0)
		goto out;
	if ((err = read_identity(ln, a, &spec)) < 0 ||
	    (err = read_attrs(ln, a, attrs)) < 0)
		goto out;
	err = read_accounts(ln, a, accounts);
out:
	json_decref(attrs);
	json_decref(v);
	return err;
}

static bool
blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* The input position between batches. */
struct cursor {
	const char *p, *end;
	size_t lineno;
};

/* Reads lines from `c` until the batch is full or the input ends.  Only
 * running out of memory stops it. */
static int
batch_read(struct batch *b, const zt_id_ctx *cx, struct cursor *c)
{
	const char *start = c->p, *nl;
	struct line *ln;
	size_t n;
	int err;

	while (c->p < c->end && b->n < ZT_IMPORT_BATCH &&
	    (size_t)(c->p - start) < BATCH_BYTES_MAX) {
		nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
		n = (size_t)((nl ? nl : c->end) - c->p);
		c->lineno++;
		if (!blank(c->p, n)) {
			ln = &b->l[b->n++];
			ln->lineno = c->lineno;
			if ((err = line_read(ln, &b->mem, cx, c->p, n)) ==
			    ZT_ENOMEM)
				return err;
			if (err < 0)
				line_fail(ln, err, "");
			else
				b->naccts += ln->nacct;
		}
		c->p = nl ? nl + 1 : c->end;
	}
	return ZT_OK;
}

/* ---- resolve: lookups, ids and claims ------------------------------------ */

/* Finds an account system by name or id, through the batch's cache. */
static int
sys_lookup(char id[ZT_ID_LEN + 1], struct batch *b, const zt_id_ctx *cx,
    const struct scope *sc, bool by_name, const char *key)
{
	struct sys_entry e = { .by_name = by_name };
	size_t i;
	int err;

	for (i = 0; i < b->nsys; i++)
		if (b->sys[i].by_name == by_name &&
		    strcmp(b->sys[i].key, key) == 0) {
			memcpy(id, b->sys[i].id, ZT_ID_LEN + 1);
			return ZT_OK;
		}
	if (strlen(key) > ZT_NAME_MAX)
		return not_found("account system", key);
	if (by_name)
		err = acctsys_find_by_name(e.id, cx->db, sc->tenant, key);
	else if ((err = acctsys_exists(cx->db, sc->tenant, key)) == ZT_OK)
		snprintf(e.id, sizeof(e.id), "%s", key);
	if (err < 0)
		return err;
	snprintf(e.key, sizeof(e.key), "%s", key);
	b->sys[b->nsys < SYS_CACHE ? b->nsys++ : SYS_CACHE - 1] = e;
	memcpy(id, e.id, ZT_ID_LEN + 1);
	return ZT_OK;
}

static uint64_t
hash2(const char *a, const char *b)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *a != '\0'; a++)
		h = (h ^ (unsigned char)*a) * UINT64_C(0x100000001b3);
	h = (h ^ 0xff) * UINT64_C(0x100000001b3);
	for (; *b != '\0'; b++)
		h = (h ^ (unsigned char)*b) * UINT64_C(0x100000001b3);
	return h;
}

/* The slot of the pair (x, y): the claim, or the free slot to put it. */
static struct claim *
claim_slot(const struct batch *b, const char *x, const char *y)
{
	uint64_t h = hash2(x, y);
	struct claim *c;
	size_t i;

	for (i = h & (b->ncap - 1); (c = &b->claims[i])->a != NULL;
	    i = (i + 1) & (b->ncap - 1))
		if (c->hash == h && strcmp(c->a, x) == 0 &&
		    strcmp(c->b, y) == 0)
			break;
	return c;
}

static bool
claimed(const struct batch *b, const char *x, const char *y)
{
	return claim_slot(b, x, y)->a != NULL;
}

static void
claim(struct batch *b, const char *x, const char *y)
{
	*claim_slot(b, x, y) = (struct claim){ hash2(x, y), x, y };
}

/* Sizes the claims table for the batch (a power of two, at most half
 * full) and draws the random bytes of its ids in one call. */
static int
resolve_init(struct batch *b)
{
	size_t ids = b->n + b->naccts, cap = 64;
	int err;

	while (cap < 2 * ids)
		cap *= 2;
	if ((err = grow(&b->claims, &b->cap_claims, cap,
	    sizeof(*b->claims))) < 0 ||
	    (err = grow(&b->rnd, &b->cap_rnd, ids * ID_RANDOM_BYTES, 1)) < 0)
		return err;
	memset(b->claims, 0, cap * sizeof(*b->claims));
	b->ncap = cap;
	b->rnd_used = 0;
	return zt_random(b->rnd, ids * ID_RANDOM_BYTES);
}

/* The next id of the batch; resolve_init drew enough bytes for all. */
static void
batch_id(char out[ZT_ID_LEN + 1], struct batch *b)
{
	id_make(out, b->now, b->rnd + b->rnd_used);
	b->rnd_used += ID_RANDOM_BYTES;
}

/* Whether the unit exists and is in scope, through the batch's cache;
 * ZT_ENOTFOUND answers are cached as well. */
static int
unit_check(struct batch *b, const zt_id_ctx *cx, const struct scope *sc,
    const char *id)
{
	char path[PATH_MAX_LEN + 1];
	struct unit_entry *e;
	int err;

	if (!id_ok(id))
		return not_found("unit", id);
	e = &b->unit[hash2(id, "") & (UNIT_CACHE - 1)];
	if (strcmp(e->id, id) == 0)
		return e->rc == ZT_OK ? ZT_OK : not_found("unit", id);
	err = unit_path(path, cx->db, sc, id);
	if (err != ZT_OK && err != ZT_ENOTFOUND)
		return err;
	memcpy(e->id, id, ZT_ID_LEN + 1);
	e->rc = err;
	return err;
}

/* The fault the read step kept for an account, now that its turn has
 * come: the message is in the line's text already. */
static int
acct_fault_report(struct line *ln)
{
	ln->rc = ln->fault_rc;
	return ln->rc;
}

/* Looks up the unit and the accounts' systems, in the order a single
 * create does, and on the first run gives the line and its accounts their
 * ids (a second run keeps them). */
static int
resolve_line(struct batch *b, const zt_id_ctx *cx, const struct scope *sc,
    struct line *ln, bool first)
{
	char prefix[48];
	struct acct *ac;
	size_t i;
	int err;

	if (ln->unit != NULL &&
	    (err = unit_check(b, cx, sc, ln->unit)) < 0)
		return line_fail(ln, err, "");
	if (first)
		batch_id(ln->id, b);
	for (i = 0; i < ln->nacct || ln->fault != AF_NONE; i++) {
		if (ln->fault == AF_BEFORE_LOOKUP && i == ln->bad_acct)
			return acct_fault_report(ln);
		ac = &ln->acct[i];
		if ((err = sys_lookup(ac->system, b, cx, sc, ac->by_name,
		    ac->sys)) < 0) {
			snprintf(prefix, sizeof(prefix), "accounts[%zu]: ", i);
			return line_fail(ln, err, prefix);
		}
		if (ln->fault == AF_AFTER_LOOKUP && i == ln->bad_acct)
			return acct_fault_report(ln);
		ac->owner = ln->id;
		if (first)
			batch_id(ac->id, b);
	}
	return ZT_OK;
}

/* A name or login an earlier line took: the error a row in the database
 * would give (see row_error). */
static void
lost_name(struct line *ln)
{
	char q[QUOTE_MAX + 4];

	quote(q, ln->name);
	zt_error_set(ZT_EEXISTS, "a %s named \"%s\" exists", ln->kind, q);
	ln->lost = true;
	line_fail(ln, ZT_EEXISTS, "");
}

static void
lost_login(struct line *ln, size_t i)
{
	char q[QUOTE_MAX + 4], prefix[48];

	quote(q, ln->acct[i].login);
	zt_error_set(ZT_EEXISTS, "field \"login_name\": \"%s\" is taken in "
	    "this account system", q);
	snprintf(prefix, sizeof(prefix), "accounts[%zu]: ", i);
	ln->lost = true;
	line_fail(ln, ZT_EEXISTS, prefix);
}

/* Claims the line's name and logins when all are free: a line that
 * loses one claims none, so a later line may still have the rest.  The
 * faults are checked in the order a single create would meet them. */
static void
claim_line(struct batch *b, struct line *ln)
{
	size_t i, j;

	if (claimed(b, ln->kind, ln->name)) {
		lost_name(ln);
		return;
	}
	for (i = 0; i < ln->nacct; i++) {
		if (claimed(b, ln->acct[i].system, ln->acct[i].key)) {
			lost_login(ln, i);
			return;
		}
		for (j = 0; j < i; j++)
			if (strcmp(ln->acct[i].system,
			    ln->acct[j].system) == 0 &&
			    strcmp(ln->acct[i].key, ln->acct[j].key) == 0) {
				lost_login(ln, i);
				return;
			}
	}
	claim(b, ln->kind, ln->name);
	for (i = 0; i < ln->nacct; i++)
		claim(b, ln->acct[i].system, ln->acct[i].key);
}

/* Errors that stop the batch rather than fail a line. */
static bool
fatal(int err)
{
	return err == ZT_ENOMEM || err == ZT_EUNAVAIL || err == ZT_EBUSY;
}

/* Resolves every line that passed the read step.  An error is returned
 * only when the batch as a whole cannot go on. */
static int
batch_resolve(struct batch *b, const zt_id_ctx *cx, const struct scope *sc)
{
	struct line *ln;
	size_t i;
	int err;

	if ((err = resolve_init(b)) < 0)
		return err;
	for (i = 0; i < b->n; i++) {
		ln = &b->l[i];
		if (ln->rc != ZT_OK)
			continue;
		err = resolve_line(b, cx, sc, ln, true);
		if (fatal(err))
			return err;
		if (err == ZT_OK)
			claim_line(b, ln);
	}
	return ZT_OK;
}

/* ---- write: multi-row INSERTs -------------------------------------------- */

/*
 * A table's INSERT: the table and columns, and one row's values, where $1
 * is the tenant, $2 the batch's time when the table has one, and each '?'
 * a parameter of the row.  (PostgreSQL refuses a parameter that the text
 * does not use: it cannot tell its type.)
 */
struct table {
	const char *into;
	const char *row;
	int nparams;			/* '?' in row */
	bool timed;			/* row uses $2 */
};

static const struct table tables[T_COUNT] = {
	[T_IDENTITIES] = {
	"identities (tenant, id, kind, name, state, unit_id, attributes,"
	" version, created_at, updated_at) VALUES ",
	"($1, ?, ?, ?, ?, ?, ?, 1, $2, $2)", 6, true },
	[T_ATTRS] = {
	"identity_attrs (tenant, identity_id, name, key, value_text) VALUES ",
	"($1, ?, ?, ?, ?)", 4, false },
	[T_ACCOUNTS] = {
	"accounts (tenant, id, identity_id, system_id, login_name, login_key,"
	" state, version, created_at, updated_at) VALUES ",
	"($1, ?, ?, ?, ?, ?, ?, 1, $2, $2)", 6, true },
};

/* Binds row `i` of a set from parameter `first` on. */
typedef void (*bind_fn)(zt_stmt *st, int first, const void *rows,
    size_t i);

/* The INSERT of 2^lg rows into a table, made on first use and kept for
 * the import. */
static const char *
insert_sql(struct batch *b, int table, int lg)
{
	const struct table *t = &tables[table];
	zt_buf sql = ZT_BUF_INIT(256 * 1024);
	const char *p;
	size_t r;
	int param = t->timed ? 3 : 2;

	if (b->sql[table][lg] != NULL)
		return b->sql[table][lg];
	zt_buf_adds(&sql, "INSERT INTO ");
	zt_buf_adds(&sql, t->into);
	for (r = 0; r < (size_t)1 << lg; r++) {
		if (r > 0)
			zt_buf_adds(&sql, ", ");
		for (p = t->row; *p != '\0'; p++)
			if (*p == '?')
				zt_buf_addf(&sql, "$%d", param++);
			else
				zt_buf_addc(&sql, *p);
	}
	return b->sql[table][lg] = zt_buf_detach(&sql);
}

/* Inserts rows [from, from + 2^lg) of a set with one statement. */
static int
insert_some(zt_db *db, struct batch *b, const char *tenant, int table,
    bind_fn bind, const void *rows, size_t from, int lg)
{
	const struct table *t = &tables[table];
	const char *sql = insert_sql(b, table, lg);
	int first = t->timed ? 3 : 2, err;
	zt_stmt *st;
	size_t r;

	if (sql == NULL)
		return no_memory();
	if ((err = zt_db_prepare(&st, db, sql)) < 0)
		return err;
	zt_stmt_bind_text(st, 1, tenant);
	if (t->timed)
		zt_stmt_bind_int(st, 2, b->now);
	for (r = 0; r < (size_t)1 << lg; r++)
		bind(st, first + (int)r * t->nparams, rows, from + r);
	return zt_stmt_run(st);
}

/* Inserts every row of a set, 2^ROWS_LOG2 at a time. */
static int
insert_all(zt_db *db, struct batch *b, const char *tenant, int table,
    bind_fn bind, const void *rows, size_t n)
{
	size_t done = 0;
	int lg, err;

	while (done < n) {
		for (lg = ROWS_LOG2; ((size_t)1 << lg) > n - done; lg--)
			;
		if ((err = insert_some(db, b, tenant, table, bind, rows,
		    done, lg)) < 0)
			return err;
		done += (size_t)1 << lg;
	}
	return ZT_OK;
}

static void
bind_identity(zt_stmt *st, int p, const void *rows, size_t i)
{
	const struct line *ln = ((const struct line *const *)rows)[i];

	zt_stmt_bind_text(st, p, ln->id);
	zt_stmt_bind_text(st, p + 1, ln->kind);
	zt_stmt_bind_text(st, p + 2, ln->name);
	zt_stmt_bind_text(st, p + 3, ln->state ? ln->state : "staged");
	if (ln->unit != NULL)
		zt_stmt_bind_text(st, p + 4, ln->unit);
	else
		zt_stmt_bind_null(st, p + 4);
	zt_stmt_bind_text(st, p + 5, ln->attrs_text);
}

static void
bind_attr(zt_stmt *st, int p, const void *rows, size_t i)
{
	const struct attr_row *r = ((const struct attr_row *const *)rows)[i];

	zt_stmt_bind_text(st, p, r->identity);
	zt_stmt_bind_text(st, p + 1, r->name);
	zt_stmt_bind_text(st, p + 2, r->key);
	zt_stmt_bind_text(st, p + 3, r->value);
}

static void
bind_account(zt_stmt *st, int p, const void *rows, size_t i)
{
	const struct acct *a = ((const struct acct *const *)rows)[i];

	zt_stmt_bind_text(st, p, a->id);
	zt_stmt_bind_text(st, p + 1, a->owner);
	zt_stmt_bind_text(st, p + 2, a->system);
	zt_stmt_bind_text(st, p + 3, a->login);
	zt_stmt_bind_text(st, p + 4, a->key);
	zt_stmt_bind_text(st, p + 5, a->state ? a->state : "active");
}

/* Adds a line's rows: its identity, its attributes and its accounts. */
static int
write_set_add(struct write_set *w, const struct line *ln)
{
	size_t i;
	int err;

	if ((err = grow(&w->lines, &w->cap_lines, w->nlines + 1,
	    sizeof(*w->lines))) < 0 ||
	    (err = grow(&w->attrs, &w->cap_attrs, w->nattrs + ln->nattrs,
	    sizeof(*w->attrs))) < 0 ||
	    (err = grow(&w->accts, &w->cap_accts, w->naccts + ln->nacct,
	    sizeof(*w->accts))) < 0)
		return err;
	w->lines[w->nlines++] = ln;
	for (i = 0; i < ln->nattrs; i++)
		w->attrs[w->nattrs++] = &ln->attrs[i];
	for (i = 0; i < ln->nacct; i++)
		w->accts[w->naccts++] = &ln->acct[i];
	return ZT_OK;
}

static void
write_set_reset(struct write_set *w)
{
	w->nlines = w->nattrs = w->naccts = 0;
}

/* Writes a set's rows: identities first, as the others refer to them. */
static int
write_rows(zt_db *db, struct batch *b, const char *tenant,
    const struct write_set *w)
{
	int err;

	if ((err = insert_all(db, b, tenant, T_IDENTITIES, bind_identity,
	    w->lines, w->nlines)) < 0 ||
	    (err = insert_all(db, b, tenant, T_ATTRS, bind_attr, w->attrs,
	    w->nattrs)) < 0)
		return err;
	return insert_all(db, b, tenant, T_ACCOUNTS, bind_account, w->accts,
	    w->naccts);
}

/* The first run: every line that passed, without savepoints. */
static int
write_fast(struct batch *b, const zt_id_ctx *cx, const struct scope *sc)
{
	size_t i;
	int err;

	write_set_reset(&b->all);
	for (i = 0; i < b->n; i++)
		if (b->l[i].rc == ZT_OK &&
		    (err = write_set_add(&b->all, &b->l[i])) < 0)
			return err;
	return write_rows(cx->db, b, sc->tenant, &b->all);
}

/* ---- write: line by line ------------------------------------------------- */

/* Restates a unique violation of a row as a single create would. */
static int
row_error(struct line *ln, int err, const struct acct *a)
{
	char q[QUOTE_MAX + 4], prefix[48];

	if (a == NULL) {
		if (err == ZT_EEXISTS) {
			quote(q, ln->name);
			zt_error_set(err, "a %s named \"%s\" exists",
			    ln->kind, q);
		}
		return line_fail(ln, err, "");
	}
	if (err == ZT_EEXISTS) {
		quote(q, a->login);
		zt_error_set(err, "field \"login_name\": \"%s\" is taken in "
		    "this account system", q);
	}
	snprintf(prefix, sizeof(prefix), "accounts[%zu]: ",
	    (size_t)(a - ln->acct));
	return line_fail(ln, err, prefix);
}

/* Writes one line's rows, telling which row failed. */
static int
write_line(struct batch *b, const zt_id_ctx *cx, const struct scope *sc,
    struct line *ln)
{
	struct write_set *w = &b->one;
	size_t i;
	int err;

	write_set_reset(w);
	if ((err = write_set_add(w, ln)) < 0)
		return row_error(ln, err, NULL);
	if ((err = insert_all(cx->db, b, sc->tenant, T_IDENTITIES,
	    bind_identity, w->lines, 1)) < 0 ||
	    (err = insert_all(cx->db, b, sc->tenant, T_ATTRS, bind_attr,
	    w->attrs, w->nattrs)) < 0)
		return row_error(ln, err, NULL);
	for (i = 0; i < w->naccts; i++)
		if ((err = insert_all(cx->db, b, sc->tenant, T_ACCOUNTS,
		    bind_account, &w->accts[i], 1)) < 0)
			return row_error(ln, err, w->accts[i]);
	return ZT_OK;
}

/*
 * The second run: each line in a savepoint.  The lookups run again, as
 * this is another transaction: a unit may have gone, or left the caller's
 * scope, since the first.  Returns an error only when the batch as a whole
 * cannot go on.
 */
static int
write_slow(struct batch *b, const zt_id_ctx *cx, const struct scope *sc)
{
	struct line *ln;
	size_t i;
	int err;

	b->nsys = 0;
	memset(b->unit, 0, sizeof(b->unit));
	for (i = 0; i < b->n; i++) {
		ln = &b->l[i];
		if (ln->rc != ZT_OK && !ln->lost)
			continue;
		ln->rc = ZT_OK;
		ln->lost = false;
		if ((err = resolve_line(b, cx, sc, ln, false)) < 0) {
			if (fatal(err))
				return err;
			continue;
		}
		if ((err = zt_db_savepoint(cx->db, "import_line")) < 0)
			return err;
		if (write_line(b, cx, sc, ln) < 0 &&
		    (err = zt_db_rollback_to(cx->db, "import_line")) < 0)
			return err;
		if ((err = zt_db_release(cx->db, "import_line")) < 0)
			return err;
	}
	return ZT_OK;
}

/* ---- batches ------------------------------------------------------------- */

/*
 * One audit record for the batch, naming every identity and account it
 * made, in the batch's transaction; the rows hold the rest.  Nothing
 * made, nothing recorded.
 */
static int
batch_audit(const struct batch *b, const zt_id_ctx *cx, const char *tenant)
{
	json_t *after, *ids = json_array(), *accts = json_array();
	char target[TARGET_MAX];
	const struct line *ln;
	size_t i, j;
	int err;

	for (i = 0; i < b->n; i++) {
		ln = &b->l[i];
		if (ln->rc != ZT_OK)
			continue;
		json_array_append_new(ids, json_string(ln->id));
		for (j = 0; j < ln->nacct; j++)
			json_array_append_new(accts,
			    json_string(ln->acct[j].id));
	}
	if (json_array_size(ids) == 0) {
		json_decref(ids);
		json_decref(accts);
		return ZT_OK;
	}
	after = json_pack("{s:o, s:o}", "identities", ids, "accounts", accts);
	snprintf(target, sizeof(target), "tenant:%s", tenant);
	err = zt_audit_append(cx->db, cx->actor, &(zt_audit_entry){
	    .action = "identity.import", .tenant = tenant, .target = target,
	    .after = after });
	json_decref(after);
	return err;
}

/* Runs one transaction over the batch, fast or line by line. */
static int
batch_tx(struct batch *b, const zt_id_ctx *cx, const char *tenant,
    bool slow)
{
	struct scope sc;
	int err;

	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = scope_enter(&sc, cx, tenant)) < 0)
		goto out;
	b->now = zt_now_ms();
	if (slow) {
		err = write_slow(b, cx, &sc);
	} else if ((err = batch_resolve(b, cx, &sc)) == ZT_OK &&
	    (err = write_fast(b, cx, &sc)) < 0)
		b->row_failed = true;
	if (err == ZT_OK)
		err = batch_audit(b, cx, tenant);
out:
	return tx_end(cx, err);
}

static int
batch_run(struct batch *b, const zt_id_ctx *cx, const char *tenant,
    struct cursor *c)
{
	int err;

	batch_clear(b);
	if ((err = batch_read(b, cx, c)) < 0)
		return err;
	b->row_failed = false;
	if ((err = batch_tx(b, cx, tenant, false)) == ZT_OK ||
	    !b->row_failed)
		return err;
	return batch_tx(b, cx, tenant, true);
}

static void
batch_report(zt_import_stats *st, const struct batch *b, zt_import_cb cb,
    void *arg)
{
	const struct line *ln;
	size_t i;

	for (i = 0; i < b->n; i++) {
		ln = &b->l[i];
		st->lines++;
		if (ln->rc == ZT_OK)
			st->ok++;
		else
			st->failed++;
		if (cb != NULL)
			cb(arg, ln->lineno, ln->rc, ln->rc == ZT_OK ? ln->id :
			    ln->text);
	}
}

int
zt_identity_import(zt_import_stats *out, const zt_id_ctx *cx,
    const char *tenant, const char *data, size_t len, zt_import_cb cb,
    void *arg)
{
	struct cursor c = { data, data + len, 0 };
	struct batch b = { 0 };
	int err = ZT_OK;

	memset(out, 0, sizeof(*out));
	if ((b.l = calloc(ZT_IMPORT_BATCH, sizeof(*b.l))) == NULL)
		return no_memory();
	while (c.p < c.end) {
		if ((err = batch_run(&b, cx, tenant, &c)) < 0)
			break;
		batch_report(out, &b, cb, arg);
	}
	batch_free(&b);
	return err;
}
