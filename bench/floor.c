/* bench/floor.c: the fixed libraries alone, as one worker loop each (libmicrohttpd
 * in external epoll, one curl multi handle), forwarding every request as the
 * DynamoDB calls sessiond makes for it, with no signing, JSON or session logic.
 * What it costs per request is the floor under sessiond's CPU per operation
 * on this machine (bench/floor.sh measures both in one run).
 *
 *   floor PORT ENDPOINT TABLE THREADS DATAFILE
 *
 * Routes (bench/wrk/service.lua's): GET /healthz answers at once; GET, PUT,
 * POST .../touch and POST /v1/sessions make one call (the bodies of
 * bench/wrk/ceiling.lua), PATCH two (GetItem, then UpdateItem). The answer
 * is a fixed session document of sessiond's size. Not part of sessiond. */
#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum floor_kind { FLOOR_GET, FLOOR_PUT, FLOOR_TOUCH, FLOOR_CREATE, FLOOR_PATCH };

struct floor_worker {
	int ep;
	int mhd_fd;
	struct MHD_Daemon *mhd;
	CURLM *multi;
	long timer_ms; /* curl's next deadline from now, -1: none */
	struct timespec timer_set;
	bool run_mhd;
	uint64_t id_state; /* xorshift64*: ids of POST /v1/sessions */
	CURL *idle[256];
	int n_idle;
	pthread_t thread;
};

struct floor_call {
	struct floor_worker *w;
	struct MHD_Connection *conn;
	enum floor_kind kind;
	int step; /* PATCH: 0 GetItem, 1 UpdateItem */
	bool started, done;
	long status;
	char id[96];
	char body[2048];
	size_t body_len;
};

static const char *floor_table;
static char floor_sess[1024];   /* the session data as a JSON string literal */
static char floor_answer[1024]; /* what every session route answers */
static size_t floor_answer_len;
static char floor_url[256];
static struct curl_slist *floor_hdrs[3]; /* GetItem, UpdateItem, PutItem */
static long floor_now;

/* ---- DynamoDB bodies (bench/wrk/ceiling.lua's) --------------------------- */

static void floor_body(struct floor_call *c)
{
	long exp = floor_now + 86400;
	int n;

	if (c->kind == FLOOR_GET || (c->kind == FLOOR_PATCH && c->step == 0))
		n = snprintf(c->body, sizeof(c->body),
			     "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"sess:%s\"}},"
			     "\"ConsistentRead\":true}", floor_table, c->id);
	else if (c->kind == FLOOR_TOUCH)
		n = snprintf(c->body, sizeof(c->body),
			     "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"sess:%s\"}},"
			     "\"UpdateExpression\":\"SET #e = :e\","
			     "\"ConditionExpression\":\"attribute_exists(#k) AND #e > :now\","
			     "\"ExpressionAttributeNames\":{\"#k\":\"id\",\"#e\":\"expires\"},"
			     "\"ExpressionAttributeValues\":{\":now\":{\"N\":\"%ld\"},\":e\":{\"N\":\"%ld\"}},"
			     "\"ReturnValues\":\"ALL_NEW\"}", floor_table, c->id, floor_now, exp);
	else if (c->kind == FLOOR_CREATE)
		n = snprintf(c->body, sizeof(c->body),
			     "{\"TableName\":\"%s\",\"Item\":{\"id\":{\"S\":\"sess:%s\"},"
			     "\"expires\":{\"N\":\"%ld\"},\"type\":{\"S\":\"connect-session\"},"
			     "\"sess\":{\"S\":%s},\"version\":{\"N\":\"1\"}},"
			     "\"ConditionExpression\":\"attribute_not_exists(#k)\","
			     "\"ExpressionAttributeNames\":{\"#k\":\"id\"}}", floor_table, c->id, exp,
			     floor_sess);
	else if (c->kind == FLOOR_PATCH) /* its write: sessiond's returns nothing */
		n = snprintf(c->body, sizeof(c->body),
			     "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"sess:%s\"}},"
			     "\"UpdateExpression\":\"SET #s = :s, #t = :t, #v = #v + :one\","
			     "\"ConditionExpression\":\"attribute_exists(#k) AND #e > :now AND "
			     "(#v >= :old AND #e >= :oe)\","
			     "\"ExpressionAttributeNames\":{\"#k\":\"id\",\"#e\":\"expires\",\"#s\":\"sess\","
			     "\"#t\":\"type\",\"#v\":\"version\"},"
			     "\"ExpressionAttributeValues\":{\":now\":{\"N\":\"%ld\"},\":s\":{\"S\":%s},"
			     "\":t\":{\"S\":\"connect-session\"},\":one\":{\"N\":\"1\"},\":old\":{\"N\":\"0\"},"
			     "\":oe\":{\"N\":\"0\"}}}",
			     floor_table, c->id, floor_now, floor_sess);
	else /* PUT */
		n = snprintf(c->body, sizeof(c->body),
			     "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"sess:%s\"}},"
			     "\"UpdateExpression\":\"SET #s = :s, #t = :t, #e = :e, "
			     "#v = if_not_exists(#v, :zero) + :one\","
			     "\"ConditionExpression\":\"attribute_exists(#k) AND #e > :now\","
			     "\"ExpressionAttributeNames\":{\"#k\":\"id\",\"#e\":\"expires\",\"#s\":\"sess\","
			     "\"#t\":\"type\",\"#v\":\"version\"},"
			     "\"ExpressionAttributeValues\":{\":now\":{\"N\":\"%ld\"},\":s\":{\"S\":%s},"
			     "\":t\":{\"S\":\"connect-session\"},\":e\":{\"N\":\"%ld\"},"
			     "\":zero\":{\"N\":\"0\"},\":one\":{\"N\":\"1\"}},\"ReturnValues\":\"ALL_NEW\"}",
			     floor_table, c->id, floor_now, floor_sess, exp);
	c->body_len = n > 0 && (size_t)n < sizeof(c->body) ? (size_t)n : 0;
}

