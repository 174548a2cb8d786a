/*
 * Connection accounting: the per-worker connection cap, the deadline for
 * a complete request, and the "busy" count the graceful stop waits on.
 *
 * libevent 2.1 has no connection limit and tells nobody when it accepts
 * or drops a connection.  Three of its hooks are enough:
 *
 *  1. evhttp calls our bufferevent callback (evhttp_set_bevcb) once per
 *     accepted socket, inside the listener's accept loop.  There we create
 *     the connection's bufferevent (plain or TLS) and a zt_conn, count it,
 *     and at the cap disable the listener: libevent's accept loop stops
 *     right there, and further clients wait in the kernel's backlog.
 *
 *  2. Right after the callback, evhttp wraps the bufferevent in its
 *     connection object and sets itself as the bufferevent's callback
 *     argument.  We cannot see that object from the callback, so the
 *     callback queues the zt_conn and fires a per-worker event that runs
 *     after the accept loop but before any I/O on the new socket.  That
 *     event ("adoption") reads the connection object back with
 *     bufferevent_getcb, checks it with evhttp_connection_get_bufferevent,
 *     and sets our close callback on it.  evhttp calls the close callback
 *     exactly once for every way a server connection ends: EOF, error,
 *     timeout, an error reply, or evhttp_free.  The close callback
 *     uncounts the connection and re-enables a paused listener.
 *
 *  3. A request finds its zt_conn through a small per-worker hash table
 *     keyed by the bufferevent pointer, which evhttp_connection_get_-
 *     bufferevent returns.
 *
 * Reading evhttp's callback argument is the one use of libevent
 * behaviour that its documentation does not promise (it holds in 2.0,
 * 2.1 and 2.2).  The check in (2) is there to notice if it ever stops
 * holding, and the server tests go through it on every connection.
 *
 * The cap is per worker (max_connections / workers) because each worker
 * has its own listening socket.  The kernel spreads new connections over
 * the sockets by hash, not by load, so a client may wait in a paused
 * worker's backlog while another worker has room.
 *
 * evhttp's timeout applies to each read and write, so a client trickling a
 * byte now and then could hold a connection for ever.  Each connection
 * therefore also has a deadline: a complete request (TLS handshake,
 * headers and body) must arrive within idle_timeout_s of the connection
 * opening or of the previous reply being flushed.
 *
 * evhttp refuses some requests itself, before dispatch: a body over the
 * limit (413), a head over the limit or malformed (400), a method it does
 * not serve (501), an Expect other than 100-continue (417).  It answers
 * with an HTML page, and libevent 2.1 has no hook to change that (2.2 has
 * evhttp_set_errorcb).  So at adoption each connection gets a callback on
 * its bufferevent's output buffer, which holds plain text even under TLS:
 * while a dispatched reply is pending (`busy`) it returns at once;
 * otherwise, once the buffer ends with a whole evhttp error page, it
 * replaces the page with a problem document (reply_refusal).  evhttp adds
 * the page in several steps, head then body, all within the call that
 * sends it, and the socket is written only later, from the event loop,
 * so no byte of the HTML reaches the client.  This leans on evhttp's
 * behaviour more than anything else here: see "evhttp's refusals" below.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* How long the listener rests after accept() fails for want of file
 * descriptors or memory; polling at once would spin. */
#define ACCEPT_RETRY_MS 100
/* At most one "connection cap reached" warning per worker this often. */
#define CAP_LOG_US (10 * 1000000)

struct zt_conn {
	struct zt_worker *w;
	struct bufferevent *bev;
	struct evhttp_connection *evcon;	/* set when adopted */
	struct zt_conn *next;			/* on the adoption list */
	struct event *deadline;
	int busy;			/* dispatched, reply unflushed */
	bool doomed;			/* no TLS: close at adoption */
	struct evbuffer_cb_entry *out_cb;	/* see refusal_out_cb */
	struct evbuffer_cb_entry *in_cb;	/* see refusal_in_cb */
	size_t head_in;			/* input taken since the request
					 * began; see head_too_large */
};

/* ---- the table: open addressing, linear probing ------------------------ */

