/*
 * Private to http/: the server, its workers, connections and request
 * state, shared by the module's files and by nothing outside it.
 *
 * Ownership in one place: a zt_http owns its workers, routes and TLS
 * context; a worker owns its event base, evhttp, listener and the zt_conn
 * of each open connection; a zt_req lives on the dispatching worker's
 * stack for the length of one handler call.  Everything a worker owns is
 * touched only from the worker's own thread, except the atomic counters
 * that zt_http_metrics reads and the stop event that zt_http_stop fires.
 */
#ifndef ZT_HTTP_INT_H
#define ZT_HTTP_INT_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "http/http.h"

/* Every method a route may name; libevent answers any other itself. */
#define HTTP_METHODS	(ZT_GET | ZT_POST | ZT_HEAD | ZT_PUT | ZT_DELETE | \
			    ZT_OPTIONS | ZT_PATCH)

/* An X-Request-Id from a client is kept only up to this length: long
 * enough for a UUID or a trace id, short enough for every log line. */
#define HTTP_RID_MAX	64

/* Decoded paths up to this length need no allocation; longer ones (rare:
 * the header limit still bounds them) go to the heap. */
#define HTTP_PATH_INLINE 256

/* Latency buckets (upper bounds in microseconds) and status slots of the
 * per-route counters; see metrics.c. */
#define HTTP_NBUCKETS	14
#define HTTP_NSTATUS	32

struct zt_route {
	char *pattern;
	char *name;
	zt_handler fn;
	unsigned methods;
	unsigned flags;
};

/* One route's counters on one worker.  Only the worker writes them; any
 * thread may read them (relaxed atomics: no locks, no torn words). */
struct route_stats {
	_Atomic uint64_t status[HTTP_NSTATUS];
	_Atomic uint64_t bucket[HTTP_NBUCKETS];	/* not cumulative */
	_Atomic uint64_t sum_us;
};

struct worker_stats {
	_Atomic int64_t conns;		/* open now */
	_Atomic uint64_t cap_hits;	/* listener paused at the cap */
	struct route_stats *routes;	/* nroutes + 1 (unmatched) */
};

struct zt_conn;

struct zt_worker {
	zt_http *srv;
	int index;
	pthread_t thread;
	bool started;			/* the thread exists; join it */
	int ready;			/* 1 ok, -1 init failed, 0 not yet */
	void *ctx;			/* from zt_worker_init */

	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct evconnlistener *lev;	/* borrowed from `bound` */
	struct event *stop_ev;		/* fired by zt_http_stop */
	struct event *finish_ev;	/* ends the drain on this thread */
	struct event *grace_ev;		/* the drain's deadline */
	struct event *adopt_ev;		/* see conn.c */
	struct event *resume_ev;	/* after an accept error */

	/* Connections: see conn.c for the whole story. */
	struct zt_conn *adopt;		/* accepted, not yet adopted */
	struct zt_conn **table;		/* keyed by bufferevent */
	size_t table_mask;
	int nconn;
	int maxconn;
	bool paused_cap;		/* listener off: at the cap */
	bool paused_err;		/* listener off: accept failed */
	int64_t cap_logged_us;		/* last cap warning */
	const struct timeval *deadline_tv; /* common timeout: O(1) re-arm */
	int busy;			/* dispatched, not yet flushed */
	bool draining;
	struct zt_later *later;		/* zt_http_later queue */
	struct event *later_ev;		/* runs it */

	char rid_prefix[16];		/* random, per worker */
	uint64_t rid_seq;

	struct worker_stats stats;
};

enum srv_state { SRV_NEW, SRV_RUNNING, SRV_STOPPING, SRV_STOPPED };

struct zt_http {
	zt_http_config cfg;		/* strings: the copies below */
	char *listen, *tls_cert, *tls_key, *tls_client_ca;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int port;

	zt_router *router;
	struct zt_route *routes;
	int nroutes, routes_cap;
	bool any_private;		/* a route needs the auth hook */

	SSL_CTX *ssl;
	struct zt_worker *workers;
	int nworkers;

	pthread_mutex_t lock;		/* state, ready count, go */
	pthread_cond_t cond;
	enum srv_state state;
	int nready;
	int go;				/* 1 serve, -1 give up, 0 wait */
	atomic_int grace_ms;
	pthread_mutex_t join_lock;	/* whoever joins the workers */
	bool joined;
};

struct zt_req {
	struct evhttp_request *ev;	/* NULL once the reply is sent */
	struct zt_worker *w;
	struct zt_conn *conn;		/* NULL if untracked */
	struct bufferevent *bev;
	enum zt_method method;
	int route;			/* index into srv->routes, or -1 */
	unsigned flags;			/* the route's ZT_ROUTE_* */
	char *path;			/* decoded: pathbuf or heap */
	size_t pathlen;
	zt_route_match m;
	struct evkeyvalq query;
	bool query_parsed;
	bool query_bad;		/* the query string did not parse */
	bool replied;
	bool deferred;			/* on the heap: see zt_req_defer */
	int status;
	size_t bytes;			/* body bytes of the reply */
	const char *body;		/* pulled-up input, NUL-terminated */
	size_t bodylen;
	void *user;
	int64_t t0_us;
	char id[HTTP_RID_MAX + 1];
	char peer[64];
	char pathbuf[HTTP_PATH_INLINE];
};

/* server.c: the worker this thread runs, or NULL */
extern _Thread_local struct zt_worker *http_worker;

/* conn.c */
struct bufferevent *conn_new_bev(struct event_base *base, void *arg);
int conn_worker_init(struct zt_worker *w);
void conn_worker_fini(struct zt_worker *w);
struct zt_conn *conn_find(struct zt_worker *w, struct bufferevent *bev);
void conn_request_begin(struct zt_conn *c, struct evhttp_request *ev);
void conn_listener_error(struct evconnlistener *lev, void *arg);
void conn_listener_update(struct zt_worker *w);

/* request.c */
void req_dispatch(struct evhttp_request *ev, void *arg);
void req_new_id(struct zt_worker *w, char *out);
void req_deferred_done(zt_req *req);
void later_run(struct zt_worker *w);
void later_fini(struct zt_worker *w);

/* reply.c */
const char *http_status_title(int status);
int reply_refusal(struct evbuffer *out, int status, const char *code,
    const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* server.c */
void srv_drain_check(struct zt_worker *w);

/* metrics.c */
int metrics_worker_init(struct zt_worker *w, int nroutes);
void metrics_worker_fini(struct zt_worker *w);
void metrics_record(struct zt_worker *w, int route, int status,
    int64_t us);
void metrics_conns(struct zt_worker *w, int delta);

/* tls.c */
int tls_ctx_new(SSL_CTX **out, const zt_http_config *cfg);
struct bufferevent *tls_bev_new(struct event_base *base, SSL_CTX *ctx);
X509 *tls_peer_cert(struct bufferevent *bev);
bool tls_is_tls(struct bufferevent *bev);

#endif
