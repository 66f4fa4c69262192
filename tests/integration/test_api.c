/* test_api.c: the HTTP API's write path in process (http_server + api +
 * ddb_client against a fake DynamoDB), with allocation failures injected
 * into every buffer, one allocation further each round: whatever fails, no
 * write reaches DynamoDB without its version condition, and no request
 * whose write did not go out is answered 2xx. */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "helpers/fake_route.h"
#include "sessiond/api.h"
#include "sessiond/buf.h"
#include "sessiond/conf.h"
#include "sessiond/ddb_client.h"
#include "sessiond/http_server.h"
#include "sessiond/log.h"
#include "sessiond/now.h"

#define MAX_WRITES 4096

/* What the fake DynamoDB saw: every write's body. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char *writes[MAX_WRITES];
static size_t n_writes;
/* The stored item's version; 0: none, as connect-dynamodb writes it (the
 * write's condition is then the longer "attribute_not_exists(#v) OR ..."). */
static _Atomic int stored_version = 3;

static void fake_ddb(void *arg, const struct fake_route_request *req,
		     struct fake_route_reply *reply)
{
	char target[128];
	long expires = (long)now_wall_s() + 3600;

	(void)arg;
	if (fake_route_header(req->headers, "X-Amz-Target", target, sizeof(target)) != 0) {
		reply->status = 400;
		return;
	}
	if (strstr(target, "UpdateItem") || strstr(target, "PutItem")) {
		pthread_mutex_lock(&seen_lock);
		if (n_writes < MAX_WRITES)
			writes[n_writes++] = strdup(req->body);
		pthread_mutex_unlock(&seen_lock);
		snprintf(reply->body, sizeof(reply->body),
			 "{\"Attributes\":{\"id\":{\"S\":\"sess:abc\"},\"expires\":{\"N\":\"%ld\"},"
			 "\"type\":{\"S\":\"connect-session\"},"
			 "\"sess\":{\"S\":\"{\\\"a\\\":1,\\\"b\\\":2}\"},\"version\":{\"N\":\"4\"}}}",
			 expires);
		return;
	}
	if (strstr(target, "GetItem")) {
		char version[48] = "";

		if (stored_version)
			snprintf(version, sizeof(version), ",\"version\":{\"N\":\"%d\"}",
				 (int)stored_version);
		snprintf(reply->body, sizeof(reply->body),
			 "{\"Item\":{\"id\":{\"S\":\"sess:abc\"},\"expires\":{\"N\":\"%ld\"},"
			 "\"type\":{\"S\":\"connect-session\"},"
			 "\"sess\":{\"S\":\"{\\\"a\\\":1}\"}%s}}",
			 expires, version);
		return;
	}
	reply->status = 400;
	snprintf(reply->body, sizeof(reply->body),
		 "{\"__type\":\"com.amazon.coral.validate#ValidationException\"}");
}

static void *attach(void *arg, struct evloop *ev)
{
	return ddb_client_attach(arg, ev);
}

static void detach(void *arg, void *peer)
{
	(void)arg;
	ddb_client_detach(peer);
}

struct stack {
	struct fake_route *fake;
	struct conf conf;
	struct ddb_client *ddb;
	struct api *api;
	struct http_server *http;
	char url[128];
};

