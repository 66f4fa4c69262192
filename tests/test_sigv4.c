/* test_sigv4.c: unit tests for src/sigv4.c. Every header-signing vector of
 * the AWS SigV4 test suite copied under tests/data/sigv4 (see its README.md)
 * is checked stage by stage and through the signer; then the key cache,
 * canonicalisation details, errors and a large body. With
 * SESSIOND_SIGV4_BENCH=1 it also prints a micro-benchmark after the tests. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "helpers/check_run.h"
#include "sessiond/sigv4.h"

/* The fixed inputs of the suite (its README, "Fixed inputs"). */
#define TEST_AKID   "AKIDEXAMPLE"
#define TEST_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TEST_NOW    ((time_t)1440938160) /* 20150830T123600Z */
#define TEST_REGION "us-east-1"
/* get-vanilla-with-session-token's .req lacks the token its .creq signs;
 * this is the one in the newer suite's context.json for that case. */
#define TEST_VANILLA_TOKEN "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
#define TEST_EMPTY_SHA256  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define TEST_MAX_HEADERS   16

/* ---- the vectors ---- */

enum test_layout {
	TEST_LEGACY, /* <dir>/<name>.{req,creq,sts,authz} */
	TEST_SUITE,  /* <dir>/{context.json,request.txt,header-*.txt} */
};

struct test_vector {
	const char *dir; /* under <data>/sigv4/ */
	enum test_layout layout;
	const char *service; /* legacy: the service in the scope */
	const char *token;   /* legacy: an X-Amz-Security-Token to add, signed */
	int creq_only;	     /* README "Known defects" 1 and 2: only .req -> .creq */
};

/* One vector a line: clang-format would spread each over four. */
/* clang-format off */
#define LEGACY(d) { d, TEST_LEGACY, "service", NULL, 0 }
#define DYNAMODB(d) { "dynamodb-extra/" d, TEST_LEGACY, "dynamodb", NULL, 0 }
/* Only the header-*.txt files are read: presigned (query-*.txt) signing is
 * outside sigv4.h, so those files are skipped and not even copied. */
#define SUITE(d) { "aws-signing-test-suite/v4/" d, TEST_SUITE, NULL, NULL, 0 }

static const struct test_vector test_vectors[] = {
	/* The legacy suite, 33 cases. Their .sreq files are not read: the
	 * .authz holds the same value, and get-vanilla-with-session-token's
	 * .sreq is wrong (README "Known defects" 3). */
	LEGACY("get-header-key-duplicate"),
	LEGACY("get-header-value-multiline"),
	LEGACY("get-header-value-order"),
	LEGACY("get-header-value-trim"),
	LEGACY("get-unreserved"),
	LEGACY("get-utf8"),
	LEGACY("get-vanilla"),
	LEGACY("get-vanilla-empty-query-key"),
	LEGACY("get-vanilla-query"),
	LEGACY("get-vanilla-query-order-encoded"),
	LEGACY("get-vanilla-query-order-key"),
	LEGACY("get-vanilla-query-order-key-case"),
	LEGACY("get-vanilla-query-order-value"),
	LEGACY("get-vanilla-query-unreserved"),
	LEGACY("get-vanilla-utf8-query"),
	{ "get-vanilla-with-session-token", TEST_LEGACY, "service", TEST_VANILLA_TOKEN, 0 },
	LEGACY("post-header-key-case"),
	LEGACY("post-header-key-sort"),
	LEGACY("post-header-value-case"),
	LEGACY("post-vanilla"),
	LEGACY("post-vanilla-empty-query-value"),
	LEGACY("post-vanilla-query"),
	{ "post-x-www-form-urlencoded", TEST_LEGACY, "service", NULL, 1 },
	{ "post-x-www-form-urlencoded-parameters", TEST_LEGACY, "service", NULL, 1 },
	LEGACY("normalize-path/get-relative"),
	LEGACY("normalize-path/get-relative-relative"),
	LEGACY("normalize-path/get-slash"),
	LEGACY("normalize-path/get-slash-dot-slash"),
	LEGACY("normalize-path/get-slash-pointless-dot"),
	LEGACY("normalize-path/get-slashes"),
	LEGACY("normalize-path/get-space"),
	/* "before" has the token in its .req; "after" adds it only once
	 * signed, so there is nothing to add here (post-sts-token/readme.txt). */
	LEGACY("post-sts-token/post-sts-header-after"),
	LEGACY("post-sts-token/post-sts-header-before"),

	/* The newer suite, 38 cases. */
	SUITE("get-header-key-duplicate"),
	SUITE("get-header-value-multiline"),
	SUITE("get-header-value-order"),
	SUITE("get-header-value-trim"),
	SUITE("get-relative-normalized"),
	SUITE("get-relative-relative-normalized"),
	SUITE("get-relative-relative-unnormalized"),
	SUITE("get-relative-unnormalized"),
	SUITE("get-slash-dot-slash-normalized"),
	SUITE("get-slash-dot-slash-unnormalized"),
	SUITE("get-slash-normalized"),
	SUITE("get-slash-pointless-dot-normalized"),
	SUITE("get-slash-pointless-dot-unnormalized"),
	SUITE("get-slash-unnormalized"),
	SUITE("get-slashes-normalized"),
	SUITE("get-slashes-unnormalized"),
	SUITE("get-space-normalized"),
	SUITE("get-space-unnormalized"),
	SUITE("get-unreserved"),
	SUITE("get-utf8"),
	SUITE("get-vanilla"),
	SUITE("get-vanilla-empty-query-key"),
	SUITE("get-vanilla-query"),
	SUITE("get-vanilla-query-order-encoded"),
	SUITE("get-vanilla-query-order-key-case"),
	SUITE("get-vanilla-query-unreserved"),
	SUITE("get-vanilla-utf8-query"),
	SUITE("get-vanilla-with-session-token"),
	SUITE("post-header-key-case"),
	SUITE("post-header-key-sort"),
	SUITE("post-header-value-case"),
	SUITE("post-sts-header-after"),
	SUITE("post-sts-header-before"),
	SUITE("post-vanilla"),
	SUITE("post-vanilla-empty-query-value"),
	SUITE("post-vanilla-query"),
	SUITE("post-x-www-form-urlencoded"),
	SUITE("post-x-www-form-urlencoded-parameters"),

	/* DynamoDB-shaped cases made with botocore, 3 cases. */
	DYNAMODB("post-dynamodb-getitem"),
	DYNAMODB("post-dynamodb-getitem-session-token"),
	DYNAMODB("post-dynamodb-putitem-utf8"),
};
/* clang-format on */

