/* ddb_codec.h: DynamoDB's JSON 1.0 protocol as pure functions: request
 * bodies for the operations sessiond uses, responses decoded into plain
 * structs, and the classification of errors that decides retries.
 * No I/O; the transport is ddb_client.h. */
#ifndef SESSIOND_DDB_CODEC_H
#define SESSIOND_DDB_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/buf.h"
#include "sessiond/error.h"

enum ddb_op {
	DDB_OP_GET_ITEM,
	DDB_OP_PUT_ITEM,
	DDB_OP_UPDATE_ITEM,
	DDB_OP_DELETE_ITEM,
	DDB_OP_SCAN,
	DDB_OP_DESCRIBE_TABLE,
	DDB_OP_CREATE_TABLE,
	DDB_OP_UPDATE_TIME_TO_LIVE,
	DDB_OP_QUERY,
	DDB_OP_UPDATE_TABLE,
	DDB_OP_COUNT
};

/* "GetItem", ...; and the X-Amz-Target value "DynamoDB_20120810.GetItem".
 * Static strings; NULL for an op out of range. */
const char *ddb_op_name(enum ddb_op op);
const char *ddb_op_target(enum ddb_op op);

/* ---- attribute values and items ---------------------------------------- */

enum ddb_type {
	DDB_TYPE_S,     /* string: value is the UTF-8 text (may hold NUL bytes) */
	DDB_TYPE_N,     /* number: value is DynamoDB's decimal text, unconverted */
	DDB_TYPE_OTHER, /* any other type (B, BOOL, NULL, M, L, SS, NS, BS): value
	                   is the compact JSON of the whole AttributeValue, e.g.
	                   {"BOOL":true}, so that it round-trips unchanged */
};

struct ddb_attr {
	char *name; /* owned */
	enum ddb_type type;
	char *value; /* owned, NUL-terminated */
	size_t value_len;
};

/* An item (or a key, or a set of ":placeholder" expression values): a list
 * of attributes in insertion order. Zero-initialised is a valid empty item. */
struct ddb_item {
	struct ddb_attr *attrs;
	size_t n;
	size_t alloc;
};

/* Frees every attribute; the item is empty and reusable afterwards. */
void ddb_item_clear(struct ddb_item *item);

/* Append a copy of name and value. A name already present is replaced.
 * ddb_item_add_n checks that text is a DynamoDB number (ERROR_PARSE if not);
 * ddb_item_add_other checks that json is one AttributeValue object. */
enum error_code ddb_item_add_s(struct ddb_item *item, const char *name,
			       const char *value, size_t len);
enum error_code ddb_item_add_n(struct ddb_item *item, const char *name, const char *text);
enum error_code ddb_item_add_n_i64(struct ddb_item *item, const char *name, int64_t v);
enum error_code ddb_item_add_other(struct ddb_item *item, const char *name, const char *json);

/* The attribute called name, or NULL. Borrowed from item. */
const struct ddb_attr *ddb_item_get(const struct ddb_item *item, const char *name);

/* Deep copy of src into dst (which is cleared first). */
enum error_code ddb_item_copy(struct ddb_item *dst, const struct ddb_item *src);

/* True if text is a DynamoDB number: optional '-', digits, optional
 * fraction, optional exponent; at most 38 significant digits. */
bool ddb_number_valid(const char *text);

/* Converts DynamoDB number text to an integer, rounding a fraction toward
 * +infinity when round_up, else toward -infinity ("1764060000.123" gives
 * 1764060001 or 1764060000). ERROR_PARSE for malformed text, ERROR_TOO_LARGE
 * outside int64_t. */
enum error_code ddb_number_to_i64(const char *text, bool round_up, int64_t *out);

/* ---- requests ---------------------------------------------------------- */

/* ExpressionAttributeNames entry: placeholder "#k" stands for name "id". */
struct ddb_name {
	const char *placeholder;
	const char *name;
};

enum ddb_return_values {
	DDB_RETURN_NONE = 0, /* omitted from the request */
	DDB_RETURN_ALL_OLD,
	DDB_RETURN_ALL_NEW,
	DDB_RETURN_UPDATED_OLD,
	DDB_RETURN_UPDATED_NEW,
};

/* One request; every pointer is borrowed and may be NULL where the op does
 * not use it. Fields that an op does not use must be zero/NULL. */
