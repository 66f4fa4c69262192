/* reaper.c: deletes expired sessions (reaper.h).
 *
 * DESIGN. A pass takes the fleet lease, then runs one worker thread per
 * Scan segment. Workers read pages of keys and expiry times (filtered on
 * the prefix and on expires < now) and submit a conditional DeleteItem for
 * each, through a shared token bucket and a cap on deletes in flight. Every
 * wait (for a page, a token, a free slot) is on the reaper's condition
 * variable with a timeout, so reaper_stop is honoured within a second. The
 * state of a request in flight lives on the heap and is released by
 * whichever of the waiter and the completion lets go last, so a stop never
 * leaves a completion writing into a dead stack frame. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "sessiond/buf.h"
#include "sessiond/log.h"
#include "sessiond/now.h"
#include "sessiond/reaper.h"

#define REAPER_MAX_INFLIGHT 16     /* deletes in flight per reaper */
#define REAPER_WAIT_SLICE_MS 200   /* no wait is longer: stop stays prompt */
#define REAPER_THROTTLE_PAUSE_MS 1000
/* The lease key cannot be prefix + a session id: '/' is not in the id
 * alphabet. It has no "expires", so neither a reaper nor DynamoDB's TTL
 * ever deletes it. */
#define REAPER_LEASE_KEY "sessiond/reaper-lease"

struct reaper {
	char *table, *hash_key, *prefix;
	int64_t interval, rate, segments;
	struct keyring_holder *keys;
	int64_t rekey_rate;
	bool first_pass_now;
	void (*after_page)(void *arg);
	void *after_page_arg;
	struct ddb_client *ddb;
	char owner[33]; /* this daemon's lease identity */

	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;  /* any change: stop, a completion, time */
	bool stopping;
	unsigned inflight;    /* deletes submitted and not completed */
	double tokens;        /* delete rate bucket */
	int64_t refilled_ms;
	int64_t pause_until_ms; /* throttled: deletes wait until then */
	int64_t lease_taken_ms; /* when the lease was last taken or renewed */
	bool pass_failed;
	struct reaper_stats stats;
};

/* One blocking call's rendezvous; freed by the last of waiter and
 * completion (refs). */
struct reaper_wait {
	struct reaper *r;
	int refs;
	bool done;
	struct ddb_result result;
};

/* Waits on the condition variable for at most ms (lock held). */
static void reaper_sleep_locked(struct reaper *r, int64_t ms)
{
	struct timespec ts;

	if (ms > REAPER_WAIT_SLICE_MS)
		ms = REAPER_WAIT_SLICE_MS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&r->cond, &r->lock, &ts);
}

/* ---- blocking calls that a stop interrupts ------------------------------ */

static void reaper_wait_release(struct reaper_wait *w)
{
	if (--w->refs == 0) {
		ddb_result_clear(&w->result);
		free(w);
	}
}