#define TEST_N_VECTORS (sizeof(test_vectors) / sizeof(test_vectors[0]))

/* ---- reading the files ---- */

static const char *test_data_dir(void)
{
	const char *dir = getenv("SESSIOND_TEST_DATA");

	return dir && *dir ? dir : "tests/data";
}

/* Reads <data>/sigv4/<dir>/<name> whole and NUL-terminated; the caller
 * frees it. Fails the test when the file cannot be read. */
static char *test_read(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	char *text;
	FILE *f;
	long size;
	int n;

	n = snprintf(path, sizeof(path), "%s/sigv4/%s/%s", test_data_dir(), dir, name);
	ck_assert_msg(n > 0 && (size_t)n < sizeof(path), "path too long");
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	text = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	text[size] = '\0';
	if (len)
		*len = (size_t)size;
	return text;
}

/* A request parsed in place from a .req or request.txt. */
struct test_request {
	const char *method, *path, *query;
	struct sigv4_header headers[TEST_MAX_HEADERS];
	size_t n_headers;
	const char *body;
	size_t body_len;
};

static char *test_line_end(char *p, char *end)
{
	char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

/* Parses text in place: the request line (the target may hold spaces, as in
 * "GET /example space/ HTTP/1.1"), headers, a blank line, the body. A line
 * that starts with a space or tab continues the header before it; it stays
 * in the value, line break and all, for sigv4.c to fold. */
static int test_parse_request(char *text, size_t len, struct test_request *r)
{
	char *end = text + len, *p = text, *eol, *sp, *last, *colon, *q;

	memset(r, 0, sizeof(*r));
	eol = test_line_end(p, end);
	*eol = '\0';
	sp = strchr(p, ' ');
	last = strrchr(p, ' ');
	if (!sp || sp == last)
		return 0;
	*sp = '\0';
	*last = '\0';
	r->method = p;
	r->path = sp + 1;
	q = strchr(sp + 1, '?');
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	p = eol < end ? eol + 1 : end;
	while (p < end && *p != '\n') {
		eol = test_line_end(p, end);
		while (eol + 1 < end && (eol[1] == ' ' || eol[1] == '\t'))
			eol = test_line_end(eol + 1, end);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || r->n_headers == TEST_MAX_HEADERS)
			return 0;
		*colon = '\0';
		r->headers[r->n_headers].name = p;
		r->headers[r->n_headers++].value = colon + 1;
		p = eol < end ? eol + 1 : end;
		*eol = '\0';
	}
	if (p < end) {
		r->body = p + 1;
		r->body_len = (size_t)(end - (p + 1));
	}
	return 1;
}

static void test_add_header(struct test_request *r, const char *name, const char *value)
{
	ck_assert_uint_lt(r->n_headers, TEST_MAX_HEADERS);
	r->headers[r->n_headers].name = name;
	r->headers[r->n_headers++].value = value;
}

