/* test_ddb_client.c: the DynamoDB client through its real transport, against
 * dynalite (SESSIOND_TEST_DDB_ENDPOINT, started by scripts/run-tests.sh) and
 * against fake_http for the faults dynalite cannot produce. */
#include <arpa/inet.h>
#include <check.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "helpers/fake_http.h"
#include "sessiond/ddb_client.h"
#include "sessiond/sigv4.h"

#define TEST_AKID "AKIDEXAMPLE"
#define TEST_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static const char *endpoint(void)
{
	const char *e = getenv("SESSIOND_TEST_DDB_ENDPOINT");

	ck_assert_msg(e && *e, "SESSIOND_TEST_DDB_ENDPOINT is not set (run via make check)");
	return e;
}

static struct ddb_client_config base_config(const char *url)
{
	return (struct ddb_client_config){
		.region = "us-east-1",
		.endpoint = url,
		.access_key_id = TEST_AKID,
		.secret_access_key = TEST_SECRET,
		.max_connections = 8,
		.timeout_ms = 5000,
		.max_attempts = 4,
		.backoff_base_ms = 5,
		.backoff_max_ms = 20,
	};
}

static struct ddb_client *client_for(const struct ddb_client_config *cfg)
{
	enum error_code rc = ERROR_INVALID;
	struct ddb_client *c = ddb_client_new(cfg, &rc);

	ck_assert_int_eq(rc, ERROR_OK);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* A table name no other test (or earlier run) uses. */
static void table_name(char *out, size_t n)
{
	static atomic_int seq;
	snprintf(out, n, "sessiond_test_%d_%d", (int)getpid(), atomic_fetch_add(&seq, 1));
}

/* Creates table with hash key "id" and waits until it is ACTIVE. */
static void create_table(struct ddb_client *c, const char *table)
{
	struct ddb_request req = { .op = DDB_OP_CREATE_TABLE, .table = table, .hash_key = "id" };
	struct ddb_result res;

	ck_assert_int_eq(ddb_client_call(c, &req, &res), ERROR_OK);
	ck_assert_str_eq(res.resp.hash_key, "id");
	ddb_result_clear(&res);
	for (int i = 0; i < 200; i++) {
		struct ddb_request d = { .op = DDB_OP_DESCRIBE_TABLE, .table = table };
		ck_assert_int_eq(ddb_client_call(c, &d, &res), ERROR_OK);
		bool active = strcmp(res.resp.table_status, "ACTIVE") == 0;
		ddb_result_clear(&res);
		if (active)
			return;
		usleep(20000);
	}
	ck_abort_msg("table %s never became ACTIVE", table);
}

static enum error_code put_session(struct ddb_client *c, const char *table, const char *id,
				   int64_t version)
{
	struct ddb_item item = { 0 };
	struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = table, .item = &item };
	struct ddb_result res;
	enum error_code rc;

	ck_assert_int_eq(ddb_item_add_s(&item, "id", id, strlen(id)), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n(&item, "expires", "1764060000.123"), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_s(&item, "sess", "{\"user\":42}", 11), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n_i64(&item, "version", version), ERROR_OK);
	rc = ddb_client_call(c, &req, &res);
	ddb_result_clear(&res);
	ddb_item_clear(&item);
	return rc;
}

static bool get_session(struct ddb_client *c, const char *table, const char *id,
			struct ddb_item *out)
{
	struct ddb_item key = { 0 };
	struct ddb_request req = {
		.op = DDB_OP_GET_ITEM, .table = table, .key = &key, .consistent_read = true
	};
	struct ddb_result res;
	bool found;

	ddb_item_add_s(&key, "id", id, strlen(id));
	ck_assert_int_eq(ddb_client_call(c, &req, &res), ERROR_OK);
	found = res.resp.has_item;
	if (out && found)
		ck_assert_int_eq(ddb_item_copy(out, &res.resp.item), ERROR_OK);
	ddb_result_clear(&res);
	ddb_item_clear(&key);
	return found;
}

/* ---- against dynalite -------------------------------------------------- */

