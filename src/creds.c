/* creds.c: AWS credentials found the way the AWS SDKs find them, and kept
 * fresh in the background. Not a general AWS configuration library: no
 * credential_process, IAM Identity Center (SSO) or role chaining through
 * source_profile; a profile that asks for one of those says so in the
 * start-up error instead of being silently passed over.
 *
 * DESIGN. creds_new walks the chain once, in the SDKs' order: settings,
 * environment, shared files and profile, web identity, container, IMDS.
 * Each provider is one function that either fills a creds_value or writes
 * why it could not; the first that succeeds is the only one asked again.
 * A refreshable provider (web identity, container, IMDS) records in struct
 * creds_fetcher everything a later fetch needs, copied at start-up, so the
 * refresh thread never calls getenv (not thread-safe against setenv).
 *
 * Three kinds of caller touch a struct creds: readers (creds_get, any
 * thread), the refresh thread, and creds_refresh_now. `lock` guards the
 * current value and the schedule and is held only to copy a struct, so a
 * reader never waits on the network while its credentials are valid.
 * `fetch_lock` serialises fetches: a caller that waited on it sees that the
 * generation moved on and takes that fetch's result instead of fetching
 * again. HTTP runs on a private curl multi handle polled every 100 ms, so
 * creds_free can abort a fetch in flight and return well within a second. */
#include <openssl/crypto.h>

#include <curl/curl.h>
#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sessiond/buf.h"
#include "sessiond/creds.h"
#include "sessiond/file.h"
#include "sessiond/hex.h"
#include "sessiond/jitter.h"
#include "sessiond/log.h"
#include "sessiond/now.h"
#include "sessiond/secret.h"
#include "sessiond/xfer.h"

#ifndef SESSIOND_VERSION
#define SESSIOND_VERSION "0"
#endif

#define CREDS_DEFAULT_TIMEOUT_MS   1000
#define CREDS_DEFAULT_MARGIN_S	   300
#define CREDS_REASON_MAX	   320
#define CREDS_WHY_MAX		   4096
#define CREDS_RESPONSE_MAX	   (64 * 1024) /* any provider's answer */
#define CREDS_SHARED_FILE_MAX	   (1 << 20)   /* ~/.aws/config and credentials */
#define CREDS_TOKEN_FILE_MAX	   (64 * 1024) /* web identity and container tokens */
#define CREDS_POLL_MS		   100	       /* how soon creds_free aborts a fetch */
#define CREDS_JITTER_MAX_MS	   60000       /* refresh 5 to 6 minutes before expiry */
#define CREDS_RETRY_MIN_MS	   1000	       /* after a failure, then doubling */
#define CREDS_RETRY_MAX_MS	   60000
#define CREDS_SHORT_MIN_MS	   1000 /* credentials that arrive inside the margin */
#define CREDS_SHORT_MAX_MS	   60000
#define CREDS_REFRESH_NOW_FLOOR_MS 1000 /* creds_refresh_now after a success */

#define CREDS_ECS_BASE	     "http://169.254.170.2"
#define CREDS_IMDS_BASE	     "http://169.254.169.254"
#define CREDS_IMDS_BASE_V6   "http://[fd00:ec2::254]"
#define CREDS_IMDS_TOKEN_TTL "21600"
#define CREDS_IMDS_TOKEN_MAX 1024
#define CREDS_ROLE_MAX	     128
#define CREDS_URL_MAX	     2048
#define CREDS_USER_AGENT     "User-Agent: sessiond/" SESSIOND_VERSION

/* Why a provider gave nothing. The text goes to the log and into creds_new's
 * one-line error, so it never holds a secret. `configured` tells a provider
 * that was set up and failed (worth a warning) from one not set up at all. */
struct creds_reason {
	char text[CREDS_REASON_MAX];
	bool configured;
};

enum creds_kind {
	CREDS_KIND_STATIC, /* settings, environment, profile keys: never refreshed */
	CREDS_KIND_WEB_IDENTITY,
	CREDS_KIND_CONTAINER,
	CREDS_KIND_IMDS,
};

/* What a refreshable provider needs to fetch again; owned copies. */
struct creds_fetcher {
	enum creds_kind kind;
	char *url;	    /* STS endpoint, container URL or IMDS base URL */
	char *role_arn;	    /* web identity */
	char *session_name; /* web identity */
	char *token_file;   /* web identity token, or the container's token file */
	char *auth_token;   /* container token from the environment: secret */
	char *ca_file;	    /* added to the system store for https */
	char *proxy;	    /* STS only; NULL = libcurl reads HTTPS_PROXY itself */
	long timeout_ms;
};

struct creds {
	/* Immutable after creds_new. */
	const char *source; /* the provider's name, a string constant */
	struct creds_fetcher f;
	int64_t margin_ms;
	bool curl_ready;
	atomic_bool stopping; /* creds_free: abort fetches in flight */

	/* Held across a whole fetch; see DESIGN. Taken before `lock`. */
	pthread_mutex_t fetch_lock;

	/* Shared by readers, fetchers and the refresh thread. */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the thread's schedule changed, or stop */
	struct creds_value cur;
	uint64_t generation; /* fetches finished, successful or not */
	bool last_failed;
	unsigned failures; /* in a row */
	int64_t next_ms;   /* monotonic time of the thread's next fetch */
	int64_t last_ok_ms;
	struct jitter jitter; /* for the schedule, under lock */
	bool running;

	pthread_t thread;
	bool thread_started;
};

/* ---- small helpers ----------------------------------------------------- */

static void creds_why(struct creds_reason *r, bool configured, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void creds_why(struct creds_reason *r, bool configured, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	r->configured = configured;
}

static bool creds_set(const char *s)
{
	return s && *s;
}

/* An environment variable, NULL when unset or empty (the SDKs treat both
 * alike). Start-up only: see DESIGN. */
static const char *creds_env(const char *name)
{
	const char *v = getenv(name);

	return creds_set(v) ? v : NULL;
}

/* Keys, secrets and tokens end up in HTTP headers, so only visible ASCII
 * is accepted: no spaces, no CR/LF injection. */
static bool creds_visible(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return len > 0;
}

/* Copies a key, secret or token of len bytes into dst (size n). */
static bool creds_copy_field(char *dst, size_t n, const char *src, size_t len)
{
	if (len >= n || !creds_visible(src, len))
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

/* Removes trailing whitespace (files end with a newline). */
static void creds_trim_right(struct buf *b)
{
	size_t len = b->len;

	while (len && strchr(" \t\r\n", b->data[len - 1]))
		len--;
	buf_truncate(b, len);
}

/* A header value from a file or the environment: printable ASCII or space. */
static bool creds_header_safe(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return len > 0;
}

/* ---- ISO 8601 ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no gmtime/timegm and no TZ dependence. */
static int64_t creds_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool creds_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* Parses "2024-05-01T12:34:56Z", with an optional fraction and a "Z" or
 * "+hh:mm" zone, as IMDS, ECS and STS write Expiration. The zone is
 * required: a time without one cannot be placed. */
static bool creds_parse_time(const char *s, int64_t *out)
{
	const char *p = s;
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;

	if (!creds_digits(&p, 4, &y) || *p++ != '-' || !creds_digits(&p, 2, &mo) || *p++ != '-' ||
	    !creds_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!creds_digits(&p, 2, &h) || *p++ != ':' || !creds_digits(&p, 2, &mi) || *p++ != ':' ||
	    !creds_digits(&p, 2, &se))
		return false;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!creds_digits(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (!creds_digits(&p, 2, &om))
			return false;
	} else {
		return false;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || oh > 23 ||
	    om > 59)
		return false;
	*out = creds_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
	       se - sign * (oh * 3600 + om * 60);
	return true;
}

/* ---- a few careful steps of XML, for STS ------------------------------- */

/* Finds the content of the first element `name` in [p, end): *cs..*ce.
 * Attributes are skipped; an empty element (<x/>) has empty content. */
static bool creds_xml_find(const char *p, const char *end, const char *name, const char **cs,
			   const char **ce)
{
	size_t nl = strlen(name);

	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		const char *gt;
		if (!lt || (size_t)(end - lt) < nl + 2)
			return false;
		p = lt + 1;
		if (memcmp(p, name, nl) != 0 || (p[nl] != '>' && p[nl] != '/' && p[nl] != ' ' &&
						 p[nl] != '\t' && p[nl] != '\r' && p[nl] != '\n'))
			continue;
		gt = memchr(p, '>', (size_t)(end - p));
		if (!gt)
			return false;
		if (gt[-1] == '/') {
			*cs = *ce = gt + 1;
			return true;
		}
		*cs = gt + 1;
		for (const char *q = *cs; q < end; q++) {
			q = memchr(q, '<', (size_t)(end - q));
			if (!q)
				return false;
			if ((size_t)(end - q) >= nl + 3 && q[1] == '/' &&
			    memcmp(q + 2, name, nl) == 0 && q[2 + nl] == '>') {
				*ce = q;
				return true;
			}
		}
		return false;
	}
	return false;
}

/* Decodes the text content [p, end) into out (size n): the five predefined
 * entities and ASCII character references. No markup is allowed inside. */
static bool creds_xml_text(const char *p, const char *end, char *out, size_t n)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	size_t len = 0;

	while (p < end) {
		char c = *p++;
		if (c == '<')
			return false;
		if (c == '&') {
			bool ok = false;
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]) && !ok; i++) {
				size_t el = strlen(ents[i].name);
				if ((size_t)(end - p) >= el && memcmp(p, ents[i].name, el) == 0) {
					c = ents[i].c;
					p += el;
					ok = true;
				}
			}
			if (!ok && p < end && *p == '#') {
				bool hex = p + 1 < end && (p[1] == 'x' || p[1] == 'X');
				unsigned v = 0;
				int digits = 0;
				for (p += hex ? 2 : 1; p < end && *p != ';' && digits < 6;
				     p++, digits++) {
					int dv = hex			 ? hex_value(*p)
						 : *p >= '0' && *p <= '9' ? *p - '0'
									  : -1;
					if (dv < 0)
						return false;
					v = v * (hex ? 16 : 10) + (unsigned)dv;
				}
				if (p >= end || *p != ';' || digits == 0 || v == 0 || v > 0x7f)
					return false;
				p++;
				c = (char)v;
				ok = true;
			}
			if (!ok)
				return false;
		}
		if (len + 1 >= n)
			return false;
		out[len++] = c;
	}
	out[len] = '\0';
	return true;
}

