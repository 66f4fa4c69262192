/* test_http_check.c: unit tests for src/http_check.c, the pure checks of a
 * request's line and header fields (tokens, targets, routes, framing). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/check_run.h"
#include "sessiond/http_check.h"
#include "sessiond/session.h"

/* A head whose request line was parsed in place in line (method, target,
 * version NUL-separated), as libmicrohttpd 0.9.75 leaves it. */
static struct http_check_head head_in(char *line, size_t target_off, size_t version_off)
{
	return (struct http_check_head){
		.method = line,
		.target = line + target_off,
		.target_at = (uintptr_t)(line + target_off),
		.target_len = strlen(line + target_off),
		.version = line + version_off,
		.span = 16 * 1024,
	};
}

START_TEST(tokens)
{
	ck_assert(http_check_token("GET"));
	ck_assert(http_check_token("X-Request-Id"));
	ck_assert(http_check_token("!#$%&'*+-.^_`|~09azAZ"));
	ck_assert(!http_check_token(""));
	ck_assert(!http_check_token("Content-Length "));
	ck_assert(!http_check_token(" Host"));
	ck_assert(!http_check_token("X:A"));
	ck_assert(!http_check_token("X\tA"));
	ck_assert(!http_check_token("X\x7f"));
	ck_assert(!http_check_token("X\xc3\xa9"));
}
END_TEST

START_TEST(request_ids)
{
	char max[HTTP_CHECK_RID_MAX + 2];

	ck_assert(http_check_rid_sane("abc-123_x.y:z/+=@"));
	ck_assert(!http_check_rid_sane(NULL));
	ck_assert(!http_check_rid_sane(""));
	ck_assert(!http_check_rid_sane("a b"));
	ck_assert(!http_check_rid_sane("a\"b"));
	ck_assert(!http_check_rid_sane("a\r\nX-Evil: 1"));
	memset(max, 'a', sizeof(max) - 1);
	max[sizeof(max) - 1] = '\0';
	ck_assert(!http_check_rid_sane(max));
	max[HTTP_CHECK_RID_MAX] = '\0';
	ck_assert(http_check_rid_sane(max));
}
END_TEST

START_TEST(targets_clean)
{
	ck_assert(http_check_target_clean("/v1/sessions/abc?ttl=60"));
	ck_assert(http_check_target_clean("/a%41%2F%7e%20"));
	ck_assert(http_check_target_clean(""));
	ck_assert(!http_check_target_clean("/a b"));
	ck_assert(!http_check_target_clean("/a\tb"));
	ck_assert(!http_check_target_clean("/a\x7f"));
	ck_assert(!http_check_target_clean("/a\x01"));
	ck_assert(!http_check_target_clean("/a%00"));
	ck_assert(!http_check_target_clean("/a%1f"));
	ck_assert(!http_check_target_clean("/a%7F"));
	ck_assert(!http_check_target_clean("/a%"));
	ck_assert(!http_check_target_clean("/a%4"));
	ck_assert(!http_check_target_clean("/a%zz"));
}
END_TEST

START_TEST(origin_form)
{
	char a[] = "http://example.com/v1/sessions?x=1", b[] = "HTTPS://example.com?x=1",
	     c[] = "http://example.com", d[] = "/v1/sessions", e[] = "httpx://h/p";

	http_check_origin_form(a);
	ck_assert_str_eq(a, "/v1/sessions?x=1");
	http_check_origin_form(b);
	ck_assert_str_eq(b, "/?x=1");
	http_check_origin_form(c);
	ck_assert_str_eq(c, "/");
	http_check_origin_form(d);
	ck_assert_str_eq(d, "/v1/sessions");
	http_check_origin_form(e);
	ck_assert_str_eq(e, "httpx://h/p");
	http_check_origin_form(NULL);
}
END_TEST

static enum http_check_match match(const char *pattern, const char *path, char *id)
{
	return http_check_match(pattern, path, strlen(path), id);
}

