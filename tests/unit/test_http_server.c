/*
 * Tests of the HTTP server as clients see it: a zt_http on 127.0.0.1,
 * port 0, two workers, in this process, spoken to over real sockets with
 * raw HTTP/1.1 (and OpenSSL for the TLS cases), so what is checked is
 * what goes over the wire: request ids, problem documents, limits, the
 * auth hook, routing, HEAD, metrics, the connection cap, the request
 * deadline, the graceful stop, and mutual TLS.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http/http.h"

/* Small limits, so the over-limit cases stay small. */
#define T_MAX_HEADER	2048
#define T_MAX_BODY	4096
/* A client gives up on a silent server after this long. */
#define T_IO_TIMEOUT_MS	5000

static zt_http *srv;
static atomic_int auth_calls;

/* ---- handlers ---------------------------------------------------------- */

static bool
auth(zt_req *req)
{
	const char *h = zt_req_header(req, "Authorization");

	atomic_fetch_add(&auth_calls, 1);
	if (h != NULL && strcmp(h, "Bearer good") == 0) {
		zt_req_set_user(req, (void *)"alice");
		return true;
	}
	zt_reply_problem(req, 401, "unauthorized", "a token is required");
	return false;
}

static void
h_ping(zt_req *req)
{
	zt_reply_json(req, 200, json_pack("{s:b, s:s?}", "ok", 1, "user",
	    (const char *)zt_req_user(req)));
}

static void
h_item(zt_req *req)
{
	zt_reply_json(req, 200, json_pack("{s:s, s:s?, s:s}",
	    "id", zt_req_param(req, "id"), "x", zt_req_query(req, "x"),
	    "route", zt_req_route(req)));
}

static void
h_create(zt_req *req)
{
	json_t *doc = zt_req_json(req);

	if (doc != NULL)
		zt_reply_json(req, 201, doc);
}

static void
h_error(zt_req *req)
{
	const char *kind = zt_req_param(req, "kind");

	if (strcmp(kind, "busy") == 0)
		zt_error_set(ZT_EBUSY, "database is locked");
	else if (strcmp(kind, "missing") == 0)
		zt_error_set(ZT_ENOTFOUND, "no such widget");
	else
		zt_error_set(ZT_ERR, "secret internals at 10.1.2.3");
	zt_reply_error(req, zt_error_code());
}

static void
h_noreply(zt_req *req)
{
}

static void
h_metrics(zt_req *req)
{
	zt_buf out = ZT_BUF_INIT(1 << 20);

	zt_http_metrics(srv, &out);
	zt_reply(req, 200, "text/plain; version=0.0.4", out.data, out.len);
	zt_buf_free(&out);
}

/* A reply far larger than the socket buffers, to keep a write pending. */
#define BIG_REPLY (16 * 1024 * 1024)

static void
h_big(zt_req *req)
{
	char *body = malloc(BIG_REPLY);

	memset(body, 'x', BIG_REPLY);
	zt_reply(req, 200, "text/plain", body, BIG_REPLY);
	free(body);
}

static void
h_cert(zt_req *req)
{
	X509 *cert = zt_req_peer_cert(req);
	char cn[128];

	if (cert == NULL) {
		zt_reply_problem(req, 403, "no_certificate", "no client "
		    "certificate");
		return;
	}
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn));
	zt_reply_json(req, 200, json_pack("{s:s, s:b}", "cn", cn, "tls",
	    zt_req_is_tls(req)));
}

/* Deferred replies: /defer/{id} answers from a zt_http_later callback,
 * after its handler returned; /hold/{id} is answered only when a request
 * to /release comes, on whatever worker that is (each worker keeps its
 * own held requests, so the test sends /release on every worker's
 * connections until the held one is answered or its peer is gone). */
#define HELD_MAX 64

struct deferred {
	zt_later later;
	zt_req *req[HELD_MAX];
	int n;
};

static _Thread_local struct deferred defer_q, held_q;

static void
answer_deferred(void *arg)
{
	struct deferred *q = arg;
	int i, n = q->n;

	q->n = 0;
	for (i = 0; i < n; i++)
		zt_reply_json(q->req[i], 200, json_pack("{s:s, s:s?, s:b}",
		    "id", zt_req_param(q->req[i], "id"),
		    "x", zt_req_header(q->req[i], "X-T"),
		    "deferred", 1));
}

static void
h_defer(zt_req *req)
{
	zt_req *d;

	if (defer_q.n == HELD_MAX || (d = zt_req_defer(req)) == NULL) {
		zt_reply_problem(req, 503, "busy", "cannot defer");
		return;
	}
	defer_q.req[defer_q.n++] = d;
	defer_q.later.fn = answer_deferred;
	defer_q.later.arg = &defer_q;
	zt_http_later(d, &defer_q.later);
	/* Deferral is once only. */
	assert_null(zt_req_defer(req));
}

static void
h_hold(zt_req *req)
{
	zt_req *d;

	if (held_q.n == HELD_MAX || (d = zt_req_defer(req)) == NULL) {
		zt_reply_problem(req, 503, "busy", "cannot hold");
		return;
	}
	held_q.req[held_q.n++] = d;
}

static void
h_release(zt_req *req)
{
	int n = held_q.n;

	answer_deferred(&held_q);
	zt_reply_json(req, 200, json_pack("{s:i}", "released", n));
}

static int
add_routes(zt_http *s)
{
	int err;

	if ((err = zt_http_route(s, ZT_GET, "/public/ping", h_ping,
	    "public.ping", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/private/ping", h_ping,
	    "private.ping", 0)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/items/{id}", h_item,
	    "items.get", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_POST, "/items", h_create,
	    "items.create", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/error/{kind}", h_error,
	    "error", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/noreply", h_noreply,
	    "noreply", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/metrics", h_metrics,
	    "metrics", ZT_ROUTE_PUBLIC | ZT_ROUTE_NOLOG)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/cert", h_cert,
	    "cert", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/big", h_big,
	    "big", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/defer/{id}", h_defer,
	    "defer", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/hold/{id}", h_hold,
	    "hold", ZT_ROUTE_PUBLIC)) < 0 ||
	    (err = zt_http_route(s, ZT_GET, "/release", h_release,
	    "release", ZT_ROUTE_PUBLIC)) < 0)
		return err;
	return ZT_OK;
}

