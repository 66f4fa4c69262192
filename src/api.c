/* api.c: the session endpoints (api.h). Each handler validates the request
 * fully before anything reaches DynamoDB, suspends the connection, and
 * carries on in DynamoDB completion callbacks (an "op" holds the state
 * between steps). Writes that must not lose updates are conditional on the
 * item's version, so every 2xx here means DynamoDB accepted the write. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "sessiond/api.h"
#include "api_internal.h"
#include "sessiond/buf.h"
#include "sessiond/log.h"
#include "sessiond/now.h"
#include "sessiond/metrics.h"
#include "sessiond/session.h"
#include "sessiond/touch.h"

#define API_MAX_TRIES 8          /* read-merge-write rounds before 409 */
#define API_READY_CACHE_MS 2000  /* /readyz answers from a cached check */
#define API_ITEM_MAX (400 * 1024) /* DynamoDB's item size limit */
#define API_ITEM_OVERHEAD 1024   /* room for key, names and numbers */
#define API_JSON "application/json; charset=utf-8"

#define API_PATCH_BUCKETS 256
#define API_PATCH_CONTENDED_MS 1000 /* a conflict marks a session hot for this long */
#define API_PATCH_PACE_MS 8         /* until a round trip was measured */
#define API_PATCH_PACE_MAX_MS 64

/* PATCHes of one session in flight in this daemon, and those waiting for
 * them: read-merge-write rounds of the same session run one at a time, so
 * concurrent PATCHes through one daemon never lose a race to each other
 * (version conflicts remain possible between daemons, and are retried). */
struct api_patch_slot {
	struct api_patch_slot *next; /* in its bucket */
	char *key;                   /* prefix + id */
	struct api_op *waiting_head, *waiting_tail;
	/* Fairness between daemons (api_patch_delay). */
	int64_t contended_until_ms;  /* another daemon writes this session too */
	int64_t last_version;        /* what our last PATCH of it wrote; 0: none */
	long pace_ms;                /* about two read-write rounds; 0: unmeasured */
};

struct api {
	const struct conf *conf;
	struct ddb_client *ddb;
	/* Set after the server (and its workers, which read it for /metrics)
	 * started, so atomic. */
	_Atomic(struct http_server *) http;
	struct reaper *reaper;
	struct creds *creds;
	struct keyring_holder *keys; /* encryption at rest; NULL: off */
	/* /readyz: the last DescribeTable outcome, shared by all workers. */
	pthread_mutex_t ready_lock;
	int64_t ready_at_ms;
	bool ready_ok;
	char ready_reason[160];
	_Atomic uint64_t conflicts;
	_Atomic uint64_t touches_written, touches_skipped;
	_Atomic bool draining; /* SIGTERM with limits.drain: /readyz says 503 */
	pthread_mutex_t patch_lock; /* guards patch_slots */
	struct api_patch_slot *patch_slots[API_PATCH_BUCKETS];
};

enum api_step {
	STEP_CREATE,
	STEP_GET,
	STEP_PUT_REPLACE, /* update an existing, live item */
	STEP_PUT_CREATE,  /* create where absent or expired */
	STEP_PUT_IF,      /* If-Match / If-None-Match: one conditional write */
	STEP_PATCH_READ,
	STEP_PATCH_WRITE,
	STEP_TOUCH,
	STEP_TOUCH_READ,  /* touch_after > 0: read first, write only if needed */
	STEP_SLIDE_READ,  /* GET ?touch=1 with touch_after > 0 */
	STEP_SLIDE_WRITE, /* GET ?touch=1: the expiry update, ALL_NEW */
	STEP_DELETE,
	STEP_READY,
	STEP_VERIFY, /* a condition failed after a maybe-applied attempt: read back */
};

/* One request's state from its handler to its answer. */
struct api_op {
	struct api *api;
	struct http_request *req;
	enum api_step step;
	int tries;
	int64_t now;
	int64_t deadline_ms;    /* now_mono_ms() time by which the whole request
	                           is answered: every DynamoDB call of it,
	                           retries and read-backs included, ends by then */
	char *key;              /* prefix + id */
	struct session sess;    /* as read, or as about to be written */
	json_t *patch;          /* PATCH body */
	bool has_ttl;           /* PATCH ?ttl= */
	int64_t ttl;
	bool has_if_match, if_match_any, if_none_match;
	int64_t if_match;
	int64_t old_version;    /* the version a conditional write expects */
	char *old_expires;      /* PATCH without ttl: the expiry its write expects,
				   as stored (a DynamoDB number) */
	enum api_step verified_step; /* STEP_VERIFY: the write being checked */
	bool no_replay;         /* the next write must not be resent blindly */
	int64_t blind_rounds;   /* replace writes that failed unseen and were re-checked */
	bool holds_patch_slot;  /* this PATCH runs; others of its session wait */
	int64_t round_ms;       /* PATCH: when its current read was sent */
	struct keyring *kr;     /* the keys in force when the request began;
	                           NULL: encryption is off */
	struct api_op *next_waiting;
	int64_t want_expires;   /* a touch's target expiry */
	bool reread;            /* a touch's eventually consistent read missed:
	                           asked again, strongly consistent */
};

static void api_patch_release(struct api_op *op);
static long api_patch_delay(struct api_op *op, bool conflict);
static void api_patch_settled(struct api_op *op, int64_t written);

static void api_op_free(struct api_op *op)
{
	if (!op)
		return;
	if (op->holds_patch_slot)
		api_patch_release(op);
	free(op->key);
	free(op->old_expires);
	session_clear(&op->sess);
	json_decref(op->patch);
	keyring_unref(op->kr);
	free(op);
}

char *api_key_new(const struct conf *c, const char *id)
{
	struct buf key;

	buf_init(&key, 0);
	buf_append_str(&key, c->dynamodb.prefix);
	buf_append_str(&key, id);
	return buf_steal(&key); /* NULL if an append failed */
}

void api_location(char out[API_LOCATION_SIZE], const char *id)
{
	static const char base[] = "/v1/sessions/";
	size_t n = strnlen(id, SESSION_ID_MAX);

	memcpy(out, base, sizeof(base) - 1);
	memcpy(out + sizeof(base) - 1, id, n);
	out[sizeof(base) - 1 + n] = '\0';
}

static struct api_op *api_op_new(struct api *api, struct http_request *req, enum api_step step)
{
	struct api_op *op = calloc(1, sizeof(*op));
	const char *id = http_request_id(req);

	if (!op)
		return NULL;
	op->api = api;
	op->req = req;
	op->step = step;
	op->now = now_wall_s();
	op->deadline_ms = now_mono_ms() + api->conf->limits.request_timeout_ms;
	op->key = api_key_new(api->conf, id);
	if (!op->key) {
		free(op);
		return NULL;
	}
	/* Routing checked the id (session_id_valid), so it fits; the copy
	 * stays bounded all the same, and calloc wrote the terminator. */
	memcpy(op->sess.id, id, strnlen(id, sizeof(op->sess.id) - 1));
	op->kr = keyring_holder_get(api->keys);
	return op;
}

/* ---- shared with the other endpoint modules (api_internal.h) ------------------ */

const struct conf *api_conf(const struct api *api)
{
	return api->conf;
}

struct ddb_client *api_ddb(const struct api *api)
{
	return api->ddb;
}

struct keyring *api_keyring(const struct api *api)
{
	return keyring_holder_get(api->keys);
}

enum error_code api_session_to_item(const struct api *api, const struct session *s,
				    struct ddb_item *item)
{
	const struct conf *c = api->conf;
	enum error_code rc = session_to_item(s, c->dynamodb.hash_key, c->dynamodb.prefix, item);

	if (rc == ERROR_OK && *c->users.index && s->user &&
	    (rc = session_user_to_item(s, c->users.attribute, item)) != ERROR_OK)
		ddb_item_clear(item);
	return rc;
}

enum error_code api_session_from_item(const struct api *api, const struct ddb_item *item,
				      struct session *s)
{
	const struct conf *c = api->conf;
	enum error_code rc = session_from_item(item, c->dynamodb.hash_key, c->dynamodb.prefix, s);

