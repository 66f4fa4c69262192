/* seal.h: encryption at rest of one text, pure: AES-256-GCM through
 * OpenSSL's EVP interface, and the stored format of api.md ("Encryption
 * at rest"): sessiond:enc:1:<key id>:<base64url of nonce | ciphertext | tag>.
 * No keys are kept and nothing is read here: keyring.h holds the keys and
 * decides which one seals. */
#ifndef SESSIOND_SEAL_H
#define SESSIOND_SEAL_H

#include <stdbool.h>
#include <stddef.h>

#include "sessiond/buf.h"
#include "sessiond/error.h"

#define SEAL_KEY_LEN 32    /* AES-256 */
#define SEAL_NONCE_LEN 12  /* 96-bit nonces, the size GCM is built for */
#define SEAL_TAG_LEN 16    /* full 128-bit tags, never truncated */
#define SEAL_KEY_ID_MAX 64 /* a key id: 1..64 of [A-Za-z0-9._-] */
#define SEAL_PREFIX "sessiond:enc:"
#define SEAL_PREFIX_LEN (sizeof(SEAL_PREFIX) - 1)

/* AES-256-GCM of len bytes of in into out (len bytes, may be in), with aad
 * authenticated too, writing the tag. ERROR_NOMEM or ERROR_IO when OpenSSL
 * fails. */
enum error_code seal_gcm_encrypt(const unsigned char *key, const unsigned char *nonce,
				 const unsigned char *aad, size_t aad_len, const unsigned char *in,
				 size_t len, unsigned char *out, unsigned char *tag);

/* The inverse: ERROR_PARSE when the tag does not match (a wrong key, a
 * different aad, or altered bytes); out is then wiped, since GCM writes
 * the plaintext before it knows whether to trust it. */
enum error_code seal_gcm_decrypt(const unsigned char *key, const unsigned char *nonce,
				 const unsigned char *aad, size_t aad_len, const unsigned char *in,
				 size_t len, const unsigned char *tag, unsigned char *out);

/* True if text starts with SEAL_PREFIX: sealed, or meant to be. Plain sess
 * text is a JSON object and starts with '{' (or white space), so the two
 * can never be confused. */
bool seal_is_sealed(const char *text, size_t len);

/* True if id[0..len) is a valid key id. */
bool seal_key_id_valid(const char *id, size_t len);

/* A parsed stored text; the pointers borrow from the text parsed. */
struct seal_text {
	const char *key_id;
	size_t key_id_len;
	const char *payload; /* the base64url part */
	size_t payload_len;
	size_t plain_len; /* what the ciphertext decrypts to */
};

/* Parses a stored text strictly: the prefix, version 1, a valid key id, a
 * ':' and canonical unpadded base64url of at least nonce and tag (no other
 * characters, no stray bits in the last digit). ERROR_PARSE otherwise. */
enum error_code seal_parse(const char *text, size_t len, struct seal_text *out);

/* Decrypts a parsed text with key (32 bytes) and aad, appending the
 * plaintext to plain (a NUL-terminated text, see buf.h). ERROR_PARSE when
 * it does not authenticate; ERROR_NOMEM. */
enum error_code seal_open(const unsigned char *key, const struct seal_text *st, const char *aad,
			  size_t aad_len, struct buf *plain);

/* Seals len bytes of plain under key (32 bytes), named key_id, with aad
 * and the given nonce, appending the stored text to out. Tests pass a
 * fixed nonce; everything else calls seal_text, which draws a fresh one.
 * ERROR_INVALID for a bad key id. */
enum error_code seal_text_nonce(const unsigned char *key, const char *key_id,
				const unsigned char *nonce, const char *aad, size_t aad_len,
				const char *plain, size_t len, struct buf *out);

/* seal_text_nonce with a nonce of SEAL_NONCE_LEN bytes from RAND_bytes:
 * random nonces, since no counter could be shared by every daemon of a
 * table. A key seals at most some billions of texts before two nonces
 * are likely to meet (NIST SP 800-38D 8.3); rotate keys long before.
 * ERROR_IO when the CSPRNG fails. */
enum error_code seal_text(const unsigned char *key, const char *key_id, const char *aad,
			  size_t aad_len, const char *plain, size_t len, struct buf *out);

/* The length of the stored text seal_text makes for len bytes of plain
 * under a key id of id_len characters: for size checks before sealing. */
size_t seal_text_len(size_t id_len, size_t len);

#endif