static zt_http *
start_server(zt_http_config *cfg)
{
	zt_http *s;

	cfg->listen = cfg->listen ? cfg->listen : "127.0.0.1:0";
	cfg->workers = cfg->workers ? cfg->workers : 2;
	cfg->auth = auth;
	if (zt_http_new(&s, cfg) != ZT_OK)
		fail_msg("zt_http_new: %s", zt_error_msg());
	if (add_routes(s) != ZT_OK || zt_http_start(s) != ZT_OK)
		fail_msg("start: %s", zt_error_msg());
	return s;
}

/* ---- a tiny HTTP client ------------------------------------------------ */

struct conn {
	int fd;
	SSL *ssl;
	char buf[80000];	/* read, not yet consumed */
	size_t have;
};

struct resp {
	int status;
	char head[8192];	/* status line and headers */
	char body[65536];
	size_t bodylen;
	json_t *json;		/* the body, if it parsed */
};

static int
tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { T_IO_TIMEOUT_MS / 1000, 0 };
	int fd;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void
plain_connect(struct conn *c)
{
	c->fd = tcp_connect(zt_http_port(srv));
	c->ssl = NULL;
	c->have = 0;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	close(c->fd);
	c->ssl = NULL;
}

static ssize_t
conn_read(struct conn *c, void *buf, size_t n)
{
	int r;

	if (c->ssl == NULL)
		return read(c->fd, buf, n);
	r = SSL_read(c->ssl, buf, (int)n);
	return r > 0 ? r : (SSL_get_error(c->ssl, r) ==
	    SSL_ERROR_ZERO_RETURN ? 0 : -1);
}

static void
conn_write(struct conn *c, const char *buf, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = c->ssl ? SSL_write(c->ssl, buf, (int)n) :
		    write(c->fd, buf, n);
		if (w <= 0)
			return;	/* hung up; reading will tell */
		buf += w;
		n -= (size_t)w;
	}
}

static const char *
header(const struct resp *r, const char *name)
{
	static char value[1024];
	const char *p = r->head, *end;
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			end = strstr(p, "\r\n");
			snprintf(value, sizeof(value), "%.*s",
			    (int)(end ? end - p : (ptrdiff_t)strlen(p)), p);
			return value;
		}
	}
	return NULL;
}

/* Reads one response; -1 if the connection ended (or timed out) before a
 * whole one.  HEAD responses have no body whatever Content-Length says.
 * Bytes past the response stay in the connection for the next call. */
static int
read_response(struct conn *c, struct resp *r, bool head_req)
{
	char *eoh;
	size_t hlen, want, need;
	const char *cl;
	ssize_t n;

	memset(r, 0, offsetof(struct resp, head));
	r->head[0] = '\0';
	r->bodylen = 0;
	r->json = NULL;
	for (;;) {
		c->buf[c->have] = '\0';
		if ((eoh = strstr(c->buf, "\r\n\r\n")) != NULL)
			break;
		if (c->have + 1 >= sizeof(c->buf) || (n = conn_read(c,
		    c->buf + c->have, sizeof(c->buf) - 1 - c->have)) <= 0)
			return -1;
		c->have += (size_t)n;
	}
	hlen = (size_t)(eoh - c->buf) + 2;
	if (hlen >= sizeof(r->head) || strncmp(c->buf, "HTTP/1.", 7) != 0)
		return -1;
	memcpy(r->head, c->buf, hlen);
	r->head[hlen] = '\0';
	r->status = (int)strtol(c->buf + 9, NULL, 10);
	cl = header(r, "Content-Length");
	want = head_req || cl == NULL ? 0 : strtoul(cl, NULL, 10);
	assert_true(want < sizeof(r->body));
	need = hlen + 2 + want;
	assert_true(need < sizeof(c->buf));
	while (c->have < need) {
		if ((n = conn_read(c, c->buf + c->have,
		    sizeof(c->buf) - 1 - c->have)) <= 0)
			return -1;
		c->have += (size_t)n;
	}
	memcpy(r->body, c->buf + hlen + 2, want);
	r->body[want] = '\0';
	r->bodylen = want;
	memmove(c->buf, c->buf + need, c->have - need);
	c->have -= need;
	r->json = json_loadb(r->body, r->bodylen, 0, NULL);
	return 0;
}