/* ---- HTTP -------------------------------------------------------------- */

/* One request to a provider. */
struct creds_http {
	const char *method; /* "GET", "PUT" or "POST" */
	const char *url;
	struct curl_slist *headers; /* borrowed */
	const char *body;	    /* NULL: none */
	size_t body_len;
	bool direct;	 /* link-local or loopback: never through a proxy */
	long status;	 /* out: the HTTP status, 0 if none */
	struct buf resp; /* out: the body; free with buf_free_secret */
};

static size_t creds_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct buf *b = userp;
	size_t len = size * nmemb;

	return buf_append(b, data, len) == ERROR_OK ? len : 0;
}

/* Appends a constant line to a header list; the list is kept on failure. */
static enum error_code creds_slist_add(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return ERROR_NOMEM;
	*list = l;
	return ERROR_OK;
}

/* Performs one request, bounded by the provider timeout, and aborted within
 * CREDS_POLL_MS once creds_free starts. ERROR_OK means an answer arrived,
 * whatever its status; otherwise err says why without naming a secret. */
static enum error_code creds_http_do(struct creds *c, struct creds_http *h, char *err,
				     size_t err_len)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	enum error_code rc = ERROR_NOMEM;
	CURLcode res = CURLE_OK;
	CURL *easy = NULL;
	CURLM *multi = NULL;
	bool added = false, done = false;

	h->status = 0;
	snprintf(err, err_len, "out of memory");
	if (buf_init_secret(&h->resp, CREDS_RESPONSE_MAX) != ERROR_OK)
		goto out;
	easy = curl_easy_init();
	multi = curl_multi_init();
	if (!easy || !multi)
		goto out;
	curl_easy_setopt(easy, CURLOPT_URL, h->url);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, c->f.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, c->f.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
	/* TLS 1.2 or newer, peer and host name always verified. */
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->f.ca_file) {
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, xfer_on_ssl_ctx);
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, c->f.ca_file);
	}
	/* The metadata and container endpoints are on this host or link-local:
	 * a proxy would be wrong there, as in the SDKs. */
	if (h->direct)
		curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	else if (c->f.proxy)
		curl_easy_setopt(easy, CURLOPT_PROXY, c->f.proxy);
	if (strcmp(h->method, "GET") != 0) {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, h->method);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, h->body ? h->body : "");
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body_len);
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, creds_on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &h->resp);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		goto out;
	added = true;

	while (!done) {
		int running = 0, left;
		CURLMsg *msg;

		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			rc = ERROR_IO;
			snprintf(err, err_len, "curl multi failure");
			goto out;
		}
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg == CURLMSG_DONE) {
				res = msg->data.result;
				done = true;
			}
		}
		if (done)
			break;
		if (atomic_load(&c->stopping)) {
			rc = ERROR_CANCELLED;
			snprintf(err, err_len, "cancelled by shutdown");
			goto out;
		}
		curl_multi_poll(multi, NULL, 0, CREDS_POLL_MS, NULL);
	}
	switch (res) {
	case CURLE_OK:
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &h->status);
		rc = ERROR_OK;
		err[0] = '\0';
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = ERROR_TIMEOUT;
		snprintf(err, err_len, "timed out after %ld ms", c->f.timeout_ms);
		break;
	case CURLE_WRITE_ERROR:
		rc = ERROR_TOO_LARGE;
		snprintf(err, err_len, "answer larger than %d bytes", CREDS_RESPONSE_MAX);
		break;
	default:
		rc = ERROR_IO;
		snprintf(err, err_len, "%s", curl_err[0] ? curl_err : curl_easy_strerror(res));
		break;
	}
out:
	if (added)
		curl_multi_remove_handle(multi, easy);
	curl_multi_cleanup(multi);
	curl_easy_cleanup(easy);
	if (rc != ERROR_OK)
		buf_free_secret(&h->resp);
	return rc;
}

/* ---- parsing answers --------------------------------------------------- */

/* jansson keeps its own copy of every string and has no secure free, so the
 * secret ones are overwritten before json_decref releases them. */
