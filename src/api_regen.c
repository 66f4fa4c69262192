/* api_regen.c: POST /v1/sessions/{id}/regenerate (api.md, v1.1), session
 * fixation defence: the session moves to a new daemon-generated id with
 * the same data and owner, version 1. The same portable sequence runs on
 * every engine: read, conditional put of the new item, conditional delete
 * of the old one, and on a conflict the new item goes and it starts over. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "sessiond/jitter.h"
#include "sessiond/log.h"
#include "sessiond/metrics.h"
#include "sessiond/now.h"

/*
 * DESIGN
 *
 * TransactWriteItems would put the new item and delete the old one in one
 * call, but dynalite (the test engine) does not implement it, and one code
 * path that runs everywhere is one that is tested everywhere. The sequence
 * gives the same guarantees to clients:
 *
 *   1. GetItem old (strongly consistent): absent or expired is 404.
 *   2. PutItem new, attribute_not_exists: nobody else knows the new id, so
 *      only a 192-bit collision fails it (then another id is drawn).
 *   3. DeleteItem old, on condition that it still exists at the version
 *      read in 1. Success: answer 201; the old id is gone before the
 *      answer, so it is 404 from then on.
 *   4. The condition failed: a write to the old id landed between 1 and
 *      3. The new item (a copy of the stale data) is deleted, and after a
 *      randomized pause the whole sequence starts over from 1, which
 *      carries the landed write over. At most REGEN_MAX_TRIES rounds, then
 *      409. A write to the old id after 3 fails (the item is gone), so no
 *      write is ever silently lost.
 *
 * Whenever the new item was written and the old one stays, the new one is
 * deleted before answering (no orphans), with a deadline of its own so
 * that a request that ran out of time still cleans up. Two cases where the
 * answer of a DynamoDB call was lost are decided by reading back: a put
 * whose condition failed after an unanswered attempt was ours (the id is
 * new), and a delete of the old item that may have been applied is
 * checked by reading the old item.
 */

#define REGEN_MAX_TRIES 8

/* Process-wide counters for /metrics, added from every worker. */
static _Atomic uint64_t regen_done, regen_conflicts, regen_orphans;

enum regen_step {
	REGEN_READ,       /* GetItem old */
	REGEN_PUT,        /* PutItem new */
	REGEN_DELETE,     /* DeleteItem old, conditional on its version */
	REGEN_VERIFY_OLD, /* GetItem old after a delete that may have applied */
	REGEN_CLEANUP,    /* DeleteItem new, then answer or start over */
};

struct regen_op {
	struct api *api;
	struct http_request *req;
	enum regen_step step;
	int tries;
	int64_t now;
	int64_t deadline_ms;
	bool has_ttl;
	int64_t ttl;
	bool has_expires;
	int64_t expires;
	char old_id[SESSION_ID_MAX + 1];
	int64_t old_version;
	struct session sess; /* as read; then with the new id, version 1 */
	bool new_written;    /* the new item may exist */
	/* REGEN_CLEANUP: what follows it. */
	bool retry_after_cleanup;
	unsigned fail_status; /* else the answer: a status and detail, */
	char fail_detail[128];
	struct ddb_result fail; /* or a DynamoDB failure (fail.rc != OK) */
	struct jitter jitter;
	struct keyring *kr; /* the keys in force when the request began; NULL: off */
};

static void regen_on_ddb(void *arg, struct ddb_result *res);
static void regen_read(struct regen_op *op, long delay_ms);
static void regen_cleanup(struct regen_op *op, bool retry);

static void regen_op_free(struct regen_op *op)
{
	session_clear(&op->sess);
	keyring_unref(op->kr);
	free(op);
}

static void regen_finish(struct regen_op *op, unsigned status, const char *detail)
{
	http_respond_problem(op->req, status, detail);
	regen_op_free(op);
}

static void regen_fail(struct regen_op *op, const struct ddb_result *res)
{
	log_warn("request rid=%s: regenerate: DynamoDB %s (%s)", http_request_rid(op->req),
		 error_str(res->rc), res->err.type);
	api_respond_ddb_error(op->req, res);
	regen_op_free(op);
}

/* The item key of id: the hash key attribute holding prefix + id. */
static enum error_code regen_key(const struct regen_op *op, const char *id, struct ddb_item *key)
{
	const struct conf *c = api_conf(op->api);
	char *text = api_key_new(c, id);
	enum error_code rc;

	if (!text)
		return ERROR_NOMEM;
	rc = ddb_item_add_s(key, c->dynamodb.hash_key, text, strlen(text));
	free(text);
	return rc;
}

