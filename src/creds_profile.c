/* creds_profile.c: the shared config and credentials files (~/.aws/config
 * and ~/.aws/credentials, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE)
 * and the profile provider that reads them: static keys, or a web identity
 * role handed to creds_sts.c. credential_process, SSO and role chaining
 * through source_profile are refused with a reason, not passed over. The
 * parser reads only the properties it needs and is as strict as the SDKs
 * about lines it cannot place. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds_internal.h"
#include "sessiond/file.h"
#include "sessiond/secret.h"

static const char *const creds_profile_names[CREDS_PROP_COUNT] = {
    [CREDS_PROP_KEY_ID] = "aws_access_key_id",
    [CREDS_PROP_SECRET] = "aws_secret_access_key",
    [CREDS_PROP_TOKEN] = "aws_session_token",
    [CREDS_PROP_ROLE_ARN] = "role_arn",
    [CREDS_PROP_TOKEN_FILE] = "web_identity_token_file",
    [CREDS_PROP_SESSION_NAME] = "role_session_name",
    [CREDS_PROP_PROCESS] = "credential_process",
    [CREDS_PROP_SOURCE_PROFILE] = "source_profile",
    [CREDS_PROP_CREDENTIAL_SOURCE] = "credential_source",
    [CREDS_PROP_SSO_SESSION] = "sso_session",
    [CREDS_PROP_SSO_START_URL] = "sso_start_url",
};

void creds_profile_clear(struct creds_profile *p)
{
	for (int i = 0; i < CREDS_PROP_COUNT; i++)
		secret_free(p->prop[i]);
	memset(p, 0, sizeof(*p));
}

/* Moves src's properties over dst's: later files and sections win. */
static void creds_profile_overlay(struct creds_profile *dst, struct creds_profile *src)
{
	if (!src->found)
		return;
	dst->found = true;
	for (int i = 0; i < CREDS_PROP_COUNT; i++) {
		if (src->prop[i]) {
			secret_free(dst->prop[i]);
			dst->prop[i] = src->prop[i];
			src->prop[i] = NULL;
		}
	}
}