static size_t
table_slot(const struct zt_worker *w, const void *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & w->table_mask;
}

static void
table_put(struct zt_worker *w, struct zt_conn *c)
{
	size_t i = table_slot(w, c->bev);

	while (w->table[i] != NULL)
		i = (i + 1) & w->table_mask;
	w->table[i] = c;
}

struct zt_conn *
conn_find(struct zt_worker *w, struct bufferevent *bev)
{
	size_t i = table_slot(w, bev);

	for (; w->table[i] != NULL; i = (i + 1) & w->table_mask)
		if (w->table[i]->bev == bev)
			return w->table[i];
	return NULL;
}

/* Removes `c` and shifts later entries of its probe run back into the
 * hole, so lookups never need tombstones. */
static void
table_del(struct zt_worker *w, struct zt_conn *c)
{
	size_t i = table_slot(w, c->bev), j, home;

	while (w->table[i] != c) {
		if (w->table[i] == NULL)
			return;
		i = (i + 1) & w->table_mask;
	}
	w->table[i] = NULL;
	for (j = (i + 1) & w->table_mask; w->table[j] != NULL;
	    j = (j + 1) & w->table_mask) {
		home = table_slot(w, w->table[j]->bev);
		/* Move it if its home is not in the cyclic range (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			w->table[i] = w->table[j];
			w->table[j] = NULL;
			i = j;
		}
	}
}

/* ---- the listener ------------------------------------------------------ */

/* Turns the listener on or off to match the worker's state. */
void
conn_listener_update(struct zt_worker *w)
{
	if (w->lev == NULL)
		return;
	if (w->paused_cap || w->paused_err || w->draining)
		evconnlistener_disable(w->lev);
	else
		evconnlistener_enable(w->lev);
}

static void
cap_reached(struct zt_worker *w)
{
	int64_t now = zt_mono_us();

	w->paused_cap = true;
	conn_listener_update(w);
	atomic_fetch_add_explicit(&w->stats.cap_hits, 1,
	    memory_order_relaxed);
	if (now - w->cap_logged_us >= CAP_LOG_US) {
		w->cap_logged_us = now;
		log_warn("connection cap reached; not accepting",
		    ZI("worker", w->index), ZI("cap", w->maxconn));
	}
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zt_worker *w = arg;

	w->paused_err = false;
	conn_listener_update(w);
}

/* accept() failed in a way that will repeat at once (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM); libevent already ignores the passing kinds.  The
 * listener's argument is evhttp's, so the worker comes from the thread. */
void
conn_listener_error(struct evconnlistener *lev, void *arg)
{
	struct zt_worker *w = http_worker;
	struct timeval tv = { 0, ACCEPT_RETRY_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	if (w == NULL || w->lev != lev)
		return;
	log_warn("accept failed; pausing the listener",
	    ZS("error", strerror(err)), ZI("worker", w->index));
	w->paused_err = true;
	conn_listener_update(w);
	evtimer_add(w->resume_ev, &tv);
}

/* ---- connection life --------------------------------------------------- */

static void
conn_gone(struct zt_conn *c)
{
	struct zt_worker *w = c->w;

	/* evhttp frees the bufferevent after its close callback; nothing
	 * may call back into `c` once it is freed. */
	if (c->out_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev),
		    c->out_cb);
	if (c->in_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev),
		    c->in_cb);
	table_del(w, c);
	w->nconn--;
	w->busy -= c->busy;
	metrics_conns(w, -1);
	if (c->deadline != NULL)
		event_free(c->deadline);
	free(c);
	if (w->paused_cap && w->nconn < w->maxconn) {
		w->paused_cap = false;
		conn_listener_update(w);
	}
	srv_drain_check(w);
}

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	conn_gone(arg);
}

static void
deadline_arm(struct zt_conn *c)
{
	if (c->deadline != NULL)
		evtimer_add(c->deadline, c->w->deadline_tv);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zt_conn *c = arg;

	log_debug("closing a connection: no complete request in time",
	    ZI("worker", c->w->index));
	/* The close callback frees `c`. */
	evhttp_connection_free(c->evcon);
}

