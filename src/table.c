/* table.c: makes sure the sessions table is there before serving (table.h).
 * A missing table is created only when the operator said so; a table with
 * another key is refused, since sessions written under the wrong key name
 * would be invisible to connect-dynamodb. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sessiond/log.h"
#include "sessiond/table.h"

#define TABLE_WAIT_SECONDS 120

static void table_nap(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* DescribeTable until the table is ACTIVE. */
static enum error_code table_wait_active(struct ddb_client *ddb, const struct conf *conf,
					 struct ddb_result *res)
{
	struct ddb_request r = { .op = DDB_OP_DESCRIBE_TABLE, .table = conf->dynamodb.table };
	time_t deadline = time(NULL) + TABLE_WAIT_SECONDS;
	enum error_code rc;

	for (;;) {
		ddb_result_clear(res);
		rc = ddb_client_call(ddb, &r, res);
		if (rc != ERROR_OK || strcmp(res->resp.table_status, "ACTIVE") == 0)
			return rc;
		if (time(NULL) > deadline)
			return ERROR_TIMEOUT;
		table_nap();
	}
}

static enum error_code table_create(struct ddb_client *ddb, const struct conf *conf,
				    struct ddb_result *res)
{
	bool users = *conf->users.index != '\0';
	struct ddb_request create = {
		.op = DDB_OP_CREATE_TABLE,
		.table = conf->dynamodb.table,
		.hash_key = conf->dynamodb.hash_key,
		/* With the users' index from the start: no backfill to wait for. */
		.index_name = users ? conf->users.index : NULL,
		.index_hash = users ? conf->users.attribute : NULL,
		.index_range = users ? "expires" : NULL,
	};
	struct ddb_request ttl = {
		.op = DDB_OP_UPDATE_TIME_TO_LIVE,
		.table = conf->dynamodb.table,
		.ttl_attribute = "expires",
		.ttl_enabled = true,
	};
	enum error_code rc;

	log_info("creating table %s (on-demand, hash key %s)", conf->dynamodb.table,
		 conf->dynamodb.hash_key);
	ddb_result_clear(res);
	rc = ddb_client_call(ddb, &create, res);
	/* Another daemon of the fleet may be creating it at the same moment. */
	if (rc != ERROR_OK && strcmp(res->err.type, "ResourceInUseException") != 0)
		return rc;
	rc = table_wait_active(ddb, conf, res);
	if (rc != ERROR_OK)
		return rc;
	ddb_result_clear(res);
	if (ddb_client_call(ddb, &ttl, res) != ERROR_OK)
		log_warn("could not enable TTL on \"expires\" for table %s (%s); the reaper "
			 "still deletes expired sessions",
			 conf->dynamodb.table, res->err.type[0] ? res->err.type : "error");
	ddb_result_clear(res);
	return table_wait_active(ddb, conf, res);
}

/* The users' index in a DescribeTable answer, or NULL. */
static const struct ddb_index *table_find_index(const struct ddb_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->n_indexes; i++)
		if (strcmp(resp->indexes[i].name, name) == 0)
			return &resp->indexes[i];
	return NULL;
}

/* DescribeTable until the users' index is ACTIVE (it may be CREATING, or
 * backfilling an existing table's items); *found false when it is gone. */
static enum error_code table_wait_index(struct ddb_client *ddb, const struct conf *conf,
					struct ddb_result *res, bool *found)
{
	time_t deadline = time(NULL) + TABLE_WAIT_SECONDS;
	const struct ddb_index *x;
	enum error_code rc;

	for (;;) {
		rc = table_wait_active(ddb, conf, res);
		if (rc != ERROR_OK)
			return rc;
		x = table_find_index(&res->resp, conf->users.index);
		*found = x != NULL;
		if (!x || strcmp(x->status, "ACTIVE") == 0)
			return ERROR_OK;
		if (time(NULL) > deadline)
			return ERROR_TIMEOUT;
		table_nap();
	}
}

/* Adds the users' index to an existing table with UpdateTable. An
 * on-demand table takes no capacity for it; a provisioned one (and
 * dynalite, which always asks) is given one unit, for the operator to
 * raise: this daemon does not guess a fleet's load. */
static enum error_code table_add_index(struct ddb_client *ddb, const struct conf *conf,
				       struct ddb_result *res, char *why, size_t why_len)
{
	struct ddb_request update = {
		.op = DDB_OP_UPDATE_TABLE,
		.table = conf->dynamodb.table,
		.hash_key = conf->dynamodb.hash_key,
		.index_name = conf->users.index,
		.index_hash = conf->users.attribute,
		.index_range = "expires",
	};
	enum error_code rc;

