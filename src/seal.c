/* seal.c: AES-256-GCM and the stored format of a sealed sess (seal.h).
 * Pure apart from RAND_bytes for nonces. The parser is strict, so that one
 * stored text has exactly one reading: it is fed attacker-shaped input (a
 * table someone else can write to) and is fuzzed (tests/fuzz/fuzz_seal.c). */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "sessiond/seal.h"

#define SEAL_VERSION "1:"
#define SEAL_OVERHEAD (SEAL_NONCE_LEN + SEAL_TAG_LEN)

static const char seal_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- AES-256-GCM ---------------------------------------------------------- */

/* OpenSSL 3 looks the cipher up in its providers on every EVP_aes_256_gcm()
 * init (about half a microsecond); fetched once here and kept for the
 * process's life instead. */
static pthread_once_t seal_cipher_once = PTHREAD_ONCE_INIT;
static const EVP_CIPHER *seal_cipher_ptr;

static void seal_cipher_fetch(void)
{
	seal_cipher_ptr = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (!seal_cipher_ptr)
		seal_cipher_ptr = EVP_aes_256_gcm();
}

static const EVP_CIPHER *seal_cipher(void)
{
	pthread_once(&seal_cipher_once, seal_cipher_fetch);
	return seal_cipher_ptr;
}

/* EVP lengths are ints; a sess is at most 400 KB, so this only guards. */
static bool seal_len_ok(size_t aad_len, size_t len)
{
	return aad_len <= INT_MAX && len <= INT_MAX;
}