static time_t test_parse_time(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec),
			 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void test_sha256_hex(const void *data, size_t len, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0, i;

	ck_assert_int_eq(EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL), 1);
	for (i = 0; i < md_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* One vector loaded: the files, the request, and what each stage must give. */
struct test_case {
	char *req_text, *creq_text, *sts_text, *sig_text, *authz_text;
	json_t *context;
	struct test_request req;
	struct sigv4_credentials creds;
	struct sigv4_params params;
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	char body_hash[SIGV4_HEX_LEN + 1];
	const char *want_sig, *want_authz;
};

static void test_load_legacy(struct test_case *c, const struct test_vector *v)
{
	const char *slash = strrchr(v->dir, '/');
	const char *name = slash ? slash + 1 : v->dir;
	char file[256];
	const char *sig;
	size_t len;

	snprintf(file, sizeof(file), "%s.req", name);
	c->req_text = test_read(v->dir, file, &len);
	ck_assert_msg(test_parse_request(c->req_text, len, &c->req), "%s: malformed request",
		      v->dir);
	snprintf(file, sizeof(file), "%s.creq", name);
	c->creq_text = test_read(v->dir, file, NULL);
	snprintf(file, sizeof(file), "%s.sts", name);
	c->sts_text = test_read(v->dir, file, NULL);
	snprintf(file, sizeof(file), "%s.authz", name);
	c->authz_text = test_read(v->dir, file, NULL);
	sig = strstr(c->authz_text, "Signature=");
	ck_assert_ptr_nonnull(sig);
	c->want_sig = sig + strlen("Signature=");
	c->want_authz = c->authz_text;

	c->creds.access_key_id = TEST_AKID;
	c->creds.secret_access_key = TEST_SECRET;
	c->creds.session_token = v->token;
	c->params.region = TEST_REGION;
	c->params.service = v->service;
	c->params.now = TEST_NOW;
	c->params.normalize_path = true;
	if (v->token)
		test_add_header(&c->req, "X-Amz-Security-Token", v->token);
}

/* The Authorization value in a header-signed-request.txt, cut in place. */
static const char *test_find_authz(char *signed_request)
{
	char *p = strstr(signed_request, "\nAuthorization:");

	ck_assert_ptr_nonnull(p);
	p += strlen("\nAuthorization:");
	while (*p == ' ')
		p++;
	p[strcspn(p, "\r\n")] = '\0';
	return p;
}

static void test_load_suite(struct test_case *c, const struct test_vector *v)
{
	char path[1024];
	json_error_t err;
	json_t *creds;
	size_t len;

	snprintf(path, sizeof(path), "%s/sigv4/%s/context.json", test_data_dir(), v->dir);
	c->context = json_load_file(path, 0, &err);
	ck_assert_msg(c->context != NULL, "%s: %s", path, err.text);
	creds = json_object_get(c->context, "credentials");
	c->creds.access_key_id = json_string_value(json_object_get(creds, "access_key_id"));
	c->creds.secret_access_key = json_string_value(json_object_get(creds, "secret_access_key"));
	c->creds.session_token = json_string_value(json_object_get(creds, "token"));
	c->params.region = json_string_value(json_object_get(c->context, "region"));
	c->params.service = json_string_value(json_object_get(c->context, "service"));
	c->params.now =
	    test_parse_time(json_string_value(json_object_get(c->context, "timestamp")));
	c->params.normalize_path = json_is_true(json_object_get(c->context, "normalize"));

	c->req_text = test_read(v->dir, "request.txt", &len);
	ck_assert_msg(test_parse_request(c->req_text, len, &c->req), "%s: malformed request",
		      v->dir);
	c->creq_text = test_read(v->dir, "header-canonical-request.txt", NULL);
	c->sts_text = test_read(v->dir, "header-string-to-sign.txt", NULL);
	c->sig_text = test_read(v->dir, "header-signature.txt", NULL);
	c->authz_text = test_read(v->dir, "header-signed-request.txt", NULL);
	c->want_sig = c->sig_text;
	c->want_authz = test_find_authz(c->authz_text);

	/* The signer signs exactly the headers it is given, so the harness
	 * adds what an aws-c-auth signer would add by itself. */
	sigv4_amz_date(c->params.now, c->amz_date);
	test_add_header(&c->req, "X-Amz-Date", c->amz_date);
	if (json_is_true(json_object_get(c->context, "sign_body"))) {
		test_sha256_hex(c->req.body ? c->req.body : "", c->req.body_len, c->body_hash);
		test_add_header(&c->req, "x-amz-content-sha256", c->body_hash);
	}
	/* omit_session_token: the token goes on the request after signing. */
	if (c->creds.session_token &&
	    !json_is_true(json_object_get(c->context, "omit_session_token")))
		test_add_header(&c->req, "X-Amz-Security-Token", c->creds.session_token);
}

static void test_case_free(struct test_case *c)
{
	free(c->req_text);
	free(c->creq_text);
	free(c->sts_text);
	free(c->sig_text);
	free(c->authz_text);
	json_decref(c->context);
}

static void test_expect(const char *name, const char *stage, const char *got, const char *want)
{
	ck_assert_msg(got && want && !strcmp(got, want),
		      "%s: %s differs\n--- got\n%s\n--- want\n%s", name, stage,
		      got ? got : "(null)", want ? want : "(null)");
}

static void test_to_sigv4(const struct test_request *r, struct sigv4_request *req)
{
	req->method = r->method;
	req->path = r->path;
	req->query = r->query;
	req->headers = r->headers;
	req->n_headers = r->n_headers;
	req->body = r->body;
	req->body_len = r->body_len;
}

/* Each stage from the output of the one before, then the signer at once. */
static void test_check_stages(const struct test_case *c, const char *name, int creq_only)
{
	struct buf creq, signed_headers, sts, authz, signed_authz;
	struct sigv4_signer *signer = NULL;
	unsigned char key[SIGV4_KEY_LEN];
	char sig[SIGV4_HEX_LEN + 1];
	struct sigv4_request req;

	buf_init(&creq, 0);
	buf_init(&signed_headers, 0);
	buf_init(&sts, 0);
	buf_init(&authz, 0);
	buf_init(&signed_authz, 0);
	test_to_sigv4(&c->req, &req);
	ck_assert_int_eq(sigv4_canonical_request(&req, &c->params, &creq, &signed_headers),
			 ERROR_OK);
	test_expect(name, "canonical request", creq.data, c->creq_text);
	if (creq_only)
		goto out;
	ck_assert_int_eq(sigv4_string_to_sign(&c->params, creq.data, creq.len, &sts), ERROR_OK);
	test_expect(name, "string to sign", sts.data, c->sts_text);
	ck_assert_int_eq(sigv4_signing_key(c->creds.secret_access_key, &c->params, key), ERROR_OK);
	ck_assert_int_eq(sigv4_signature(key, sts.data, sts.len, sig), ERROR_OK);
	OPENSSL_cleanse(key, sizeof(key));
	test_expect(name, "signature", sig, c->want_sig);
	ck_assert_int_eq(sigv4_authorization(c->creds.access_key_id, &c->params,
					     signed_headers.data, sig, &authz),
			 ERROR_OK);
	test_expect(name, "authorization", authz.data, c->want_authz);

	signer = sigv4_signer_new();
	ck_assert_ptr_nonnull(signer);
	ck_assert_int_eq(sigv4_signer_sign(signer, &c->creds, &req, &c->params, &signed_authz),
			 ERROR_OK);
	test_expect(name, "signer authorization", signed_authz.data, c->want_authz);
out:
	sigv4_signer_free(signer);
	buf_free(&creq);
	buf_free(&signed_headers);
	buf_free(&sts);
	buf_free(&authz);
	buf_free(&signed_authz);
}

START_TEST(vector)
{
	const struct test_vector *v = &test_vectors[_i];
	struct test_case c;

	memset(&c, 0, sizeof(c));
	if (v->layout == TEST_LEGACY)
		test_load_legacy(&c, v);
	else
		test_load_suite(&c, v);
	test_check_stages(&c, v->dir, v->creq_only);
	test_case_free(&c);
}
END_TEST

/* ---- unit tests ---- */

START_TEST(amz_date_formats_utc)
{
	char out[SIGV4_AMZ_DATE_LEN + 1];

	sigv4_amz_date(TEST_NOW, out);
	ck_assert_str_eq(out, "20150830T123600Z");
	sigv4_amz_date(0, out);
	ck_assert_str_eq(out, "19700101T000000Z");
	sigv4_amz_date(951825599, out);
	ck_assert_str_eq(out, "20000229T115959Z");
	sigv4_amz_date(-1, out);
	ck_assert_str_eq(out, "19691231T235959Z");
	sigv4_amz_date((time_t)253402300799, out);
	ck_assert_str_eq(out, "99991231T235959Z");
	sigv4_amz_date((time_t)-62167219200, out);
	ck_assert_str_eq(out, "00000101T000000Z");
	/* Five-digit and negative years do not fit the format. */
	sigv4_amz_date((time_t)253402300800, out);
	ck_assert_str_eq(out, "");
	sigv4_amz_date((time_t)-62167219201, out);
	ck_assert_str_eq(out, "");
}
END_TEST

/* The canonical request for a GET with only a Host header, for comparisons. */
static char *test_creq(const char *path, const char *query, bool normalize)
{
	struct sigv4_header h = {"Host", "example.com"};
	struct sigv4_request req = {"GET", path, query, &h, 1, NULL, 0};
	struct sigv4_params params = {TEST_REGION, "service", TEST_NOW, normalize};
	struct buf out, signed_headers;

	buf_init(&out, 0);
	buf_init(&signed_headers, 0);
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers), ERROR_OK);
	ck_assert_str_eq(signed_headers.data, "host");
	buf_free(&signed_headers);
	return buf_steal(&out);
}