START_TEST(put_get_update_delete)
{
	struct ddb_client_config cfg = base_config(endpoint());
	struct ddb_client *c = client_for(&cfg);
	struct ddb_item got = { 0 }, key = { 0 }, values = { 0 };
	const struct ddb_attr *a;
	struct ddb_result res;
	char table[64];

	table_name(table, sizeof(table));
	create_table(c, table);
	ck_assert_int_eq(put_session(c, table, "sess:ключ-😀", 1), ERROR_OK);
	ck_assert(get_session(c, table, "sess:ключ-😀", &got));
	a = ddb_item_get(&got, "expires");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->type, DDB_TYPE_N);
	ck_assert_str_eq(a->value, "1764060000.123");
	ck_assert_str_eq(ddb_item_get(&got, "sess")->value, "{\"user\":42}");
	ddb_item_clear(&got);

	/* Conditional update on version: the first wins, the stale one fails. */
	struct ddb_name names[] = { { "#v", "version" }, { "#s", "sess" } };
	ddb_item_add_s(&key, "id", "sess:ключ-😀", strlen("sess:ключ-😀"));
	ddb_item_add_n_i64(&values, ":old", 1);
	ddb_item_add_n_i64(&values, ":new", 2);
	ddb_item_add_s(&values, ":s", "{\"user\":43}", 11);
	struct ddb_request upd = {
		.op = DDB_OP_UPDATE_ITEM,
		.table = table,
		.key = &key,
		.update = "SET #v = :new, #s = :s",
		.condition = "#v = :old",
		.names = names,
		.n_names = 2,
		.values = &values,
		.return_values = DDB_RETURN_ALL_NEW,
	};
	ck_assert_int_eq(ddb_client_call(c, &upd, &res), ERROR_OK);
	ck_assert(res.resp.has_item);
	ck_assert_str_eq(ddb_item_get(&res.resp.item, "version")->value, "2");
	ck_assert_str_eq(ddb_item_get(&res.resp.item, "sess")->value, "{\"user\":43}");
	ck_assert_uint_eq(res.attempts, 1);
	ddb_result_clear(&res);
	ck_assert_int_eq(ddb_client_call(c, &upd, &res), ERROR_CONDITION);
	ck_assert_int_eq(res.err.cls, DDB_ERR_CONDITION);
	ck_assert_str_eq(res.err.type, "ConditionalCheckFailedException");
	ck_assert_uint_eq(res.attempts, 1); /* a condition failure is not retried */
	ddb_result_clear(&res);

	struct ddb_request del = {
		.op = DDB_OP_DELETE_ITEM, .table = table, .key = &key,
		.return_values = DDB_RETURN_ALL_OLD,
	};
	ck_assert_int_eq(ddb_client_call(c, &del, &res), ERROR_OK);
	ck_assert(res.resp.has_item);
	ck_assert_str_eq(ddb_item_get(&res.resp.item, "version")->value, "2");
	ddb_result_clear(&res);
	ck_assert(!get_session(c, table, "sess:ключ-😀", NULL));

	ddb_item_clear(&key);
	ddb_item_clear(&values);
	ddb_client_free(c);
}
END_TEST

START_TEST(upstream_errors_are_not_retried)
{
	struct ddb_client_config cfg = base_config(endpoint());
	struct ddb_client *c = client_for(&cfg);
	struct ddb_request req = { .op = DDB_OP_DESCRIBE_TABLE, .table = "no_such_table_here" };
	struct ddb_request ttl = {
		.op = DDB_OP_UPDATE_TIME_TO_LIVE, .table = "no_such_table_here",
		.ttl_attribute = "expires", .ttl_enabled = true,
	};
	struct ddb_result res;

	ck_assert_int_eq(ddb_client_call(c, &req, &res), ERROR_UPSTREAM);
	ck_assert_str_eq(res.err.type, "ResourceNotFoundException");
	ck_assert_int_eq(res.err.http_status, 400);
	ck_assert_uint_eq(res.attempts, 1);
	ddb_result_clear(&res);
	/* dynalite does not implement UpdateTimeToLive (see dynalite-notes). */
	ck_assert_int_eq(ddb_client_call(c, &ttl, &res), ERROR_UPSTREAM);
	ck_assert_str_eq(res.err.type, "UnknownOperationException");
	ddb_result_clear(&res);
	ddb_client_free(c);
}
END_TEST