/* Submits r for op (deadline_ms 0: the op's own); on failure answers. */
static void regen_send(struct regen_op *op, struct ddb_request *r, long delay_ms)
{
	enum error_code rc;

	if (!r->deadline_ms)
		r->deadline_ms = op->deadline_ms;
	rc = ddb_client_submit_delayed(api_ddb(op->api), r, delay_ms, regen_on_ddb, op);
	if (rc != ERROR_OK) {
		struct ddb_result res = { .rc = rc };
		regen_fail(op, &res);
	}
}

static void regen_read(struct regen_op *op, long delay_ms)
{
	struct ddb_item key = { 0 };
	struct ddb_request r = {
		.op = DDB_OP_GET_ITEM,
		.table = api_conf(op->api)->dynamodb.table,
		.key = &key,
		.consistent_read = true,
	};

	if (regen_key(op, op->old_id, &key) != ERROR_OK) {
		regen_finish(op, 500, "out of memory");
		return;
	}
	op->now = now_wall_s();
	op->step = REGEN_READ;
	regen_send(op, &r, delay_ms);
	ddb_item_clear(&key);
}

/* Draws a new id and puts the session there (step 2). */
static void regen_put(struct regen_op *op)
{
	const struct conf *c = api_conf(op->api);
	struct ddb_item item = { 0 };
	struct ddb_name names[] = { { "#k", c->dynamodb.hash_key } };
	struct ddb_request r = {
		.op = DDB_OP_PUT_ITEM,
		.table = c->dynamodb.table,
		.item = &item,
		.condition = "attribute_not_exists(#k)",
		.names = names,
		.n_names = 1,
	};

	if (session_id_new(op->sess.id) != ERROR_OK) {
		regen_finish(op, 500, "no randomness for a session id");
		return;
	}
	/* With encryption on, sealed anew: the hash key, now the new one, is
	 * part of the ciphertext's authenticated data. */
	if (api_session_to_item(op->api, &op->sess, &item) != ERROR_OK ||
	    (op->kr && keyring_seal_item(op->kr, &item, c->dynamodb.hash_key) != ERROR_OK)) {
		ddb_item_clear(&item);
		regen_finish(op, 500, "out of memory");
		return;
	}
	op->step = REGEN_PUT;
	op->new_written = true; /* from now on, until a cleanup says otherwise */
	regen_send(op, &r, 0);
	ddb_item_clear(&item);
}

/* Deletes the old item on condition that it is as read (step 3); out of
 * memory, removes the new one and answers 500. op may be gone on return. */
static void regen_delete_old(struct regen_op *op)
{
	const struct conf *c = api_conf(op->api);
	struct ddb_item key = { 0 }, values = { 0 };
	struct ddb_name names[] = { { "#k", c->dynamodb.hash_key }, { "#v", "version" } };
	/* connect-dynamodb's items have no version: version 0. */
	bool v0 = op->old_version == 0;
	struct ddb_request r = {
		.op = DDB_OP_DELETE_ITEM,
		.table = c->dynamodb.table,
		.key = &key,
		.condition = v0 ? "attribute_exists(#k) AND attribute_not_exists(#v)"
				: "attribute_exists(#k) AND #v = :old",
		.names = names,
		.n_names = 2,
		.values = v0 ? NULL : &values,
	};

	if (regen_key(op, op->old_id, &key) != ERROR_OK ||
	    ddb_item_add_n_i64(&values, ":old", op->old_version) != ERROR_OK) {
		ddb_item_clear(&key);
		ddb_item_clear(&values);
		op->fail_status = 500;
		snprintf(op->fail_detail, sizeof(op->fail_detail), "out of memory");
		regen_cleanup(op, false);
		return;
	}
	op->step = REGEN_DELETE;
	regen_send(op, &r, 0);
	ddb_item_clear(&key);
	ddb_item_clear(&values);
}

/* Removes the new item, then starts over (retry) or answers what was
 * set in op (fail_status, or fail.rc). */
static void regen_cleanup(struct regen_op *op, bool retry)
{
	const struct conf *c = api_conf(op->api);
	struct ddb_item key = { 0 };
	struct ddb_request r = {
		.op = DDB_OP_DELETE_ITEM,
		.table = c->dynamodb.table,
		.key = &key,
		/* Its own time: a request out of time must still clean up. */
		.deadline_ms = now_mono_ms() + c->dynamodb.timeout_ms * c->dynamodb.max_attempts,
	};

	op->retry_after_cleanup = retry;
	op->step = REGEN_CLEANUP;
	if (regen_key(op, op->sess.id, &key) != ERROR_OK) {
		regen_finish(op, 500, "out of memory");
		return;
	}
	regen_send(op, &r, 0);
	ddb_item_clear(&key);
}

