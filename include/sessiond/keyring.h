/* keyring.h: the encryption keys in force (encryption.keys) and the sealing
 * and opening of an item's sess with them (api.md, "Encryption at rest").
 * A keyring is an immutable, reference-counted snapshot of the keys read
 * from their files; a keyring_holder holds the one in force, which SIGHUP
 * swaps while requests in flight keep the snapshot they started with. The
 * holder also owns the counters that /metrics shows, so they survive
 * reloads. seal.h does the cryptography. */
#ifndef SESSIOND_KEYRING_H
#define SESSIOND_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

#include "sessiond/buf.h"
#include "sessiond/ddb_codec.h"
#include "sessiond/error.h"
#include "sessiond/seal.h"

#define KEYRING_FILE_MAX 4096 /* a key file is 64 hex digits and a newline */
#define KEYRING_MAX_KEYS 16

struct keyring;
struct keyring_holder;

/* Checks the syntax of one encryption.keys entry, "id:path": a key id of
 * seal_key_id_valid, a ':' and a non-empty path. On failure why (a short
 * English text, never NULL) says what is wrong. */
bool keyring_spec_valid(const char *spec, const char **why);

/* Reads the n key files named by specs ("id:path", first one encrypts)
 * into a new keyring with the given required flag. Each file must be a
 * regular file (file.h), not readable or writable by group or others,
 * holding 64 hex digits and optionally a newline. Every problem found is
 * appended to errors as one "FILE: message" line (the key file's path;
 * never any of its content) and then ERROR_INVALID is returned with *out
 * NULL. n may be 0: a keyring without keys seals nothing. holder, when
 * not NULL, is where the keyring counts its reads and writes (it must
 * outlive the keyring); NULL for a check only (sessiond -t). The caller
 * owns *out (keyring_unref). */
enum error_code keyring_load(struct keyring_holder *holder, char *const *specs, size_t n,
			     bool required, struct keyring **out, struct buf *errors);

/* Releases a reference; the last one wipes the keys (OPENSSL_cleanse) and
 * frees them. Accepts NULL. Any thread. */
void keyring_unref(struct keyring *kr);

/* How many keys kr holds; the id of key i (0: the one that encrypts). */
size_t keyring_count(const struct keyring *kr);
const char *keyring_key_id(const struct keyring *kr, size_t i);

/* Whether a plain sess counts as absent (encryption.required). */
bool keyring_required(const struct keyring *kr);

/* Replaces the sess attribute of item (which must also hold hash_key as
 * an S) with its sealed text under the first key, the hash key's value as
 * AAD. ERROR_INVALID when kr has no key or item lacks either attribute. */
enum error_code keyring_seal_item(const struct keyring *kr, struct ddb_item *item,
				  const char *hash_key);

/* The length of a sess of len plain bytes as stored under kr's first key
 * (len itself when kr is NULL or has no key): for the item size check. */
size_t keyring_sealed_len(const struct keyring *kr, size_t len);

enum keyring_read {
	KEYRING_READ_NONE,   /* no sess attribute: nothing to do */
	KEYRING_READ_PLAIN,  /* a plain sess, kept (not required) */
	KEYRING_READ_ABSENT, /* a plain sess under required: removed from item */
	KEYRING_READ_OPENED, /* sealed, and now replaced by its plaintext */
	KEYRING_READ_FAILED, /* sealed but does not open: see info */
	KEYRING_READ_NOMEM,
};

/* What keyring_open_item found, for the log line of a failure. */
struct keyring_read_info {
	char key_id[SEAL_KEY_ID_MAX + 1]; /* the stored key id; "" if unparsable */
	const char *why;                  /* static text: "unknown key id", ... */
	size_t key_index;                 /* OPENED: which key (0: the first) */
};

/* Opens the sess of item in place (see enum keyring_read). kr may be NULL
 * (encryption off): every sess is then left as it is and a sealed one is
 * FAILED ("no keys configured"). Counts the read in the holder's metrics. */
enum keyring_read keyring_open_item(const struct keyring *kr, struct ddb_item *item,
				    const char *hash_key, struct keyring_read_info *info);

/* For the reaper's rewrite pass: when the sess of item is sealed under a
 * key of kr other than the first, appends it sealed anew under the first
 * key to out and returns KEYRING_READ_OPENED. NONE when there is nothing
 * to rewrite (no sess, plain, or already under the first key), FAILED
 * (info filled) when it does not open. item is not changed. */
enum keyring_read keyring_reseal(const struct keyring *kr, const struct ddb_item *item,
				 const char *hash_key, struct buf *out,
				 struct keyring_read_info *info);

/* The first 16 hex digits of SHA-256 of text, for log lines that must
 * name a session without giving its id (a bearer secret) away. */
void keyring_log_hash(const char *text, size_t len, char out[17]);

/* ---- the holder ------------------------------------------------------------ */

/* A holder with no keyring in force. NULL on allocation failure. */
struct keyring_holder *keyring_holder_new(void);

/* Frees the holder and its keyring. Every keyring loaded with it must have
 * been released already. Accepts NULL. */
void keyring_holder_free(struct keyring_holder *h);

/* Puts kr in force (the holder takes the caller's reference) and releases
 * the one it replaces once the last request using it is done. kr may be
 * NULL. Any thread; in practice the main thread at start and on SIGHUP. */
void keyring_holder_set(struct keyring_holder *h, struct keyring *kr);

/* A new reference to the keyring in force, or NULL when there is none or
 * it holds no key (encryption off). Cheap: a mutex held for an increment.
 * Any thread; the caller releases it with keyring_unref. */
struct keyring *keyring_holder_get(struct keyring_holder *h);

/* The encryption families of /metrics. Accepts a NULL h (writes nothing). */
void keyring_holder_write_metrics(struct keyring_holder *h, struct buf *b);

#endif
