/* creds_imds.c: credentials from EC2 instance metadata, IMDSv2 only: PUT
 * a session token, read the role's name, GET the role's credentials. No
 * IMDSv1 fallback: an instance that requires v2 is the safe default, and
 * one that only offers v1 is rare enough to name in the error. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "creds_internal.h"
#include "sessiond/secret.h"
#include "sessiond/xfer.h"

#define CREDS_IMDS_BASE	     "http://169.254.169.254"
#define CREDS_IMDS_BASE_V6   "http://[fd00:ec2::254]"
#define CREDS_IMDS_TOKEN_TTL "21600"
#define CREDS_IMDS_TOKEN_MAX 1024

enum error_code creds_imds_role(const char *text, size_t len, char *role, size_t n,
				struct creds_reason *r)
{
	size_t end = 0;

	/* The first line names the role; IAM role names are [\w+=,.@-]. */
	while (end < len && text[end] != '\r' && text[end] != '\n')
		end++;
	if (end == 0 || end >= n) {
		creds_why(r, false, "IMDS role list is empty or too long");
		return ERROR_PARSE;
	}
	for (size_t i = 0; i < end; i++) {
		char ch = text[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || (ch && strchr("+=,.@_-", ch)))) {
			creds_why(r, false, "IMDS role name has characters IAM does not allow");
			return ERROR_PARSE;
		}
	}
	memcpy(role, text, end);
	role[end] = '\0';
	return ERROR_OK;
}

/* One IMDS GET or PUT into h (whose resp the caller frees). */
static enum error_code creds_imds_call(const struct creds_fetcher *f, struct creds_http *h,
				       const char *method, const char *path,
				       struct curl_slist *headers, const char *what,
				       struct creds_reason *r)
{
	char url[CREDS_URL_MAX], err[CURL_ERROR_SIZE + 64];
	enum error_code rc;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", f->url, path) >= sizeof(url)) {
		creds_why(r, false, "IMDS %s: URL too long", what);
		return ERROR_INVALID;
	}
	*h = (struct creds_http){.method = method, .url = url, .headers = headers, .direct = true};
	rc = creds_http_do(f, h, err, sizeof(err));
	if (rc != ERROR_OK) {
		creds_why(r, false, "IMDS %s at %s: %s", what, f->url, err);
		return rc;
	}
	if (h->status != 200) {
		if (h->status == 404 && strcmp(what, "role list") == 0)
			creds_why(r, false, "IMDS at %s: no IAM role attached to this instance",
				  f->url);
		else
			creds_why(r, false, "IMDS %s at %s answered HTTP %ld", what, f->url,
				  h->status);
		buf_free_secret(&h->resp);
		return ERROR_UPSTREAM;
	}
	return ERROR_OK;
}

/* PUT a session token, list the role, GET the role's credentials. */
enum error_code creds_imds_fetch(const struct creds_fetcher *f, struct creds_value *out,
				 struct creds_reason *r)
{
	struct creds_http h = {.method = "GET"};
	struct curl_slist *put_headers = NULL, *headers = NULL;
	char token[CREDS_IMDS_TOKEN_MAX], role[CREDS_IMDS_ROLE_MAX], path[256];
	enum error_code rc;

	token[0] = '\0';
	rc = creds_http_line_add(&put_headers,
				 "X-aws-ec2-metadata-token-ttl-seconds: " CREDS_IMDS_TOKEN_TTL);
	if (rc == ERROR_OK)
		rc = creds_http_line_add(&put_headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, false, "out of memory");
		goto out;
	}
	rc = creds_imds_call(f, &h, "PUT", "/latest/api/token", put_headers, "token request", r);
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
		rc = creds_http_line_add(&headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, false, "out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	rc = creds_imds_call(f, &h, "GET", "/latest/meta-data/iam/security-credentials/", headers,
			     "role list", r);
	if (rc != ERROR_OK)
		goto out;
	rc = creds_imds_role(h.resp.data, h.resp.len, role, sizeof(role), r);
	if (rc != ERROR_OK)
		goto out;
	buf_free_secret(&h.resp);
	snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
	rc = creds_imds_call(f, &h, "GET", path, headers, "credentials", r);
	if (rc != ERROR_OK)
		goto out;
	rc = creds_parse_json(h.resp.data, h.resp.len, true, out, r);
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

/* ---- the provider ------------------------------------------------------ */

enum error_code creds_imds_provide(struct creds_fetcher *f, const struct creds_config *cfg,
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
	f->kind = CREDS_KIND_IMDS;
	f->url = secret_dup(endpoint, &nomem);
	f->ca_file = secret_dup(cfg->ca_file, &nomem);
	if (nomem) {
		creds_why(r, true, "out of memory");
		return ERROR_NOMEM;
	}
	len = strlen(f->url);
	while (len > 0 && f->url[len - 1] == '/')
		f->url[--len] = '\0';
	rc = creds_fetch(f, out, r);
	/* Off EC2 the default endpoint simply does not answer: only an
	 * endpoint set on purpose makes a failure worth a warning. */
	r->configured = creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT") != NULL;
	return rc;
}
