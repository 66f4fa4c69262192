/* sigv4.h: AWS Signature Version 4 for requests signed in the Authorization
 * header, as staged pure functions: canonical request -> string to sign ->
 * signing key -> signature -> Authorization value. No I/O and no clock: the
 * time is a parameter. Presigned (query-string) URLs are not implemented. */
#ifndef SESSIOND_SIGV4_H
#define SESSIOND_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "sessiond/buf.h"
#include "sessiond/error.h"

#define SIGV4_KEY_LEN 32      /* bytes of a derived signing key (HMAC-SHA256) */
#define SIGV4_HEX_LEN 64      /* hex digits of a SHA-256 or a signature */
#define SIGV4_AMZ_DATE_LEN 16 /* "20150830T123600Z" */
#define SIGV4_DATE_LEN 8      /* "20150830" */
#define SIGV4_MAX_HEADERS 64  /* most headers one request may sign; more:
                                 ERROR_TOO_LARGE */

/* Borrowed strings; session_token NULL or "" when there is none. */
struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
};

/* One request header, borrowed. Names compare case-insensitively; a name may
 * repeat (the values are joined with "," in order, as AWS specifies). */
struct sigv4_header {
	const char *name;
	const char *value;
};

/* The request to sign; every string is borrowed. */
struct sigv4_request {
	const char *method;                 /* "GET", "POST", ... */
	const char *path;                   /* as sent on the request line, e.g. "/" */
	const char *query;                  /* after '?', without it; NULL: none */
	const struct sigv4_header *headers; /* every header listed here is signed */
	size_t n_headers;
	const void *body; /* the payload; its SHA-256 is always computed */
	size_t body_len;
};

struct sigv4_params {
	const char *region;  /* "us-east-1" */
	const char *service; /* "dynamodb" */
	time_t now;          /* the signing time, Unix seconds */
	bool normalize_path; /* remove "." and ".." segments, collapse "//"
	                        (every service but S3 wants this) */
};

/* Writes now as "YYYYMMDDTHHMMSSZ" (the x-amz-date header value) into out,
 * which holds SIGV4_AMZ_DATE_LEN + 1 bytes; "" when now falls outside the
 * years 0 to 9999 (every stage then refuses it with ERROR_INVALID). */
void sigv4_amz_date(time_t now, char *out);

/* Stage 1. Appends the canonical request to out, and the signed-headers list
 * ("host;x-amz-date") to signed_headers. ERROR_INVALID for a request that
 * cannot be canonicalised (no method, path not starting with '/'). */
enum error_code sigv4_canonical_request(const struct sigv4_request *req,
					const struct sigv4_params *params,
					struct buf *out, struct buf *signed_headers);

/* Stage 2. Appends the string to sign for a canonical request to out. */
enum error_code sigv4_string_to_sign(const struct sigv4_params *params,
				     const char *canonical_request, size_t len,
				     struct buf *out);

/* Stage 3. Derives the signing key kSigning for the date part of now, the
 * region and the service. key receives SIGV4_KEY_LEN bytes; the caller wipes
 * it with OPENSSL_cleanse when done. */
enum error_code sigv4_signing_key(const char *secret_access_key,
				  const struct sigv4_params *params,
				  unsigned char *key);

/* Stage 4. Writes the hex HMAC-SHA256 of the string to sign into hex, which
 * holds SIGV4_HEX_LEN + 1 bytes. */
enum error_code sigv4_signature(const unsigned char *key, const char *string_to_sign,
				size_t len, char *hex);

/* Stage 5. Appends the Authorization header value to out. */
enum error_code sigv4_authorization(const char *access_key_id,
				    const struct sigv4_params *params,
				    const char *signed_headers, const char *hex_signature,
				    struct buf *out);

/* A signer caches the derived signing key per (access key id, date, region,
 * service) and derives it again when any of them changes. It is not
 * thread-safe: each thread that signs owns its own signer. sigv4_signer_free
 * wipes the cached key and secrets with OPENSSL_cleanse; it accepts NULL. */
struct sigv4_signer;
struct sigv4_signer *sigv4_signer_new(void);
void sigv4_signer_free(struct sigv4_signer *signer);

/* How many times signer has derived a signing key: for tests and metrics. */
unsigned long sigv4_signer_derivations(const struct sigv4_signer *signer);

/* All stages at once: appends the Authorization header value for req to
 * authorization. The caller has put every header to sign in req (for
 * DynamoDB: host, content-type, x-amz-date from sigv4_amz_date(params->now),
 * x-amz-target and, with a session token, x-amz-security-token). */
enum error_code sigv4_signer_sign(struct sigv4_signer *signer,
				  const struct sigv4_credentials *creds,
				  const struct sigv4_request *req,
				  const struct sigv4_params *params,
				  struct buf *authorization);

#endif
