/* keyring.c: encryption keys read from their files, snapshots of them
 * swapped on SIGHUP, and sess sealed and opened with them (keyring.h).
 *
 * DESIGN
 *
 * Worker threads take a reference to the snapshot in force when a request
 * starts and drop it when the request ends; the main thread swaps the
 * holder's pointer on SIGHUP. The holder's mutex is held only for the swap
 * and for one increment, so the cost on the request path is an uncontended
 * lock and two atomic operations; a reload never waits for requests, and a
 * request never sees half of a reload. The last reference wipes the keys.
 *
 * Counters live in the holder, in a fixed table of key ids that only grows
 * (and only on the main thread), so /metrics can read it without a lock and
 * a counter does not start again from zero when a reload makes a new
 * snapshot. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "sessiond/file.h"
#include "sessiond/hex.h"
#include "sessiond/keyring.h"
#include "sessiond/metrics.h"

#define KEYRING_COUNTERS 64 /* distinct key ids counted over a daemon's life */

struct keyring_counter {
	char id[SEAL_KEY_ID_MAX + 1];
	_Atomic uint64_t reads;
	_Atomic uint64_t writes;
};

enum keyring_failure { FAIL_MALFORMED, FAIL_UNKNOWN_KEY, FAIL_BAD_TAG, FAIL_COUNT };

static const char *const keyring_failure_label[FAIL_COUNT] = { "malformed", "unknown_key",
							       "bad_tag" };

struct keyring_holder {
	pthread_mutex_t lock; /* guards cur */
	struct keyring *cur;
	/* Whether cur holds a key: read without the lock, so requests pay
	 * nothing for encryption while it is off. */
	_Atomic bool on;
	struct keyring_counter counters[KEYRING_COUNTERS];
	_Atomic size_t n_counters; /* entries below it are complete */
	_Atomic uint64_t plain_reads;
	_Atomic uint64_t plain_absent;
	_Atomic uint64_t failures[FAIL_COUNT];
};

struct keyring_key {
	char id[SEAL_KEY_ID_MAX + 1];
	unsigned char key[SEAL_KEY_LEN];
	struct keyring_counter *counter; /* in the holder; NULL if none */
};

struct keyring {
	_Atomic long refs;
	bool required;
	struct keyring_holder *holder; /* NULL: not counted */
	size_t n;
	struct keyring_key keys[KEYRING_MAX_KEYS];
};

/* ---- loading ------------------------------------------------------------------ */

bool keyring_spec_valid(const char *spec, const char **why)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;

	*why = "";
	if (!colon) {
		*why = "must be \"id:path\", such as \"k1:/etc/sessiond/k1.key\"";
		return false;
	}
	if (!seal_key_id_valid(spec, (size_t)(colon - spec))) {
		*why = "has a key id that is not 1 to 64 of A-Z a-z 0-9 . _ -";
		return false;
	}
	if (!colon[1]) {
		*why = "has no file after the key id";
		return false;
	}
	return true;
}