/* Cleans up and answers 5xx for a failed call once the new item may exist. */
static void regen_cleanup_fail(struct regen_op *op, const struct ddb_result *res)
{
	op->fail.rc = res->rc;
	op->fail.err = res->err;
	regen_cleanup(op, false);
}

/* Step 1's answer: 404, or the new item. */
static void regen_on_read(struct regen_op *op, struct ddb_result *res)
{
	struct keyring_read_info info;
	char hash[17];

	session_clear(&op->sess);
	/* Encryption on: the stored sess opened in place (a plain one under
	 * encryption.required is removed, so it reads as absent). */
	if (op->kr && res->resp.has_item) {
		switch (keyring_open_item(op->kr, &res->resp.item,
					  api_conf(op->api)->dynamodb.hash_key, &info)) {
		case KEYRING_READ_FAILED:
			keyring_log_hash(op->old_id, strlen(op->old_id), hash);
			log_error("request rid=%s: session sha256:%s, key id \"%s\": the stored "
				  "session does not decrypt: %s",
				  http_request_rid(op->req), hash, info.key_id, info.why);
			regen_finish(op, 500, "the stored session cannot be decrypted");
			return;
		case KEYRING_READ_NOMEM:
			regen_finish(op, 500, "out of memory");
			return;
		default:
			break;
		}
	}
	if (!res->resp.has_item || !ddb_item_get(&res->resp.item, "sess")) {
		regen_finish(op, 404, "no such session");
		return;
	}
	if (api_session_from_item(op->api, &res->resp.item, &op->sess) != ERROR_OK) {
		regen_finish(op, 500, "the stored session cannot be read");
		return;
	}
	if (session_expired(&op->sess, op->now)) {
		regen_finish(op, 404, "no such session");
		return;
	}
	op->old_version = op->sess.version;
	op->sess.version = 1;
	if (op->has_ttl)
		op->sess.expires = op->now + op->ttl;
	else if (op->has_expires)
		op->sess.expires = op->expires;
	/* The stored text goes over unchanged (session_to_item writes it). */
	regen_put(op);
}

/* Reads the old item back after a delete whose answer was lost. */
static void regen_verify_old(struct regen_op *op)
{
	const struct conf *c = api_conf(op->api);
	struct ddb_item key = { 0 };
	struct ddb_request r = {
		.op = DDB_OP_GET_ITEM,
		.table = c->dynamodb.table,
		.key = &key,
		.consistent_read = true,
		.deadline_ms = now_mono_ms() + c->dynamodb.timeout_ms * c->dynamodb.max_attempts,
	};

	op->step = REGEN_VERIFY_OLD;
	if (regen_key(op, op->old_id, &key) != ERROR_OK) {
		regen_finish(op, 500, "out of memory");
		return;
	}
	regen_send(op, &r, 0);
	ddb_item_clear(&key);
}

/* Starts over after a conflict, or 409 when the tries are spent. */
static void regen_retry(struct regen_op *op)
{
	long delay;

	atomic_fetch_add(&regen_conflicts, 1);
	if (++op->tries >= REGEN_MAX_TRIES) {
		regen_finish(op, 409, "the session kept changing; try again");
		return;
	}
	/* Full jitter, growing with the tries: 1..2^(tries+1) ms, at most 64. */
	delay = 1 + (long)jitter_next(&op->jitter, 2u << (op->tries < 5 ? op->tries : 5));
	regen_read(op, delay);
}

static void regen_answer(struct regen_op *op)
{
	char etag[SESSION_ETAG_SIZE], location[API_LOCATION_SIZE];
	char *text = session_to_json(&op->sess);

	if (!text) {
		regen_finish(op, 500, "out of memory");
		return;
	}
	atomic_fetch_add(&regen_done, 1);
	session_etag(op->sess.version, etag, sizeof(etag));
	http_add_header(op->req, "ETag", etag);
	api_location(location, op->sess.id);
	http_add_header(op->req, "Location", location);
	http_respond(op->req, 201, "application/json; charset=utf-8", text, strlen(text));
	regen_op_free(op);
}

