/* now.h: the two clocks sessiond reads. Monotonic milliseconds for
 * timeouts, backoff and durations; wall-clock seconds for session expiry,
 * DynamoDB's "expires" and leases. */
#ifndef SESSIOND_NOW_H
#define SESSIOND_NOW_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: for intervals only. */
int64_t now_mono_ms(void);

/* CLOCK_REALTIME in whole Unix seconds. */
int64_t now_wall_s(void);

#endif
