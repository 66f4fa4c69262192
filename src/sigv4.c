/* sigv4.c: AWS Signature Version 4 in the Authorization header (see sigv4.h),
 * as staged pure functions plus a signer that caches the derived key.
 * Canonicalisation follows AWS's rules for every service but S3. No I/O, no
 * clock, no globals, and nothing here logs: secrets pass through this file.
 * Presigned (query-string) signing is not implemented. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sessiond/hex.h"
#include "sessiond/secret.h"
#include "sessiond/sigv4.h"

/* DESIGN
 * Each stage of sigv4.h is a thin public wrapper around a static function
 * that takes a struct sigv4_crypto: the wrappers fetch SHA-256 and HMAC from
 * OpenSSL per call, while a signer fetches them once and also keeps its
 * scratch buffers, so signing with a cached key costs a SHA-256 of the body,
 * one of the canonical request, one HMAC and some copying. Choices
 * the AWS suite pins down: paths are encoded per segment even when already
 * encoded (non-S3 "double encoding"); query keys and values are decoded,
 * then encoded again; header values are trimmed and every inner run of
 * whitespace, folded line breaks included, becomes one space. */

#define SIGV4_ALGORITHM	 "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"

/* AWS secret keys are 40 characters; the bound lets "AWS4" + secret live on
 * the stack, where it is wiped before returning. */
#define SIGV4_MAX_SECRET_LEN 128

/* The OpenSSL objects signing needs. Fetching them is most of the cost of
 * a one-shot HMAC() in OpenSSL 3 (about 3 us against 1 us), so a signer
 * fetches them once and the staged functions once per call. */
struct sigv4_crypto {
	EVP_MD *sha256;
	EVP_MAC_CTX *hmac; /* HMAC-SHA256, keyed anew for every MAC */
};

struct sigv4_signer {
	struct sigv4_crypto crypto;
	/* Scratch reused by every signature, so steady-state signing does
	 * not allocate. creq is wiped after each use: it may hold the
	 * session token. */
	struct buf creq, sts, signed_headers;
	/* The inputs the cached key was derived from; NULL when there is none.
	 * The secret is compared too, so rotating it under the same access
	 * key id cannot leave a stale key in use. */
	char *access_key_id;
	char *secret; /* copied; wiped when replaced */
	char *region;
	char *service;
	char date[SIGV4_DATE_LEN + 1];
	unsigned char key[SIGV4_KEY_LEN]; /* wiped when replaced */
	unsigned long derivations;
};

/* ---- small helpers ---- */

static char sigv4_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* RFC 3986 unreserved characters, the only ones SigV4 leaves unencoded. */
static int sigv4_is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Header whitespace. CR and LF count so that a folded (obs-fold) value
 * canonicalises to single spaces, as aws-c-auth and botocore do. */
static int sigv4_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* True for a non-empty string of visible ASCII without any of the bytes in
 * reject: what may stand between the separators of a scope or a header. */
static int sigv4_is_token(const char *s, const char *reject)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr(reject, *s))
			return 0;
	return 1;
}

static void sigv4_put_digits(char *out, int value, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + value % 10);
		value /= 10;
	}
}

/* Writes now as YYYYMMDDTHHMMSSZ. Returns 0 (and writes "") when now is
 * outside the years 0 to 9999 that the format can hold. */
