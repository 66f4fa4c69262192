/* fuzz_http.c: libFuzzer harness for src/http_check.c, the pure checks of a
 * request head. The input is split the way libmicrohttpd 0.9.75 splits a
 * head in place (format below), then judged, routed and its framing fields
 * parsed; every answer is checked against what it promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sessiond/api.h"
#include "sessiond/http_check.h"
#include "sessiond/http_server.h"
#include "sessiond/session.h"

#define FUZZ_MAX_FIELDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_field {
	char *name;
	char *value;
};

/* Cuts the next '\n'-ended line off *p (up to end), without a '\r' before
 * the '\n'; NULL when none is left. */
static char *fuzz_next_line(char **p, char *end, size_t *len)
{
	char *line = *p, *nl;

	if (line >= end)
		return NULL;
	nl = memchr(line, '\n', (size_t)(end - line));
	*len = (size_t)((nl ? nl : end) - line);
	*p = nl ? nl + 1 : end;
	if (*len && line[*len - 1] == '\r')
		(*len)--;
	line[*len] = '\0';
	return line;
}

/* libmicrohttpd 0.9.75 on an obs-fold: the continuation, without its
 * leading blanks, is appended to the previous field's name, which moves
 * to a new block of the connection's memory (the old bytes are zeroed).
 * false when that memory is full: the library refuses the request. */
static bool fuzz_fold(struct fuzz_field *f, const char *more, char **spare, const char *limit)
{
	size_t n = strlen(f->name), m;

	more += strspn(more, " \t");
	m = strlen(more);
	if ((size_t)(limit - *spare) < n + m + 1)
		return false;
	memcpy(*spare, f->name, n);
	memcpy(*spare + n, more, m + 1);
	memset(f->name, 0, n);
	f->name = *spare;
	*spare += n + m + 1;
	return true;
}

/* Whether s (n bytes) is only decimal digits, at least one. */
static bool fuzz_digits(const char *s, size_t n)
{
	return n && strspn(s, "0123456789") >= n;
}

/* Routing promises: an {id} route hands over a valid id, a {uid} route a
 * valid owner, others "". */
static void fuzz_route(const char *target)
{
	size_t len = strcspn(target, "?");
	char id[HTTP_CHECK_ID_SIZE];

	for (const struct http_route *r = api_routes(); r->pattern; r++) {
		enum http_check_match m = http_check_match(r->pattern, target, len, id);
		bool user = strstr(r->pattern, "{uid}") != NULL;
		bool hole = user || strstr(r->pattern, "{id}") != NULL;

		if (m == HTTP_CHECK_MATCH_PATH &&
		    (user   ? !session_user_valid(id, strlen(id))
		     : hole ? !session_id_valid(id, strlen(id))
			    : id[0] != '\0'))
			abort();
		if (!hole && (m == HTTP_CHECK_MATCH_PATH) !=
				     (strlen(r->pattern) == len && !memcmp(r->pattern, target, len)))
			abort();
	}
}

/* The framing fields' parsers, on every value given. */
static void fuzz_values(const struct fuzz_field *f, size_t n)
{
	static const char *const types[] = { "application/json", "application/merge-patch+json" };
	unsigned long long length;

	for (size_t i = 0; i < n; i++) {
		const char *v = f[i].value;

		if (strcasecmp(f[i].name, "Content-Length") == 0 &&
		    http_check_content_length(v, &length) &&
		    (!fuzz_digits(v, strlen(v)) || strtoull(v, NULL, 10) != length))
			abort();
		if (strcasecmp(f[i].name, "Content-Type") == 0)
			for (size_t t = 0; t < 2; t++)
				if (http_check_media_type(v, types[t]) &&
				    strncasecmp(v + strspn(v, " \t"), types[t], strlen(types[t])))
					abort();
		if (strcasecmp(f[i].name, "Transfer-Encoding") == 0)
			http_check_te_chunked_last_once(v);
	}
}

/* What a head that passed may not hold. */
static void fuzz_passed(const struct http_check_head *h, const char *target,
			size_t target_wire)
{
	const char *rid = http_check_head_rid(h);

	if (!http_check_token(h->method) || h->host > 1 || h->content_length > 1 ||
	    h->transfer_encoding > 1 || (h->content_length && h->transfer_encoding) ||
	    h->malformed || (h->te && strcasecmp(h->te, "chunked") != 0))
		abort();
	/* No control byte, and no NUL hidden inside the target. */
	for (const char *p = target; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			abort();
	if (h->version && h->target_len != target_wire)
		abort();
	if (rid && (strlen(rid) > HTTP_CHECK_RID_MAX || !http_check_rid_sane(rid)))
		abort();
}

/* Input: "METHOD TARGET VERSION", then "Name: value" lines, each ended by
 * "\n" or "\r\n"; a line that starts with a blank continues the previous
 * field (obs-fold); the head ends at an empty line. The target may hold
 * NUL bytes, as on the wire. The bytes after the head are not looked at. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One block, as the library's connection memory: the head split in
	 * place at the start, moved (folded) names after it. */
	size_t span = 2 * size + 2;
	char *mem = malloc(span), *p = mem, *end = mem + size, *spare = mem + size + 1;
	char *line, *sp, *target, *version = NULL, *copy = NULL;
	struct fuzz_field fields[FUZZ_MAX_FIELDS];
	struct http_check_head h = { 0 };
	struct http_check_verdict v;
	size_t len, n = 0, target_wire;
	bool folded = false;

	if (!mem)
		return 0;
	memcpy(mem, data, size);
	line = fuzz_next_line(&p, end, &len);
	sp = line ? memchr(line, ' ', len) : NULL;
	if (!sp)
		goto out;
	/* The target keeps any NUL inside it; the version follows the
	 * target's separator. */
	*sp = '\0';
	target = sp + 1;
	target_wire = (size_t)(line + len - target);
	for (char *q = line + len; q > target; q--)
		if (q[-1] == ' ') {
			q[-1] = '\0';
			version = q;
			target_wire = (size_t)(q - 1 - target);
			break;
		}
	while ((line = fuzz_next_line(&p, end, &len)) && len) {
		char *colon;

		if ((*line == ' ' || *line == '\t') && n) {
			if (!fuzz_fold(&fields[n - 1], line, &spare, mem + span))
				goto out;
			folded = true;
			continue;
		}
		colon = strchr(line, ':');
		if (!colon || n == FUZZ_MAX_FIELDS)
			continue;
		*colon = '\0';
		fields[n].name = line;
		fields[n].value = colon + 1 + strspn(colon + 1, " \t");
		n++;
	}
	copy = strdup(target);
	if (!copy)
		goto out;
	http_check_origin_form(copy);
	if (strlen(copy) > strlen(target) ||
	    ((!strncasecmp(target, "http://", 7) || !strncasecmp(target, "https://", 8)) &&
	     copy[0] != '/'))
		abort();
	h = (struct http_check_head){ .method = mem, .target = copy, .target_at = (uintptr_t)target,
				      .target_len = strlen(target), .version = version,
				      .span = span };
	for (size_t i = 0; i < n; i++)
		http_check_head_field(&h, fields[i].name, fields[i].value);
	v = http_check_head_judge(&h);
	if ((v.status != 0 && v.status != 400 && v.status != 501) || !v.status != !v.detail)
		abort();
	if (v.status == 0)
		fuzz_passed(&h, copy, target_wire);
	/* RFC 9112 5.2: an obs-fold is refused (never half-read). */
	if (folded && version && v.status != 400)
		abort();
	fuzz_route(copy);
	fuzz_values(fields, n);
out:
	free(copy);
	free(mem);
	return 0;
}
