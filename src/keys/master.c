/*
 * The master key and the sealing of private keys under it.
 *
 * The master key is 32 random bytes, written as 43 characters of
 * base64url so that it can be copied into a password manager or an
 * environment variable as it is.  Its file must be private to its owner:
 * a key readable by others is a key already shared, and the server
 * refuses to start on it rather than carry on quietly.
 *
 * Sealed form: base64url(version 1 || 12-byte nonce || ciphertext ||
 * 16-byte GCM tag).  The additional data binds the sealed key to its
 * scope and kid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/base.h"
#include "keys/keys.h"

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
/* A PKCS#8 RSA-8192 key is under 5 KiB; nothing sealed here is larger. */
#define PLAIN_MAX 8192
#define KEY_TEXT_LEN 43

static void
master_key_id(zt_master_key *mk)
{
	static const char label[] = "ztiam master key id:";
	uint8_t in[sizeof(label) - 1 + ZT_MASTER_KEY_LEN];
	uint8_t digest[ZT_SHA256_LEN];

	/* A fingerprint, not the key: a one-way hash under a fixed label,
	 * cut to 8 bytes, says "same key or not" and nothing more. */
	memcpy(in, label, sizeof(label) - 1);
	memcpy(in + sizeof(label) - 1, mk->key, ZT_MASTER_KEY_LEN);
	zt_sha256(digest, in, sizeof(in));
	zt_wipe(in, sizeof(in));
	zt_hex_encode(mk->id, digest, 8);
}

int
zt_master_key_from_text(zt_master_key *mk, const char *text)
{
	uint8_t raw[ZT_MASTER_KEY_LEN + 3];
	size_t n = strlen(text);
	long len;

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
	    text[n - 1] == ' '))
		n--;
	len = n == KEY_TEXT_LEN ? zt_b64url_decode(raw, text, n) : -1;
	if (len != ZT_MASTER_KEY_LEN) {
		zt_wipe(raw, sizeof(raw));
		return zt_error_set(ZT_EINVAL, "a master key is 43 characters "
		    "of base64url (32 bytes)");
	}
	memcpy(mk->key, raw, ZT_MASTER_KEY_LEN);
	zt_wipe(raw, sizeof(raw));
	master_key_id(mk);
	return ZT_OK;
}

int
zt_master_key_load(zt_master_key *mk, const char *path)
{
	char text[128];
	struct stat sb;
	ssize_t n;
	int fd, err;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return zt_error_set(errno == ENOENT ? ZT_ENOTFOUND : ZT_ERR,
		    "cannot open the master key file %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return zt_error_set(ZT_EINVAL, "the master key file %s is not "
		    "a regular file", path);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return zt_error_set(ZT_EFORBIDDEN, "the master key file %s may "
		    "be read or written by others (mode %03o); chmod 600 it",
		    path, (unsigned)(sb.st_mode & 0777));
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return zt_error_set(ZT_ERR, "cannot read the master key file "
		    "%s: %s", path, strerror(errno));
	text[n] = '\0';
	err = zt_master_key_from_text(mk, text);
	zt_wipe(text, sizeof(text));
	if (err < 0)
		return zt_error_set(err, "the master key file %s does not hold "
		    "43 characters of base64url", path);
	return ZT_OK;
}

int
zt_master_key_create(zt_master_key *mk, const char *path)
{
	char text[KEY_TEXT_LEN + 2];
	ssize_t n;
	int fd, err;

	if ((err = zt_random(mk->key, ZT_MASTER_KEY_LEN)) < 0)
		return err;
	master_key_id(mk);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return zt_error_set(errno == EEXIST ? ZT_EEXISTS : ZT_ERR,
		    "cannot create the master key file %s: %s", path,
		    strerror(errno));
	zt_b64url_encode(text, mk->key, ZT_MASTER_KEY_LEN);
	text[KEY_TEXT_LEN] = '\n';
	n = write(fd, text, KEY_TEXT_LEN + 1);
	zt_wipe(text, sizeof(text));
	if (n != KEY_TEXT_LEN + 1 || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		return zt_error_set(ZT_ERR, "cannot write the master key file "
		    "%s", path);
	}
	close(fd);
	return ZT_OK;
}

