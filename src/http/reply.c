/*
 * Replies: the one place a response leaves the server, so every response
 * carries the same headers (X-Request-Id, X-Content-Type-Options: nosniff,
 * Cache-Control: no-store on JSON unless the handler chose otherwise), and
 * errors share one shape, the RFC 9457 problem document:
 *
 *   {"type":"urn:ztiam:problem:<code>","title":"Not Found","status":404,
 *    "detail":"...","code":"<code>","request_id":"..."}
 *
 * sent as application/problem+json.  `code` is stable and meant for
 * programs; `detail` is for people and may change.
 *
 * libevent 2.1 writes a reply's body even to a HEAD request, and even with
 * a 204 or 304 status; zt_reply leaves the body out there itself, and for
 * HEAD sends the Content-Length the GET would have had.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* A problem's detail is one sentence; the cap bounds one that quotes
 * input. */
#define DETAIL_MAX 512
/* JSON documents up to this size are serialized without an allocation. */
#define JSON_STACK 2048

const char *
http_status_title(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return status < 400 ? "OK" : status < 500 ? "Client Error" :
	    "Server Error";
}

/* True if `req` may still be answered; a second reply is a bug, logged
 * and dropped. */
static bool
reply_open(const zt_req *req)
{
	if (!req->replied && req->ev != NULL)
		return true;
	log_error("a second reply to one request was dropped",
	    ZS("route", zt_req_route(req)));
	return false;
}

static bool
json_ctype(const char *ct)
{
	return strncasecmp(ct, "application/json", 16) == 0 ||
	    strncasecmp(ct, "application/problem+json", 24) == 0;
}

static bool
body_allowed(const zt_req *req, int status)
{
	return req->method != ZT_HEAD && status >= 200 && status != 204 &&
	    status != 304;
}

void
zt_reply_header(zt_req *req, const char *name, const char *value)
{
	if (!reply_open(req))
		return;
	/* evhttp refuses CR and LF in a value: no header injection. */
	if (evhttp_add_header(evhttp_request_get_output_headers(req->ev),
	    name, value) < 0)
		log_warn("reply header refused", ZS("name", name));
}

static void
std_headers(zt_req *req, struct evkeyvalq *h, const char *ct)
{
	evhttp_add_header(h, "X-Request-Id", req->id);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (ct != NULL) {
		evhttp_remove_header(h, "Content-Type");
		evhttp_add_header(h, "Content-Type", ct);
		if (json_ctype(ct) && evhttp_find_header(h, "Cache-Control") ==
		    NULL)
			evhttp_add_header(h, "Cache-Control", "no-store");
	}
	if (req->w->draining)
		evhttp_add_header(h, "Connection", "close");
}

void
zt_reply(zt_req *req, int status, const char *content_type,
    const char *body, size_t len)
{
	struct evkeyvalq *h;
	char clen[24];

	if (!reply_open(req))
		return;
	if (status < 100 || status > 599) {
		log_error("bad reply status", ZI("status", status));
		status = 500;
	}
	if (body == NULL)
		len = 0;
	h = evhttp_request_get_output_headers(req->ev);
	std_headers(req, h, content_type);
	if (len > 0 && body_allowed(req, status)) {
		if (evbuffer_add(evhttp_request_get_output_buffer(req->ev),
		    body, len) < 0) {
			log_error("reply body: out of memory");
			status = 500;
			len = 0;
		}
	} else if (len > 0 && req->method == ZT_HEAD) {
		snprintf(clen, sizeof(clen), "%zu", len);
		evhttp_add_header(h, "Content-Length", clen);
	}
	evhttp_send_reply(req->ev, status, http_status_title(status), NULL);
	req->ev = NULL;
	req->replied = true;
	req->status = status;
	req->bytes = len;
	if (req->deferred)
		req_deferred_done(req);
}

/* Serializes and sends `doc` (taken) as `ct`. */
static void
reply_doc(zt_req *req, int status, const char *ct, json_t *doc)
{
	char stack[JSON_STACK], *buf = stack;
	size_t n = 0;

	if (doc != NULL) {
		n = json_dumpb(doc, stack, sizeof(stack), JSON_COMPACT);
		if (n > sizeof(stack) && (buf = malloc(n)) != NULL)
			n = json_dumpb(doc, buf, n, JSON_COMPACT);
		json_decref(doc);
	}
	if (n == 0 || buf == NULL) {
		log_error("cannot build a reply document");
		if (status != 500)
			zt_reply_problem(req, 500, "internal",
			    "internal error");
		else
			zt_reply(req, 500, NULL, NULL, 0);
	} else
		zt_reply(req, status, ct, buf, n);
	if (buf != stack)
		free(buf);
}

void
zt_reply_json(zt_req *req, int status, json_t *doc)
{
	reply_doc(req, status, "application/json", doc);
}

void
zt_reply_empty(zt_req *req, int status)
{
	zt_reply(req, status, NULL, NULL, 0);
}

static json_t *problem_doc(const char *, int, const char *, const char *,
    va_list) __attribute__((format(printf, 4, 0)));
static void problem_send(zt_req *, int, const char *, json_t *,
    const char *, va_list) __attribute__((format(printf, 5, 0)));

