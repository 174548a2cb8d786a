/*
 * import.c: bulk import of identities and their accounts from NDJSON.
 *
 * Lines are applied in batches of ZT_IMPORT_BATCH, one transaction per
 * batch, each line inside a savepoint: a line that fails (bad JSON, a bad
 * field, a taken name or login) is rolled back to its savepoint, so none
 * of its rows or audit records stay, and the batch goes on.  Results are
 * handed to the caller's callback only after the batch commits, so a
 * reported success is durable.  The work per line is the same as
 * zt_identity_create plus zt_account_create (identity_insert,
 * account_insert) on the connection's cached statements; batching saves
 * the commit per line, which is most of the cost of single creates.
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

struct result {
	size_t line;
	int rc;
	char text[RESULT_MSG_MAX];	/* the id, or the error message */
};

/* Account systems seen in this batch, by name or by id: a tenant has a
 * handful, and each line would otherwise look its own up. */
#define SYS_CACHE 8

struct sys_entry {
	bool by_name;
	char key[ZT_NAME_MAX + 1];
	char id[ZT_ID_LEN + 1];
};

struct batch {
	struct result *r;
	size_t n;
	struct sys_entry sys[SYS_CACHE];
	size_t nsys;
};

/* ---- one line ------------------------------------------------------------ */

