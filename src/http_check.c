/* http_check.c: the pure checks of a request's line and header fields
 * (http_check.h). Everything that can be judged on strings lives here, so
 * that it is unit-tested and fuzzed without libmicrohttpd; what only the
 * library can tell (where it parsed things) arrives as plain numbers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sessiond/hex.h"
#include "sessiond/http_check.h"
#include "sessiond/session.h"

/* RFC 9110 tchar. */
static bool http_check_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool http_check_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!http_check_tchar((unsigned char)*s))
			return false;
	return true;
}

bool http_check_rid_sane(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n > HTTP_CHECK_RID_MAX)
		return false;
	return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			 "-_.:/+=@") == n;
}

/* Percent-decodes s[0..n) into out (cap bytes with the NUL). false on a bad
 * escape, a control byte (raw or decoded) or overflow. */
static bool http_check_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= cap)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return true;
}

bool http_check_target_clean(const char *target)
{
	for (const char *p = target; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x21 || c == 0x7f)
			return false;
		if (c == '%') {
			int a = hex_value(p[1]), b = a < 0 ? -1 : hex_value(p[2]);
			if (a < 0 || b < 0)
				return false;
			if (a * 16 + b < 0x20 || a * 16 + b == 0x7f)
				return false;
		}
	}
	return true;
}

/* A raw NUL byte in the request target cuts the library's C string short,
 * so the target we were given would be a prefix of the real one
 * ("/v1/sessions/a\0b" would act on "a"). libmicrohttpd 0.9.75 parses the
 * request line in place: the version starts right after the target and one
 * separator, so a longer gap means a NUL inside. That layout is trusted
 * only when both lie within one head's span. */
static bool http_check_target_whole(const struct http_check_head *h)
{
	uintptr_t v = (uintptr_t)h->version, u = h->target_at;

	if (!h->version || v <= u || v - u > h->span)
		return true;
	return v - u - 1 <= h->target_len;
}

void http_check_origin_form(char *target)
{
	char *p, *path;

	if (!target)
		return;
	if (strncasecmp(target, "http://", 7) == 0)
		p = target + 7;
	else if (strncasecmp(target, "https://", 8) == 0)
		p = target + 8;
	else
		return;
	path = p + strcspn(p, "/?");
	if (*path == '/') {
		memmove(target, path, strlen(path) + 1);
	} else if (*path == '?') {
		memmove(target + 1, path, strlen(path) + 1);
		target[0] = '/';
	} else {
		target[0] = '/';
		target[1] = '\0';
	}
}

enum http_check_match http_check_match(const char *pattern, const char *path, size_t path_len,
				       char *id)
{
	const char *hole = strstr(pattern, "{id}"), *end = path + path_len, *seg_end, *rest;
	size_t head, rest_len, hole_len = 4;
	bool user = false;

	/* Without this, a route without {id} handed the handler whatever the
	 * caller's stack held as the id. */
	id[0] = '\0';
	if (!hole && (hole = strstr(pattern, "{uid}"))) {
		user = true;
		hole_len = 5;
	}
	if (!hole)
		return strlen(pattern) == path_len && memcmp(pattern, path, path_len) == 0
			       ? HTTP_CHECK_MATCH_PATH
			       : HTTP_CHECK_MATCH_NONE;
	head = (size_t)(hole - pattern);
	if (path_len < head || memcmp(pattern, path, head) != 0)
		return HTTP_CHECK_MATCH_NONE;
	seg_end = memchr(path + head, '/', path_len - head);
	if (!seg_end)
		seg_end = end;
	rest = hole + hole_len;
	rest_len = strlen(rest);
	if ((size_t)(end - seg_end) != rest_len || memcmp(rest, seg_end, rest_len) != 0)
		return HTTP_CHECK_MATCH_NONE;
	if (!http_check_decode(path + head, (size_t)(seg_end - path - head), id,
			       user ? HTTP_CHECK_ID_SIZE : SESSION_ID_MAX + 1) ||
	    !(user ? session_user_valid(id, strlen(id)) : session_id_valid(id, strlen(id)))) {
		id[0] = '\0';
		return HTTP_CHECK_MATCH_BAD_ID;
	}
	return HTTP_CHECK_MATCH_PATH;
}

bool http_check_media_type(const char *value, const char *want)
{
	size_t n = strlen(want);

	while (*value == ' ' || *value == '\t')
		value++;
	if (strncasecmp(value, want, n) != 0)
		return false;
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	return *value == '\0' || *value == ';';
}

bool http_check_content_length(const char *value, unsigned long long *out)
{
	unsigned long long n;
	char *end;

	/* strtoull alone would skip leading white space and take a sign. */
	if (*value < '0' || *value > '9')
		return false;
	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno || *end)
		return false;
	*out = n;
	return true;
}