static void
resp_free(struct resp *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* True if the server closes `c` within `ms` without sending anything. */
static bool
closed_within(struct conn *c, int ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char b[256];

	if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
		return false;
	if (poll(&p, 1, ms) != 1)
		return false;
	return conn_read(c, b, sizeof(b)) <= 0;
}

/* Sends `raw` on a new connection and reads one response into `r`. */
static int
roundtrip(const char *raw, struct resp *r)
{
	static struct conn c;
	int rc;

	plain_connect(&c);
	conn_write(&c, raw, strlen(raw));
	rc = read_response(&c, r, strncmp(raw, "HEAD ", 5) == 0);
	conn_close(&c);
	return rc;
}

static void
resp_get(struct resp *r, const char *path)
{
	char raw[1024];

	snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	assert_int_equal(roundtrip(raw, r), 0);
}

static const char *
jstr(const struct resp *r, const char *key)
{
	return json_string_value(json_object_get(r->json, key));
}

static bool
rid_ok(const char *s)
{
	size_t n = s ? strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ0123456789._-") : 0;

	return s != NULL && n > 0 && n <= 64 && s[n] == '\0';
}

/* A problem document with the given status and code, whose request id
 * is the X-Request-Id header's. */
static void
assert_problem(const struct resp *r, int status, const char *code)
{
	char type[128];

	assert_int_equal(r->status, status);
	assert_string_equal(header(r, "Content-Type"),
	    "application/problem+json");
	assert_non_null(r->json);
	snprintf(type, sizeof(type), "urn:ztiam:problem:%s", code);
	assert_string_equal(jstr(r, "type"), type);
	assert_string_equal(jstr(r, "code"), code);
	assert_int_equal(json_integer_value(json_object_get(r->json,
	    "status")), status);
	assert_non_null(jstr(r, "title"));
	assert_string_equal(jstr(r, "request_id"), header(r, "X-Request-Id"));
	assert_string_equal(header(r, "Cache-Control"), "no-store");
	assert_string_equal(header(r, "X-Content-Type-Options"), "nosniff");
}

/* ---- the shared server ------------------------------------------------- */

static int
group_setup(void **state)
{
	zt_http_config cfg = {
		.max_header_bytes = T_MAX_HEADER,
		.max_body_bytes = T_MAX_BODY,
	};

	zt_log_setup(ZT_LOG_WARN, ZT_LOG_LOGFMT, 2);
	srv = start_server(&cfg);
	return 0;
}

static int
group_teardown(void **state)
{
	zt_http_stop(srv, 1000);
	zt_http_free(srv);
	srv = NULL;
	return 0;
}

/* ---- request ids ------------------------------------------------------- */

static void
test_http_server__request_id_generated(void **state)
{
	struct resp a, b;
	char first[80];

	resp_get(&a, "/public/ping");
	assert_int_equal(a.status, 200);
	assert_true(rid_ok(header(&a, "X-Request-Id")));
	snprintf(first, sizeof(first), "%s", header(&a, "X-Request-Id"));
	resp_get(&b, "/public/ping");
	assert_true(rid_ok(header(&b, "X-Request-Id")));
	assert_string_not_equal(first, header(&b, "X-Request-Id"));
	assert_string_equal(header(&a, "Content-Type"), "application/json");
	assert_string_equal(header(&a, "Cache-Control"), "no-store");
	assert_string_equal(header(&a, "X-Content-Type-Options"), "nosniff");
	resp_free(&a);
	resp_free(&b);
}

static void
test_http_server__request_id_from_client(void **state)
{
	struct resp r;

	assert_int_equal(roundtrip("GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "X-Request-Id: abc-123.x_Y\r\n\r\n", &r), 0);
	assert_string_equal(header(&r, "X-Request-Id"), "abc-123.x_Y");
	resp_free(&r);

	/* Echoed on errors too. */
	assert_int_equal(roundtrip("GET /nowhere HTTP/1.1\r\nHost: t\r\n"
	    "X-Request-Id: trace-42\r\n\r\n", &r), 0);
	assert_problem(&r, 404, "not_found");
	assert_string_equal(header(&r, "X-Request-Id"), "trace-42");
	resp_free(&r);
}

static void
test_http_server__request_id_invalid_replaced(void **state)
{
	char raw[512], long_id[80];
	struct resp r;

	assert_int_equal(roundtrip("GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "X-Request-Id: bad id<script>\r\n\r\n", &r), 0);
	assert_true(rid_ok(header(&r, "X-Request-Id")));
	assert_null(strstr(header(&r, "X-Request-Id"), "bad"));
	resp_free(&r);

	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	snprintf(raw, sizeof(raw), "GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "X-Request-Id: %s\r\n\r\n", long_id);
	assert_int_equal(roundtrip(raw, &r), 0);
	assert_true(rid_ok(header(&r, "X-Request-Id")));
	assert_string_not_equal(header(&r, "X-Request-Id"), long_id);
	resp_free(&r);
}

/* ---- routing ----------------------------------------------------------- */

static void
test_http_server__not_found(void **state)
{
	struct resp r;

	resp_get(&r, "/no/such/thing");
	assert_problem(&r, 404, "not_found");
	resp_free(&r);
	resp_get(&r, "/public/ping/");	/* no trailing-slash match */
	assert_problem(&r, 404, "not_found");
	resp_free(&r);
}

static void
test_http_server__method_not_allowed(void **state)
{
	struct resp r;

	assert_int_equal(roundtrip("DELETE /public/ping HTTP/1.1\r\n"
	    "Host: t\r\n\r\n", &r), 0);
	assert_problem(&r, 405, "method_not_allowed");
	assert_string_equal(header(&r, "Allow"), "GET, HEAD");
	resp_free(&r);
}

static void
test_http_server__path_params_and_query(void **state)
{
	struct resp r;

	resp_get(&r, "/items/a%20b%2Bc?x=1%202&y=z");
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "id"), "a b+c");
	assert_string_equal(jstr(&r, "x"), "1 2");
	assert_string_equal(jstr(&r, "route"), "items.get");
	resp_free(&r);

	resp_get(&r, "/items/caf%C3%A9");
	assert_string_equal(jstr(&r, "id"), "caf\xc3\xa9");
	resp_free(&r);

	/* An escaped slash or percent sign is data inside one segment. */
	resp_get(&r, "/items/a%2Fb%25%2f");
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "id"), "a/b%/");
	resp_free(&r);
}

static void
test_http_server__bad_paths(void **state)
{
	static const char *const bad[] = {
		"/items/a%00b", "/items/%ff", "/items/%zz", "/items/%4",
		"/items/a%0Ab", "/items/%C3%28",
	};
	struct resp r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		resp_get(&r, bad[i]);
		assert_problem(&r, 400, "invalid_path");
		resp_free(&r);
	}
}

static void
test_http_server__head(void **state)
{
	static struct conn c;
	const char *raw = "HEAD /public/ping HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /public/ping HTTP/1.1\r\nHost: t\r\n\r\n";
	struct resp h, g;

	plain_connect(&c);
	/* Pipelined: a body after the HEAD reply would corrupt the next. */
	conn_write(&c, raw, strlen(raw));
	assert_int_equal(read_response(&c, &h, true), 0);
	assert_int_equal(read_response(&c, &g, false), 0);
	assert_int_equal(h.status, 200);
	assert_int_equal(g.status, 200);
	assert_int_equal(strtoul(header(&h, "Content-Length"), NULL, 10),
	    g.bodylen);
	assert_non_null(g.json);
	conn_close(&c);
	resp_free(&h);
	resp_free(&g);
}

static void
test_http_server__keep_alive(void **state)
{
	static struct conn c;
	const char *raw = "GET /public/ping HTTP/1.1\r\nHost: t\r\n\r\n";
	struct resp r;
	int i;

	plain_connect(&c);
	for (i = 0; i < 3; i++) {
		conn_write(&c, raw, strlen(raw));
		assert_int_equal(read_response(&c, &r, false), 0);
		assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	conn_close(&c);
}

/* ---- deferred replies --------------------------------------------------- */

/* Answered after the handler returned, with its path parameter, header
 * and request id intact, on a kept-alive connection and on many
 * connections at once. */
static void
test_http_server__deferred_reply(void **state)
{
	static struct conn c, many[8];
	char raw[256];
	struct resp r;
	int i;

	plain_connect(&c);
	for (i = 0; i < 3; i++) {
		snprintf(raw, sizeof(raw), "GET /defer/k%d HTTP/1.1\r\nHost: t"
		    "\r\nX-T: v%d\r\nX-Request-Id: rid-%d\r\n\r\n", i, i, i);
		conn_write(&c, raw, strlen(raw));
		assert_int_equal(read_response(&c, &r, false), 0);
		assert_int_equal(r.status, 200);
		snprintf(raw, sizeof(raw), "k%d", i);
		assert_string_equal(jstr(&r, "id"), raw);
		snprintf(raw, sizeof(raw), "v%d", i);
		assert_string_equal(jstr(&r, "x"), raw);
		snprintf(raw, sizeof(raw), "rid-%d", i);
		assert_string_equal(header(&r, "X-Request-Id"), raw);
		resp_free(&r);
	}
	conn_close(&c);

	for (i = 0; i < 8; i++) {
		plain_connect(&many[i]);
		snprintf(raw, sizeof(raw), "GET /defer/m%d HTTP/1.1\r\nHost: t"
		    "\r\n\r\n", i);
		conn_write(&many[i], raw, strlen(raw));
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(read_response(&many[i], &r, false), 0);
		assert_int_equal(r.status, 200);
		snprintf(raw, sizeof(raw), "m%d", i);
		assert_string_equal(jstr(&r, "id"), raw);
		resp_free(&r);
		conn_close(&many[i]);
	}
}

/* A deferred request whose client hung up is answered into the void:
 * no crash, no leak (the sanitizer build checks), and the server serves
 * on. */
static void
test_http_server__deferred_peer_gone(void **state)
{
	static struct conn c;
	const char *hold = "GET /hold/h1 HTTP/1.1\r\nHost: t\r\n\r\n";
	struct resp r;
	int i, released = 0;

	plain_connect(&c);
	conn_write(&c, hold, strlen(hold));
	/* Let the server read it before the hang-up. */
	usleep(100 * 1000);
	conn_close(&c);
	usleep(100 * 1000);
	/* /release lands on either worker: ask until the held one went. */
	for (i = 0; i < 50 && released == 0; i++) {
		resp_get(&r, "/release");
		assert_int_equal(r.status, 200);
		released = (int)json_integer_value(json_object_get(r.json,
		    "released"));
		resp_free(&r);
	}
	assert_int_equal(released, 1);
	resp_get(&r, "/public/ping");
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

/* ---- limits ------------------------------------------------------------ */

static void
test_http_server__header_too_large(void **state)
{
	char raw[T_MAX_HEADER * 2];
	static struct conn c;
	struct resp r;

	plain_connect(&c);
	snprintf(raw, sizeof(raw), "GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "X-Big: %0*d\r\n\r\n", T_MAX_HEADER + 100, 0);
	conn_write(&c, raw, strlen(raw));
	assert_int_equal(read_response(&c, &r, false), 0);
	assert_problem(&r, 431, "header_fields_too_large");
	assert_true(rid_ok(header(&r, "X-Request-Id")));
	assert_string_equal(header(&r, "Connection"), "close");
	assert_true(closed_within(&c, 2000));
	conn_close(&c);
	resp_free(&r);
}

static void
test_http_server__body_too_large(void **state)
{
	char raw[256];
	static struct conn c;
	struct resp r;

	plain_connect(&c);
	/* Headers first: libevent refuses before the body is sent. */
	snprintf(raw, sizeof(raw), "POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n",
	    T_MAX_BODY + 1);
	conn_write(&c, raw, strlen(raw));
	assert_int_equal(read_response(&c, &r, false), 0);
	assert_problem(&r, 413, "payload_too_large");
	assert_string_equal(jstr(&r, "detail"), "request body exceeds 4096 "
	    "bytes");
	assert_string_equal(header(&r, "Connection"), "close");
	assert_true(closed_within(&c, 2000));
	conn_close(&c);
	resp_free(&r);
}

/* ---- requests evhttp refuses before dispatch --------------------------- */

/* Sends `raw` (`len` bytes) on a new connection and checks the answer is
 * the problem `code` with `status`, and that the connection then closes. */
static void
assert_refused(const char *raw, size_t len, int status, const char *code)
{
	static struct conn c;
	struct resp r;

	plain_connect(&c);
	conn_write(&c, raw, len);
	assert_int_equal(read_response(&c, &r, false), 0);
	assert_problem(&r, status, code);
	assert_true(rid_ok(header(&r, "X-Request-Id")));
	assert_string_equal(header(&r, "Connection"), "close");
	assert_null(strstr(r.body, "HTML"));
	assert_true(closed_within(&c, 2000));
	conn_close(&c);
	resp_free(&r);
}

static void
assert_refused_str(const char *raw, int status, const char *code)
{
	assert_refused(raw, strlen(raw), status, code);
}

/* True if the metrics have a requests_total line for the unmatched route
 * with `status`. */
static bool
metrics_has_unmatched(int status)
{
	char line[96];
	struct resp r;
	bool found;

	resp_get(&r, "/metrics");
	snprintf(line, sizeof(line), "ztiam_http_requests_total{route="
	    "\"unmatched\",status=\"%d\"} ", status);
	found = strstr(r.body, line) != NULL;
	resp_free(&r);
	return found;
}

static void
test_http_server__refused_head_many_lines(void **state)
{
	char raw[T_MAX_HEADER * 2];
	int n, i;

	/* Every line is short; together they are over the limit. */
	n = snprintf(raw, sizeof(raw), "GET /public/ping HTTP/1.1\r\n");
	for (i = 0; i < T_MAX_HEADER / 32 + 4; i++)
		n += snprintf(raw + n, sizeof(raw) - (size_t)n, "X-H%03d: "
		    "%022d\r\n", i, i);
	n += snprintf(raw + n, sizeof(raw) - (size_t)n, "\r\n");
	assert_true(n < (int)sizeof(raw));
	assert_refused(raw, (size_t)n, 431, "header_fields_too_large");
	assert_true(metrics_has_unmatched(431));
}

static void
test_http_server__refused_malformed(void **state)
{
	assert_refused_str("GARBAGE\r\n\r\n", 400, "bad_request");
	assert_refused_str("GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "no colon here\r\n\r\n", 400, "bad_request");
	assert_refused_str("POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 12x\r\n\r\n", 400, "bad_request");
	assert_true(metrics_has_unmatched(400));
}

static void
test_http_server__refused_method(void **state)
{
	assert_refused_str("BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501,
	    "not_implemented");
	assert_refused_str("TRACE / HTTP/1.1\r\nHost: t\r\n\r\n", 501,
	    "not_implemented");
	assert_true(metrics_has_unmatched(501));
}

static void
test_http_server__refused_expectation(void **state)
{
	char raw[256];

	assert_refused_str("POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Expect: coffee\r\nContent-Length: 2\r\n\r\n{}", 417,
	    "expectation_failed");
	/* 100-continue with a body over the limit: refused, no 100. */
	snprintf(raw, sizeof(raw), "POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n",
	    T_MAX_BODY + 1);
	assert_refused_str(raw, 413, "payload_too_large");
}

static void
test_http_server__refused_chunked(void **state)
{
	char raw[T_MAX_BODY * 3], chunk[1024 + 16];
	int n, i;

	/* Each chunk is fine; the body grows past the limit. */
	n = snprintf(raw, sizeof(raw), "POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	memset(chunk, ' ', sizeof(chunk));
	for (i = 0; i < T_MAX_BODY / 1024 + 2; i++)
		n += snprintf(raw + n, sizeof(raw) - (size_t)n, "400\r\n%.*s"
		    "\r\n", 1024, chunk);
	assert_true(n < (int)sizeof(raw));
	assert_refused(raw, (size_t)n, 413, "payload_too_large");
	/* libevent answers a malformed chunk size with 413 as well. */
	assert_refused_str("POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 413,
	    "payload_too_large");
	assert_true(metrics_has_unmatched(413));
}

/* The default header limit, and a body limit of 1 MiB. */
#define REAL_BODY (1024 * 1024)

static zt_http *
start_real_limits(const char *cert, const char *key)
{
	zt_http_config cfg = { .max_body_bytes = REAL_BODY };

	cfg.tls_cert = cert;
	cfg.tls_key = key;
	return start_server(&cfg);
}

/* Sends on `c` a head announcing 2 MiB, then the body (until the server
 * hangs up), and checks the answer is the 413 problem. */
static void
assert_big_body_refused(struct conn *c)
{
	size_t len = 2 * REAL_BODY;
	char head[256], *body = malloc(len);
	struct resp r;
	int n;

	assert_non_null(body);
	memset(body, ' ', len);
	n = snprintf(head, sizeof(head), "POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	    len);
	conn_write(c, head, (size_t)n);
	conn_write(c, body, len);
	free(body);
	assert_int_equal(read_response(c, &r, false), 0);
	assert_problem(&r, 413, "payload_too_large");
	assert_string_equal(jstr(&r, "detail"), "request body exceeds 1048576 "
	    "bytes");
	assert_true(rid_ok(header(&r, "X-Request-Id")));
	assert_string_equal(header(&r, "Connection"), "close");
	resp_free(&r);
}

static void
test_http_server__refused_real_limits(void **state)
{
	zt_http *main_srv = srv;
	size_t size = 64 * 1024 + 256;
	static struct conn c;
	char *raw = malloc(size);
	int n;

	srv = start_real_limits(NULL, NULL);
	plain_connect(&c);
	assert_big_body_refused(&c);
	conn_close(&c);

	/* A 64 KiB header against the 16 KiB default. */
	assert_non_null(raw);
	n = snprintf(raw, size, "GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "Cookie: %0*d\r\n\r\n", 64 * 1024, 0);
	assert_refused(raw, (size_t)n, 431, "header_fields_too_large");
	free(raw);

	zt_http_stop(srv, 1000);
	zt_http_free(srv);
	srv = main_srv;
}

/* A refusal after a reply on the same connection: the first reply is
 * untouched, and the second request's head is measured on its own. */
static void
test_http_server__refused_after_keep_alive(void **state)
{
	char raw[T_MAX_HEADER];
	static struct conn c;
	struct resp r;

	plain_connect(&c);
	/* Three quarters of the header limit, then a malformed request
	 * that alone is small: 400, not 431. */
	snprintf(raw, sizeof(raw), "GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "X-Pad: %0*d\r\n\r\n", T_MAX_HEADER * 3 / 4, 0);
	conn_write(&c, raw, strlen(raw));
	assert_int_equal(read_response(&c, &r, false), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(r.json);
	resp_free(&r);
	snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nbad\r\n\r\n");
	conn_write(&c, raw, strlen(raw));
	assert_int_equal(read_response(&c, &r, false), 0);
	assert_problem(&r, 400, "bad_request");
	assert_true(closed_within(&c, 2000));
	conn_close(&c);
	resp_free(&r);

	/* Pipelined: a good request and a bad one in one write. */
	plain_connect(&c);
	snprintf(raw, sizeof(raw), "GET /public/ping HTTP/1.1\r\nHost: t\r\n"
	    "\r\nBREW /pot HTTP/1.1\r\nHost: t\r\n\r\n");
	conn_write(&c, raw, strlen(raw));
	assert_int_equal(read_response(&c, &r, false), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	assert_int_equal(read_response(&c, &r, false), 0);
	assert_problem(&r, 501, "not_implemented");
	assert_true(closed_within(&c, 2000));
	conn_close(&c);
	resp_free(&r);
}

/* ---- JSON bodies ------------------------------------------------------- */

static int
post(const char *ctype, const char *body, size_t len, struct resp *r)
{
	char raw[8192];
	int n;

	n = snprintf(raw, sizeof(raw), "POST /items HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, len);
	memcpy(raw + n, body, len);
	raw[n + (int)len] = '\0';
	return roundtrip(raw, r);
}

static void
test_http_server__json_content_type(void **state)
{
	struct resp r;

	assert_int_equal(post("text/plain", "{}", 2, &r), 0);
	assert_problem(&r, 415, "unsupported_media_type");
	resp_free(&r);
	assert_int_equal(post("application/json; charset=latin1", "{}", 2,
	    &r), 0);
	assert_problem(&r, 415, "unsupported_media_type");
	resp_free(&r);
	assert_int_equal(post("application/jsonx", "{}", 2, &r), 0);
	assert_problem(&r, 415, "unsupported_media_type");
	resp_free(&r);

	assert_int_equal(post("Application/JSON; charset=UTF-8", "{\"a\":1}",
	    7, &r), 0);
	assert_int_equal(r.status, 201);
	assert_int_equal(json_integer_value(json_object_get(r.json, "a")), 1);
	resp_free(&r);
}

static void
test_http_server__json_malformed(void **state)
{
	struct resp r;

	assert_int_equal(post("application/json", "{\"a\":", 5, &r), 0);
	assert_problem(&r, 400, "invalid_json");
	assert_non_null(strstr(jstr(&r, "detail"), "line"));
	resp_free(&r);

	assert_int_equal(post("application/json", "", 0, &r), 0);
	assert_problem(&r, 400, "invalid_json");
	resp_free(&r);

	assert_int_equal(post("application/json", "[1,2]", 5, &r), 0);
	assert_problem(&r, 400, "invalid_json");
	resp_free(&r);

	assert_int_equal(post("application/json", "{\"a\":1,\"a\":2}", 13,
	    &r), 0);
	assert_problem(&r, 400, "invalid_json");
	resp_free(&r);
}

static void
test_http_server__json_invalid_utf8(void **state)
{
	struct resp r;

	assert_int_equal(post("application/json", "{\"a\":\"\xff\xfe\"}", 10,
	    &r), 0);
	assert_problem(&r, 400, "invalid_json");
	resp_free(&r);
}

/* ---- hooks, errors, metrics ------------------------------------------- */

static void
test_http_server__auth_hook(void **state)
{
	struct resp r;
	int before = atomic_load(&auth_calls);

	resp_get(&r, "/public/ping");
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&auth_calls), before);
	resp_free(&r);

	resp_get(&r, "/private/ping");
	assert_problem(&r, 401, "unauthorized");
	assert_int_equal(atomic_load(&auth_calls), before + 1);
	resp_free(&r);

	assert_int_equal(roundtrip("GET /private/ping HTTP/1.1\r\nHost: t\r\n"
	    "Authorization: Bearer good\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "user"), "alice");
	assert_int_equal(atomic_load(&auth_calls), before + 2);
	resp_free(&r);
}

static void
test_http_server__error_mapping(void **state)
{
	struct resp r;

	resp_get(&r, "/error/missing");
	assert_problem(&r, 404, "not_found");
	assert_string_equal(jstr(&r, "detail"), "no such widget");
	resp_free(&r);

	resp_get(&r, "/error/busy");
	assert_problem(&r, 503, "busy");
	assert_string_equal(header(&r, "Retry-After"), "1");
	resp_free(&r);

	resp_get(&r, "/error/other");
	assert_problem(&r, 500, "internal");
	assert_string_equal(jstr(&r, "detail"), "internal error");
	assert_null(strstr(r.body, "10.1.2.3"));
	resp_free(&r);

	resp_get(&r, "/noreply");
	assert_problem(&r, 500, "internal");
	resp_free(&r);
}

static void
test_http_server__metrics(void **state)
{
	struct resp r;

	resp_get(&r, "/public/ping");
	resp_free(&r);
	resp_get(&r, "/not/routed");
	resp_free(&r);
	resp_get(&r, "/metrics");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "# TYPE ztiam_http_requests_total "
	    "counter"));
	assert_non_null(strstr(r.body, "ztiam_http_requests_total{route="
	    "\"public.ping\",status=\"200\"} "));
	assert_non_null(strstr(r.body, "ztiam_http_requests_total{route="
	    "\"unmatched\",status=\"404\"} "));
	assert_non_null(strstr(r.body, "ztiam_http_request_duration_seconds_"
	    "bucket{route=\"public.ping\",le=\"+Inf\"} "));
	assert_non_null(strstr(r.body, "ztiam_http_request_duration_seconds_"
	    "count{route=\"public.ping\"} "));
	assert_non_null(strstr(r.body, "\nztiam_http_connections "));
	/* No Cache-Control default for a non-JSON body. */
	assert_null(header(&r, "Cache-Control"));
	resp_free(&r);
}

/* ---- servers of their own ---------------------------------------------- */

/* A stop with an idle keep-alive client must not wait for the grace
 * period: idle connections are closed at once. */
static void
test_http_server__stop_with_idle_client(void **state)
{
	zt_http_config cfg = { 0 };
	zt_http *main_srv = srv;
	static struct conn c;
	struct resp r;

	srv = start_server(&cfg);
	plain_connect(&c);
	conn_write(&c, "GET /public/ping HTTP/1.1\r\nHost: t\r\n\r\n", 38);
	assert_int_equal(read_response(&c, &r, false), 0);
	resp_free(&r);

	/* A grace of ten minutes: were the idle client waited for, the
	 * test would hang until its timeout instead of passing. */
	zt_http_stop(srv, 600000);
	assert_true(closed_within(&c, 1000));
	zt_http_wait(srv);		/* a second wait returns at once */
	zt_http_free(srv);
	conn_close(&c);
	srv = main_srv;
}

static atomic_bool stopped;

static void *
stopper(void *arg)
{
	zt_http_stop(arg, 600000);
	atomic_store(&stopped, true);
	return NULL;
}

/* A reply still being written when the stop comes is finished first; the
 * stop returns once it is flushed, well before the grace period ends. */
static void
test_http_server__stop_waits_for_unflushed_reply(void **state)
{
	zt_http_config cfg = { 0 };
	zt_http *main_srv = srv;
	static struct conn c;
	static char buf[1 << 16];
	const char *raw = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
	size_t total;
	pthread_t t;
	ssize_t n;

	srv = start_server(&cfg);
	plain_connect(&c);
	conn_write(&c, raw, strlen(raw));
	n = conn_read(&c, buf, 100);		/* the reply is under way */
	assert_true(n > 0);
	total = (size_t)n;
	atomic_store(&stopped, false);
	assert_int_equal(pthread_create(&t, NULL, stopper, srv), 0);
	usleep(300 * 1000);
	/* The reply is larger than the socket buffers and unread, so it
	 * cannot be flushed yet, however slow the machine. */
	assert_false(atomic_load(&stopped));
	while ((n = conn_read(&c, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	pthread_join(t, NULL);
	assert_true(atomic_load(&stopped));
	assert_true(total > BIG_REPLY);
	conn_close(&c);
	zt_http_free(srv);
	srv = main_srv;
}

/* At the cap a worker stops accepting: the next client waits in the
 * backlog until a connection closes. */
static void
test_http_server__connection_cap(void **state)
{
	zt_http_config cfg = { .workers = 1, .max_connections = 2 };
	zt_http *main_srv = srv;
	static struct conn a, b, x;
	struct resp r;
	const char *raw = "GET /public/ping HTTP/1.1\r\nHost: t\r\n\r\n";
	const char *hits;

	srv = start_server(&cfg);
	plain_connect(&a);
	plain_connect(&b);
	conn_write(&a, raw, strlen(raw));
	assert_int_equal(read_response(&a, &r, false), 0);
	resp_free(&r);
	plain_connect(&x);		/* completes in the kernel backlog */
	conn_write(&x, raw, strlen(raw));
	{
		struct pollfd p = { .fd = x.fd, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 300), 0);
	}
	conn_close(&b);
	assert_int_equal(read_response(&x, &r, false), 0);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	conn_close(&a);
	conn_close(&x);
	resp_get(&r, "/metrics");
	hits = strstr(r.body, "\nztiam_http_connection_limit_hits_total ");
	assert_non_null(hits);
	assert_true(strtoul(strchr(hits + 1, ' '), NULL, 10) >= 1);
	resp_free(&r);
	zt_http_stop(srv, 1000);
	zt_http_free(srv);
	srv = main_srv;
}

/* A client trickling a request never completes it: the deadline closes
 * the connection though each byte resets libevent's idle timer. */
static void
test_http_server__request_deadline(void **state)
{
	zt_http_config cfg = { .idle_timeout_s = 1 };
	zt_http *main_srv = srv;
	static struct conn c;
	const char *raw = "GET /public/ping HTTP/1.1\r\nX-Slow: aaaaaaaaaa";
	bool closed = false;
	int i;

	srv = start_server(&cfg);
	plain_connect(&c);
	for (i = 0; raw[i] != '\0' && !closed; i++) {
		conn_write(&c, raw + i, 1);
		closed = closed_within(&c, 250);
	}
	/* Closed by the deadline while bytes were still trickling in. */
	assert_true(closed);
	assert_true(raw[i] != '\0');
	conn_close(&c);
	zt_http_stop(srv, 1000);
	zt_http_free(srv);
	srv = main_srv;
}

/* ---- TLS --------------------------------------------------------------- */

struct pki {
	char dir[64];
	char ca[96], cert[96], key[96];
	X509 *ca_x, *client_x, *rogue_x;
	EVP_PKEY *ca_k, *client_k, *rogue_k;
};

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

/* A certificate for `key` named `cn`, signed by `issuer` (self if NULL). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
    const char *kind)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	if (strcmp(kind, "ca") == 0) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
		add_ext(x, issuer, NID_ext_key_usage, kind);
		add_ext(x, issuer, NID_subject_alt_name, "IP:127.0.0.1");
	}
	assert_true(X509_sign(x, ikey ? ikey : key, EVP_sha256()) > 0);
	return x;
}

static void
write_pem(const char *path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (x != NULL)
		PEM_write_X509(f, x);
	if (k != NULL)
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
}

static void
pki_make(struct pki *p)
{
	EVP_PKEY *sk;
	X509 *sx;

	snprintf(p->dir, sizeof(p->dir), "/tmp/zthttp-tls-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->ca, sizeof(p->ca), "%s/ca.pem", p->dir);
	snprintf(p->cert, sizeof(p->cert), "%s/server.pem", p->dir);
	snprintf(p->key, sizeof(p->key), "%s/server.key", p->dir);

	p->ca_k = EVP_EC_gen("P-256");
	p->client_k = EVP_EC_gen("P-256");
	p->rogue_k = EVP_EC_gen("P-256");
	sk = EVP_EC_gen("P-256");
	p->ca_x = make_cert(p->ca_k, "test-ca", NULL, NULL, "ca");
	sx = make_cert(sk, "localhost", p->ca_x, p->ca_k, "serverAuth");
	p->client_x = make_cert(p->client_k, "client-1", p->ca_x, p->ca_k,
	    "clientAuth");
	p->rogue_x = make_cert(p->rogue_k, "rogue", NULL, NULL, "clientAuth");
	write_pem(p->ca, p->ca_x, NULL);
	write_pem(p->cert, sx, NULL);
	write_pem(p->key, NULL, sk);
	X509_free(sx);
	EVP_PKEY_free(sk);
}

static void
pki_free(struct pki *p)
{
	unlink(p->ca);
	unlink(p->cert);
	unlink(p->key);
	rmdir(p->dir);
	X509_free(p->ca_x);
	X509_free(p->client_x);
	X509_free(p->rogue_x);
	EVP_PKEY_free(p->ca_k);
	EVP_PKEY_free(p->client_k);
	EVP_PKEY_free(p->rogue_k);
}

/* Connects with TLS, presenting `cert` if not NULL; false if the
 * handshake fails. */
static bool
tls_connect(struct conn *c, X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	bool ok;

	assert_non_null(ctx);
	if (cert != NULL) {
		assert_int_equal(SSL_CTX_use_certificate(ctx, cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	}
	c->fd = tcp_connect(zt_http_port(srv));
	c->have = 0;
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_fd(c->ssl, c->fd);
	ok = SSL_connect(c->ssl) == 1;
	ERR_clear_error();
	return ok;
}

/* Sends a GET /cert over `c`: the response, or -1 if none came. */
static int
tls_get_cert(struct conn *c, struct resp *r)
{
	const char *raw = "GET /cert HTTP/1.1\r\nHost: t\r\n\r\n";
	int rc;

	conn_write(c, raw, strlen(raw));
	rc = read_response(c, r, false);
	ERR_clear_error();
	return rc;
}

static void
test_http_server__tls_client_cert(void **state)
{
	struct pki p;
	zt_http_config cfg = { 0 };
	zt_http *main_srv = srv;
	static struct conn c;
	struct resp r;
	bool hs;

	pki_make(&p);
	cfg.tls_cert = p.cert;
	cfg.tls_key = p.key;
	cfg.tls_client_ca = p.ca;
	srv = start_server(&cfg);

	/* A certificate from the CA: the handler sees it. */
	assert_true(tls_connect(&c, p.client_x, p.client_k));
	assert_int_equal(tls_get_cert(&c, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(&r, "cn"), "client-1");
	assert_true(json_is_true(json_object_get(r.json, "tls")));
	resp_free(&r);
	conn_close(&c);

	/* No certificate, or one from elsewhere: the handshake fails (with
	 * TLS 1.3 the client learns it at its first read). */
	hs = tls_connect(&c, NULL, NULL);
	assert_true(!hs || tls_get_cert(&c, &r) < 0);
	conn_close(&c);
	hs = tls_connect(&c, p.rogue_x, p.rogue_k);
	assert_true(!hs || tls_get_cert(&c, &r) < 0);
	conn_close(&c);

	/* Plain HTTP on the TLS port gets no HTTP answer. */
	plain_connect(&c);
	conn_write(&c, "GET /cert HTTP/1.1\r\nHost: t\r\n\r\n", 31);
	assert_int_equal(read_response(&c, &r, false), -1);
	conn_close(&c);

	zt_http_stop(srv, 1000);
	zt_http_free(srv);
	srv = main_srv;
	pki_free(&p);
}

static void
test_http_server__tls_client_optional(void **state)
{
	struct pki p;
	zt_http_config cfg = { .tls_client_optional = true };
	zt_http *main_srv = srv;
	static struct conn c;
	struct resp r;

	pki_make(&p);
	cfg.tls_cert = p.cert;
	cfg.tls_key = p.key;
	cfg.tls_client_ca = p.ca;
	srv = start_server(&cfg);

	assert_true(tls_connect(&c, NULL, NULL));
	assert_int_equal(tls_get_cert(&c, &r), 0);
	assert_problem(&r, 403, "no_certificate");
	resp_free(&r);
	conn_close(&c);

	assert_true(tls_connect(&c, p.client_x, p.client_k));
	assert_int_equal(tls_get_cert(&c, &r), 0);
	assert_string_equal(jstr(&r, "cn"), "client-1");
	resp_free(&r);
	conn_close(&c);

	zt_http_stop(srv, 1000);
	zt_http_free(srv);
	srv = main_srv;
	pki_free(&p);
}

static void
test_http_server__tls_body_too_large(void **state)
{
	struct pki p;
	zt_http *main_srv = srv;
	static struct conn c;

	pki_make(&p);
	srv = start_real_limits(p.cert, p.key);
	assert_true(tls_connect(&c, NULL, NULL));
	assert_big_body_refused(&c);
	conn_close(&c);
	ERR_clear_error();

	zt_http_stop(srv, 1000);
	zt_http_free(srv);
	srv = main_srv;
	pki_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_server__request_id_generated),
		cmocka_unit_test(test_http_server__request_id_from_client),
		cmocka_unit_test(test_http_server__request_id_invalid_replaced),
		cmocka_unit_test(test_http_server__not_found),
		cmocka_unit_test(test_http_server__method_not_allowed),
		cmocka_unit_test(test_http_server__path_params_and_query),
		cmocka_unit_test(test_http_server__bad_paths),
		cmocka_unit_test(test_http_server__head),
		cmocka_unit_test(test_http_server__keep_alive),
		cmocka_unit_test(test_http_server__header_too_large),
		cmocka_unit_test(test_http_server__body_too_large),
		cmocka_unit_test(test_http_server__refused_head_many_lines),
		cmocka_unit_test(test_http_server__refused_malformed),
		cmocka_unit_test(test_http_server__refused_method),
		cmocka_unit_test(test_http_server__refused_expectation),
		cmocka_unit_test(test_http_server__refused_chunked),
		cmocka_unit_test(test_http_server__refused_after_keep_alive),
		cmocka_unit_test(test_http_server__refused_real_limits),
		cmocka_unit_test(test_http_server__json_content_type),
		cmocka_unit_test(test_http_server__json_malformed),
		cmocka_unit_test(test_http_server__json_invalid_utf8),
		cmocka_unit_test(test_http_server__auth_hook),
		cmocka_unit_test(test_http_server__error_mapping),
		cmocka_unit_test(test_http_server__metrics),
		cmocka_unit_test(test_http_server__stop_with_idle_client),
		cmocka_unit_test(
		    test_http_server__stop_waits_for_unflushed_reply),
		cmocka_unit_test(test_http_server__deferred_reply),
		cmocka_unit_test(test_http_server__deferred_peer_gone),
		cmocka_unit_test(test_http_server__connection_cap),
		cmocka_unit_test(test_http_server__request_deadline),
		cmocka_unit_test(test_http_server__tls_client_cert),
		cmocka_unit_test(test_http_server__tls_client_optional),
		cmocka_unit_test(test_http_server__tls_body_too_large),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
