/* test_reaper.c: the reaper against dynalite (SESSIOND_TEST_DDB_ENDPOINT):
 * what a pass deletes and what it must leave byte for byte, conditional
 * deletes, the fleet lease, the rate limit, and a prompt stop. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "helpers/fake_http.h"
#include "sessiond/ddb_client.h"
#include "sessiond/now.h"
#include "sessiond/reaper.h"

static struct ddb_client *client_for(const char *url, long timeout_ms)
{
	struct ddb_client_config cfg = {
		.region = "us-east-1",
		.endpoint = url,
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		.max_connections = 32,
		.timeout_ms = timeout_ms,
		.max_attempts = 4,
		.backoff_base_ms = 5,
		.backoff_max_ms = 50,
	};
	enum error_code rc;
	struct ddb_client *c = ddb_client_new(&cfg, &rc);

	ck_assert_int_eq(rc, ERROR_OK);
	return c;
}

static struct ddb_client *dynalite_client(void)
{
	const char *e = getenv("SESSIOND_TEST_DDB_ENDPOINT");

	ck_assert_msg(e && *e, "SESSIOND_TEST_DDB_ENDPOINT is not set (run via make check)");
	return client_for(e, 5000);
}

static int64_t wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

static void new_table(struct ddb_client *c, char *name, size_t n)
{
	static atomic_int seq;
	struct ddb_request req = { .op = DDB_OP_CREATE_TABLE, .hash_key = "id" };
	struct ddb_result res;

	snprintf(name, n, "reaper_test_%d_%d", (int)getpid(), atomic_fetch_add(&seq, 1));
	req.table = name;
	ck_assert_int_eq(ddb_client_call(c, &req, &res), ERROR_OK);
	ddb_result_clear(&res);
	for (int i = 0; i < 200; i++) {
		struct ddb_request d = { .op = DDB_OP_DESCRIBE_TABLE, .table = name };
		ck_assert_int_eq(ddb_client_call(c, &d, &res), ERROR_OK);
		bool active = strcmp(res.resp.table_status, "ACTIVE") == 0;
		ddb_result_clear(&res);
		if (active)
			return;
		usleep(20000);
	}
	ck_abort_msg("table never became ACTIVE");
}

/* ---- seeding ---------------------------------------------------------------- */

enum kind { EXPIRED, LIVE, FOREIGN, NODE_EXPIRED, NODE_LIVE, N_KINDS };

struct seed {
	char id[48];
	char expires[32];
	enum kind kind;
};

static atomic_int seeded_ok, seeded_done;

static void on_seeded(void *arg, struct ddb_result *res)
{
	(void)arg;
	if (res->rc == ERROR_OK)
		atomic_fetch_add(&seeded_ok, 1);
	atomic_fetch_add(&seeded_done, 1);
}

/* The sess text of seed i: distinct per item, so "byte for byte" means it. */
static void sess_of(int i, char *out, size_t n)
{
	snprintf(out, n, "{\"cookie\":{\"maxAge\":86400000},\"n\":%d,\"s\":\"\\u00e9t\\u00e9\"}", i);
}

static void put_seed(struct ddb_client *c, const char *table, const struct seed *s, int i)
{
	struct ddb_item item = { 0 };
	struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = table, .item = &item };
	char sess[128];

	sess_of(i, sess, sizeof(sess));
	ddb_item_add_s(&item, "id", s->id, strlen(s->id));
	ddb_item_add_n(&item, "expires", s->expires);
	ddb_item_add_s(&item, "type", "connect-session", 15);
	ddb_item_add_s(&item, "sess", sess, strlen(sess));
	if (s->kind == EXPIRED || s->kind == LIVE || s->kind == FOREIGN)
		ddb_item_add_n_i64(&item, "version", i % 7 + 1);
	ck_assert_int_eq(ddb_client_submit(c, &req, on_seeded, NULL), ERROR_OK);
	ddb_item_clear(&item);
}