static int sigv4_format_time(time_t now, char *out)
{
	struct tm tm;

	out[0] = '\0';
	if (!gmtime_r(&now, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return 0;
	sigv4_put_digits(out, tm.tm_year + 1900, 4);
	sigv4_put_digits(out + 4, tm.tm_mon + 1, 2);
	sigv4_put_digits(out + 6, tm.tm_mday, 2);
	out[8] = 'T';
	sigv4_put_digits(out + 9, tm.tm_hour, 2);
	sigv4_put_digits(out + 11, tm.tm_min, 2);
	sigv4_put_digits(out + 13, tm.tm_sec, 2);
	out[15] = 'Z';
	out[16] = '\0';
	return 1;
}

/* Checks the parts of params that end up in the credential scope, and
 * writes the signing time as an x-amz-date into amz_date. */
static int sigv4_check_params(const struct sigv4_params *params, char *amz_date)
{
	return params && sigv4_is_token(params->region, "/") &&
	       sigv4_is_token(params->service, "/") && sigv4_format_time(params->now, amz_date);
}

static void sigv4_crypto_free(struct sigv4_crypto *c)
{
	EVP_MD_free(c->sha256);
	EVP_MAC_CTX_free(c->hmac);
	c->sha256 = NULL;
	c->hmac = NULL;
}

/* OpenSSL fails in this file only when it cannot allocate (or its
 * configuration lacks SHA-256), hence ERROR_NOMEM here and below. */
static enum error_code sigv4_crypto_init(struct sigv4_crypto *c)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	enum error_code rc = ERROR_NOMEM;

	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	/* The context holds its own reference to mac. */
	c->hmac = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	if (!c->sha256 || !c->hmac)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(c->hmac, params))
		rc = ERROR_OK;
out:
	if (rc != ERROR_OK)
		sigv4_crypto_free(c);
	return rc;
}

static enum error_code sigv4_sha256_hex(struct sigv4_crypto *c, const void *data, size_t len,
					char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!EVP_Digest(len ? data : "", len, md, &md_len, c->sha256, NULL) ||
	    md_len != SIGV4_KEY_LEN)
		return ERROR_NOMEM;
	hex_encode(md, md_len, hex);
	return ERROR_OK;
}

static enum error_code sigv4_hmac(struct sigv4_crypto *c, const void *key, size_t key_len,
				  const void *data, size_t len, unsigned char *md)
{
	size_t md_len = 0;

	if (!EVP_MAC_init(c->hmac, key, key_len, NULL) ||
	    !EVP_MAC_update(c->hmac, len ? data : (const void *)"", len) ||
	    !EVP_MAC_final(c->hmac, md, &md_len, SIGV4_KEY_LEN) || md_len != SIGV4_KEY_LEN)
		return ERROR_NOMEM;
	return ERROR_OK;
}

/* Appends each string of the NULL-terminated list; on error it takes back
 * what it appended, so the buffer is unchanged. */
static enum error_code sigv4_append_all(struct buf *out, ...) __attribute__((sentinel));

static enum error_code sigv4_append_all(struct buf *out, ...)
{
	size_t start = out->len;
	enum error_code rc = ERROR_OK;
	const char *s;
	va_list ap;

	va_start(ap, out);
	while (rc == ERROR_OK && (s = va_arg(ap, const char *)))
		rc = buf_append_str(out, s);
	va_end(ap);
	if (rc != ERROR_OK)
		buf_truncate(out, start);
	return rc;
}

/* Appends the credential scope, "20150830/us-east-1/service/aws4_request". */
static enum error_code sigv4_append_scope(struct buf *out, const char *amz_date,
					  const struct sigv4_params *params)
{
	char date[SIGV4_DATE_LEN + 1];

	memcpy(date, amz_date, SIGV4_DATE_LEN);
	date[SIGV4_DATE_LEN] = '\0';
	return sigv4_append_all(out, date, "/", params->region, "/", params->service,
				"/" SIGV4_TERMINATOR, (const char *)NULL);
}

/* ---- stage 1: the canonical request ---- */

/* Appends s[0..len) URI-encoded the SigV4 way: unreserved bytes as they are,
 * every other byte as %XX in upper-case hex; '/' is kept when keep_slash. */
