/* log.c: one line per call on stderr, as text ("TIME LEVEL message") or as
 * JSON objects (log.format = "json"). Each line is formatted into a stack
 * buffer and written with one write(2), so that lines from concurrent
 * threads never interleave. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sessiond/log.h"

#define LOG_LINE_MAX 2048

static atomic_int log_level = LOG_LEVEL_INFO;
static atomic_bool log_json = false;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

void log_set_json(bool json)
{
	atomic_store(&log_json, json);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

bool log_level_parse(const char *text, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(text, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

/* "2026-11-25T10:47:58.026Z" into out (32 bytes). */
static void log_time(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	size_t k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Appends s JSON-escaped to line at *n (bounded; truncates). Control bytes
 * become \u00XX so a log line can never be split or forged. */
static void log_json_escape(char *line, size_t *n, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s && *n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			line[(*n)++] = '\\';
			line[(*n)++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(line + *n, "\\u00", 4);
			line[*n + 4] = hex[c >> 4];
			line[*n + 5] = hex[c & 15];
			*n += 6;
		} else {
			line[(*n)++] = (char)c;
		}
	}
}

static void log_emit(char *line, size_t n)
{
	line[n++] = '\n';
	/* A failed or short write to stderr has nowhere better to be reported. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

/* The text form keeps a message on one line: control bytes become '?'. */
static void log_flatten(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void log_write(enum log_level level, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX - 128], line[LOG_LINE_MAX + 256], when[32];
	size_t n;
	int m;
	va_list ap;

	va_start(ap, fmt);
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	log_time(when, sizeof(when));
	if (atomic_load(&log_json)) {
		n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"",
				     when, log_names[level]);
		log_json_escape(line, &n, sizeof(line) - 3, msg);
		line[n++] = '"';
		line[n++] = '}';
	} else {
		log_flatten(msg);
		m = snprintf(line, sizeof(line) - 1, "%s %s %s", when, log_names[level], msg);
		n = m < 0 ? 0 : (size_t)m < sizeof(line) - 1 ? (size_t)m : sizeof(line) - 2;
	}
	log_emit(line, n);
}

void log_request(const char *rid, const char *method, const char *route, unsigned status,
		 double ms, unsigned attempts)
{
	char line[512], when[32];
	size_t n;

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	if (!atomic_load(&log_json)) {
		log_write(LOG_LEVEL_INFO, "request rid=%s method=%s route=%s status=%u ms=%.2f "
					  "ddb_attempts=%u",
			  rid, method, route, status, ms, attempts);
		return;
	}
	log_time(when, sizeof(when));
	n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"info\",\"msg\":"
						 "\"request\",\"request_id\":\"",
			     when);
	log_json_escape(line, &n, sizeof(line) - 160, rid);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
			      "\",\"method\":\"%s\",\"route\":\"%s\",\"status\":%u,"
			      "\"duration_ms\":%.3f,\"ddb_attempts\":%u}",
			      method, route, status, ms, attempts);
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	log_emit(line, n);
}
