/*
 * The validations the server performs: http-01 (RFC 8555 8.3), a GET of
 * http://NAME:PORT/.well-known/acme-challenge/TOKEN over libcurl whose
 * body must be the key authorization, and tls-alpn-01 (RFC 8737), a TLS
 * handshake offering only the "acme-tls/1" protocol with NAME as SNI,
 * whose self-signed certificate must name exactly NAME and carry the
 * critical acmeIdentifier extension holding SHA-256 of the key
 * authorization.
 *
 * Each attempt is bounded: ZT_ACME_CONNECT_TIMEOUT_MS to connect and
 * ZT_ACME_TIMEOUT_MS in all; bodies past ZT_ACME_HTTP01_BODY_MAX are cut
 * off; redirects are not followed (docs/acme.md).  These run on the
 * server's validator thread, never on a worker's loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme/acme.h"

/* id-pe-acmeIdentifier, RFC 8737 6.1. */
#define ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31"

static int
fail(enum zt_acme_prob *prob, enum zt_acme_prob p, int err)
{
	*prob = p;
	return err;
}

/* ---- http-01 ------------------------------------------------------------ */

struct body {
	char data[ZT_ACME_HTTP01_BODY_MAX + 1];
	size_t len;
	bool over;
};

static size_t
body_write(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;

	if (b->len + len > ZT_ACME_HTTP01_BODY_MAX) {
		b->over = true;
		return 0;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* The host part of a URL: an IPv6 literal goes in brackets. */
static void
url_host(char *out, size_t n, const zt_acme_job *job)
{
	if (job->is_ip && strchr(job->value, ':'))
		snprintf(out, n, "[%s]", job->value);
	else
		snprintf(out, n, "%s", job->value);
}

static int
http01(const zt_acme_validation *v, const zt_acme_job *job,
    enum zt_acme_prob *prob)
{
	char host[300], url[512], resolve[400];
	struct curl_slist *rl = NULL;
	struct body b = { .len = 0 };
	long status = 0;
	CURLcode cc;
	CURL *c;
	int err;

	url_host(host, sizeof(host), job);
	snprintf(url, sizeof(url), "http://%s:%d/.well-known/acme-challenge/"
	    "%s", host, v->http01_port, job->token);
	if ((c = curl_easy_init()) == NULL)
		return fail(prob, ZT_ACME_SERVER_INTERNAL, zt_error_set(ZT_ERR,
		    "cannot start an HTTP client"));
	if (v->resolve && !job->is_ip) {
		snprintf(resolve, sizeof(resolve), "%s:%d:%s", job->value,
		    v->http01_port, v->resolve);
		rl = curl_slist_append(NULL, resolve);
		curl_easy_setopt(c, CURLOPT_RESOLVE, rl);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)ZT_ACME_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ZT_ACME_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ztiam-acme-validator");
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(rl);

	if (b.over)
		return fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(
		    ZT_EFORBIDDEN, "the http-01 response is longer than %d "
		    "bytes", ZT_ACME_HTTP01_BODY_MAX));
	if (cc != CURLE_OK)
		return fail(prob, ZT_ACME_CONNECTION, zt_error_set(ZT_EUNAVAIL,
		    "cannot fetch the http-01 resource: %s",
		    curl_easy_strerror(cc)));
	if (status != 200)
		return fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(
		    ZT_EFORBIDDEN, "the http-01 resource answered %ld",
		    status));

	/* RFC 8555 8.3: trailing whitespace is allowed and ignored. */
	while (b.len > 0 && (b.data[b.len - 1] == ' ' ||
	    b.data[b.len - 1] == '\t' || b.data[b.len - 1] == '\r' ||
	    b.data[b.len - 1] == '\n'))
		b.data[--b.len] = '\0';
	err = b.len == strlen(job->keyauth) &&
	    zt_ct_equal(b.data, job->keyauth, b.len) ? ZT_OK : ZT_EFORBIDDEN;
	if (err < 0)
		return fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(err,
		    "the http-01 resource does not hold the key "
		    "authorization"));
	return ZT_OK;
}

/* ---- tls-alpn-01 -------------------------------------------------------- */

/* Connects to host:port within the connect timeout; -1 on failure. */
static int
tcp_connect(const char *host, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { ZT_ACME_TIMEOUT_MS / 1000,
	    (ZT_ACME_TIMEOUT_MS % 1000) * 1000 };
	char service[16];
	int fd = -1;

	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0, flags;
		socklen_t sl = sizeof(soerr);

		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) < 0)
			continue;
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS)
			goto next;
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, ZT_ACME_CONNECT_TIMEOUT_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
		    soerr != 0)
			goto next;
		fcntl(fd, F_SETFL, flags);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		continue;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The certificate's checks of RFC 8737 3: exactly one SAN, the dNSName
 * NAME, and the critical acmeIdentifier extension whose value is an
 * OCTET STRING of the SHA-256 of the key authorization. */