void
zt_master_key_wipe(zt_master_key *mk)
{
	zt_wipe(mk, sizeof(*mk));
}

/* scope NUL kid: neither may contain a NUL, so the split is unique. */
static int
seal_aad(EVP_CIPHER_CTX *ctx, const char *scope, const char *kid)
{
	int n;

	return EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)scope,
	    (int)strlen(scope) + 1) > 0 &&
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)kid,
	    (int)strlen(kid)) > 0;
}

int
zt_keys_seal(zt_buf *out, const zt_master_key *mk, const char *scope,
    const char *kid, const void *plain, size_t n)
{
	uint8_t *box = NULL;
	char *text = NULL;
	size_t boxlen = 1 + NONCE_LEN + n + TAG_LEN;
	EVP_CIPHER_CTX *ctx = NULL;
	int len, err = ZT_ERR;

	if (n == 0 || n > PLAIN_MAX)
		return zt_error_set(ZT_EINVAL, "nothing to seal, or too much");
	if ((box = malloc(boxlen)) == NULL ||
	    (text = malloc(zt_b64url_len(boxlen) + 1)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	box[0] = SEAL_VERSION;
	if ((err = zt_random(box + 1, NONCE_LEN)) < 0)
		goto out;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, mk->key,
	    box + 1) <= 0 || !seal_aad(ctx, scope, kid) ||
	    EVP_EncryptUpdate(ctx, box + 1 + NONCE_LEN, &len, plain,
	    (int)n) <= 0 || (size_t)len != n ||
	    EVP_EncryptFinal_ex(ctx, box + 1 + NONCE_LEN + n, &len) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    box + 1 + NONCE_LEN + n) <= 0) {
		ERR_clear_error();
		err = zt_error_set(ZT_ERR, "sealing the private key failed");
		goto out;
	}
	zt_b64url_encode(text, box, boxlen);
	err = zt_buf_adds(out, text);
out:
	EVP_CIPHER_CTX_free(ctx);
	free(box);
	free(text);
	return err;
}

int
zt_keys_open(zt_buf *out, const zt_master_key *mk, const char *mk_id,
    const char *scope, const char *kid, const char *sealed)
{
	size_t slen = strlen(sealed), n;
	uint8_t *box = NULL, *plain = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	long boxlen;
	int len, err;

	if (mk_id && strcmp(mk_id, mk->id) != 0)
		return zt_error_set(ZT_EFORBIDDEN, "the key %s was sealed under "
		    "another master key (fingerprint %s; this server has %s)",
		    kid, mk_id, mk->id);
	if (slen > zt_b64url_len(1 + NONCE_LEN + PLAIN_MAX + TAG_LEN) ||
	    (box = malloc(slen * 3 / 4 + 1)) == NULL)
		return zt_error_set(ZT_EINVAL, "the sealed key %s is damaged",
		    kid);
	boxlen = zt_b64url_decode(box, sealed, slen);
	if (boxlen < 1 + NONCE_LEN + 1 + TAG_LEN || box[0] != SEAL_VERSION) {
		free(box);
		return zt_error_set(ZT_EFORBIDDEN, "the sealed key %s is "
		    "damaged", kid);
	}
	n = (size_t)boxlen - 1 - NONCE_LEN - TAG_LEN;
	if ((plain = malloc(n)) == NULL ||
	    (ctx = EVP_CIPHER_CTX_new()) == NULL) {
		err = zt_error_set(ZT_ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, mk->key,
	    box + 1) <= 0 || !seal_aad(ctx, scope, kid) ||
	    EVP_DecryptUpdate(ctx, plain, &len, box + 1 + NONCE_LEN,
	    (int)n) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    box + 1 + NONCE_LEN + n) <= 0 ||
	    EVP_DecryptFinal_ex(ctx, plain + len, &len) <= 0) {
		ERR_clear_error();
		err = zt_error_set(ZT_EFORBIDDEN, "the sealed key %s does not "
		    "open under this master key: it was altered, or sealed "
		    "under another key", kid);
		goto out;
	}
	err = zt_buf_add(out, plain, n);
out:
	EVP_CIPHER_CTX_free(ctx);
	if (plain)
		zt_wipe(plain, n);
	free(plain);
	free(box);
	return err;
}
