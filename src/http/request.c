/*
 * Request dispatch and the zt_req accessors.
 *
 * evhttp calls req_dispatch once a request's headers and body are in.  It
 * gives the request an id, decodes the path, finds the route, runs the
 * auth hook (unless the route is public) and the handler, then counts the
 * request and writes one access-log line.  The zt_req lives on this
 * function's stack: a worker serves one request at a time and handlers
 * reply before they return, so no request state outlives the call.
 *
 * What the access log holds: method, route, the decoded path (sanitized
 * and cut), status, duration, reply size, peer and (on every line) the
 * request id.  Never headers (Authorization) and never the query string,
 * where tokens sometimes travel.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* The body of zt_req_json may nest this deep: far more than any ztiam
 * request needs, and low enough that walking it cannot exhaust a stack. */
#define JSON_MAX_DEPTH 32
/* Access-log paths are cut here; the log escapes the rest. */
#define LOG_PATH_MAX 128

#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(ZT_GET, EVHTTP_REQ_GET) && SAME(ZT_POST, EVHTTP_REQ_POST) &&
    SAME(ZT_HEAD, EVHTTP_REQ_HEAD) && SAME(ZT_PUT, EVHTTP_REQ_PUT) &&
    SAME(ZT_DELETE, EVHTTP_REQ_DELETE) &&
    SAME(ZT_OPTIONS, EVHTTP_REQ_OPTIONS) && SAME(ZT_PATCH, EVHTTP_REQ_PATCH),
    "zt_method mirrors evhttp_cmd_type");
#undef SAME

/* ---- request ids ------------------------------------------------------- */

static bool
rid_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];

		if (n == HTTP_RID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

/* A new id into `out` (HTTP_RID_MAX + 1 bytes): the worker's random
 * prefix, a dot and a counter, unique without a syscall. */
void
req_new_id(struct zt_worker *w, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char *p;
	uint64_t n;
	int i, len;

	len = (int)strlen(w->rid_prefix);
	memcpy(out, w->rid_prefix, (size_t)len);
	p = out + len;
	*p++ = '.';
	n = ++w->rid_seq;
	for (i = 60; i > 0 && (n >> i) == 0; i -= 4)
		;
	for (; i >= 0; i -= 4)
		*p++ = hex[(n >> i) & 0xf];
	*p = '\0';
}

/* The client's X-Request-Id if it is 1-64 bytes of [A-Za-z0-9._-], else a
 * new one. */
static void
rid_assign(zt_req *req)
{
	const char *in = zt_req_header(req, "X-Request-Id");

	if (in != NULL && rid_valid(in))
		memcpy(req->id, in, strlen(in) + 1);
	else
		req_new_id(req->w, req->id);
}

/* ---- the path ---------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX escapes of `raw` (length n) into `out` (n + 1 bytes).
 * Refuses a malformed escape, a control byte (NUL included) and invalid
 * UTF-8: no handler should have to think about any of them.  An escaped
 * '/' or '%' stays escaped (as "%2F", "%25"), so the router splits only on
 * real slashes; param_unescape() finishes the job in parameter values. */
static bool
path_decode(char *out, size_t *outlen, const char *raw, size_t n)
{
	size_t i, o = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)raw[i];
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			if ((hi = hexval(raw[i + 1])) < 0 ||
			    (lo = hexval(raw[i + 2])) < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (c == '/' || c == '%') {
				out[o++] = '%';
				out[o++] = '2';
				out[o++] = c == '/' ? 'F' : '5';
				continue;
			}
		}
		if (c < 0x20 || c == 0x7f)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*outlen = o;
	return zt_utf8_valid(out, o);
}

/* Turns the "%2F" and "%25" that path_decode kept back into '/' and '%',
 * in place. */
static void
param_unescape(char *v)
{
	char *o = v;

	for (; *v; v++) {
		if (v[0] == '%' && v[1] == '2' && (v[2] == 'F' || v[2] == '5')) {
			*o++ = v[2] == 'F' ? '/' : '%';
			v += 2;
		} else
			*o++ = *v;
	}
	*o = '\0';
}

/* Sets req->path from the request URI; false (after replying 400) when
 * it is not a usable path. */
