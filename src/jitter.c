/* jitter.c: xorshift64 for retry and refresh jitter (jitter.h). Marsaglia's
 * 13/7/17 triple: a full period of 2^64 - 1 from any non-zero seed. */
#include <stdint.h>
#include <sys/random.h>

#include "sessiond/jitter.h"
#include "sessiond/now.h"

void jitter_seed(struct jitter *j)
{
	/* GRND_NONBLOCK: jitter is no reason to wait for the entropy pool. */
	if (getrandom(&j->state, sizeof(j->state), GRND_NONBLOCK) != sizeof(j->state))
		j->state = 0;
	if (!j->state)
		j->state = (uint64_t)now_mono_ms() ^ (uint64_t)(uintptr_t)j ^ 0x9e3779b97f4a7c15ull;
	if (!j->state)
		j->state = 1;
}

uint64_t jitter_next(struct jitter *j, uint64_t ceiling)
{
	uint64_t x = j->state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	j->state = x;
	return ceiling == UINT64_MAX ? x : x % (ceiling + 1);
}
