/*
 * http: ztiam's HTTP server on libevent's evhttp, with TLS and mutual TLS
 * through bufferevent_openssl.
 *
 * N worker threads each run an event loop with its own evhttp and its own
 * listening socket on the same address (SO_REUSEPORT), so the kernel spreads
 * connections and no request crosses a thread.  Handlers run on the worker's
 * loop and must not block for long: they answer from memory or from the
 * worker's own database connection.
 *
 * The server enforces the limits (header bytes, body bytes, connections,
 * idle time), gives every request an id (X-Request-Id), routes by method and
 * path pattern with {name} parameters, writes errors as RFC 9457 problem
 * documents, and counts requests and latencies for /metrics.  It knows
 * nothing of tokens or tenants: the application checks those in a hook.
 */
#ifndef ZT_HTTP_H
#define ZT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "base/base.h"

typedef struct zt_http zt_http;
typedef struct zt_req zt_req;

enum zt_method {
	ZT_GET = 1 << 0,
	ZT_POST = 1 << 1,
	ZT_HEAD = 1 << 2,
	ZT_PUT = 1 << 3,
	ZT_DELETE = 1 << 4,
	ZT_OPTIONS = 1 << 5,
	ZT_PATCH = 1 << 8,
};

typedef void (*zt_handler)(zt_req *req);

/*
 * Called once per worker thread before it serves, to build the worker's own
 * context (a database connection, say); the result is zt_req_worker().
 * Return NULL to fail start-up.  `fini` undoes it when the worker ends.
 */
typedef void *(*zt_worker_init)(void *app, int index);
typedef void (*zt_worker_fini)(void *app, void *worker);

/*
 * Runs before the handler of every route whose flags do not include
 * ZT_ROUTE_PUBLIC: returns true to go on, or replies (401, 403) itself and
 * returns false.
 */
typedef bool (*zt_auth_hook)(zt_req *req);

enum zt_route_flags {
	ZT_ROUTE_PUBLIC = 1 << 0,	/* no authentication hook */
	ZT_ROUTE_NOLOG = 1 << 1,	/* no access log line (health probes) */
};

typedef struct zt_http_config {
	const char *listen;		/* "127.0.0.1:8080", "[::1]:8443" */
	int workers;			/* threads; 0 = number of cores */
	const char *tls_cert;		/* PEM chain; TLS when set */
	const char *tls_key;		/* PEM private key */
	const char *tls_client_ca;	/* PEM CA bundle; mutual TLS when set */
	bool tls_client_optional;	/* ask for a client cert, don't require */
	size_t max_header_bytes;	/* default 16 KiB */
	size_t max_body_bytes;		/* default 1 MiB */
	int max_connections;		/* default 4096, over all workers */
	int idle_timeout_s;		/* default 60 */
	void *app;			/* passed to worker_init and kept */
	zt_worker_init worker_init;
	zt_worker_fini worker_fini;
	zt_auth_hook auth;
} zt_http_config;

int zt_http_new(zt_http **out, const zt_http_config *cfg);
void zt_http_free(zt_http *srv);

/*
 * Adds a route.  `pattern` is a path with literal segments and {name}
 * segments ("/v1/tokens/{id}"); a literal segment wins over a parameter.
 * `name` labels the route in metrics and logs ("tokens.get").  Routes are
 * added before zt_http_start().  A path that matches a route but not its
 * method gets 405 with an Allow header; no match gets 404.
 */
int zt_http_route(zt_http *srv, unsigned methods, const char *pattern,
    zt_handler fn, const char *name, unsigned flags);

/* Binds and starts the worker threads; returns once they serve.  The bound
 * port is available from zt_http_port() (useful with port 0). */
int zt_http_start(zt_http *srv);
int zt_http_port(const zt_http *srv);

/*
 * Stops accepting, lets in-flight requests finish (up to `grace_ms`), closes
 * idle connections and joins the workers.  Safe to call from a signal
 * handler's deferred context (not from the handler itself) or any thread.
 */
void zt_http_stop(zt_http *srv, int grace_ms);
/* Blocks until the server has stopped. */
void zt_http_wait(zt_http *srv);

/* Writes the Prometheus text exposition of the server's own metrics. */
void zt_http_metrics(zt_http *srv, zt_buf *out);
/*
 * Adds `anchor` to the certificates that client certificates may chain
 * to (--tls-client-ca), while the server runs: handshakes after the call
 * accept it.  For a CA that publishes a new root before anything below it
 * is used.  Nothing is done (ZT_OK) without mutual TLS; a certificate
 * already there is no error.
 */
struct x509_st;
int zt_http_trust_add(zt_http *srv, struct x509_st *anchor);

/* ---- the request, inside a handler ------------------------------------ */