START_TEST(scan_pages_and_segments)
{
	struct ddb_client_config cfg = base_config(endpoint());
	struct ddb_client *c = client_for(&cfg);
	struct ddb_item values = { 0 }, start = { 0 };
	struct ddb_name names[] = { { "#id", "id" }, { "#e", "expires" } };
	char table[64], id[32];
	int seen[250] = { 0 }, pages = 0, total = 0;

	table_name(table, sizeof(table));
	create_table(c, table);
	for (int i = 0; i < 250; i++) {
		snprintf(id, sizeof(id), "%s%d", i % 5 == 0 ? "other:" : "sess:", i);
		ck_assert_int_eq(put_session(c, table, id, i), ERROR_OK);
	}
	ddb_item_add_s(&values, ":p", "sess:", 5);
	for (int seg = 0; seg < 2; seg++) {
		bool more = true;
		ddb_item_clear(&start);
		while (more) {
			struct ddb_request req = {
				.op = DDB_OP_SCAN,
				.table = table,
				.projection = "#id, #e",
				.filter = "begins_with(#id, :p)",
				.names = names,
				.n_names = 2,
				.values = &values,
				.segment = seg,
				.total_segments = 2,
				.limit = 40,
				.exclusive_start_key = start.n ? &start : NULL,
				.consistent_read = true,
			};
			struct ddb_result res;
			ck_assert_int_eq(ddb_client_call(c, &req, &res), ERROR_OK);
			pages++;
			for (size_t i = 0; i < res.resp.n_items; i++) {
				const struct ddb_item *it = &res.resp.items[i];
				ck_assert_ptr_null(ddb_item_get(it, "sess")); /* projected away */
				const char *v = ddb_item_get(it, "id")->value;
				ck_assert_int_eq(strncmp(v, "sess:", 5), 0);
				seen[atoi(v + 5)]++;
				total++;
			}
			more = res.resp.has_last_key;
			if (more)
				ck_assert_int_eq(ddb_item_copy(&start, &res.resp.last_key), ERROR_OK);
			ddb_result_clear(&res);
		}
	}
	ck_assert_int_eq(total, 200);
	for (int i = 0; i < 250; i++)
		ck_assert_int_eq(seen[i], i % 5 == 0 ? 0 : 1);
	ck_assert_int_ge(pages, 7); /* 250 items at 40 a page, in two segments */
	ddb_item_clear(&values);
	ddb_item_clear(&start);
	ddb_client_free(c);
}
END_TEST

/* ---- 2,000 concurrent requests from 8 threads -------------------------- */

#define LOAD_THREADS 8
#define LOAD_PER_THREAD 250
#define LOAD_MAX_CONNECTIONS 16

struct load {
	struct ddb_client *client;
	const char *table;
	int thread;
	atomic_int ok;
	atomic_int failed;
	atomic_int done;
};

/* The endpoint as a host name, not an address: libcurl then resolves it
 * on a thread of its own and hands the loop that thread's socket to watch,
 * which it closes itself, without the close callback; a new connection
 * often gets the same descriptor number right after. The machine's own name
 * is used when it resolves to the loopback (as on the project's machines). */