static struct curl_slist *floor_headers_of(const struct floor_call *c)
{
	if (c->kind == FLOOR_GET || (c->kind == FLOOR_PATCH && c->step == 0))
		return floor_hdrs[0];
	return c->kind == FLOOR_CREATE ? floor_hdrs[2] : floor_hdrs[1];
}

/* ---- curl ---------------------------------------------------------------- */

static size_t floor_on_body(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * n; /* a floor reads the answer and keeps nothing */
}

static void floor_call_start(struct floor_call *c)
{
	struct floor_worker *w = c->w;
	CURL *e = w->n_idle ? w->idle[--w->n_idle] : curl_easy_init();

	floor_body(c);
	/* sessiond's own options (ddb_client.c), on purpose: the floor must
	 * pay for what sessiond's transfers pay for. */
	curl_easy_setopt(e, CURLOPT_URL, floor_url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, floor_headers_of(c));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, floor_on_body);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_multi_add_handle(w->multi, e);
}

static int floor_on_socket(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct floor_worker *w = arg;
	struct epoll_event ev = { .data.fd = s };

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(w->multi, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(w->ep, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) == 0 && !sockp)
		curl_multi_assign(w->multi, s, w);
	return 0;
}

static int floor_on_timer(CURLM *m, long ms, void *arg)
{
	struct floor_worker *w = arg;

	(void)m;
	w->timer_ms = ms;
	clock_gettime(CLOCK_MONOTONIC, &w->timer_set);
	return 0;
}

static long floor_timer_left(const struct floor_worker *w)
{
	struct timespec now;
	long gone;

	if (w->timer_ms < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	gone = (now.tv_sec - w->timer_set.tv_sec) * 1000 +
	       (now.tv_nsec - w->timer_set.tv_nsec) / 1000000;
	return w->timer_ms > gone ? w->timer_ms - gone : 0;
}

/* Finished transfers: PATCH goes on to its write, the rest resume. */
static void floor_collect(struct floor_worker *w)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(w->multi, &left))) {
		struct floor_call *c = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &c->status);
		if (m->data.result != CURLE_OK)
			c->status = 0;
		curl_multi_remove_handle(w->multi, m->easy_handle);
		if (w->n_idle < (int)(sizeof(w->idle) / sizeof(w->idle[0])))
			w->idle[w->n_idle++] = m->easy_handle;
		else
			curl_easy_cleanup(m->easy_handle);
		if (c->kind == FLOOR_PATCH && c->step == 0 && c->status == 200) {
			c->step = 1;
			floor_call_start(c);
			continue;
		}
		c->done = true;
		MHD_resume_connection(c->conn);
		w->run_mhd = true;
	}
}

/* ---- HTTP ---------------------------------------------------------------- */

