/* creds.c: AWS credentials found the way the AWS SDKs find them, and kept
 * fresh in the background: the chain, the refresh thread and the public
 * interface (creds.h). The providers live in creds_*.c behind
 * creds_internal.h. Not a general AWS configuration library: no
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
 * Three kinds of caller touch a struct creds: readers (creds_get and
 * creds_get_cached, any thread), the refresh thread, and creds_refresh_now.
 * `lock` guards the current value and the schedule and is held only to copy
 * a struct, so a reader never waits on the network while its credentials
 * are valid. `installed` counts the values set, bumped under `lock` after
 * each; creds_get_cached reads it without the lock, to learn whether its
 * caller's copy is still the current value.
 * `fetch_lock` serialises fetches: a caller that waited on it sees that the
 * generation moved on and takes that fetch's result instead of fetching
 * again. Every fetch polls `stopping` (creds_http.c), so creds_free can
 * abort one in flight and return well within a second; files are read
 * through file.h, so a FIFO cannot block a fetch either. */
#include <curl/curl.h>
#include <openssl/crypto.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creds_internal.h"
#include "sessiond/jitter.h"
#include "sessiond/log.h"
#include "sessiond/now.h"
#include "sessiond/secret.h"

#define CREDS_DEFAULT_TIMEOUT_MS   1000
#define CREDS_DEFAULT_MARGIN_S	   300
#define CREDS_WHY_MAX		   4096
#define CREDS_JITTER_MAX_MS	   60000 /* refresh 5 to 6 minutes before expiry */
#define CREDS_RETRY_MIN_MS	   1000	 /* after a failure, then doubling */
#define CREDS_RETRY_MAX_MS	   60000
#define CREDS_SHORT_MIN_MS	   1000 /* credentials that arrive inside the margin */
#define CREDS_SHORT_MAX_MS	   60000
#define CREDS_REFRESH_NOW_FLOOR_MS 1000 /* creds_refresh_now after a success */

struct creds {
	/* Immutable after creds_new. */
	const char *source; /* the provider's name, a string constant */
	struct creds_fetcher f;
	int64_t margin_ms;
	bool curl_ready;
	atomic_bool stopping; /* creds_free: abort fetches in flight (f.stopping) */

	/* Held across a whole fetch; see DESIGN. Taken before `lock`. */
	pthread_mutex_t fetch_lock;