static void creds_json_scrub(json_t *v)
{
	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

/* Fills out from the JSON that the container endpoint and IMDS answer:
 * AccessKeyId, SecretAccessKey, Token, Expiration and (IMDS) Code. */
static enum error_code creds_parse_json(const struct buf *body, bool need_expiry,
					struct creds_value *out, struct creds_reason *r)
{
	enum error_code rc = ERROR_PARSE;
	json_error_t jerr;
	json_t *root, *code, *ak, *sk, *tok, *exp;

	root = json_loadb(body->data ? body->data : "", body->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jerr.text may quote the input near the error: not logged. */
		creds_why(r, true, "malformed JSON at line %d column %d", jerr.line, jerr.column);
		return ERROR_PARSE;
	}
	code = json_object_get(root, "Code");
	ak = json_object_get(root, "AccessKeyId");
	sk = json_object_get(root, "SecretAccessKey");
	tok = json_object_get(root, "Token");
	exp = json_object_get(root, "Expiration");
	if (!json_is_object(root)) {
		creds_why(r, true, "answer is not a JSON object");
		goto out;
	}
	if (code && (!json_is_string(code) || strcmp(json_string_value(code), "Success") != 0)) {
		creds_why(r, true, "answer's Code is not \"Success\"");
		goto out;
	}
	if (!json_is_string(ak) || !json_is_string(sk)) {
		creds_why(r, true, "answer lacks AccessKeyId or SecretAccessKey");
		goto out;
	}
	if (!creds_copy_field(out->access_key_id, sizeof(out->access_key_id), json_string_value(ak),
			      json_string_length(ak)) ||
	    !creds_copy_field(out->secret_access_key, sizeof(out->secret_access_key),
			      json_string_value(sk), json_string_length(sk))) {
		creds_why(r, true,
			  "AccessKeyId or SecretAccessKey is empty, too long or not ASCII");
		goto out;
	}
	if (tok && !json_is_null(tok) &&
	    (!json_is_string(tok) ||
	     (json_string_length(tok) &&
	      !creds_copy_field(out->session_token, sizeof(out->session_token),
				json_string_value(tok), json_string_length(tok))))) {
		creds_why(r, true, "Token is too long or not ASCII");
		goto out;
	}
	if (exp && !json_is_null(exp)) {
		if (!json_is_string(exp) ||
		    !creds_parse_time(json_string_value(exp), &out->expiration)) {
			creds_why(r, true, "Expiration is not an ISO 8601 time");
			goto out;
		}
	} else if (need_expiry) {
		creds_why(r, true, "answer lacks Expiration");
		goto out;
	}
	rc = ERROR_OK;
out:
	creds_json_scrub(sk);
	creds_json_scrub(tok);
	json_decref(root);
	if (rc != ERROR_OK)
		creds_value_wipe(out);
	return rc;
}

/* Copies an error code from an upstream answer for a log line: only the
 * characters an AWS error code has, so nothing else can slip through. */
static void creds_safe_code(const char *p, const char *end, char *out, size_t n)
{
	size_t len = 0;

	for (; p < end && len + 1 < n; p++) {
		char ch = *p;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')
			out[len++] = ch;
	}
	out[len] = '\0';
}

/* ---- fetching: web identity through STS -------------------------------- */

/* Appends name=value to a form body, value percent-encoded (RFC 3986
 * unreserved characters kept). */
static enum error_code creds_form_add(struct buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	enum error_code rc = ERROR_OK;

	if (b->len)
		rc = buf_append_char(b, '&');
	if (rc == ERROR_OK)
		rc = buf_printf(b, "%s=", name);
	for (const unsigned char *p = (const unsigned char *)value; *p && rc == ERROR_OK; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			rc = buf_append_char(b, (char)*p);
		} else {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = buf_append(b, esc, sizeof(esc));
		}
	}
	return rc;
}

/* AssumeRoleWithWebIdentity through the STS query API (unsigned: the token
 * is the proof). The answer is XML; only the Credentials block is read. */
static enum error_code creds_sts_fetch(struct creds *c, struct creds_value *out,
				       struct creds_reason *r)
{
	struct creds_http h = {.method = "POST", .url = c->f.url};
	struct buf token, form;
	char err[CURL_ERROR_SIZE + 64], code[64] = "", time_text[64];
	const char *cs, *ce, *end, *fs, *fe;
	struct file_info info;
	enum error_code rc;

	buf_init(&form, 0);
	rc = file_read(c->f.token_file, CREDS_TOKEN_FILE_MAX, &token, &info);
	if (rc != ERROR_OK) {
		creds_why(r, true, "web identity token file %s: %s", c->f.token_file, info.why);
		return rc;
	}
	creds_trim_right(&token);
	if (!token.len) {
		creds_why(r, true, "web identity token file %s is empty", c->f.token_file);
		rc = ERROR_PARSE;
		goto out;
	}
	/* Sized for the worst case (every token byte escaped), so the form
	 * holding the token is never reallocated. */
	rc = buf_init_secret(&form, 3 * token.len + 3 * strlen(c->f.role_arn) +
					      3 * strlen(c->f.session_name) + 256);
	if (rc == ERROR_OK)
		rc = creds_form_add(&form, "Action", "AssumeRoleWithWebIdentity");
	if (rc == ERROR_OK)
		rc = creds_form_add(&form, "Version", "2011-06-15");
	if (rc == ERROR_OK)
		rc = creds_form_add(&form, "RoleArn", c->f.role_arn);
	if (rc == ERROR_OK)
		rc = creds_form_add(&form, "RoleSessionName", c->f.session_name);
	if (rc == ERROR_OK)
		rc = creds_form_add(&form, "WebIdentityToken", token.data);
	/* "Expect:" stops libcurl from waiting for a 100 Continue on a body
	 * over 1 KiB, which a JWT usually is. */
	if (rc == ERROR_OK)
		rc = creds_slist_add(
		    &h.headers, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
	if (rc == ERROR_OK)
		rc = creds_slist_add(&h.headers, "Expect:");
	if (rc == ERROR_OK)
		rc = creds_slist_add(&h.headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, true, "out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	h.body = form.data;
	h.body_len = form.len;
	rc = creds_http_do(c, &h, err, sizeof(err));
	if (rc != ERROR_OK) {
		creds_why(r, true, "STS %s: %s", c->f.url, err);
		goto out;
	}
	end = h.resp.data + h.resp.len; /* data is never NULL after a success */
	if (h.status != 200) {
		if (creds_xml_find(h.resp.data, end, "Error", &cs, &ce) &&
		    creds_xml_find(cs, ce, "Code", &fs, &fe))
			creds_safe_code(fs, fe, code, sizeof(code));
		creds_why(r, true, "STS %s answered HTTP %ld%s%s%s", c->f.url, h.status,
			  code[0] ? " (" : "", code, code[0] ? ")" : "");
		rc = ERROR_UPSTREAM;
		goto out;
	}
	rc = ERROR_PARSE;
	if (!creds_xml_find(h.resp.data, end, "Credentials", &cs, &ce)) {
		creds_why(r, true, "STS answer has no Credentials element");
		goto out;
	}
	if (!creds_xml_find(cs, ce, "AccessKeyId", &fs, &fe) ||
	    !creds_xml_text(fs, fe, out->access_key_id, sizeof(out->access_key_id)) ||
	    !creds_visible(out->access_key_id, strlen(out->access_key_id)) ||
	    !creds_xml_find(cs, ce, "SecretAccessKey", &fs, &fe) ||
	    !creds_xml_text(fs, fe, out->secret_access_key, sizeof(out->secret_access_key)) ||
	    !creds_visible(out->secret_access_key, strlen(out->secret_access_key)) ||
	    !creds_xml_find(cs, ce, "SessionToken", &fs, &fe) ||
	    !creds_xml_text(fs, fe, out->session_token, sizeof(out->session_token)) ||
	    !creds_visible(out->session_token, strlen(out->session_token))) {
		creds_why(
		    r, true,
		    "STS answer lacks AccessKeyId, SecretAccessKey or SessionToken, or one is "
		    "malformed");
		goto out;
	}
	if (!creds_xml_find(cs, ce, "Expiration", &fs, &fe) ||
	    !creds_xml_text(fs, fe, time_text, sizeof(time_text)) ||
	    !creds_parse_time(time_text, &out->expiration)) {
		creds_why(r, true, "STS answer's Expiration is missing or not an ISO 8601 time");
		goto out;
	}
	rc = ERROR_OK;
out:
	if (rc != ERROR_OK)
		creds_value_wipe(out);
	buf_free_secret(&token);
	buf_free_secret(&form);
	buf_free_secret(&h.resp);
	xfer_headers_free(h.headers);
	return rc;
}

/* ---- fetching: ECS/EKS container endpoint ------------------------------ */

static enum error_code creds_container_fetch(struct creds *c, struct creds_value *out,
					     struct creds_reason *r)
{
	struct creds_http h = {.method = "GET", .url = c->f.url, .direct = true};
	struct buf token;
	char err[CURL_ERROR_SIZE + 64];
	struct file_info info;
	enum error_code rc = ERROR_OK;

	buf_init(&token, 0);
	/* The token file wins over the variable and is read on every fetch:
	 * EKS Pod Identity rotates it. */
	if (c->f.token_file) {
		rc = file_read(c->f.token_file, CREDS_TOKEN_FILE_MAX, &token, &info);
		if (rc != ERROR_OK) {
			creds_why(r, true, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
				  c->f.token_file, info.why);
			return rc;
		}
		creds_trim_right(&token);
	} else if (c->f.auth_token) {
		rc = buf_init_secret(&token, strlen(c->f.auth_token));
		if (rc == ERROR_OK)
			rc = buf_append_str(&token, c->f.auth_token);
	}
	if (rc == ERROR_OK && token.len && !creds_header_safe(token.data, token.len)) {
		creds_why(r, true, "the container authorization token holds control characters");
		rc = ERROR_PARSE;
		goto out;
	}
	if (rc == ERROR_OK && token.len)
		rc = xfer_header_add(&h.headers, "Authorization", token.data);
	if (rc == ERROR_OK)
		rc = creds_slist_add(&h.headers, "Accept: application/json");
	if (rc == ERROR_OK)
		rc = creds_slist_add(&h.headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, true, "out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	rc = creds_http_do(c, &h, err, sizeof(err));
	if (rc != ERROR_OK) {
		creds_why(r, true, "container endpoint: %s", err);
		goto out;
	}
	if (h.status != 200) {
		creds_why(r, true, "container endpoint answered HTTP %ld", h.status);
		rc = ERROR_UPSTREAM;
		goto out;
	}
	rc = creds_parse_json(&h.resp, false, out, r);
	if (rc != ERROR_OK) {
		char detail[CREDS_REASON_MAX];
		snprintf(detail, sizeof(detail), "%s", r->text);
		creds_why(r, true, "container endpoint: %s", detail);
	}
out:
	buf_free_secret(&token);
	buf_free_secret(&h.resp);
	xfer_headers_free(h.headers);
	return rc;
}

/* ---- fetching: EC2 instance metadata, IMDSv2 only ---------------------- */

/* One IMDS GET or PUT into h (whose resp the caller frees). */
static enum error_code creds_imds_call(struct creds *c, struct creds_http *h, const char *method,
				       const char *path, struct curl_slist *headers,
				       const char *what, struct creds_reason *r)
{
	char url[CREDS_URL_MAX], err[CURL_ERROR_SIZE + 64];
	enum error_code rc;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->f.url, path) >= sizeof(url)) {
		creds_why(r, false, "IMDS %s: URL too long", what);
		return ERROR_INVALID;
	}
	*h = (struct creds_http){.method = method, .url = url, .headers = headers, .direct = true};
	rc = creds_http_do(c, h, err, sizeof(err));
	if (rc != ERROR_OK) {
		creds_why(r, false, "IMDS %s at %s: %s", what, c->f.url, err);
		return rc;
	}
	if (h->status != 200) {
		if (h->status == 404 && strcmp(what, "role list") == 0)
			creds_why(r, false, "IMDS at %s: no IAM role attached to this instance",
				  c->f.url);
		else
			creds_why(r, false, "IMDS %s at %s answered HTTP %ld", what, c->f.url,
				  h->status);
		buf_free_secret(&h->resp);
		return ERROR_UPSTREAM;
	}
	return ERROR_OK;
}

/* PUT a session token, list the role, GET the role's credentials. No IMDSv1
 * fallback: an instance that requires v2 is the safe default, and one that
 * only offers v1 is rare enough to name in the error. */
static enum error_code creds_imds_fetch(struct creds *c, struct creds_value *out,
					struct creds_reason *r)
{
	struct creds_http h = {.method = "GET"};
	struct curl_slist *put_headers = NULL, *headers = NULL;
	char token[CREDS_IMDS_TOKEN_MAX], role[CREDS_ROLE_MAX], path[256];
	enum error_code rc;
	size_t len;

