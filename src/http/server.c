/*
 * The server's life: configuration, routes, worker threads and their
 * listeners, start-up and the graceful stop.
 *
 * zt_http_start binds every worker's listening socket on the calling
 * thread, so that a bad address or a port in use is an error from start
 * rather than from a thread.  All workers bind the same address with
 * SO_REUSEPORT; with port 0 the first picks a port and the rest take the
 * same one.  Each thread then runs the application's worker_init, and
 * only when every worker has succeeded do they all start serving; if one
 * fails, none serves and start returns the error.
 *
 * The stop: zt_http_stop fires each worker's stop event (thread-safe: the
 * bases have locks since evthread_use_pthreads).  On its own thread the
 * worker closes its listener and starts draining: replies now carry
 * "Connection: close", and once no dispatched reply is waiting to be
 * flushed, or grace_ms has passed, evhttp_free closes every connection
 * left (idle keep-alive ones, and requests still arriving) and the loop
 * ends.  Whoever joins the threads first (zt_http_stop or zt_http_wait)
 * does it under a lock, so both may be called, from different threads.
 */
#include <sys/socket.h>
#include <sys/resource.h>
#include <netdb.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "http/http_int.h"

/* One thread per core; a number above this is a typo, not a machine. */
#define SRV_MAX_WORKERS 256
/* Routes of one server: ztiam has a few dozen. */
#define SRV_MAX_ROUTES 1024
/* Connections are file descriptors; more than this needs a rethink, not
 * a bigger number. */
#define SRV_MAX_CONNECTIONS (1 << 20)
/* A header block beyond this is an attack, not a request. */
#define SRV_MAX_HEADER_BYTES (1024 * 1024)
/* A body is held whole in memory while its handler runs; past this, a
 * setting is a typo and many at once would exhaust memory. */
#define SRV_MAX_BODY_BYTES (64 * 1024 * 1024)
/* Pending connections per listener in the kernel: absorbs a burst of
 * connects (the kernel caps it at net.core.somaxconn). */
#define SRV_BACKLOG 1024

/* Defaults: headers room for long bearer tokens; bodies are small JSON;
 * connections enough for a large fleet of keep-alive clients at a few KiB
 * each; idle time longer than client pools keep a connection unused, yet
 * short enough to free the slots of clients that went away. */
#define DEFAULT_HEADER_BYTES	(16 * 1024)
#define DEFAULT_BODY_BYTES	(1024 * 1024)
#define DEFAULT_CONNECTIONS	4096
#define DEFAULT_IDLE_S		60

static pthread_once_t srv_once = PTHREAD_ONCE_INIT;

_Thread_local struct zt_worker *http_worker;

/* libevent's own warnings ("accept: too many open files") into our log. */
static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_error("libevent", ZS("detail", msg));
	else if (severity == EVENT_LOG_WARN)
		log_warn("libevent", ZS("detail", msg));
	else
		log_debug("libevent", ZS("detail", msg));
}

static void
srv_global_init(void)
{
	evthread_use_pthreads();
	event_set_log_callback(libevent_log);
}

/* ---- configuration ----------------------------------------------------- */

