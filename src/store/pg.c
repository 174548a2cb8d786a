/*
 * pg.c: the PostgreSQL driver of the store module, over libpq.
 *
 * A zt_db is one PGconn used synchronously.  The first time a connection
 * sees a statement's SQL it prepares it on the server under a generated
 * name (s1, s2, ...) and asks for its description, so the number of
 * parameters and columns is known before it runs.  Parameters travel as
 * text, except blobs, which travel in binary so bytea needs no escaping;
 * results come back as text and bytea is decoded when a caller asks.
 *
 * A connection found broken is reset (PQreset) before the next command,
 * unless a transaction was open on it: then every command fails until the
 * caller rolls back, so that later statements cannot run outside the
 * transaction the caller believes it holds.  A reset forgets the prepared
 * statements; each is prepared again under its name when next run.
 *
 * Error messages carry only the server's primary message and the SQLSTATE.
 * DETAIL lines quote row values, and so do data exceptions (class 22);
 * those are left out.  A failed connection's message has the password cut
 * out, both as written in the URL and as libpq decoded it.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/base.h"
#include "store/store_int.h"

/* Type OIDs fixed by PostgreSQL's built-in catalog; the server headers that
 * name them are not worth a build dependency for two numbers. */
#define OID_BOOL 16
#define OID_BYTEA 17

/* Room for a server or libpq message quoted in ours; longer ones are cut. */
#define ERRMSG_MAX 240

/* "s", a 32-bit counter in decimal, NUL. */
#define STMT_NAME_LEN 16

/* Seconds to wait for the server when the URL does not say: one that does
 * not answer by then is reported unavailable (and /readyz tries again),
 * where libpq alone would wait minutes for the kernel to give up. */
#define CONNECT_TIMEOUT "10"

/* Bound on libpq's message about a failed connection while passwords are
 * cut out of it.  It is cut to ERRMSG_MAX only after that, so a cut can
 * never leave the first bytes of a password behind. */
#define CONNMSG_MAX 16384

struct pg_db {
	zt_db base;		/* first: a pg_db is a zt_db */
	PGconn *conn;
	unsigned next_name;	/* numbers the statements prepared on conn */
	unsigned epoch;		/* bumped by each reset, which drops them */
	bool tx_open;		/* a transaction was open when last seen */
};

struct pg_stmt {
	zt_stmt base;		/* first: a pg_stmt is a zt_stmt */
	char name[STMT_NAME_LEN];
	unsigned epoch;		/* the db's epoch when prepared on the server */
	int nparams;
	int nfields;		/* columns, from the description */
	char **values;		/* bound copies, nparams; NULL is SQL NULL */
	int *lengths;		/* of binary values */
	int *formats;		/* 0 text, 1 binary */
	PGresult *res;		/* result of the current run, or NULL */
	int row;		/* current row of res */
	int64_t changes;	/* rows changed by the last run */
	unsigned char **blobs;	/* bytea decoded from the current row */
	size_t *bloblens;
	int nblobs;		/* slots in blobs and bloblens */
};

static const struct store_ops pg_ops;

static struct pg_db *
db_of(zt_db *db)
{
	return (struct pg_db *)db;
}

static const struct pg_db *
cdb_of(const zt_db *db)
{
	return (const struct pg_db *)db;
}

static struct pg_stmt *
stmt_of(zt_stmt *st)
{
	return (struct pg_stmt *)st;
}

/* ---- messages and errors ---------------------------------------------- */

/* Quotes a libpq or server message on one line: each run of line breaks,
 * tabs and spaces turns into one space, other control and non-ASCII bytes
 * into '?'. */
static void
one_line(char out[ERRMSG_MAX + 4], const char *in)
{
	char tmp[ERRMSG_MAX + 1];
	size_t n = 0;

	for (; *in != '\0' && n < sizeof(tmp); in++) {
		bool space = *in == '\n' || *in == '\t' || *in == ' ';

		if (!space)
			tmp[n++] = *in;
		else if (n > 0 && tmp[n - 1] != ' ')
			tmp[n++] = ' ';
	}
	while (n > 0 && tmp[n - 1] == ' ')
		n--;
	zt_str_sanitize(out, tmp, n, ERRMSG_MAX);
}