static enum error_code sigv4_append_encoded(struct buf *out, const char *s, size_t len,
					    int keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	char esc[3] = {'%', 0, 0};
	enum error_code rc;
	size_t i = 0, start;

	while (i < len) {
		/* Copy runs of safe bytes in one append: most input is safe. */
		start = i;
		while (i < len &&
		       (sigv4_is_unreserved((unsigned char)s[i]) || (keep_slash && s[i] == '/')))
			i++;
		rc = buf_append(out, s + start, i - start);
		if (rc != ERROR_OK || i == len)
			return rc;
		esc[1] = digits[(unsigned char)s[i] >> 4];
		esc[2] = digits[(unsigned char)s[i] & 0x0f];
		rc = buf_append(out, esc, sizeof(esc));
		if (rc != ERROR_OK)
			return rc;
		i++;
	}
	return ERROR_OK;
}

/* Drops the last segment written since start: each one is "/" + encoded
 * bytes, and encoding never leaves a '/', so the last '/' begins it. */
static void sigv4_drop_segment(struct buf *out, size_t start)
{
	size_t i = out->len;

	while (i > start && out->data[i - 1] != '/')
		i--;
	if (i > start)
		buf_truncate(out, i - 1);
}

/* Appends the canonical URI. Every segment is encoded on its own, so a path
 * that arrives already encoded is encoded again ("%20" becomes "%2520"):
 * what every service but S3 expects. Normalising drops empty and "."
 * segments and lets ".." drop the one before it (RFC 3986 5.2.4 plus the
 * collapsing of "//" that AWS asks for, as botocore does); a trailing slash
 * survives when some segment does. */
static enum error_code sigv4_append_uri(struct buf *out, const char *path, int normalize)
{
	const char *seg = path + 1;
	size_t start = out->len, len;
	enum error_code rc;

	if (!normalize)
		return sigv4_append_encoded(out, path, strlen(path), 1);
	for (;;) {
		len = strcspn(seg, "/");
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			sigv4_drop_segment(out, start);
		} else if (len > 1 || (len == 1 && seg[0] != '.')) {
			rc = buf_append_char(out, '/');
			if (rc == ERROR_OK)
				rc = sigv4_append_encoded(out, seg, len, 0);
			if (rc != ERROR_OK)
				return rc;
		}
		if (!seg[len])
			break;
		seg += len + 1;
	}
	if (out->len == start || path[strlen(path) - 1] == '/')
		return buf_append_char(out, '/');
	return ERROR_OK;
}

/* Appends one query key or value in canonical form. It is decoded first and
 * encoded again, so "%e1%88%b4", "%E1%88%B4" and the raw UTF-8 all come out
 * as "%E1%88%B4". A '%' not followed by two hex digits is taken literally
 * (and becomes "%25"); '+' stays '+' ("%2B"): SigV4 queries are not form
 * encoded, so a space must arrive as "%20". */
static enum error_code sigv4_append_query_part(struct buf *out, struct buf *scratch, const char *s,
					       size_t len)
{
	enum error_code rc = ERROR_OK;
	size_t i;
	int hi, lo;
	char c;

	buf_reset(scratch);
	for (i = 0; i < len && rc == ERROR_OK; i++) {
		c = s[i];
		if (c == '%' && i + 2 < len) {
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi >= 0 && lo >= 0) {
				c = (char)(hi << 4 | lo);
				i += 2;
			}
		}
		rc = buf_append_char(scratch, c);
	}
	if (rc != ERROR_OK)
		return rc;
	return sigv4_append_encoded(out, scratch->data, scratch->len, 0);
}

/* One query parameter, encoded, in the scratch buffer of
 * sigv4_append_query: offsets while that buffer may still move, then
 * pointers for sorting. */
struct sigv4_param {
	size_t key_off, value_off;
	const char *key, *value;
};