static void keyring_error(struct buf *errors, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void keyring_error(struct buf *errors, const char *path, const char *fmt, ...)
{
	va_list ap;

	buf_printf(errors, "%s: ", path);
	va_start(ap, fmt);
	buf_vprintf(errors, fmt, ap);
	va_end(ap);
	buf_append_char(errors, '\n');
}

/* Reads one key file into key. Errors name the path and what is wrong,
 * never the bytes found. */
static bool keyring_read_file(const char *path, unsigned char *key, struct buf *errors)
{
	struct file_info info;
	struct buf text;
	size_t len;
	bool ok = false;

	if (file_read(path, KEYRING_FILE_MAX, &text, &info) != ERROR_OK) {
		keyring_error(errors, path, "cannot read the key file: %s", info.why);
		return false;
	}
	/* Checked on the descriptor that was read (file.h), so the file that
	 * passed is the file whose key is used. */
	if (info.st.st_mode & 077) {
		keyring_error(errors, path,
			      "the key file may be read or written by group or others (mode "
			      "%04o); run: chmod 600 %s",
			      (unsigned)(info.st.st_mode & 07777), path);
		goto out;
	}
	len = text.len;
	while (len && (text.data[len - 1] == '\n' || text.data[len - 1] == '\r' ||
		       text.data[len - 1] == ' ' || text.data[len - 1] == '\t'))
		len--;
	if (len != 2 * SEAL_KEY_LEN) {
		keyring_error(errors, path,
			      "a key file must hold 64 hex digits (32 random bytes: openssl rand "
			      "-hex 32), not %zu characters",
			      len);
		goto out;
	}
	for (size_t i = 0; i < SEAL_KEY_LEN; i++) {
		int hi = hex_value(text.data[2 * i]), lo = hex_value(text.data[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			keyring_error(errors, path, "a key file must hold hex digits only "
						    "(openssl rand -hex 32)");
			goto out;
		}
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	ok = true;
out:
	buf_free_secret(&text);
	if (!ok)
		OPENSSL_cleanse(key, SEAL_KEY_LEN);
	return ok;
}

/* The holder's counter for id, added if new; NULL when the table is full.
 * Main thread only (the one that loads keyrings). */
static struct keyring_counter *keyring_counter_for(struct keyring_holder *h, const char *id)
{
	size_t n = atomic_load(&h->n_counters);

	for (size_t i = 0; i < n; i++)
		if (strcmp(h->counters[i].id, id) == 0)
			return &h->counters[i];
	if (n == KEYRING_COUNTERS)
		return NULL;
	snprintf(h->counters[n].id, sizeof(h->counters[n].id), "%s", id);
	/* Published after the id is written: /metrics reads below n only. */
	atomic_store(&h->n_counters, n + 1);
	return &h->counters[n];
}

enum error_code keyring_load(struct keyring_holder *holder, char *const *specs, size_t n,
			     bool required, struct keyring **out, struct buf *errors)
{
	struct keyring *kr;
	bool ok = true;
	const char *why;

	*out = NULL;
	if (n > KEYRING_MAX_KEYS) {
		buf_printf(errors, "encryption.keys: at most %d keys\n", KEYRING_MAX_KEYS);
		return ERROR_INVALID;
	}
	kr = calloc(1, sizeof(*kr));
	if (!kr)
		return ERROR_NOMEM;
	atomic_init(&kr->refs, 1);
	kr->required = required;
	kr->holder = holder;
	for (size_t i = 0; i < n; i++) {
		struct keyring_key *k = &kr->keys[kr->n];
		const char *colon;
		size_t id_len;

		if (!keyring_spec_valid(specs[i], &why)) {
			buf_printf(errors, "encryption.keys[%zu] %s\n", i, why);
			ok = false;
			continue;
		}
		colon = strchr(specs[i], ':');
		id_len = (size_t)(colon - specs[i]);
		memcpy(k->id, specs[i], id_len);
		k->id[id_len] = '\0';
		for (size_t j = 0; j < kr->n; j++)
			if (strcmp(kr->keys[j].id, k->id) == 0) {
				buf_printf(errors, "encryption.keys[%zu]: key id \"%s\" is listed twice\n",
					   i, k->id);
				ok = false;
			}
		if (!keyring_read_file(colon + 1, k->key, errors)) {
			ok = false;
			continue;
		}
		kr->n++;
	}
	if (!ok) {
		keyring_unref(kr);
		return ERROR_INVALID;
	}
	if (holder)
		for (size_t i = 0; i < kr->n; i++)
			kr->keys[i].counter = keyring_counter_for(holder, kr->keys[i].id);
	*out = kr;
	return ERROR_OK;
}

void keyring_unref(struct keyring *kr)
{
	if (!kr || atomic_fetch_sub(&kr->refs, 1) != 1)
		return;
	OPENSSL_cleanse(kr->keys, sizeof(kr->keys));
	free(kr);
}

size_t keyring_count(const struct keyring *kr)
{
	return kr ? kr->n : 0;
}

const char *keyring_key_id(const struct keyring *kr, size_t i)
{
	return kr && i < kr->n ? kr->keys[i].id : NULL;
}

bool keyring_required(const struct keyring *kr)
{
	return kr && kr->required;
}

/* ---- sealing and opening items ------------------------------------------------- */

/* The writable attribute called name, or NULL. */
static struct ddb_attr *keyring_attr(struct ddb_item *item, const char *name)
{
	for (size_t i = 0; i < item->n; i++)
		if (strcmp(item->attrs[i].name, name) == 0)
			return &item->attrs[i];
	return NULL;
}

/* Gives a the text of b (which is left empty). */
static enum error_code keyring_attr_take(struct ddb_attr *a, struct buf *b)
{
	size_t len = b->len;
	char *text = buf_steal(b);

	if (!text)
		return ERROR_NOMEM;
	free(a->value);
	a->value = text;
	a->value_len = len;
	return ERROR_OK;
}

size_t keyring_sealed_len(const struct keyring *kr, size_t len)
{
	if (!kr || !kr->n)
		return len;
	return seal_text_len(strlen(kr->keys[0].id), len);
}

enum error_code keyring_seal_item(const struct keyring *kr, struct ddb_item *item,
				  const char *hash_key)
{
	const struct ddb_attr *key;
	struct ddb_attr *sess;
	struct buf sealed;
	enum error_code rc;

	if (!kr || !kr->n || !item || !hash_key)
		return ERROR_INVALID;
	key = ddb_item_get(item, hash_key);
	sess = keyring_attr(item, "sess");
	if (!key || key->type != DDB_TYPE_S || !sess || sess->type != DDB_TYPE_S)
		return ERROR_INVALID;
	buf_init(&sealed, 0);
	rc = seal_text(kr->keys[0].key, kr->keys[0].id, key->value, key->value_len, sess->value,
		       sess->value_len, &sealed);
	if (rc == ERROR_OK)
		rc = keyring_attr_take(sess, &sealed);
	buf_free(&sealed);
	if (rc == ERROR_OK && kr->keys[0].counter)
		atomic_fetch_add_explicit(&kr->keys[0].counter->writes, 1, memory_order_relaxed);
	return rc;
}

/* Drops the attribute a of item. */
static void keyring_attr_remove(struct ddb_item *item, struct ddb_attr *a)
{
	size_t i = (size_t)(a - item->attrs);

	free(a->name);
	free(a->value);
	memmove(&item->attrs[i], &item->attrs[i + 1], (item->n - i - 1) * sizeof(*a));
	item->n--;
}

static enum keyring_read keyring_fail(const struct keyring *kr, enum keyring_failure f,
				      struct keyring_read_info *info, const char *why)
{
	info->why = why;
	if (kr && kr->holder)
		atomic_fetch_add_explicit(&kr->holder->failures[f], 1, memory_order_relaxed);
	return KEYRING_READ_FAILED;
}

enum keyring_read keyring_open_item(const struct keyring *kr, struct ddb_item *item,
				    const char *hash_key, struct keyring_read_info *info)
{
	struct ddb_attr *sess = keyring_attr(item, "sess");
	const struct ddb_attr *key = ddb_item_get(item, hash_key);
	const struct keyring_key *k = NULL;
	struct seal_text st;
	struct buf plain;
	enum error_code rc;

	memset(info, 0, sizeof(*info));
	info->why = "";
	if (!sess)
		return KEYRING_READ_NONE;
	if (sess->type != DDB_TYPE_S || !seal_is_sealed(sess->value, sess->value_len)) {
		if (kr && kr->holder)
			atomic_fetch_add_explicit(kr->required ? &kr->holder->plain_absent
							       : &kr->holder->plain_reads,
						  1, memory_order_relaxed);
		if (!keyring_required(kr))
			return KEYRING_READ_PLAIN;
		keyring_attr_remove(item, sess);
		return KEYRING_READ_ABSENT;
	}
	if (seal_parse(sess->value, sess->value_len, &st) != ERROR_OK)
		return keyring_fail(kr, FAIL_MALFORMED, info, "malformed sealed text");
	memcpy(info->key_id, st.key_id, st.key_id_len);
	info->key_id[st.key_id_len] = '\0';
	for (size_t i = 0; kr && i < kr->n && !k; i++)
		if (strcmp(kr->keys[i].id, info->key_id) == 0) {
			k = &kr->keys[i];
			info->key_index = i;
		}
	if (!k)
		return keyring_fail(kr, FAIL_UNKNOWN_KEY, info,
				    kr ? "unknown key id" : "no encryption keys configured");
	if (!key || key->type != DDB_TYPE_S)
		return keyring_fail(kr, FAIL_MALFORMED, info, "item without its hash key");
	buf_init(&plain, 0);
	rc = seal_open(k->key, &st, key->value, key->value_len, &plain);
	if (rc == ERROR_OK)
		rc = keyring_attr_take(sess, &plain);
	buf_free(&plain);
	if (rc == ERROR_PARSE)
		return keyring_fail(kr, FAIL_BAD_TAG, info,
				    "does not authenticate (wrong key, moved or altered)");
	if (rc != ERROR_OK)
		return KEYRING_READ_NOMEM;
	if (k->counter)
		atomic_fetch_add_explicit(&k->counter->reads, 1, memory_order_relaxed);
	return KEYRING_READ_OPENED;
}

enum keyring_read keyring_reseal(const struct keyring *kr, const struct ddb_item *item,
				 const char *hash_key, struct buf *out,
				 struct keyring_read_info *info)
{
	struct ddb_item copy = { 0 };
	const struct ddb_attr *sess = ddb_item_get(item, "sess");
	enum keyring_read rd = KEYRING_READ_NONE;

	memset(info, 0, sizeof(*info));
	info->why = "";
	if (!kr || !kr->n || !sess || sess->type != DDB_TYPE_S ||
	    !seal_is_sealed(sess->value, sess->value_len))
		return KEYRING_READ_NONE;
	if (ddb_item_copy(&copy, item) != ERROR_OK)
		return KEYRING_READ_NOMEM;
	rd = keyring_open_item(kr, &copy, hash_key, info);
	if (rd == KEYRING_READ_OPENED && info->key_index == 0)
		rd = KEYRING_READ_NONE;
	if (rd == KEYRING_READ_OPENED) {
		if (keyring_seal_item(kr, &copy, hash_key) != ERROR_OK)
			rd = KEYRING_READ_NOMEM;
		else if (buf_append(out, ddb_item_get(&copy, "sess")->value,
				    ddb_item_get(&copy, "sess")->value_len) != ERROR_OK)
			rd = KEYRING_READ_NOMEM;
	}
	ddb_item_clear(&copy);
	return rd;
}

void keyring_log_hash(const char *text, size_t len, char out[17])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)text, len, md);
	hex_encode(md, 8, out);
}