static int
map_state(const char *state)
{
	static const char *const busy[] = { "40001", "40P01", "55P03" };
	size_t i;

	if (state == NULL)
		return ZT_ERR;
	if (strcmp(state, "23505") == 0)
		return ZT_EEXISTS;
	if (strcmp(state, "23503") == 0)
		return ZT_ECONFLICT;	/* a foreign key */
	for (i = 0; i < ZT_ARRAY_LEN(busy); i++) {
		if (strcmp(state, busy[i]) == 0)
			return ZT_EBUSY;
	}
	/* connection exceptions, and the server shutting down */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)
		return ZT_EUNAVAIL;
	return ZT_ERR;
}

/* Sets the error for a failed command.  A broken connection wins over what
 * the result says. */
static int
result_error(PGconn *conn, const PGresult *res)
{
	char msg[ERRMSG_MAX + 4];
	const char *state = NULL, *primary = NULL;

	if (PQstatus(conn) == CONNECTION_BAD) {
		one_line(msg, PQerrorMessage(conn));
		return zt_error_set(ZT_EUNAVAIL, "postgres: connection lost: "
		    "%s", msg);
	}
	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (state != NULL && strncmp(state, "22", 2) == 0)
		primary = "invalid data value (not quoted: it may be a "
		    "bound value)";
	/* libpq's own errors (out of memory...) carry no primary field */
	one_line(msg, primary != NULL ? primary : PQerrorMessage(conn));
	return zt_error_set(map_state(state), "postgres: %s (SQLSTATE %s)",
	    msg, state != NULL ? state : "none");
}

static bool
result_ok(const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		return true;
	default:
		return false;
	}
}

/* Takes ownership of `res`: returns ZT_OK for a good result, else sets and
 * returns the error. */
static int
consume(PGconn *conn, PGresult *res)
{
	int rc = result_ok(res) ? ZT_OK : result_error(conn, res);

	PQclear(res);
	return rc;
}

/* ---- passwords out of connection messages ----------------------------- */

/* Replaces every occurrence of secret[0..n) in `b` by "***". */
static int
redact(zt_buf *b, const char *secret, size_t n)
{
	zt_buf out = ZT_BUF_INIT(CONNMSG_MAX);
	const char *p, *hit, *end;
	int rc = ZT_OK;

	if (n == 0 || b->data == NULL)
		return ZT_OK;
	end = b->data + b->len;
	for (p = b->data; (hit = memmem(p, (size_t)(end - p), secret, n)) !=
	    NULL; p = hit + n) {
		if ((rc = zt_buf_add(&out, p, (size_t)(hit - p))) != ZT_OK ||
		    (rc = zt_buf_adds(&out, "***")) != ZT_OK)
			goto out;
	}
	rc = zt_buf_add(&out, p, (size_t)(end - p));
out:
	zt_buf_free(b);
	*b = out;
	return rc;
}

/*
 * Cuts the password of a postgres:// URL, as written there, out of `b`:
 * the user info after ':' up to the last '@' before the path, and each
 * '@'-separated piece of it (libpq splits at the first '@', so a password
 * with a raw '@' leaks its tail into the host name), and the value of a
 * password= query parameter.
 */
static int
redact_url(zt_buf *b, const char *url)
{
	const char *auth = strstr(url, "://"), *end, *at = NULL, *colon;
	const char *p, *q;
	int rc;

	if (auth == NULL)
		return ZT_OK;
	auth += 3;
	end = auth + strcspn(auth, "/");
	for (p = auth; p < end; p++) {
		if (*p == '@')
			at = p;
	}
	if (at != NULL && (colon = memchr(auth, ':', (size_t)(at - auth)))) {
		rc = redact(b, colon + 1, (size_t)(at - colon - 1));
		if (rc != ZT_OK)
			return rc;
		for (p = colon + 1; p < at; p = q + 1) {
			q = memchr(p, '@', (size_t)(at - p));
			q = q != NULL ? q : at;
			if ((rc = redact(b, p, (size_t)(q - p))) != ZT_OK)
				return rc;
		}
	}
	for (q = strchr(end, '?'); q != NULL; q = strchr(q + 1, '&')) {
		if (strncmp(q + 1, "password=", 9) != 0)
			continue;
		if ((rc = redact(b, q + 10, strcspn(q + 10, "&"))) != ZT_OK)
			return rc;
	}
	return ZT_OK;
}