	/* An owner this daemon could not have written (another writer's
	 * attribute of the same name) leaves the session ownerless rather
	 * than unreadable. */
	if (rc == ERROR_OK && *c->users.index &&
	    session_user_from_item(item, c->users.attribute, s) == ERROR_NOMEM) {
		session_clear(s);
		rc = ERROR_NOMEM;
	}
	return rc;
}

/* ---- answers ----------------------------------------------------------------- */

void api_respond_json(struct http_request *req, unsigned status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	if (!text) {
		http_respond_problem(req, 500, "out of memory");
		return;
	}
	http_respond(req, status, API_JSON, text, strlen(text));
}

/* Answers with the session resource, its ETag and, on create, Location. */
static void api_respond_session(struct api_op *op, unsigned status)
{
	char etag[SESSION_ETAG_SIZE], location[API_LOCATION_SIZE];
	char *text = session_to_json(&op->sess);

	if (!text) {
		http_respond_problem(op->req, 500, "out of memory");
		return;
	}
	session_etag(op->sess.version, etag, sizeof(etag));
	http_add_header(op->req, "ETag", etag);
	if (status == 201) {
		api_location(location, op->sess.id);
		http_add_header(op->req, "Location", location);
	}
	http_respond(op->req, status, API_JSON, text, strlen(text));
}

/* A touch's answer: the session's id, expiry and version, not its data. */
static void api_respond_touch(struct api_op *op, int64_t expires, int64_t version)
{
	char *text = session_summary_json(op->sess.id, expires, version);

	if (!text) {
		http_respond_problem(op->req, 500, "the answer cannot be written");
		return;
	}
	http_respond(op->req, 200, API_JSON, text, strlen(text));
}

static void api_done_session(struct api_op *op, unsigned status)
{
	api_respond_session(op, status);
	api_op_free(op);
}

/* Answers a failed DynamoDB call. Never 2xx; 503 (with Retry-After) when
 * another try later may work; no upstream text beyond its error code. */
void api_respond_ddb_error(struct http_request *req, const struct ddb_result *res)
{
	char detail[128];

	switch (res->rc) {
	case ERROR_UNAVAILABLE:
	case ERROR_IO:
	case ERROR_TIMEOUT:
	case ERROR_CANCELLED:
		http_add_header(req, "Retry-After", "1");
		snprintf(detail, sizeof(detail), "DynamoDB is unavailable (%s)",
			 res->err.type[0] ? res->err.type : error_str(res->rc));
		http_respond_problem(req, 503, detail);
		break;
	case ERROR_UPSTREAM:
		snprintf(detail, sizeof(detail), "DynamoDB refused the request (%s)",
			 res->err.type[0] ? res->err.type : "unknown");
		http_respond_problem(req, 502, detail);
		break;
	default:
		http_respond_problem(req, 500, error_str(res->rc));
		break;
	}
}

/* Ends an op with a DynamoDB failure. */
static void api_fail(struct api_op *op, const struct ddb_result *res)
{
	log_warn("request rid=%s: DynamoDB %s (%s)", http_request_rid(op->req),
		 error_str(res->rc), res->err.type);
	api_respond_ddb_error(op->req, res);
	api_op_free(op);
}

static void api_finish(struct api_op *op, unsigned status, const char *detail)
{
	http_respond_problem(op->req, status, detail);
	api_op_free(op);
}

/* A body or parameter the session module refused: the client's fault only
 * when it says ERROR_PARSE. */
static void api_finish_parse(struct api_op *op, enum error_code rc,
			     const struct session_why *why)
{
	if (rc == ERROR_PARSE)
		api_finish(op, 400, why->detail);
	else
		api_finish(op, 500, error_str(rc));
}

/* ---- DynamoDB requests --------------------------------------------------------- */

static void api_on_ddb(void *arg, struct ddb_result *res);

/* Sends r for op, under op's deadline; on failure to queue, answers and
 * frees op. */
static void api_send(struct api_op *op, const struct ddb_request *r, long delay_ms)
{
	struct ddb_request timed = *r;
	enum error_code rc;

	timed.deadline_ms = op->deadline_ms;
	rc = ddb_client_submit_delayed(op->api->ddb, &timed, delay_ms, api_on_ddb, op);

	if (rc != ERROR_OK) {
		struct ddb_result res = { .rc = rc };
		api_fail(op, &res);
	}
}

static enum error_code api_key_item(const struct api_op *op, struct ddb_item *key)
{
	return ddb_item_add_s(key, op->api->conf->dynamodb.hash_key, op->key, strlen(op->key));
}

static void api_send_get(struct api_op *op, bool consistent, long delay_ms)
{
	struct ddb_item key = { 0 };
	struct ddb_request r = {
		.op = DDB_OP_GET_ITEM,
		.table = op->api->conf->dynamodb.table,
		.key = &key,
		.consistent_read = consistent,
	};

	if (api_key_item(op, &key) != ERROR_OK) {
		api_finish(op, 500, "out of memory");
		return;
	}
	api_send(op, &r, delay_ms);
	ddb_item_clear(&key);
}

/* The item of op->sess as stored: its owner with users.index on; with
 * encryption on, sess sealed under the first key of the request's
 * keyring. */
static enum error_code api_session_item(const struct api_op *op, struct ddb_item *item)
{
	const struct conf *c = op->api->conf;
	enum error_code rc = api_session_to_item(op->api, &op->sess, item);

	if (rc == ERROR_OK && op->kr)
		rc = keyring_seal_item(op->kr, item, c->dynamodb.hash_key);
	return rc;
}

/* Writes op->sess whole with PutItem under condition (which may name #k
 * and #e, and use :now). Under encryption.required an item whose sess is
 * plain (or missing) counts as absent, so it may be overwritten too. */
static void api_send_put(struct api_op *op, const char *condition)
{
	const struct conf *c = op->api->conf;
	struct ddb_item item = { 0 }, values = { 0 };
	struct ddb_name names[3];
	bool required = keyring_required(op->kr);
	enum error_code rc = ERROR_OK;
	struct buf cond;
	size_t n = 0;

	buf_init(&cond, 0);
	if (required) {
		buf_append_char(&cond, '(');
		buf_append_str(&cond, condition);
		buf_append_str(&cond, ") OR NOT begins_with(#s, :enc)");
	} else {
		buf_append_str(&cond, condition);
	}
	if (buf_error(&cond) != ERROR_OK || !cond.data) {
		api_finish(op, 500, "out of memory");
		goto out;
	}
	/* DynamoDB refuses names and values the expression does not use. */
	names[n++] = (struct ddb_name){ "#k", c->dynamodb.hash_key };
	if (strstr(cond.data, "#e"))
		names[n++] = (struct ddb_name){ "#e", "expires" };
	if (required) {
		names[n++] = (struct ddb_name){ "#s", "sess" };
		rc = ddb_item_add_s(&values, ":enc", SEAL_PREFIX, SEAL_PREFIX_LEN);
	}
	if (rc == ERROR_OK && strstr(cond.data, ":now"))
		rc = ddb_item_add_n_i64(&values, ":now", op->now);
	if (rc == ERROR_OK)
		rc = api_session_item(op, &item);
	if (rc != ERROR_OK) {
		api_finish(op, 500, error_str(rc));
		goto out;
	}
	struct ddb_request r = {
		.op = DDB_OP_PUT_ITEM,
		.table = c->dynamodb.table,
		.item = &item,
		.condition = cond.data,
		.names = names,
		.n_names = n,
		.values = values.n ? &values : NULL,
	};
	api_send(op, &r, 0);
out:
	buf_free(&cond);
	ddb_item_clear(&item);
	ddb_item_clear(&values);
}

/* Adds the attribute attr of item as expression value name. */
static enum error_code api_value_from(struct ddb_item *values, const char *name,
				      const struct ddb_item *item, const char *attr)
{
	const struct ddb_attr *a = ddb_item_get(item, attr);

	if (!a)
		return ERROR_INVALID;
	if (a->type == DDB_TYPE_N)
		return ddb_item_add_n(values, name, a->value);
	return ddb_item_add_s(values, name, a->value, a->value_len);
}

enum api_update {
	API_SET_DATA = 1 << 0,    /* sess and type */
	API_SET_EXPIRES = 1 << 1,
	API_BUMP_VERSION = 1 << 2, /* version = old + 1, computed by DynamoDB */
	API_SET_VERSION = 1 << 3,  /* version = op->sess.version */
	API_SET_USER = 1 << 4,     /* the owner is op->sess.user (a PUT): set or removed */
	API_KNOWN = 1 << 5,        /* op->sess already is the item as written: return nothing */
};