static enum MHD_Result floor_answer_with(struct MHD_Connection *conn, unsigned status,
					 const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A create's id: 32 base64url characters, random like sessiond's (192
 * bits), so dynalite inserts keys spread over the table as it does for
 * sessiond rather than in order. xorshift64*: the floor needs the spread,
 * not unpredictability. */
static void floor_new_id(struct floor_worker *w, char *id)
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint64_t x = 0;

	for (int i = 0; i < 32; i++) {
		if (i % 10 == 0) {
			w->id_state ^= w->id_state >> 12;
			w->id_state ^= w->id_state << 25;
			w->id_state ^= w->id_state >> 27;
			x = w->id_state * 0x2545F4914F6CDD1DULL;
		}
		id[i] = b64url[x & 63];
		x >>= 6;
	}
	id[32] = '\0';
}

static bool floor_route(struct floor_call *c, const char *method, const char *url)
{
	const char *id = url + strlen("/v1/sessions/");
	size_t n;

	if (strcmp(method, "POST") == 0 && strcmp(url, "/v1/sessions") == 0) {
		c->kind = FLOOR_CREATE;
		floor_new_id(c->w, c->id);
		return true;
	}
	if (strncmp(url, "/v1/sessions/", strlen("/v1/sessions/")) != 0)
		return false;
	n = strcspn(id, "/");
	if (n == 0 || n >= sizeof(c->id))
		return false;
	memcpy(c->id, id, n);
	c->id[n] = '\0';
	if (strcmp(method, "GET") == 0 && !id[n])
		c->kind = FLOOR_GET;
	else if (strcmp(method, "PUT") == 0 && !id[n])
		c->kind = FLOOR_PUT;
	else if (strcmp(method, "PATCH") == 0 && !id[n])
		c->kind = FLOOR_PATCH;
	else if (strcmp(method, "POST") == 0 && strcmp(id + n, "/touch") == 0)
		c->kind = FLOOR_TOUCH;
	else
		return false;
	return true;
}

static enum MHD_Result floor_on_request(void *cls, struct MHD_Connection *conn, const char *url,
					const char *method, const char *version,
					const char *upload, size_t *upload_size, void **state)
{
	struct floor_worker *w = cls;
	struct floor_call *c = *state;

	(void)version;
	(void)upload;
	/* Answering before the request is whole would make MHD 0.9.75 close
	 * the connection: every route answers on a later call. */
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		c->w = w;
		c->conn = conn;
		*state = c;
		if (strcmp(url, "/healthz") == 0)
			c->done = true, c->status = 204;
		else if (!floor_route(c, method, url))
			c->done = true, c->status = 404;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* the floor does not read bodies */
		return MHD_YES;
	}
	if (c->done && c->status == 204)
		return floor_answer_with(conn, MHD_HTTP_OK, "{\"status\":\"ok\"}", 15);
	if (c->done)
		return c->status == 200
			       ? floor_answer_with(conn, MHD_HTTP_OK, floor_answer, floor_answer_len)
			       : floor_answer_with(conn, c->status == 404 ? 404 : 502, "{}", 2);
	if (!c->started) {
		c->started = true;
		MHD_suspend_connection(conn);
		floor_call_start(c);
	}
	return MHD_YES;
}

static void floor_on_completed(void *cls, struct MHD_Connection *conn, void **state,
			       enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	free(*state);
	*state = NULL;
}

/* ---- the loop -------------------------------------------------------------- */

static void floor_run_mhd(struct floor_worker *w)
{
	MHD_UNSIGNED_LONG_LONG ms;

	/* As sessiond's http_hook_run: MHD asks for more runs (timeout 0) after
	 * an answer; a few here spare the loop its empty turns. */
	for (int i = 0; i < 3; i++) {
		if (!w->run_mhd && !(MHD_get_timeout(w->mhd, &ms) == MHD_YES && ms == 0))
			break;
		w->run_mhd = false;
		MHD_run(w->mhd);
	}
}

