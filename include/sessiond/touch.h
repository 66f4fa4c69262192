/* touch.h: the pure half of sliding reads and touch throttling (api.md
 * v1.1): the query of GET /v1/sessions/{id}?touch=1[&ttl=N], and whether a
 * touch must write or may answer from what it read (session.touch_after).
 * No I/O; api.c does the DynamoDB calls. */
#ifndef SESSIOND_TOUCH_H
#define SESSIOND_TOUCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/error.h"
#include "sessiond/session.h"

/* What the query of a GET asked for. */
struct touch_query {
	bool touch;   /* ?touch=1: a sliding read */
	bool has_ttl; /* &ttl=N given (only with touch) */
	int64_t ttl;
};

/* Parses query, the raw text after '?' (NULL or "" when there is none),
 * of GET/HEAD /v1/sessions/{id}. "touch" must be exactly "1" when present;
 * "ttl" is decimal digits 1..max_ttl as for PATCH and is allowed only with
 * touch=1; each at most once. Other parameters are ignored, as in v1.
 * ERROR_PARSE with why filled on any violation (never quoting the query);
 * out is then all false. */
enum error_code touch_query_parse(const char *query, int64_t max_ttl, struct touch_query *out,
				  struct session_why *why);

/* Whether a touch that would set expires to wanted must write, given the
 * stored expires and session.touch_after: only when it moves expires, in
 * either direction, by more than touch_after seconds. touch_after 0:
 * always (v1: the touch endpoint then makes no read at all). */
bool touch_must_write(int64_t stored, int64_t wanted, int64_t touch_after);

#endif