/* The problem document of request `rid`; NULL if out of memory. */
static json_t *
problem_doc(const char *rid, int status, const char *code,
    const char *fmt, va_list ap)
{
	char type[128], detail[DETAIL_MAX + 4], clean[DETAIL_MAX + 4];
	const char *d = detail;
	json_t *doc;
	size_t n;

	snprintf(type, sizeof(type), "urn:ztiam:problem:%s", code);
	vsnprintf(detail, sizeof(detail) - 3, fmt, ap);
	n = strlen(detail);
	/* jansson takes only UTF-8, and a detail may quote raw input. */
	if (!zt_utf8_valid(detail, n)) {
		zt_str_sanitize(clean, detail, n, DETAIL_MAX);
		d = clean;
	}
	if ((doc = json_object()) == NULL)
		return NULL;
	json_object_set_new(doc, "type", json_string(type));
	json_object_set_new(doc, "title", json_string(
	    http_status_title(status)));
	json_object_set_new(doc, "status", json_integer(status));
	if (*d != '\0')
		json_object_set_new(doc, "detail", json_string(d));
	json_object_set_new(doc, "code", json_string(code));
	json_object_set_new(doc, "request_id", json_string(rid));
	return doc;
}

static void
problem_send(zt_req *req, int status, const char *code, json_t *extra,
    const char *fmt, va_list ap)
{
	json_t *doc;

	if (!reply_open(req)) {
		json_decref(extra);
		return;
	}
	doc = problem_doc(req->id, status, code, fmt, ap);
	/* Extra members never replace the standard ones. */
	if (doc != NULL && json_is_object(extra))
		json_object_update_missing(doc, extra);
	json_decref(extra);
	reply_doc(req, status, "application/problem+json", doc);
}

void
zt_reply_problem(zt_req *req, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_send(req, status, code, NULL, fmt, ap);
	va_end(ap);
}

void
zt_reply_problem_ext(zt_req *req, int status, const char *code,
    json_t *extra, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	problem_send(req, status, code, extra, fmt, ap);
	va_end(ap);
}

/*
 * Client errors carry the thread's message as their detail: it says what
 * was wrong with the request.  Server-side failures do not: a database
 * error can name hosts, tables or queries, so it goes to the log and the
 * client gets a fixed sentence and the request id to quote.
 */
void
zt_reply_error(zt_req *req, int err)
{
	const char *msg = zt_error_msg();

	switch (err) {
	case ZT_ENOTFOUND:
		zt_reply_problem(req, 404, "not_found", "%s", msg);
		break;
	case ZT_EEXISTS:
	case ZT_ECONFLICT:
		zt_reply_problem(req, 409, "conflict", "%s", msg);
		break;
	case ZT_EINVAL:
		zt_reply_problem(req, 400, "invalid_request", "%s", msg);
		break;
	case ZT_EFORBIDDEN:
		zt_reply_problem(req, 403, "forbidden", "%s", msg);
		break;
	case ZT_ETOOBIG:
		zt_reply_problem(req, 413, "payload_too_large", "%s", msg);
		break;
	case ZT_EBUSY:
		log_warn("request failed: busy", ZS("error", msg));
		zt_reply_header(req, "Retry-After", "1");
		zt_reply_problem(req, 503, "busy", "the service is busy; retry "
		    "shortly");
		break;
	case ZT_EUNAVAIL:
		log_warn("request failed: unavailable", ZS("error", msg));
		zt_reply_problem(req, 503, "unavailable", "a service this "
		    "request needs is unavailable");
		break;
	default:
		log_error("request failed", ZS("error", msg),
		    ZS("code", zt_strerror(err)));
		zt_reply_problem(req, 500, "internal", "internal error");
		break;
	}
}

/*
 * The problem document for a request that evhttp refused before dispatch
 * (see conn.c), written to `out` as a whole response, status line to
 * body, that closes the connection.  There is no zt_req: `rid` is a new
 * request id, and nothing of the refused request is echoed.  Returns -1
 * (having written nothing) when out of memory.
 */
int
reply_refusal(struct evbuffer *out, int status, const char *code,
    const char *rid, const char *fmt, ...)
{
	char body[JSON_STACK], head[512], date[64];
	json_t *doc;
	va_list ap;
	size_t blen;
	int hlen;

	va_start(ap, fmt);
	doc = problem_doc(rid, status, code, fmt, ap);
	va_end(ap);
	if (doc == NULL)
		return -1;
	blen = json_dumpb(doc, body, sizeof(body), JSON_COMPACT);
	json_decref(doc);
	/* A refusal's detail is one short fixed sentence: it always fits. */
	if (blen == 0 || blen > sizeof(body))
		return -1;
	/* RFC 9110 wants a Date from a server with a clock; this is how
	 * evhttp writes its own (locale-independent). */
	hlen = evutil_date_rfc1123(date, sizeof(date), NULL);
	if (hlen <= 0 || (size_t)hlen >= sizeof(date))
		return -1;
	hlen = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/problem+json\r\n"
	    "Content-Length: %zu\r\n"
	    "Date: %s\r\n"
	    "X-Request-Id: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Cache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n",
	    status, http_status_title(status), blen, date, rid);
	if (hlen < 0 || (size_t)hlen >= sizeof(head))
		return -1;
	if (evbuffer_expand(out, (size_t)hlen + blen) < 0)
		return -1;
	evbuffer_add(out, head, (size_t)hlen);
	evbuffer_add(out, body, blen);
	return 0;
}