static void test_expect_uri_query(const char *path, const char *query, bool normalize,
				  const char *uri, const char *canonical_query)
{
	char want[512];
	char *got = test_creq(path, query, normalize);

	snprintf(want, sizeof(want), "GET\n%s\n%s\nhost:example.com\n\nhost\n%s", uri,
		 canonical_query, TEST_EMPTY_SHA256);
	test_expect(path, "canonical request", got, want);
	free(got);
}

START_TEST(canonical_uri_and_query)
{
	/* Non-S3 double encoding: what arrives encoded is encoded again. */
	test_expect_uri_query("/a%20b/%2F", NULL, false, "/a%2520b/%252F", "");
	test_expect_uri_query("/a b/c+d=e", NULL, true, "/a%20b/c%2Bd%3De", "");
	test_expect_uri_query("/a/b/../c/./d//", NULL, true, "/a/c/d/", "");
	test_expect_uri_query("/a/b/..", NULL, true, "/a", "");
	test_expect_uri_query("/../..", NULL, true, "/", "");
	test_expect_uri_query("/a/b/../c/./d//", NULL, false, "/a/b/../c/./d//", "");
	/* Sorted by key then value; an empty parameter is skipped and a key
	 * without '=' gets an empty value. */
	test_expect_uri_query("/", "b=2&a=1&&c&a=0", true, "/", "a=0&a=1&b=2&c=");
	/* Decoded then encoded again, upper-case; a bad escape is literal. */
	test_expect_uri_query("/", "%e1%88%b4=%zz+x&k=a b&=v&%4", true, "/",
			      "=v&%254=&%E1%88%B4=%25zz%2Bx&k=a%20b");
	test_expect_uri_query("/", "", true, "/", "");
}
END_TEST