/* UpdateItem of the live item at op->key: sets what `what` says, on
 * condition "exists and not expired" plus extra_condition (which may use
 * #v, :old = op->old_version and :oe = op->old_expires). Returns ALL_NEW,
 * or nothing with API_KNOWN. */
static void api_send_update(struct api_op *op, unsigned what, const char *extra_condition)
{
	const struct conf *c = op->api->conf;
	struct ddb_item key = { 0 }, item = { 0 }, values = { 0 };
	struct ddb_name names[7];
	struct buf update, condition;
	size_t n = 0;
	bool ok = true, need_v = (what & (API_BUMP_VERSION | API_SET_VERSION)) || extra_condition;
	bool required = keyring_required(op->kr);

	buf_init(&update, 0);
	buf_init(&condition, 0);
	names[n++] = (struct ddb_name){ "#k", c->dynamodb.hash_key };
	names[n++] = (struct ddb_name){ "#e", "expires" };
	if (what & API_SET_DATA)
		names[n++] = (struct ddb_name){ "#t", "type" };
	if ((what & API_SET_DATA) || required)
		names[n++] = (struct ddb_name){ "#s", "sess" };
	if (need_v)
		names[n++] = (struct ddb_name){ "#v", "version" };
	/* The owner is only the daemon's business with the index on. */
	if (!*c->users.index)
		what &= ~(unsigned)API_SET_USER;
	if (what & API_SET_USER)
		names[n++] = (struct ddb_name){ "#u", c->users.attribute };
	/* Only a write of data needs the item (and, encrypted, its seal):
	 * a touch sets expires alone. */
	ok = (!(what & API_SET_DATA) || api_session_item(op, &item) == ERROR_OK) &&
	     api_key_item(op, &key) == ERROR_OK &&
	     ddb_item_add_n_i64(&values, ":now", op->now) == ERROR_OK &&
	     (!required || ddb_item_add_s(&values, ":enc", SEAL_PREFIX, SEAL_PREFIX_LEN) == ERROR_OK);
	buf_append_str(&update, "SET ");
	if (ok && (what & API_SET_DATA)) {
		ok = api_value_from(&values, ":s", &item, "sess") == ERROR_OK &&
		     api_value_from(&values, ":t", &item, "type") == ERROR_OK;
		buf_append_str(&update, "#s = :s, #t = :t, ");
	}
	if (ok && (what & API_SET_EXPIRES)) {
		ok = ddb_item_add_n_i64(&values, ":e", op->sess.expires) == ERROR_OK;
		buf_append_str(&update, "#e = :e, ");
	}
	if (ok && (what & API_BUMP_VERSION)) {
		ok = ddb_item_add_n_i64(&values, ":zero", 0) == ERROR_OK &&
		     ddb_item_add_n_i64(&values, ":one", 1) == ERROR_OK;
		buf_append_str(&update, "#v = if_not_exists(#v, :zero) + :one, ");
	}
	if (ok && (what & API_SET_VERSION)) {
		ok = ddb_item_add_n_i64(&values, ":nv", op->sess.version) == ERROR_OK;
		buf_append_str(&update, "#v = :nv, ");
	}
	if (ok && (what & API_SET_USER) && op->sess.user) {
		ok = ddb_item_add_s(&values, ":u", op->sess.user, op->sess.user_len) == ERROR_OK;
		buf_append_str(&update, "#u = :u, ");
	}
	if (update.len >= 2)
		buf_truncate(&update, update.len - 2); /* the last ", " */
	if ((what & API_SET_USER) && !op->sess.user)
		buf_append_str(&update, " REMOVE #u"); /* a PUT without user: ownerless */
	buf_append_str(&condition, "attribute_exists(#k) AND #e > :now");
	/* Under encryption.required a plain sess counts as absent. */
	if (required)
		buf_append_str(&condition, " AND begins_with(#s, :enc)");
	if (ok && extra_condition) {
		buf_append_str(&condition, " AND (");
		buf_append_str(&condition, extra_condition);
		buf_append_char(&condition, ')');
		if (strstr(extra_condition, ":old"))
			ok = ddb_item_add_n_i64(&values, ":old", op->old_version) == ERROR_OK;
		if (ok && strstr(extra_condition, ":oe"))
			ok = ddb_item_add_n(&values, ":oe", op->old_expires) == ERROR_OK;
	}
	/* Every append must have landed: a condition missing its version
	 * clause would turn this into an unconditional write. */
	if (!ok || buf_error(&update) != ERROR_OK || buf_error(&condition) != ERROR_OK ||
	    !update.data || !condition.data) {
		api_finish(op, 500, "out of memory");
		goto out;
	}
	struct ddb_request r = {
		.op = DDB_OP_UPDATE_ITEM,
		.table = c->dynamodb.table,
		.key = &key,
		.update = update.data,
		.condition = condition.data,
		.names = names,
		.n_names = n,
		.values = &values,
		.return_values = (what & API_KNOWN) ? DDB_RETURN_NONE : DDB_RETURN_ALL_NEW,
		.no_replay = op->no_replay,
	};
	api_send(op, &r, 0);
out:
	buf_free(&update);
	buf_free(&condition);
	ddb_item_clear(&key);
	ddb_item_clear(&item);
	ddb_item_clear(&values);
}

/* The condition "version is still old_version"; connect-dynamodb items
 * have no version attribute, which counts as version 0. A PATCH without
 * ?ttl also holds the expiry it read (op->old_expires, see
 * api_patch_write), and then expects that too. */
static const char *api_version_condition(const struct api_op *op)
{
	if (op->old_expires)
		return op->old_version == 0 ? "(attribute_not_exists(#v) OR #v = :old) AND #e = :oe"
					    : "#v = :old AND #e = :oe";
	return op->old_version == 0 ? "attribute_not_exists(#v) OR #v = :old" : "#v = :old";
}

/* Whether a read found a session. connect-dynamodb's touch is an update
 * that can leave a stub without "sess" behind a concurrent logout; like
 * connect-dynamodb, such an item is no session. */
static bool api_has_session(const struct ddb_result *res)
{
	return res->resp.has_item && ddb_item_get(&res->resp.item, "sess") != NULL;
}

/* Reads the session a write returned (ALL_NEW) into op->sess. */
static bool api_take_item(struct api_op *op, const struct ddb_result *res)
{
	session_clear(&op->sess);
	return res->resp.has_item &&
	       api_session_from_item(op->api, &res->resp.item, &op->sess) == ERROR_OK;
}

/* Whether op->sess would fit in one DynamoDB item, with room for its key,
 * attribute names and numbers: a larger one would be refused upstream,
 * which must be the client's 413, not our 502. Measures op->sess.text:
 * callers store the text first (session_store_text). */
static bool api_item_fits(const struct api_op *op)
{
	size_t size = keyring_sealed_len(op->kr, op->sess.text_len);

	return size + strlen(op->key) + API_ITEM_OVERHEAD <= API_ITEM_MAX;
}

/* Sends the first write of a PATCH round: data merged, version + 1.
 * When it lands, the item is the one just read with our data, version and
 * expiry, so op->sess already holds it and DynamoDB need not send the
 * whole session back (API_KNOWN). A touch changes expires and not the
 * version: without ?ttl the write also expects the expiry it read, and a
 * touch in between makes it lose the round (a retry reads the new expiry)
 * rather than answer a stale one. With ?ttl our expiry replaces any. */
static void api_patch_write(struct api_op *op)
{
	unsigned what = API_SET_DATA | API_SET_VERSION | API_KNOWN;

	op->old_version = op->sess.version;
	op->sess.version++;
	if (op->has_ttl) {
		op->sess.expires = op->now + op->ttl;
		what |= API_SET_EXPIRES;
	}
	op->step = STEP_PATCH_WRITE;
	api_send_update(op, what, api_version_condition(op));
}

/* Another round after losing a race, or 409 once API_MAX_TRIES are spent.
 * The randomized pause keeps two writers from colliding in lockstep. */