START_TEST(route_patterns)
{
	char id[HTTP_CHECK_ID_SIZE], longest[SESSION_ID_MAX + 20];

	memset(id, 'x', sizeof(id));
	ck_assert_int_eq(match("/v1/sessions", "/v1/sessions", id), HTTP_CHECK_MATCH_PATH);
	ck_assert_str_eq(id, ""); /* never stale bytes for a route without {id} */
	ck_assert_int_eq(match("/v1/sessions", "/v1/sessions/", id), HTTP_CHECK_MATCH_NONE);
	ck_assert_int_eq(match("/v1/sessions", "/v1/session", id), HTTP_CHECK_MATCH_NONE);
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/abc", id), HTTP_CHECK_MATCH_PATH);
	ck_assert_str_eq(id, "abc");
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/%41b.c~_-", id),
			 HTTP_CHECK_MATCH_PATH);
	ck_assert_str_eq(id, "Ab.c~_-");
	ck_assert_int_eq(match("/v1/sessions/{id}/touch", "/v1/sessions/abc/touch", id),
			 HTTP_CHECK_MATCH_PATH);
	ck_assert_str_eq(id, "abc");
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/abc/touch", id),
			 HTTP_CHECK_MATCH_NONE);
	ck_assert_int_eq(match("/v1/sessions/{id}/touch", "/v1/sessions/abc", id),
			 HTTP_CHECK_MATCH_NONE);
	/* The resource matches but the id is not one: 400, not 404. */
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/", id), HTTP_CHECK_MATCH_BAD_ID);
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/a%2Fb", id),
			 HTTP_CHECK_MATCH_BAD_ID);
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/a%00b", id),
			 HTTP_CHECK_MATCH_BAD_ID);
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/a%4", id),
			 HTTP_CHECK_MATCH_BAD_ID);
	ck_assert_int_eq(match("/v1/sessions/{id}", "/v1/sessions/a:b", id),
			 HTTP_CHECK_MATCH_BAD_ID);
	memcpy(longest, "/v1/sessions/", 13);
	memset(longest + 13, 'a', SESSION_ID_MAX);
	longest[13 + SESSION_ID_MAX] = '\0';
	ck_assert_int_eq(match("/v1/sessions/{id}", longest, id), HTTP_CHECK_MATCH_PATH);
	ck_assert_uint_eq(strlen(id), SESSION_ID_MAX);
	longest[13 + SESSION_ID_MAX] = 'a';
	longest[14 + SESSION_ID_MAX] = '\0';
	ck_assert_int_eq(match("/v1/sessions/{id}", longest, id), HTTP_CHECK_MATCH_BAD_ID);
}
END_TEST

START_TEST(media_types)
{
	ck_assert(http_check_media_type("application/json", "application/json"));
	ck_assert(http_check_media_type(" Application/JSON ; charset=utf-8", "application/json"));
	ck_assert(http_check_media_type("application/json;charset=utf-8", "application/json"));
	ck_assert(!http_check_media_type("application/jsonx", "application/json"));
	ck_assert(!http_check_media_type("application/json-seq", "application/json"));
	ck_assert(!http_check_media_type("text/plain", "application/json"));
	ck_assert(!http_check_media_type("", "application/json"));
	ck_assert(http_check_media_type("application/merge-patch+json",
					"application/merge-patch+json"));
}
END_TEST

START_TEST(content_lengths)
{
	unsigned long long n = 7;

	ck_assert(http_check_content_length("0", &n) && n == 0);
	ck_assert(http_check_content_length("00042", &n) && n == 42);
	ck_assert(http_check_content_length("18446744073709551615", &n) && n == UINT64_MAX);
	n = 7;
	ck_assert(!http_check_content_length("", &n));
	ck_assert(!http_check_content_length("-1", &n));
	ck_assert(!http_check_content_length("+1", &n));
	ck_assert(!http_check_content_length(" 1", &n));
	ck_assert(!http_check_content_length("\v1", &n));
	ck_assert(!http_check_content_length("1 ", &n));
	ck_assert(!http_check_content_length("0x1", &n));
	ck_assert(!http_check_content_length("1, 1", &n));
	ck_assert(!http_check_content_length("18446744073709551616", &n));
	ck_assert(n == 7); /* untouched on failure */
}
END_TEST

