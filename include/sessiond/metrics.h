/* metrics.h: counters and latency histograms, and their Prometheus text
 * exposition. Lock-free (atomics), so hot paths only add. Each module owns
 * its own metrics and writes them with these helpers into /metrics. */
#ifndef SESSIOND_METRICS_H
#define SESSIOND_METRICS_H

#include <stdint.h>

#include "sessiond/buf.h"

#define METRICS_BUCKETS 14 /* finite upper bounds; +Inf is implicit */

struct metrics_histogram {
	_Atomic uint64_t buckets[METRICS_BUCKETS + 1]; /* not cumulative; last = +Inf */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ns;
};

/* Records one observation of seconds. */
void metrics_observe(struct metrics_histogram *h, double seconds);

/* "# HELP name help" and "# TYPE name type". */
void metrics_family(struct buf *b, const char *name, const char *type, const char *help);

/* One sample line; labels like `route="get",code="200"`, or NULL. */
void metrics_sample(struct buf *b, const char *name, const char *labels, uint64_t value);

/* A family of one unlabelled sample: metrics_family, then metrics_sample. */
void metrics_single(struct buf *b, const char *name, const char *type, const char *help,
		    uint64_t value);

/* The _bucket (cumulative, with le), _sum and _count lines of h. */
void metrics_histogram_write(struct buf *b, const char *name, const char *labels,
			     const struct metrics_histogram *h);

#endif
