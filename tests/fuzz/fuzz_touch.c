/* fuzz_touch.c: libFuzzer harness for src/touch.c: the input is the query of
 * a GET /v1/sessions/{id} (the text after '?'), parsed under two max_ttl
 * values; every answer is checked against what touch.h promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sessiond/touch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *q, int64_t max_ttl)
{
	struct session_why why;
	struct touch_query t;
	enum error_code rc = touch_query_parse(q, max_ttl, &t, &why);

	if (rc == ERROR_OK) {
		/* ttl only with touch, and within bounds; the verdict on touch
		 * agrees with a plain search for the exact parameter. */
		if (t.has_ttl && (!t.touch || t.ttl < 1 || t.ttl > max_ttl))
			abort();
		if (!t.has_ttl && t.ttl != 0)
			abort();
		if (t.touch && strcmp(q, "touch=1") != 0 && !strstr(q, "&touch=1") &&
		    strncmp(q, "touch=1&", 8) != 0)
			abort();
	} else if (rc == ERROR_PARSE) {
		if (t.touch || t.has_ttl || !why.detail[0] || !memchr(why.detail, '\0', sizeof(why.detail)))
			abort();
	} else {
		abort();
	}
	/* The rule is symmetric and 0 always writes. */
	if (touch_must_write(t.ttl, max_ttl, 60) != touch_must_write(max_ttl, t.ttl, 60) ||
	    !touch_must_write(t.ttl, t.ttl, 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q = malloc(size + 1);

	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = '\0'; /* a NUL inside ends the query, as in a C string target */
	check(q, 2592000);
	check(q, 1);
	free(q);
	return 0;
}
