/* log.c: one line per call on stderr, as text ("TIME LEVEL message") or as
 * JSON objects (log.format = "json"). Each line is formatted into a stack
 * buffer and written whole with one write(2) (request lines of a batching
 * thread a turn's worth at a time), so lines of two threads never
 * interleave. */
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sessiond/log.h"

#define LOG_LINE_MAX 2048

static atomic_int log_level = LOG_LEVEL_INFO;
static atomic_bool log_json = false;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

/* A batching thread's request lines, waiting for log_flush. A write(2) of
 * at most PIPE_BUF bytes to a pipe is atomic (POSIX), so a batch is never
 * split among another thread's lines; on Linux an AF_UNIX stream socket
 * (journald's stderr) takes a write that small whole as well. */
struct log_batch {
	bool on;
	size_t len;
	char text[PIPE_BUF];
};

static _Thread_local struct log_batch log_batch;

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

static void log_out(const char *text, size_t n)
{
	/* A failed or short write to stderr has nowhere better to be reported. */
	if (n && write(STDERR_FILENO, text, n) < 0)
		return;
}

void log_flush(void)
{
	log_out(log_batch.text, log_batch.len);
	log_batch.len = 0;
}

void log_batch_begin(void)
{
	log_batch.on = true;
}

void log_batch_end(void)
{
	log_flush();
	log_batch.on = false;
}

/* line has room for the newline at n. Other lines than request lines go
 * out at once, after what waits, so a thread's lines keep their order. */
static void log_emit(char *line, size_t n, bool batchable)
{
	line[n++] = '\n';
	if (!batchable || !log_batch.on || n > sizeof(log_batch.text)) {
		log_flush();
		log_out(line, n);
		return;
	}
	if (n > sizeof(log_batch.text) - log_batch.len)
		log_flush();
	memcpy(log_batch.text + log_batch.len, line, n);
	log_batch.len += n;
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
	log_emit(line, n, false);
}

/* ---- the request line, without printf --------------------------------- */

/* Appends s (its first len bytes) to line at *n, bounded by cap. */
static void log_put(char *line, size_t *n, size_t cap, const char *s, size_t len)
{
	if (len > cap - *n)
		len = cap - *n;
	memcpy(line + *n, s, len);
	*n += len;
}

static void log_put_str(char *line, size_t *n, size_t cap, const char *s)
{
	log_put(line, n, cap, s, strlen(s));
}

/* v in decimal, then "." and `decimals` digits of frac (frac < 10^decimals). */
static void log_put_num(char *line, size_t *n, size_t cap, uint64_t v, unsigned frac,
			unsigned decimals)
{
	char digits[32], *p = digits + sizeof(digits);

	for (unsigned i = 0; i < decimals; i++, frac /= 10)
		*--p = (char)('0' + frac % 10);
	if (decimals)
		*--p = '.';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	log_put(line, n, cap, p, (size_t)(digits + sizeof(digits) - p));
}

/* ms with `decimals` (2 or 3) digits after the point, rounded. */
static void log_put_ms(char *line, size_t *n, size_t cap, double ms, unsigned decimals)
{
	unsigned scale = decimals == 3 ? 1000 : 100;
	uint64_t v = ms > 0 ? (uint64_t)(ms * scale + 0.5) : 0;

	log_put_num(line, n, cap, v / scale, (unsigned)(v % scale), decimals);
}

/* The timestamp as log_time writes it; the date and time of day are made
 * once a second per thread, the milliseconds every time. */
static void log_put_time(char *line, size_t *n, size_t cap)
{
	static _Thread_local time_t sec = -1;
	static _Thread_local char day[24];
	static _Thread_local size_t day_len;
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		gmtime_r(&ts.tv_sec, &tm);
		day_len = strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
		sec = ts.tv_sec;
	}
	log_put(line, n, cap, day, day_len);
	{
		long ms = ts.tv_nsec / 1000000;
		char frac[5] = { '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10),
				 (char)('0' + ms % 10), 'Z' };

		log_put(line, n, cap, frac, sizeof(frac));
	}
}

/* One line per request, the hot path of the log: no printf, and on a
 * batching thread no write(2) of its own. */
void log_request(const char *rid, const char *method, const char *route, unsigned status,
		 double ms, unsigned attempts)
{
	char line[512];
	size_t n = 0, cap = sizeof(line) - 1; /* room for the newline */

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	if (!atomic_load(&log_json)) {
		/* rid is printable ASCII without spaces (the server checks or
		 * makes it), method and route are the server's own words:
		 * nothing here can split the line. */
		log_put_time(line, &n, cap);
		log_put_str(line, &n, cap, " info request rid=");
		log_put_str(line, &n, cap, rid);
		log_put_str(line, &n, cap, " method=");
		log_put_str(line, &n, cap, method);
		log_put_str(line, &n, cap, " route=");
		log_put_str(line, &n, cap, route);
		log_put_str(line, &n, cap, " status=");
		log_put_num(line, &n, cap, status, 0, 0);
		log_put_str(line, &n, cap, " ms=");
		log_put_ms(line, &n, cap, ms, 2);
		log_put_str(line, &n, cap, " ddb_attempts=");
		log_put_num(line, &n, cap, attempts, 0, 0);
		log_emit(line, n, true);
		return;
	}
	log_put_str(line, &n, cap, "{\"time\":\"");
	log_put_time(line, &n, cap);
	log_put_str(line, &n, cap, "\",\"level\":\"info\",\"msg\":\"request\",\"request_id\":\"");
	log_json_escape(line, &n, sizeof(line) - 160, rid);
	log_put_str(line, &n, cap, "\",\"method\":\"");
	log_put_str(line, &n, cap, method);
	log_put_str(line, &n, cap, "\",\"route\":\"");
	log_put_str(line, &n, cap, route);
	log_put_str(line, &n, cap, "\",\"status\":");
	log_put_num(line, &n, cap, status, 0, 0);
	log_put_str(line, &n, cap, ",\"duration_ms\":");
	log_put_ms(line, &n, cap, ms, 3);
	log_put_str(line, &n, cap, ",\"ddb_attempts\":");
	log_put_num(line, &n, cap, attempts, 0, 0);
	log_put_str(line, &n, cap, "}");
	log_emit(line, n, true);
}
