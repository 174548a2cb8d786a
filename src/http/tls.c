/*
 * TLS for the server: one SSL_CTX built from the configured certificate
 * chain, key and (for mutual TLS) client CA bundle, shared by every worker
 * (OpenSSL 3 makes SSL_new on a shared context thread-safe), and one
 * bufferevent_openssl per accepted connection.
 *
 * The policy is TLS 1.2 or later; for 1.2 only ECDHE key exchange with
 * AEAD ciphers (forward secrecy, no CBC), and OpenSSL's defaults for 1.3.
 * Renegotiation is off: it buys nothing for an API and costs a handshake a
 * client can demand at will.  With a client CA, the server asks for a
 * certificate and, unless tls_client_optional, refuses a handshake without
 * one; a certificate that is sent but does not verify always fails it.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <event2/bufferevent_ssl.h>

#include "http/http_int.h"

/* TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305 only. */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Client chains are a CA and perhaps one intermediate; a short limit
 * bounds the verification work a client can cause per handshake. */
#define TLS_VERIFY_DEPTH 4

/* Sets the thread's error from OpenSSL's queue (and empties it). */
static int
tls_fail(const char *what, const char *file)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return zt_error_set(ZT_EINVAL, "%s %s: %s", what, file ? file : "",
	    buf);
}

static int
tls_client_ca(SSL_CTX *ctx, const zt_http_config *cfg)
{
	STACK_OF(X509_NAME) *names;
	int mode = SSL_VERIFY_PEER;

	if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1)
		return tls_fail("cannot load client CA", cfg->tls_client_ca);
	if ((names = SSL_load_client_CA_file(cfg->tls_client_ca)) == NULL)
		return tls_fail("no CA names in", cfg->tls_client_ca);
	SSL_CTX_set_client_CA_list(ctx, names);
	if (!cfg->tls_client_optional)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	return ZT_OK;
}

int
tls_ctx_new(SSL_CTX **out, const zt_http_config *cfg)
{
	static const unsigned char sid_ctx[] = "ztiam";
	SSL_CTX *ctx;
	int err;

	*out = NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return tls_fail("cannot create a TLS context", NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* An idle connection keeps no 34 KiB read/write buffers: with
	 * thousands of keep-alive clients that is most of the memory. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Resumed sessions must stay bound to this server's verification. */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);

	err = ZT_ERR;
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		err = tls_fail("bad cipher list", NULL);
	else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
		err = tls_fail("cannot load certificate", cfg->tls_cert);
	else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key,
	    SSL_FILETYPE_PEM) != 1)
		err = tls_fail("cannot load key", cfg->tls_key);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		err = tls_fail("key does not match certificate", cfg->tls_key);
	else if (cfg->tls_client_ca == NULL ||
	    (err = tls_client_ca(ctx, cfg)) == ZT_OK) {
		*out = ctx;
		return ZT_OK;
	}
	SSL_CTX_free(ctx);
	return err;
}

/* A server-side TLS bufferevent whose socket evhttp sets later; NULL on
 * failure (the caller must then not fall back to plain text). */
struct bufferevent *
tls_bev_new(struct event_base *base, SSL_CTX *ctx)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	/* No BEV_OPT_DEFER_CALLBACKS: evhttp does not need it (its plain
	 * bufferevents run without it too), and deferring every callback to
	 * a later loop turn cost a third of the keep-alive throughput. */
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* A client that closes without close_notify is an EOF, as in plain
	 * HTTP; the response was already complete or is lost either way. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

bool
tls_is_tls(struct bufferevent *bev)
{
	return bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL;
}

/* The peer's certificate if it sent one and it verified; borrowed from the
 * connection's SSL, valid while the connection is. */
X509 *
tls_peer_cert(struct bufferevent *bev)
{
	SSL *ssl;
	X509 *cert;

	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return NULL;
	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL)
		return NULL;
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return cert;
}

int
zt_http_trust_add(zt_http *srv, X509 *anchor)
{
	X509_STORE *store;

	if (srv == NULL || srv->ssl == NULL || srv->cfg.tls_client_ca == NULL)
		return ZT_OK;
	/* The store locks itself: handshakes on the workers may look
	 * issuers up in it meanwhile. */
	store = SSL_CTX_get_cert_store(srv->ssl);
	if (store == NULL || X509_STORE_add_cert(store, anchor) != 1)
		return tls_fail("cannot add a client CA", NULL);
	return ZT_OK;
}
