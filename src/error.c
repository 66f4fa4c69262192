/* error.c: texts for the error vocabulary in error.h.
 * The mapping to HTTP statuses lives with the HTTP front end. */
#include "sessiond/error.h"

static const char *const error_texts[ERROR_COUNT] = {
	[ERROR_OK] = "ok",
	[ERROR_NOMEM] = "out of memory",
	[ERROR_INVALID] = "invalid argument",
	[ERROR_PARSE] = "malformed input",
	[ERROR_TOO_LARGE] = "too large",
	[ERROR_IO] = "input/output error",
	[ERROR_TIMEOUT] = "timed out",
	[ERROR_CANCELLED] = "cancelled",
	[ERROR_CONDITION] = "condition not met",
	[ERROR_UNAVAILABLE] = "DynamoDB unavailable",
	[ERROR_UPSTREAM] = "DynamoDB refused the request",
};

const char *error_str(enum error_code code)
{
	if ((unsigned)code >= ERROR_COUNT)
		return "unknown error";
	return error_texts[code];
}