	token[0] = '\0';
	rc = creds_slist_add(&put_headers,
			     "X-aws-ec2-metadata-token-ttl-seconds: " CREDS_IMDS_TOKEN_TTL);
	if (rc == ERROR_OK)
		rc = creds_slist_add(&put_headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, false, "out of memory");
		goto out;
	}
	rc = creds_imds_call(c, &h, "PUT", "/latest/api/token", put_headers, "token request", r);
	if (rc != ERROR_OK)
		goto out;
	creds_trim_right(&h.resp);
	if (!creds_copy_field(token, sizeof(token), h.resp.data, h.resp.len)) {
		creds_why(r, false, "IMDS token is empty, too long or not ASCII");
		rc = ERROR_PARSE;
		goto out;
	}
	buf_free_secret(&h.resp);
	rc = xfer_header_add(&headers, "X-aws-ec2-metadata-token", token);
	if (rc == ERROR_OK)
		rc = creds_slist_add(&headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, false, "out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	rc = creds_imds_call(c, &h, "GET", "/latest/meta-data/iam/security-credentials/", headers,
			     "role list", r);
	if (rc != ERROR_OK)
		goto out;
	/* The first line names the role; IAM role names are [\w+=,.@-]. */
	len = strcspn(h.resp.data, "\r\n");
	rc = ERROR_PARSE;
	if (len == 0 || len >= sizeof(role)) {
		creds_why(r, false, "IMDS role list is empty or too long");
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = h.resp.data[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || strchr("+=,.@_-", ch))) {
			creds_why(r, false, "IMDS role name has characters IAM does not allow");
			goto out;
		}
	}
	memcpy(role, h.resp.data, len);
	role[len] = '\0';
	buf_free_secret(&h.resp);
	snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
	rc = creds_imds_call(c, &h, "GET", path, headers, "credentials", r);
	if (rc != ERROR_OK)
		goto out;
	rc = creds_parse_json(&h.resp, true, out, r);
	if (rc != ERROR_OK) {
		char detail[CREDS_REASON_MAX];
		snprintf(detail, sizeof(detail), "%s", r->text);
		creds_why(r, false, "IMDS role %s: %s", role, detail);
	}
out:
	OPENSSL_cleanse(token, sizeof(token));
	buf_free_secret(&h.resp);
	xfer_headers_free(put_headers);
	xfer_headers_free(headers);
	return rc;
}

/* Fetches from the chosen refreshable provider and checks the expiry. */
static enum error_code creds_fetch(struct creds *c, struct creds_value *out, struct creds_reason *r)
{
	enum error_code rc;
	int64_t now;

	memset(out, 0, sizeof(*out));
	switch (c->f.kind) {
	case CREDS_KIND_WEB_IDENTITY:
		rc = creds_sts_fetch(c, out, r);
		break;
	case CREDS_KIND_CONTAINER:
		rc = creds_container_fetch(c, out, r);
		break;
	case CREDS_KIND_IMDS:
		rc = creds_imds_fetch(c, out, r);
		break;
	default:
		creds_why(r, false, "nothing to fetch");
		return ERROR_INVALID;
	}
	if (rc != ERROR_OK)
		return rc;
	now = now_wall_s();
	if (out->expiration && out->expiration <= now) {
		creds_why(r, true, "credentials expired %" PRId64 " s ago", now - out->expiration);
		creds_value_wipe(out);
		return ERROR_PARSE;
	}
	return ERROR_OK;
}

static void creds_fetcher_clear(struct creds_fetcher *f)
{
	secret_free(f->url);
	secret_free(f->role_arn);
	secret_free(f->session_name);
	secret_free(f->token_file);
	secret_free(f->auth_token);
	secret_free(f->ca_file);
	secret_free(f->proxy);
	*f = (struct creds_fetcher){.kind = CREDS_KIND_STATIC, .timeout_ms = f->timeout_ms};
}

/* ---- providers --------------------------------------------------------- */

/* Static keys from anywhere; `what` names the source for the reason text. */
static enum error_code creds_static(const char *ak, const char *sk, const char *token,
				    const char *what, struct creds_value *out,
				    struct creds_reason *r)
{
	memset(out, 0, sizeof(*out));
	if (!creds_copy_field(out->access_key_id, sizeof(out->access_key_id), ak, strlen(ak)) ||
	    !creds_copy_field(out->secret_access_key, sizeof(out->secret_access_key), sk,
			      strlen(sk)) ||
	    (creds_set(token) && !creds_copy_field(out->session_token, sizeof(out->session_token),
						   token, strlen(token)))) {
		creds_value_wipe(out);
		creds_why(r, true, "%s keys are too long or hold spaces or control characters",
			  what);
		return ERROR_PARSE;
	}
	return ERROR_OK;
}