START_TEST(transfer_codings)
{
	ck_assert(http_check_te_chunked_last_once("chunked"));
	ck_assert(http_check_te_chunked_last_once("gzip, chunked"));
	ck_assert(http_check_te_chunked_last_once(" gzip ,\tChunked \t"));
	ck_assert(!http_check_te_chunked_last_once(""));
	ck_assert(!http_check_te_chunked_last_once("gzip"));
	ck_assert(!http_check_te_chunked_last_once("chunked, gzip"));
	ck_assert(!http_check_te_chunked_last_once("chunked, chunked"));
	ck_assert(!http_check_te_chunked_last_once("chunkedx"));
}
END_TEST

/* Judges one head of GET /healthz with the given fields (name, value,
 * ...). They are literals, not parsed in place after the request line, so
 * the layout checks are off (no version). */
static struct http_check_verdict judge(const char *const *fields, size_t n)
{
	char line[] = "GET\0/healthz\0HTTP/1.1";
	struct http_check_head h = head_in(line, 4, 13);

	h.version = NULL;

	for (size_t i = 0; i < n; i += 2)
		http_check_head_field(&h, fields[i], fields[i + 1]);
	return http_check_head_judge(&h);
}

#define JUDGE(...)                                                                                 \
	judge((const char *const[]){ __VA_ARGS__ },                                                \
	      sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

START_TEST(framing)
{
	struct http_check_verdict v;

	v = JUDGE("Host", "x", "Content-Length", "3", "Content-Type", "application/json");
	ck_assert_uint_eq(v.status, 0);
	ck_assert_ptr_null(v.detail);
	v = JUDGE("Host", "x", "Transfer-Encoding", "Chunked");
	ck_assert_uint_eq(v.status, 0);
	v = JUDGE("Host", "x", "host", "y");
	ck_assert_uint_eq(v.status, 400);
	ck_assert_str_eq(v.detail, "more than one Host header");
	v = JUDGE("Content-Length ", "3");
	ck_assert_uint_eq(v.status, 400);
	ck_assert_str_eq(v.detail, "malformed header field name");
	/* An obs-fold after a framing header, as libmicrohttpd 0.9.75 reports it. */
	v = JUDGE("Content-Length115", "");
	ck_assert_uint_eq(v.status, 400);
	ck_assert_uint_eq(JUDGE("Transfer-Encodingchunked", "").status, 400);
	ck_assert_uint_eq(JUDGE("Hostx", "").status, 400);
	v = JUDGE("Content-Length", "3", "Content-Length", "3");
	ck_assert_uint_eq(v.status, 400);
	ck_assert_str_eq(v.detail, "ambiguous message framing");
	ck_assert_uint_eq(JUDGE("Content-Length", "3", "Transfer-Encoding", "chunked").status, 400);
	ck_assert_uint_eq(JUDGE("Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked").status,
			  400);
	v = JUDGE("Transfer-Encoding", "gzip, chunked");
	ck_assert_uint_eq(v.status, 501);
	v = JUDGE("Transfer-Encoding", "chunked, gzip");
	ck_assert_uint_eq(v.status, 400);
	ck_assert_str_eq(v.detail, "unsupported Transfer-Encoding");
}
END_TEST

START_TEST(methods_and_targets)
{
	char ok[] = "GET\0/v1/sessions/a%41\0HTTP/1.1", bad_method[] = "G(T\0/\0HTTP/1.1",
	     encoded[] = "GET\0/a%00b\0HTTP/1.1", nul[] = "GET\0/a\0b\0HTTP/1.1";
	struct http_check_head h;

	h = head_in(ok, 4, 22);
	ck_assert_uint_eq(http_check_head_judge(&h).status, 0);
	h = head_in(bad_method, 4, 6);
	ck_assert_str_eq(http_check_head_judge(&h).detail, "malformed request method");
	h = head_in(encoded, 4, 11);
	ck_assert_uint_eq(http_check_head_judge(&h).status, 400);
	/* A NUL in the target: the version starts further away than "/a". */
	h = head_in(nul, 4, 9);
	ck_assert_uint_eq(h.target_len, 2);
	ck_assert_str_eq(http_check_head_judge(&h).detail,
			 "control characters in the request target");
	/* Where the layout cannot be trusted, nothing is concluded from it. */
	h.version = NULL;
	ck_assert_uint_eq(http_check_head_judge(&h).status, 0);
	h.version = nul + 9;
	h.span = 4;
	ck_assert_uint_eq(http_check_head_judge(&h).status, 0);
}
END_TEST

START_TEST(request_id_echo)
{
	char line[] = "GET\0/\0HTTP/1.1";
	struct http_check_head h = head_in(line, 4, 6);

	ck_assert_ptr_null(http_check_head_rid(&h));
	http_check_head_field(&h, "X-Request-Id", "abc");
	ck_assert_str_eq(http_check_head_rid(&h), "abc");
	http_check_head_field(&h, "x-request-id", "def");
	ck_assert_ptr_null(http_check_head_rid(&h)); /* two: neither is echoed */
	h = head_in(line, 4, 6);
	http_check_head_field(&h, "X-Request-Id", "a b");
	ck_assert_ptr_null(http_check_head_rid(&h));
	http_check_head_field(&h, "Authorization", "Bearer x");
	http_check_head_field(&h, "authorization", "Bearer y");
	ck_assert_int_eq(h.authorization, 2);
}
END_TEST

/* "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n" as libmicrohttpd
 * 0.9.75 leaves it in its buffer: split in place, the folded name moved
 * behind the head as "X-A2" and its old bytes zeroed. */
START_TEST(obs_fold)
{
	char mem[] = "GET\0/healthz\0HTTP/1.1\0Host\0 x\0\0\0\0\0 1\0 2\0X-A2";
	char *host = mem + 22, *x = mem + 28, *one = mem + 35, *moved = mem + 40;
	struct http_check_head h = head_in(mem, 4, 13);
	struct http_check_verdict v;

	ck_assert_str_eq(h.version, "HTTP/1.1");
	ck_assert_str_eq(host, "Host");
	ck_assert_str_eq(x, "x");
	ck_assert_str_eq(one, "1");
	ck_assert_str_eq(moved, "X-A2");
	http_check_head_field(&h, host, x);
	ck_assert_int_eq(h.folded, 0);
	ck_assert_uint_eq(http_check_head_judge(&h).status, 0);
	http_check_head_field(&h, moved, one);
	ck_assert_int_eq(h.folded, 1);
	ck_assert_int_eq(h.malformed, 0); /* "X-A2" is a valid token */
	v = http_check_head_judge(&h);
	ck_assert_uint_eq(v.status, 400);
	ck_assert_str_eq(v.detail, "obsolete line folding in a header field");

	/* A name before the request line's version was moved too. */
	h = head_in(mem, 4, 13);
	http_check_head_field(&h, mem, one);
	ck_assert_int_eq(h.folded, 1);
	/* A name that runs into its value's bytes is not where it was read. */
	h = head_in(mem, 4, 13);
	http_check_head_field(&h, mem + 34, one);
	ck_assert_int_eq(h.folded, 1);
	/* Values beyond one head's span: not the known layout, no verdict. */
	h = head_in(mem, 4, 13);
	h.span = 8;
	http_check_head_field(&h, moved, one);
	ck_assert_int_eq(h.folded, 0);
	h.version = NULL;
	h.span = 16 * 1024;
	http_check_head_field(&h, moved, one);
	ck_assert_int_eq(h.folded, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_check");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, tokens);
	tcase_add_test(tc, request_ids);
	tcase_add_test(tc, targets_clean);
	tcase_add_test(tc, origin_form);
	tcase_add_test(tc, route_patterns);
	tcase_add_test(tc, media_types);
	tcase_add_test(tc, content_lengths);
	tcase_add_test(tc, transfer_codings);
	tcase_add_test(tc, framing);
	tcase_add_test(tc, methods_and_targets);
	tcase_add_test(tc, request_id_echo);
	tcase_add_test(tc, obs_fold);
	suite_add_tcase(s, tc);
	return check_run(s);
}