START_TEST(canonical_headers)
{
	const struct sigv4_header h[] = {
	    {"X-B", "  two\t words \r\n\t folded  "},
	    {"x-a", "1"},
	    {"Host", "example.com"},
	    {"X-A", " 2 "},
	    {"x-empty", ""},
	};
	struct sigv4_request req = {"POST", "/", NULL, h, 5, "{}", 2};
	struct sigv4_params params = {TEST_REGION, "service", TEST_NOW, true};
	struct buf out, signed_headers;
	char want[512], hash[SIGV4_HEX_LEN + 1];

	buf_init(&out, 0);
	buf_init(&signed_headers, 0);
	ck_assert_int_eq(buf_append_str(&signed_headers, "keep|"), ERROR_OK);
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers), ERROR_OK);
	test_sha256_hex("{}", 2, hash);
	snprintf(want, sizeof(want),
		 "POST\n/\n\nhost:example.com\nx-a:1,2\nx-b:two words folded\n"
		 "x-empty:\n\nhost;x-a;x-b;x-empty\n%s",
		 hash);
	ck_assert_str_eq(out.data, want);
	/* Stage 1 appends to what the buffers held. */
	ck_assert_str_eq(signed_headers.data, "keep|host;x-a;x-b;x-empty");
	buf_free(&out);
	buf_free(&signed_headers);
}
END_TEST

START_TEST(invalid_requests_are_refused)
{
	struct sigv4_header h = {"Host", "example.com"};
	struct sigv4_header many[SIGV4_MAX_HEADERS + 1];
	struct sigv4_request req = {"GET", "/", NULL, &h, 1, NULL, 0};
	struct sigv4_params params = {TEST_REGION, "service", TEST_NOW, true};
	struct buf out, signed_headers;
	size_t i;

	buf_init(&out, 0);
	buf_init(&signed_headers, 0);
	ck_assert_int_eq(buf_append_str(&out, "prefix"), ERROR_OK);
	ck_assert_int_eq(sigv4_canonical_request(NULL, &params, &out, &signed_headers),
			 ERROR_INVALID);
	ck_assert_int_eq(sigv4_canonical_request(&req, NULL, &out, &signed_headers), ERROR_INVALID);
	req.method = NULL;
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	req.method = "";
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	req.method = "GET";
	req.path = "example";
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	req.path = "";
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	req.path = NULL;
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	req.path = "/";
	req.body_len = 3; /* with a NULL body */
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	req.body_len = 0;
	h.name = "";
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	h.name = "Bad:Name";
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	h.name = "Host";
	h.value = NULL;
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_INVALID);
	/* Too many headers is found late: what was appended is taken back. */
	for (i = 0; i < SIGV4_MAX_HEADERS + 1; i++) {
		many[i].name = "x-many";
		many[i].value = "v";
	}
	req.headers = many;
	req.n_headers = SIGV4_MAX_HEADERS + 1;
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers),
			 ERROR_TOO_LARGE);
	ck_assert_str_eq(out.data, "prefix");
	ck_assert_uint_eq(signed_headers.len, 0);
	req.n_headers = SIGV4_MAX_HEADERS;
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &out, &signed_headers), ERROR_OK);
	buf_free(&out);
	buf_free(&signed_headers);
}
END_TEST