static struct seed *seed_table(struct ddb_client *c, const char *table, int n)
{
	struct seed *seeds = calloc((size_t)n, sizeof(*seeds));
	int64_t now = wall();

	atomic_store(&seeded_ok, 0);
	atomic_store(&seeded_done, 0);
	for (int i = 0; i < n; i++) {
		struct seed *s = &seeds[i];
		s->kind = (enum kind)(i % N_KINDS);
		switch (s->kind) {
		case EXPIRED:
			snprintf(s->id, sizeof(s->id), "sess:expired-%d", i);
			snprintf(s->expires, sizeof(s->expires), "%lld", (long long)(now - 1 - i % 500));
			break;
		case LIVE:
			snprintf(s->id, sizeof(s->id), "sess:live-%d", i);
			snprintf(s->expires, sizeof(s->expires), "%lld", (long long)(now + 3600));
			break;
		case FOREIGN: /* another app's item, expired by any reading */
			snprintf(s->id, sizeof(s->id), "cart:%d", i);
			snprintf(s->expires, sizeof(s->expires), "%lld", (long long)(now - 100));
			break;
		case NODE_EXPIRED: /* connect-dynamodb: fractional, no version */
			snprintf(s->id, sizeof(s->id), "sess:node-old-%d", i);
			snprintf(s->expires, sizeof(s->expires), "%lld.123", (long long)(now - 10));
			break;
		case NODE_LIVE:
			snprintf(s->id, sizeof(s->id), "sess:node-new-%d", i);
			snprintf(s->expires, sizeof(s->expires), "%lld.5", (long long)(now + 3600));
			break;
		default:
			break;
		}
		put_seed(c, table, s, i);
	}
	while (atomic_load(&seeded_done) < n)
		usleep(2000);
	ck_assert_int_eq(atomic_load(&seeded_ok), n);
	return seeds;
}

/* Every item of the table, read back with a consistent paginated Scan. */
static struct ddb_item *scan_all(struct ddb_client *c, const char *table, size_t *n)
{
	struct ddb_item *all = NULL, start = { 0 };
	bool more = true;

	*n = 0;
	while (more) {
		struct ddb_request req = {
			.op = DDB_OP_SCAN, .table = table, .consistent_read = true,
			.exclusive_start_key = start.n ? &start : NULL,
		};
		struct ddb_result res;
		ck_assert_int_eq(ddb_client_call(c, &req, &res), ERROR_OK);
		all = realloc(all, (*n + res.resp.n_items) * sizeof(*all));
		for (size_t i = 0; i < res.resp.n_items; i++) {
			memset(&all[*n], 0, sizeof(all[*n]));
			ck_assert_int_eq(ddb_item_copy(&all[(*n)++], &res.resp.items[i]), ERROR_OK);
		}
		more = res.resp.has_last_key;
		if (more)
			ddb_item_copy(&start, &res.resp.last_key);
		ddb_result_clear(&res);
	}
	ddb_item_clear(&start);
	return all;
}