static enum error_code creds_from_settings(struct creds *c, const struct creds_config *cfg,
					   struct creds_value *out, struct creds_reason *r)
{
	bool ak = creds_set(cfg->access_key_id), sk = creds_set(cfg->secret_access_key);

	(void)c;
	if (!ak && !sk) {
		creds_why(r, false, "credentials.access_key_id unset");
		return ERROR_UNAVAILABLE;
	}
	if (!ak || !sk) {
		creds_why(r, true,
			  "credentials.access_key_id and secret_access_key must be set together");
		return ERROR_INVALID;
	}
	return creds_static(cfg->access_key_id, cfg->secret_access_key, cfg->session_token,
			    "credentials.*", out, r);
}

static enum error_code creds_from_env(struct creds *c, const struct creds_config *cfg,
				      struct creds_value *out, struct creds_reason *r)
{
	const char *ak = creds_env("AWS_ACCESS_KEY_ID"), *sk = creds_env("AWS_SECRET_ACCESS_KEY");

	(void)c;
	/* As in botocore: a profile chosen explicitly (here, in the settings
	 * file) means the operator wants that profile, not stray variables. */
	if (creds_set(cfg->profile)) {
		creds_why(r, false, "skipped because credentials.profile is set");
		return ERROR_UNAVAILABLE;
	}
	if (!ak && !sk) {
		creds_why(r, false, "AWS_ACCESS_KEY_ID unset");
		return ERROR_UNAVAILABLE;
	}
	if (!ak || !sk) {
		creds_why(r, true, "%s is set but %s is not",
			  ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			  ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return ERROR_INVALID;
	}
	return creds_static(ak, sk, creds_env("AWS_SESSION_TOKEN"), "AWS_*", out, r);
}

/* The STS endpoint for the web identity provider. */
static enum error_code creds_sts_url(const struct creds_config *cfg, char *out, size_t n,
				     struct creds_reason *r)
{
	const char *region = creds_set(cfg->region)    ? cfg->region
			     : creds_env("AWS_REGION") ? creds_env("AWS_REGION")
						       : creds_env("AWS_DEFAULT_REGION");

	if (creds_set(cfg->sts_endpoint)) {
		snprintf(out, n, "%s", cfg->sts_endpoint);
		return ERROR_OK;
	}
	if (!region) {
		snprintf(out, n, "https://sts.amazonaws.com");
		return ERROR_OK;
	}
	for (const char *p = region; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-') ||
		    p - region > 32) {
			creds_why(r, true, "region \"%.40s\" is not a region name", region);
			return ERROR_INVALID;
		}
	}
	snprintf(out, n, "https://sts.%s.amazonaws.com", region);
	return ERROR_OK;
}

/* Sets up the web identity fetcher (from the environment or a profile) and
 * fetches once. */
static enum error_code creds_web_identity(struct creds *c, const struct creds_config *cfg,
					  const char *role_arn, const char *token_file,
					  const char *session_name, struct creds_value *out,
					  struct creds_reason *r)
{
	char url[CREDS_URL_MAX], session[64];
	bool nomem = false;
	enum error_code rc;

	rc = creds_sts_url(cfg, url, sizeof(url), r);
	if (rc != ERROR_OK)
		return rc;
	if (!creds_set(session_name)) {
		/* The SDKs make one up too; STS wants [\w+=,.@-]{2,64}. */
		snprintf(session, sizeof(session), "sessiond-%" PRId64, now_wall_s());
		session_name = session;
	}
	c->f.kind = CREDS_KIND_WEB_IDENTITY;
	c->f.url = secret_dup(url, &nomem);
	c->f.role_arn = secret_dup(role_arn, &nomem);
	c->f.session_name = secret_dup(session_name, &nomem);
	c->f.token_file = secret_dup(token_file, &nomem);
	c->f.ca_file = secret_dup(cfg->ca_file, &nomem);
	c->f.proxy = secret_dup(cfg->proxy, &nomem);
	if (nomem) {
		creds_why(r, true, "out of memory");
		return ERROR_NOMEM;
	}
	rc = creds_fetch(c, out, r);
	r->configured = true;
	return rc;
}

static enum error_code creds_from_web_identity(struct creds *c, const struct creds_config *cfg,
					       struct creds_value *out, struct creds_reason *r)
{
	const char *file = creds_env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *arn = creds_env("AWS_ROLE_ARN");

	if (!file && !arn) {
		creds_why(r, false, "AWS_WEB_IDENTITY_TOKEN_FILE unset");
		return ERROR_UNAVAILABLE;
	}
	if (!file || !arn) {
		creds_why(r, true, "%s is set but %s is not",
			  file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
			  file ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
		return ERROR_INVALID;
	}
	return creds_web_identity(c, cfg, arn, file, creds_env("AWS_ROLE_SESSION_NAME"), out, r);
}

/* ---- the shared config and credentials files --------------------------- */

enum creds_prop {
	PROP_KEY_ID,
	PROP_SECRET,
	PROP_TOKEN,
	PROP_ROLE_ARN,
	PROP_TOKEN_FILE,
	PROP_SESSION_NAME,
	PROP_PROCESS,
	PROP_SOURCE_PROFILE,
	PROP_CREDENTIAL_SOURCE,
	PROP_SSO_SESSION,
	PROP_SSO_START_URL,
	PROP_COUNT
};

static const char *const creds_prop_names[PROP_COUNT] = {
    [PROP_KEY_ID] = "aws_access_key_id",
    [PROP_SECRET] = "aws_secret_access_key",
    [PROP_TOKEN] = "aws_session_token",
    [PROP_ROLE_ARN] = "role_arn",
    [PROP_TOKEN_FILE] = "web_identity_token_file",
    [PROP_SESSION_NAME] = "role_session_name",
    [PROP_PROCESS] = "credential_process",
    [PROP_SOURCE_PROFILE] = "source_profile",
    [PROP_CREDENTIAL_SOURCE] = "credential_source",
    [PROP_SSO_SESSION] = "sso_session",
    [PROP_SSO_START_URL] = "sso_start_url",
};

/* The credential properties of one profile; values owned, wiped on clear. */
struct creds_profile {
	bool found;
	char *prop[PROP_COUNT];
};

static void creds_profile_clear(struct creds_profile *p)
{
	for (int i = 0; i < PROP_COUNT; i++)
		secret_free(p->prop[i]);
	memset(p, 0, sizeof(*p));
}

/* Moves src's properties over dst's: later files and sections win. */
static void creds_profile_overlay(struct creds_profile *dst, struct creds_profile *src)
{
	if (!src->found)
		return;
	dst->found = true;
	for (int i = 0; i < PROP_COUNT; i++) {
		if (src->prop[i]) {
			secret_free(dst->prop[i]);
			dst->prop[i] = src->prop[i];
			src->prop[i] = NULL;
		}
	}
}

static bool creds_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* The profile a section header line "[...]" opens, if it is the wanted one:
 * "[name]" in the credentials file, "[profile name]" (or "[default]") in the
 * config file. In a config file "[profile default]" wins over "[default]",
 * so the two gather into separate structs. NULL for any other section. */
static struct creds_profile *creds_profile_section(const char *line, size_t len, bool is_config,
						   const char *want, struct creds_profile *plain,
						   struct creds_profile *prefixed)
{
	const char *p = line + 1, *close = memchr(line, ']', len);
	bool has_prefix = false;
	size_t n;