enum error_code seal_gcm_encrypt(const unsigned char *key, const unsigned char *nonce,
				 const unsigned char *aad, size_t aad_len, const unsigned char *in,
				 size_t len, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = NULL;
	enum error_code rc = ERROR_IO;
	int n;

	if (!seal_len_ok(aad_len, len))
		return ERROR_TOO_LARGE;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return ERROR_NOMEM;
	/* The default IV length of GCM in OpenSSL is 12 bytes: no ctrl call. */
	if (EVP_EncryptInit_ex(ctx, seal_cipher(), NULL, key, nonce) != 1)
		goto out;
	if (aad_len && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (len && EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, out + len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto out;
	rc = ERROR_OK;
out:
	EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
	return rc;
}

enum error_code seal_gcm_decrypt(const unsigned char *key, const unsigned char *nonce,
				 const unsigned char *aad, size_t aad_len, const unsigned char *in,
				 size_t len, const unsigned char *tag, unsigned char *out)
{
	unsigned char tag_copy[SEAL_TAG_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	enum error_code rc = ERROR_IO;
	int n;

	if (!seal_len_ok(aad_len, len))
		return ERROR_TOO_LARGE;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return ERROR_NOMEM;
	/* The tag ctrl takes a non-const pointer. */
	memcpy(tag_copy, tag, SEAL_TAG_LEN);
	if (EVP_DecryptInit_ex(ctx, seal_cipher(), NULL, key, nonce) != 1)
		goto out;
	if (aad_len && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (len && EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag_copy) != 1)
		goto out;
	/* The tag is checked here, in constant time, by OpenSSL. */
	rc = EVP_DecryptFinal_ex(ctx, out + len, &n) == 1 ? ERROR_OK : ERROR_PARSE;
out:
	if (rc != ERROR_OK && len)
		OPENSSL_cleanse(out, len);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* ---- base64url without padding (RFC 4648 section 5) ------------------------ */

static size_t seal_b64_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

static void seal_b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = seal_b64[v >> 18];
		*out++ = seal_b64[(v >> 12) & 63];
		*out++ = seal_b64[(v >> 6) & 63];
		*out++ = seal_b64[v & 63];
	}
	if (n - i == 1) {
		*out++ = seal_b64[in[i] >> 2];
		*out++ = seal_b64[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
		*out++ = seal_b64[v >> 10];
		*out++ = seal_b64[(v >> 4) & 63];
		*out++ = seal_b64[(v & 15) << 2];
	}
}

/* The value of each byte as a base64url digit; -1 for any other byte. A
 * table, not comparisons: random digits defeat branch prediction, and an
 * item's sess is up to 400 KB of them. */
static const signed char seal_b64_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
	-1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int seal_b64_value(char c)
{
	return seal_b64_values[(unsigned char)c];
}

/* The decoded size of m base64url digits, or SIZE_MAX when no canonical
 * text has m digits (one digit alone carries only 6 bits). */
static size_t seal_b64_decoded_len(size_t m)
{
	if (m % 4 == 1)
		return SIZE_MAX;
	return m / 4 * 3 + (m % 4 ? m % 4 - 1 : 0);
}

/* Checks that in[0..m) is canonical unpadded base64url. */
static bool seal_b64_valid(const char *in, size_t m)
{
	int last;

	if (seal_b64_decoded_len(m) == SIZE_MAX)
		return false;
	for (size_t i = 0; i < m; i++)
		if (seal_b64_value(in[i]) < 0)
			return false;
	if (m % 4 == 0)
		return true;
	/* The bits of the last digit beyond the data must be zero, or two
	 * texts would decode to the same bytes. */
	last = seal_b64_value(in[m - 1]);
	return m % 4 == 2 ? (last & 15) == 0 : (last & 3) == 0;
}

/* Decodes m digits already checked by seal_b64_valid. */
static void seal_b64_decode(const char *in, size_t m, unsigned char *out)
{
	size_t i = 0;
	uint32_t v;

	for (; i + 4 <= m; i += 4) {
		v = (uint32_t)seal_b64_value(in[i]) << 18 | (uint32_t)seal_b64_value(in[i + 1]) << 12 |
		    (uint32_t)seal_b64_value(in[i + 2]) << 6 | (uint32_t)seal_b64_value(in[i + 3]);
		*out++ = (unsigned char)(v >> 16);
		*out++ = (unsigned char)(v >> 8);
		*out++ = (unsigned char)v;
	}
	if (m - i == 2) {
		v = (uint32_t)seal_b64_value(in[i]) << 6 | (uint32_t)seal_b64_value(in[i + 1]);
		*out = (unsigned char)(v >> 4);
	} else if (m - i == 3) {
		v = (uint32_t)seal_b64_value(in[i]) << 12 | (uint32_t)seal_b64_value(in[i + 1]) << 6 |
		    (uint32_t)seal_b64_value(in[i + 2]);
		*out++ = (unsigned char)(v >> 10);
		*out = (unsigned char)(v >> 2);
	}
}

/* ---- the stored format ------------------------------------------------------- */

bool seal_is_sealed(const char *text, size_t len)
{
	return text && len >= SEAL_PREFIX_LEN && memcmp(text, SEAL_PREFIX, SEAL_PREFIX_LEN) == 0;
}

bool seal_key_id_valid(const char *id, size_t len)
{
	if (!id || len == 0 || len > SEAL_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

enum error_code seal_parse(const char *text, size_t len, struct seal_text *out)
{
	const char *p, *end, *colon;
	size_t raw;

	if (!out)
		return ERROR_INVALID;
	memset(out, 0, sizeof(*out));
	if (!seal_is_sealed(text, len))
		return ERROR_PARSE;
	p = text + SEAL_PREFIX_LEN;
	end = text + len;
	/* Only version 1 exists; a later one is refused, never guessed at. */
	if ((size_t)(end - p) < 2 || memcmp(p, SEAL_VERSION, 2) != 0)
		return ERROR_PARSE;
	p += 2;
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || !seal_key_id_valid(p, (size_t)(colon - p)))
		return ERROR_PARSE;
	if (!seal_b64_valid(colon + 1, (size_t)(end - colon - 1)))
		return ERROR_PARSE;
	raw = seal_b64_decoded_len((size_t)(end - colon - 1));
	if (raw < SEAL_OVERHEAD)
		return ERROR_PARSE;
	out->key_id = p;
	out->key_id_len = (size_t)(colon - p);
	out->payload = colon + 1;
	out->payload_len = (size_t)(end - colon - 1);
	out->plain_len = raw - SEAL_OVERHEAD;
	return ERROR_OK;
}

enum error_code seal_open(const unsigned char *key, const struct seal_text *st, const char *aad,
			  size_t aad_len, struct buf *plain)
{
	size_t raw_len = st->plain_len + SEAL_OVERHEAD;
	unsigned char *raw = malloc(raw_len);
	unsigned char *pt = malloc(st->plain_len + 1);
	enum error_code rc = ERROR_NOMEM;

	if (!raw || !pt)
		goto out;
	seal_b64_decode(st->payload, st->payload_len, raw);
	rc = seal_gcm_decrypt(key, raw, (const unsigned char *)aad, aad_len, raw + SEAL_NONCE_LEN,
			      st->plain_len, raw + SEAL_NONCE_LEN + st->plain_len, pt);
	if (rc == ERROR_OK)
		rc = buf_append(plain, pt, st->plain_len);
	if (st->plain_len)
		OPENSSL_cleanse(pt, st->plain_len);
out:
	free(raw);
	free(pt);
	return rc;
}

size_t seal_text_len(size_t id_len, size_t len)
{
	return SEAL_PREFIX_LEN + 2 + id_len + 1 + seal_b64_len(len + SEAL_OVERHEAD);
}

enum error_code seal_text_nonce(const unsigned char *key, const char *key_id,
				const unsigned char *nonce, const char *aad, size_t aad_len,
				const char *plain, size_t len, struct buf *out)
{
	size_t id_len = key_id ? strlen(key_id) : 0;
	size_t raw_len = len + SEAL_OVERHEAD, start = out->len;
	unsigned char *raw = NULL;
	char *digits = NULL;
	enum error_code rc = ERROR_INVALID;

	if (!seal_key_id_valid(key_id, id_len) || len > SIZE_MAX / 2)
		return ERROR_INVALID;
	rc = ERROR_NOMEM;
	raw = malloc(raw_len);
	digits = malloc(seal_b64_len(raw_len));
	if (!raw || !digits)
		goto out;
	memcpy(raw, nonce, SEAL_NONCE_LEN);
	rc = seal_gcm_encrypt(key, nonce, (const unsigned char *)aad, aad_len,
			      (const unsigned char *)plain, len, raw + SEAL_NONCE_LEN,
			      raw + SEAL_NONCE_LEN + len);
	if (rc != ERROR_OK)
		goto out;
	seal_b64_encode(raw, raw_len, digits);
	buf_append_str(out, SEAL_PREFIX SEAL_VERSION);
	buf_append(out, key_id, id_len);
	buf_append_char(out, ':');
	rc = buf_append(out, digits, seal_b64_len(raw_len));
	if (rc != ERROR_OK)
		buf_truncate(out, start);
out:
	free(raw);
	free(digits);
	return rc;
}

/* RAND_bytes costs some 3 us a call in OpenSSL 3.0 whatever the size, as
 * much as the sealing itself, so each thread draws 64 nonces at a time. A
 * nonce is public (it is stored) but must never repeat: each is taken once
 * from the pool and wiped there. */
#define SEAL_POOL_NONCES 64
static _Thread_local unsigned char seal_pool[SEAL_POOL_NONCES * SEAL_NONCE_LEN];
static _Thread_local size_t seal_pool_left;

static bool seal_nonce(unsigned char *nonce)
{
	unsigned char *p;

	if (seal_pool_left == 0) {
		if (RAND_bytes(seal_pool, sizeof(seal_pool)) != 1)
			return false;
		seal_pool_left = SEAL_POOL_NONCES;
	}
	p = seal_pool + --seal_pool_left * SEAL_NONCE_LEN;
	memcpy(nonce, p, SEAL_NONCE_LEN);
	OPENSSL_cleanse(p, SEAL_NONCE_LEN);
	return true;
}

enum error_code seal_text(const unsigned char *key, const char *key_id, const char *aad,
			  size_t aad_len, const char *plain, size_t len, struct buf *out)
{
	unsigned char nonce[SEAL_NONCE_LEN];

	if (!seal_nonce(nonce))
		return ERROR_IO;
	return seal_text_nonce(key, key_id, nonce, aad, aad_len, plain, len, out);
}