static int
dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (s != NULL && (*out = strdup(s)) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	return ZT_OK;
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (every address). */
static int
parse_listen(zt_http *srv, const char *listen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai;
	char host[256];
	const char *port, *end;
	size_t hlen;
	int64_t pnum;
	int rc;

	if (listen == NULL || *listen == '\0')
		return zt_error_set(ZT_EINVAL, "no listen address");
	if (listen[0] == '[') {
		if ((end = strchr(listen, ']')) == NULL || end[1] != ':')
			return zt_error_set(ZT_EINVAL, "bad listen address");
		listen++;
		port = end + 2;
	} else {
		if ((end = strrchr(listen, ':')) == NULL)
			return zt_error_set(ZT_EINVAL, "listen address needs "
			    ":PORT");
		port = end + 1;
	}
	if ((hlen = (size_t)(end - listen)) >= sizeof(host))
		return zt_error_set(ZT_EINVAL, "listen host too long");
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	if (zt_parse_i64(port, 0, 65535, &pnum) < 0)
		return zt_error_set(ZT_EINVAL, "bad listen port");

	rc = getaddrinfo(hlen ? host : NULL, port, &hints, &ai);
	if (rc != 0)
		return zt_error_set(ZT_EINVAL, "listen address %s: %s", host,
		    gai_strerror(rc));
	memcpy(&srv->addr, ai->ai_addr, ai->ai_addrlen);
	srv->addrlen = ai->ai_addrlen;
	srv->port = (int)pnum;
	freeaddrinfo(ai);
	return ZT_OK;
}

static int
cfg_check(zt_http_config *c)
{
	long cores;

	if (c->workers == 0) {
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = cores > 0 ? (int)cores : 1;
	}
	if (c->workers > SRV_MAX_WORKERS)
		c->workers = SRV_MAX_WORKERS;
	if (c->max_header_bytes == 0)
		c->max_header_bytes = DEFAULT_HEADER_BYTES;
	if (c->max_body_bytes == 0)
		c->max_body_bytes = DEFAULT_BODY_BYTES;
	if (c->max_connections == 0)
		c->max_connections = DEFAULT_CONNECTIONS;
	if (c->idle_timeout_s == 0)
		c->idle_timeout_s = DEFAULT_IDLE_S;
	if (c->workers < 0 || c->max_connections < 0 ||
	    c->max_connections > SRV_MAX_CONNECTIONS || c->idle_timeout_s < 0 ||
	    c->max_header_bytes > SRV_MAX_HEADER_BYTES ||
	    c->max_body_bytes > SRV_MAX_BODY_BYTES)
		return zt_error_set(ZT_EINVAL, "negative or huge server limit");
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return zt_error_set(ZT_EINVAL, "TLS needs both a certificate "
		    "and a key");
	if (c->tls_client_ca != NULL && c->tls_cert == NULL)
		return zt_error_set(ZT_EINVAL, "a client CA needs TLS");
	return ZT_OK;
}

int
zt_http_new(zt_http **out, const zt_http_config *cfg)
{
	zt_http *srv;
	int err;

	*out = NULL;
	pthread_once(&srv_once, srv_global_init);
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->join_lock, NULL);
	pthread_cond_init(&srv->cond, NULL);
	srv->cfg = *cfg;
	if ((err = dup_opt(&srv->listen, cfg->listen)) < 0 ||
	    (err = dup_opt(&srv->tls_cert, cfg->tls_cert)) < 0 ||
	    (err = dup_opt(&srv->tls_key, cfg->tls_key)) < 0 ||
	    (err = dup_opt(&srv->tls_client_ca, cfg->tls_client_ca)) < 0)
		goto fail;
	srv->cfg.listen = srv->listen;
	srv->cfg.tls_cert = srv->tls_cert;
	srv->cfg.tls_key = srv->tls_key;
	srv->cfg.tls_client_ca = srv->tls_client_ca;
	if ((err = cfg_check(&srv->cfg)) < 0 ||
	    (err = parse_listen(srv, srv->listen)) < 0 ||
	    (err = zt_router_new(&srv->router)) < 0)
		goto fail;
	*out = srv;
	return ZT_OK;

fail:
	zt_http_free(srv);
	return err;
}

int
zt_http_route(zt_http *srv, unsigned methods, const char *pattern,
    zt_handler fn, const char *name, unsigned flags)
{
	struct zt_route *r;
	int err;

	if (srv->state != SRV_NEW || fn == NULL || name == NULL)
		return zt_error_set(ZT_EINVAL, "routes are added before start, "
		    "with a handler and a name");
	if (srv->nroutes == SRV_MAX_ROUTES)
		return zt_error_set(ZT_ETOOBIG, "more than %d routes",
		    SRV_MAX_ROUTES);
	/* HEAD is answered wherever GET is. */
	if (methods & ZT_GET)
		methods |= ZT_HEAD;
	if (srv->nroutes == srv->routes_cap) {
		int cap = srv->routes_cap ? srv->routes_cap * 2 : 16;

		if ((r = realloc(srv->routes, (size_t)cap * sizeof(*r))) ==
		    NULL)
			return zt_error_set(ZT_ENOMEM, "out of memory");
		srv->routes = r;
		srv->routes_cap = cap;
	}
	r = &srv->routes[srv->nroutes];
	memset(r, 0, sizeof(*r));
	if ((r->pattern = strdup(pattern ? pattern : "")) == NULL ||
	    (r->name = strdup(name)) == NULL) {
		free(r->pattern);
		return zt_error_set(ZT_ENOMEM, "out of memory");
	}
	if ((err = zt_router_add(srv->router, methods, pattern,
	    srv->nroutes)) < 0) {
		free(r->pattern);
		free(r->name);
		return err;
	}
	r->fn = fn;
	r->methods = methods;
	r->flags = flags;
	if (!(flags & ZT_ROUTE_PUBLIC))
		srv->any_private = true;
	srv->nroutes++;
	return ZT_OK;
}

