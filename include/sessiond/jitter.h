/* jitter.h: the random source for retry and refresh jitter (xorshift64,
 * seeded from getrandom), so that a fleet of daemons does not retry or
 * refresh in step. Fast and not for secrets. A struct jitter belongs to
 * one owner, which serialises its calls (creds under its lock, ddb_client
 * on its I/O thread). */
#ifndef SESSIOND_JITTER_H
#define SESSIOND_JITTER_H

#include <stdint.h>

struct jitter {
	uint64_t state; /* never 0, which xorshift would keep forever */
};

/* Seeds j from getrandom, or from the clock and j's address when the
 * kernel has no randomness to give yet (early boot). Never blocks. */
void jitter_seed(struct jitter *j);

/* A number uniform enough in [0, ceiling] (modulo bias is below 2^-40 for
 * the ceilings used here, milliseconds under a minute). */
uint64_t jitter_next(struct jitter *j, uint64_t ceiling);

#endif