static bool
req_path(zt_req *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req->ev);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
	size_t n;

	if (raw == NULL || raw[0] != '/') {
		zt_reply_problem(req, 400, "invalid_request", "the request "
		    "target must be an absolute path");
		return false;
	}
	n = strlen(raw);
	req->path = req->pathbuf;
	if (n >= sizeof(req->pathbuf) && (req->path = malloc(n + 1)) == NULL) {
		req->path = req->pathbuf;
		req->pathbuf[0] = '\0';
		zt_reply_error(req, ZT_ENOMEM);
		return false;
	}
	if (!path_decode(req->path, &req->pathlen, raw, n)) {
		/* The access log shows the path as sent. */
		memcpy(req->path, raw, n + 1);
		req->pathlen = n;
		zt_reply_problem(req, 400, "invalid_path", "the path has a bad "
		    "escape, a control character or invalid UTF-8");
		return false;
	}
	return true;
}

/* ---- routing ----------------------------------------------------------- */

static void
allow_header(char *out, size_t size, unsigned allowed)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ ZT_GET, "GET" }, { ZT_HEAD, "HEAD" }, { ZT_POST, "POST" },
		{ ZT_PUT, "PUT" }, { ZT_PATCH, "PATCH" },
		{ ZT_DELETE, "DELETE" }, { ZT_OPTIONS, "OPTIONS" },
	};
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < ZT_ARRAY_LEN(names); i++) {
		if (!(allowed & names[i].bit))
			continue;
		o += (size_t)snprintf(out + o, size - o, "%s%s",
		    o ? ", " : "", names[i].name);
		if (o >= size)
			return;
	}
}

/* Finds the route; false (after replying 404 or 405) when there is none. */
static bool
req_match(zt_req *req)
{
	zt_http *srv = req->w->srv;
	char allow[64];
	int err;

	err = zt_router_match(srv->router, req->method, req->path, &req->m);
	if (err == ZT_ENOTFOUND) {
		zt_reply_problem(req, 404, "not_found", "no resource at this "
		    "path");
		return false;
	}
	if (err == ZT_ECONFLICT) {
		allow_header(allow, sizeof(allow), req->m.allowed);
		zt_reply_header(req, "Allow", allow);
		zt_reply_problem(req, 405, "method_not_allowed", "this path "
		    "allows %s", allow);
		return false;
	}
	if (err < 0) {
		zt_reply_error(req, err);
		return false;
	}
	for (int i = 0; i < req->m.nparams; i++)
		param_unescape(req->m.params[i].value);
	req->route = req->m.route;
	req->flags = srv->routes[req->route].flags;
	return true;
}

/* Runs the auth hook, then the handler. */
static void
req_run(zt_req *req)
{
	zt_http *srv = req->w->srv;
	const struct zt_route *r = &srv->routes[req->route];

	if (!(r->flags & ZT_ROUTE_PUBLIC) && !srv->cfg.auth(req))
		return;
	/* A query string libevent cannot split ("a=1&&b") would otherwise
	 * read as no parameters at all, silently widening a filter. */
	(void)zt_req_query(req, "");
	if (req->query_bad && !req->replied) {
		zt_reply_problem(req, 400, "invalid_parameter", "the query "
		    "string is malformed");
		return;
	}
	if (!req->replied)
		r->fn(req);
}

/* ---- one request ------------------------------------------------------- */

static void
req_begin(zt_req *req, struct zt_worker *w, struct evhttp_request *ev)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	char *addr = NULL;
	ev_uint16_t port;

	memset(req, 0, offsetof(zt_req, id));
	req->t0_us = zt_mono_us();
	req->ev = ev;
	req->w = w;
	req->route = -1;
	req->m.route = -1;
	req->method = (enum zt_method)evhttp_request_get_command(ev);
	req->path = req->pathbuf;
	req->pathbuf[0] = '\0';
	req->peer[0] = '\0';
	if (evcon != NULL) {
		req->bev = evhttp_connection_get_bufferevent(evcon);
		req->conn = conn_find(w, req->bev);
		evhttp_connection_get_peer(evcon, &addr, &port);
		if (addr != NULL)
			snprintf(req->peer, sizeof(req->peer), "%s", addr);
	}
	if (req->conn != NULL)
		conn_request_begin(req->conn, ev);
	rid_assign(req);
	zt_log_set_request_id(req->id);
	zt_error_clear();
}

static const char *
method_name(enum zt_method m)
{
	switch (m) {
	case ZT_GET:		return "GET";
	case ZT_POST:		return "POST";
	case ZT_HEAD:		return "HEAD";
	case ZT_PUT:		return "PUT";
	case ZT_DELETE:		return "DELETE";
	case ZT_OPTIONS:	return "OPTIONS";
	case ZT_PATCH:		return "PATCH";
	}
	return "?";
}