static void api_retry(struct api_op *op, enum api_step step)
{
	unsigned char r;
	long delay;

	atomic_fetch_add(&op->api->conflicts, 1);
	if (++op->tries >= API_MAX_TRIES) {
		api_finish(op, 409, "the session kept changing; try again");
		return;
	}
	if (RAND_bytes(&r, 1) != 1)
		r = 0;
	delay = 1 + (long)(r % (2u << (op->tries < 5 ? op->tries : 5)));
	op->step = step;
	if (step == STEP_PATCH_READ) {
		if (op->holds_patch_slot)
			delay = api_patch_delay(op, true);
		op->now = now_wall_s();
		op->round_ms = now_mono_ms();
		api_send_get(op, true, delay);
	} else {
		op->step = STEP_PUT_REPLACE;
		op->no_replay = true;
		api_send_update(op, API_SET_DATA | API_SET_EXPIRES | API_BUMP_VERSION | API_SET_USER,
				NULL);
	}
}

/* Keeps the expiry a PATCH without ?ttl read, as stored: connect-dynamodb
 * writes fractions of a second, which op->sess.expires drops, and the
 * write's condition must compare equal to the stored number. false: out of
 * memory. A live session always has a numeric expires (a read without one
 * counts as expired before this). */
static bool api_hold_expires(struct api_op *op, const struct ddb_item *item)
{
	const struct ddb_attr *e = ddb_item_get(item, "expires");

	free(op->old_expires);
	op->old_expires = NULL;
	if (!e || e->type != DDB_TYPE_N)
		return true;
	op->old_expires = strdup(e->value);
	return op->old_expires != NULL;
}

/* A session read for PATCH: 404, 412, or merge and write. */
static void api_on_patch_read(struct api_op *op, struct ddb_result *res)
{
	json_t *data;

	if (!api_has_session(res)) {
		api_finish(op, 404, "no such session");
		return;
	}
	session_clear(&op->sess);
	if (api_session_from_item(op->api, &res->resp.item, &op->sess) != ERROR_OK) {
		api_finish(op, 500, "the stored session cannot be read");
		return;
	}
	if (session_expired(&op->sess, op->now)) {
		api_finish(op, 404, "no such session");
		return;
	}
	if (op->has_if_match && !op->if_match_any && op->if_match != op->sess.version) {
		api_finish(op, 412, "the session's version does not match If-Match");
		return;
	}
	if (!op->has_ttl && !api_hold_expires(op, &res->resp.item)) {
		api_finish(op, 500, "out of memory");
		return;
	}
	switch (session_load_data(&op->sess)) {
	case ERROR_OK:
		break;
	case ERROR_PARSE:
		api_finish(op, 500, "the stored session cannot be read");
		return;
	default:
		api_finish(op, 500, "out of memory");
		return;
	}
	data = op->sess.data;
	/* The merged data is final for this round (a retry reads the item
	 * again), so it is printed once, here. */
	if (session_merge_patch(data, op->patch) != ERROR_OK ||
	    session_store_text(&op->sess) != ERROR_OK) {
		api_finish(op, 500, "out of memory");
		return;
	}
	if (!api_item_fits(op)) {
		api_finish(op, 413, "the patched session is over DynamoDB's 400 KB item limit");
		return;
	}
	api_patch_write(op);
}

/* A conditional write failed its condition, but an earlier attempt of the
 * same write was sent whole and never answered: DynamoDB may have applied
 * it, and the condition then failed on our own write. Read the item back
 * and decide from its version and data instead of answering 412/409 for a
 * write that succeeded. */
static bool api_verify_if_maybe_applied(struct api_op *op, const struct ddb_result *res)
{
	/* Only writes whose own success makes their condition fail on a
	 * replay; for a replace or a touch, a failed condition means absent. */
	bool self_defeating = op->step == STEP_CREATE || op->step == STEP_PUT_CREATE ||
			      op->step == STEP_PUT_IF || op->step == STEP_PATCH_WRITE;

	if (res->rc != ERROR_CONDITION || !res->maybe_applied || !self_defeating)
		return false;
	op->verified_step = op->step;
	op->step = STEP_VERIFY;
	api_send_get(op, true, 0);
	return true;
}

/* Whether item is what op wrote: same data and expiry, and with
 * check_version the same version. */
static bool api_item_matches(const struct api_op *op, const struct ddb_item *item,
			     bool check_version)
{
	const struct conf *c = op->api->conf;
	struct ddb_item want = { 0 };
	const struct ddb_attr *a, *b, *va, *ea, *eb;
	const char *want_expires;
	bool ours = false;
	int64_t v;

	if (session_to_item(&op->sess, c->dynamodb.hash_key, c->dynamodb.prefix, &want) !=
	    ERROR_OK)
		goto out;
	a = ddb_item_get(&want, "sess");
	b = ddb_item_get(item, "sess");
	ea = ddb_item_get(&want, "expires");
	eb = ddb_item_get(item, "expires");
	va = ddb_item_get(item, "version");
	/* A PATCH without ?ttl left the expiry as it read it, maybe with a
	 * fraction (connect-dynamodb's), which op->sess.expires drops. */
	want_expires = ea ? ea->value : NULL;
	if (op->verified_step == STEP_PATCH_WRITE && op->old_expires)
		want_expires = op->old_expires;
	ours = a && b && want_expires && eb && va && a->value_len == b->value_len &&
	       memcmp(a->value, b->value, a->value_len) == 0 && strcmp(want_expires, eb->value) == 0 &&
	       (!check_version ||
		(ddb_number_to_i64(va->value, false, &v) == ERROR_OK && v == op->sess.version));
out:
	ddb_item_clear(&want);
	return ours;
}

static void api_on_verify(struct api_op *op, struct ddb_result *res)
{
	bool ours = res->resp.has_item &&
		    api_item_matches(op, &res->resp.item, op->verified_step != STEP_PUT_REPLACE);

	switch (op->verified_step) {
	case STEP_PUT_REPLACE:
		/* The replace that lost its reply: applied once (answer what is
		 * stored), or not at all (try again). */
		if (ours && api_take_item(op, res)) {
			api_done_session(op, 200);
		} else if (++op->blind_rounds < op->api->conf->dynamodb.max_attempts) {
			op->step = STEP_PUT_REPLACE;
			api_send_update(op,
					API_SET_DATA | API_SET_EXPIRES | API_BUMP_VERSION | API_SET_USER,
					NULL);
		} else {
			http_add_header(op->req, "Retry-After", "1");
			api_finish(op, 503, "DynamoDB is unavailable");
		}
		return;
	case STEP_CREATE:
	case STEP_PUT_CREATE:
		if (ours)
			api_done_session(op, 201);
		else if (op->verified_step == STEP_CREATE)
			api_finish(op, 500, "session id collision");
		else
			api_retry(op, STEP_PUT_REPLACE);
		return;
	case STEP_PUT_IF:
		if (ours)
			api_done_session(op, op->if_none_match ? 201 : 200);
		else
			api_finish(op, 412, op->if_none_match ? "the session exists"
							      : "the session's version does not "
								"match If-Match");
		return;
	case STEP_PATCH_WRITE:
		if (ours) {
			api_patch_settled(op, 0);
			api_done_session(op, 200);
		}
		else
			api_retry(op, STEP_PATCH_READ);
		return;
	default:
		api_finish(op, 500, "unexpected verification");
		return;
	}
}

/* ---- touches: throttled, and sliding reads ------------------------------------ */

/* Notes a touch's outcome: the Sessiond-Touch header and the counters. */
static void api_touched(struct api_op *op, bool written)
{
	http_add_header(op->req, "Sessiond-Touch", written ? "written" : "skipped");
	atomic_fetch_add_explicit(written ? &op->api->touches_written : &op->api->touches_skipped,
				  1, memory_order_relaxed);
}

/* The expiry update of a sliding read: conditional on the item being
 * there and unexpired now (it may have expired since it was read), so it
 * never creates or revives one; ALL_NEW answers with the whole resource. */
static void api_slide_write(struct api_op *op)
{
	op->step = STEP_SLIDE_WRITE;
	op->sess.expires = op->want_expires;
	api_send_update(op, API_SET_EXPIRES, NULL);
}

/* A sliding read's GetItem (touch_after > 0): 404, or answer from it when
 * the touch would move expires too little to be worth a write. */