int
zt_http_port(const zt_http *srv)
{
	return srv->port;
}

/* ---- workers ----------------------------------------------------------- */

void
srv_drain_check(struct zt_worker *w)
{
	if (w->draining && w->busy <= 0)
		event_active(w->finish_ev, 0, 0);
}

static void
finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zt_worker *w = arg;

	/* Deferred requests are answered while their connections live. */
	later_run(w);
	if (w->http != NULL) {
		/* Closes every connection left; their close callbacks run. */
		evhttp_free(w->http);
		w->http = NULL;
	}
	event_base_loopexit(w->base, NULL);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zt_worker *w = arg;
	int ms = atomic_load(&w->srv->grace_ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (w->draining)
		return;
	w->draining = true;
	if (w->bound != NULL) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
		w->lev = NULL;
	}
	evtimer_add(w->grace_ev, &tv);
	srv_drain_check(w);
}

static int
worker_http(struct zt_worker *w)
{
	const zt_http_config *c = &w->srv->cfg;

	if ((w->http = evhttp_new(w->base)) == NULL)
		return zt_error_set(ZT_ENOMEM, "cannot create evhttp");
	evhttp_set_allowed_methods(w->http, HTTP_METHODS);
	evhttp_set_max_headers_size(w->http, (ev_ssize_t)c->max_header_bytes);
	evhttp_set_max_body_size(w->http, (ev_ssize_t)c->max_body_bytes);
	evhttp_set_timeout(w->http, c->idle_timeout_s);
	/* A body sent without a type must not be taken for HTML. */
	evhttp_set_default_content_type(w->http, "application/octet-stream");
	evhttp_set_gencb(w->http, req_dispatch, w);
	evhttp_set_bevcb(w->http, conn_new_bev, w);
	return ZT_OK;
}

/*
 * A worker's event base, with epoll's change list: evhttp stops reading a
 * connection while it writes a reply and reads again after, which is an
 * epoll_ctl pair per request; with the change list the two cancel within
 * one loop turn and no system call is made.  (libevent's warning about
 * the change list concerns file descriptors shared through dup(), which
 * the server never makes.)  Other back ends ignore the flag.
 */
