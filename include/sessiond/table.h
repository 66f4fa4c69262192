/* table.h: the start-up check of the sessions table: it must exist with
 * the configured hash key, or be created (on-demand billing, TTL on
 * "expires") when dynamodb.create_table allows, and with users.index its
 * global secondary index (hash users.attribute, range expires), created or
 * added when allowed. Blocking; start-up only. */
#ifndef SESSIOND_TABLE_H
#define SESSIOND_TABLE_H

#include <stddef.h>

#include "sessiond/conf.h"
#include "sessiond/ddb_client.h"
#include "sessiond/error.h"

/* ERROR_OK when the table is ACTIVE with the right key; otherwise one line
 * for the operator in why. */
enum error_code table_ensure(struct ddb_client *ddb, const struct conf *conf, char *why,
			     size_t why_len);

#endif