static bool creds_profile_space(char ch)
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
	while (p < close && creds_profile_space(*p))
		p++;
	while (close > p && creds_profile_space(close[-1]))
		close--;
	if (close - p > 8 && memcmp(p, "profile", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
		has_prefix = true;
		for (p += 8; p < close && creds_profile_space(*p); p++)
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

	while (ke > line && creds_profile_space(ke[-1]))
		ke--;
	while (vs < end && creds_profile_space(*vs))
		vs++;
	/* A comment after a value needs whitespace before it: "a=b#c" is "b#c". */
	for (ve = vs; ve < end; ve++)
		if ((ve[0] == ' ' || ve[0] == '\t') && ve + 1 < end &&
		    (ve[1] == '#' || ve[1] == ';'))
			break;
	while (ve > vs && creds_profile_space(ve[-1]))
		ve--;
	for (int i = 0; i < CREDS_PROP_COUNT; i++) {
		size_t kl = strlen(creds_profile_names[i]);
		if ((size_t)(ke - line) == kl && memcmp(line, creds_profile_names[i], kl) == 0) {
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

/* ---- the files --------------------------------------------------------- */

enum error_code creds_profile_parse(const char *text, const char *path, bool is_config,
				    const char *want, struct creds_profile *out,
				    struct creds_reason *r)
{
	struct creds_profile plain = {0}, prefixed = {0}, *cur = NULL;
	enum error_code rc = ERROR_OK;
	int lineno = 0;

	for (const char *line = text, *next; line && *line; line = next) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line), *eq;

		next = nl ? nl + 1 : NULL;
		lineno++;
		while (end > line && creds_profile_space(end[-1]))
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
	return rc;
}

/* Reads one shared file and overlays profile `want` onto out. A missing
 * file is no error (*exists = false); one that is not a regular file of at
 * most CREDS_SHARED_FILE_MAX bytes is. */
static enum error_code creds_profile_read(const char *path, bool is_config, const char *want,
					  struct creds_profile *out, bool *exists,
					  struct creds_reason *r)
{
	struct file_info info;
	struct buf text;
	enum error_code rc;

	*exists = false;
	rc = file_read(path, CREDS_SHARED_FILE_MAX, &text, &info);
	if (rc == ERROR_IO && (info.err == ENOENT || info.err == ENOTDIR))
		return ERROR_OK;
	if (rc != ERROR_OK) {
		creds_why(r, true, "%s: %s", path, info.why);
		return rc;
	}
	*exists = true;
	rc = creds_profile_parse(text.data, path, is_config, want, out, r);
	buf_free_secret(&text);
	return rc;
}

/* ---- the provider ------------------------------------------------------ */

/* The home directory for ~/.aws: $HOME, else the password database. */
static const char *creds_profile_home(char *buf, size_t n)
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
static bool creds_profile_path(const char *var, const char *name, char *out, size_t n)
{
	char pwbuf[1024];
	const char *v = creds_env(var), *home;
	bool tilde = v && v[0] == '~' && v[1] == '/';
	int len;

	if (v && !tilde) {
		len = snprintf(out, n, "%s", v);
	} else {
		home = creds_profile_home(pwbuf, sizeof(pwbuf));
		if (!home)
			return false;
		if (tilde)
			len = snprintf(out, n, "%s%s", home, v + 1);
		else
			len = snprintf(out, n, "%s/.aws/%s", home, name);
	}
	return len > 0 && (size_t)len < n;
}

/* What profile `name`, as read, means: a web identity role, static keys,
 * or something sessiond does not support, said in r. */
static enum error_code creds_profile_use(struct creds_fetcher *f, const struct creds_config *cfg,
					 const char *name, bool chosen, char **v,
					 struct creds_value *out, struct creds_reason *r)
{
	enum error_code rc = ERROR_UNAVAILABLE;

	/* A role in the profile comes first, as in the SDKs: its keys, if
	 * any, belong to the identity that would assume the role. */
	if (v[CREDS_PROP_ROLE_ARN] && v[CREDS_PROP_TOKEN_FILE]) {
		rc = creds_sts_setup(f, cfg, v[CREDS_PROP_ROLE_ARN], v[CREDS_PROP_TOKEN_FILE],
				     v[CREDS_PROP_SESSION_NAME], out, r);
		if (rc != ERROR_OK) {
			char detail[CREDS_REASON_MAX];
			snprintf(detail, sizeof(detail), "%s", r->text);
			creds_why(r, true, "profile \"%s\" web identity: %s", name, detail);
		}
	} else if (v[CREDS_PROP_ROLE_ARN]) {
		creds_why(r, true,
			  "profile \"%s\" has role_arn without web_identity_token_file; roles "
			  "through source_profile or credential_source are not supported",
			  name);
	} else if (v[CREDS_PROP_KEY_ID] || v[CREDS_PROP_SECRET]) {
		if (!creds_set(v[CREDS_PROP_KEY_ID]) || !creds_set(v[CREDS_PROP_SECRET])) {
			creds_why(r, true,
				  "profile \"%s\" needs both aws_access_key_id and "
				  "aws_secret_access_key",
				  name);
			return ERROR_INVALID;
		}
		rc = creds_static(v[CREDS_PROP_KEY_ID], v[CREDS_PROP_SECRET], v[CREDS_PROP_TOKEN],
				  "profile", out, r);
	} else if (v[CREDS_PROP_PROCESS]) {
		creds_why(r, true,
			  "profile \"%s\" uses credential_process, which sessiond does not support",
			  name);
	} else if (v[CREDS_PROP_SSO_SESSION] || v[CREDS_PROP_SSO_START_URL]) {
		creds_why(r, true, "profile \"%s\" uses SSO, which sessiond does not support",
			  name);
	} else {
		creds_why(r, chosen, "profile \"%s\" has no aws_access_key_id", name);
	}
	return rc;
}

enum error_code creds_profile_provide(struct creds_fetcher *f, const struct creds_config *cfg,
				      struct creds_value *out, struct creds_reason *r)
{
	const char *name = creds_set(cfg->profile) ? cfg->profile : creds_env("AWS_PROFILE");
	bool chosen = name != NULL, cfg_exists = false, cred_exists = false;
	char cfg_path[4096], cred_path[4096];
	struct creds_profile p = {0};
	enum error_code rc;

	if (!name)
		name = "default";
	if (!creds_profile_path("AWS_CONFIG_FILE", "config", cfg_path, sizeof(cfg_path)) ||
	    !creds_profile_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", cred_path,
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
	if (!cfg_exists && !cred_exists)
		creds_why(r, chosen, "profile \"%s\": neither %s nor %s exists", name, cred_path,
			  cfg_path);
	else if (!p.found)
		creds_why(r, chosen, "profile \"%s\" not found in %s or %s", name, cred_path,
			  cfg_path);
	else
		rc = creds_profile_use(f, cfg, name, chosen, p.prop, out, r);
out:
	creds_profile_clear(&p);
	return rc;
}
