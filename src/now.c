/* now.c: the clocks of now.h. Wall-clock seconds come from clock_gettime,
 * not time(2): glibc serves time(2) from the coarse clock, which may still
 * read the previous second for a few milliseconds after a client has seen
 * the next one (an expiry computed from it would look a second short). */
#include <time.h>

#include "sessiond/now.h"

int64_t now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}