START_TEST(an_endpoint_by_host_name_resolves_and_connects)
{
	char host[256], url[512], table[64];
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	const char *port = strrchr(endpoint(), ':');
	struct ddb_client_config cfg;
	struct ddb_client *c;
	bool loopback;

	ck_assert_ptr_nonnull(port);
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	loopback = getaddrinfo(host, NULL, &hints, &ai) == 0 && ai &&
		   (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
	if (ai)
		freeaddrinfo(ai);
	if (!loopback) {
		fprintf(stderr, "skipped: the host name \"%s\" does not resolve to the loopback\n",
			host);
		return;
	}
	snprintf(url, sizeof(url), "http://%s%s", host, port);
	cfg = base_config(url);
	cfg.timeout_ms = 2000;
	c = client_for(&cfg);
	table_name(table, sizeof(table));
	create_table(c, table);
	for (int i = 0; i < 20; i++) {
		char id[32];

		snprintf(id, sizeof(id), "sess:by-name-%d", i);
		ck_assert_int_eq(put_session(c, table, id, 1), ERROR_OK);
	}
	ddb_client_free(c);
}
END_TEST

static void on_load_done(void *arg, struct ddb_result *result)
{
	struct load *l = arg;

	if (result->rc == ERROR_OK)
		atomic_fetch_add(&l->ok, 1);
	else
		atomic_fetch_add(&l->failed, 1);
	atomic_fetch_add(&l->done, 1);
}

static void *load_thread(void *arg)
{
	struct load *l = arg;
	char id[64];

	for (int i = 0; i < LOAD_PER_THREAD; i++) {
		struct ddb_item item = { 0 };
		snprintf(id, sizeof(id), "sess:t%d-%d", l->thread, i);
		ddb_item_add_s(&item, "id", id, strlen(id));
		ddb_item_add_n_i64(&item, "version", i);
		struct ddb_request req = { .op = DDB_OP_PUT_ITEM, .table = l->table, .item = &item };
		if (ddb_client_submit(l->client, &req, on_load_done, l) != ERROR_OK) {
			atomic_fetch_add(&l->failed, 1);
			atomic_fetch_add(&l->done, 1);
		}
		ddb_item_clear(&item);
	}
	return NULL;
}

START_TEST(concurrent_requests_share_the_pool)
{
	struct ddb_client_config cfg = base_config(endpoint());
	struct ddb_client *c;
	struct ddb_client_stats st;
	struct load loads[LOAD_THREADS];
	pthread_t th[LOAD_THREADS];
	char table[64], id[64];
	int ok = 0;

	cfg.max_connections = LOAD_MAX_CONNECTIONS;
	c = client_for(&cfg);
	table_name(table, sizeof(table));
	create_table(c, table);
	for (int t = 0; t < LOAD_THREADS; t++) {
		loads[t] = (struct load){ .client = c, .table = table, .thread = t };
		pthread_create(&th[t], NULL, load_thread, &loads[t]);
	}
	for (int t = 0; t < LOAD_THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < LOAD_THREADS; t++) {
		while (atomic_load(&loads[t].done) < LOAD_PER_THREAD)
			usleep(1000);
		ok += atomic_load(&loads[t].ok);
	}
	ck_assert_int_eq(ok, LOAD_THREADS * LOAD_PER_THREAD);
	ddb_client_stats(c, &st);
	fprintf(stderr, "2000 requests: %llu connections opened, peak %llu open\n",
		(unsigned long long)st.connections_opened,
		(unsigned long long)st.connections_peak);
	ck_assert_uint_le(st.connections_peak, LOAD_MAX_CONNECTIONS);
	ck_assert_uint_le(st.connections_opened, LOAD_MAX_CONNECTIONS);
	ck_assert_uint_ge(st.completed, LOAD_THREADS * LOAD_PER_THREAD);
	/* Every write landed: spot-check one item of each thread. */
	for (int t = 0; t < LOAD_THREADS; t++) {
		snprintf(id, sizeof(id), "sess:t%d-%d", t, LOAD_PER_THREAD - 1 - t);
		ck_assert(get_session(c, table, id, NULL));
	}
	ddb_client_free(c);
}
END_TEST

struct tally {
	atomic_int calls;
	atomic_int ok;
	atomic_int cancelled;
	atomic_int other;
};

static void on_tally(void *arg, struct ddb_result *result)
{
	struct tally *t = arg;

	atomic_fetch_add(&t->calls, 1);
	if (result->rc == ERROR_OK)
		atomic_fetch_add(&t->ok, 1);
	else if (result->rc == ERROR_CANCELLED)
		atomic_fetch_add(&t->cancelled, 1);
	else
		atomic_fetch_add(&t->other, 1);
}

START_TEST(shutdown_cancels_requests_in_flight)
{
	struct ddb_client_config cfg = base_config(endpoint());
	struct ddb_client *c = client_for(&cfg);
	struct tally t = { 0 };
	struct ddb_item key = { 0 };
	struct ddb_request req = { .op = DDB_OP_GET_ITEM, .table = "no_wait", .key = &key };
	int n = 500;

	ddb_item_add_s(&key, "id", "sess:x", 6);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(ddb_client_submit(c, &req, on_tally, &t), ERROR_OK);
	ddb_client_free(c);
	/* Every callback ran exactly once before free returned. */
	ck_assert_int_eq(atomic_load(&t.calls), n);
	ck_assert_int_gt(atomic_load(&t.cancelled), 0);
	ck_assert_int_eq(atomic_load(&t.ok) + atomic_load(&t.cancelled) + atomic_load(&t.other), n);
	ddb_item_clear(&key);
}
END_TEST

START_TEST(tls_certificate_is_verified)
{
	const char *tls = getenv("SESSIOND_TEST_DDB_TLS_ENDPOINT");
	struct ddb_client_config cfg;
	struct ddb_request req = { .op = DDB_OP_DESCRIBE_TABLE, .table = "t" };
	struct ddb_result res;
	struct ddb_client *c;

	ck_assert_msg(tls && *tls, "SESSIOND_TEST_DDB_TLS_ENDPOINT is not set");
	/* dynalite's certificate is self-signed and expired: refused at once,
	 * and not retried, since retrying cannot make it valid. */
	cfg = base_config(tls);
	c = client_for(&cfg);
	ck_assert_int_eq(ddb_client_call(c, &req, &res), ERROR_IO);
	ck_assert_int_eq(res.err.cls, DDB_ERR_FATAL);
	ck_assert_uint_eq(res.attempts, 1);
	ddb_result_clear(&res);
	ddb_client_free(c);
}
END_TEST

/* ---- faults, through fake_http ----------------------------------------- */

static char *fake_url(struct fake_http *f)
{
	static char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fake_http_port(f));
	return url;
}