	if (!close)
		return NULL;
	while (p < close && creds_is_space(*p))
		p++;
	while (close > p && creds_is_space(close[-1]))
		close--;
	if (close - p > 8 && memcmp(p, "profile", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
		has_prefix = true;
		for (p += 8; p < close && creds_is_space(*p); p++)
			;
	}
	n = (size_t)(close - p);
	if (!is_config && has_prefix)
		return NULL; /* "[profile x]" in the credentials file is no profile */
	if (is_config && !has_prefix && !(n == 7 && memcmp(p, "default", 7) == 0))
		return NULL; /* "[x]" in the config file is ignored by the SDKs */
	if (n != strlen(want) || memcmp(p, want, n) != 0)
		return NULL;
	if (has_prefix) {
		prefixed->found = true;
		return prefixed;
	}
	plain->found = true;
	return plain;
}

/* Applies one "name = value" line to p if name is one we read. */
static enum error_code creds_profile_property(struct creds_profile *p, const char *line,
					      const char *eq, const char *end)
{
	const char *ke = eq, *vs = eq + 1, *ve;

	while (ke > line && creds_is_space(ke[-1]))
		ke--;
	while (vs < end && creds_is_space(*vs))
		vs++;
	/* A comment after a value needs whitespace before it: "a=b#c" is "b#c". */
	for (ve = vs; ve < end; ve++)
		if ((ve[0] == ' ' || ve[0] == '\t') && ve + 1 < end &&
		    (ve[1] == '#' || ve[1] == ';'))
			break;
	while (ve > vs && creds_is_space(ve[-1]))
		ve--;
	for (int i = 0; i < PROP_COUNT; i++) {
		size_t kl = strlen(creds_prop_names[i]);
		if ((size_t)(ke - line) == kl && memcmp(line, creds_prop_names[i], kl) == 0) {
			char *v = strndup(vs, (size_t)(ve - vs));
			if (!v)
				return ERROR_NOMEM;
			secret_free(p->prop[i]);
			p->prop[i] = v;
			break;
		}
	}
	return ERROR_OK;
}

/* Reads one shared file and overlays the properties of profile `want` onto
 * out. A missing file is no error (*exists = false). A line that is neither
 * a section, a comment nor "name = value" spoils the file, as in the SDKs. */
static enum error_code creds_profile_read(const char *path, bool is_config, const char *want,
					  struct creds_profile *out, bool *exists,
					  struct creds_reason *r)
{
	struct creds_profile plain = {0}, prefixed = {0}, *cur = NULL;
	struct file_info info;
	struct buf text;
	enum error_code rc;
	int lineno = 0;

	*exists = false;
	rc = file_read(path, CREDS_SHARED_FILE_MAX, &text, &info);
	if (rc == ERROR_IO && (info.err == ENOENT || info.err == ENOTDIR))
		return ERROR_OK;
	if (rc != ERROR_OK) {
		creds_why(r, true, "%s: %s", path, info.why);
		return rc;
	}
	*exists = true;
	for (const char *line = text.data, *next; line && *line; line = next) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line), *eq;

		next = nl ? nl + 1 : NULL;
		lineno++;
		while (end > line && creds_is_space(end[-1]))
			end--;
		if (end == line || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == ' ' || line[0] == '\t')
			continue; /* a continuation: sub-properties we never read */
		if (line[0] == '[') {
			cur = creds_profile_section(line, (size_t)(end - line), is_config, want,
						    &plain, &prefixed);
			continue;
		}
		eq = memchr(line, '=', (size_t)(end - line));
		if (!eq) {
			creds_why(r, true, "%s:%d: expected a [section] or name = value", path,
				  lineno);
			rc = ERROR_PARSE;
			goto out;
		}
		if (cur) {
			rc = creds_profile_property(cur, line, eq, end);
			if (rc != ERROR_OK) {
				creds_why(r, true, "out of memory");
				goto out;
			}
		}
	}
	creds_profile_overlay(out, prefixed.found ? &prefixed : &plain);
out:
	creds_profile_clear(&plain);
	creds_profile_clear(&prefixed);
	buf_free_secret(&text);
	return rc;
}

/* The home directory for ~/.aws: $HOME, else the password database. */
static const char *creds_home(char *buf, size_t n)
{
	const char *home = creds_env("HOME");
	struct passwd pw, *res = NULL;

	if (home)
		return home;
	if (getpwuid_r(getuid(), &pw, buf, n, &res) == 0 && res && creds_set(res->pw_dir))
		return res->pw_dir;
	return NULL;
}

/* A shared file's path: the variable, else ~/.aws/<name>. A leading "~/"
 * means the home directory, as the SDKs expand it. */
static bool creds_shared_path(const char *var, const char *name, char *out, size_t n)
{
	char pwbuf[1024];
	const char *v = creds_env(var), *home;
	bool tilde = v && v[0] == '~' && v[1] == '/';
	int len;

	if (v && !tilde) {
		len = snprintf(out, n, "%s", v);
	} else {
		home = creds_home(pwbuf, sizeof(pwbuf));
		if (!home)
			return false;
		if (tilde)
			len = snprintf(out, n, "%s%s", home, v + 1);
		else
			len = snprintf(out, n, "%s/.aws/%s", home, name);
	}
	return len > 0 && (size_t)len < n;
}

static enum error_code creds_from_profile(struct creds *c, const struct creds_config *cfg,
					  struct creds_value *out, struct creds_reason *r)
{
	const char *name = creds_set(cfg->profile) ? cfg->profile : creds_env("AWS_PROFILE");
	bool chosen = name != NULL, cfg_exists = false, cred_exists = false;
	char cfg_path[4096], cred_path[4096];
	struct creds_profile p = {0};
	char **v = p.prop;
	enum error_code rc;

	if (!name)
		name = "default";
	if (!creds_shared_path("AWS_CONFIG_FILE", "config", cfg_path, sizeof(cfg_path)) ||
	    !creds_shared_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", cred_path,
			       sizeof(cred_path))) {
		creds_why(r, chosen,
			  "no home directory for ~/.aws, or AWS_CONFIG_FILE or "
			  "AWS_SHARED_CREDENTIALS_FILE is too long");
		return ERROR_UNAVAILABLE;
	}
	/* The config file first: the credentials file wins where both speak. */
	rc = creds_profile_read(cfg_path, true, name, &p, &cfg_exists, r);
	if (rc == ERROR_OK)
		rc = creds_profile_read(cred_path, false, name, &p, &cred_exists, r);
	if (rc != ERROR_OK)
		goto out;
	rc = ERROR_UNAVAILABLE;
	if (!cfg_exists && !cred_exists) {
		creds_why(r, chosen, "profile \"%s\": neither %s nor %s exists", name, cred_path,
			  cfg_path);
		goto out;
	}
	if (!p.found) {
		creds_why(r, chosen, "profile \"%s\" not found in %s or %s", name, cred_path,
			  cfg_path);
		goto out;
	}
	/* A role in the profile comes first, as in the SDKs: its keys, if
	 * any, belong to the identity that would assume the role. */
	if (v[PROP_ROLE_ARN] && v[PROP_TOKEN_FILE]) {
		rc = creds_web_identity(c, cfg, v[PROP_ROLE_ARN], v[PROP_TOKEN_FILE],
					v[PROP_SESSION_NAME], out, r);
		if (rc != ERROR_OK) {
			char detail[CREDS_REASON_MAX];
			snprintf(detail, sizeof(detail), "%s", r->text);
			creds_why(r, true, "profile \"%s\" web identity: %s", name, detail);
		}
	} else if (v[PROP_ROLE_ARN]) {
		creds_why(r, true,
			  "profile \"%s\" has role_arn without web_identity_token_file; roles "
			  "through source_profile or credential_source are not supported",
			  name);
	} else if (v[PROP_KEY_ID] || v[PROP_SECRET]) {
		if (!creds_set(v[PROP_KEY_ID]) || !creds_set(v[PROP_SECRET])) {
			creds_why(r, true,
				  "profile \"%s\" needs both aws_access_key_id and "
				  "aws_secret_access_key",
				  name);
			rc = ERROR_INVALID;
			goto out;
		}
		rc = creds_static(v[PROP_KEY_ID], v[PROP_SECRET], v[PROP_TOKEN], "profile", out, r);
	} else if (v[PROP_PROCESS]) {
		creds_why(r, true,
			  "profile \"%s\" uses credential_process, which sessiond does not support",
			  name);
	} else if (v[PROP_SSO_SESSION] || v[PROP_SSO_START_URL]) {
		creds_why(r, true, "profile \"%s\" uses SSO, which sessiond does not support",
			  name);
	} else {
		creds_why(r, chosen, "profile \"%s\" has no aws_access_key_id", name);
	}