static void free_items(struct ddb_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ddb_item_clear(&items[i]);
	free(items);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- tests ------------------------------------------------------------------- */

#define N_ITEMS 10000

START_TEST(one_pass_deletes_exactly_the_expired_sessions)
{
	struct ddb_client *c = dynalite_client();
	char table[64], sess[128];
	struct seed *seeds;
	struct ddb_item *items;
	struct reaper *r;
	struct reaper_stats st;
	size_t n, kept = 0;
	bool skipped;
	char **ids;

	new_table(c, table, sizeof(table));
	seeds = seed_table(c, table, N_ITEMS);
	struct reaper_config cfg = {
		.table = table, .hash_key = "id", .prefix = "sess:", .interval = 600,
		.max_deletes_per_second = 0, .segments = 4,
	};
	r = reaper_new(&cfg, c);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(reaper_pass(r, &skipped), ERROR_OK);
	ck_assert(!skipped);
	reaper_stats(r, &st);
	ck_assert_uint_eq(st.passes, 1);
	ck_assert_uint_eq(st.deleted, N_ITEMS / N_KINDS * 2); /* EXPIRED + NODE_EXPIRED */
	ck_assert_uint_eq(st.conflicts, 0);

	items = scan_all(c, table, &n);
	ids = calloc(n, sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		ids[i] = ddb_item_get(&items[i], "id")->value;
	qsort(ids, n, sizeof(*ids), cmp_str);
	for (int i = 0; i < N_ITEMS; i++) {
		const struct seed *s = &seeds[i];
		char *key = (char *)s->id;
		bool present = bsearch(&key, ids, n, sizeof(*ids), cmp_str) != NULL;
		bool keep = s->kind == LIVE || s->kind == FOREIGN || s->kind == NODE_LIVE;
		ck_assert_msg(present == keep, "%s: present=%d keep=%d", s->id, present, keep);
		kept += keep;
	}
	/* Everything kept is byte for byte what was written. */
	for (size_t i = 0; i < n; i++) {
		const char *id = ddb_item_get(&items[i], "id")->value;
		if (strcmp(id, "sessiond/reaper-lease") == 0)
			continue;
		int idx = atoi(strrchr(id, id[0] == 'c' ? ':' : '-') + 1);
		ck_assert_str_eq(ddb_item_get(&items[i], "expires")->value, seeds[idx].expires);
		sess_of(idx, sess, sizeof(sess));
		ck_assert_str_eq(ddb_item_get(&items[i], "sess")->value, sess);
		ck_assert_str_eq(ddb_item_get(&items[i], "type")->value, "connect-session");
		ck_assert((ddb_item_get(&items[i], "version") != NULL) == (seeds[idx].kind != NODE_LIVE));
	}
	ck_assert_uint_eq(n, kept + 1); /* + the lease item */
	free(ids);
	free_items(items, n);
	free(seeds);
	reaper_free(r);
	ddb_client_free(c);
}
END_TEST

/* Touch the first few candidates after the scan, before their deletes. */
struct toucher {
	struct ddb_client *c;
	const char *table;
	int n;
	bool done;
};

static void touch_some(void *arg)
{
	struct toucher *t = arg;
	char id[32];

	if (t->done)
		return;
	t->done = true;
	for (int i = 0; i < t->n; i++) {
		struct ddb_item key = { 0 }, values = { 0 };
		struct ddb_name names[] = { { "#e", "expires" } };
		struct ddb_request req = {
			.op = DDB_OP_UPDATE_ITEM, .table = t->table, .key = &key,
			.update = "SET #e = :e", .names = names, .n_names = 1, .values = &values,
		};
		struct ddb_result res;
		snprintf(id, sizeof(id), "sess:t-%d", i);
		ddb_item_add_s(&key, "id", id, strlen(id));
		ddb_item_add_n_i64(&values, ":e", wall() + 600);
		ck_assert_int_eq(ddb_client_call(t->c, &req, &res), ERROR_OK);
		ddb_result_clear(&res);
		ddb_item_clear(&key);
		ddb_item_clear(&values);
	}
}

START_TEST(a_session_touched_after_the_scan_survives)
{
	struct ddb_client *c = dynalite_client();
	char table[64], id[32];
	struct toucher t = { .c = c, .n = 10 };
	struct reaper_stats st;
	struct reaper *r;
	size_t n;
	bool skipped;

	new_table(c, table, sizeof(table));
	t.table = table;
	atomic_store(&seeded_done, 0);
	for (int i = 0; i < 50; i++) {
		struct seed s = { .kind = EXPIRED };
		snprintf(s.id, sizeof(s.id), "sess:t-%d", i);
		snprintf(s.expires, sizeof(s.expires), "%lld", (long long)(wall() - 5));
		put_seed(c, table, &s, i);
	}
	while (atomic_load(&seeded_done) < 50)
		usleep(1000);
	struct reaper_config cfg = {
		.table = table, .hash_key = "id", .prefix = "sess:", .interval = 600,
		.segments = 1, .after_page = touch_some, .after_page_arg = &t,
	};
	r = reaper_new(&cfg, c);
	ck_assert_int_eq(reaper_pass(r, &skipped), ERROR_OK);
	reaper_stats(r, &st);
	ck_assert_uint_eq(st.scanned, 50);
	ck_assert_uint_eq(st.deleted, 40);
	ck_assert_uint_eq(st.conflicts, 10);
	struct ddb_item *items = scan_all(c, table, &n);
	ck_assert_uint_eq(n, 11); /* the touched ten and the lease */
	for (size_t i = 0; i < n; i++) {
		const char *v = ddb_item_get(&items[i], "id")->value;
		snprintf(id, sizeof(id), "%s", v);
		ck_assert_msg(strcmp(id, "sessiond/reaper-lease") == 0 || atoi(id + 7) < 10, "%s", id);
	}
	free_items(items, n);
	reaper_free(r);
	ddb_client_free(c);
}
END_TEST

START_TEST(one_reaper_per_fleet)
{
	struct ddb_client *c = dynalite_client();
	char table[64];
	struct reaper *a, *b;
	struct reaper_stats st;
	bool skipped;

	new_table(c, table, sizeof(table));
	struct reaper_config cfg = {
		.table = table, .hash_key = "id", .prefix = "sess:", .interval = 600, .segments = 1,
	};
	a = reaper_new(&cfg, c);
	b = reaper_new(&cfg, c);
	ck_assert_int_eq(reaper_pass(a, &skipped), ERROR_OK);
	ck_assert(!skipped);
	ck_assert_int_eq(reaper_pass(b, &skipped), ERROR_OK);
	ck_assert(skipped); /* a holds the lease for its interval */
	ck_assert_int_eq(reaper_pass(a, &skipped), ERROR_OK);
	ck_assert(!skipped); /* the owner renews it */
	reaper_stats(b, &st);
	ck_assert_uint_eq(st.skipped_passes, 1);
	ck_assert_uint_eq(st.passes, 0);

	/* a crashed: its lease runs out, and b takes over. */
	struct ddb_item item = { 0 };
	struct ddb_request put = { .op = DDB_OP_PUT_ITEM, .table = table, .item = &item };
	struct ddb_result res;
	ddb_item_add_s(&item, "id", "sessiond/reaper-lease", 21);
	ddb_item_add_s(&item, "owner", "someone-who-crashed", 19);
	ddb_item_add_n_i64(&item, "lease_until", wall() - 1);
	ck_assert_int_eq(ddb_client_call(c, &put, &res), ERROR_OK);
	ddb_result_clear(&res);
	ddb_item_clear(&item);
	ck_assert_int_eq(reaper_pass(b, &skipped), ERROR_OK);
	ck_assert(!skipped);
	reaper_free(a);
	reaper_free(b);
	ddb_client_free(c);
}
END_TEST

/* Deletes cannot outrun max_deletes_per_second: a lower bound on the time
 * taken, which a slow machine cannot break. */
START_TEST(deletes_respect_the_rate_limit)
{
	struct ddb_client *c = dynalite_client();
	char table[64];
	struct reaper *r;
	struct reaper_stats st;
	struct timespec t0, t1;
	bool skipped;

	new_table(c, table, sizeof(table));
	atomic_store(&seeded_done, 0);
	for (int i = 0; i < 60; i++) {
		struct seed s = { .kind = EXPIRED };
		snprintf(s.id, sizeof(s.id), "sess:r-%d", i);
		snprintf(s.expires, sizeof(s.expires), "%lld", (long long)(wall() - 5));
		put_seed(c, table, &s, i);
	}
	while (atomic_load(&seeded_done) < 60)
		usleep(1000);
	struct reaper_config cfg = {
		.table = table, .hash_key = "id", .prefix = "sess:", .interval = 600,
		.max_deletes_per_second = 40, .segments = 2,
	};
	r = reaper_new(&cfg, c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(reaper_pass(r, &skipped), ERROR_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	reaper_stats(r, &st);
	ck_assert_uint_eq(st.deleted, 60);
	/* The bucket starts empty and holds at most rate/10 tokens: 60 deletes
	 * at 40/s take at least (60 - 4) / 40 = 1.4 s. */
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs >= 1.4, "60 deletes at 40/s took only %.2f s", secs);
	reaper_free(r);
	ddb_client_free(c);
}
END_TEST

/* The thread stops promptly while a scan hangs on a silent DynamoDB:
 * reaper.h promises "within a second", asserted here with slack for a
 * loaded machine. */
START_TEST(stop_returns_in_the_middle_of_a_pass)
{
	const struct fake_reply script[] = {
		{ FAKE_REPLY, 200, "{}", NULL }, /* the lease PutItem */
		{ FAKE_SILENT, 0, "", NULL },    /* the Scan never answers */
	};
	struct fake_http *f = fake_http_start(script, 2);
	char url[64];
	struct ddb_client *c;
	struct reaper *r;
	int64_t deadline, t0, stop_ms;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fake_http_port(f));
	c = client_for(url, 30000);
	struct reaper_config cfg = {
		.table = "t-silent", .hash_key = "id", .prefix = "sess:", .interval = 600,
		.segments = 1, .first_pass_now = true,
	};
	r = reaper_new(&cfg, c);
	ck_assert_int_eq(reaper_start(r), ERROR_OK);
	deadline = now_mono_ms() + 10000;
	while (fake_http_count(f) < 2) {
		ck_assert_msg(now_mono_ms() < deadline, "the pass never reached its Scan (%zu requests)",
			      fake_http_count(f));
		usleep(2000);
	}
	t0 = now_mono_ms();
	reaper_stop(r);
	stop_ms = now_mono_ms() - t0;
	ck_assert_msg(stop_ms < 5000, "reaper_stop took %lld ms in the middle of a pass",
		      (long long)stop_ms);
	ddb_client_free(c);
	reaper_free(r);
	fake_http_stop(f);
}
END_TEST

START_TEST(a_failed_pass_is_counted_and_not_fatal)
{
	const struct fake_reply script[] = {
		{ FAKE_REPLY, 200, "{}", NULL },
		{ FAKE_REPLY, 400,
		  "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"no\"}", NULL },
	};
	struct fake_http *f = fake_http_start(script, 2);
	char url[64];
	struct ddb_client *c;
	struct reaper *r;
	struct reaper_stats st;
	bool skipped;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fake_http_port(f));
	c = client_for(url, 5000);
	struct reaper_config cfg = {
		.table = "t-broken", .hash_key = "id", .prefix = "sess:", .interval = 600, .segments = 1,
	};
	r = reaper_new(&cfg, c);
	ck_assert_int_eq(reaper_pass(r, &skipped), ERROR_UNAVAILABLE);
	reaper_stats(r, &st);
	ck_assert_uint_eq(st.failed_passes, 1);
	ck_assert_uint_eq(st.passes, 0);
	reaper_free(r);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reaper");
	TCase *tc = tcase_create("dynalite");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, one_pass_deletes_exactly_the_expired_sessions);
	tcase_add_test(tc, a_session_touched_after_the_scan_survives);
	tcase_add_test(tc, one_reaper_per_fleet);
	tcase_add_test(tc, deletes_respect_the_rate_limit);
	tcase_add_test(tc, stop_returns_in_the_middle_of_a_pass);
	tcase_add_test(tc, a_failed_pass_is_counted_and_not_fatal);
	suite_add_tcase(s, tc);
	return check_run(s);
}