static struct event_base *
worker_base(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* Everything a worker needs before its thread runs: done on the starting
 * thread, which is safe because the base is not yet looping. */
static int
worker_setup(struct zt_worker *w)
{
	zt_http *srv = w->srv;
	int err;

	w->maxconn = srv->cfg.max_connections / srv->nworkers;
	if (w->maxconn < 1)
		w->maxconn = 1;
	if ((w->base = worker_base()) == NULL)
		return zt_error_set(ZT_ENOMEM, "cannot create an event base");
	w->stop_ev = event_new(w->base, -1, 0, stop_cb, w);
	w->finish_ev = event_new(w->base, -1, 0, finish_cb, w);
	w->grace_ev = evtimer_new(w->base, finish_cb, w);
	if (w->stop_ev == NULL || w->finish_ev == NULL || w->grace_ev == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	if ((err = conn_worker_init(w)) < 0 ||
	    (err = metrics_worker_init(w, srv->nroutes)) < 0 ||
	    (err = worker_http(w)) < 0 ||
	    (err = zt_random_id(w->rid_prefix, sizeof(w->rid_prefix), 9)) < 0)
		return err;
	return ZT_OK;
}

static void
set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static int
get_port(evutil_socket_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * SO_REUSEPORT lets every worker bind the address, but it would also let
 * a second ztiam (same user) join in and silently take half the traffic.
 * So before the workers bind a fixed port, a plain bind without
 * SO_REUSEPORT checks that nobody listens there yet.
 */
static int
port_probe(const zt_http *srv)
{
	int fd, one = 1, err = ZT_OK;

	if (srv->port == 0)
		return ZT_OK;
	fd = socket(srv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return zt_error_set(ZT_ERR, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&srv->addr, srv->addrlen) < 0)
		err = zt_error_set(ZT_ERR, "cannot listen on %s: %s",
		    srv->listen, strerror(errno));
	close(fd);
	return err;
}

/* Binds worker `w`'s listener to the server's address; the first to bind
 * port 0 fixes the port for the others. */
static int
worker_bind(struct zt_worker *w)
{
	zt_http *srv = w->srv;
	unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;

	set_port(&srv->addr, srv->port);
	w->lev = evconnlistener_new_bind(w->base, NULL, NULL, flags,
	    SRV_BACKLOG, (struct sockaddr *)&srv->addr, (int)srv->addrlen);
	if (w->lev == NULL)
		return zt_error_set(ZT_ERR, "cannot listen on %s: %s",
		    srv->listen, strerror(errno));
	evconnlistener_set_error_cb(w->lev, conn_listener_error);
	if ((w->bound = evhttp_bind_listener(w->http, w->lev)) == NULL) {
		evconnlistener_free(w->lev);
		w->lev = NULL;
		return zt_error_set(ZT_ENOMEM, "cannot bind evhttp");
	}
	if (srv->port == 0 &&
	    (srv->port = get_port(evconnlistener_get_fd(w->lev))) <= 0)
		return zt_error_set(ZT_ERR, "cannot read the bound port");
	return ZT_OK;
}

static void
worker_teardown(struct zt_worker *w)
{
	later_fini(w);
	if (w->http != NULL) {
		evhttp_free(w->http);
		w->http = NULL;
	}
	w->bound = NULL;
	w->lev = NULL;
	conn_worker_fini(w);
}

static void *
worker_main(void *arg)
{
	struct zt_worker *w = arg;
	zt_http *srv = w->srv;
	bool ok = true;
	int go;

	http_worker = w;
	if (srv->cfg.worker_init != NULL) {
		w->ctx = srv->cfg.worker_init(srv->cfg.app, w->index);
		ok = w->ctx != NULL;
	}
	pthread_mutex_lock(&srv->lock);
	w->ready = ok ? 1 : -1;
	srv->nready++;
	pthread_cond_broadcast(&srv->cond);
	while (srv->go == 0)
		pthread_cond_wait(&srv->cond, &srv->lock);
	go = srv->go;
	pthread_mutex_unlock(&srv->lock);

	if (ok && go > 0)
		event_base_dispatch(w->base);
	worker_teardown(w);
	if (ok && srv->cfg.worker_fini != NULL)
		srv->cfg.worker_fini(srv->cfg.app, w->ctx);
	zt_log_set_request_id(NULL);
	http_worker = NULL;
	return NULL;
}

/* Waits for every started worker to report; returns how many failed. */
static int
wait_ready(zt_http *srv, int started)
{
	int i, failed = 0;

	pthread_mutex_lock(&srv->lock);
	while (srv->nready < started)
		pthread_cond_wait(&srv->cond, &srv->lock);
	for (i = 0; i < started; i++)
		if (srv->workers[i].ready < 0)
			failed++;
	srv->go = (failed || started < srv->nworkers) ? -1 : 1;
	if (srv->go > 0)
		srv->state = SRV_RUNNING;
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
	return failed;
}

static int
spawn_workers(zt_http *srv)
{
	struct zt_worker *w;
	int i, failed, err = ZT_OK;

	for (i = 0; i < srv->nworkers; i++) {
		w = &srv->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			err = zt_error_set(ZT_ERR, "cannot create a thread");
			break;
		}
		w->started = true;
	}
	failed = wait_ready(srv, i);
	if (err == ZT_OK && failed > 0)
		err = zt_error_set(ZT_ERR, "%d of %d workers failed to start",
		    failed, srv->nworkers);
	if (err < 0) {
		for (i = 0; i < srv->nworkers; i++)
			if (srv->workers[i].started)
				pthread_join(srv->workers[i].thread, NULL);
		srv->joined = true;
		srv->state = SRV_STOPPED;
	}
	return err;
}

/* Warns when the cap cannot be reached for want of file descriptors. */
static void
check_nofile(const zt_http *srv)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
	    RLIM_INFINITY && (rlim_t)srv->cfg.max_connections + 64 >
	    rl.rlim_cur)
		log_warn("max_connections is above the open-file limit",
		    ZI("max_connections", srv->cfg.max_connections),
		    ZI("nofile", (long long)rl.rlim_cur));
}

