/* http_check.h: the judgement of a request's line and header fields, on
 * plain strings: tokens, message framing, control bytes in the target, route
 * patterns, Content-Length and Content-Type. Pure: no libmicrohttpd, no I/O,
 * no allocation. http_server.c collects what the library parsed, asks here,
 * and answers; nothing here answers a request itself. */
#ifndef SESSIOND_HTTP_CHECK_H
#define SESSIOND_HTTP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/session.h"

/* Room for what http_check_match writes: a session id or an owner (a
 * user id of up to 256 characters of UTF-8), and a NUL. */
#define HTTP_CHECK_ID_SIZE (SESSION_USER_BYTES + 1)

/* The longest X-Request-Id echoed back (http_check_rid_sane). */
#define HTTP_CHECK_RID_MAX 128

/* True if s is an RFC 9110 token: one or more tchar. */
bool http_check_token(const char *s);

/* True if an X-Request-Id value may be echoed: 1..HTTP_CHECK_RID_MAX
 * characters of A-Z a-z 0-9 - _ . : / + = @. False for NULL. */
bool http_check_rid_sane(const char *v);

/* True if a request target, percent-encoded as received, holds no raw
 * control byte, space or DEL, no encoded one (%00-%1F, %7F), and only
 * complete escapes. */
bool http_check_target_clean(const char *target);

/* RFC 9112 3.2.2: rewrites an absolute-form target ("http://host/p?q",
 * "https://host?q") to its origin form ("/p?q", "/?q") in place; any other
 * target is left alone. NULL is allowed. */
void http_check_origin_form(char *target);

enum http_check_match {
	HTTP_CHECK_MATCH_NONE,   /* another resource */
	HTTP_CHECK_MATCH_PATH,   /* this one; id holds the decoded id or "" */
	HTTP_CHECK_MATCH_BAD_ID, /* this one, but its {id} is not a session id */
};

/* Matches path[0..path_len) (raw, without the query) against a route
 * pattern with at most one "{id}" or "{uid}" segment. id has room for
 * HTTP_CHECK_ID_SIZE bytes; on HTTP_CHECK_MATCH_PATH it holds the
 * percent-decoded segment (for {id} a valid session id, for {uid} a valid
 * owner, session_user_valid), or "" for a pattern without one. */
enum http_check_match http_check_match(const char *pattern, const char *path, size_t path_len,
				       char *id);

/* True if a Content-Type value names the media type want (compared
 * case-insensitively, surrounding blanks and parameters ignored). */
bool http_check_media_type(const char *value, const char *want);

/* Parses a Content-Length value into *out: 1*DIGIT with nothing before or
 * after, fitting in 64 bits. False (*out untouched) otherwise. */
bool http_check_content_length(const char *value, unsigned long long *out);

/* True if a Transfer-Encoding list names chunked exactly once, last. */
bool http_check_te_chunked_last_once(const char *te);

/* One request head as the HTTP library parsed it. The caller sets the
 * first group, zeroes the rest, then hands every header field to
 * http_check_head_field and the whole to http_check_head_judge. Strings
 * are borrowed and must outlive both calls. */
struct http_check_head {
	const char *method;
	const char *target;  /* as received, after http_check_origin_form */
	/* Where the library's buffer held the target and the version: it
	 * parses the head in place, so a version that starts further from the
	 * target than the target's length means a NUL inside it, and a field
	 * name that does not lie between the version and its value was moved
	 * there by an obs-fold (see http_check_head_field). */
	uintptr_t target_at;
	size_t target_len;   /* strlen of the target as received */
	const char *version; /* as handed over by the library; NULL if unknown */
	size_t span;         /* the most bytes one head spans in its memory */

	/* Counted by http_check_head_field. */
	int content_length, transfer_encoding, authorization, request_id, host;
	int malformed;         /* names that are not tokens, or garbled framing */
	int folded;            /* fields continued on another line (obs-fold) */
	const char *te;        /* the (last) Transfer-Encoding value, or NULL */
	const char *rid;       /* the (last) X-Request-Id value, or NULL */
};

/* Counts one header field (name and value as the library reported them,
 * pointing into its buffer) into h. */
void http_check_head_field(struct http_check_head *h, const char *name, const char *value);

/* The X-Request-Id to echo: the value of the only such field when it is
 * sane (http_check_rid_sane), else NULL (the caller makes one up). */
const char *http_check_head_rid(const struct http_check_head *h);

/* A refusal: status 0 when the head passes, else 400 or 501 with a
 * one-line static detail. Every refusal should close the connection:
 * the framing of what follows cannot be trusted. */
struct http_check_verdict {
	unsigned status;
	const char *detail;
};

/* Judges the method, the framing headers counted by http_check_head_field
 * and the target; routing, auth and the body are the caller's. */
struct http_check_verdict http_check_head_judge(const struct http_check_head *h);

#endif