static int
alpn_cert_check(X509 *x, const zt_acme_job *job, enum zt_acme_prob *prob)
{
	uint8_t want[ZT_SHA256_LEN];
	GENERAL_NAMES *sans;
	ASN1_OBJECT *oid = OBJ_txt2obj(ACME_IDENTIFIER_OID, 1);
	ASN1_OCTET_STRING *inner = NULL;
	const unsigned char *p;
	X509_EXTENSION *ext;
	bool names_ok = false;
	int idx, err;

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (sans && sk_GENERAL_NAME_num(sans) == 1) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, 0);

		names_ok = g->type == GEN_DNS &&
		    (size_t)ASN1_STRING_length(g->d.dNSName) ==
		    strlen(job->value) &&
		    strncasecmp((const char *)ASN1_STRING_get0_data(
		    g->d.dNSName), job->value, strlen(job->value)) == 0;
	}
	GENERAL_NAMES_free(sans);
	if (!names_ok) {
		ASN1_OBJECT_free(oid);
		return fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(
		    ZT_EFORBIDDEN, "the tls-alpn-01 certificate does not name "
		    "exactly the identifier"));
	}
	idx = oid ? X509_get_ext_by_OBJ(x, oid, -1) : -1;
	ASN1_OBJECT_free(oid);
	if (idx < 0 || (ext = X509_get_ext(x, idx)) == NULL ||
	    !X509_EXTENSION_get_critical(ext))
		return fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(
		    ZT_EFORBIDDEN, "the tls-alpn-01 certificate has no "
		    "critical acmeIdentifier extension"));
	p = ASN1_STRING_get0_data(X509_EXTENSION_get_data(ext));
	inner = d2i_ASN1_OCTET_STRING(NULL, &p,
	    ASN1_STRING_length(X509_EXTENSION_get_data(ext)));
	zt_sha256(want, job->keyauth, strlen(job->keyauth));
	err = inner && ASN1_STRING_length(inner) == ZT_SHA256_LEN &&
	    zt_ct_equal(ASN1_STRING_get0_data(inner), want, ZT_SHA256_LEN) ?
	    ZT_OK : ZT_EFORBIDDEN;
	ASN1_OCTET_STRING_free(inner);
	if (err < 0)
		return fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(err,
		    "the tls-alpn-01 acmeIdentifier does not match the key "
		    "authorization"));
	return ZT_OK;
}

static int
tlsalpn01(const zt_acme_validation *v, const zt_acme_job *job,
    enum zt_acme_prob *prob)
{
	static const unsigned char alpn[] = "\x0a" "acme-tls/1";
	const unsigned char *got = NULL;
	unsigned int gotlen = 0;
	char sni[sizeof(job->value)];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *peer = NULL;
	int fd, err;

	if (job->is_ip)
		return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
		    "tls-alpn-01 is offered for DNS names only"));
	/* OpenSSL's macro takes the name without const. */
	snprintf(sni, sizeof(sni), "%s", job->value);
	fd = tcp_connect(v->resolve ? v->resolve : job->value,
	    v->tlsalpn01_port);
	if (fd < 0)
		return fail(prob, ZT_ACME_CONNECTION, zt_error_set(ZT_EUNAVAIL,
		    "cannot connect for tls-alpn-01"));
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0 ||
	    (ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_tlsext_host_name(ssl, sni) != 1 ||
	    SSL_set_fd(ssl, fd) != 1) {
		err = fail(prob, ZT_ACME_SERVER_INTERNAL, zt_error_set(ZT_ERR,
		    "cannot start a TLS client"));
		goto out;
	}
	/* The certificate is self-signed on purpose: not verified, only
	 * read (RFC 8737 3). */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	if (SSL_connect(ssl) != 1) {
		err = fail(prob, ZT_ACME_TLS, zt_error_set(ZT_EUNAVAIL,
		    "the tls-alpn-01 handshake failed"));
		goto out;
	}
	SSL_get0_alpn_selected(ssl, &got, &gotlen);
	if (gotlen != 10 || memcmp(got, "acme-tls/1", 10) != 0) {
		err = fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(
		    ZT_EFORBIDDEN, "the server did not choose acme-tls/1"));
		goto out;
	}
	if ((peer = SSL_get1_peer_certificate(ssl)) == NULL) {
		err = fail(prob, ZT_ACME_INCORRECT_RESPONSE, zt_error_set(
		    ZT_EFORBIDDEN, "no certificate in the tls-alpn-01 "
		    "handshake"));
		goto out;
	}
	err = alpn_cert_check(peer, job, prob);
out:
	X509_free(peer);
	if (ssl)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	close(fd);
	return err;
}

int
zt_acme_validate(const zt_acme_validation *v, const zt_acme_job *job,
    enum zt_acme_prob *prob)
{
	if (strcmp(job->type, "http-01") == 0)
		return http01(v, job, prob);
	if (strcmp(job->type, "tls-alpn-01") == 0)
		return tlsalpn01(v, job, prob);
	return fail(prob, ZT_ACME_MALFORMED, zt_error_set(ZT_EINVAL,
	    "unknown challenge type"));
}
