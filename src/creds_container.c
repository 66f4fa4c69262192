/* creds_container.c: credentials from the ECS/EKS container endpoint
 * (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI), with the
 * authorization token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
 * _TOKEN. A plain-http FULL_URI must point at loopback or the agent's
 * addresses, so the token never travels to an arbitrary host. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "creds_internal.h"
#include "sessiond/file.h"
#include "sessiond/secret.h"
#include "sessiond/xfer.h"

#define CREDS_ECS_BASE "http://169.254.170.2"

/* A header value from a file or the environment: printable ASCII or space. */
static bool creds_container_header_safe(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return len > 0;
}

/* Reads the token (file or variable), GETs the credentials with it. */
enum error_code creds_container_fetch(const struct creds_fetcher *f, struct creds_value *out,
				      struct creds_reason *r)
{
	struct creds_http h = {.method = "GET", .url = f->url, .direct = true};
	struct buf token;
	char err[CURL_ERROR_SIZE + 64];
	struct file_info info;
	enum error_code rc = ERROR_OK;

	buf_init(&token, 0);
	/* The token file wins over the variable and is read on every fetch:
	 * EKS Pod Identity rotates it. */
	if (f->token_file) {
		rc = file_read(f->token_file, CREDS_TOKEN_FILE_MAX, &token, &info);
		if (rc != ERROR_OK) {
			creds_why(r, true, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
				  f->token_file, info.why);
			return rc;
		}
		creds_trim_right(&token);
	} else if (f->auth_token) {
		rc = buf_init_secret(&token, strlen(f->auth_token));
		if (rc == ERROR_OK)
			rc = buf_append_str(&token, f->auth_token);
	}
	if (rc == ERROR_OK && token.len && !creds_container_header_safe(token.data, token.len)) {
		creds_why(r, true, "the container authorization token holds control characters");
		rc = ERROR_PARSE;
		goto out;
	}
	if (rc == ERROR_OK && token.len)
		rc = xfer_header_add(&h.headers, "Authorization", token.data);
	if (rc == ERROR_OK)
		rc = creds_http_line_add(&h.headers, "Accept: application/json");
	if (rc == ERROR_OK)
		rc = creds_http_line_add(&h.headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, true, "out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	rc = creds_http_do(f, &h, err, sizeof(err));
	if (rc != ERROR_OK) {
		creds_why(r, true, "container endpoint: %s", err);
		goto out;
	}
	if (h.status != 200) {
		creds_why(r, true, "container endpoint answered HTTP %ld", h.status);
		rc = ERROR_UPSTREAM;
		goto out;
	}
	rc = creds_parse_json(h.resp.data, h.resp.len, false, out, r);
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

/* ---- the provider ------------------------------------------------------ */

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

enum error_code creds_container_provide(struct creds_fetcher *f, const struct creds_config *cfg,
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
	f->kind = CREDS_KIND_CONTAINER;
	f->url = secret_dup(url, &nomem);
	f->token_file = secret_dup(creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), &nomem);
	f->auth_token = secret_dup(creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"), &nomem);
	f->ca_file = secret_dup(cfg->ca_file, &nomem);
	if (nomem) {
		creds_why(r, true, "out of memory");
		return ERROR_NOMEM;
	}
	rc = creds_fetch(f, out, r);
	r->configured = true;
	return rc;
}