static void stack_start(struct stack *st)
{
	char path[] = "/tmp/sessiond-test-api-XXXXXX";
	char why[256];
	struct buf errors;
	FILE *f;
	int fd;

	memset(st, 0, sizeof(*st));
	st->fake = fake_route_start(fake_ddb, NULL);
	ck_assert_ptr_nonnull(st->fake);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f,
		"listen = { address = \"127.0.0.1\"; port = 8080; threads = 2; };\n"
		"dynamodb = { endpoint = \"http://127.0.0.1:%d\"; table = \"sessions\"; max_attempts = 1; };\n"
		"credentials = { access_key_id = \"AKIDTEST\"; secret_access_key = \"secret\"; };\n"
		"reaper = { enabled = false; };\n"
		"log = { level = \"error\"; };\n",
		fake_route_port(st->fake));
	fclose(f);
	buf_init(&errors, 0);
	ck_assert_msg(conf_load(path, &st->conf, &errors) == ERROR_OK, "%s",
		      errors.data ? errors.data : "");
	buf_free(&errors);
	unlink(path);
	log_set_level(LOG_LEVEL_ERROR);
	struct ddb_client_config dc = {
		.region = st->conf.dynamodb.region,
		.endpoint = st->conf.dynamodb.endpoint,
		.access_key_id = "AKIDTEST",
		.secret_access_key = "secret",
		.max_attempts = 1,
		.worker_loops = 2,
	};
	st->ddb = ddb_client_new(&dc, NULL);
	ck_assert_ptr_nonnull(st->ddb);
	st->api = api_new(&st->conf, st->ddb);
	ck_assert_ptr_nonnull(st->api);
	struct http_server_config hc = {
		.address = "127.0.0.1",
		.threads = 2,
		.max_connections = 64,
		.connection_timeout = 10,
		.max_body = 65536,
		.routes = api_routes(),
		.ctx = st->api,
		.worker_attach = attach,
		.worker_detach = detach,
		.worker_arg = st->ddb,
	};
	st->http = http_server_new(&hc, why, sizeof(why));
	ck_assert_msg(st->http != NULL, "%s", why);
	api_set_http(st->api, st->http);
	snprintf(st->url, sizeof(st->url), "http://127.0.0.1:%u/v1/sessions/abc",
		 http_server_port(st->http));
}

static void stack_stop(struct stack *st)
{
	http_server_release_peers(st->http);
	ddb_client_stop(st->ddb);
	http_server_free(st->http);
	ddb_client_free(st->ddb);
	api_free(st->api);
	conf_free(&st->conf);
	fake_route_stop(st->fake);
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

static long patch(const char *url)
{
	CURL *easy = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/merge-patch+json");
	long status = 0;

	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PATCH");
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "{\"b\":2}");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	if (curl_easy_perform(easy) == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(easy);
	return status;
}

/* Every buffer allocation of a PATCH, from the first on, fails in turn.
 * Whatever failed, the writes DynamoDB received carry the version
 * condition, and a 2xx answer means a write went out. Run over an item
 * with a version and over one connect-dynamodb wrote (none). */
START_TEST(no_write_without_its_condition)
{
	stored_version = _i == 0 ? 3 : 0;
	struct stack st;
	unsigned ok = 0, failed = 0, other = 0;
	long n, last_clean = -1;

	stack_start(&st);
	ck_assert_int_eq(patch(st.url), 200); /* the path works at all */
	for (n = 0; n < 80; n++) {
		size_t before;
		long status;

		pthread_mutex_lock(&seen_lock);
		before = n_writes;
		pthread_mutex_unlock(&seen_lock);
		int64_t t0 = now_mono_ms();
		buf_fail_allocation_after(n);
		status = patch(st.url);
		buf_fail_allocation_after(-1);
		if (getenv("TEST_API_VERBOSE"))
			fprintf(stderr, "round %ld: %ld in %lld ms\n", n, status,
				(long long)(now_mono_ms() - t0));
		pthread_mutex_lock(&seen_lock);
		for (size_t i = before; i < n_writes; i++) {
			ck_assert_msg(writes[i] && strstr(writes[i], "\"ConditionExpression\"") &&
					      strstr(writes[i], "#v = :old") &&
					      strstr(writes[i], "\":old\""),
				      "round %ld: a write without its version condition: %s", n,
				      writes[i] ? writes[i] : "(null)");
		}
		if (status >= 200 && status < 300)
			ck_assert_msg(n_writes > before, "round %ld: %ld without a write", n, status);
		pthread_mutex_unlock(&seen_lock);
		if (status == 200) {
			ok++;
			if (last_clean < 0)
				last_clean = n;
		} else if (status == 500 || status == 503 || status == 0) {
			failed++;
		} else {
			other++;
		}
	}
	/* The injection did hit the path, and past its last allocation the
	 * PATCH went through again. */
	ck_assert_uint_gt(failed, 5);
	ck_assert_uint_gt(ok, 0);
	ck_assert_msg(other == 0, "%u answers neither 200 nor a failure", other);
	stack_stop(&st);
	for (size_t i = 0; i < n_writes; i++)
		free(writes[i]);
	n_writes = 0;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("write path");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, no_write_without_its_condition, 0, 2);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	curl_global_cleanup();
	return rc;
}