/* ---- evhttp's refusals ------------------------------------------------- */

/* How evhttp_send_error's page begins and ends (libevent 2.1.12).  No
 * reply of ours goes out while `busy` is 0, so nothing else matches. */
static const char page_open[] = "<HTML><HEAD>\n";
static const char page_close[] = "</BODY></HTML>\n";
static const char page_ctype[] = "\r\nContent-Type: text/html\r\n";
/* evhttp's pages are about 250 bytes with their head. */
#define PAGE_MAX 1024

/* Counts what evhttp takes from the input: its head, line by line, and
 * then its body.  A plain addition, on every read and every line. */
static void
refusal_in_cb(struct evbuffer *in, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct zt_conn *c = arg;

	c->head_in += info->n_deleted;
}

/* The three digits at `s`, or -1. */
static int
status_at(const char *s)
{
	if (s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9' || s[3] != ' ')
		return -1;
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/*
 * If `out` ends with a whole evhttp error page, returns its status and
 * sets *at to where the page's status line starts; otherwise -1.  Only a
 * "100 Continue" not yet written may come before the page, so the page's
 * status line is the last one in the buffer.
 */
static int
page_find(struct evbuffer *out, size_t *at)
{
	char page[PAGE_MAX + 1];
	const char *eoh;
	struct evbuffer_ptr p, last;
	size_t len = evbuffer_get_length(out), n = sizeof(page_close) - 1;
	int status;

	if (len < n || evbuffer_ptr_set(out, &p, len - n,
	    EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(out, &p, page, n) != (ev_ssize_t)n ||
	    memcmp(page, page_close, n) != 0)
		return -1;
	last.pos = -1;
	for (p = evbuffer_search(out, "HTTP/1.", 7, NULL); p.pos >= 0;
	    p = evbuffer_search(out, "HTTP/1.", 7, &p)) {
		last = p;
		if (evbuffer_ptr_set(out, &p, 1, EVBUFFER_PTR_ADD) < 0)
			break;
	}
	if (last.pos < 0 || (n = len - (size_t)last.pos) > PAGE_MAX ||
	    evbuffer_copyout_from(out, &last, page, n) != (ev_ssize_t)n)
		return -1;
	page[n] = '\0';

	/* "HTTP/1.1 413 Reason", a head with Content-Type: text/html, and
	 * a body that is the page from its first byte. */
	if (n < 13 || page[8] != ' ' || (status = status_at(page + 9)) < 0 ||
	    (eoh = memmem(page, n, "\r\n\r\n", 4)) == NULL ||
	    memmem(page, (size_t)(eoh + 2 - page), page_ctype,
	    sizeof(page_ctype) - 1) == NULL ||
	    strncmp(eoh + 4, page_open, sizeof(page_open) - 1) != 0)
		return -1;
	*at = (size_t)last.pos;
	return status;
}

/*
 * evhttp answers 400 both to a malformed head and to one over the limit.
 * It takes the head from the input a line at a time, and refuses when the
 * lines so far, or those and an unfinished line still waiting, exceed
 * the limit; a 400 is its answer only while it reads a head (a bad body
 * gets 413).  So the head was too large when the input taken since the
 * request began, plus any unfinished line, exceeds the limit.  head_in
 * counts line ends too, which evhttp does not: a malformed head within a
 * few bytes of the limit may be called too large.
 */
static bool
head_too_large(struct zt_conn *c, size_t limit)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = c->head_in;

	if (evbuffer_search(in, "\n", 1, NULL).pos < 0)
		n += evbuffer_get_length(in);
	return n > limit;
}

/* The problem code and detail for evhttp's refusal `*status`, which may
 * become 431. */
static const char *
refusal_kind(struct zt_conn *c, int *status, char *detail, size_t size)
{
	const zt_http_config *cfg = &c->w->srv->cfg;

	switch (*status) {
	case 413:
		snprintf(detail, size, "request body exceeds %zu bytes",
		    cfg->max_body_bytes);
		return "payload_too_large";
	case 400:
		if (!head_too_large(c, cfg->max_header_bytes)) {
			snprintf(detail, size, "malformed request line or "
			    "header fields");
			return "bad_request";
		}
		*status = 431;
		snprintf(detail, size, "request header block exceeds %zu bytes",
		    cfg->max_header_bytes);
		return "header_fields_too_large";
	case 417:
		snprintf(detail, size, "the only expectation supported is "
		    "100-continue");
		return "expectation_failed";
	case 501:
		snprintf(detail, size, "the server does not implement this "
		    "method");
		return "not_implemented";
	}
	snprintf(detail, size, "the request was refused");
	return *status < 500 ? "bad_request" : "internal";
}

/*
 * Replaces evhttp's page, at `at` to the end of `out`, with a problem
 * document under a new request id, then counts the request (route
 * "unmatched") and logs it.  Out of memory, the page stays as it is.
 */
static void
refusal_send(struct zt_conn *c, struct evbuffer *out, size_t at,
    int status)
{
	struct zt_worker *w = c->w;
	char rid[HTTP_RID_MAX + 1], detail[128], *peer = NULL;
	struct evbuffer *doc;
	const char *code;
	ev_uint16_t port;

	if ((doc = evbuffer_new()) == NULL)
		return;
	req_new_id(w, rid);
	code = refusal_kind(c, &status, detail, sizeof(detail));

	/* What precedes the page moves to `doc`, the problem follows it;
	 * then the page goes and `doc` takes its place. */
	if (evbuffer_remove_buffer(out, doc, at) != (int)at ||
	    reply_refusal(doc, status, code, rid, "%s", detail) < 0) {
		log_error("cannot replace an evhttp error page");
		evbuffer_prepend_buffer(out, doc);
		evbuffer_free(doc);
		return;
	}
	evbuffer_drain(out, evbuffer_get_length(out));
	evbuffer_add_buffer(out, doc);
	evbuffer_free(doc);

	metrics_record(w, -1, status, 0);
	if (zt_log_enabled(ZT_LOG_INFO)) {
		evhttp_connection_get_peer(c->evcon, &peer, &port);
		zt_log_set_request_id(rid);
		log_info("request refused before dispatch",
		    ZI("status", status), ZS("code", code),
		    ZS("peer", peer != NULL ? peer : ""));
		zt_log_set_request_id(NULL);
	}
}

/*
 * On every change to a connection's output.  The hot path is the first
 * test: a dispatched request's reply, or bytes leaving for the socket.
 */
static void
refusal_out_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct zt_conn *c = arg;
	size_t at;
	int status;

	if (c->busy > 0 || info->n_added == 0)
		return;
	/* A socket bufferevent keeps its output's start frozen, so that
	 * only its own writes take bytes out, and thaws it around each
	 * write.  Reading at an offset and the rewrite both need it thawed;
	 * the next write freezes it again. */
	evbuffer_unfreeze(out, 1);
	if ((status = page_find(out, &at)) < 0)
		return;
	/* evhttp closes the connection after its page, so once is enough;
	 * and the rewrite below must not call back into here. */
	evbuffer_remove_cb_entry(out, c->out_cb);
	c->out_cb = NULL;
	refusal_send(c, out, at, status);
}

/* Runs for every connection accepted since it last ran; see (2) above. */
static void
adopt_one(struct zt_conn *c)
{
	bufferevent_data_cb readcb;
	struct evhttp_connection *evcon;
	void *cbarg;
	evutil_socket_t fd;
	int one = 1;

	bufferevent_getcb(c->bev, &readcb, NULL, NULL, &cbarg);
	evcon = cbarg;
	if (readcb == NULL || evcon == NULL ||
	    evhttp_connection_get_bufferevent(evcon) != c->bev) {
		/* Freed before adoption (evhttp failed to set it up), or
		 * evhttp no longer works as conn.c expects. */
		if (readcb != NULL)
			log_error("cannot track an HTTP connection");
		conn_gone(c);
		return;
	}
	c->evcon = evcon;
	evhttp_connection_set_closecb(evcon, conn_closed, c);
	if (c->doomed) {
		evhttp_connection_free(evcon);
		return;
	}
	/* Replies go out in one write; Nagle would only delay them. */
	if ((fd = bufferevent_getfd(c->bev)) >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Without these (out of memory), evhttp's HTML pages go out as
	 * they are. */
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev),
	    refusal_out_cb, c);
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev),
	    refusal_in_cb, c);
	c->deadline = evtimer_new(c->w->base, deadline_cb, c);
	deadline_arm(c);
}