/* Sets ZT_EUNAVAIL with libpq's reason for a failed connection, minus any
 * password; if that cannot be done safely, without the reason. */
static int
connect_error(PGconn *conn, const char *url)
{
	zt_buf msg = ZT_BUF_INIT(CONNMSG_MAX);
	const char *pass = PQpass(conn);
	char line[ERRMSG_MAX + 4];
	int rc;

	rc = zt_buf_adds(&msg, PQerrorMessage(conn));
	if (rc == ZT_OK && pass != NULL)
		rc = redact(&msg, pass, strlen(pass));
	if (rc == ZT_OK)
		rc = redact_url(&msg, url);
	if (rc != ZT_OK || msg.data == NULL) {
		zt_buf_free(&msg);
		return zt_error_set(ZT_EUNAVAIL, "postgres: cannot connect");
	}
	one_line(line, msg.data);
	zt_buf_free(&msg);
	return zt_error_set(ZT_EUNAVAIL, "postgres: cannot connect: %s",
	    line);
}

/* Server notices (CREATE TABLE IF NOT EXISTS finding the table, ...) would
 * go to stderr by default; they belong in the debug log. */
static void
on_notice(void *arg, const PGresult *res)
{
	char msg[ERRMSG_MAX + 4];
	const char *m;

	(void)arg;
	if (!zt_log_enabled(ZT_LOG_DEBUG))
		return;
	if ((m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) == NULL)
		return;
	one_line(msg, m);
	log_debug("store: postgres notice", ZS("message", msg));
}

/* ---- connection ------------------------------------------------------- */

/*
 * libpq's parser quotes pieces of a malformed URL in its messages, and one
 * of them may be the password: a URL that does not parse gets our message
 * only.
 */
static int
check_url(const char *url)
{
	PQconninfoOption *opts;
	char *err = NULL;

	if ((opts = PQconninfoParse(url, &err)) != NULL) {
		PQconninfoFree(opts);
		return ZT_OK;
	}
	if (err == NULL)
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	zt_wipe(err, strlen(err));
	PQfreemem(err);
	return zt_error_set(ZT_EUNAVAIL, "postgres: malformed connection "
	    "URL");
}

int
store_pg_open(zt_db **out, const char *url)
{
	/* The URL is expanded where "dbname" stands: keywords before it are
	 * defaults the URL may override, keywords after it override the
	 * URL.  Our strings are UTF-8 whatever the server's locale. */
	static const char *const keys[] = { "connect_timeout",
	    "fallback_application_name", "dbname", "client_encoding", NULL };
	const char *const vals[] = { CONNECT_TIMEOUT, "ztiam", url, "UTF8",
	    NULL };
	struct pg_db *db;
	PGconn *conn;
	int rc;

	*out = NULL;
	if ((rc = check_url(url)) != ZT_OK)
		return rc;
	if ((conn = PQconnectdbParams(keys, vals, 1)) == NULL)
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	if (PQstatus(conn) != CONNECTION_OK) {
		rc = connect_error(conn, url);
		goto fail;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		rc = zt_error_set(ZT_ENOMEM, "postgres: out of memory");
		goto fail;
	}
	PQsetNoticeReceiver(conn, on_notice, NULL);
	db->base.ops = &pg_ops;
	db->conn = conn;
	*out = &db->base;
	return ZT_OK;

fail:
	PQfinish(conn);
	return rc;
}

static void
pg_close(zt_db *db)
{
	PQfinish(db_of(db)->conn);
	free(db);
}

/* Records whether a transaction is open, while the connection can tell. */
static void
track_tx(struct pg_db *db)
{
	if (PQstatus(db->conn) != CONNECTION_OK)
		return;
	db->tx_open = PQtransactionStatus(db->conn) != PQTRANS_IDLE;
}

static bool
reconnect(struct pg_db *db)
{
	bool ok;

	PQreset(db->conn);
	db->epoch++;
	db->tx_open = false;
	ok = PQstatus(db->conn) == CONNECTION_OK;
	log_info("store: postgres connection reset", ZB("ok", ok));
	return ok;
}