static void api_on_slide_read(struct api_op *op, struct ddb_result *res)
{
	const struct conf *c = op->api->conf;

	/* Judged, and the write conditioned, at the time of the answer: a
	 * session that expired while it was being read is not extended. */
	op->now = now_wall_s();
	session_clear(&op->sess);
	if (!api_has_session(res)) {
		api_finish(op, 404, "no such session");
	} else if (session_from_item(&res->resp.item, c->dynamodb.hash_key, c->dynamodb.prefix,
				     &op->sess) != ERROR_OK) {
		api_finish(op, 500, "the stored session cannot be read");
	} else if (session_expired(&op->sess, op->now)) {
		api_finish(op, 404, "no such session");
	} else if (touch_must_write(op->sess.expires, op->want_expires, c->session.touch_after)) {
		api_slide_write(op);
	} else {
		api_touched(op, false);
		api_done_session(op, 200);
	}
}

/* The touch endpoint's read (touch_after > 0). A miss of the eventually
 * consistent read is asked again strongly consistent before it is a 404:
 * a session created a moment ago is not refused. */
static void api_on_touch_read(struct api_op *op, struct ddb_result *res)
{
	const struct conf *c = op->api->conf;
	struct session stored = { .id = { 0 } };
	bool live = false, readable = false;

	op->now = now_wall_s(); /* as for a sliding read */
	if (api_has_session(res)) {
		readable = session_from_item(&res->resp.item, c->dynamodb.hash_key,
					     c->dynamodb.prefix, &stored) == ERROR_OK;
		live = !readable || !session_expired(&stored, op->now);
	}
	if (!live) {
		session_clear(&stored);
		if (op->reread) {
			api_finish(op, 404, "no such session");
		} else {
			op->reread = true;
			api_send_get(op, true, 0);
		}
		return;
	}
	/* An item this daemon cannot read as a session is touched as v1 did:
	 * the conditional write decides. */
	if (!readable || touch_must_write(stored.expires, op->want_expires, c->session.touch_after)) {
		session_clear(&stored);
		op->step = STEP_TOUCH;
		api_send_update(op, API_SET_EXPIRES, NULL);
		return;
	}
	api_touched(op, false);
	api_respond_touch(op, stored.expires, stored.version);
	session_clear(&stored);
	api_op_free(op);
}

/* Opens the sealed sess of an item read or returned, in place, before any
 * step looks at it; a plain one under encryption.required is dropped, so
 * the item counts as absent. false when op was answered: an item that does
 * not decrypt is 500 for this request, whatever the step (a PATCH so never
 * writes over it), with a log line that names the key id and a hash of the
 * session id, never the data. */
static bool api_open_item(struct api_op *op, struct ddb_result *res)
{
	struct keyring_read_info info;
	char hash[17];

	switch (keyring_open_item(op->kr, &res->resp.item, op->api->conf->dynamodb.hash_key,
				  &info)) {
	case KEYRING_READ_FAILED:
		keyring_log_hash(op->key + strlen(op->api->conf->dynamodb.prefix),
				 strlen(op->key) - strlen(op->api->conf->dynamodb.prefix), hash);
		log_error("request rid=%s: session sha256:%s, key id \"%s\": the stored session "
			  "does not decrypt: %s",
			  http_request_rid(op->req), hash, info.key_id, info.why);
		api_finish(op, 500, "the stored session cannot be decrypted");
		return false;
	case KEYRING_READ_NOMEM:
		api_finish(op, 500, "out of memory");
		return false;
	default:
		return true;
	}
}

/* A DynamoDB call of op finished: the next step, or the answer. */
static void api_on_ddb(void *arg, struct ddb_result *res)
{
	struct api_op *op = arg;
	bool cond = res->rc == ERROR_CONDITION;

	http_request_add_attempts(op->req, res->attempts);
	if (op->kr && res->rc == ERROR_OK && res->resp.has_item && !api_open_item(op, res))
		return;
	if (op->step == STEP_PUT_REPLACE && res->maybe_applied &&
	    (res->rc == ERROR_UNAVAILABLE || res->rc == ERROR_IO)) {
		op->verified_step = STEP_PUT_REPLACE;
		op->step = STEP_VERIFY;
		api_send_get(op, true, 0);
		return;
	}
	if (res->rc != ERROR_OK && !cond) {
		api_fail(op, res);
		return;
	}
	if (op->step != STEP_VERIFY && api_verify_if_maybe_applied(op, res))
		return;
	switch (op->step) {
	case STEP_VERIFY:
		api_on_verify(op, res);
		return;
	case STEP_CREATE:
		if (cond) /* a 192-bit id collided: astronomically unlikely */
			api_finish(op, 500, "session id collision");
		else
			api_done_session(op, 201);
		return;
	case STEP_GET: {
		session_clear(&op->sess);
		if (!api_has_session(res))
			api_finish(op, 404, "no such session");
		else if (api_session_from_item(op->api, &res->resp.item, &op->sess) != ERROR_OK)
			api_finish(op, 500, "the stored session cannot be read");
		else if (session_expired(&op->sess, op->now))
			api_finish(op, 404, "no such session");
		else
			api_done_session(op, 200);
		return;
	}
	case STEP_PUT_REPLACE:
		if (!cond) {
			if (!api_take_item(op, res))
				api_finish(op, 500, "the stored session cannot be read");
			else
				api_done_session(op, 200);
			return;
		}
		/* Absent or expired: create it, unless someone beats us to it. */
		op->step = STEP_PUT_CREATE;
		op->no_replay = false;
		op->sess.version = 1;
		api_send_put(op, "attribute_not_exists(#k) OR #e <= :now");
		return;
	case STEP_PUT_CREATE:
		if (cond)
			api_retry(op, STEP_PUT_REPLACE);
		else
			api_done_session(op, 201);
		return;
	case STEP_PUT_IF:
		if (cond)
			api_finish(op, 412, op->if_none_match ? "the session exists"
							      : "the session's version does not "
								"match If-Match");
		else if (op->if_none_match)
			api_done_session(op, 201);
		else if (!api_take_item(op, res))
			api_finish(op, 500, "the stored session cannot be read");
		else
			api_done_session(op, 200);
		return;
	case STEP_PATCH_READ:
		api_on_patch_read(op, res);
		return;
	case STEP_PATCH_WRITE:
		if (cond) {
			api_retry(op, STEP_PATCH_READ);
		} else {
			api_patch_settled(op, op->sess.version);
			api_done_session(op, 200);
		}
		return;
	case STEP_TOUCH:
		if (cond || !api_take_item(op, res)) {
			api_finish(op, 404, "no such session");
			return;
		}
		api_touched(op, true);
		api_respond_touch(op, op->sess.expires, op->sess.version);
		api_op_free(op);
		return;
	case STEP_TOUCH_READ:
		api_on_touch_read(op, res);
		return;
	case STEP_SLIDE_READ:
		api_on_slide_read(op, res);
		return;
	case STEP_SLIDE_WRITE:
		if (cond || !api_has_session(res) || !api_take_item(op, res)) {
			api_finish(op, 404, "no such session");
			return;
		}
		api_touched(op, true);
		api_done_session(op, 200);
		return;
	case STEP_DELETE:
		http_respond(op->req, 204, NULL, NULL, 0);
		api_op_free(op);
		return;
	case STEP_READY:
		break;
	}
	api_op_free(op);
}

/* ---- handlers ---------------------------------------------------------------- */

/* Starts op's handling: the worker goes back to serving others. */
static struct api_op *api_begin(void *ctx, struct http_request *req, enum api_step step)
{
	struct api_op *op = api_op_new(ctx, req, step);

	if (!op) {
		http_respond_problem(req, 500, "out of memory");
		return NULL;
	}
	return op;
}

/* Takes the body's data into op->sess, printed once, when it must be:
 * the size check, the item and the answer copy the text. False after
 * answering (500, or 413 over DynamoDB's item limit). */
static bool api_hold_data(struct api_op *op, struct session_body *b)
{
	json_decref(op->sess.data);
	op->sess.data = NULL;
	free(op->sess.text);
	op->sess.text = NULL;
	op->sess.text_len = 0;
	if (b->data_text) {
		/* data as the client wrote it, compacted (session_body_parse
		 * says why it is valid): nothing prints it again. */
		op->sess.text = b->data_text; /* moved */
		op->sess.text_len = b->data_text_len;
		b->data_text = NULL;
	} else {
		op->sess.data = b->data ? json_incref(b->data) : json_object();
	}
	if ((!op->sess.data && !op->sess.text) || session_store_text(&op->sess) != ERROR_OK) {
		api_finish(op, 500, "out of memory");
		return false;
	}
	if (!api_item_fits(op)) {
		api_finish(op, 413, "the session is over DynamoDB's 400 KB item limit");
		return false;
	}
	return true;
}

