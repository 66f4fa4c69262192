/* metrics.c: Prometheus text exposition helpers (metrics.h). Buckets span
 * 0.5 ms to 10 s: a GET served from a warm pool takes about a millisecond,
 * and nothing should outlive limits.request_timeout_ms. */
#include <stdatomic.h>
#include <stdio.h>

#include "sessiond/metrics.h"

static const double metrics_bounds[METRICS_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void metrics_observe(struct metrics_histogram *h, double seconds)
{
	int i = 0;

	while (i < METRICS_BUCKETS && seconds > metrics_bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

void metrics_family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_single(struct buf *b, const char *name, const char *type, const char *help,
		    uint64_t value)
{
	metrics_family(b, name, type, help);
	metrics_sample(b, name, NULL, value);
}

void metrics_sample(struct buf *b, const char *name, const char *labels, uint64_t value)
{
	if (labels && *labels)
		buf_printf(b, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
	else
		buf_printf(b, "%s %llu\n", name, (unsigned long long)value);
}

void metrics_histogram_write(struct buf *b, const char *name, const char *labels,
			     const struct metrics_histogram *h)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cumulative = 0;

	if (!labels)
		labels = "";
	for (int i = 0; i <= METRICS_BUCKETS; i++) {
		cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
		if (i < METRICS_BUCKETS)
			buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
				   metrics_bounds[i], (unsigned long long)cumulative);
		else
			buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				   (unsigned long long)cumulative);
	}
	buf_printf(b, "%s_sum%s%s%s %.9f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
		   (double)atomic_load(&h->sum_ns) / 1e9);
	buf_printf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
		   *labels ? "}" : "", (unsigned long long)atomic_load(&h->count));
}