	log_info("adding index %s (hash %s, range expires, keys only) to table %s",
		 conf->users.index, conf->users.attribute, conf->dynamodb.table);
	ddb_result_clear(res);
	rc = ddb_client_call(ddb, &update, res);
	if (rc == ERROR_UPSTREAM && strcmp(res->err.type, "ValidationException") == 0 &&
	    strstr(res->err.message, "rovisionedThroughput")) {
		update.index_capacity = 1;
		ddb_result_clear(res);
		rc = ddb_client_call(ddb, &update, res);
	}
	if (rc != ERROR_OK) {
		snprintf(why, why_len, "cannot add index \"%s\" to table \"%s\": %s (%s)",
			 conf->users.index, conf->dynamodb.table, error_str(rc),
			 res->err.type[0] ? res->err.type : "no answer");
		return rc;
	}
	/* DynamoDB lists a new index as CREATING at once. dynalite 4 accepts
	 * the request and does nothing: say so rather than wait for it. */
	if (!table_find_index(&res->resp, conf->users.index)) {
		snprintf(why, why_len,
			 "DynamoDB accepted UpdateTable but table \"%s\" has no index \"%s\" "
			 "(this engine cannot add an index to an existing table; create it with "
			 "the table)",
			 conf->dynamodb.table, conf->users.index);
		return ERROR_UPSTREAM;
	}
	return ERROR_OK;
}

/* The users' index (users.index): present with the right keys and ACTIVE,
 * or added when create_table allows. */
static enum error_code table_ensure_index(struct ddb_client *ddb, const struct conf *conf,
					  struct ddb_result *res, char *why, size_t why_len)
{
	const struct ddb_index *x = table_find_index(&res->resp, conf->users.index);
	bool found = x != NULL;
	enum error_code rc;

	if (!x && !conf->dynamodb.create_table) {
		snprintf(why, why_len,
			 "table \"%s\" has no index \"%s\" (users.index); create it (hash key "
			 "%s, range key expires) or set dynamodb.create_table = true",
			 conf->dynamodb.table, conf->users.index, conf->users.attribute);
		return ERROR_INVALID;
	}
	if (!x) {
		rc = table_add_index(ddb, conf, res, why, why_len);
		if (rc != ERROR_OK)
			return rc;
	}
	rc = table_wait_index(ddb, conf, res, &found);
	if (rc == ERROR_TIMEOUT) {
		snprintf(why, why_len, "index \"%s\" of table \"%s\" did not become ACTIVE "
				       "within %d s",
			 conf->users.index, conf->dynamodb.table, TABLE_WAIT_SECONDS);
		return rc;
	}
	if (rc != ERROR_OK || !found) {
		snprintf(why, why_len, "DynamoDB: cannot use index \"%s\" of table \"%s\": %s",
			 conf->users.index, conf->dynamodb.table,
			 found ? error_str(rc) : "it disappeared");
		return rc != ERROR_OK ? rc : ERROR_UPSTREAM;
	}
	x = table_find_index(&res->resp, conf->users.index);
	if (!x)
		return ERROR_UPSTREAM; /* found above, in this very answer */
	if (strcmp(x->hash, conf->users.attribute) != 0 || strcmp(x->range, "expires") != 0) {
		snprintf(why, why_len,
			 "index \"%s\" of table \"%s\" has keys \"%s\"/\"%s\", but sessiond "
			 "needs hash key \"%s\" (users.attribute) and range key \"expires\"",
			 conf->users.index, conf->dynamodb.table, x->hash,
			 x->range[0] ? x->range : "(none)", conf->users.attribute);
		return ERROR_INVALID;
	}
	/* Any projection carries the keys a list and a revoke need. */
	return ERROR_OK;
}

enum error_code table_ensure(struct ddb_client *ddb, const struct conf *conf, char *why,
			     size_t why_len)
{
	struct ddb_result res = { 0 };
	enum error_code rc;

	rc = table_wait_active(ddb, conf, &res);
	if (rc == ERROR_UPSTREAM && strcmp(res.err.type, "ResourceNotFoundException") == 0) {
		if (!conf->dynamodb.create_table) {
			snprintf(why, why_len,
				 "table \"%s\" does not exist; create it or set "
				 "dynamodb.create_table = true",
				 conf->dynamodb.table);
			goto out;
		}
		rc = table_create(ddb, conf, &res);
	}
	if (rc == ERROR_TIMEOUT) {
		snprintf(why, why_len, "table \"%s\" did not become ACTIVE within %d s",
			 conf->dynamodb.table, TABLE_WAIT_SECONDS);
		goto out;
	}
	if (rc != ERROR_OK) {
		snprintf(why, why_len, "DynamoDB: cannot use table \"%s\": %s (%s)",
			 conf->dynamodb.table, error_str(rc),
			 res.err.type[0] ? res.err.type : "no answer");
		goto out;
	}
	if (strcmp(res.resp.hash_key, conf->dynamodb.hash_key) != 0) {
		snprintf(why, why_len,
			 "table \"%s\" has hash key \"%s\", but dynamodb.hash_key is \"%s\"",
			 conf->dynamodb.table, res.resp.hash_key, conf->dynamodb.hash_key);
		rc = ERROR_INVALID;
		goto out;
	}
	if (*conf->users.index)
		rc = table_ensure_index(ddb, conf, &res, why, why_len);
out:
	ddb_result_clear(&res);
	return rc;
}