#define OK_GET "{\"Item\":{\"id\":{\"S\":\"sess:a\"},\"version\":{\"N\":\"7\"}}}"

static enum error_code fake_get(struct ddb_client *c, struct ddb_result *res)
{
	struct ddb_item key = { 0 };
	struct ddb_request req = { .op = DDB_OP_GET_ITEM, .table = "sessions", .key = &key };
	enum error_code rc;

	ddb_item_add_s(&key, "id", "sess:a", 6);
	rc = ddb_client_call(c, &req, res);
	ddb_item_clear(&key);
	return rc;
}

START_TEST(retryable_faults_are_retried_until_success)
{
	const struct fake_reply script[] = {
		{ FAKE_REPLY, 500, "<html><body>Internal Server Error</body></html>", NULL },
		{ FAKE_REPLY, 400,
		  "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\","
		  "\"message\":\"Rate exceeded\"}", NULL },
		{ FAKE_REPLY_BADCRC, 200, OK_GET, NULL },
		{ FAKE_REPLY, 200, OK_GET, NULL },
	};
	struct fake_http *f = fake_http_start(script, 4);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client *c = client_for(&cfg);
	struct ddb_client_stats st;
	struct ddb_result res;

	ck_assert_int_eq(fake_get(c, &res), ERROR_OK);
	ck_assert_uint_eq(res.attempts, 4);
	ck_assert(res.resp.has_item);
	ck_assert_str_eq(ddb_item_get(&res.resp.item, "version")->value, "7");
	ddb_result_clear(&res);
	ddb_client_stats(c, &st);
	ck_assert_uint_eq(st.retries, 3);
	ck_assert_uint_eq(st.throttles, 1);
	ck_assert_uint_eq(fake_http_count(f), 4);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(retries_run_out)
{
	const struct fake_reply script[] = { { FAKE_REPLY, 200, "{\"Item\": {\"id\": ", NULL } };
	struct fake_http *f = fake_http_start(script, 1);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client *c;
	struct ddb_result res;

	cfg.max_attempts = 3;
	c = client_for(&cfg);
	/* A 2xx whose body does not parse is retried, never trusted. */
	ck_assert_int_eq(fake_get(c, &res), ERROR_UNAVAILABLE);
	ck_assert_uint_eq(res.attempts, 3);
	ck_assert_str_eq(res.err.type, "MalformedResponse");
	ck_assert_uint_eq(fake_http_count(f), 3);
	ddb_result_clear(&res);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(closed_connections_and_timeouts_are_retried)
{
	const struct fake_reply script[] = {
		{ FAKE_CLOSE, 0, "", NULL },
		{ FAKE_SILENT, 0, "", NULL },
		{ FAKE_REPLY, 200, OK_GET, NULL },
	};
	struct fake_http *f = fake_http_start(script, 3);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client *c;
	struct ddb_result res;

	cfg.timeout_ms = 200;
	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_OK);
	ck_assert_uint_eq(res.attempts, 3);
	ddb_result_clear(&res);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(validation_errors_fail_at_once)
{
	const struct fake_reply script[] = {
		{ FAKE_REPLY, 400,
		  "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
		  "\"Message\":\"One or more parameter values were invalid\"}", NULL },
	};
	struct fake_http *f = fake_http_start(script, 1);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client *c = client_for(&cfg);
	struct ddb_result res;

	ck_assert_int_eq(fake_get(c, &res), ERROR_UPSTREAM);
	ck_assert_uint_eq(res.attempts, 1);
	ck_assert_str_eq(res.err.type, "ValidationException");
	ck_assert_str_eq(res.err.message, "One or more parameter values were invalid");
	ddb_result_clear(&res);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(connection_refused_runs_out_of_attempts)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct ddb_client_config cfg;
	struct ddb_client *c;
	struct ddb_result res;
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was free a moment ago and has no listener now. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	cfg = base_config(url);
	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_UNAVAILABLE);
	ck_assert_uint_eq(res.attempts, 4);
	ck_assert_int_eq(res.err.cls, DDB_ERR_RETRYABLE);
	ck_assert_int_eq(res.err.http_status, 0);
	ddb_result_clear(&res);
	ddb_client_free(c);
}
END_TEST

START_TEST(oversized_response_is_refused)
{
	static char big[8192];
	struct fake_reply script[1] = { { FAKE_REPLY, 200, big, NULL } };
	struct fake_http *f;
	struct ddb_client_config cfg;
	struct ddb_client *c;
	struct ddb_result res;

	snprintf(big, sizeof(big), "{\"Item\":{\"id\":{\"S\":\"%0*d\"}}}", 8000, 0);
	f = fake_http_start(script, 1);
	cfg = base_config(fake_url(f));
	cfg.max_response = 4096;
	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_TOO_LARGE);
	ck_assert_uint_eq(res.attempts, 1);
	ddb_result_clear(&res);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

/* The bytes on the wire are exactly what was signed: re-sign the captured
 * request with the staged functions and compare. */
START_TEST(wire_request_matches_its_signature)
{
	const struct fake_reply script[] = { { FAKE_REPLY, 200, OK_GET, NULL } };
	struct fake_http *f = fake_http_start(script, 1);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client *c;
	struct ddb_result res;
	const struct fake_request *r;
	char host[64], ctype[64], date[32], target[64], token[64], authz[512], ae[32], expect[8];
	char want_host[64];

	cfg.session_token = "session-token-canary";
	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_OK);
	ddb_result_clear(&res);
	r = fake_http_request(f, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->line, "POST / HTTP/1.1");
	snprintf(want_host, sizeof(want_host), "127.0.0.1:%d", fake_http_port(f));
	ck_assert_int_eq(fake_http_header(r, "Host", host, sizeof(host)), 0);
	ck_assert_str_eq(host, want_host);
	ck_assert_int_eq(fake_http_header(r, "Content-Type", ctype, sizeof(ctype)), 0);
	ck_assert_str_eq(ctype, "application/x-amz-json-1.0");
	ck_assert_int_eq(fake_http_header(r, "X-Amz-Target", target, sizeof(target)), 0);
	ck_assert_str_eq(target, "DynamoDB_20120810.GetItem");
	ck_assert_int_eq(fake_http_header(r, "Accept-Encoding", ae, sizeof(ae)), 0);
	ck_assert_str_eq(ae, "identity");
	ck_assert_int_eq(fake_http_header(r, "Expect", expect, sizeof(expect)), -1);
	ck_assert_int_eq(fake_http_header(r, "X-Amz-Security-Token", token, sizeof(token)), 0);
	ck_assert_str_eq(token, "session-token-canary");
	ck_assert_int_eq(fake_http_header(r, "X-Amz-Date", date, sizeof(date)), 0);
	ck_assert_int_eq(fake_http_header(r, "Authorization", authz, sizeof(authz)), 0);

	/* Recompute from what arrived. */
	struct tm tm = { 0 };
	ck_assert_ptr_nonnull(strptime(date, "%Y%m%dT%H%M%SZ", &tm));
	struct sigv4_header hs[] = {
		{ "host", host }, { "content-type", ctype }, { "x-amz-date", date },
		{ "x-amz-target", target }, { "x-amz-security-token", token },
	};
	struct sigv4_request sreq = {
		.method = "POST", .path = "/", .headers = hs, .n_headers = 5,
		.body = r->body, .body_len = r->body_len,
	};
	struct sigv4_params params = {
		.region = "us-east-1", .service = "dynamodb", .now = timegm(&tm),
		.normalize_path = true,
	};
	struct sigv4_credentials creds = { TEST_AKID, TEST_SECRET, "session-token-canary" };
	struct sigv4_signer *s = sigv4_signer_new();
	struct buf want;
	buf_init(&want, 0);
	ck_assert_int_eq(sigv4_signer_sign(s, &creds, &sreq, &params, &want), ERROR_OK);
	ck_assert_str_eq(authz, want.data);
	ck_assert_ptr_nonnull(strstr(authz, "SignedHeaders=content-type;host;x-amz-date;"
					    "x-amz-security-token;x-amz-target"));
	buf_free(&want);
	sigv4_signer_free(s);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(configured_proxy_is_used)
{
	const struct fake_reply script[] = { { FAKE_REPLY, 200, OK_GET, NULL } };
	struct fake_http *proxy = fake_http_start(script, 1);
	struct ddb_client_config cfg = base_config("http://dynamodb.test.invalid:8000/");
	struct ddb_client *c;
	struct ddb_result res;
	const struct fake_request *r;

	cfg.proxy = fake_url(proxy);
	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_OK);
	ddb_result_clear(&res);
	r = fake_http_request(proxy, 0);
	ck_assert_ptr_nonnull(r);
	/* A forward proxy gets the absolute URL on the request line. */
	ck_assert_str_eq(r->line, "POST http://dynamodb.test.invalid:8000/ HTTP/1.1");
	ddb_client_free(c);
	fake_http_stop(proxy);
}
END_TEST