enum zt_method zt_req_method(const zt_req *req);
const char *zt_req_path(const zt_req *req);	/* decoded path, no query */
const char *zt_req_route(const zt_req *req);	/* route name or NULL */
/* A {name} path parameter, decoded; NULL when absent. */
const char *zt_req_param(const zt_req *req, const char *name);
/* A query-string parameter, decoded; NULL when absent. */
const char *zt_req_query(zt_req *req, const char *name);
/* Walks every query parameter in order: start with *iter = NULL; returns
 * the next value and sets *name, or NULL after the last. */
const char *zt_req_query_next(zt_req *req, void **iter, const char **name);
const char *zt_req_header(const zt_req *req, const char *name);
const char *zt_req_id(const zt_req *req);
const char *zt_req_peer_addr(const zt_req *req);	/* "127.0.0.1" */
/* The body, NUL-terminated (len excludes the NUL); never NULL. */
const char *zt_req_body(zt_req *req, size_t *len);
/* The verified client certificate under mutual TLS, or NULL (borrowed). */
X509 *zt_req_peer_cert(const zt_req *req);
bool zt_req_is_tls(const zt_req *req);

/*
 * Parses the body as a JSON object (Content-Type must be application/json,
 * UTF-8, no duplicate keys, depth-limited).  On failure replies 400 or 415
 * itself and returns NULL.  The caller owns the result (json_decref).
 */
json_t *zt_req_json(zt_req *req);

void *zt_req_worker(const zt_req *req);	/* from zt_worker_init */
void *zt_req_app(const zt_req *req);	/* zt_http_config.app */
int zt_req_worker_index(const zt_req *req);
/* A slot for the auth hook to leave the authenticated caller in. */
void zt_req_set_user(zt_req *req, void *user);
void *zt_req_user(const zt_req *req);

/* ---- deferred replies --------------------------------------------------- */

/*
 * A handler that cannot answer yet (the OAuth provider waits for a group
 * commit of audit records) defers its request: zt_req_defer() moves it to
 * the heap and the handler returns without replying.  Code running later
 * on the same worker thread answers the returned request with the usual
 * zt_reply_* calls; the reply frees it, so it must not be touched after.
 * Headers, body, path, params and id stay readable; the connection may
 * be gone (the peer closed), so zt_req_peer_cert() is NULL and
 * zt_req_is_tls() false, and the reply then goes nowhere.  A deferred
 * request counts as in flight for the graceful stop.  NULL when out of
 * memory or already answered: then reply at once.
 */
zt_req *zt_req_defer(zt_req *req);

/* A callback to run once, later, on the worker's loop (see zt_http_later).
 * Zero it before first use; it belongs to the caller. */
typedef struct zt_later {
	void (*fn)(void *arg);
	void *arg;
	struct zt_later *next;	/* private */
	bool queued;		/* private */
} zt_later;

/*
 * Queues `l` to run on the worker serving `req`, after the events that
 * are ready now (so after every request of the current burst has been
 * dispatched), and at the latest before the worker stops.  Queuing an `l`
 * that is already queued does nothing.  `l` must outlive its run.
 */
void zt_http_later(zt_req *req, zt_later *l);

/* ---- replies: exactly one per request ----------------------------------- */

void zt_reply_header(zt_req *req, const char *name, const char *value);
/* Sends `body` (may be NULL) with `content_type`. */
void zt_reply(zt_req *req, int status, const char *content_type,
    const char *body, size_t len);
/* Sends a JSON document and takes the reference (json_decref). */
void zt_reply_json(zt_req *req, int status, json_t *doc);
void zt_reply_empty(zt_req *req, int status);
/*
 * Sends an RFC 9457 problem document (application/problem+json) with
 * `type` "urn:ztiam:problem:<code>", the status's title, `detail` and the
 * request id.  `code` is stable and machine-readable ("invalid_json").
 */
void zt_reply_problem(zt_req *req, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Same, adding members of `extra` (taken) to the document. */
void zt_reply_problem_ext(zt_req *req, int status, const char *code,
    json_t *extra, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Maps a base error code (ZT_ENOTFOUND...) and the thread's error message
 * to a problem document. */
void zt_reply_error(zt_req *req, int err);

/* ---- pieces exposed for tests and fuzzing ------------------------------- */

typedef struct zt_router zt_router;
typedef struct zt_route_match {
	int route;			/* index, or -1 */
	unsigned allowed;		/* methods of the path, for 405 */
	int nparams;
	struct { const char *name; char *value; } params[8];
} zt_route_match;

int zt_router_new(zt_router **out);
void zt_router_free(zt_router *r);
int zt_router_add(zt_router *r, unsigned methods, const char *pattern,
    int route);
/* Matches a decoded path; frees nothing of `m` on failure.  Returns 0 on a
 * route found, ZT_ENOTFOUND for no path, ZT_ECONFLICT when only the method
 * differs (m->allowed says which methods the path has). */
int zt_router_match(const zt_router *r, unsigned method, const char *path,
    zt_route_match *m);
void zt_route_match_clear(zt_route_match *m);

#endif