START_TEST(invalid_params_are_refused)
{
	struct sigv4_params params = {TEST_REGION, "service", TEST_NOW, true};
	struct sigv4_header h = {"Host", "example.com"};
	struct sigv4_request req = {"GET", "/", NULL, &h, 1, NULL, 0};
	struct sigv4_credentials creds = {TEST_AKID, TEST_SECRET, NULL};
	struct sigv4_signer *signer = sigv4_signer_new();
	unsigned char key[SIGV4_KEY_LEN];
	char sig[SIGV4_HEX_LEN + 1];
	char long_secret[200];
	struct buf out;

	buf_init(&out, 0);
	ck_assert_ptr_nonnull(signer);
	ck_assert_int_eq(sigv4_string_to_sign(&params, NULL, 0, &out), ERROR_INVALID);
	params.region = "";
	ck_assert_int_eq(sigv4_string_to_sign(&params, "x", 1, &out), ERROR_INVALID);
	ck_assert_int_eq(sigv4_signing_key(TEST_SECRET, &params, key), ERROR_INVALID);
	params.region = "us/east";
	ck_assert_int_eq(sigv4_signing_key(TEST_SECRET, &params, key), ERROR_INVALID);
	params.region = TEST_REGION;
	params.service = NULL;
	ck_assert_int_eq(sigv4_signing_key(TEST_SECRET, &params, key), ERROR_INVALID);
	params.service = "service";
	params.now = (time_t)253402300800; /* year 10000 */
	ck_assert_int_eq(sigv4_string_to_sign(&params, "x", 1, &out), ERROR_INVALID);
	params.now = TEST_NOW;
	ck_assert_int_eq(sigv4_signing_key(NULL, &params, key), ERROR_INVALID);
	ck_assert_int_eq(sigv4_signing_key("", &params, key), ERROR_INVALID);
	memset(long_secret, 'k', sizeof(long_secret) - 1);
	long_secret[sizeof(long_secret) - 1] = '\0';
	ck_assert_int_eq(sigv4_signing_key(long_secret, &params, key), ERROR_INVALID);
	ck_assert_int_eq(sigv4_signature(NULL, "x", 1, sig), ERROR_INVALID);
	ck_assert_int_eq(sigv4_authorization("", &params, "host", TEST_EMPTY_SHA256, &out),
			 ERROR_INVALID);
	ck_assert_int_eq(sigv4_authorization(TEST_AKID, &params, "host", "abc", &out),
			 ERROR_INVALID);
	ck_assert_int_eq(sigv4_signer_sign(signer, NULL, &req, &params, &out), ERROR_INVALID);
	creds.access_key_id = NULL;
	ck_assert_int_eq(sigv4_signer_sign(signer, &creds, &req, &params, &out), ERROR_INVALID);
	creds.access_key_id = TEST_AKID;
	req.method = "";
	ck_assert_int_eq(sigv4_signer_sign(signer, &creds, &req, &params, &out), ERROR_INVALID);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_uint_eq(sigv4_signer_derivations(signer), 0);
	sigv4_signer_free(signer);
	sigv4_signer_free(NULL);
	ck_assert_uint_eq(sigv4_signer_derivations(NULL), 0);
	buf_free(&out);
}
END_TEST

/* Signs req through the five stages, without a signer. */
static char *test_sign_staged(const struct sigv4_credentials *creds,
			      const struct sigv4_request *req, const struct sigv4_params *params)
{
	struct buf creq, signed_headers, sts, authz;
	unsigned char key[SIGV4_KEY_LEN];
	char sig[SIGV4_HEX_LEN + 1];

	buf_init(&creq, 0);
	buf_init(&signed_headers, 0);
	buf_init(&sts, 0);
	buf_init(&authz, 0);
	ck_assert_int_eq(sigv4_canonical_request(req, params, &creq, &signed_headers), ERROR_OK);
	ck_assert_int_eq(sigv4_string_to_sign(params, creq.data, creq.len, &sts), ERROR_OK);
	ck_assert_int_eq(sigv4_signing_key(creds->secret_access_key, params, key), ERROR_OK);
	ck_assert_int_eq(sigv4_signature(key, sts.data, sts.len, sig), ERROR_OK);
	OPENSSL_cleanse(key, sizeof(key));
	ck_assert_int_eq(
	    sigv4_authorization(creds->access_key_id, params, signed_headers.data, sig, &authz),
	    ERROR_OK);
	buf_free(&creq);
	buf_free(&signed_headers);
	buf_free(&sts);
	return buf_steal(&authz);
}

