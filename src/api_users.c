/* api_users.c: the sessions of a user (api.md, v1.1): GET lists them from
 * the users' index (a Query, soonest expiry first, paged by an opaque
 * cursor), DELETE revokes them ("log out everywhere"). Both run as
 * callback chains on the worker's own DynamoDB loop, like api.c's
 * endpoints, and answer 404 while users.index is not configured. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "sessiond/cursor.h"
#include "sessiond/log.h"
#include "sessiond/metrics.h"
#include "sessiond/now.h"

/*
 * DESIGN
 *
 * A revoke is passes of Query pages. Each page's keys are deleted with
 * DeleteItem conditional on the item still belonging to the user, at most
 * USERS_IN_FLIGHT at a time, all on the worker's loop (no thread waits).
 * A ConditionalCheckFailed means the session went away or changed owner
 * meanwhile: not counted, not an error. When a pass saw no session to
 * delete, the revoke is over; else another pass runs, at most
 * USERS_MAX_PASSES in all. On DynamoDB the index is eventually consistent:
 * a session created a moment before the revoke may be missing from every
 * pass's query, and one whose owner was just changed may still be listed
 * (the condition keeps it). dynalite's index is consistent at once.
 *
 * Every callback of one op runs on the thread that turns its loop, one at
 * a time, so the op needs no lock.
 */

#define USERS_DEFAULT_LIMIT 100
#define USERS_MAX_LIMIT 1000
#define USERS_PAGE 200        /* keys per Query page of a revoke */
#define USERS_IN_FLIGHT 16    /* DeleteItems of one revoke at once */
#define USERS_MAX_PASSES 3

/* Process-wide counters for /metrics, added from every worker. */
static _Atomic uint64_t users_listed, users_revokes, users_revoked, users_passes;

struct users_op {
	struct api *api;
	struct http_request *req;
	int64_t now;
	int64_t deadline_ms;
	char *uid;                /* a copy of the path's {uid} */
	size_t uid_len;
	int limit;
	bool has_cursor;
	struct ddb_item start;    /* ExclusiveStartKey, or empty */
	/* Revoke only. */
	char *except_key;         /* prefix + the ?except id, or NULL */
	int pass;
	size_t found;             /* sessions to delete seen in this pass */
	struct ddb_item *keys;    /* this page's items (owned), n_keys of them */
	size_t n_keys, next_key;
	unsigned in_flight;
	uint64_t deleted;
	bool failed;              /* a call failed: no new work, answer when idle */
	struct ddb_result failure; /* its rc and err (resp unused) */
};

static void users_op_free(struct users_op *op)
{
	if (!op)
		return;
	free(op->uid);
	free(op->except_key);
	ddb_item_clear(&op->start);
	for (size_t i = 0; i < op->n_keys; i++)
		ddb_item_clear(&op->keys[i]);
	free(op->keys);
	free(op);
}

/* Checks that the index is on, and reads the path's uid: NULL (answered)
 * otherwise. */
static struct users_op *users_begin(struct api *api, struct http_request *req)
{
	const struct conf *c = api_conf(api);
	const char *uid = http_request_id(req);
	struct users_op *op;

	if (!*c->users.index) {
		http_respond_problem(req, 404, "sessions of a user need users.index, which is not "
					       "configured");
		return NULL;
	}
	op = calloc(1, sizeof(*op));
	if (!op || !(op->uid = strdup(uid))) {
		free(op);
		http_respond_problem(req, 500, "out of memory");
		return NULL;
	}
	op->api = api;
	op->req = req;
	op->uid_len = strlen(uid);
	op->now = now_wall_s();
	op->deadline_ms = now_mono_ms() + c->limits.request_timeout_ms;
	op->limit = USERS_DEFAULT_LIMIT;
	return op;
}

static void users_finish(struct users_op *op, unsigned status, const char *detail)
{
	http_respond_problem(op->req, status, detail);
	users_op_free(op);
}

static struct cursor_shape users_shape(const struct users_op *op)
{
	const struct conf *c = api_conf(op->api);

	return (struct cursor_shape){ .hash_key = c->dynamodb.hash_key,
				      .prefix = c->dynamodb.prefix,
				      .attribute = c->users.attribute,
				      .uid = op->uid,
				      .uid_len = op->uid_len };
}

/* ---- the Query ----------------------------------------------------------------- */

static void users_on_query(void *arg, struct ddb_result *res);