static void *floor_worker_main(void *arg)
{
	struct floor_worker *w = arg;
	struct epoll_event ev[64];
	int running;

	for (;;) {
		MHD_UNSIGNED_LONG_LONG mhd_ms;
		long t = floor_timer_left(w);
		int n;

		if (MHD_get_timeout(w->mhd, &mhd_ms) == MHD_YES && (t < 0 || (long)mhd_ms < t))
			t = (long)mhd_ms;
		n = epoll_wait(w->ep, ev, 64, t < 0 || t > 1000 ? 1000 : (int)t);
		for (int i = 0; i < n; i++) {
			int mask = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
				   (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				   (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

			if (ev[i].data.fd == w->mhd_fd)
				w->run_mhd = true;
			else
				curl_multi_socket_action(w->multi, ev[i].data.fd, mask, &running);
		}
		/* Each pass may start calls (timer 0) or finish them (resumes). */
		for (int pass = 0; pass < 4; pass++) {
			floor_collect(w);
			floor_run_mhd(w);
			if (floor_timer_left(w) != 0)
				break;
			w->timer_ms = -1; /* spent; curl sets the next one */
			curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
	}
	return NULL;
}

static int floor_listen(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4096) != 0) {
		perror("floor: listen");
		exit(1);
	}
	return fd;
}

static void floor_worker_start(struct floor_worker *w, int listen_fd)
{
	const union MHD_DaemonInfo *info;
	struct epoll_event ev = { .events = EPOLLIN };

	w->timer_ms = -1;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->multi = curl_multi_init();
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 64L);
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 64L);
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, floor_on_socket);
	curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, floor_on_timer);
	curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
	w->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
				  floor_on_request, w, MHD_OPTION_LISTEN_SOCKET, listen_fd,
				  MHD_OPTION_CONNECTION_LIMIT, 8000u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				  MHD_OPTION_NOTIFY_COMPLETED, floor_on_completed, w, MHD_OPTION_END);
	info = w->mhd ? MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info || w->ep < 0 || !w->multi) {
		fprintf(stderr, "floor: cannot start a worker\n");
		exit(1);
	}
	w->mhd_fd = info->epoll_fd;
	/* Two floors on one table never draw the same ids (xorshift64* needs a
	 * seed other than 0). */
	w->id_state = ((uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() << 4 ^ (uintptr_t)w) | 1;
	ev.data.fd = w->mhd_fd;
	epoll_ctl(w->ep, EPOLL_CTL_ADD, w->mhd_fd, &ev);
	pthread_create(&w->thread, NULL, floor_worker_main, w);
}

/* The session data as a JSON string literal, and the answer around it. */
static void floor_load_data(const char *path)
{
	char raw[512], *o = floor_sess;
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f || (n = fread(raw, 1, sizeof(raw) - 1, f)) == 0) {
		fprintf(stderr, "floor: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	while (n && (raw[n - 1] == '\n' || raw[n - 1] == ' '))
		n--;
	raw[n] = '\0';
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '"' || raw[i] == '\\')
			*o++ = '\\';
		*o++ = raw[i];
	}
	*o++ = '"';
	*o = '\0';
	floor_answer_len = (size_t)snprintf(floor_answer, sizeof(floor_answer),
		"{\"id\":\"bench-000001\",\"data\":%s,\"expires\":%ld,\"version\":7}", raw,
		floor_now + 86400);
}

static struct curl_slist *floor_headers(const char *target)
{
	char date[32], line[256];
	struct tm tm;
	time_t now = time(NULL);
	struct curl_slist *h = NULL;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.0");
	snprintf(line, sizeof(line), "X-Amz-Target: DynamoDB_20120810.%s", target);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-Amz-Date: %s", date);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line),
		 "Authorization: AWS4-HMAC-SHA256 Credential=AKIDFLOOR/%.8s/us-east-1/dynamodb/"
		 "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
		 "Signature=%064d", date, 0);
	h = curl_slist_append(h, line);
	return curl_slist_append(h, "Expect:");
}

int main(int argc, char **argv)
{
	int listen_fd, threads;
	struct floor_worker *w;

	if (argc != 6) {
		fprintf(stderr, "usage: floor PORT ENDPOINT TABLE THREADS DATAFILE\n");
		return 2;
	}
	floor_now = (long)time(NULL);
	snprintf(floor_url, sizeof(floor_url), "%s/", argv[2]);
	floor_table = argv[3];
	threads = atoi(argv[4]);
	if (threads < 1)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	floor_load_data(argv[5]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	floor_hdrs[0] = floor_headers("GetItem");
	floor_hdrs[1] = floor_headers("UpdateItem");
	floor_hdrs[2] = floor_headers("PutItem");
	listen_fd = floor_listen(atoi(argv[1]));
	w = calloc((size_t)threads, sizeof(*w));
	if (!w)
		return 1;
	for (int i = 0; i < threads; i++)
		floor_worker_start(&w[i], listen_fd);
	fprintf(stderr, "floor: %d worker(s) on 127.0.0.1:%s\n", threads, argv[1]);
	for (;;)
		pause();
}
