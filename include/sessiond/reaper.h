/* reaper.h: the thread that deletes expired sessions. A pass every
 * reaper.interval seconds (the first after a random fraction of it) scans
 * the table in reaper.segments parallel segments for items under the
 * session prefix whose expires is past, and deletes each on condition that
 * it is still expired, at most reaper.max_deletes_per_second. One daemon of
 * a fleet reaps at a time: a pass first takes a lease item (a key outside
 * any session id) with a conditional write. */
#ifndef SESSIOND_REAPER_H
#define SESSIOND_REAPER_H

#include <stdbool.h>
#include <stdint.h>

#include "sessiond/ddb_client.h"
#include "sessiond/error.h"
#include "sessiond/keyring.h"

struct reaper_config {
	const char *table;
	const char *hash_key;
	const char *prefix;
	int64_t interval;            /* seconds between passes */
	int64_t max_deletes_per_second; /* 0 = unlimited */
	int64_t segments;            /* parallel Scan segments */
	/* Encryption at rest: after each expiry pass, rewrite live sessions
	 * still sealed under a key other than the first of keys, at most
	 * rekey_per_second (0: never), each on condition that its sess and
	 * version are still what was read. keys is borrowed and may be NULL. */
	struct keyring_holder *keys;
	int64_t rekey_per_second;
	bool first_pass_now;         /* tests: no random initial delay */
	/* Tests: called after each scanned page, before its deletes. */
	void (*after_page)(void *arg);
	void *after_page_arg;
};

struct reaper_stats {
	uint64_t passes;        /* passes completed */
	uint64_t failed_passes; /* passes that ended early on an error */
	uint64_t skipped_passes; /* another daemon held the lease */
	uint64_t scanned;       /* expired candidates seen */
	uint64_t deleted;
	uint64_t conflicts;     /* touched or rewritten between scan and delete: kept */
	uint64_t rekeyed;       /* sessions rewritten under the first key */
	uint64_t rekey_skipped; /* changed meanwhile, or not decryptable: left as they are */
	int64_t lease_until;    /* Unix seconds this daemon's lease runs to; 0: not held */
};

struct reaper;

/* A reaper without its thread (cfg strings are copied, ddb borrowed).
 * NULL when out of memory. */
struct reaper *reaper_new(const struct reaper_config *cfg, struct ddb_client *ddb);

/* Starts the thread that runs a pass every interval. */
enum error_code reaper_start(struct reaper *r);

/* Stops the thread; returns within a second even in the middle of a pass
 * (requests already submitted finish, or are cancelled by the client).
 * Accepts NULL and a reaper that was never started. */
void reaper_stop(struct reaper *r);

/* Frees the reaper. Call after ddb_client_free, so that no completion of
 * the reaper's requests can still arrive. Accepts NULL. */
void reaper_free(struct reaper *r);

/* Runs one pass now on the calling thread (tests, and the thread itself).
 * ERROR_OK also when the pass was skipped because another daemon holds
 * the lease (*skipped true then). */
enum error_code reaper_pass(struct reaper *r, bool *skipped);

void reaper_stats(struct reaper *r, struct reaper_stats *out);

/* This daemon's lease identity (32 hex characters, random per process):
 * the "owner" attribute of the lease item while it holds the lease, so an
 * operator can tell from the table and /metrics which daemon of a fleet
 * reaps. Borrowed; valid until reaper_free. */
const char *reaper_owner(const struct reaper *r);

#endif