/* Signs with signer and checks the result against the staged functions and
 * the number of key derivations so far. Returns the Authorization value. */
static char *test_sign_cached(struct sigv4_signer *signer, const struct sigv4_credentials *creds,
			      const struct sigv4_request *req, const struct sigv4_params *params,
			      unsigned long derivations)
{
	struct buf authz;
	char *staged = test_sign_staged(creds, req, params);

	buf_init(&authz, 0);
	ck_assert_int_eq(sigv4_signer_sign(signer, creds, req, params, &authz), ERROR_OK);
	ck_assert_str_eq(authz.data, staged);
	ck_assert_uint_eq(sigv4_signer_derivations(signer), derivations);
	free(staged);
	return buf_steal(&authz);
}

START_TEST(signer_caches_the_key)
{
	const struct sigv4_header h[] = {
	    {"Host", "dynamodb.us-east-1.amazonaws.com"},
	    {"X-Amz-Date", "20150830T123600Z"},
	};
	struct sigv4_request req = {"POST", "/", NULL, h, 2, "{}", 2};
	struct sigv4_params params = {TEST_REGION, "dynamodb", TEST_NOW, true};
	struct sigv4_credentials creds = {TEST_AKID, TEST_SECRET, NULL};
	struct sigv4_signer *signer = sigv4_signer_new();
	char *first, *again, *other;

	ck_assert_ptr_nonnull(signer);
	first = test_sign_cached(signer, &creds, &req, &params, 1);
	again = test_sign_cached(signer, &creds, &req, &params, 1);
	ck_assert_str_eq(first, again);
	free(again);
	/* A later time on the same day keeps the key but not the signature. */
	params.now = TEST_NOW + 3600;
	other = test_sign_cached(signer, &creds, &req, &params, 1);
	ck_assert_str_ne(other, first);
	free(other);
	/* Each input of the key, changed alone, derives it again. */
	params.now = TEST_NOW + 86400;
	free(test_sign_cached(signer, &creds, &req, &params, 2));
	params.region = "eu-west-1";
	free(test_sign_cached(signer, &creds, &req, &params, 3));
	params.service = "sts";
	free(test_sign_cached(signer, &creds, &req, &params, 4));
	creds.access_key_id = "AKIDOTHER";
	free(test_sign_cached(signer, &creds, &req, &params, 5));
	creds.secret_access_key = "another-secret";
	free(test_sign_cached(signer, &creds, &req, &params, 6));
	free(test_sign_cached(signer, &creds, &req, &params, 6));
	/* Back to the first inputs: the first answer, from a new key. */
	creds.access_key_id = TEST_AKID;
	creds.secret_access_key = TEST_SECRET;
	params.region = TEST_REGION;
	params.service = "dynamodb";
	params.now = TEST_NOW;
	again = test_sign_cached(signer, &creds, &req, &params, 7);
	ck_assert_str_eq(again, first);
	free(again);
	free(first);
	sigv4_signer_free(signer);
}
END_TEST

START_TEST(large_body_hashes)
{
	const size_t len = 400 * 1024;
	struct sigv4_header h = {"Host", "example.com"};
	struct sigv4_params params = {TEST_REGION, "service", TEST_NOW, true};
	struct sigv4_credentials creds = {TEST_AKID, TEST_SECRET, NULL};
	struct sigv4_signer *signer = sigv4_signer_new();
	struct buf creq, signed_headers, authz;
	char hash[SIGV4_HEX_LEN + 1];
	unsigned char *body = malloc(len);
	struct sigv4_request req = {"PUT", "/", NULL, &h, 1, body, len};
	size_t i;

	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(signer);
	for (i = 0; i < len; i++)
		body[i] = (unsigned char)(i * 31 + (i >> 11));
	buf_init(&creq, 0);
	buf_init(&signed_headers, 0);
	buf_init(&authz, 0);
	ck_assert_int_eq(sigv4_canonical_request(&req, &params, &creq, &signed_headers), ERROR_OK);
	test_sha256_hex(body, len, hash);
	ck_assert_uint_gt(creq.len, SIGV4_HEX_LEN);
	ck_assert_str_eq(creq.data + creq.len - SIGV4_HEX_LEN, hash);
	ck_assert_int_eq(sigv4_signer_sign(signer, &creds, &req, &params, &authz), ERROR_OK);
	ck_assert_uint_gt(authz.len, 0);
	sigv4_signer_free(signer);
	buf_free(&creq);
	buf_free(&signed_headers);
	buf_free(&authz);
	free(body);
}
END_TEST