/* Parses a JSON body of kind into op->sess (data, expires); answers 400 on
 * a bad one. */
static bool api_parse_body(struct api_op *op, enum session_body_kind kind)
{
	const struct conf *c = op->api->conf;
	struct session_body b = { 0 };
	struct session_why why = { { 0 } };
	enum error_code rc;
	const char *body;
	size_t len;

	body = http_request_body(op->req, &len);
	rc = session_body_parse(kind, body, len, op->now, c->session.max_ttl, &b, &why);
	if (rc != ERROR_OK) {
		api_finish_parse(op, rc, &why);
		return false;
	}
	/* A touch writes expires alone: no data to hold. */
	if (kind != SESSION_BODY_TOUCH && !api_hold_data(op, &b)) {
		session_body_clear(&b);
		return false;
	}
	if (b.has_expires)
		op->sess.expires = b.expires;
	else
		op->sess.expires = op->now + (b.has_ttl ? b.ttl : c->session.default_ttl);
	if (b.user && !*c->users.index) {
		session_body_clear(&b);
		api_finish(op, 400, "user needs the sessions-of-a-user index (users.index), "
				    "which is not configured");
		return false;
	}
	free(op->sess.user);
	op->sess.user = b.user; /* moved */
	op->sess.user_len = b.user_len;
	b.user = NULL;
	session_body_clear(&b);
	return true;
}

static void api_create(void *ctx, struct http_request *req)
{
	struct api_op *op = api_begin(ctx, req, STEP_CREATE);

	if (!op || !api_parse_body(op, SESSION_BODY_CREATE))
		return;
	if (session_id_new(op->sess.id) != ERROR_OK) {
		api_finish(op, 500, "no randomness for a session id");
		return;
	}
	free(op->key);
	op->key = api_key_new(op->api->conf, op->sess.id);
	if (!op->key) {
		api_finish(op, 500, "out of memory");
		return;
	}
	op->sess.version = 1;
	http_suspend(req);
	api_send_put(op, "attribute_not_exists(#k)");
}

static void api_get(void *ctx, struct http_request *req)
{
	struct api *api = ctx;
	const char *query = http_request_query_string(req);
	struct touch_query tq = { 0 };
	struct session_why why = { { 0 } };
	struct api_op *op;

	/* The plain read (no query: the hot path) parses nothing. */
	if (query && touch_query_parse(query, api->conf->session.max_ttl, &tq, &why) != ERROR_OK) {
		http_respond_problem(req, 400, why.detail);
		return;
	}
	if (!(op = api_begin(ctx, req, STEP_GET)))
		return;
	http_suspend(req);
	if (!tq.touch) {
		api_send_get(op, api->conf->dynamodb.consistent_read, 0);
		return;
	}
	op->want_expires = op->now + (tq.has_ttl ? tq.ttl : api->conf->session.default_ttl);
	if (api->conf->session.touch_after == 0) {
		api_slide_write(op); /* one UpdateItem reads and extends */
	} else {
		op->step = STEP_SLIDE_READ;
		api_send_get(op, api->conf->dynamodb.consistent_read, 0);
	}
}

/* If-Match / If-None-Match of a PUT or PATCH; answers 400 on a bad one. */
static bool api_preconditions(struct api_op *op, bool allow_none_match)
{
	const char *im = http_request_header(op->req, "If-Match");
	const char *inm = http_request_header(op->req, "If-None-Match");

	if (im) {
		if (!session_if_match_parse(im, &op->if_match, &op->if_match_any)) {
			api_finish(op, 400, "If-Match must be one ETag such as \"3\", or *");
			return false;
		}
		op->has_if_match = true;
	}
	if (inm) {
		if (!allow_none_match || strcmp(inm, "*") != 0 || im) {
			api_finish(op, 400, "only If-None-Match: * is supported, on PUT, "
					    "without If-Match");
			return false;
		}
		op->if_none_match = true;
	}
	return true;
}

static void api_put(void *ctx, struct http_request *req)
{
	struct api_op *op = api_begin(ctx, req, STEP_PUT_REPLACE);

	if (!op || !api_preconditions(op, true) || !api_parse_body(op, SESSION_BODY_PUT))
		return;
	http_suspend(req);
	if (op->if_none_match) {
		op->step = STEP_PUT_IF;
		op->sess.version = 1;
		api_send_put(op, "attribute_not_exists(#k) OR #e <= :now");
	} else if (op->has_if_match && !op->if_match_any) {
		op->step = STEP_PUT_IF;
		op->old_version = op->if_match;
		op->sess.version = op->if_match + 1;
		api_send_update(op, API_SET_DATA | API_SET_EXPIRES | API_SET_VERSION | API_SET_USER,
				api_version_condition(op));
	} else if (op->has_if_match) {
		op->step = STEP_PUT_IF;
		api_send_update(op, API_SET_DATA | API_SET_EXPIRES | API_BUMP_VERSION | API_SET_USER,
				NULL);
	} else {
		/* version + 1 is not idempotent: no blind resend. */
		op->no_replay = true;
		api_send_update(op, API_SET_DATA | API_SET_EXPIRES | API_BUMP_VERSION | API_SET_USER,
				NULL);
	}
}

static size_t api_patch_bucket(const char *key)
{
	size_t h = 5381;

	for (; *key; key++)
		h = h * 33 + (unsigned char)*key;
	return h % API_PATCH_BUCKETS;
}

/* The slot of the session under key, or NULL (patch lock held). */
static struct api_patch_slot *api_patch_slot_find_locked(struct api *api, const char *key)
{
	struct api_patch_slot *slot = api->patch_slots[api_patch_bucket(key)];

	while (slot && strcmp(slot->key, key) != 0)
		slot = slot->next;
	return slot;
}

/* Takes the session's PATCH slot, or queues op behind the PATCH that holds
 * it. true when op may start now. */
static bool api_patch_acquire(struct api_op *op)
{
	struct api *api = op->api;
	struct api_patch_slot **b = &api->patch_slots[api_patch_bucket(op->key)], *slot;
	bool start = false;

	pthread_mutex_lock(&api->patch_lock);
	slot = api_patch_slot_find_locked(api, op->key);
	if (slot) {
		if (slot->waiting_tail)
			slot->waiting_tail->next_waiting = op;
		else
			slot->waiting_head = op;
		slot->waiting_tail = op;
	} else if ((slot = calloc(1, sizeof(*slot))) && (slot->key = strdup(op->key))) {
		slot->next = *b;
		*b = slot;
		start = true;
	} else {
		free(slot);
		slot = NULL;
		start = true; /* out of memory: run unserialised; versions still guard */
	}
	op->holds_patch_slot = start && slot;
	pthread_mutex_unlock(&api->patch_lock);
	return start;
}

/* The PATCH holding the slot is done: the next one of its session starts,
 * or the slot goes. */
static void api_patch_release(struct api_op *op)
{
	struct api *api = op->api;
	struct api_patch_slot **pp = &api->patch_slots[api_patch_bucket(op->key)], *slot;
	struct api_op *next = NULL;

	pthread_mutex_lock(&api->patch_lock);
	while (*pp && strcmp((*pp)->key, op->key) != 0)
		pp = &(*pp)->next;
	slot = *pp;
	if (slot && slot->waiting_head) {
		next = slot->waiting_head;
		slot->waiting_head = next->next_waiting;
		if (!slot->waiting_head)
			slot->waiting_tail = NULL;
		next->next_waiting = NULL;
		next->holds_patch_slot = true;
	} else if (slot) {
		*pp = slot->next;
		free(slot->key);
		free(slot);
	}
	op->holds_patch_slot = false;
	pthread_mutex_unlock(&api->patch_lock);
	if (next) {
		next->now = now_wall_s();
		next->round_ms = now_mono_ms();
		api_send_get(next, true, api_patch_delay(next, false));
	}
}

