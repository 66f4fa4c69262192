/* creds.h: AWS credentials the way the AWS SDKs find them (the default
 * chain: settings file, environment, shared files and profile, web
 * identity through STS, ECS/EKS container endpoint, EC2 IMDSv2), with
 * temporary credentials refreshed in the background before they expire.
 * One provider per function behind this one interface. */
#ifndef SESSIOND_CREDS_H
#define SESSIOND_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/error.h"

#define CREDS_KEY_MAX 128
#define CREDS_TOKEN_MAX 4096

/* A snapshot of credentials; secrets are wiped by creds_value_wipe. */
struct creds_value {
	char access_key_id[CREDS_KEY_MAX];
	char secret_access_key[CREDS_KEY_MAX];
	char session_token[CREDS_TOKEN_MAX]; /* "" when none */
	int64_t expiration;                  /* Unix seconds; 0 = never (static) */
	char source[32];                     /* provider name: "settings", "environment",
	                                        "profile", "web-identity", "container",
	                                        "imds" */
};

void creds_value_wipe(struct creds_value *v);

/* Where the chain starts; strings borrowed for the call, NULL or "" = unset. */
struct creds_config {
	const char *access_key_id;     /* settings file: credentials.* */
	const char *secret_access_key;
	const char *session_token;
	const char *profile;           /* credentials.profile; else AWS_PROFILE; else "default" */
	const char *region;            /* for the regional STS endpoint */
	const char *sts_endpoint;      /* "" = https://sts.<region>.amazonaws.com (tests) */
	const char *ca_file;           /* extra CA bundle for STS/container HTTPS */
	const char *proxy;             /* as dynamodb.proxy, for STS */
	long timeout_ms;               /* one HTTP call to a provider; 0 = 1000 */
	/* Refresh this long (plus up to a minute of jitter) before expiry;
	 * 0 = 300. A test hook: operators have no setting for it. */
	int refresh_margin_s;
};

struct creds;

/* Resolves the chain once (blocking, start-up only) and, for temporary
 * credentials, starts the refresh thread. NULL when no provider yields
 * credentials, with one line in why naming every provider tried and why it
 * gave nothing. */
struct creds *creds_new(const struct creds_config *cfg, char *why, size_t why_len);

/* Stops the refresh thread (returns within a second), wipes secrets.
 * Accepts NULL. */
void creds_free(struct creds *c);

/* Copies the current credentials into out. Never waits for a refresh unless
 * the current ones have expired (then it refreshes synchronously, bounded by
 * the provider timeout per HTTP call: one call for STS and the container
 * endpoint, three for IMDS). ERROR_UNAVAILABLE when expired and the refresh
 * failed; readers that queue behind a failing refresh share its failure
 * rather than each fetching again. Thread-safe. */
enum error_code creds_get(struct creds *c, struct creds_value *out);

/* creds_get for a caller that keeps its own copy between calls (one per
 * event loop, which signs every request): *copy is taken again only when
 * the current credentials were replaced since, or it expired, so most
 * calls cost an atomic load and a clock read, with no lock and no copy.
 * *copy_of records which credentials of c *copy holds: 0 before the first
 * call and after a failure (then *copy is wiped). A copy belongs to one c.
 * The caller wipes *copy when done. Thread-safe for distinct copies. */
enum error_code creds_get_cached(struct creds *c, struct creds_value *copy, uint64_t *copy_of);

/* After ExpiredTokenException: refresh now (synchronously, bounded), so the
 * caller can retry once. Callers that arrive while a refresh runs share its
 * result, and within a second of a successful refresh it returns ERROR_OK
 * at once, so a burst of rejected requests costs one fetch.
 * ERROR_UNAVAILABLE when the refresh failed, or for static credentials
 * (settings, environment, profile keys), which no retry can fix.
 * Thread-safe. */
enum error_code creds_refresh_now(struct creds *c);

/* For /readyz and /metrics: the expiry of the current credentials (0 for
 * static), the provider's name, and whether the last refresh failed. */
int64_t creds_expiration(struct creds *c);
const char *creds_source(struct creds *c);
bool creds_last_refresh_failed(struct creds *c);

#endif