static void regen_on_ddb(void *arg, struct ddb_result *res)
{
	struct regen_op *op = arg;
	bool cond = res->rc == ERROR_CONDITION;

	http_request_add_attempts(op->req, res->attempts);
	switch (op->step) {
	case REGEN_READ:
		if (res->rc != ERROR_OK)
			regen_fail(op, res);
		else
			regen_on_read(op, res);
		return;
	case REGEN_PUT:
		if (res->rc == ERROR_OK || (cond && res->maybe_applied)) {
			/* A failed condition after an unanswered attempt: ours. */
			regen_delete_old(op);
		} else if (cond) {
			regen_put(op); /* a 192-bit collision: another id */
		} else if (res->maybe_applied) {
			regen_cleanup_fail(op, res);
		} else {
			regen_fail(op, res);
		}
		return;
	case REGEN_DELETE:
		if (res->rc == ERROR_OK) {
			regen_answer(op);
		} else if (res->maybe_applied) {
			/* Our delete may have landed: the old item tells. */
			op->fail.rc = cond ? ERROR_OK : res->rc;
			op->fail.err = res->err;
			regen_verify_old(op);
		} else if (cond) {
			regen_cleanup(op, true); /* the old one changed: start over */
		} else {
			regen_cleanup_fail(op, res);
		}
		return;
	case REGEN_VERIFY_OLD:
		if (res->rc != ERROR_OK) {
			/* Cannot tell whether the old item went: keep the new
			 * one rather than risk losing the session; it expires
			 * with the old expiry. */
			atomic_fetch_add(&regen_orphans, 1);
			log_warn("request rid=%s: regenerate could not tell whether the old id was "
				 "deleted; the new item is kept until it expires",
				 http_request_rid(op->req));
			regen_fail(op, res);
		} else if (!res->resp.has_item) {
			regen_answer(op); /* our delete landed */
		} else if (op->fail.rc == ERROR_OK) {
			regen_cleanup(op, true); /* a real conflict */
		} else {
			regen_cleanup(op, false);
		}
		return;
	case REGEN_CLEANUP:
		if (res->rc == ERROR_OK) {
			op->new_written = false;
		} else {
			atomic_fetch_add(&regen_orphans, 1);
			log_warn("request rid=%s: regenerate could not remove its new item (%s); "
				 "it expires at %" PRId64,
				 http_request_rid(op->req), res->err.type, op->sess.expires);
		}
		if (op->retry_after_cleanup)
			regen_retry(op);
		else if (op->fail_status)
			regen_finish(op, op->fail_status, op->fail_detail);
		else
			regen_fail(op, &op->fail);
		return;
	}
}

void api_regen_post(void *ctx, struct http_request *req)
{
	struct api *api = ctx;
	const struct conf *c = api_conf(api);
	struct regen_op *op = calloc(1, sizeof(*op));
	struct session_body b = { 0 };
	struct session_why why = { { 0 } };
	enum error_code rc;
	const char *body, *id;
	size_t len;

	if (!op) {
		http_respond_problem(req, 500, "out of memory");
		return;
	}
	op->api = api;
	op->req = req;
	op->now = now_wall_s();
	op->deadline_ms = now_mono_ms() + c->limits.request_timeout_ms;
	/* Routing checked the id; the copy stays bounded, calloc ended it. */
	id = http_request_id(req);
	memcpy(op->old_id, id, strnlen(id, sizeof(op->old_id) - 1));
	jitter_seed(&op->jitter);
	op->kr = api_keyring(api);
	/* The touch body's rules: empty, or {"ttl": N} (or "expires"). */
	body = http_request_body(req, &len);
	rc = session_body_parse(SESSION_BODY_TOUCH, body, len, op->now, c->session.max_ttl, &b,
				&why);
	if (rc != ERROR_OK) {
		regen_finish(op, rc == ERROR_PARSE ? 400 : 500,
			     rc == ERROR_PARSE ? why.detail : error_str(rc));
		return;
	}
	op->has_ttl = b.has_ttl;
	op->ttl = b.ttl;
	op->has_expires = b.has_expires;
	op->expires = b.expires;
	session_body_clear(&b);
	op->step = REGEN_READ;
	http_suspend(req);
	regen_read(op, 0);
}

void api_regen_write_metrics(struct buf *b)
{
	metrics_single(b, "sessiond_regenerations_total", "counter",
		       "Sessions moved to a new id (regenerate answered 201).",
		       atomic_load(&regen_done));
	metrics_single(b, "sessiond_regenerate_conflicts_total", "counter",
		       "Regenerate rounds started over because the old session changed.",
		       atomic_load(&regen_conflicts));
	metrics_single(b, "sessiond_regenerate_orphans_total", "counter",
		       "New items a failed regenerate could not remove (they expire).",
		       atomic_load(&regen_orphans));
}