/* Fairness between daemons. Within a daemon the PATCHes of a session
 * queue; across daemons they race, and the daemon whose PATCH just won
 * starts its next one at once, ahead of the losers' backoff: under a steady
 * stream one daemon could win every round while another loses eight in a
 * row (409). So once a session is seen contended (a conflict here, or a
 * version that moved under us between two of our PATCHes), a fresh PATCH
 * of it waits half to one pace before its read, and a retry waits less the
 * more it has lost, so the oldest loser of the fleet tends to go first.
 * The delay in milliseconds for op's next read; takes the patch lock. */
static long api_patch_delay(struct api_op *op, bool conflict)
{
	struct api *api = op->api;
	struct api_patch_slot *slot;
	int64_t now = now_mono_ms();
	long pace = API_PATCH_PACE_MS, delay = 0;
	bool contended = false;
	uint16_t r = 0;

	pthread_mutex_lock(&api->patch_lock);
	slot = api_patch_slot_find_locked(api, op->key);
	if (slot) {
		if (conflict)
			slot->contended_until_ms = now + API_PATCH_CONTENDED_MS;
		contended = now < slot->contended_until_ms;
		if (slot->pace_ms)
			pace = slot->pace_ms;
	}
	pthread_mutex_unlock(&api->patch_lock);
	if (!conflict && !contended)
		return 0; /* the common case: no draw from the CSPRNG */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint16_t)now;
	if (conflict)
		delay = (long)(r % (unsigned long)((pace >> (op->tries < 6 ? op->tries : 6)) + 1));
	else if (contended)
		delay = pace / 2 + (long)(r % (unsigned long)(pace / 2 + 1));
	return delay;
}

/* op's write landed: measure the round it took, and notice another
 * daemon's write between our last one and this (written: the version we
 * wrote, 0 when unknown). */
static void api_patch_settled(struct api_op *op, int64_t written)
{
	struct api *api = op->api;
	struct api_patch_slot *slot;
	int64_t now = now_mono_ms();
	long pace = (long)(2 * (now - op->round_ms));

	if (!op->holds_patch_slot)
		return;
	if (pace < 1)
		pace = 1;
	if (pace > API_PATCH_PACE_MAX_MS)
		pace = API_PATCH_PACE_MAX_MS;
	pthread_mutex_lock(&api->patch_lock);
	slot = api_patch_slot_find_locked(api, op->key);
	if (slot) {
		slot->pace_ms = slot->pace_ms ? (3 * slot->pace_ms + pace) / 4 : pace;
		if (written && slot->last_version && written - 1 != slot->last_version)
			slot->contended_until_ms = now + API_PATCH_CONTENDED_MS;
		if (written)
			slot->last_version = written;
	}
	pthread_mutex_unlock(&api->patch_lock);
}

static void api_patch(void *ctx, struct http_request *req)
{
	struct api_op *op = api_begin(ctx, req, STEP_PATCH_READ);
	struct session_why why = { { 0 } };
	enum error_code rc;
	char ttl[32];
	const char *body;
	size_t len;

	if (!op || !api_preconditions(op, false))
		return;
	body = http_request_body(req, &len);
	rc = session_patch_parse(body, len, &op->patch, &why);
	if (rc != ERROR_OK) {
		api_finish_parse(op, rc, &why);
		return;
	}
	switch (http_request_query(req, "ttl", ttl, sizeof(ttl))) {
	case 0:
		break;
	case 1:
		rc = session_ttl_parse(ttl, op->api->conf->session.max_ttl, &op->ttl, &why);
		if (rc != ERROR_OK) {
			api_finish_parse(op, rc, &why);
			return;
		}
		op->has_ttl = true;
		break;
	default:
		api_finish(op, 400, "the ttl parameter is too long");
		return;
	}
	http_suspend(req);
	if (api_patch_acquire(op)) {
		op->round_ms = now_mono_ms();
		api_send_get(op, true, 0);
	}
}

static void api_touch(void *ctx, struct http_request *req)
{
	struct api_op *op = api_begin(ctx, req, STEP_TOUCH);

	if (!op || !api_parse_body(op, SESSION_BODY_TOUCH))
		return;
	http_suspend(req);
	if (op->api->conf->session.touch_after > 0) {
		/* An eventually consistent read costs a tenth of a write. */
		op->want_expires = op->sess.expires;
		op->step = STEP_TOUCH_READ;
		api_send_get(op, false, 0);
		return;
	}
	api_send_update(op, API_SET_EXPIRES, NULL); /* v1: one write, no read */
}

static void api_delete(void *ctx, struct http_request *req)
{
	struct api_op *op = api_begin(ctx, req, STEP_DELETE);
	struct ddb_item key = { 0 };
	struct ddb_request r = { .op = DDB_OP_DELETE_ITEM, .key = &key };

	if (!op)
		return;
	r.table = op->api->conf->dynamodb.table;
	if (api_key_item(op, &key) != ERROR_OK) {
		api_finish(op, 500, "out of memory");
		return;
	}
	http_suspend(req);
	api_send(op, &r, 0);
	ddb_item_clear(&key);
}

