/* error.h: the one error vocabulary of sessiond.
 * Every fallible function returns an enum error_code; detail from upstream
 * (DynamoDB's __type and message, an HTTP status) travels in a bounded struct
 * that the caller passes in, never in global or thread-local state. */
#ifndef SESSIOND_ERROR_H
#define SESSIOND_ERROR_H

enum error_code {
	ERROR_OK = 0,
	ERROR_NOMEM,       /* allocation failed */
	ERROR_INVALID,     /* a caller passed arguments that break the contract */
	ERROR_PARSE,       /* input text (JSON, HTTP, a number) is malformed */
	ERROR_TOO_LARGE,   /* a bounded buffer or body would exceed its cap */
	ERROR_IO,          /* a system call or the network failed */
	ERROR_TIMEOUT,     /* a deadline passed */
	ERROR_CANCELLED,   /* the owner shut down before the work finished */
	ERROR_CONDITION,   /* DynamoDB refused a conditional write */
	ERROR_UNAVAILABLE, /* DynamoDB failed retryably and retries ran out */
	ERROR_UPSTREAM,    /* DynamoDB refused the request (validation, access, table) */
	ERROR_COUNT
};

/* A short constant English text for code; never NULL. */
const char *error_str(enum error_code code);

#endif