out:
	creds_profile_clear(&p);
	return rc;
}

/* ---- container and IMDS providers -------------------------------------- */

/* Whether host (as curl_url gives it, IPv6 in brackets) is one the SDKs
 * allow for a plain-http FULL_URI: loopback or the ECS/EKS agent addresses. */
static bool creds_container_host_ok(const char *host)
{
	static const unsigned char eks_v6[16] = {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23};
	char h[64];
	size_t len = strlen(host);
	struct in_addr a4;
	struct in6_addr a6;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len >= sizeof(h))
		return false;
	memcpy(h, host, len);
	h[len] = '\0';
	if (strcasecmp(h, "localhost") == 0)
		return true; /* libcurl resolves it to loopback without DNS */
	if (inet_pton(AF_INET, h, &a4) == 1) {
		uint32_t a = ntohl(a4.s_addr);
		return (a >> 24) == 127 || a == 0xA9FEAA02 /* 169.254.170.2 */ ||
		       a == 0xA9FEAA17 /* 169.254.170.23 */;
	}
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) || memcmp(&a6, eks_v6, 16) == 0;
	return false;
}

/* Checks AWS_CONTAINER_CREDENTIALS_FULL_URI: https anywhere, http only to
 * the hosts above, so the token is not sent to an arbitrary address. */
static bool creds_container_url_ok(const char *url, struct creds_reason *r)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	bool ok = false;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		creds_why(r, true, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
	} else if (strcasecmp(scheme, "https") == 0) {
		ok = true;
	} else if (strcasecmp(scheme, "http") != 0) {
		creds_why(r, true, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be http or https");
	} else if (!creds_container_host_ok(host)) {
		creds_why(r, true,
			  "AWS_CONTAINER_CREDENTIALS_FULL_URI host %.64s is not loopback, "
			  "169.254.170.2, 169.254.170.23 or fd00:ec2::23, and the URL is not https",
			  host);
	} else {
		ok = true;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static enum error_code creds_from_container(struct creds *c, const struct creds_config *cfg,
					    struct creds_value *out, struct creds_reason *r)
{
	const char *rel = creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char url[CREDS_URL_MAX];
	bool nomem = false;
	enum error_code rc;

	if (!rel && !full) {
		creds_why(r, false, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset");
		return ERROR_UNAVAILABLE;
	}
	/* The relative URI wins, as in every SDK. */
	if (rel) {
		if (rel[0] != '/' || (size_t)snprintf(url, sizeof(url), "%s%s", CREDS_ECS_BASE,
						      rel) >= sizeof(url)) {
			creds_why(r, true,
				  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting "
				  "with /");
			return ERROR_INVALID;
		}
	} else {
		if (!creds_container_url_ok(full, r))
			return ERROR_INVALID;
		snprintf(url, sizeof(url), "%s", full);
	}
	c->f.kind = CREDS_KIND_CONTAINER;
	c->f.url = secret_dup(url, &nomem);
	c->f.token_file = secret_dup(creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), &nomem);
	c->f.auth_token = secret_dup(creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"), &nomem);
	c->f.ca_file = secret_dup(cfg->ca_file, &nomem);
	if (nomem) {
		creds_why(r, true, "out of memory");
		return ERROR_NOMEM;
	}
	rc = creds_fetch(c, out, r);
	r->configured = true;
	return rc;
}

static enum error_code creds_from_imds(struct creds *c, const struct creds_config *cfg,
				       struct creds_value *out, struct creds_reason *r)
{
	const char *off = creds_env("AWS_EC2_METADATA_DISABLED");
	const char *endpoint = creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	bool nomem = false;
	enum error_code rc;
	size_t len;

	if (off && strcasecmp(off, "true") == 0) {
		creds_why(r, false, "disabled by AWS_EC2_METADATA_DISABLED");
		return ERROR_UNAVAILABLE;
	}
	if (!endpoint)
		endpoint =
		    mode && strcasecmp(mode, "IPv6") == 0 ? CREDS_IMDS_BASE_V6 : CREDS_IMDS_BASE;
	if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
		creds_why(r, true,
			  "AWS_EC2_METADATA_SERVICE_ENDPOINT must start with http:// or https://");
		return ERROR_INVALID;
	}
	c->f.kind = CREDS_KIND_IMDS;
	c->f.url = secret_dup(endpoint, &nomem);
	c->f.ca_file = secret_dup(cfg->ca_file, &nomem);
	if (nomem) {
		creds_why(r, true, "out of memory");
		return ERROR_NOMEM;
	}
	len = strlen(c->f.url);
	while (len > 0 && c->f.url[len - 1] == '/')
		c->f.url[--len] = '\0';
	rc = creds_fetch(c, out, r);
	/* Off EC2 the default endpoint simply does not answer: only an
	 * endpoint set on purpose makes a failure worth a warning. */
	r->configured = creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT") != NULL;
	return rc;
}

/* ---- refresh ----------------------------------------------------------- */

/* When the thread fetches next, under lock. After a success: margin plus
 * up to a minute of jitter before expiry, so a fleet does not refresh in
 * step; credentials already inside the margin are fetched again at half
 * their remaining life (1 s to 60 s). After a failure: 1 s doubling to 60 s. */
static void creds_schedule(struct creds *c, bool ok)
{
	int64_t now_ms = now_mono_ms(), wait_ms;

	if (ok) {
		int64_t left_ms = (c->cur.expiration - now_wall_s()) * 1000;
		if (left_ms > c->margin_ms) {
			int64_t slack = left_ms - c->margin_ms;
			int64_t spread =
			    slack / 2 < CREDS_JITTER_MAX_MS ? slack / 2 : CREDS_JITTER_MAX_MS;
			wait_ms = slack - (int64_t)jitter_next(&c->jitter, (uint64_t)spread);
		} else {
			wait_ms = left_ms / 2;
			wait_ms = wait_ms < CREDS_SHORT_MIN_MS	 ? CREDS_SHORT_MIN_MS
				  : wait_ms > CREDS_SHORT_MAX_MS ? CREDS_SHORT_MAX_MS
								 : wait_ms;
		}
	} else {
		unsigned shift = c->failures > 7 ? 6 : c->failures - 1;
		wait_ms = (int64_t)CREDS_RETRY_MIN_MS << shift;
		if (wait_ms > CREDS_RETRY_MAX_MS)
			wait_ms = CREDS_RETRY_MAX_MS;
		wait_ms += (int64_t)jitter_next(&c->jitter, (uint64_t)(wait_ms / 4));
	}
	c->next_ms = now_ms + wait_ms;
}

/* Fetches and installs new credentials, unless a fetch finished since the
 * caller saw generation `seen`: then that fetch's outcome is the answer. */
static enum error_code creds_refresh(struct creds *c, uint64_t seen)
{
	struct creds_reason r = {.text = ""};
	struct creds_value fresh;
	enum error_code rc;

	pthread_mutex_lock(&c->fetch_lock);
	pthread_mutex_lock(&c->lock);
	if (c->generation != seen) {
		rc = c->last_failed ? ERROR_UNAVAILABLE : ERROR_OK;
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->fetch_lock);
		return rc;
	}
	pthread_mutex_unlock(&c->lock);

	rc = creds_fetch(c, &fresh, &r);

	pthread_mutex_lock(&c->lock);
	c->generation++;
	if (rc == ERROR_OK) {
		snprintf(fresh.source, sizeof(fresh.source), "%s", c->source);
		creds_value_wipe(&c->cur);
		c->cur = fresh;
		c->last_failed = false;
		c->failures = 0;
		c->last_ok_ms = now_mono_ms();
		creds_schedule(c, true);
	} else if (rc != ERROR_CANCELLED) {
		c->last_failed = true;
		c->failures++;
		creds_schedule(c, false);
	}
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->fetch_lock);

	if (rc == ERROR_OK)
		log_info("credentials: refreshed from %s, valid for %" PRId64 " s", c->source,
			 fresh.expiration ? fresh.expiration - now_wall_s() : 0);
	else if (rc != ERROR_CANCELLED)
		log_warn("credentials: refresh from %s failed: %s", c->source, r.text);
	creds_value_wipe(&fresh);
	return rc == ERROR_OK ? ERROR_OK : ERROR_UNAVAILABLE;
}