	/* Shared by readers, fetchers and the refresh thread. */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the thread's schedule changed, or stop */
	struct creds_value cur;
	_Atomic uint64_t installed; /* times cur was set; creds_get_cached reads
				       it without the lock */
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

/* ---- the providers' vocabulary (creds_internal.h) ---------------------- */

void creds_why(struct creds_reason *r, bool configured, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	r->configured = configured;
}

bool creds_set(const char *s)
{
	return s && *s;
}

const char *creds_env(const char *name)
{
	const char *v = getenv(name);

	return creds_set(v) ? v : NULL;
}

bool creds_visible(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return len > 0;
}

bool creds_copy_field(char *dst, size_t n, const char *src, size_t len)
{
	if (len >= n || !creds_visible(src, len))
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

void creds_trim_right(struct buf *b)
{
	size_t len = b->len;

	while (len && memchr(" \t\r\n", b->data[len - 1], 4))
		len--;
	buf_truncate(b, len);
}

enum error_code creds_static(const char *ak, const char *sk, const char *token, const char *what,
			     struct creds_value *out, struct creds_reason *r)
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

enum error_code creds_fetch(const struct creds_fetcher *f, struct creds_value *out,
			    struct creds_reason *r)
{
	enum error_code rc;
	int64_t now;

	memset(out, 0, sizeof(*out));
	switch (f->kind) {
	case CREDS_KIND_WEB_IDENTITY:
		rc = creds_sts_fetch(f, out, r);
		break;
	case CREDS_KIND_CONTAINER:
		rc = creds_container_fetch(f, out, r);
		break;
	case CREDS_KIND_IMDS:
		rc = creds_imds_fetch(f, out, r);
		break;
	default:
		creds_why(r, false, "nothing to fetch");
		return ERROR_INVALID;
	}
	if (rc != ERROR_OK) {
		creds_value_wipe(out);
		return rc;
	}
	now = now_wall_s();
	if (out->expiration && out->expiration <= now) {
		creds_why(r, true, "credentials expired %" PRId64 " s ago", now - out->expiration);
		creds_value_wipe(out);
		return ERROR_PARSE;
	}
	return ERROR_OK;
}

/* Frees what a provider that failed had set up; keeps the settings every
 * provider shares. */
static void creds_fetcher_clear(struct creds_fetcher *f)
{
	secret_free(f->url);
	secret_free(f->role_arn);
	secret_free(f->session_name);
	secret_free(f->token_file);
	secret_free(f->auth_token);
	secret_free(f->ca_file);
	secret_free(f->proxy);
	*f = (struct creds_fetcher){
	    .kind = CREDS_KIND_STATIC, .timeout_ms = f->timeout_ms, .stopping = f->stopping};
}

/* ---- the settings file and the environment ----------------------------- */

static enum error_code creds_settings_provide(struct creds_fetcher *f,
					      const struct creds_config *cfg,
					      struct creds_value *out, struct creds_reason *r)
{
	bool ak = creds_set(cfg->access_key_id), sk = creds_set(cfg->secret_access_key);

	(void)f;
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

static enum error_code creds_environment_provide(struct creds_fetcher *f,
						 const struct creds_config *cfg,
						 struct creds_value *out, struct creds_reason *r)
{
	const char *ak = creds_env("AWS_ACCESS_KEY_ID"), *sk = creds_env("AWS_SECRET_ACCESS_KEY");

	(void)f;
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

	rc = creds_fetch(&c->f, &fresh, &r);

	pthread_mutex_lock(&c->lock);
	c->generation++;
	if (rc == ERROR_OK) {
		snprintf(fresh.source, sizeof(fresh.source), "%s", c->source);
		creds_value_wipe(&c->cur);
		c->cur = fresh;
		atomic_fetch_add_explicit(&c->installed, 1, memory_order_release);
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
 * in flight sees `stopping` within 100 ms (creds_http.c) and gives up. */
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

/* The default chain in the SDKs' order, the settings file first. */
static const struct {
	const char *name;
	creds_provider_fn fn;
} creds_chain[] = {
    {"settings", creds_settings_provide},   {"environment", creds_environment_provide},
    {"profile", creds_profile_provide},	    {"web-identity", creds_sts_provide},
    {"container", creds_container_provide}, {"imds", creds_imds_provide},
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
	c->f.stopping = &c->stopping;
	c->margin_ms =
	    (int64_t)(cfg->refresh_margin_s > 0 ? cfg->refresh_margin_s : CREDS_DEFAULT_MARGIN_S) *
	    1000;
	jitter_seed(&c->jitter);

	for (i = 0; i < sizeof(creds_chain) / sizeof(creds_chain[0]); i++) {
		struct creds_reason r = {.text = ""};
		enum error_code rc = creds_chain[i].fn(&c->f, cfg, &v, &r);

		if (rc == ERROR_OK) {
			c->source = creds_chain[i].name;
			snprintf(v.source, sizeof(v.source), "%s", c->source);
			c->cur = v;
			atomic_fetch_add_explicit(&c->installed, 1, memory_order_release);
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

/* creds_get, and which setting of cur (c->installed) *out copies. */
static enum error_code creds_copy(struct creds *c, struct creds_value *out, uint64_t *installed)
{
	uint64_t seen;

	pthread_mutex_lock(&c->lock);
	*out = c->cur;
	*installed = atomic_load_explicit(&c->installed, memory_order_relaxed);
	seen = c->generation;
	pthread_mutex_unlock(&c->lock);
	if (!creds_expired(out))
		return ERROR_OK;
	creds_value_wipe(out);
	if (creds_refresh(c, seen) != ERROR_OK)
		return ERROR_UNAVAILABLE;
	pthread_mutex_lock(&c->lock);
	*out = c->cur;
	*installed = atomic_load_explicit(&c->installed, memory_order_relaxed);
	pthread_mutex_unlock(&c->lock);
	if (creds_expired(out)) {
		creds_value_wipe(out);
		return ERROR_UNAVAILABLE;
	}
	return ERROR_OK;
}

enum error_code creds_get(struct creds *c, struct creds_value *out)
{
	uint64_t installed;

	if (!c || !out)
		return ERROR_INVALID;
	return creds_copy(c, out, &installed);
}

enum error_code creds_get_cached(struct creds *c, struct creds_value *copy, uint64_t *copy_of)
{
	enum error_code rc;

	if (!c || !copy || !copy_of)
		return ERROR_INVALID;
	/* Nothing was set since the copy was taken (the counter only grows,
	 * and is bumped after cur is written, under the lock). */
	if (*copy_of && *copy_of == atomic_load_explicit(&c->installed, memory_order_acquire) &&
	    !creds_expired(copy))
		return ERROR_OK;
	/* creds_copy overwrites *copy whole, and wipes it when it fails. */
	rc = creds_copy(c, copy, copy_of);
	if (rc != ERROR_OK)
		*copy_of = 0;
	return rc;
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