/* One page of the user's unexpired sessions, from op->start when set. */
static void users_send_query(struct users_op *op, int limit)
{
	const struct conf *c = api_conf(op->api);
	struct ddb_item values = { 0 };
	struct ddb_name names[] = { { "#u", c->users.attribute }, { "#e", "expires" } };
	struct ddb_request r = {
		.op = DDB_OP_QUERY,
		.table = c->dynamodb.table,
		.index_name = c->users.index,
		.key_condition = "#u = :u AND #e > :now",
		.names = names,
		.n_names = 2,
		.values = &values,
		.limit = limit,
		.exclusive_start_key = op->start.n ? &op->start : NULL,
		.deadline_ms = op->deadline_ms,
	};
	enum error_code rc;

	rc = ddb_item_add_s(&values, ":u", op->uid, op->uid_len);
	if (rc == ERROR_OK)
		rc = ddb_item_add_n_i64(&values, ":now", op->now);
	if (rc == ERROR_OK)
		rc = ddb_client_submit(api_ddb(op->api), &r, users_on_query, op);
	ddb_item_clear(&values);
	if (rc != ERROR_OK) {
		struct ddb_result fail = { .rc = rc };
		api_respond_ddb_error(op->req, &fail);
		users_op_free(op);
		return;
	}
	op->in_flight++;
}

/* The id of an index item: its hash key without the prefix, or NULL when
 * it is not a session's (another writer's item in the same table). */
static const char *users_item_id(const struct users_op *op, const struct ddb_item *item)
{
	const struct conf *c = api_conf(op->api);
	const struct ddb_attr *a = ddb_item_get(item, c->dynamodb.hash_key);
	size_t plen = strlen(c->dynamodb.prefix);

	if (!a || a->type != DDB_TYPE_S || a->value_len <= plen ||
	    memcmp(a->value, c->dynamodb.prefix, plen) != 0 ||
	    !session_id_valid(a->value + plen, a->value_len - plen))
		return NULL;
	return a->value + plen;
}

/* ---- GET /v1/users/{uid}/sessions ------------------------------------------------ */

static void users_list_answer(struct users_op *op, struct ddb_result *res)
{
	json_t *doc = json_object(), *list = json_array();
	struct cursor_shape shape = users_shape(op);
	char *next = NULL;
	bool ok = doc && list;

	for (size_t i = 0; ok && i < res->resp.n_items; i++) {
		const struct ddb_item *item = &res->resp.items[i];
		const struct ddb_attr *e = ddb_item_get(item, "expires");
		const char *id = users_item_id(op, item);
		int64_t expires;

		if (!id || !e || e->type != DDB_TYPE_N ||
		    ddb_number_to_i64(e->value, true, &expires) != ERROR_OK || expires <= op->now)
			continue;
		ok = json_array_append_new(list, json_pack("{s:s, s:I}", "id", id, "expires",
							   (json_int_t)expires)) == 0;
	}
	if (ok && res->resp.has_last_key &&
	    cursor_encode(&res->resp.last_key, &shape, &next) != ERROR_OK) {
		json_decref(doc);
		json_decref(list);
		users_finish(op, 500, "DynamoDB answered an unexpected key");
		return;
	}
	ok = ok && json_object_set_new(doc, "sessions", list) == 0;
	list = NULL;
	ok = ok && json_object_set_new(doc, "next", next ? json_string(next) : json_null()) == 0;
	free(next);
	json_decref(list);
	if (!ok) {
		json_decref(doc);
		users_finish(op, 500, "out of memory");
		return;
	}
	atomic_fetch_add(&users_listed, 1);
	api_respond_json(op->req, 200, doc);
	users_op_free(op);
}

/* Parses ?limit (1..1000, digits only). */
static bool users_parse_limit(struct users_op *op)
{
	char text[16];
	int v = 0;

	switch (http_request_query(op->req, "limit", text, sizeof(text))) {
	case 0:
		return true;
	case 1:
		break;
	default:
		goto bad;
	}
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9' || v > USERS_MAX_LIMIT)
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > USERS_MAX_LIMIT)
		goto bad;
	op->limit = v;
	return true;
bad:
	users_finish(op, 400, "limit must be an integer from 1 to 1000");
	return false;
}

