/*
 * Encodings and small cryptographic helpers: base64url (RFC 4648 section 5,
 * no padding, as JOSE and our tokens use it), hex, random bytes from
 * OpenSSL's DRBG, SHA-256, constant-time comparison and wiping.
 *
 * base64url is written here rather than taken from OpenSSL because
 * EVP_EncodeBlock speaks only the padded standard alphabet; translating its
 * output costs a second pass and a copy for no gain in safety.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/base.h"

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
zt_b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t
zt_b64url_encode(char *out, const void *in, size_t n)
{
	const uint8_t *p = in;
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url_chars[v >> 18 & 63];
		out[o++] = b64url_chars[v >> 12 & 63];
		out[o++] = b64url_chars[v >> 6 & 63];
		out[o++] = b64url_chars[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64url_chars[v >> 18 & 63];
		out[o++] = b64url_chars[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64url_chars[v >> 18 & 63];
		out[o++] = b64url_chars[v >> 12 & 63];
		out[o++] = b64url_chars[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
zt_b64url_decode(void *out, const char *in, size_t n)
{
	uint8_t *o = out;
	uint32_t acc = 0;
	size_t i, len = 0;
	int bits = 0, v;

	/* A lone trailing character carries only 6 bits: no encoder emits it. */
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64url_value((unsigned char)in[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[len++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero, so each byte string has one encoding. */
	if (acc & ((1u << bits) - 1))
		return -1;
	return (long)len;
}

void
zt_hex_encode(char *out, const void *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
zt_hex_decode(void *out, size_t outlen, const char *in)
{
	uint8_t *o = out;
	size_t i;
	int hi, lo;

	if (strlen(in) != 2 * outlen)
		return zt_error_set(ZT_EINVAL, "hex string of wrong length");
	for (i = 0; i < outlen; i++) {
		hi = hex_value(in[2 * i]);
		lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return zt_error_set(ZT_EINVAL, "not a hex string");
		o[i] = (uint8_t)(hi << 4 | lo);
	}
	return ZT_OK;
}

int
zt_random(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1)
		return zt_error_set(ZT_ERR, "random generator failed");
	return ZT_OK;
}

/*
 * Ids are many and small (one per decision, token and request): each
 * thread takes them from a pool of ID_POOL bytes that one RAND_bytes
 * call refills, instead of paying the generator's per-call locks and
 * fork check for every 12 bytes.  Bytes are wiped as they are taken.  A
 * child of fork() starts with an empty pool, so parent and child never
 * hand out the same id.
 */
#define ID_POOL 480
#define ID_BYTES_MAX 64

static _Thread_local struct {
	uint8_t b[ID_POOL];
	size_t left;		/* unused bytes, at the end of b */
} id_pool;
static pthread_once_t id_pool_once = PTHREAD_ONCE_INIT;

static void
id_pool_forked(void)
{
	zt_wipe(&id_pool, sizeof(id_pool));
}

static void
id_pool_init(void)
{
	(void)pthread_atfork(NULL, NULL, id_pool_forked);
}

int
zt_random_id(char *out, size_t outlen, size_t bytes)
{
	uint8_t *raw;
	int err;

	if (bytes > ID_BYTES_MAX || outlen < zt_b64url_len(bytes) + 1)
		return zt_error_set(ZT_EINVAL, "id buffer too small");
	pthread_once(&id_pool_once, id_pool_init);
	if (id_pool.left < bytes) {
		if ((err = zt_random(id_pool.b, sizeof(id_pool.b))) < 0)
			return err;
		id_pool.left = sizeof(id_pool.b);
	}
	raw = id_pool.b + sizeof(id_pool.b) - id_pool.left;
	zt_b64url_encode(out, raw, bytes);
	zt_wipe(raw, bytes);
	id_pool.left -= bytes;
	return ZT_OK;
}

/*
 * OpenSSL 3 looks EVP_sha256() up in its provider tables (locks and a
 * property query) on every digest it starts; the per-request hashes
 * (client secrets, token cache keys) use one fetch made once.  The
 * fetched method lives until exit.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void
zt_sha256(uint8_t out[ZT_SHA256_LEN], const void *in, size_t n)
{
	unsigned int len = ZT_SHA256_LEN;

	pthread_once(&sha256_once, sha256_fetch);
	EVP_Digest(in, n, out, &len, sha256_md != NULL ? sha256_md :
	    EVP_sha256(), NULL);
}

bool
zt_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
zt_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}