/* Readies the connection for a command (see the top of the file). */
static int
usable(struct pg_db *db)
{
	if (PQstatus(db->conn) == CONNECTION_OK)
		return ZT_OK;
	if (db->tx_open)
		return zt_error_set(ZT_EUNAVAIL, "postgres: connection lost "
		    "inside a transaction; roll back");
	if (!reconnect(db))
		return result_error(db->conn, NULL);
	return ZT_OK;
}

static bool
select_one(PGconn *conn)
{
	PGresult *res = PQexec(conn, "SELECT 1");
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

/*
 * Asks the server for SELECT 1.  A broken connection outside a transaction
 * is reset once and asked again; inside one it stays down until the caller
 * rolls back.  A transaction that failed can only roll back, but the
 * server is there: that counts as alive.
 */
static bool
pg_ping(zt_db *base)
{
	struct pg_db *db = db_of(base);
	bool ok = false;

	if (PQstatus(db->conn) == CONNECTION_OK) {
		if (PQtransactionStatus(db->conn) == PQTRANS_INERROR)
			return true;
		ok = select_one(db->conn);
	}
	if (!ok && PQstatus(db->conn) != CONNECTION_OK && !db->tx_open)
		ok = reconnect(db) && select_one(db->conn);
	track_tx(db);
	return ok;
}

/* A ROLLBACK on a connection lost inside a transaction succeeds: the
 * server ended the transaction when the connection went. */
static int
pg_exec(zt_db *base, const char *sql)
{
	struct pg_db *db = db_of(base);
	int rc;

	if (PQstatus(db->conn) != CONNECTION_OK && db->tx_open &&
	    strcmp(sql, "ROLLBACK") == 0) {
		db->tx_open = false;
		return ZT_OK;
	}
	if ((rc = usable(db)) != ZT_OK)
		return rc;
	rc = consume(db->conn, PQexec(db->conn, sql));
	track_tx(db);
	return rc;
}

static bool
pg_in_tx(const zt_db *db)
{
	return cdb_of(db)->tx_open;
}

static bool
pg_tx_failed(const zt_db *base)
{
	const struct pg_db *db = cdb_of(base);

	return PQstatus(db->conn) != CONNECTION_OK ||
	    PQtransactionStatus(db->conn) == PQTRANS_INERROR;
}

/* ---- statements ------------------------------------------------------- */

static int
server_prepare(struct pg_db *db, struct pg_stmt *st, const char *sql)
{
	int rc;

	rc = consume(db->conn, PQprepare(db->conn, st->name, sql, 0, NULL));
	if (rc == ZT_OK)
		st->epoch = db->epoch;
	return rc;
}

static int
describe(struct pg_db *db, struct pg_stmt *st)
{
	PGresult *res = PQdescribePrepared(db->conn, st->name);

	if (!result_ok(res))
		return consume(db->conn, res);
	st->nparams = PQnparams(res);
	st->nfields = PQnfields(res);
	PQclear(res);
	return ZT_OK;
}

static int
alloc_params(struct pg_stmt *st)
{
	size_t n = (size_t)st->nparams;

	if (n == 0)
		return ZT_OK;
	st->values = calloc(n, sizeof(*st->values));
	st->lengths = calloc(n, sizeof(*st->lengths));
	st->formats = calloc(n, sizeof(*st->formats));
	if (st->values == NULL || st->lengths == NULL || st->formats == NULL)
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	return ZT_OK;
}

/* Wipes and frees parameter i: bound values may be secrets. */
static void
clear_param(struct pg_stmt *st, int i)
{
	char *v = st->values[i];

	if (v == NULL)
		return;
	zt_wipe(v, st->formats[i] ? (size_t)st->lengths[i] : strlen(v));
	free(v);
	st->values[i] = NULL;
	st->lengths[i] = 0;
	st->formats[i] = 0;
}

static void
drop_blobs(struct pg_stmt *st)
{
	int i;

	for (i = 0; i < st->nblobs; i++) {
		if (st->blobs[i] == NULL)
			continue;
		zt_wipe(st->blobs[i], st->bloblens[i]);
		PQfreemem(st->blobs[i]);
		st->blobs[i] = NULL;
	}
}

static void
drop_result(struct pg_stmt *st)
{
	drop_blobs(st);
	PQclear(st->res);
	st->res = NULL;
}

static void
pg_reset(zt_stmt *base)
{
	struct pg_stmt *st = stmt_of(base);
	int i;

	drop_result(st);
	for (i = 0; i < st->nparams; i++)
		clear_param(st, i);
}

static void
pg_finalize(zt_stmt *base)
{
	struct pg_stmt *st = stmt_of(base);

	if (st->values != NULL)
		pg_reset(base);
	else
		drop_result(st);
	free(st->values);
	free(st->lengths);
	free(st->formats);
	free(st->blobs);
	free(st->bloblens);
	free(st);
}

static int
pg_prepare(zt_stmt **out, zt_db *base, const char *sql)
{
	struct pg_db *db = db_of(base);
	struct pg_stmt *st;
	int rc;

	*out = NULL;
	if ((rc = usable(db)) != ZT_OK)
		return rc;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	snprintf(st->name, sizeof(st->name), "s%u", ++db->next_name);
	if ((rc = server_prepare(db, st, sql)) != ZT_OK ||
	    (rc = describe(db, st)) != ZT_OK ||
	    (rc = alloc_params(st)) != ZT_OK) {
		track_tx(db);
		pg_finalize(&st->base);
		return rc;
	}
	track_tx(db);
	*out = &st->base;
	return ZT_OK;
}

static int
check_index(const struct pg_stmt *st, int idx)
{
	if (idx > st->nparams)
		return zt_error_set(ZT_EINVAL, "postgres: parameter $%d of a "
		    "statement that has %d", idx, st->nparams);
	return ZT_OK;
}

/* Binds an owned copy `v` (freed here on failure). */
static int
bind_copy(struct pg_stmt *st, int idx, char *v, size_t len, int format)
{
	int rc;

	if ((rc = check_index(st, idx)) != ZT_OK) {
		zt_wipe(v, len);
		free(v);
		return rc;
	}
	clear_param(st, idx - 1);
	st->values[idx - 1] = v;
	st->lengths[idx - 1] = (int)len;
	st->formats[idx - 1] = format;
	return ZT_OK;
}

static int
pg_bind_text(zt_stmt *st, int idx, const char *s)
{
	char *v = strdup(s);

	if (v == NULL)
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	return bind_copy(stmt_of(st), idx, v, strlen(v), 0);
}

static int
pg_bind_int(zt_stmt *st, int idx, int64_t n)
{
	char buf[24];	/* 19 digits, sign, NUL */
	char *v;

	snprintf(buf, sizeof(buf), "%" PRId64, n);
	if ((v = strdup(buf)) == NULL)
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	return bind_copy(stmt_of(st), idx, v, strlen(v), 0);
}

/* libpq takes parameter lengths as int. */
static int
pg_bind_blob(zt_stmt *st, int idx, const void *p, size_t n)
{
	char *v;

	if (n > INT_MAX)
		return zt_error_set(ZT_ETOOBIG, "postgres: blob of %zu bytes",
		    n);
	if ((v = malloc(n > 0 ? n : 1)) == NULL)
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	if (n > 0)
		memcpy(v, p, n);
	return bind_copy(stmt_of(st), idx, v, n, 1);
}

static int
pg_bind_null(zt_stmt *base, int idx)
{
	struct pg_stmt *st = stmt_of(base);
	int rc;

	if ((rc = check_index(st, idx)) != ZT_OK)
		return rc;
	clear_param(st, idx - 1);
	return ZT_OK;
}

/* Rows changed, from the command tag ("UPDATE 3"); a SELECT changes
 * none, whatever number its tag carries. */
static int64_t
changes_of(PGresult *res)
{
	const char *n = PQcmdTuples(res);

	if (strncmp(PQcmdStatus(res), "SELECT", 6) == 0 || *n == '\0')
		return 0;
	return strtoll(n, NULL, 10);
}

static int
run(struct pg_db *db, struct pg_stmt *st)
{
	PGresult *res;
	int rc;

	if (st->epoch != db->epoch &&
	    (rc = server_prepare(db, st, st->base.sql)) != ZT_OK)
		return rc;
	res = PQexecPrepared(db->conn, st->name, st->nparams,
	    (const char *const *)st->values, st->lengths, st->formats, 0);
	if (!result_ok(res))
		return consume(db->conn, res);
	st->res = res;
	st->row = -1;
	st->changes = changes_of(res);
	return ZT_OK;
}

/* The first step runs the statement and keeps the whole result; later
 * steps walk its rows.  At the end the result goes, so the next step runs
 * the statement again. */
static int
pg_step(zt_stmt *base)
{
	struct pg_stmt *st = stmt_of(base);
	struct pg_db *db = db_of(base->db);
	int rc;

	drop_blobs(st);
	if (st->res == NULL) {
		if ((rc = usable(db)) == ZT_OK)
			rc = run(db, st);
		track_tx(db);
		if (rc != ZT_OK)
			return rc;
	}
	if (++st->row < PQntuples(st->res))
		return ZT_ROW;
	drop_result(st);
	return ZT_DONE;
}

static int
pg_columns(zt_stmt *base)
{
	struct pg_stmt *st = stmt_of(base);

	return st->res != NULL ? PQnfields(st->res) : st->nfields;
}

static bool
pg_is_null(zt_stmt *base, int col)
{
	struct pg_stmt *st = stmt_of(base);

	return PQgetisnull(st->res, st->row, col);
}

static const char *
pg_text(zt_stmt *base, int col)
{
	struct pg_stmt *st = stmt_of(base);

	return PQgetvalue(st->res, st->row, col);
}

/* Integers arrive as decimal text, booleans as "t" or "f". */
static int64_t
pg_integer(zt_stmt *base, int col)
{
	struct pg_stmt *st = stmt_of(base);
	const char *v = PQgetvalue(st->res, st->row, col);

	if (PQftype(st->res, col) == OID_BOOL)
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static int
blob_slots(struct pg_stmt *st)
{
	int n = PQnfields(st->res);
	unsigned char **blobs;
	size_t *lens;

	if (st->nblobs >= n)
		return ZT_OK;
	blobs = calloc((size_t)n, sizeof(*blobs));
	lens = calloc((size_t)n, sizeof(*lens));
	if (blobs == NULL || lens == NULL) {
		free(blobs);
		free(lens);
		return zt_error_set(ZT_ENOMEM, "postgres: out of memory");
	}
	free(st->blobs);
	free(st->bloblens);
	st->blobs = blobs;
	st->bloblens = lens;
	st->nblobs = n;
	return ZT_OK;
}

/* bytea is decoded once per row and column and kept until the next step
 * or reset; any other type comes back as its text. */
static const void *
pg_blob(zt_stmt *base, int col, size_t *len)
{
	struct pg_stmt *st = stmt_of(base);
	const char *v = PQgetvalue(st->res, st->row, col);

	if (PQftype(st->res, col) != OID_BYTEA) {
		*len = (size_t)PQgetlength(st->res, st->row, col);
		return v;
	}
	if (blob_slots(st) != ZT_OK)
		return NULL;
	if (st->blobs[col] == NULL) {
		st->blobs[col] = PQunescapeBytea((const unsigned char *)v,
		    &st->bloblens[col]);
		if (st->blobs[col] == NULL) {
			zt_error_set(ZT_ENOMEM, "postgres: out of memory");
			return NULL;
		}
	}
	*len = st->bloblens[col];
	return st->blobs[col];
}

static int64_t
pg_changes(zt_stmt *st)
{
	return stmt_of(st)->changes;
}

static const struct store_ops pg_ops = {
	.driver = ZT_DB_POSTGRES,
	.name = "postgres",
	/* READ COMMITTED, the server's default; callers that need more lock
	 * rows (SELECT ... FOR UPDATE). */
	.begin_sql = "BEGIN",
	.begin_read_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
	.close = pg_close,
	.ping = pg_ping,
	.exec = pg_exec,
	.in_tx = pg_in_tx,
	.tx_failed = pg_tx_failed,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.bind_text = pg_bind_text,
	.bind_int = pg_bind_int,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.columns = pg_columns,
	.is_null = pg_is_null,
	.text = pg_text,
	.int64 = pg_integer,
	.blob = pg_blob,
	.changes = pg_changes,
	.reset = pg_reset,
};