void api_users_list(void *ctx, struct http_request *req)
{
	struct users_op *op = users_begin(ctx, req);
	struct cursor_shape shape;
	char cursor[CURSOR_MAX + 1];
	enum error_code rc;

	if (!op || !users_parse_limit(op))
		return;
	switch (http_request_query(req, "cursor", cursor, sizeof(cursor))) {
	case 0:
		break;
	case 1:
		shape = users_shape(op);
		rc = cursor_decode(cursor, strlen(cursor), &shape, &op->start);
		if (rc == ERROR_PARSE) {
			users_finish(op, 400, "cursor is not one this daemon gave for this user");
			return;
		}
		if (rc != ERROR_OK) {
			users_finish(op, 500, "out of memory");
			return;
		}
		op->has_cursor = true;
		break;
	default:
		users_finish(op, 400, "cursor is not one this daemon gave for this user");
		return;
	}
	http_suspend(req);
	users_send_query(op, op->limit);
}

/* ---- DELETE /v1/users/{uid}/sessions ---------------------------------------------- */

static void users_on_delete(void *arg, struct ddb_result *res);
static void users_pump(struct users_op *op);

static void users_record_failure(struct users_op *op, const struct ddb_result *res)
{
	if (op->failed)
		return;
	op->failed = true;
	op->failure.rc = res->rc;
	op->failure.err = res->err;
}

/* The answer once nothing is in flight: the count, or the first failure
 * (with how many were revoked before it: a revoke is safe to repeat). */
static void users_revoke_answer(struct users_op *op)
{
	char detail[192];

	if (op->failed) {
		const struct ddb_result *f = &op->failure;
		log_warn("request rid=%s: revoke stopped after %" PRIu64 " deletes: DynamoDB %s (%s)",
			 http_request_rid(op->req), op->deleted, error_str(f->rc), f->err.type);
		if (f->rc == ERROR_UPSTREAM || f->rc == ERROR_NOMEM || f->rc == ERROR_INVALID) {
			api_respond_ddb_error(op->req, f);
		} else {
			snprintf(detail, sizeof(detail),
				 "DynamoDB is unavailable (%s) after %" PRIu64 " sessions were "
				 "revoked; repeat the request to revoke the rest",
				 f->err.type[0] ? f->err.type : error_str(f->rc), op->deleted);
			http_add_header(op->req, "Retry-After", "1");
			http_respond_problem(op->req, 503, detail);
		}
		users_op_free(op);
		return;
	}
	atomic_fetch_add(&users_revokes, 1);
	api_respond_json(op->req, 200, json_pack("{s:I}", "deleted", (json_int_t)op->deleted));
	users_op_free(op);
}

/* One conditional delete: the item still belongs to the user. */
static enum error_code users_send_delete(struct users_op *op, const struct ddb_attr *hash)
{
	const struct conf *c = api_conf(op->api);
	struct ddb_item key = { 0 }, values = { 0 };
	struct ddb_name names[] = { { "#u", c->users.attribute } };
	struct ddb_request r = {
		.op = DDB_OP_DELETE_ITEM,
		.table = c->dynamodb.table,
		.key = &key,
		.condition = "#u = :u",
		.names = names,
		.n_names = 1,
		.values = &values,
		.deadline_ms = op->deadline_ms,
	};
	enum error_code rc;

	rc = ddb_item_add_s(&key, hash->name, hash->value, hash->value_len);
	if (rc == ERROR_OK)
		rc = ddb_item_add_s(&values, ":u", op->uid, op->uid_len);
	if (rc == ERROR_OK)
		rc = ddb_client_submit(api_ddb(op->api), &r, users_on_delete, op);
	if (rc == ERROR_OK)
		op->in_flight++;
	ddb_item_clear(&key);
	ddb_item_clear(&values);
	return rc;
}

/* Starts what can start: deletes of this page, the next page, the next
 * pass; answers when everything is done. */