/* No retry starts that could not finish before the request's deadline. */
START_TEST(retries_stop_at_the_deadline)
{
	const struct fake_reply script[] = { { FAKE_SILENT, 0, "", NULL } };
	struct fake_http *f = fake_http_start(script, 1);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client *c;
	struct ddb_result res;

	cfg.timeout_ms = 200;
	cfg.max_attempts = 10;
	cfg.deadline_ms = 500;
	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_UNAVAILABLE);
	/* 200 ms attempts in a 500 ms budget: two fit, never ten. */
	ck_assert_uint_ge(res.attempts, 2);
	ck_assert_uint_le(res.attempts, 3);
	ck_assert(res.maybe_applied); /* sent whole, never answered */
	ddb_result_clear(&res);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

/* The retry quota: an outage does not multiply the load. */
START_TEST(the_retry_quota_runs_dry_and_refills)
{
	const struct fake_reply script[] = {
		{ FAKE_REPLY, 500, "{}", NULL }, { FAKE_REPLY, 500, "{}", NULL },
		{ FAKE_REPLY, 500, "{}", NULL }, { FAKE_REPLY, 500, "{}", NULL },
		{ FAKE_REPLY, 200, OK_GET, NULL },
	};
	struct fake_http *f = fake_http_start(script, 5);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client_stats st;
	struct ddb_client *c;
	struct ddb_result res;

	cfg.retry_quota = 12; /* two retries of 5 tokens */
	cfg.max_attempts = 10;
	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_UNAVAILABLE);
	ck_assert_uint_eq(res.attempts, 3); /* 12 -> 7 -> 2: no third retry */
	ddb_result_clear(&res);
	ck_assert_int_eq(fake_get(c, &res), ERROR_UNAVAILABLE);
	ck_assert_uint_eq(res.attempts, 1); /* the quota is dry */
	ddb_result_clear(&res);
	ck_assert_int_eq(fake_get(c, &res), ERROR_OK); /* success without retry: +1 */
	ddb_result_clear(&res);
	ddb_client_stats(c, &st);
	ck_assert_uint_eq(st.retry_quota, 3);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