static void
access_log(const zt_req *req, int64_t us)
{
	char path[LOG_PATH_MAX + 4];

	if ((req->flags & ZT_ROUTE_NOLOG) || !zt_log_enabled(ZT_LOG_INFO))
		return;
	zt_str_sanitize(path, req->path, req->pathlen, LOG_PATH_MAX);
	log_info("request", ZS("method", method_name(req->method)),
	    ZS("route", req->route >= 0 ? req->w->srv->routes[req->route].name :
	    "-"), ZS("path", path), ZI("status", req->status),
	    ZI("duration_us", us), ZI("bytes", (long long)req->bytes),
	    ZS("peer", req->peer));
}

static void
req_end(zt_req *req)
{
	int64_t us = zt_mono_us() - req->t0_us;

	metrics_record(req->w, req->route, req->status, us);
	access_log(req, us);
	zt_route_match_clear(&req->m);
	if (req->query_parsed)
		evhttp_clear_headers(&req->query);
	if (req->path != req->pathbuf)
		free(req->path);
	zt_log_set_request_id(NULL);
}

/* Under TLS every connection must be a TLS one; see conn_new_bev. */
static bool
req_transport_ok(zt_req *req)
{
	if (req->w->srv->ssl == NULL || tls_is_tls(req->bev))
		return true;
	log_error("plain-text request on the TLS listener refused");
	zt_reply_header(req, "Connection", "close");
	zt_reply_problem(req, 400, "invalid_request", "TLS is required");
	return false;
}

void
req_dispatch(struct evhttp_request *ev, void *arg)
{
	zt_req req;

	req_begin(&req, arg, ev);
	if (req_transport_ok(&req) && req_path(&req) && req_match(&req))
		req_run(&req);
	if (req.deferred) {
		/* The heap copy answers, counts and logs it later. */
		zt_log_set_request_id(NULL);
		return;
	}
	if (!req.replied) {
		log_error("handler returned without a reply",
		    ZS("route", req.route >= 0 ?
		    req.w->srv->routes[req.route].name : "-"));
		zt_reply_problem(&req, 500, "internal", "internal error");
	}
	req_end(&req);
}

/* ---- deferred replies --------------------------------------------------- */

zt_req *
zt_req_defer(zt_req *req)
{
	zt_req *d;

	if (req->replied || req->deferred || req->ev == NULL)
		return NULL;
	if ((d = malloc(sizeof(*d))) == NULL)
		return NULL;
	*d = *req;
	if (req->path == req->pathbuf)
		d->path = d->pathbuf;
	/* The parsed query list's head points into `req`: drop it, and let
	 * the copy parse again if asked. */
	if (req->query_parsed) {
		evhttp_clear_headers(&req->query);
		d->query_parsed = false;
		d->query_bad = false;
	}
	/* The connection may close before the reply (libevent then detaches
	 * the request from it); nothing of it is used after this. */
	d->bev = NULL;
	d->conn = NULL;
	d->deferred = true;
	/* What the stack copy owned (params, a long path) is the heap
	 * copy's now. */
	req->deferred = true;
	req->m.nparams = 0;
	req->path = req->pathbuf;
	req->query_parsed = false;
	return d;
}

/* Called by zt_reply once a deferred request is answered. */
void
req_deferred_done(zt_req *req)
{
	req_end(req);
	free(req);
}

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
	later_run(arg);
}

void
later_run(struct zt_worker *w)
{
	zt_later *l;

	while ((l = w->later) != NULL) {
		w->later = l->next;
		l->next = NULL;
		l->queued = false;
		l->fn(l->arg);
	}
}

void
later_fini(struct zt_worker *w)
{
	later_run(w);
	if (w->later_ev != NULL)
		event_free(w->later_ev);
	w->later_ev = NULL;
}

void
zt_http_later(zt_req *req, zt_later *l)
{
	struct zt_worker *w = req->w;

	if (l->queued)
		return;
	if (w->later_ev == NULL &&
	    (w->later_ev = event_new(w->base, -1, 0, later_cb, w)) == NULL) {
		/* Out of memory: run it now rather than never. */
		l->fn(l->arg);
		return;
	}
	l->queued = true;
	l->next = w->later;
	w->later = l;
	/* An event made active now runs after those already active in this
	 * turn of the loop: the requests read in the same burst. */
	event_active(w->later_ev, 0, 0);
}

/* ---- accessors --------------------------------------------------------- */

enum zt_method
zt_req_method(const zt_req *req)
{
	return req->method;
}

const char *
zt_req_path(const zt_req *req)
{
	return req->path;
}

const char *
zt_req_route(const zt_req *req)
{
	return req->route >= 0 ? req->w->srv->routes[req->route].name : NULL;
}

