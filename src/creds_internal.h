/* creds_internal.h: what the credential chain (creds.c) and its providers
 * share, and nothing outside them may use: the reason a provider gave
 * nothing, the fetcher a refreshable provider fills, the HTTP call, and
 * each provider's entry points. The pure parsers of outside input are here
 * too, so tests/fuzz/fuzz_creds.c can reach them. Layout, as in aws-c-auth:
 *   creds.c            the chain, the refresh thread, the public API
 *   creds_http.c       one bounded, cancellable HTTP request to a provider
 *   creds_parse.c      ISO 8601 times and the container/IMDS JSON document
 *   creds_profile.c    the shared config and credentials files
 *   creds_sts.c        web identity through STS AssumeRoleWithWebIdentity
 *   creds_container.c  the ECS/EKS container endpoint
 *   creds_imds.c       EC2 instance metadata, IMDSv2 */
#ifndef SESSIOND_CREDS_INTERNAL_H
#define SESSIOND_CREDS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "sessiond/buf.h"
#include "sessiond/creds.h"
#include "sessiond/error.h"

#ifndef SESSIOND_VERSION
#define SESSIOND_VERSION "0"
#endif

#define CREDS_REASON_MAX      320
#define CREDS_RESPONSE_MAX    (64 * 1024) /* any provider's answer */
#define CREDS_SHARED_FILE_MAX (1 << 20)	  /* ~/.aws/config and credentials */
#define CREDS_TOKEN_FILE_MAX  (64 * 1024) /* web identity and container tokens */
#define CREDS_URL_MAX	      2048
#define CREDS_USER_AGENT      "User-Agent: sessiond/" SESSIOND_VERSION

/* ---- creds.c: the chain's vocabulary ----------------------------------- */

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

/* What a refreshable provider needs to fetch again: owned copies made at
 * start-up (freed with secret_free), so the refresh thread never calls
 * getenv, which is not thread-safe against setenv. Immutable once
 * creds_new returns; the refresh thread and creds_get read it unlocked. */
struct creds_fetcher {
	enum creds_kind kind;
	char *url;		     /* STS endpoint, container URL or IMDS base URL */
	char *role_arn;		     /* web identity */
	char *session_name;	     /* web identity */
	char *token_file;	     /* web identity token, or the container's token file */
	char *auth_token;	     /* container token from the environment: secret */
	char *ca_file;		     /* added to the system store for https */
	char *proxy;		     /* STS only; NULL = libcurl reads HTTPS_PROXY itself */
	long timeout_ms;	     /* one HTTP call */
	const atomic_bool *stopping; /* set by creds_free: abort a fetch */
};

/* A provider of the chain: fills out, or says in r why it could not. A
 * refreshable one also fills f and fetches through creds_fetch. */
typedef enum error_code (*creds_provider_fn)(struct creds_fetcher *f,
					     const struct creds_config *cfg,
					     struct creds_value *out, struct creds_reason *r);