static int sigv4_param_cmp(const void *a, const void *b)
{
	const struct sigv4_param *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

/* Encodes every parameter into enc as "key\0value\0" and records where. */
static enum error_code sigv4_split_query(const char *query, struct buf *enc,
					 struct sigv4_param *params, size_t *n)
{
	struct buf scratch;
	const char *p = query, *eq;
	enum error_code rc = ERROR_OK;
	size_t len;

	buf_init(&scratch, 0);
	*n = 0;
	for (;;) {
		len = strcspn(p, "&");
		/* "a&&b" has an empty parameter between the '&'s: skip it. */
		if (len > 0) {
			eq = memchr(p, '=', len);
			params[*n].key_off = enc->len;
			rc = sigv4_append_query_part(enc, &scratch, p, eq ? (size_t)(eq - p) : len);
			if (rc == ERROR_OK)
				rc = buf_append_char(enc, '\0');
			params[*n].value_off = enc->len;
			if (rc == ERROR_OK && eq)
				rc = sigv4_append_query_part(enc, &scratch, eq + 1,
							     len - (size_t)(eq + 1 - p));
			if (rc == ERROR_OK)
				rc = buf_append_char(enc, '\0');
			if (rc != ERROR_OK)
				goto out;
			(*n)++;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
out:
	buf_free(&scratch);
	return rc;
}

/* Appends the canonical query: parameters sorted by encoded key, then by
 * encoded value, each written "key=value" (a key without '=' gets an empty
 * value), joined with '&'. */
static enum error_code sigv4_append_query(struct buf *out, const char *query)
{
	struct sigv4_param *params = NULL;
	struct buf enc;
	enum error_code rc = ERROR_NOMEM;
	size_t max = 1, n = 0, i;
	const char *p;

	buf_init(&enc, 0);
	if (!query || !*query)
		return ERROR_OK;
	for (p = query; *p; p++)
		max += *p == '&';
	params = calloc(max, sizeof(*params));
	if (!params)
		goto out;
	rc = sigv4_split_query(query, &enc, params, &n);
	if (rc != ERROR_OK)
		goto out;
	for (i = 0; i < n; i++) {
		params[i].key = enc.data + params[i].key_off;
		params[i].value = enc.data + params[i].value_off;
	}
	qsort(params, n, sizeof(*params), sigv4_param_cmp);
	for (i = 0; i < n && rc == ERROR_OK; i++)
		rc = sigv4_append_all(out, i ? "&" : "", params[i].key, "=", params[i].value, (const char *)NULL);
out:
	free(params);
	buf_free(&enc);
	return rc;
}

/* Compares header names as their lower-case forms, byte by byte. */
static int sigv4_name_cmp(const char *a, const char *b)
{
	unsigned char x, y;

	for (;; a++, b++) {
		x = (unsigned char)sigv4_lower(*a);
		y = (unsigned char)sigv4_lower(*b);
		if (x != y || !x)
			return x - y;
	}
}

/* Appends value with the whitespace around it removed and each inner run of
 * it (folded line breaks included) turned into one space. */
static enum error_code sigv4_append_trimmed(struct buf *out, const char *v)
{
	const char *start;
	enum error_code rc;

	while (sigv4_is_space(*v))
		v++;
	while (*v) {
		start = v;
		while (*v && !sigv4_is_space(*v))
			v++;
		rc = buf_append(out, start, (size_t)(v - start));
		if (rc != ERROR_OK)
			return rc;
		while (sigv4_is_space(*v))
			v++;
		if (*v && (rc = buf_append_char(out, ' ')) != ERROR_OK)
			return rc;
	}
	return ERROR_OK;
}

static enum error_code sigv4_append_lower(struct buf *out, const char *s)
{
	size_t start = out->len;
	enum error_code rc = buf_append_str(out, s);

	for (; rc == ERROR_OK && start < out->len; start++)
		out->data[start] = sigv4_lower(out->data[start]);
	return rc;
}

/* Sorts the headers by lower-case name into sorted. Insertion sort: it is
 * stable, which keeps repeated names in the order given (their values are
 * joined in that order), and n is at most SIGV4_MAX_HEADERS. */
static void sigv4_sort_headers(const struct sigv4_header *headers, size_t n,
			       const struct sigv4_header **sorted)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = i; j > 0 && sigv4_name_cmp(sorted[j - 1]->name, headers[i].name) > 0; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = &headers[i];
	}
}

/* Appends one "name:value\n" line per distinct name to out, values of a
 * repeated name joined with ',', and the names joined with ';' to
 * signed_headers. */
static enum error_code sigv4_append_headers(struct buf *out, struct buf *signed_headers,
					    const struct sigv4_request *req)
{
	const struct sigv4_header *sorted[SIGV4_MAX_HEADERS];
	enum error_code rc = ERROR_OK;
	size_t i, n = req->n_headers;

	if (n > SIGV4_MAX_HEADERS)
		return ERROR_TOO_LARGE;
	if (n && !req->headers)
		return ERROR_INVALID;
	for (i = 0; i < n; i++)
		if (!sigv4_is_token(req->headers[i].name, ":") || !req->headers[i].value)
			return ERROR_INVALID;
	sigv4_sort_headers(req->headers, n, sorted);
	for (i = 0; i < n && rc == ERROR_OK; i++) {
		if (i > 0 && !sigv4_name_cmp(sorted[i - 1]->name, sorted[i]->name)) {
			rc = buf_append_char(out, ',');
		} else {
			if (i > 0)
				rc = buf_append_char(out, '\n');
			if (rc == ERROR_OK && i > 0)
				rc = buf_append_char(signed_headers, ';');
			if (rc == ERROR_OK)
				rc = sigv4_append_lower(signed_headers, sorted[i]->name);
			if (rc == ERROR_OK)
				rc = sigv4_append_lower(out, sorted[i]->name);
			if (rc == ERROR_OK)
				rc = buf_append_char(out, ':');
		}
		if (rc == ERROR_OK)
			rc = sigv4_append_trimmed(out, sorted[i]->value);
	}
	if (rc == ERROR_OK && n)
		rc = buf_append_char(out, '\n');
	return rc;
}

static int sigv4_request_valid(const struct sigv4_request *req)
{
	return req && sigv4_is_token(req->method, "") && req->path && req->path[0] == '/' &&
	       (req->body || !req->body_len);
}

static enum error_code sigv4_canonical(struct sigv4_crypto *c, const struct sigv4_request *req,
				       const struct sigv4_params *params, struct buf *out,
				       struct buf *signed_headers)
{
	char payload_hash[SIGV4_HEX_LEN + 1];
	size_t out_start, sh_start;
	enum error_code rc;

	if (!sigv4_request_valid(req) || !params || !out || !signed_headers)
		return ERROR_INVALID;
	out_start = out->len;
	sh_start = signed_headers->len;
	/* Appending nothing still allocates: data is non-NULL afterwards even
	 * when there are no headers to sign. */
	rc = buf_append(signed_headers, "", 0);
	if (rc == ERROR_OK)
		rc = sigv4_sha256_hex(c, req->body, req->body_len, payload_hash);
	if (rc == ERROR_OK)
		rc = sigv4_append_all(out, req->method, "\n", (const char *)NULL);
	if (rc == ERROR_OK)
		rc = sigv4_append_uri(out, req->path, params->normalize_path);
	if (rc == ERROR_OK)
		rc = buf_append_char(out, '\n');
	if (rc == ERROR_OK)
		rc = sigv4_append_query(out, req->query);
	if (rc == ERROR_OK)
		rc = buf_append_char(out, '\n');
	if (rc == ERROR_OK)
		rc = sigv4_append_headers(out, signed_headers, req);
	if (rc == ERROR_OK)
		rc = sigv4_append_all(out, "\n", signed_headers->data + sh_start, "\n",
				      payload_hash, (const char *)NULL);
	if (rc != ERROR_OK) {
		buf_truncate(out, out_start);
		buf_truncate(signed_headers, sh_start);
	}
	return rc;
}

/* ---- stages 2 to 4 ---- */

static enum error_code sigv4_sts(struct sigv4_crypto *c, const struct sigv4_params *params,
				 const char *canonical_request, size_t len, struct buf *out)
{
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	char hash[SIGV4_HEX_LEN + 1];
	size_t start;
	enum error_code rc;

	if (!sigv4_check_params(params, amz_date) || !canonical_request || !out)
		return ERROR_INVALID;
	rc = sigv4_sha256_hex(c, canonical_request, len, hash);
	if (rc != ERROR_OK)
		return rc;
	start = out->len;
	rc = sigv4_append_all(out, SIGV4_ALGORITHM "\n", amz_date, "\n", (const char *)NULL);
	if (rc == ERROR_OK)
		rc = sigv4_append_scope(out, amz_date, params);
	if (rc == ERROR_OK)
		rc = sigv4_append_all(out, "\n", hash, (const char *)NULL);
	if (rc != ERROR_OK)
		buf_truncate(out, start);
	return rc;
}

static enum error_code sigv4_derive_key(struct sigv4_crypto *c, const char *secret_access_key,
					const struct sigv4_params *params, unsigned char *key)
{
	unsigned char secret[4 + SIGV4_MAX_SECRET_LEN];
	unsigned char k1[SIGV4_KEY_LEN], k2[SIGV4_KEY_LEN];
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	enum error_code rc;
	size_t len;

	if (!sigv4_check_params(params, amz_date) || !secret_access_key || !key)
		return ERROR_INVALID;
	len = strlen(secret_access_key);
	if (len == 0 || len > SIGV4_MAX_SECRET_LEN)
		return ERROR_INVALID;
	memcpy(secret, "AWS4", 4);
	memcpy(secret + 4, secret_access_key, len);
	/* kDate, kRegion, kService, kSigning: each keys the next HMAC. */
	rc = sigv4_hmac(c, secret, 4 + len, amz_date, SIGV4_DATE_LEN, k1);
	if (rc != ERROR_OK)
		goto out;
	rc = sigv4_hmac(c, k1, sizeof(k1), params->region, strlen(params->region), k2);
	if (rc != ERROR_OK)
		goto out;
	rc = sigv4_hmac(c, k2, sizeof(k2), params->service, strlen(params->service), k1);
	if (rc != ERROR_OK)
		goto out;
	rc = sigv4_hmac(c, k1, sizeof(k1), SIGV4_TERMINATOR, sizeof(SIGV4_TERMINATOR) - 1, key);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	return rc;
}

static enum error_code sigv4_sign_sts(struct sigv4_crypto *c, const unsigned char *key,
				      const char *string_to_sign, size_t len, char *hex)
{
	unsigned char md[SIGV4_KEY_LEN];
	enum error_code rc;

	if (!key || !string_to_sign || !hex)
		return ERROR_INVALID;
	rc = sigv4_hmac(c, key, SIGV4_KEY_LEN, string_to_sign, len, md);
	if (rc == ERROR_OK)
		hex_encode(md, sizeof(md), hex);
	return rc;
}

/* ---- the staged functions of sigv4.h: each fetches its OpenSSL objects ---- */

enum error_code sigv4_canonical_request(const struct sigv4_request *req,
					const struct sigv4_params *params, struct buf *out,
					struct buf *signed_headers)
{
	struct sigv4_crypto c;
	enum error_code rc = sigv4_crypto_init(&c);

	if (rc == ERROR_OK)
		rc = sigv4_canonical(&c, req, params, out, signed_headers);
	sigv4_crypto_free(&c);
	return rc;
}

void sigv4_amz_date(time_t now, char *out)
{
	sigv4_format_time(now, out);
}

enum error_code sigv4_string_to_sign(const struct sigv4_params *params,
				     const char *canonical_request, size_t len, struct buf *out)
{
	struct sigv4_crypto c;
	enum error_code rc = sigv4_crypto_init(&c);

	if (rc == ERROR_OK)
		rc = sigv4_sts(&c, params, canonical_request, len, out);
	sigv4_crypto_free(&c);
	return rc;
}

enum error_code sigv4_signing_key(const char *secret_access_key, const struct sigv4_params *params,
				  unsigned char *key)
{
	struct sigv4_crypto c;
	enum error_code rc = sigv4_crypto_init(&c);

	if (rc == ERROR_OK)
		rc = sigv4_derive_key(&c, secret_access_key, params, key);
	sigv4_crypto_free(&c);
	return rc;
}

enum error_code sigv4_signature(const unsigned char *key, const char *string_to_sign, size_t len,
				char *hex)
{
	struct sigv4_crypto c;
	enum error_code rc = sigv4_crypto_init(&c);

	if (rc == ERROR_OK)
		rc = sigv4_sign_sts(&c, key, string_to_sign, len, hex);
	sigv4_crypto_free(&c);
	return rc;
}

enum error_code sigv4_authorization(const char *access_key_id, const struct sigv4_params *params,
				    const char *signed_headers, const char *hex_signature,
				    struct buf *out)
{
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	size_t start;
	enum error_code rc;

	if (!sigv4_check_params(params, amz_date) || !sigv4_is_token(access_key_id, "/,") ||
	    !signed_headers || !hex_signature || strlen(hex_signature) != SIGV4_HEX_LEN || !out)
		return ERROR_INVALID;
	start = out->len;
	rc = sigv4_append_all(out, SIGV4_ALGORITHM " Credential=", access_key_id, "/", (const char *)NULL);
	if (rc == ERROR_OK)
		rc = sigv4_append_scope(out, amz_date, params);
	if (rc == ERROR_OK)
		rc = sigv4_append_all(out, ", SignedHeaders=", signed_headers,
				      ", Signature=", hex_signature, (const char *)NULL);
	if (rc != ERROR_OK)
		buf_truncate(out, start);
	return rc;
}

/* ---- the signer ---- */

struct sigv4_signer *sigv4_signer_new(void)
{
	struct sigv4_signer *signer = calloc(1, sizeof(*signer));

	if (!signer)
		return NULL;
	buf_init(&signer->creq, 0);
	buf_init(&signer->sts, 0);
	buf_init(&signer->signed_headers, 0);
	if (sigv4_crypto_init(&signer->crypto) != ERROR_OK) {
		free(signer);
		return NULL;
	}
	return signer;
}

/* Wipes and frees the cached key and the inputs it came from. */
static void sigv4_signer_forget(struct sigv4_signer *signer)
{
	secret_free(signer->secret);
	free(signer->access_key_id);
	free(signer->region);
	free(signer->service);
	signer->secret = NULL;
	signer->access_key_id = NULL;
	signer->region = NULL;
	signer->service = NULL;
	signer->date[0] = '\0';
	OPENSSL_cleanse(signer->key, sizeof(signer->key));
}

void sigv4_signer_free(struct sigv4_signer *signer)
{
	if (!signer)
		return;
	sigv4_signer_forget(signer);
	/* Freeing the HMAC context wipes the key state inside it. */
	sigv4_crypto_free(&signer->crypto);
	buf_free_secret(&signer->creq);
	buf_free(&signer->sts);
	buf_free(&signer->signed_headers);
	free(signer);
}

unsigned long sigv4_signer_derivations(const struct sigv4_signer *signer)
{
	return signer ? signer->derivations : 0;
}

static int sigv4_signer_has_key(const struct sigv4_signer *signer,
				const struct sigv4_credentials *creds,
				const struct sigv4_params *params, const char *date)
{
	size_t len;

	if (!signer->secret)
		return 0;
	len = strlen(creds->secret_access_key);
	/* CRYPTO_memcmp: the comparison takes the same time wherever the
	 * secrets differ, so it says nothing about them. */
	return len == strlen(signer->secret) &&
	       !CRYPTO_memcmp(signer->secret, creds->secret_access_key, len) &&
	       !strcmp(signer->access_key_id, creds->access_key_id) &&
	       !strncmp(signer->date, date, SIGV4_DATE_LEN) &&
	       !strcmp(signer->region, params->region) && !strcmp(signer->service, params->service);
}

/* Makes signer->key the signing key for creds and params, deriving it only
 * when an input differs from the last derivation. */
static enum error_code sigv4_signer_refresh(struct sigv4_signer *signer,
					    const struct sigv4_credentials *creds,
					    const struct sigv4_params *params, const char *amz_date)
{
	enum error_code rc;

	if (sigv4_signer_has_key(signer, creds, params, amz_date))
		return ERROR_OK;
	sigv4_signer_forget(signer);
	rc = sigv4_derive_key(&signer->crypto, creds->secret_access_key, params, signer->key);
	if (rc != ERROR_OK)
		goto out;
	rc = ERROR_NOMEM;
	signer->secret = strdup(creds->secret_access_key);
	signer->access_key_id = strdup(creds->access_key_id);
	signer->region = strdup(params->region);
	signer->service = strdup(params->service);
	if (!signer->secret || !signer->access_key_id || !signer->region || !signer->service)
		goto out;
	memcpy(signer->date, amz_date, SIGV4_DATE_LEN);
	signer->date[SIGV4_DATE_LEN] = '\0';
	signer->derivations++;
	rc = ERROR_OK;
out:
	if (rc != ERROR_OK)
		sigv4_signer_forget(signer);
	return rc;
}

/* The stages of sigv4_signer_sign, on the signer's scratch buffers. */
static enum error_code sigv4_signer_run(struct sigv4_signer *signer,
					const struct sigv4_credentials *creds,
					const struct sigv4_request *req,
					const struct sigv4_params *params, const char *amz_date,
					struct buf *authorization)
{
	char signature[SIGV4_HEX_LEN + 1];
	enum error_code rc;

	rc = sigv4_canonical(&signer->crypto, req, params, &signer->creq, &signer->signed_headers);
	if (rc != ERROR_OK)
		return rc;
	rc = sigv4_sts(&signer->crypto, params, signer->creq.data, signer->creq.len, &signer->sts);
	if (rc != ERROR_OK)
		return rc;
	rc = sigv4_signer_refresh(signer, creds, params, amz_date);
	if (rc != ERROR_OK)
		return rc;
	rc = sigv4_sign_sts(&signer->crypto, signer->key, signer->sts.data, signer->sts.len,
			    signature);
	if (rc != ERROR_OK)
		return rc;
	return sigv4_authorization(creds->access_key_id, params, signer->signed_headers.data,
				   signature, authorization);
}

enum error_code sigv4_signer_sign(struct sigv4_signer *signer,
				  const struct sigv4_credentials *creds,
				  const struct sigv4_request *req,
				  const struct sigv4_params *params, struct buf *authorization)
{
	char amz_date[SIGV4_AMZ_DATE_LEN + 1];
	enum error_code rc;

	/* creds->session_token is not read: the caller has put it among the
	 * request's headers when it is to be signed (see sigv4.h). */
	if (!signer || !creds || !sigv4_is_token(creds->access_key_id, "/,") ||
	    !creds->secret_access_key || !sigv4_check_params(params, amz_date) || !authorization)
		return ERROR_INVALID;
	rc = sigv4_signer_run(signer, creds, req, params, amz_date, authorization);
	/* Keep the memory for the next signature, but not the session token
	 * the canonical request may hold. */
	if (signer->creq.data)
		OPENSSL_cleanse(signer->creq.data, signer->creq.len);
	buf_reset(&signer->creq);
	buf_reset(&signer->sts);
	buf_reset(&signer->signed_headers);
	return rc;
}