static void api_healthz(void *ctx, struct http_request *req)
{
	(void)ctx;
	api_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- readiness and metrics ----------------------------------------------------- */

struct api_ready_wait {
	struct api *api;
	struct http_request *req;
};

static void api_ready_answer(struct http_request *req, bool ok, const char *reason)
{
	if (ok) {
		api_respond_json(req, 200, json_pack("{s:s}", "status", "ready"));
		return;
	}
	http_add_header(req, "Retry-After", "1");
	http_respond_problem(req, 503, reason);
}

static void api_on_ready(void *arg, struct ddb_result *res)
{
	struct api_ready_wait *w = arg;
	struct api *api = w->api;
	bool ok = res->rc == ERROR_OK && (strcmp(res->resp.table_status, "ACTIVE") == 0 ||
					  strcmp(res->resp.table_status, "UPDATING") == 0);
	char reason[sizeof(api->ready_reason)];

	if (ok)
		reason[0] = '\0';
	else if (res->rc == ERROR_OK)
		snprintf(reason, sizeof(reason), "table %s is %s", api->conf->dynamodb.table,
			 res->resp.table_status);
	else
		snprintf(reason, sizeof(reason), "DynamoDB DescribeTable failed: %s",
			 res->err.type[0] ? res->err.type : error_str(res->rc));
	pthread_mutex_lock(&api->ready_lock);
	api->ready_ok = ok;
	api->ready_at_ms = now_mono_ms();
	memcpy(api->ready_reason, reason, sizeof(reason));
	pthread_mutex_unlock(&api->ready_lock);
	http_request_add_attempts(w->req, res->attempts);
	api_ready_answer(w->req, ok, reason);
	free(w);
}

/* DynamoDB answers for the table: checked at most every API_READY_CACHE_MS,
 * so probes never turn into a DynamoDB call each. */
static void api_readyz(void *ctx, struct http_request *req)
{
	struct api *api = ctx;
	struct ddb_request r = { .op = DDB_OP_DESCRIBE_TABLE, .table = api->conf->dynamodb.table };
	struct api_ready_wait *w;
	char reason[sizeof(api->ready_reason)];
	bool fresh, ok;

	if (atomic_load_explicit(&api->draining, memory_order_relaxed)) {
		http_add_header(req, "Retry-After", "1");
		api_respond_json(req, 503, json_pack("{s:s}", "status", "draining"));
		return;
	}
	/* Credentials that expired and could not be refreshed: not ready, and
	 * no DynamoDB call can tell us more. */
	if (api->creds && creds_last_refresh_failed(api->creds) && creds_expiration(api->creds) &&
	    creds_expiration(api->creds) <= now_wall_s()) {
		api_ready_answer(req, false, "AWS credentials expired and could not be refreshed");
		return;
	}
	pthread_mutex_lock(&api->ready_lock);
	fresh = api->ready_at_ms && now_mono_ms() - api->ready_at_ms < API_READY_CACHE_MS;
	ok = api->ready_ok;
	memcpy(reason, api->ready_reason, sizeof(reason));
	pthread_mutex_unlock(&api->ready_lock);
	if (fresh) {
		api_ready_answer(req, ok, reason);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		http_respond_problem(req, 500, "out of memory");
		return;
	}
	w->api = api;
	w->req = req;
	http_suspend(req);
	if (ddb_client_submit(api->ddb, &r, api_on_ready, w) != ERROR_OK) {
		free(w);
		api_ready_answer(req, false, "DynamoDB client is shutting down");
	}
}

static void api_metrics(void *ctx, struct http_request *req)
{
	struct api *api = ctx;
	struct http_server *http;
	struct buf b;

	buf_init(&b, 0);
	metrics_family(&b, "sessiond_build_info", "gauge", "Version of this build.");
	buf_printf(&b, "sessiond_build_info{version=\"%s\"} 1\n", SESSIOND_VERSION);
	if ((http = atomic_load(&api->http)))
		http_server_write_metrics(http, &b);
	ddb_client_write_metrics(api->ddb, &b);
	if (api->creds) {
		char labels[64];
		metrics_family(&b, "sessiond_credentials_info", "gauge",
			       "Where the AWS credentials came from.");
		snprintf(labels, sizeof(labels), "source=\"%s\"", creds_source(api->creds));
		metrics_sample(&b, "sessiond_credentials_info", labels, 1);
		metrics_single(&b, "sessiond_credentials_expiry_timestamp_seconds", "gauge",
			   "When the current credentials expire (0: static, never).",
			   (uint64_t)creds_expiration(api->creds));
		metrics_single(&b, "sessiond_credentials_refresh_failing", "gauge",
			   "1 while the last refresh of temporary credentials failed.",
			   creds_last_refresh_failed(api->creds) ? 1 : 0);
	}
	keyring_holder_write_metrics(api->keys, &b);
	metrics_single(&b, "sessiond_version_conflicts_total", "counter",
		   "Conditional writes that lost a race and were retried.",
		   atomic_load(&api->conflicts));
	metrics_family(&b, "sessiond_touches_total", "counter",
		       "Touches (endpoint and GET ?touch=1) by whether they wrote.");
	metrics_sample(&b, "sessiond_touches_total", "result=\"written\"",
		       atomic_load(&api->touches_written));
	metrics_sample(&b, "sessiond_touches_total", "result=\"skipped\"",
		       atomic_load(&api->touches_skipped));
	metrics_single(&b, "sessiond_draining", "gauge",
		   "1 while draining after SIGTERM (limits.drain): /readyz answers 503.",
		   atomic_load(&api->draining) ? 1 : 0);
	api_users_write_metrics(&b);
	api_regen_write_metrics(&b);
	if (api->reaper) {
		struct reaper_stats rs;
		reaper_stats(api->reaper, &rs);
		metrics_single(&b, "sessiond_reaper_passes_total", "counter",
			   "Reaper passes completed.", rs.passes);
		metrics_single(&b, "sessiond_reaper_failed_passes_total", "counter",
			   "Reaper passes that ended on an error.", rs.failed_passes);
		metrics_single(&b, "sessiond_reaper_skipped_passes_total", "counter",
			   "Reaper passes skipped: another daemon held the lease.",
			   rs.skipped_passes);
		metrics_single(&b, "sessiond_reaper_scanned_total", "counter",
			   "Expired sessions found by the reaper.", rs.scanned);
		metrics_single(&b, "sessiond_reaper_deleted_total", "counter",
			   "Expired sessions deleted by the reaper.", rs.deleted);
		metrics_single(&b, "sessiond_reaper_conflicts_total", "counter",
			   "Sessions kept because they were touched between scan and delete.",
			   rs.conflicts);
		metrics_single(&b, "sessiond_reaper_rekeyed_total", "counter",
			   "Sessions rewritten under the first encryption key "
			   "(reaper.rekey_per_second).",
			   rs.rekeyed);
		metrics_single(&b, "sessiond_reaper_rekey_skipped_total", "counter",
			   "Sessions under a retired key left as they were: changed meanwhile, "
			   "or not decryptable.",
			   rs.rekey_skipped);
		metrics_single(&b, "sessiond_reaper_lease_held", "gauge",
			   "1 while this daemon holds the fleet's reaper lease.",
			   rs.lease_until ? 1 : 0);
		metrics_single(&b, "sessiond_reaper_lease_expiry_timestamp_seconds", "gauge",
			   "When this daemon's reaper lease runs out (0: not held).",
			   (uint64_t)rs.lease_until);
		{
			char labels[64];
			metrics_family(&b, "sessiond_reaper_info", "gauge",
				       "This daemon's reaper lease identity (the lease item's owner).");
			snprintf(labels, sizeof(labels), "owner=\"%s\"", reaper_owner(api->reaper));
			metrics_sample(&b, "sessiond_reaper_info", labels, 1);
		}
	}
	if (!b.data || buf_error(&b) != ERROR_OK) {
		buf_free(&b);
		http_respond_problem(req, 500, "out of memory");
		return;
	}
	http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

/* ---- the table ------------------------------------------------------------------- */

static const struct http_route api_route_table[] = {
	{ "/v1/sessions", HTTP_POST, "create", HTTP_BODY_JSON, HTTP_AUTH_REQUIRED, api_create },
	{ "/v1/sessions/{id}", HTTP_GET, "get", HTTP_BODY_NONE, HTTP_AUTH_REQUIRED, api_get },
	{ "/v1/sessions/{id}", HTTP_PUT, "put", HTTP_BODY_JSON, HTTP_AUTH_REQUIRED, api_put },
	{ "/v1/sessions/{id}", HTTP_PATCH, "patch", HTTP_BODY_MERGE_PATCH, HTTP_AUTH_REQUIRED, api_patch },
	{ "/v1/sessions/{id}", HTTP_DELETE, "delete", HTTP_BODY_NONE, HTTP_AUTH_REQUIRED, api_delete },
	{ "/v1/sessions/{id}/touch", HTTP_POST, "touch", HTTP_BODY_JSON, HTTP_AUTH_REQUIRED, api_touch },
	{ "/v1/sessions/{id}/regenerate", HTTP_POST, "regenerate", HTTP_BODY_JSON, HTTP_AUTH_REQUIRED, api_regen_post },
	{ "/v1/users/{uid}/sessions", HTTP_GET, "user_sessions", HTTP_BODY_NONE, HTTP_AUTH_REQUIRED, api_users_list },
	{ "/v1/users/{uid}/sessions", HTTP_DELETE, "user_revoke", HTTP_BODY_NONE, HTTP_AUTH_REQUIRED, api_users_revoke },
	{ "/healthz", HTTP_GET, "healthz", HTTP_BODY_NONE, HTTP_AUTH_NONE, api_healthz },
	{ "/readyz", HTTP_GET, "readyz", HTTP_BODY_NONE, HTTP_AUTH_NONE, api_readyz },
	{ "/metrics", HTTP_GET, "metrics", HTTP_BODY_NONE, HTTP_AUTH_OPTIONAL, api_metrics },
	{ NULL, 0, NULL, HTTP_BODY_NONE, HTTP_AUTH_NONE, NULL },
};

const struct http_route *api_routes(void)
{
	return api_route_table;
}

struct api *api_new(const struct conf *conf, struct ddb_client *ddb)
{
	struct api *api = calloc(1, sizeof(*api));

	if (!api)
		return NULL;
	api->conf = conf;
	api->ddb = ddb;
	pthread_mutex_init(&api->ready_lock, NULL);
	pthread_mutex_init(&api->patch_lock, NULL);
	return api;
}

void api_set_http(struct api *api, struct http_server *http)
{
	atomic_store(&api->http, http);
}

void api_set_reaper(struct api *api, struct reaper *reaper)
{
	api->reaper = reaper;
}

void api_set_creds(struct api *api, struct creds *creds)
{
	api->creds = creds;
}

void api_set_draining(struct api *api, bool draining)
{
	atomic_store(&api->draining, draining);
}

void api_set_keyring(struct api *api, struct keyring_holder *keys)
{
	api->keys = keys;
}

void api_free(struct api *api)
{
	if (!api)
		return;
	pthread_mutex_destroy(&api->ready_lock);
	pthread_mutex_destroy(&api->patch_lock);
	for (size_t i = 0; i < API_PATCH_BUCKETS; i++)
		while (api->patch_slots[i]) {
			struct api_patch_slot *slot = api->patch_slots[i];
			api->patch_slots[i] = slot->next;
			free(slot->key);
			free(slot);
		}
	free(api);
}