/* ---- the micro-benchmark (SESSIOND_SIGV4_BENCH=1) ---- */

static double test_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Signs a typical DynamoDB GetItem (5 headers, about 200 bytes of body) with
 * one signer: first at a fixed time, so the key stays cached, then a day
 * later each time, so every signature derives its key; last with a fresh
 * signer each time, which also fetches its OpenSSL objects. */
static void test_bench(void)
{
	static const char body[] =
	    "{\"TableName\":\"sessiond-sessions\",\"Key\":{\"id\":{\"S\":"
	    "\"3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}},"
	    "\"ConsistentRead\":true,\"ProjectionExpression\":\"#d, #e, #v\","
	    "\"ExpressionAttributeNames\":{\"#d\":\"data\",\"#e\":\"expires\","
	    "\"#v\":\"version\"}}";
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	struct sigv4_header h[] = {
	    {"Host", "dynamodb.us-east-1.amazonaws.com"},
	    {"Content-Type", "application/x-amz-json-1.0"},
	    {"X-Amz-Date", amz_date},
	    {"X-Amz-Target", "DynamoDB_20120810.GetItem"},
	    {"X-Amz-Security-Token", TEST_VANILLA_TOKEN},
	};
	struct sigv4_request req = {"POST", "/", NULL, h, 5, body, sizeof(body) - 1};
	struct sigv4_params params = {TEST_REGION, "dynamodb", TEST_NOW, true};
	struct sigv4_credentials creds = {TEST_AKID, TEST_SECRET, TEST_VANILLA_TOKEN};
	struct sigv4_signer *signer = sigv4_signer_new();
	const long n = 200000;
	struct sigv4_signer *fresh;
	double t0, cached, derived, unshared;
	struct buf authz;
	long i;

	if (!signer)
		return;
	buf_init(&authz, 0);
	sigv4_amz_date(params.now, amz_date);
	t0 = test_clock_us();
	for (i = 0; i < n; i++) {
		buf_reset(&authz);
		if (sigv4_signer_sign(signer, &creds, &req, &params, &authz))
			break;
	}
	cached = (test_clock_us() - t0) / (double)n;
	t0 = test_clock_us();
	for (i = 0; i < n; i++) {
		params.now = TEST_NOW + (time_t)(i + 1) * 86400;
		sigv4_amz_date(params.now, amz_date);
		buf_reset(&authz);
		if (sigv4_signer_sign(signer, &creds, &req, &params, &authz))
			break;
	}
	derived = (test_clock_us() - t0) / (double)n;
	t0 = test_clock_us();
	for (i = 0; i < n; i++) {
		fresh = sigv4_signer_new();
		buf_reset(&authz);
		if (!fresh || sigv4_signer_sign(fresh, &creds, &req, &params, &authz)) {
			sigv4_signer_free(fresh);
			break;
		}
		sigv4_signer_free(fresh);
	}
	unshared = (test_clock_us() - t0) / (double)n;
	printf("sigv4 bench: %zu-byte body, 5 headers, %ld signatures each\n"
	       "  cached key:                 %7.3f us/sign\n"
	       "  key derived each time:      %7.3f us/sign (%lu derivations)\n"
	       "  fresh signer each time:     %7.3f us/sign\n",
	       sizeof(body) - 1, n, cached, derived, sigv4_signer_derivations(signer), unshared);
	buf_free(&authz);
	sigv4_signer_free(signer);
}

int main(void)
{
	const char *bench = getenv("SESSIOND_SIGV4_BENCH");
	Suite *s = suite_create("sigv4");
	TCase *vectors = tcase_create("vectors");
	TCase *core = tcase_create("core");
	int rc;

	tcase_add_loop_test(vectors, vector, 0, (int)TEST_N_VECTORS);
	tcase_add_test(core, amz_date_formats_utc);
	tcase_add_test(core, canonical_uri_and_query);
	tcase_add_test(core, canonical_headers);
	tcase_add_test(core, invalid_requests_are_refused);
	tcase_add_test(core, invalid_params_are_refused);
	tcase_add_test(core, signer_caches_the_key);
	tcase_add_test(core, large_body_hashes);
	suite_add_tcase(s, vectors);
	suite_add_tcase(s, core);
	rc = check_run(s);
	if (bench && !strcmp(bench, "1"))
		test_bench();
	return rc;
}