/* ---- the holder -------------------------------------------------------------------- */

struct keyring_holder *keyring_holder_new(void)
{
	struct keyring_holder *h = calloc(1, sizeof(*h));

	if (h && pthread_mutex_init(&h->lock, NULL) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

void keyring_holder_free(struct keyring_holder *h)
{
	if (!h)
		return;
	keyring_unref(h->cur);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void keyring_holder_set(struct keyring_holder *h, struct keyring *kr)
{
	struct keyring *old;

	pthread_mutex_lock(&h->lock);
	old = h->cur;
	h->cur = kr;
	atomic_store(&h->on, kr && kr->n);
	pthread_mutex_unlock(&h->lock);
	keyring_unref(old);
}

struct keyring *keyring_holder_get(struct keyring_holder *h)
{
	struct keyring *kr = NULL;

	if (!h || !atomic_load_explicit(&h->on, memory_order_relaxed))
		return NULL;
	pthread_mutex_lock(&h->lock);
	if (h->cur && h->cur->n) {
		kr = h->cur;
		atomic_fetch_add_explicit(&kr->refs, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&h->lock);
	return kr;
}

void keyring_holder_write_metrics(struct keyring_holder *h, struct buf *b)
{
	struct keyring *kr;
	size_t n;
	char labels[96];

	if (!h)
		return;
	kr = keyring_holder_get(h);
	metrics_family(b, "sessiond_encryption_key_info", "gauge",
		       "Keys in force; role=\"encrypt\" seals, every key opens.");
	for (size_t i = 0; i < keyring_count(kr); i++) {
		snprintf(labels, sizeof(labels), "key=\"%s\",role=\"%s\"", kr->keys[i].id,
			 i ? "decrypt" : "encrypt");
		metrics_sample(b, "sessiond_encryption_key_info", labels, 1);
	}
	keyring_unref(kr);
	n = atomic_load(&h->n_counters);
	metrics_family(b, "sessiond_encryption_reads_total", "counter",
		       "Sealed sessions opened (reads, and the items writes return), by the "
		       "key that opened them: a key no longer counted is no longer needed.");
	for (size_t i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "key=\"%s\"", h->counters[i].id);
		metrics_sample(b, "sessiond_encryption_reads_total", labels,
			       atomic_load(&h->counters[i].reads));
	}
	metrics_family(b, "sessiond_encryption_writes_total", "counter",
		       "Sessions sealed, by the key that sealed them.");
	for (size_t i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "key=\"%s\"", h->counters[i].id);
		metrics_sample(b, "sessiond_encryption_writes_total", labels,
			       atomic_load(&h->counters[i].writes));
	}
	metrics_family(b, "sessiond_encryption_plain_reads_total", "counter",
		       "Sessions read whose sess is not encrypted; absent=\"true\": counted as "
		       "absent under encryption.required.");
	metrics_sample(b, "sessiond_encryption_plain_reads_total", "absent=\"false\"",
		       atomic_load(&h->plain_reads));
	metrics_sample(b, "sessiond_encryption_plain_reads_total", "absent=\"true\"",
		       atomic_load(&h->plain_absent));
	metrics_family(b, "sessiond_encryption_decrypt_failures_total", "counter",
		       "Sealed sessions that did not open (answered 500).");
	for (int f = 0; f < FAIL_COUNT; f++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", keyring_failure_label[f]);
		metrics_sample(b, "sessiond_encryption_decrypt_failures_total", labels,
			       atomic_load(&h->failures[f]));
	}
}