struct ddb_request {
	enum ddb_op op;
	const char *table;                 /* every op */
	const struct ddb_item *key;        /* GetItem, UpdateItem, DeleteItem */
	const struct ddb_item *item;       /* PutItem */
	const char *condition;             /* Put/Update/Delete ConditionExpression */
	const char *update;                /* UpdateItem UpdateExpression */
	const char *projection;            /* GetItem, Scan, Query ProjectionExpression */
	const char *filter;                /* Scan, Query FilterExpression */
	const char *key_condition;         /* Query KeyConditionExpression */
	const struct ddb_name *names;      /* ExpressionAttributeNames */
	size_t n_names;
	const struct ddb_item *values;     /* ExpressionAttributeValues (":v" names) */
	enum ddb_return_values return_values; /* Put/Update/Delete ReturnValues */
	bool consistent_read;              /* GetItem, Scan, Query */
	int segment;                       /* Scan Segment */
	int total_segments;                /* Scan TotalSegments; 0: no segments */
	const struct ddb_item *exclusive_start_key; /* Scan, Query */
	int limit;                         /* Scan, Query Limit; 0: none */
	const char *hash_key;              /* CreateTable: S hash key, on-demand billing;
	                                      UpdateTable: named in AttributeDefinitions */
	/* A global secondary index with an S hash key and an N range key,
	 * projection KEYS_ONLY: Query's IndexName (index_name alone);
	 * CreateTable's one index (all three, or none); UpdateTable creates it
	 * (all three required). */
	const char *index_name;
	const char *index_hash;
	const char *index_range;
	long index_capacity;               /* UpdateTable: the new index's provisioned
	                                      read and write capacity; 0: none given
	                                      (on-demand tables) */
	const char *ttl_attribute;         /* UpdateTimeToLive AttributeName */
	bool ttl_enabled;                  /* UpdateTimeToLive Enabled */
	/* For the transport, not the body: the write is not idempotent, so the
	 * client must not resend it once an attempt may have been applied; it
	 * completes with maybe_applied set and lets the caller find out. */
	bool no_replay;
	/* For the transport too: when the whole request must be over, in
	 * now_mono_ms() time; 0 takes the client's deadline_ms from submit.
	 * A caller whose work spans several requests passes one deadline to
	 * all of them, so the limit bounds the whole flow. */
	int64_t deadline_ms;
};

/* Appends the JSON body of req to out. ERROR_INVALID when a field that the
 * op needs is missing or a field it does not take is set. */
enum error_code ddb_request_encode(const struct ddb_request *req, struct buf *out);

/* ---- responses --------------------------------------------------------- */

/* A global secondary index as DescribeTable (CreateTable, UpdateTable)
 * reports it; names that do not fit are truncated (they are compared). */
struct ddb_index {
	char name[256];
	char status[32];     /* IndexStatus: "CREATING", "ACTIVE", ... */
	char hash[256];      /* KeySchema HASH attribute name */
	char range[256];     /* KeySchema RANGE attribute name, "" when none */
	char projection[16]; /* Projection.ProjectionType */
};

struct ddb_response {
	enum ddb_op op;
	bool has_item;         /* GetItem found Item; Put/Update/Delete returned Attributes */
	struct ddb_item item;  /* that Item or Attributes */
	struct ddb_item *items; /* Scan, Query Items (owned array of n_items) */
	size_t n_items;
	bool has_last_key;       /* Scan, Query: more pages follow */
	struct ddb_item last_key; /* Scan, Query LastEvaluatedKey */
	int64_t count;          /* Scan, Query Count */
	int64_t scanned_count;  /* Scan, Query ScannedCount */
	char table_status[32];  /* DescribeTable, CreateTable, UpdateTable TableStatus */
	char hash_key[256];     /* DescribeTable, CreateTable, UpdateTable: KeySchema HASH */
	struct ddb_index *indexes; /* ... and their GlobalSecondaryIndexes (owned) */
	size_t n_indexes;
	bool ttl_enabled;       /* UpdateTimeToLive: TimeToLiveSpecification.Enabled */
};

/* Decodes the body of a 2xx answer to op into out (which must be zeroed or
 * cleared). ERROR_PARSE when the body is not the JSON object that op answers
 * with (empty, truncated, wrong types); out is then cleared. */
enum error_code ddb_response_decode(enum ddb_op op, const char *body, size_t len,
				    struct ddb_response *out);

/* The same as ddb_response_decode, by the general decoder alone (jansson's
 * tree): for tests and the fuzzer, which hold the fast path for item
 * answers to it. */
enum error_code ddb_response_decode_general(enum ddb_op op, const char *body, size_t len,
					    struct ddb_response *out);

/* Frees what out owns and zeroes it. */
void ddb_response_clear(struct ddb_response *out);

/* ---- errors ------------------------------------------------------------ */

enum ddb_error_class {
	DDB_ERR_NONE,      /* success */
	DDB_ERR_RETRYABLE, /* throttling, 5xx, transport faults, bad CRC or body */
	DDB_ERR_CONDITION, /* ConditionalCheckFailedException */
	DDB_ERR_FATAL,     /* validation, access denied, missing table, ... */
};

/* What went wrong with one DynamoDB call. Bounded: texts are truncated.
 * message is upstream text for logs at debug level, never for HTTP clients. */
struct ddb_error {
	enum ddb_error_class cls;
	bool throttled;   /* a throttling error (counts separately in metrics) */
	long http_status; /* 0 when no HTTP answer arrived */
	char type[64];    /* __type after its '#', or a transport fault name */
	char message[256];
};

const char *ddb_error_class_str(enum ddb_error_class cls);

/* Fills err for a non-2xx answer from its HTTP status and body (JSON with
 * __type and message/Message, or anything else: HTML, empty). */
void ddb_error_from_response(long http_status, const char *body, size_t len,
			     struct ddb_error *err);

/* Fills err for a failure without a usable answer; type and message are
 * copied (truncated), http_status kept as given (0 when none). */
void ddb_error_set(struct ddb_error *err, enum ddb_error_class cls, long http_status,
		   const char *type, const char *message);

#endif