static void users_pump(struct users_op *op)
{
	const struct conf *c = api_conf(op->api);

	while (!op->failed && op->in_flight < USERS_IN_FLIGHT && op->next_key < op->n_keys) {
		const struct ddb_item *item = &op->keys[op->next_key++];
		const struct ddb_attr *hash = ddb_item_get(item, c->dynamodb.hash_key);
		enum error_code rc;

		if (!users_item_id(op, item) || hash == NULL)
			continue;
		if (op->except_key && hash->value_len == strlen(op->except_key) &&
		    memcmp(hash->value, op->except_key, hash->value_len) == 0)
			continue;
		op->found++;
		rc = users_send_delete(op, hash);
		if (rc != ERROR_OK) {
			struct ddb_result fail = { .rc = rc };
			users_record_failure(op, &fail);
		}
	}
	if (op->in_flight)
		return;
	if (op->failed) {
		users_revoke_answer(op);
		return;
	}
	if (op->next_key < op->n_keys)
		return; /* unreachable: the loop above drains or fills */
	for (size_t i = 0; i < op->n_keys; i++)
		ddb_item_clear(&op->keys[i]);
	free(op->keys);
	op->keys = NULL;
	op->n_keys = op->next_key = 0;
	if (op->start.n) {
		users_send_query(op, USERS_PAGE); /* the next page of this pass */
		return;
	}
	atomic_fetch_add(&users_passes, 1);
	if (op->found == 0 || op->pass >= USERS_MAX_PASSES) {
		users_revoke_answer(op);
		return;
	}
	op->pass++;
	op->found = 0;
	users_send_query(op, USERS_PAGE);
}

static void users_on_delete(void *arg, struct ddb_result *res)
{
	struct users_op *op = arg;

	op->in_flight--;
	http_request_add_attempts(op->req, res->attempts);
	if (res->rc == ERROR_OK) {
		op->deleted++;
		atomic_fetch_add(&users_revoked, 1);
	} else if (res->rc == ERROR_CONDITION) {
		/* Gone or given to another owner meanwhile; or our own delete,
		 * applied by an attempt whose answer was lost. */
		if (res->maybe_applied) {
			op->deleted++;
			atomic_fetch_add(&users_revoked, 1);
		}
	} else {
		users_record_failure(op, res);
	}
	users_pump(op);
}

static void users_on_query(void *arg, struct ddb_result *res)
{
	struct users_op *op = arg;

	op->in_flight--;
	http_request_add_attempts(op->req, res->attempts);
	if (res->rc != ERROR_OK) {
		/* dynalite (and DynamoDB) refuse a starting key that matches no
		 * item shape: cursor_decode should have caught it already. */
		if (op->has_cursor && res->rc == ERROR_UPSTREAM &&
		    strcmp(res->err.type, "ValidationException") == 0) {
			users_finish(op, 400, "cursor is not one this daemon gave for this user");
			return;
		}
		if (op->pass == 0) { /* a list */
			api_respond_ddb_error(op->req, res);
			users_op_free(op);
			return;
		}
		users_record_failure(op, res);
		users_pump(op);
		return;
	}
	ddb_item_clear(&op->start);
	if (op->pass == 0) {
		users_list_answer(op, res);
		return;
	}
	/* Revoke: take the page's items and where the next page starts. */
	op->keys = res->resp.items;
	op->n_keys = res->resp.n_items;
	op->next_key = 0;
	res->resp.items = NULL;
	res->resp.n_items = 0;
	if (res->resp.has_last_key) {
		op->start = res->resp.last_key;
		memset(&res->resp.last_key, 0, sizeof(res->resp.last_key));
		res->resp.has_last_key = false;
	}
	users_pump(op);
}

void api_users_revoke(void *ctx, struct http_request *req)
{
	struct users_op *op = users_begin(ctx, req);
	const struct conf *c;
	char except[SESSION_ID_MAX + 2];

	if (!op)
		return;
	c = api_conf(op->api);
	switch (http_request_query(req, "except", except, sizeof(except))) {
	case 0:
		break;
	case 1:
		if (session_id_valid(except, strlen(except)) &&
		    (op->except_key = api_key_new(c, except)))
			break;
		/* fall through */
	default:
		users_finish(op, 400, "except must be a session id");
		return;
	}
	op->pass = 1;
	http_suspend(req);
	users_send_query(op, USERS_PAGE);
}

void api_users_write_metrics(struct buf *b)
{
	metrics_single(b, "sessiond_user_lists_total", "counter",
		       "Lists of a user's sessions answered.",
		       atomic_load(&users_listed));
	metrics_single(b, "sessiond_user_revokes_total", "counter",
		       "Revokes of a user's sessions completed.",
		       atomic_load(&users_revokes));
	metrics_single(b, "sessiond_user_sessions_revoked_total", "counter",
		       "Sessions deleted by revokes.",
		       atomic_load(&users_revoked));
	metrics_single(b, "sessiond_user_revoke_passes_total", "counter",
		       "Query passes of revokes (a revoke repeats its query until it comes "
		       "back empty, at most 3 passes).",
		       atomic_load(&users_passes));
}