static void reaper_on_wait_done(void *arg, struct ddb_result *res)
{
	struct reaper_wait *w = arg;
	struct reaper *r = w->r;

	pthread_mutex_lock(&r->lock);
	w->result = *res;
	memset(&res->resp, 0, sizeof(res->resp)); /* moved */
	w->done = true;
	reaper_wait_release(w);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Sends req and waits for its result, or for a stop (ERROR_CANCELLED).
 * On ERROR_OK/other, *res is the caller's (ddb_result_clear it). */
static enum error_code reaper_call(struct reaper *r, const struct ddb_request *req,
				   struct ddb_result *res)
{
	struct reaper_wait *w = calloc(1, sizeof(*w));
	enum error_code rc;

	memset(res, 0, sizeof(*res));
	if (!w)
		return ERROR_NOMEM;
	w->r = r;
	w->refs = 2;
	rc = ddb_client_submit(r->ddb, req, reaper_on_wait_done, w);
	if (rc != ERROR_OK) {
		free(w);
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	while (!w->done && !r->stopping)
		reaper_sleep_locked(r, REAPER_WAIT_SLICE_MS);
	if (w->done) {
		*res = w->result;
		memset(&w->result, 0, sizeof(w->result));
		rc = res->rc;
	} else {
		rc = ERROR_CANCELLED;
	}
	reaper_wait_release(w);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- the lease ---------------------------------------------------------- */

/* The lease lasts one interval and its holder renews it every half
 * interval, between passes too (reaper_main) and while a long pass runs
 * (reaper_keep_lease), so two passes never overlap, and a crashed holder's
 * lease frees the fleet within an interval: another daemon reaps within two
 * intervals of the crash. The term is in whole seconds of wall-clock time,
 * compared with strict "<", so hosts of a fleet need clocks in sync (NTP)
 * to well under an interval. */
static int64_t reaper_lease_seconds(const struct reaper *r)
{
	return r->interval;
}

/* Takes or renews the fleet lease. *held_elsewhere when another daemon
 * holds a valid one. */
static enum error_code reaper_take_lease(struct reaper *r, bool *held_elsewhere)
{
	struct ddb_item item = { 0 }, values = { 0 };
	struct ddb_name names[] = { { "#k", r->hash_key }, { "#u", "lease_until" },
				    { "#o", "owner" } };
	struct ddb_request req = {
		.op = DDB_OP_PUT_ITEM,
		.table = r->table,
		.item = &item,
		.condition = "attribute_not_exists(#k) OR #u < :now OR #o = :me",
		.names = names,
		.n_names = 3,
		.values = &values,
	};
	struct ddb_result res;
	int64_t now = now_wall_s();
	enum error_code rc = ERROR_NOMEM;

	*held_elsewhere = false;
	if (ddb_item_add_s(&item, r->hash_key, REAPER_LEASE_KEY, strlen(REAPER_LEASE_KEY)) ||
	    ddb_item_add_s(&item, "owner", r->owner, strlen(r->owner)) ||
	    ddb_item_add_n_i64(&item, "lease_until", now + reaper_lease_seconds(r)) ||
	    ddb_item_add_n_i64(&values, ":now", now) ||
	    ddb_item_add_s(&values, ":me", r->owner, strlen(r->owner)))
		goto out;
	rc = reaper_call(r, &req, &res);
	if (rc == ERROR_CONDITION) {
		*held_elsewhere = true;
		rc = ERROR_OK;
	} else if (rc == ERROR_OK) {
		pthread_mutex_lock(&r->lock);
		r->lease_taken_ms = now_mono_ms();
		r->stats.lease_until = now + reaper_lease_seconds(r);
		pthread_mutex_unlock(&r->lock);
	}
	if (*held_elsewhere) {
		pthread_mutex_lock(&r->lock);
		r->stats.lease_until = 0;
		pthread_mutex_unlock(&r->lock);
	}
	ddb_result_clear(&res);
out:
	ddb_item_clear(&item);
	ddb_item_clear(&values);
	return rc;
}

/* During a pass: renews the lease once half of it has run out. false when
 * it could not be kept (the pass must end: another daemon may start). */
static bool reaper_keep_lease(struct reaper *r)
{
	bool due, elsewhere = false;

	pthread_mutex_lock(&r->lock);
	due = now_mono_ms() - r->lease_taken_ms > reaper_lease_seconds(r) * 1000 / 2;
	if (due)
		r->lease_taken_ms = now_mono_ms(); /* one renewal at a time */
	pthread_mutex_unlock(&r->lock);
	if (!due)
		return true;
	return reaper_take_lease(r, &elsewhere) == ERROR_OK && !elsewhere;
}

/* ---- deletes ------------------------------------------------------------ */

static void reaper_on_delete(void *arg, struct ddb_result *res)
{
	struct reaper *r = arg;

	pthread_mutex_lock(&r->lock);
	r->inflight--;
	if (res->rc == ERROR_OK) {
		r->stats.deleted++;
	} else if (res->rc == ERROR_CONDITION) {
		r->stats.conflicts++; /* touched since the scan, or gone: kept */
	} else if (res->rc == ERROR_UNAVAILABLE) {
		/* Throttled past the client's retries: slow the pass down; the
		 * item is found again by the next pass. */
		r->pause_until_ms = now_mono_ms() + REAPER_THROTTLE_PAUSE_MS;
	} else if (res->rc != ERROR_CANCELLED) {
		r->pass_failed = true;
		log_warn("reaper: delete failed: %s (%s)", error_str(res->rc), res->err.type);
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Waits for a delete slot and a rate token (lock held). false on stop. */
static bool reaper_admit_locked(struct reaper *r)
{
	for (;;) {
		int64_t now = now_mono_ms();

		if (r->stopping)
			return false;
		if (r->rate > 0) {
			double burst = r->rate < 10 ? 1.0 : (double)r->rate / 10.0;
			r->tokens += (double)(now - r->refilled_ms) * (double)r->rate / 1000.0;
			if (r->tokens > burst)
				r->tokens = burst;
			r->refilled_ms = now;
		}
		if (now < r->pause_until_ms) {
			reaper_sleep_locked(r, r->pause_until_ms - now);
		} else if (r->inflight >= REAPER_MAX_INFLIGHT) {
			reaper_sleep_locked(r, REAPER_WAIT_SLICE_MS);
		} else if (r->rate > 0 && r->tokens < 1.0) {
			reaper_sleep_locked(r, (int64_t)((1.0 - r->tokens) * 1000.0 / (double)r->rate) + 1);
		} else {
			if (r->rate > 0)
				r->tokens -= 1.0;
			r->inflight++;
			return true;
		}
	}
}

/* Deletes key if it is still expired at now. */
static void reaper_delete(struct reaper *r, const struct ddb_attr *key, int64_t now)
{
	struct ddb_item k = { 0 }, values = { 0 };
	struct ddb_name names[] = { { "#e", "expires" } };
	struct ddb_request req = {
		.op = DDB_OP_DELETE_ITEM,
		.table = r->table,
		.key = &k,
		.condition = "#e < :now",
		.names = names,
		.n_names = 1,
		.values = &values,
	};
	bool admitted;

	if (ddb_item_add_s(&k, r->hash_key, key->value, key->value_len) ||
	    ddb_item_add_n_i64(&values, ":now", now)) {
		pthread_mutex_lock(&r->lock);
		r->pass_failed = true;
		pthread_mutex_unlock(&r->lock);
		goto out;
	}
	pthread_mutex_lock(&r->lock);
	admitted = reaper_admit_locked(r);
	pthread_mutex_unlock(&r->lock);
	if (admitted && ddb_client_submit(r->ddb, &req, reaper_on_delete, r) != ERROR_OK) {
		pthread_mutex_lock(&r->lock);
		r->inflight--;
		pthread_mutex_unlock(&r->lock);
	}
out:
	ddb_item_clear(&k);
	ddb_item_clear(&values);
}

/* ---- scanning ------------------------------------------------------------ */

struct reaper_segment {
	struct reaper *r;
	int segment;
	int64_t now;
	pthread_t thread;
};

/* Deletes the expired sessions of one scanned page. Rate-limited deletes
 * can take longer than the lease, so the lease is renewed as they go;
 * false when it was lost (the pass must end: another daemon may start). */
static bool reaper_page(struct reaper *r, const struct ddb_response *page, int64_t now)
{
	size_t plen = strlen(r->prefix);

	for (size_t i = 0; i < page->n_items; i++) {
		const struct ddb_attr *key = ddb_item_get(&page->items[i], r->hash_key);

		/* The filter already did this; a key outside the prefix is
		 * another application's and is never touched, whatever the
		 * engine returned. */
		if (!key || key->type != DDB_TYPE_S || strncmp(key->value, r->prefix, plen) != 0)
			continue;
		if (!reaper_keep_lease(r))
			return false;
		pthread_mutex_lock(&r->lock);
		r->stats.scanned++;
		pthread_mutex_unlock(&r->lock);
		reaper_delete(r, key, now);
	}
	return true;
}

static void *reaper_segment_main(void *arg)
{
	struct reaper_segment *s = arg;
	struct reaper *r = s->r;
	struct ddb_item values = { 0 }, start = { 0 };
	struct ddb_name names[] = { { "#k", r->hash_key }, { "#e", "expires" } };
	bool more = true, prefixed = *r->prefix != '\0';

	if (ddb_item_add_n_i64(&values, ":now", s->now) ||
	    (prefixed && ddb_item_add_s(&values, ":p", r->prefix, strlen(r->prefix))))
		more = false;
	while (more) {
		struct ddb_request req = {
			.op = DDB_OP_SCAN,
			.table = r->table,
			.projection = "#k, #e",
			.filter = prefixed ? "begins_with(#k, :p) AND #e < :now" : "#e < :now",
			.names = names,
			.n_names = 2,
			.values = &values,
			.segment = s->segment,
			.total_segments = (int)r->segments,
			.exclusive_start_key = start.n ? &start : NULL,
		};
		struct ddb_result res;
		enum error_code rc = reaper_call(r, &req, &res);

		if (rc != ERROR_OK) {
			if (rc != ERROR_CANCELLED)
				log_warn("reaper: scan of segment %d failed: %s (%s)", s->segment,
					 error_str(rc), res.err.type);
			pthread_mutex_lock(&r->lock);
			r->pass_failed = rc != ERROR_CANCELLED;
			pthread_mutex_unlock(&r->lock);
			ddb_result_clear(&res);
			break;
		}
		if (r->after_page)
			r->after_page(r->after_page_arg);
		if (!reaper_keep_lease(r) || !reaper_page(r, &res.resp, s->now)) {
			log_warn("reaper: lost the lease during a pass; ending it");
			pthread_mutex_lock(&r->lock);
			r->pass_failed = true;
			pthread_mutex_unlock(&r->lock);
			ddb_result_clear(&res);
			break;
		}
		more = res.resp.has_last_key &&
		       ddb_item_copy(&start, &res.resp.last_key) == ERROR_OK;
		ddb_result_clear(&res);
	}
	ddb_item_clear(&values);
	ddb_item_clear(&start);
	return NULL;
}

/* ---- rewriting sessions sealed under a retired key ------------------------ */

/* Rewrites one scanned item's sess under the first key, on condition that
 * sess and version are still those read: a write that came in between
 * sealed under the first key anyway, and is never overwritten. */
static void reaper_rekey_item(struct reaper *r, const struct keyring *kr,
			      const struct ddb_item *item)
{
	const struct ddb_attr *key = ddb_item_get(item, r->hash_key);
	const struct ddb_attr *sess = ddb_item_get(item, "sess");
	const struct ddb_attr *version = ddb_item_get(item, "version");
	struct ddb_name names[] = { { "#s", "sess" }, { "#v", "version" } };
	struct ddb_item k = { 0 }, values = { 0 };
	struct keyring_read_info info;
	struct ddb_result res;
	struct buf sealed;
	bool ok;

	buf_init(&sealed, 0);
	switch (keyring_reseal(kr, item, r->hash_key, &sealed, &info)) {
	case KEYRING_READ_OPENED:
		break;
	case KEYRING_READ_FAILED:
		log_warn("reaper: a session sealed under key id \"%s\" does not decrypt (%s); "
			 "left as it is",
			 info.key_id, info.why);
		/* fall through */
	default:
		pthread_mutex_lock(&r->lock);
		r->stats.rekey_skipped++;
		pthread_mutex_unlock(&r->lock);
		goto out;
	}
	ok = ddb_item_add_s(&k, r->hash_key, key->value, key->value_len) == ERROR_OK &&
	     ddb_item_add_s(&values, ":new", sealed.data, sealed.len) == ERROR_OK &&
	     ddb_item_add_s(&values, ":old", sess->value, sess->value_len) == ERROR_OK &&
	     (!version || (version->type == DDB_TYPE_N &&
			   ddb_item_add_n(&values, ":v", version->value) == ERROR_OK));
	if (!ok)
		goto out;
	struct ddb_request req = {
		.op = DDB_OP_UPDATE_ITEM,
		.table = r->table,
		.key = &k,
		.update = "SET #s = :new",
		.condition = version ? "#s = :old AND #v = :v"
				     : "#s = :old AND attribute_not_exists(#v)",
		.names = names,
		.n_names = 2,
		.values = &values,
	};
	reaper_call(r, &req, &res);
	pthread_mutex_lock(&r->lock);
	if (res.rc == ERROR_OK)
		r->stats.rekeyed++;
	else if (res.rc != ERROR_CANCELLED)
		r->stats.rekey_skipped++; /* changed meanwhile; found again if need be */
	pthread_mutex_unlock(&r->lock);
	ddb_result_clear(&res);
out:
	buf_free(&sealed);
	ddb_item_clear(&k);
	ddb_item_clear(&values);
}

/* Waits until next_ms (monotonic) or a stop; false on stop. */
static bool reaper_pace(struct reaper *r, int64_t next_ms)
{
	bool go;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping && now_mono_ms() < next_ms)
		reaper_sleep_locked(r, next_ms - now_mono_ms());
	go = !r->stopping;
	pthread_mutex_unlock(&r->lock);
	return go;
}

/* One scan of the live sessions sealed under any key but the first,
 * rewriting each at most rekey_rate a second. Runs under the lease, after
 * the expiry pass; a stop or a lost lease ends it, and the next pass goes
 * on from the start (what is done is no longer found). */
static void reaper_rekey_pass(struct reaper *r)
{
	struct keyring *kr = keyring_holder_get(r->keys);
	struct ddb_item values = { 0 }, start = { 0 };
	struct ddb_name names[] = { { "#k", r->hash_key }, { "#e", "expires" }, { "#s", "sess" } };
	int64_t gap_ms = 1000 / r->rekey_rate, next_ms = now_mono_ms();
	uint64_t before;
	struct buf current;
	bool more, prefixed = *r->prefix != '\0';

	/* One key: nothing is retired (a key no longer listed cannot be read). */
	if (keyring_count(kr) < 2) {
		keyring_unref(kr);
		return;
	}
	buf_init(&current, 0);
	buf_printf(&current, "%s1:%s:", SEAL_PREFIX, keyring_key_id(kr, 0));
	more = buf_error(&current) == ERROR_OK &&
	       ddb_item_add_n_i64(&values, ":now", now_wall_s()) == ERROR_OK &&
	       (!prefixed || ddb_item_add_s(&values, ":p", r->prefix, strlen(r->prefix)) == ERROR_OK) &&
	       ddb_item_add_s(&values, ":enc", SEAL_PREFIX, SEAL_PREFIX_LEN) == ERROR_OK &&
	       ddb_item_add_s(&values, ":cur", current.data, current.len) == ERROR_OK;
	pthread_mutex_lock(&r->lock);
	before = r->stats.rekeyed;
	pthread_mutex_unlock(&r->lock);
	while (more) {
		struct ddb_request req = {
			.op = DDB_OP_SCAN,
			.table = r->table,
			.filter = prefixed ? "begins_with(#k, :p) AND #e > :now AND begins_with(#s, :enc) "
					     "AND NOT begins_with(#s, :cur)"
					   : "attribute_exists(#k) AND #e > :now AND begins_with(#s, :enc) "
					     "AND NOT begins_with(#s, :cur)",
			.names = names,
			.n_names = 3,
			.values = &values,
			.exclusive_start_key = start.n ? &start : NULL,
		};
		struct ddb_result res;

		if (reaper_call(r, &req, &res) != ERROR_OK || !reaper_keep_lease(r)) {
			ddb_result_clear(&res);
			break;
		}
		for (size_t i = 0; i < res.resp.n_items && more; i++) {
			const struct ddb_attr *key = ddb_item_get(&res.resp.items[i], r->hash_key);
			if (!key || key->type != DDB_TYPE_S ||
			    strncmp(key->value, r->prefix, strlen(r->prefix)) != 0)
				continue;
			/* A slow pass renews the lease as it goes, as deletes do. */
			more = reaper_pace(r, next_ms) && reaper_keep_lease(r);
			next_ms = now_mono_ms() + gap_ms;
			if (more)
				reaper_rekey_item(r, kr, &res.resp.items[i]);
		}
		more = more && res.resp.has_last_key &&
		       ddb_item_copy(&start, &res.resp.last_key) == ERROR_OK;
		ddb_result_clear(&res);
	}
	pthread_mutex_lock(&r->lock);
	if (r->stats.rekeyed != before)
		log_info("reaper: rewrote %" PRIu64 " session(s) under key id \"%s\"",
			 r->stats.rekeyed - before, keyring_key_id(kr, 0));
	pthread_mutex_unlock(&r->lock);
	buf_free(&current);
	ddb_item_clear(&values);
	ddb_item_clear(&start);
	keyring_unref(kr);
}

/* ---- passes -------------------------------------------------------------- */

enum error_code reaper_pass(struct reaper *r, bool *skipped)
{
	struct reaper_segment *segs = NULL;
	struct reaper_stats before;
	int64_t started = now_mono_ms(), n_started = 0;
	bool elsewhere = false, failed, kept;
	enum error_code rc;

	*skipped = false;
	rc = reaper_take_lease(r, &elsewhere);
	if (rc != ERROR_OK || elsewhere) {
		pthread_mutex_lock(&r->lock);
		if (rc == ERROR_OK)
			r->stats.skipped_passes++;
		else if (rc != ERROR_CANCELLED)
			r->stats.failed_passes++;
		pthread_mutex_unlock(&r->lock);
		if (rc != ERROR_OK && rc != ERROR_CANCELLED)
			log_warn("reaper: could not take the lease: %s", error_str(rc));
		*skipped = elsewhere;
		return rc;
	}
	pthread_mutex_lock(&r->lock);
	before = r->stats;
	r->pass_failed = false;
	r->tokens = 0;
	r->refilled_ms = started;
	pthread_mutex_unlock(&r->lock);

	segs = calloc((size_t)r->segments, sizeof(*segs));
	if (!segs)
		return ERROR_NOMEM;
	for (int64_t i = 0; i < r->segments; i++) {
		segs[i] = (struct reaper_segment){ .r = r, .segment = (int)i, .now = now_wall_s() };
		if (pthread_create(&segs[i].thread, NULL, reaper_segment_main, &segs[i]) != 0)
			break;
		n_started++;
	}
	for (int64_t i = 0; i < n_started; i++)
		pthread_join(segs[i].thread, NULL);
	free(segs);

	/* The pass ends when its deletes have (or a stop). */
	pthread_mutex_lock(&r->lock);
	while (r->inflight > 0 && !r->stopping) {
		reaper_sleep_locked(r, REAPER_WAIT_SLICE_MS);
		/* Deletes still draining hold the pass open: keep the lease. */
		pthread_mutex_unlock(&r->lock);
		kept = reaper_keep_lease(r);
		pthread_mutex_lock(&r->lock);
		if (!kept)
			r->pass_failed = true;
	}
	failed = r->pass_failed || n_started < r->segments;
	if (failed)
		r->stats.failed_passes++;
	else if (!r->stopping)
		r->stats.passes++;
	log_info("reaper: pass %s: scanned %" PRIu64 ", deleted %" PRIu64
		 ", kept because touched %" PRIu64 ", %" PRId64 " ms",
		 failed ? "failed" : r->stopping ? "stopped" : "done",
		 r->stats.scanned - before.scanned, r->stats.deleted - before.deleted,
		 r->stats.conflicts - before.conflicts, now_mono_ms() - started);
	pthread_mutex_unlock(&r->lock);
	if (!failed && r->rekey_rate > 0 && r->keys)
		reaper_rekey_pass(r);
	return failed ? ERROR_UNAVAILABLE : ERROR_OK;
}

/* A random fraction of the interval, so a fleet restarted together does
 * not reap together. */
static int64_t reaper_first_delay_ms(const struct reaper *r)
{
	uint32_t x = 0;

	if (r->first_pass_now)
		return 0;
	if (RAND_bytes((unsigned char *)&x, sizeof(x)) != 1)
		x = (uint32_t)now_mono_ms();
	return (int64_t)((double)x / 4294967296.0 * (double)r->interval * 1000.0);
}

static void *reaper_main(void *arg)
{
	struct reaper *r = arg;
	int64_t due = now_mono_ms() + reaper_first_delay_ms(r);
	bool skipped;

	pthread_setname_np(pthread_self(), "reaper");
	log_info("reaper: every %" PRId64 " s, lease identity %s", r->interval, r->owner);
	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		int64_t now = now_mono_ms();
		int64_t renew = r->stats.lease_until
					? r->lease_taken_ms + reaper_lease_seconds(r) * 1000 / 2 + 1
					: INT64_MAX;

		if (now >= renew) {
			/* Between passes the holder keeps the lease, so no
			 * other daemon's attempt lands in a gap. */
			pthread_mutex_unlock(&r->lock);
			reaper_keep_lease(r);
			pthread_mutex_lock(&r->lock);
			continue;
		}
		if (now < due) {
			reaper_sleep_locked(r, (due < renew ? due : renew) - now);
			continue;
		}
		pthread_mutex_unlock(&r->lock);
		/* A failed pass is logged inside and retried next interval. */
		reaper_pass(r, &skipped);
		pthread_mutex_lock(&r->lock);
		due = now_mono_ms() + r->interval * 1000;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

struct reaper *reaper_new(const struct reaper_config *cfg, struct ddb_client *ddb)
{
	struct reaper *r = calloc(1, sizeof(*r));
	unsigned char raw[16];

	if (!r)
		return NULL;
	r->table = strdup(cfg->table);
	r->hash_key = strdup(cfg->hash_key);
	r->prefix = strdup(cfg->prefix ? cfg->prefix : "");
	if (!r->table || !r->hash_key || !r->prefix || RAND_bytes(raw, sizeof(raw)) != 1) {
		reaper_free(r);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(r->owner + 2 * i, 3, "%02x", raw[i]);
	r->interval = cfg->interval > 0 ? cfg->interval : 600;
	r->rate = cfg->max_deletes_per_second;
	r->segments = cfg->segments > 0 ? cfg->segments : 1;
	r->keys = cfg->keys;
	r->rekey_rate = cfg->rekey_per_second;
	r->first_pass_now = cfg->first_pass_now;
	r->after_page = cfg->after_page;
	r->after_page_arg = cfg->after_page_arg;
	r->ddb = ddb;
	pthread_mutex_init(&r->lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	return r;
}

enum error_code reaper_start(struct reaper *r)
{
	if (pthread_create(&r->thread, NULL, reaper_main, r) != 0)
		return ERROR_IO;
	r->started = true;
	return ERROR_OK;
}

void reaper_stop(struct reaper *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->started) {
		pthread_join(r->thread, NULL);
		r->started = false;
	}
}

void reaper_free(struct reaper *r)
{
	if (!r)
		return;
	reaper_stop(r);
	free(r->table);
	free(r->hash_key);
	free(r->prefix);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

void reaper_stats(struct reaper *r, struct reaper_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	pthread_mutex_unlock(&r->lock);
	/* A lease that ran out (a stopped pass, a slow table) is not held. */
	if (out->lease_until && out->lease_until <= now_wall_s())
		out->lease_until = 0;
}

const char *reaper_owner(const struct reaper *r)
{
	return r->owner;
}
