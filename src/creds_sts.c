/* creds_sts.c: web identity credentials through STS: the provider that
 * reads AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (a profile's
 * role_arn and web_identity_token_file come through creds_sts_setup too),
 * the AssumeRoleWithWebIdentity call, and a careful few steps of XML to
 * read its answer. The call is unsigned: the token is the proof. Role
 * chaining (source_profile) is not supported. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "creds_internal.h"
#include "sessiond/file.h"
#include "sessiond/hex.h"
#include "sessiond/now.h"
#include "sessiond/secret.h"
#include "sessiond/xfer.h"

/* ---- a few careful steps of XML ---------------------------------------- */

/* Finds the content of the first element `name` in [p, end): *cs..*ce.
 * Attributes are skipped; an empty element (<x/>) has empty content. */
static bool creds_sts_xml_find(const char *p, const char *end, const char *name, const char **cs,
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
static bool creds_sts_xml_text(const char *p, const char *end, char *out, size_t n)
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
					int dv = hex			  ? hex_value(*p)
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

/* ---- the answer -------------------------------------------------------- */

/* Copies an error code from an upstream answer for a log line: only the
 * characters an AWS error code has, so nothing else can slip through. */
static void creds_sts_safe_code(const char *p, const char *end, char *out, size_t n)
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

enum error_code creds_sts_parse(const char *body, size_t len, long status, const char *url,
				struct creds_value *out, struct creds_reason *r)
{
	const char *end, *cs, *ce, *fs, *fe;
	char code[64] = "", time_text[64];
	enum error_code rc = ERROR_PARSE;

	if (!body)
		body = "", len = 0;
	end = body + len;
	if (status != 200) {
		if (creds_sts_xml_find(body, end, "Error", &cs, &ce) &&
		    creds_sts_xml_find(cs, ce, "Code", &fs, &fe))
			creds_sts_safe_code(fs, fe, code, sizeof(code));
		creds_why(r, true, "STS %s answered HTTP %ld%s%s%s", url, status,
			  code[0] ? " (" : "", code, code[0] ? ")" : "");
		rc = ERROR_UPSTREAM;
		goto out;
	}
	if (!creds_sts_xml_find(body, end, "Credentials", &cs, &ce)) {
		creds_why(r, true, "STS answer has no Credentials element");
		goto out;
	}
	if (!creds_sts_xml_find(cs, ce, "AccessKeyId", &fs, &fe) ||
	    !creds_sts_xml_text(fs, fe, out->access_key_id, sizeof(out->access_key_id)) ||
	    !creds_visible(out->access_key_id, strlen(out->access_key_id)) ||
	    !creds_sts_xml_find(cs, ce, "SecretAccessKey", &fs, &fe) ||
	    !creds_sts_xml_text(fs, fe, out->secret_access_key, sizeof(out->secret_access_key)) ||
	    !creds_visible(out->secret_access_key, strlen(out->secret_access_key)) ||
	    !creds_sts_xml_find(cs, ce, "SessionToken", &fs, &fe) ||
	    !creds_sts_xml_text(fs, fe, out->session_token, sizeof(out->session_token)) ||
	    !creds_visible(out->session_token, strlen(out->session_token))) {
		creds_why(
		    r, true,
		    "STS answer lacks AccessKeyId, SecretAccessKey or SessionToken, or one is "
		    "malformed");
		goto out;
	}
	if (!creds_sts_xml_find(cs, ce, "Expiration", &fs, &fe) ||
	    !creds_sts_xml_text(fs, fe, time_text, sizeof(time_text)) ||
	    !creds_parse_time(time_text, &out->expiration)) {
		creds_why(r, true, "STS answer's Expiration is missing or not an ISO 8601 time");
		goto out;
	}
	rc = ERROR_OK;
out:
	if (rc != ERROR_OK)
		creds_value_wipe(out);
	return rc;
}

/* ---- the call ---------------------------------------------------------- */

/* Appends name=value to a form body, value percent-encoded (RFC 3986
 * unreserved characters kept). */
static enum error_code creds_sts_form_add(struct buf *b, const char *name, const char *value)
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

/* The form body of the call, in form, which holds the token: allocated for
 * the worst case (every byte escaped) so that it is never reallocated. */
static enum error_code creds_sts_form(const struct creds_fetcher *f, const struct buf *token,
				      struct buf *form)
{
	enum error_code rc;

	rc = buf_init_secret(form, 3 * token->len + 3 * strlen(f->role_arn) +
				       3 * strlen(f->session_name) + 256);
	if (rc == ERROR_OK)
		rc = creds_sts_form_add(form, "Action", "AssumeRoleWithWebIdentity");
	if (rc == ERROR_OK)
		rc = creds_sts_form_add(form, "Version", "2011-06-15");
	if (rc == ERROR_OK)
		rc = creds_sts_form_add(form, "RoleArn", f->role_arn);
	if (rc == ERROR_OK)
		rc = creds_sts_form_add(form, "RoleSessionName", f->session_name);
	if (rc == ERROR_OK)
		rc = creds_sts_form_add(form, "WebIdentityToken", token->data);
	return rc;
}

/* Reads the token file again on every fetch (Kubernetes rotates it),
 * posts the form, reads the answer. */
enum error_code creds_sts_fetch(const struct creds_fetcher *f, struct creds_value *out,
				struct creds_reason *r)
{
	struct creds_http h = {.method = "POST", .url = f->url};
	char err[CURL_ERROR_SIZE + 64];
	struct file_info info;
	struct buf token, form;
	enum error_code rc;

	buf_init(&form, 0);
	rc = file_read(f->token_file, CREDS_TOKEN_FILE_MAX, &token, &info);
	if (rc != ERROR_OK) {
		creds_why(r, true, "web identity token file %s: %s", f->token_file, info.why);
		return rc;
	}
	creds_trim_right(&token);
	if (!token.len) {
		creds_why(r, true, "web identity token file %s is empty", f->token_file);
		rc = ERROR_PARSE;
		goto out;
	}
	rc = creds_sts_form(f, &token, &form);
	/* "Expect:" stops libcurl from waiting for a 100 Continue on a body
	 * over 1 KiB, which a JWT usually is. */
	if (rc == ERROR_OK)
		rc = creds_http_line_add(
		    &h.headers, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
	if (rc == ERROR_OK)
		rc = creds_http_line_add(&h.headers, "Expect:");
	if (rc == ERROR_OK)
		rc = creds_http_line_add(&h.headers, CREDS_USER_AGENT);
	if (rc != ERROR_OK) {
		creds_why(r, true, "out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	h.body = form.data;
	h.body_len = form.len;
	rc = creds_http_do(f, &h, err, sizeof(err));
	if (rc != ERROR_OK) {
		creds_why(r, true, "STS %s: %s", f->url, err);
		goto out;
	}
	rc = creds_sts_parse(h.resp.data, h.resp.len, h.status, f->url, out, r);
out:
	buf_free_secret(&token);
	buf_free_secret(&form);
	buf_free_secret(&h.resp);
	xfer_headers_free(h.headers);
	return rc;
}

/* ---- the provider ------------------------------------------------------ */

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

enum error_code creds_sts_setup(struct creds_fetcher *f, const struct creds_config *cfg,
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
	f->kind = CREDS_KIND_WEB_IDENTITY;
	f->url = secret_dup(url, &nomem);
	f->role_arn = secret_dup(role_arn, &nomem);
	f->session_name = secret_dup(session_name, &nomem);
	f->token_file = secret_dup(token_file, &nomem);
	f->ca_file = secret_dup(cfg->ca_file, &nomem);
	f->proxy = secret_dup(cfg->proxy, &nomem);
	if (nomem) {
		creds_why(r, true, "out of memory");
		return ERROR_NOMEM;
	}
	rc = creds_fetch(f, out, r);
	r->configured = true;
	return rc;
}

enum error_code creds_sts_provide(struct creds_fetcher *f, const struct creds_config *cfg,
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
	return creds_sts_setup(f, cfg, arn, file, creds_env("AWS_ROLE_SESSION_NAME"), out, r);
}