/* A signature refused for clock skew is re-signed with DynamoDB's time. */
START_TEST(clock_skew_is_corrected_once)
{
	char date[64], headers[96];
	time_t ahead = time(NULL) + 3600;
	struct tm tm;
	gmtime_r(&ahead, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(headers, sizeof(headers), "Date: %s\r\n", date);
	const struct fake_reply script[] = {
		{ FAKE_REPLY, 400,
		  "{\"__type\":\"com.amazon.coral.service#InvalidSignatureException\","
		  "\"message\":\"Signature expired: 20261125T100000Z is now earlier than ...\"}",
		  headers },
		{ FAKE_REPLY, 200, OK_GET, NULL },
	};
	struct fake_http *f = fake_http_start(script, 2);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client_stats st;
	struct ddb_client *c;
	struct ddb_result res;
	char amz[32];

	c = client_for(&cfg);
	ck_assert_int_eq(fake_get(c, &res), ERROR_OK);
	ck_assert_uint_eq(res.attempts, 2);
	ddb_result_clear(&res);
	ddb_client_stats(c, &st);
	ck_assert_int_ge(st.clock_offset_s, 3590);
	ck_assert_int_le(st.clock_offset_s, 3610);
	/* The second attempt was signed an hour ahead. */
	ck_assert_int_eq(fake_http_header(fake_http_request(f, 1), "X-Amz-Date", amz, sizeof(amz)), 0);
	strftime(date, sizeof(date), "%Y%m%dT%H", &tm);
	ck_assert_int_eq(strncmp(amz, date, strlen(date)), 0);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

/* A write that may have been applied before its retry failed its
 * condition is flagged, so the caller can check instead of answering 412. */
START_TEST(a_maybe_applied_write_is_flagged)
{
	const struct fake_reply script[] = {
		{ FAKE_CLOSE, 0, "", NULL },
		{ FAKE_REPLY, 400,
		  "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\"}",
		  NULL },
	};
	struct fake_http *f = fake_http_start(script, 2);
	struct ddb_client_config cfg = base_config(fake_url(f));
	struct ddb_client *c = client_for(&cfg);
	struct ddb_result res;

	ck_assert_int_eq(fake_get(c, &res), ERROR_CONDITION);
	ck_assert_uint_eq(res.attempts, 2);
	ck_assert(res.maybe_applied);
	ddb_result_clear(&res);
	ddb_client_free(c);
	fake_http_stop(f);
}
END_TEST

START_TEST(bad_configs_are_refused)
{
	struct ddb_client_config cfg = base_config("http://127.0.0.1:1/");
	enum error_code rc;

	cfg.region = "us-east-1/../../evil";
	ck_assert_ptr_null(ddb_client_new(&cfg, &rc));
	ck_assert_int_eq(rc, ERROR_INVALID);
	cfg = base_config("ftp://127.0.0.1/");
	ck_assert_ptr_null(ddb_client_new(&cfg, &rc));
	ck_assert_int_eq(rc, ERROR_INVALID);
	cfg = base_config("http://127.0.0.1:1/");
	cfg.secret_access_key = "";
	ck_assert_ptr_null(ddb_client_new(&cfg, &rc));
	ck_assert_int_eq(rc, ERROR_INVALID);
}
END_TEST

START_TEST(invalid_requests_are_refused_before_queueing)
{
	struct ddb_client_config cfg = base_config("http://127.0.0.1:1/");
	struct ddb_client *c = client_for(&cfg);
	struct ddb_request req = { .op = DDB_OP_GET_ITEM, .table = "t" }; /* no key */
	struct tally t = { 0 };
	struct ddb_client_stats st;

	ck_assert_int_eq(ddb_client_submit(c, &req, on_tally, &t), ERROR_INVALID);
	ddb_client_stats(c, &st);
	ck_assert_uint_eq(st.submitted, 0);
	ddb_client_free(c);
	ck_assert_int_eq(atomic_load(&t.calls), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ddb_client");
	TCase *dyn = tcase_create("dynalite");
	TCase *faults = tcase_create("faults");

	tcase_set_timeout(dyn, 120);
	tcase_set_timeout(faults, 60);
	tcase_add_test(dyn, put_get_update_delete);
	tcase_add_test(dyn, an_endpoint_by_host_name_resolves_and_connects);
	tcase_add_test(dyn, upstream_errors_are_not_retried);
	tcase_add_test(dyn, scan_pages_and_segments);
	tcase_add_test(dyn, concurrent_requests_share_the_pool);
	tcase_add_test(dyn, shutdown_cancels_requests_in_flight);
	tcase_add_test(dyn, tls_certificate_is_verified);
	tcase_add_test(faults, retryable_faults_are_retried_until_success);
	tcase_add_test(faults, retries_run_out);
	tcase_add_test(faults, closed_connections_and_timeouts_are_retried);
	tcase_add_test(faults, validation_errors_fail_at_once);
	tcase_add_test(faults, connection_refused_runs_out_of_attempts);
	tcase_add_test(faults, oversized_response_is_refused);
	tcase_add_test(faults, wire_request_matches_its_signature);
	tcase_add_test(faults, configured_proxy_is_used);
	tcase_add_test(faults, retries_stop_at_the_deadline);
	tcase_add_test(faults, the_retry_quota_runs_dry_and_refills);
	tcase_add_test(faults, clock_skew_is_corrected_once);
	tcase_add_test(faults, a_maybe_applied_write_is_flagged);
	tcase_add_test(faults, bad_configs_are_refused);
	tcase_add_test(faults, invalid_requests_are_refused_before_queueing);
	suite_add_tcase(s, dyn);
	suite_add_tcase(s, faults);
	return check_run(s);
}