const char *
zt_req_param(const zt_req *req, const char *name)
{
	int i;

	for (i = 0; i < req->m.nparams; i++)
		if (strcmp(req->m.params[i].name, name) == 0)
			return req->m.params[i].value;
	return NULL;
}

const char *
zt_req_query(zt_req *req, const char *name)
{
	const struct evhttp_uri *uri;
	const char *q;

	if (!req->query_parsed) {
		TAILQ_INIT(&req->query);
		req->query_parsed = true;
		uri = req->ev ? evhttp_request_get_evhttp_uri(req->ev) : NULL;
		q = uri ? evhttp_uri_get_query(uri) : NULL;
		if (q != NULL && evhttp_parse_query_str(q, &req->query) < 0) {
			evhttp_clear_headers(&req->query);
			req->query_bad = true;
		}
	}
	return evhttp_find_header(&req->query, name);
}

const char *
zt_req_query_next(zt_req *req, void **iter, const char **name)
{
	struct evkeyval *kv;

	if (*iter == NULL) {
		zt_req_query(req, "");	/* parses on first use */
		kv = TAILQ_FIRST(&req->query);
	} else
		kv = TAILQ_NEXT((struct evkeyval *)*iter, next);
	*iter = kv;
	if (kv == NULL)
		return NULL;
	*name = kv->key;
	return kv->value;
}

const char *
zt_req_header(const zt_req *req, const char *name)
{
	if (req->ev == NULL)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev),
	    name);
}

const char *
zt_req_id(const zt_req *req)
{
	return req->id;
}

const char *
zt_req_peer_addr(const zt_req *req)
{
	return req->peer;
}

const char *
zt_req_body(zt_req *req, size_t *len)
{
	struct evbuffer *in;
	size_t n;

	if (req->body == NULL) {
		req->body = "";
		req->bodylen = 0;
		in = req->ev ? evhttp_request_get_input_buffer(req->ev) : NULL;
		n = in ? evbuffer_get_length(in) : 0;
		/* A NUL after the body makes it a C string as well. */
		if (n > 0 && evbuffer_add(in, "", 1) == 0) {
			req->body = (const char *)evbuffer_pullup(in, -1);
			req->bodylen = n;
			if (req->body == NULL) {
				req->body = "";
				req->bodylen = 0;
			}
		}
	}
	if (len != NULL)
		*len = req->bodylen;
	return req->body;
}

X509 *
zt_req_peer_cert(const zt_req *req)
{
	return tls_peer_cert(req->bev);
}

bool
zt_req_is_tls(const zt_req *req)
{
	return tls_is_tls(req->bev);
}

void *
zt_req_worker(const zt_req *req)
{
	return req->w->ctx;
}

void *
zt_req_app(const zt_req *req)
{
	return req->w->srv->cfg.app;
}

int
zt_req_worker_index(const zt_req *req)
{
	return req->w->index;
}

void
zt_req_set_user(zt_req *req, void *user)
{
	req->user = user;
}

void *
zt_req_user(const zt_req *req)
{
	return req->user;
}

/* ---- JSON bodies ------------------------------------------------------- */

/* "application/json", optionally with parameters; a charset, if given,
 * must be UTF-8 (RFC 8259 allows nothing else). */
static bool
json_media_type(const char *ct)
{
	static const char mt[] = "application/json";
	const char *cs;

	if (ct == NULL || strncasecmp(ct, mt, sizeof(mt) - 1) != 0)
		return false;
	ct += sizeof(mt) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (*ct == '\0')
		return true;
	if (*ct != ';')
		return false;
	if ((cs = strcasestr(ct, "charset=")) == NULL)
		return true;
	cs += 8;
	if (*cs == '"')
		cs++;
	/* strchr finds the NUL too: "utf-8" may end the header. */
	return strncasecmp(cs, "utf-8", 5) == 0 &&
	    strchr("\"; \t", cs[5]) != NULL;
}

json_t *
zt_req_json(zt_req *req)
{
	const char *body;
	json_t *doc;
	size_t len;

	if (!json_media_type(zt_req_header(req, "Content-Type"))) {
		zt_reply_problem(req, 415, "unsupported_media_type",
		    "the body must be application/json");
		return NULL;
	}
	body = zt_req_body(req, &len);
	if (len == 0) {
		zt_reply_problem(req, 400, "invalid_json", "the body is empty");
		return NULL;
	}
	if (zt_json_parse(&doc, body, len, JSON_MAX_DEPTH) < 0) {
		zt_reply_problem(req, 400, "invalid_json", "%s",
		    zt_error_msg());
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		zt_reply_problem(req, 400, "invalid_json", "the body must be a "
		    "JSON object");
		return NULL;
	}
	return doc;
}