int
zt_http_start(zt_http *srv)
{
	struct sigaction sa;
	int i, err;

	if (srv->state != SRV_NEW)
		return zt_error_set(ZT_EINVAL, "server already started");
	if (srv->any_private && srv->cfg.auth == NULL)
		return zt_error_set(ZT_EINVAL, "a non-public route needs an "
		    "auth hook");
	/* A write to a closed socket must be an error, not the end of us. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	check_nofile(srv);
	if (srv->cfg.tls_cert != NULL &&
	    (err = tls_ctx_new(&srv->ssl, &srv->cfg)) < 0)
		return err;

	if ((err = port_probe(srv)) < 0)
		return err;
	srv->nworkers = srv->cfg.workers;
	srv->workers = calloc((size_t)srv->nworkers, sizeof(*srv->workers));
	if (srv->workers == NULL)
		return zt_error_set(ZT_ENOMEM, "out of memory");
	for (i = 0; i < srv->nworkers; i++) {
		srv->workers[i].srv = srv;
		srv->workers[i].index = i;
		if ((err = worker_setup(&srv->workers[i])) < 0 ||
		    (err = worker_bind(&srv->workers[i])) < 0)
			goto fail;
	}
	if ((err = spawn_workers(srv)) < 0)
		return err;
	log_info("http server listening", ZS("listen", srv->listen),
	    ZI("port", srv->port), ZI("workers", srv->nworkers),
	    ZB("tls", srv->ssl != NULL));
	return ZT_OK;

fail:
	/* No thread runs yet; zt_http_free undoes the rest. */
	for (i = 0; i < srv->nworkers; i++)
		worker_teardown(&srv->workers[i]);
	srv->state = SRV_STOPPED;
	srv->joined = true;
	return err;
}

/* ---- stopping ---------------------------------------------------------- */

static bool
on_worker_thread(const zt_http *srv)
{
	int i;

	for (i = 0; i < srv->nworkers; i++)
		if (srv->workers[i].started &&
		    pthread_equal(srv->workers[i].thread, pthread_self()))
			return true;
	return false;
}

void
zt_http_stop(zt_http *srv, int grace_ms)
{
	int i;

	pthread_mutex_lock(&srv->lock);
	if (srv->state == SRV_RUNNING) {
		srv->state = SRV_STOPPING;
		atomic_store(&srv->grace_ms, grace_ms > 0 ? grace_ms : 0);
		for (i = 0; i < srv->nworkers; i++)
			event_active(srv->workers[i].stop_ev, 0, 0);
	}
	pthread_mutex_unlock(&srv->lock);
	/* A handler asking for a stop cannot wait for its own thread. */
	if (!on_worker_thread(srv))
		zt_http_wait(srv);
}

void
zt_http_wait(zt_http *srv)
{
	int i;

	pthread_mutex_lock(&srv->join_lock);
	if (!srv->joined && srv->state != SRV_NEW) {
		for (i = 0; i < srv->nworkers; i++)
			if (srv->workers[i].started)
				pthread_join(srv->workers[i].thread, NULL);
		srv->joined = true;
		pthread_mutex_lock(&srv->lock);
		srv->state = SRV_STOPPED;
		pthread_mutex_unlock(&srv->lock);
	}
	pthread_mutex_unlock(&srv->join_lock);
}

static void
worker_free(struct zt_worker *w)
{
	worker_teardown(w);
	metrics_worker_fini(w);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->finish_ev != NULL)
		event_free(w->finish_ev);
	if (w->grace_ev != NULL)
		event_free(w->grace_ev);
	/* Runs the finalizers of bufferevents freed in the last loop turn. */
	if (w->base != NULL)
		event_base_free(w->base);
}

void
zt_http_free(zt_http *srv)
{
	int i;

	if (srv == NULL)
		return;
	if (srv->state == SRV_RUNNING || srv->state == SRV_STOPPING)
		zt_http_stop(srv, 0);
	for (i = 0; i < srv->nworkers; i++)
		worker_free(&srv->workers[i]);
	free(srv->workers);
	for (i = 0; i < srv->nroutes; i++) {
		free(srv->routes[i].pattern);
		free(srv->routes[i].name);
	}
	free(srv->routes);
	zt_router_free(srv->router);
	if (srv->ssl != NULL)
		SSL_CTX_free(srv->ssl);
	free(srv->listen);
	free(srv->tls_cert);
	free(srv->tls_key);
	free(srv->tls_client_ca);
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->join_lock);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