bool http_check_te_chunked_last_once(const char *te)
{
	int chunked = 0;
	bool last = false;

	while (*te) {
		size_t n;
		te += strspn(te, " \t,");
		n = strcspn(te, ",");
		while (n && (te[n - 1] == ' ' || te[n - 1] == '\t'))
			n--;
		last = n == 7 && strncasecmp(te, "chunked", 7) == 0;
		chunked += last;
		te += strcspn(te, ",");
	}
	return last && chunked == 1;
}

/* libmicrohttpd 0.9.75 keeps whitespace before the colon in the name
 * ("Content-Length ") and turns an obs-fold after a framing header into
 * one garbled name ("Content-Length:\r\n 115" becomes "Content-Length115"
 * with an empty value). Either would let a body pass as the next request,
 * so a name that is not a token, or that extends a framing header's name,
 * makes the request malformed. */
static bool http_check_name_garbled(const char *name)
{
	static const char *const framing[] = { "content-length", "transfer-encoding", "host" };

	if (!http_check_token(name))
		return true;
	for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++) {
		size_t n = strlen(framing[i]);
		if (strlen(name) > n && strncasecmp(name, framing[i], n) == 0)
			return true;
	}
	return false;
}

/* RFC 9112 5.2 lets a server refuse an obs-fold (a field line continued on
 * the next line after a blank) or read it as a space. libmicrohttpd 0.9.75
 * does neither: it appends the continuation, without its blanks, to the
 * field's *name*, which it copies to a new block of the connection's
 * memory ("X-A: 1\r\n 2" arrives as name "X-A2", value "1";
 * "X-Request-Id:\r\n a" as "X-Request-Ida" with an empty value). The
 * result is often a valid token, so the fold is told by where the name
 * lies: a head parsed in place puts every name after the version and
 * before its own value (name, the NUL that replaced the colon, blanks,
 * value); a moved name is elsewhere. When the value is not within the
 * head's span after the version, the layout is not the one known, and
 * nothing is concluded. */
static bool http_check_name_moved(const struct http_check_head *h, const char *name,
				  const char *value)
{
	uintptr_t v = (uintptr_t)h->version, n = (uintptr_t)name, val = (uintptr_t)value;

	if (!h->version || val <= v || val - v > h->span)
		return false;
	return n <= v || n >= val || val - n <= strlen(name);
}

void http_check_head_field(struct http_check_head *h, const char *name, const char *value)
{
	if (http_check_name_moved(h, name, value))
		h->folded++;
	if (http_check_name_garbled(name))
		h->malformed++;
	if (strcasecmp(name, "Host") == 0) {
		h->host++;
	} else if (strcasecmp(name, "Content-Length") == 0) {
		h->content_length++;
	} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
		h->transfer_encoding++;
		h->te = value;
	} else if (strcasecmp(name, "Authorization") == 0) {
		h->authorization++;
	} else if (strcasecmp(name, "X-Request-Id") == 0) {
		h->request_id++;
		h->rid = value;
	}
}

const char *http_check_head_rid(const struct http_check_head *h)
{
	return h->request_id == 1 && http_check_rid_sane(h->rid) ? h->rid : NULL;
}

struct http_check_verdict http_check_head_judge(const struct http_check_head *h)
{
	if (!http_check_token(h->method))
		return (struct http_check_verdict){ 400, "malformed request method" };
	/* Refused rather than unfolded: the library has already merged the
	 * continuation into the name, and the original text is gone. */
	if (h->folded)
		return (struct http_check_verdict){ 400, "obsolete line folding in a header field" };
	/* Request smuggling shapes: the framing must be unambiguous. */
	if (h->malformed || h->host > 1)
		return (struct http_check_verdict){ 400, h->host > 1 ? "more than one Host header"
								    : "malformed header field name" };
	if (h->content_length > 1 || (h->content_length && h->transfer_encoding) ||
	    h->transfer_encoding > 1)
		return (struct http_check_verdict){ 400, "ambiguous message framing" };
	/* RFC 9112 6.1: chunked once and last, after codings we do not
	 * implement, is 501; any other list cannot be framed: 400. */
	if (h->te && strcasecmp(h->te, "chunked") != 0)
		return http_check_te_chunked_last_once(h->te)
			       ? (struct http_check_verdict){ 501, "transfer codings other than "
								   "chunked are not implemented" }
			       : (struct http_check_verdict){ 400, "unsupported Transfer-Encoding" };
	if (!http_check_target_clean(h->target) || !http_check_target_whole(h))
		return (struct http_check_verdict){ 400,
						    "control characters in the request target" };
	return (struct http_check_verdict){ 0, NULL };
}