/* Finds an account system by name or id, through the batch's cache. */
static int
sys_lookup(const char **id, struct batch *b, const zt_id_ctx *cx,
    const struct scope *sc, bool by_name, const char *key)
{
	struct sys_entry e = { .by_name = by_name };
	size_t i, slot;
	int err;

	for (i = 0; i < b->nsys; i++)
		if (b->sys[i].by_name == by_name &&
		    strcmp(b->sys[i].key, key) == 0) {
			*id = b->sys[i].id;
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
	slot = b->nsys < SYS_CACHE ? b->nsys++ : SYS_CACHE - 1;
	b->sys[slot] = e;
	*id = b->sys[slot].id;
	return ZT_OK;
}

static int
account_spec(zt_account_spec *out, struct batch *b, const zt_id_ctx *cx,
    const struct scope *sc, json_t *a)
{
	const char *sys = NULL;
	bool has_name = false, has_id = false;
	zt_json_field f[] = {
		{ "system", ZT_J_STRING, false, &sys, &has_name },
		{ "system_id", ZT_J_STRING, false, &out->system, &has_id },
		{ "login_name", ZT_J_STRING, true, &out->login_name, NULL },
		{ "state", ZT_J_STRING, false, &out->state, NULL },
	};
	int err;

	if ((err = zt_json_decode(a, f, ZT_ARRAY_LEN(f))) < 0)
		return err;
	if (has_name == has_id)
		return zt_error_set(ZT_EINVAL, "give one of \"system\" (a "
		    "name) or \"system_id\"");
	return sys_lookup(&out->system, b, cx, sc, has_name,
	    has_name ? sys : out->system);
}

static int
line_accounts(struct batch *b, const zt_id_ctx *cx, const struct scope *sc,
    json_t *doc, json_t *accounts)
{
	char msg[RESULT_MSG_MAX];
	zt_account_spec spec;
	json_t *a, *acc;
	size_t i;
	int err;

	if (json_array_size(accounts) > LINE_ACCOUNTS_MAX)
		return zt_error_set(ZT_ETOOBIG, "field \"accounts\": more "
		    "than %d", LINE_ACCOUNTS_MAX);
	json_array_foreach(accounts, i, a) {
		memset(&spec, 0, sizeof(spec));
		spec.identity = json_string_value(json_object_get(doc, "id"));
		if ((err = account_spec(&spec, b, cx, sc, a)) == ZT_OK &&
		    (err = account_insert(&acc, cx, sc, &spec, doc,
		    true)) == ZT_OK)
			json_decref(acc);
		if (err < 0) {
			snprintf(msg, sizeof(msg), "%s", zt_error_msg());
			return zt_error_set(err, "accounts[%zu]: %s", i, msg);
		}
	}
	return ZT_OK;
}

/* Applies one line; *id gets the new identity's id. */
static int
line_apply(char id[ZT_ID_LEN + 1], struct batch *b, const zt_id_ctx *cx,
    const struct scope *sc, const char *p, size_t n)
{
	zt_identity_spec spec = { 0 };
	json_t *v = NULL, *accounts = NULL, *doc = NULL;
	zt_json_field f[] = {
		{ "kind", ZT_J_STRING, true, &spec.kind, NULL },
		{ "name", ZT_J_STRING, true, &spec.name, NULL },
		{ "state", ZT_J_STRING, false, &spec.state, NULL },
		{ "unit_id", ZT_J_STRING, false, &spec.unit, NULL },
		{ "attributes", ZT_J_OBJECT, false, &spec.attributes, NULL },
		{ "accounts", ZT_J_ARRAY, false, &accounts, NULL },
	};
	int err;

	if (n > ZT_IMPORT_LINE_MAX)
		return zt_error_set(ZT_ETOOBIG, "line longer than %d bytes",
		    ZT_IMPORT_LINE_MAX);
	if ((err = zt_json_parse(&v, p, n, LINE_DEPTH_MAX)) < 0 ||
	    (err = zt_json_decode(v, f, ZT_ARRAY_LEN(f))) < 0 ||
	    (err = identity_insert(&doc, cx, sc, &spec)) < 0)
		goto out;
	snprintf(id, ZT_ID_LEN + 1, "%s",
	    json_string_value(json_object_get(doc, "id")));
	if (accounts != NULL)
		err = line_accounts(b, cx, sc, doc, accounts);
out:
	json_decref(doc);
	json_decref(v);
	return err;
}

/* Applies a line inside its savepoint and records the outcome.  Returns
 * an error only when the savepoint itself fails. */
static int
line_run(struct batch *b, const zt_id_ctx *cx, const struct scope *sc,
    size_t lineno, const char *p, size_t n)
{
	struct result *r = &b->r[b->n++];
	char id[ZT_ID_LEN + 1];
	int err;

	r->line = lineno;
	if ((err = zt_db_savepoint(cx->db, "import_line")) < 0)
		return err;
	if ((r->rc = line_apply(id, b, cx, sc, p, n)) == ZT_OK) {
		snprintf(r->text, sizeof(r->text), "%s", id);
		return zt_db_release(cx->db, "import_line");
	}
	snprintf(r->text, sizeof(r->text), "%s", zt_error_msg());
	if ((err = zt_db_rollback_to(cx->db, "import_line")) < 0)
		return err;
	return zt_db_release(cx->db, "import_line");
}

/* ---- batches ------------------------------------------------------------- */

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

/* Runs lines from `c` until a batch is full or the input ends. */
static int
batch_lines(struct batch *b, const zt_id_ctx *cx, const struct scope *sc,
    struct cursor *c)
{
	const char *nl;
	size_t n;
	int err;

	while (c->p < c->end && b->n < ZT_IMPORT_BATCH) {
		nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
		n = (size_t)((nl ? nl : c->end) - c->p);
		c->lineno++;
		if (!blank(c->p, n) &&
		    (err = line_run(b, cx, sc, c->lineno, c->p, n)) < 0)
			return err;
		c->p = nl ? nl + 1 : c->end;
	}
	return ZT_OK;
}

static void
batch_report(zt_import_stats *st, const struct batch *b, zt_import_cb cb,
    void *arg)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		st->lines++;
		if (b->r[i].rc == ZT_OK)
			st->ok++;
		else
			st->failed++;
		if (cb != NULL)
			cb(arg, b->r[i].line, b->r[i].rc, b->r[i].text);
	}
}

static int
batch_run(struct batch *b, const zt_id_ctx *cx, const char *tenant,
    struct cursor *c)
{
	struct scope sc;
	int err;

	b->n = 0;
	b->nsys = 0;
	if ((err = tx_begin(cx)) < 0)
		return err;
	if ((err = scope_enter(&sc, cx, tenant)) == ZT_OK)
		err = batch_lines(b, cx, &sc, c);
	return tx_end(cx, err);
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
	if ((b.r = calloc(ZT_IMPORT_BATCH, sizeof(*b.r))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	while (c.p < c.end) {
		if ((err = batch_run(&b, cx, tenant, &c)) < 0)
			break;
		batch_report(out, &b, cb, arg);
	}
	free(b.r);
	return err;
}
