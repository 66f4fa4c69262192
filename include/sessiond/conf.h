/* conf.h: sessiond's settings, the one table of them, and their parsing
 * from a libconfig file (docs/configuration.md; each setting is described
 * in docs/sessiond.8). Parsed once at start; the rest of the program sees a
 * const struct conf. */
#ifndef SESSIOND_CONF_H
#define SESSIOND_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/buf.h"
#include "sessiond/error.h"
#include "sessiond/log.h"

#define CONF_DEFAULT_PATH "/etc/sessiond/sessiond.conf"

enum conf_log_format { CONF_LOG_TEXT, CONF_LOG_JSON };

/* Every string is owned by the struct (freed by conf_free) and never NULL
 * after conf_load: an unset string setting is "". Integers are int64_t so
 * that one table entry type serves them all. */
struct conf {
	struct {
		char *address;
		int64_t port; /* 0: any free port, logged at start */
		int64_t threads;
	} listen;
	struct {
		int64_t max_connections;
		int64_t connection_timeout;
		int64_t max_body;
		int64_t request_timeout_ms;
		int64_t drain; /* seconds of serving after SIGTERM, /readyz 503 */
	} limits;
	struct {
		char **tokens; /* n_tokens strings */
		size_t n_tokens;
		char *token_file;
		bool metrics; /* /metrics needs the token too */
	} auth;
	struct {
		char *region;
		char *endpoint;
		char *table;
		char *hash_key;
		char *prefix;
		bool consistent_read;
		bool create_table;
		int64_t max_connections;
		int64_t timeout_ms;
		int64_t max_attempts;
		char *proxy;
		char *ca_file;
	} dynamodb;
	struct {
		char *access_key_id;
		char *secret_access_key; /* wiped by conf_free */
		char *session_token;     /* wiped by conf_free */
		char *profile;
	} credentials;
	struct {
		int64_t default_ttl;
		int64_t max_ttl;
		int64_t touch_after; /* a touch writes only when it moves expires more */
	} session;
	struct {
		char *index;     /* GSI of the sessions of a user; "" = off */
		char *attribute; /* item attribute holding the owner */
	} users;
	struct {
		char **keys; /* n_keys "id:path" strings; must precede n_keys */
		size_t n_keys;
		bool required;
	} encryption;
	struct {
		bool enabled;
		int64_t interval;
		int64_t max_deletes_per_second;
		int64_t segments;
		int64_t rekey_per_second;
	} reaper;
	struct {
		enum log_level level;
		enum conf_log_format format;
	} log;
};

/* Fills out with the defaults, then the settings of the file at path, then
 * what the environment supplies for settings the file left unset
 * (AWS_REGION / AWS_DEFAULT_REGION; credentials come from creds.c's chain). path NULL: defaults and environment only.
 * The file (and auth.token_file) must be a regular file of at most 1 MiB;
 * anything else, a FIFO included, is refused without blocking (file.h).
 * Every problem found is appended to errors as one "FILE:LINE: message"
 * line; then ERROR_INVALID is returned and out is freed. */
enum error_code conf_load(const char *path, struct conf *out, struct buf *errors);

/* Logs the effective settings on one info line; credentials and tokens
 * show only whether they are set. */
void conf_log_summary(const struct conf *c);

/* Frees every string, wiping the secrets; accepts a zeroed struct. */
void conf_free(struct conf *c);

/* Reads a token file: one token a line, blank lines and lines starting with
 * '#' skipped, surrounding white space trimmed. On success *tokens is a new
 * array of *n new strings (free with conf_tokens_free). On failure one
 * "FILE:LINE: message" line goes to errors. */
enum error_code conf_read_token_file(const char *path, char ***tokens, size_t *n,
				     struct buf *errors);
void conf_tokens_free(char **tokens, size_t n);

#endif
