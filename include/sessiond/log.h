/* log.h: leveled log lines to stderr, where systemd and containers collect
 * them. The level is checked before any argument is formatted. Never pass a
 * secret (keys, tokens, session ids or data) to these functions. */
#ifndef SESSIOND_LOG_H
#define SESSIOND_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the most verbose level printed (default LOG_LEVEL_INFO). Safe to call
 * from any thread at any time: the level is an atomic. */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/* true: each line is a JSON object {"time","level","msg",...}. */
void log_set_json(bool json);

/* Parses "error", "warn", "info" or "debug"; false for anything else. */
bool log_level_parse(const char *text, enum log_level *out);

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The one line per HTTP request, at info level: in JSON its fields are
 * separate members (request_id, method, route, status, duration_ms,
 * ddb_attempts). rid is the request id as echoed to the client. */
void log_request(const char *rid, const char *method, const char *route, unsigned status,
		 double ms, unsigned attempts);

/* Batching, for an event loop's thread: from log_batch_begin on, this
 * thread's request lines wait in a per-thread buffer (PIPE_BUF bytes) and
 * go out together at log_flush, which the loop calls after every turn: one
 * write(2) per turn (per PIPE_BUF bytes) instead of one per request, and
 * no line waits longer than the turn that made it. Any other line, and a
 * full buffer, flush first, so the thread's lines keep their order.
 * log_batch_end flushes and stops. All three act on the calling thread
 * only. A crash (abort, SIGKILL) loses the lines of the turn it cuts. */
void log_batch_begin(void);
void log_flush(void);
void log_batch_end(void);

#define log_at(lvl, ...) \
	do { \
		if (log_enabled(lvl)) \
			log_write(lvl, __VA_ARGS__); \
	} while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
