/* touch.c: the query of a sliding read and the throttling rule of
 * session.touch_after (touch.h). Pure, so the fuzzer and the unit tests
 * reach every branch without a daemon. */
#include <stdio.h>
#include <string.h>

#include "sessiond/touch.h"

static enum error_code touch_refuse(struct touch_query *out, struct session_why *why,
				    const char *detail)
{
	memset(out, 0, sizeof(*out));
	if (why)
		snprintf(why->detail, sizeof(why->detail), "%s", detail);
	return ERROR_PARSE;
}

enum error_code touch_query_parse(const char *query, int64_t max_ttl, struct touch_query *out,
				  struct session_why *why)
{
	bool seen_touch = false, seen_ttl = false;
	char ttl[24];
	const char *p = query;

	if (!out)
		return ERROR_INVALID;
	memset(out, 0, sizeof(*out));
	if (why)
		why->detail[0] = '\0';
	while (p && *p) {
		const char *end = strchr(p, '&'), *eq;
		size_t len, nl;

		if (!end)
			end = p + strlen(p);
		len = (size_t)(end - p);
		eq = memchr(p, '=', len);
		nl = eq ? (size_t)(eq - p) : len;
		if (nl == 5 && memcmp(p, "touch", 5) == 0) {
			if (seen_touch)
				return touch_refuse(out, why, "the touch parameter is given twice");
			seen_touch = true;
			if (!eq || len != 7 || eq[1] != '1')
				return touch_refuse(out, why, "touch must be 1 when given");
			out->touch = true;
		} else if (nl == 3 && memcmp(p, "ttl", 3) == 0) {
			size_t vl = eq ? len - 4 : 0;
			enum error_code rc;

			if (seen_ttl)
				return touch_refuse(out, why, "the ttl parameter is given twice");
			seen_ttl = true;
			if (vl >= sizeof(ttl))
				return touch_refuse(out, why, "the ttl parameter is too long");
			memcpy(ttl, eq ? eq + 1 : "", vl);
			ttl[vl] = '\0';
			rc = session_ttl_parse(ttl, max_ttl, &out->ttl, why);
			if (rc != ERROR_OK) { /* why says what ttl may be */
				memset(out, 0, sizeof(*out));
				return rc;
			}
			out->has_ttl = true;
		}
		p = *end ? end + 1 : NULL;
	}
	if (out->has_ttl && !out->touch)
		return touch_refuse(out, why, "ttl on a GET is allowed only with touch=1");
	return ERROR_OK;
}

bool touch_must_write(int64_t stored, int64_t wanted, int64_t touch_after)
{
	/* Both are Unix times within max_ttl of now: no overflow. */
	int64_t moved = wanted > stored ? wanted - stored : stored - wanted;

	return touch_after <= 0 || moved > touch_after;
}
