/* table.c: makes sure the sessions table is there before serving (table.h).
 * A missing table is created only when the operator said so; a table with
 * another key is refused, since sessions written under the wrong key name
 * would be invisible to connect-dynamodb. */
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
	struct ddb_request create = {
		.op = DDB_OP_CREATE_TABLE,
		.table = conf->dynamodb.table,
		.hash_key = conf->dynamodb.hash_key,
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
out:
	ddb_result_clear(&res);
	return rc;
}