static void
adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zt_worker *w = arg;
	struct zt_conn *c;

	while ((c = w->adopt) != NULL) {
		w->adopt = c->next;
		c->next = NULL;
		adopt_one(c);
	}
}

/* The connection's bufferevent, for evhttp_set_bevcb.  Under TLS a failure
 * must not return NULL: evhttp would then make a plain-text bufferevent,
 * and the TLS port would speak HTTP.  Such a connection gets a plain
 * bufferevent marked doomed, closed before it reads a byte. */
struct bufferevent *
conn_new_bev(struct event_base *base, void *arg)
{
	struct zt_worker *w = arg;
	struct bufferevent *bev = NULL;
	struct zt_conn *c;
	bool doomed = false;

	if (w->srv->ssl != NULL &&
	    (bev = tls_bev_new(base, w->srv->ssl)) == NULL) {
		log_error("cannot set up TLS for a connection");
		doomed = true;
	}
	if (bev == NULL &&
	    (bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return NULL;	/* out of memory; see request.c */
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	c->w = w;
	c->bev = bev;
	c->doomed = doomed;
	c->next = w->adopt;
	w->adopt = c;
	table_put(w, c);
	w->nconn++;
	metrics_conns(w, 1);
	event_active(w->adopt_ev, 0, 0);
	if (w->nconn >= w->maxconn)
		cap_reached(w);
	return bev;
}

/* The reply to a request on `c` is written: the deadline for the next
 * request starts now. */
static void
request_done(struct evhttp_request *ev, void *arg)
{
	struct zt_conn *c = arg;

	c->busy--;
	c->w->busy--;
	c->head_in = 0;
	deadline_arm(c);
	srv_drain_check(c->w);
}

/* A request on `c` reached dispatch: no deadline while its handler runs
 * and its reply is written. */
void
conn_request_begin(struct zt_conn *c, struct evhttp_request *ev)
{
	c->busy++;
	c->w->busy++;
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
	evhttp_request_set_on_complete_cb(ev, request_done, c);
}

/* ---- per worker -------------------------------------------------------- */

int
conn_worker_init(struct zt_worker *w)
{
	struct timeval tv = { w->srv->cfg.idle_timeout_s, 0 };
	size_t n = 16;

	while (n < (size_t)w->maxconn * 2)
		n <<= 1;
	if ((w->table = calloc(n, sizeof(*w->table))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	w->table_mask = n - 1;
	w->adopt_ev = event_new(w->base, -1, 0, adopt_cb, w);
	w->resume_ev = evtimer_new(w->base, resume_cb, w);
	/* Every deadline has the same length: libevent keeps such timers in
	 * a queue rather than its heap, so re-arming per request is cheap. */
	w->deadline_tv = event_base_init_common_timeout(w->base, &tv);
	if (w->adopt_ev == NULL || w->resume_ev == NULL ||
	    w->deadline_tv == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

/* After evhttp_free: what is left are connections never adopted. */
void
conn_worker_fini(struct zt_worker *w)
{
	size_t i;

	if (w->table != NULL)
		for (i = 0; i <= w->table_mask; i++) {
			if (w->table[i] == NULL)
				continue;
			metrics_conns(w, -1);
			if (w->table[i]->deadline != NULL)
				event_free(w->table[i]->deadline);
			free(w->table[i]);
		}
	free(w->table);
	w->table = NULL;
	w->adopt = NULL;
	if (w->adopt_ev != NULL)
		event_free(w->adopt_ev);
	if (w->resume_ev != NULL)
		event_free(w->resume_ev);
	w->adopt_ev = w->resume_ev = NULL;
}