void creds_why(struct creds_reason *r, bool configured, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether s is set: neither NULL nor "". */
bool creds_set(const char *s);

/* An environment variable, NULL when unset or empty (the SDKs treat both
 * alike). Start-up only: see struct creds_fetcher. */
const char *creds_env(const char *name);

/* Whether s[0..len) is non-empty visible ASCII: keys, secrets and tokens go
 * into HTTP headers, so no spaces and no CR/LF injection. */
bool creds_visible(const char *s, size_t len);

/* Copies a key, secret or token of len bytes into dst (size n), NUL
 * terminated; false if it does not fit or is not creds_visible. */
bool creds_copy_field(char *dst, size_t n, const char *src, size_t len);

/* Removes trailing white space (files end with a newline). */
void creds_trim_right(struct buf *b);

/* Static keys from anywhere; `what` names the source for the reason. */
enum error_code creds_static(const char *ak, const char *sk, const char *token, const char *what,
			     struct creds_value *out, struct creds_reason *r);

/* Fetches from f's provider and checks the expiry; out is wiped on error.
 * Blocks for at most a few provider timeouts; ERROR_CANCELLED on stop. */
enum error_code creds_fetch(const struct creds_fetcher *f, struct creds_value *out,
			    struct creds_reason *r);

/* ---- creds_http.c ------------------------------------------------------ */

/* One request to a provider. */
struct creds_http {
	const char *method; /* "GET", "PUT" or "POST" */
	const char *url;
	struct curl_slist *headers; /* borrowed */
	const char *body;	    /* NULL: none */
	size_t body_len;
	bool direct;	 /* link-local or loopback: never through a proxy */
	long status;	 /* out: the HTTP status, 0 if none */
	struct buf resp; /* out: at most CREDS_RESPONSE_MAX bytes, data never
			    NULL after ERROR_OK; free with buf_free_secret */
};

/* Performs one request with f's timeout, CA file and proxy, aborted within
 * 100 ms once *f->stopping is set. ERROR_OK means an answer arrived,
 * whatever its status; otherwise err says why without naming a secret. */
enum error_code creds_http_do(const struct creds_fetcher *f, struct creds_http *h, char *err,
			      size_t err_len);

/* Appends a constant header line; the list is kept on failure. */
enum error_code creds_http_line_add(struct curl_slist **list, const char *line);

/* ---- creds_parse.c: pure parsers of provider answers ------------------- */

/* Parses "2024-05-01T12:34:56Z", with an optional fraction and a "Z" or
 * "+hh:mm" zone, into Unix seconds. The zone is required, and the time
 * must be after the epoch (0 means "never expires" in a creds_value). */
bool creds_parse_time(const char *s, int64_t *out);

/* Fills out from the JSON document of the container endpoint and IMDS
 * (AccessKeyId, SecretAccessKey, Token, Expiration, and IMDS's Code).
 * ERROR_PARSE with r saying why; out is wiped then. data may be NULL when
 * len is 0. */
enum error_code creds_parse_json(const char *data, size_t len, bool need_expiry,
				 struct creds_value *out, struct creds_reason *r);

/* ---- creds_profile.c --------------------------------------------------- */

enum creds_prop {
	CREDS_PROP_KEY_ID,
	CREDS_PROP_SECRET,
	CREDS_PROP_TOKEN,
	CREDS_PROP_ROLE_ARN,
	CREDS_PROP_TOKEN_FILE,
	CREDS_PROP_SESSION_NAME,
	CREDS_PROP_PROCESS,
	CREDS_PROP_SOURCE_PROFILE,
	CREDS_PROP_CREDENTIAL_SOURCE,
	CREDS_PROP_SSO_SESSION,
	CREDS_PROP_SSO_START_URL,
	CREDS_PROP_COUNT
};

/* The credential properties of one profile; values owned, wiped on clear. */
struct creds_profile {
	bool found;
	char *prop[CREDS_PROP_COUNT];
};

/* Parses the text of one shared file (NUL-terminated; parsing stops at the
 * first NUL) and overlays the properties of profile `want` onto out: in the
 * config file (is_config) "[profile want]", or "[default]" for "default";
 * in the credentials file "[want]". A line that is neither a section, a
 * comment nor "name = value" spoils the file, as in the SDKs: ERROR_PARSE
 * with "path:line: ..." in r. */
enum error_code creds_profile_parse(const char *text, const char *path, bool is_config,
				    const char *want, struct creds_profile *out,
				    struct creds_reason *r);

/* Frees and wipes p's values; p is empty afterwards. */
void creds_profile_clear(struct creds_profile *p);

enum error_code creds_profile_provide(struct creds_fetcher *f, const struct creds_config *cfg,
				      struct creds_value *out, struct creds_reason *r);

/* ---- creds_sts.c ------------------------------------------------------- */

/* Reads STS's answer to AssumeRoleWithWebIdentity: the Credentials block
 * when status is 200, else the error Code for r (ERROR_UPSTREAM). url only
 * names the endpoint in r. out is wiped on error. */
enum error_code creds_sts_parse(const char *body, size_t len, long status, const char *url,
				struct creds_value *out, struct creds_reason *r);

/* Sets f up for web identity (from the environment or a profile) and
 * fetches once. */
enum error_code creds_sts_setup(struct creds_fetcher *f, const struct creds_config *cfg,
				const char *role_arn, const char *token_file,
				const char *session_name, struct creds_value *out,
				struct creds_reason *r);

enum error_code creds_sts_fetch(const struct creds_fetcher *f, struct creds_value *out,
				struct creds_reason *r);
enum error_code creds_sts_provide(struct creds_fetcher *f, const struct creds_config *cfg,
				  struct creds_value *out, struct creds_reason *r);

/* ---- creds_container.c ------------------------------------------------- */

enum error_code creds_container_fetch(const struct creds_fetcher *f, struct creds_value *out,
				      struct creds_reason *r);
enum error_code creds_container_provide(struct creds_fetcher *f, const struct creds_config *cfg,
					struct creds_value *out, struct creds_reason *r);

/* ---- creds_imds.c ------------------------------------------------------ */

#define CREDS_IMDS_ROLE_MAX 128

/* The role an IMDS role list names: its first line, which must be 1 to
 * CREDS_IMDS_ROLE_MAX - 1 of IAM's [A-Za-z0-9+=,.@_-]. ERROR_PARSE else. */
enum error_code creds_imds_role(const char *text, size_t len, char *role, size_t n,
				struct creds_reason *r);

enum error_code creds_imds_fetch(const struct creds_fetcher *f, struct creds_value *out,
				 struct creds_reason *r);
enum error_code creds_imds_provide(struct creds_fetcher *f, const struct creds_config *cfg,
				   struct creds_value *out, struct creds_reason *r);

#endif