static void *creds_thread_main(void *arg)
{
	struct creds *c = arg;

	pthread_setname_np(pthread_self(), "creds-refresh");
	pthread_mutex_lock(&c->lock);
	while (c->running) {
		int64_t now = now_mono_ms();
		if (now < c->next_ms) {
			struct timespec ts = {.tv_sec = c->next_ms / 1000,
					      .tv_nsec = (c->next_ms % 1000) * 1000000};
			pthread_cond_timedwait(&c->wake, &c->lock, &ts);
			continue;
		}
		uint64_t seen = c->generation;
		pthread_mutex_unlock(&c->lock);
		creds_refresh(c, seen);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Clears the run flag under the lock, wakes the thread, joins it. A fetch
 * in flight sees `stopping` within CREDS_POLL_MS and gives up. */
static void creds_stop(struct creds *c)
{
	if (!c->thread_started)
		return;
	atomic_store(&c->stopping, true);
	pthread_mutex_lock(&c->lock);
	c->running = false;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	c->thread_started = false;
}

/* ---- the public interface ---------------------------------------------- */

void creds_value_wipe(struct creds_value *v)
{
	if (v)
		OPENSSL_cleanse(v, sizeof(*v));
}

typedef enum error_code (*creds_provider_fn)(struct creds *c, const struct creds_config *cfg,
					     struct creds_value *out, struct creds_reason *r);

/* The default chain in the SDKs' order, the settings file first. */
static const struct {
	const char *name;
	creds_provider_fn fn;
} creds_chain[] = {
    {"settings", creds_from_settings},	 {"environment", creds_from_env},
    {"profile", creds_from_profile},	 {"web-identity", creds_from_web_identity},
    {"container", creds_from_container}, {"imds", creds_from_imds},
};

static bool creds_init_sync(struct creds *c)
{
	pthread_condattr_t attr;
	bool ok;

	if (pthread_condattr_init(&attr) != 0)
		return false;
	ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&c->wake, &attr) == 0;
	pthread_condattr_destroy(&attr);
	if (!ok)
		return false;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		pthread_cond_destroy(&c->wake);
		return false;
	}
	if (pthread_mutex_init(&c->fetch_lock, NULL) != 0) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->wake);
		return false;
	}
	return true;
}

struct creds *creds_new(const struct creds_config *cfg, char *why, size_t why_len)
{
	static const struct creds_config none;
	struct creds *c = NULL;
	struct creds_value v;
	struct buf tried;
	bool found = false;
	size_t i;

	buf_init(&tried, CREDS_WHY_MAX);
	if (why && why_len)
		why[0] = '\0';
	if (!cfg)
		cfg = &none;
	c = calloc(1, sizeof(*c));
	if (!c || !creds_init_sync(c)) {
		free(c);
		if (why && why_len)
			snprintf(why, why_len, "credentials: out of memory");
		return NULL;
	}
	c->curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	c->f.timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CREDS_DEFAULT_TIMEOUT_MS;
	c->margin_ms =
	    (int64_t)(cfg->refresh_margin_s > 0 ? cfg->refresh_margin_s : CREDS_DEFAULT_MARGIN_S) *
	    1000;
	jitter_seed(&c->jitter);

	for (i = 0; i < sizeof(creds_chain) / sizeof(creds_chain[0]); i++) {
		struct creds_reason r = {.text = ""};
		enum error_code rc = creds_chain[i].fn(c, cfg, &v, &r);

		if (rc == ERROR_OK) {
			c->source = creds_chain[i].name;
			snprintf(v.source, sizeof(v.source), "%s", c->source);
			c->cur = v;
			creds_value_wipe(&v);
			found = true;
			break;
		}
		if (r.configured)
			log_warn("credentials: %s: %s", creds_chain[i].name, r.text);
		else
			log_debug("credentials: %s: %s", creds_chain[i].name, r.text);
		buf_printf(&tried, "%s%s: %s", tried.len ? "; " : "", creds_chain[i].name, r.text);
		creds_fetcher_clear(&c->f);
	}
	creds_value_wipe(&v);
	if (!found) {
		if (why && why_len)
			snprintf(why, why_len, "no AWS credentials found: %s",
				 tried.data ? tried.data : "");
		goto fail;
	}
	if (!c->curl_ready && c->f.kind != CREDS_KIND_STATIC) {
		if (why && why_len)
			snprintf(why, why_len, "credentials: curl_global_init failed");
		goto fail;
	}
	c->last_ok_ms = now_mono_ms();
	if (c->cur.expiration) {
		log_info("credentials: from %s, valid for %" PRId64
			 " s, refreshed in the background",
			 c->source, c->cur.expiration - now_wall_s());
		creds_schedule(c, true);
		c->running = true;
		if (pthread_create(&c->thread, NULL, creds_thread_main, c) != 0) {
			if (why && why_len)
				snprintf(why, why_len,
					 "credentials: cannot start the refresh thread");
			goto fail;
		}
		c->thread_started = true;
	} else {
		log_info("credentials: from %s (static)", c->source);
	}
	buf_free(&tried);
	return c;
fail:
	buf_free(&tried);
	creds_free(c);
	return NULL;
}

void creds_free(struct creds *c)
{
	if (!c)
		return;
	creds_stop(c);
	creds_fetcher_clear(&c->f);
	creds_value_wipe(&c->cur);
	pthread_mutex_destroy(&c->fetch_lock);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->wake);
	if (c->curl_ready)
		curl_global_cleanup();
	free(c);
}

static bool creds_expired(const struct creds_value *v)
{
	return v->expiration != 0 && now_wall_s() >= v->expiration;
}

enum error_code creds_get(struct creds *c, struct creds_value *out)
{
	uint64_t seen;

	if (!c || !out)
		return ERROR_INVALID;
	pthread_mutex_lock(&c->lock);
	*out = c->cur;
	seen = c->generation;
	pthread_mutex_unlock(&c->lock);
	if (!creds_expired(out))
		return ERROR_OK;
	creds_value_wipe(out);
	if (creds_refresh(c, seen) != ERROR_OK)
		return ERROR_UNAVAILABLE;
	pthread_mutex_lock(&c->lock);
	*out = c->cur;
	pthread_mutex_unlock(&c->lock);
	if (creds_expired(out)) {
		creds_value_wipe(out);
		return ERROR_UNAVAILABLE;
	}
	return ERROR_OK;
}

enum error_code creds_refresh_now(struct creds *c)
{
	uint64_t seen;
	bool recent;

	if (!c)
		return ERROR_INVALID;
	if (c->f.kind == CREDS_KIND_STATIC)
		return ERROR_UNAVAILABLE;
	pthread_mutex_lock(&c->lock);
	seen = c->generation;
	recent = !c->last_failed && now_mono_ms() - c->last_ok_ms < CREDS_REFRESH_NOW_FLOOR_MS;
	pthread_mutex_unlock(&c->lock);
	if (recent)
		return ERROR_OK;
	return creds_refresh(c, seen);
}

int64_t creds_expiration(struct creds *c)
{
	int64_t e;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	e = c->cur.expiration;
	pthread_mutex_unlock(&c->lock);
	return e;
}

const char *creds_source(struct creds *c)
{
	return c && c->source ? c->source : "";
}

bool creds_last_refresh_failed(struct creds *c)
{
	bool failed;

	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	failed = c->last_failed;
	pthread_mutex_unlock(&c->lock);
	return failed;
}
