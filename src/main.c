/* main.c: sessiond's command line, start-up order and signals. No logic
 * lives here: settings (conf), the DynamoDB client, the table check, the
 * API and the HTTP server are started in that order and stopped in reverse.
 * Signals are taken synchronously with sigwait in the main thread, so no
 * code runs in signal-handler context. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sessiond/api.h"
#include "sessiond/buf.h"
#include "sessiond/conf.h"
#include "sessiond/creds.h"
#include "sessiond/ddb_client.h"
#include "sessiond/http_server.h"
#include "sessiond/keyring.h"
#include "sessiond/log.h"
#include "sessiond/notify.h"
#include "sessiond/reaper.h"
#include "sessiond/table.h"

static void usage(FILE *out)
{
	fputs("usage: sessiond [-c FILE] [-t] [-h] [-V]\n"
	      "  -c, --config FILE   settings file (default " CONF_DEFAULT_PATH ")\n"
	      "  -t, --test-config   parse and validate FILE, print \"configuration OK\"\n"
	      "                      and exit 0; else print every error as FILE:LINE:\n"
	      "                      message and exit 1\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       print \"sessiond " SESSIOND_VERSION "\"\n"
	      "Signals: SIGTERM/SIGINT finish in-flight requests and exit 0; SIGHUP\n"
	      "re-reads auth.token_file, log.level and the encryption keys.\n"
	      "Exit status: 0 after SIGTERM/SIGINT, 1 on a start-up error.\n",
	      out);
}

/* Loads settings, printing every error; NULL-safe on failure. */
static bool load_conf(const char *path, struct conf *conf)
{
	struct buf errors;
	bool ok;

	buf_init(&errors, 64 * 1024);
	ok = conf_load(path, conf, &errors) == ERROR_OK;
	if (!ok)
		fputs(errors.data ? errors.data : "sessiond: out of memory\n", stderr);
	buf_free(&errors);
	return ok;
}

/* The tokens in force: those of the settings file plus auth.token_file.
 * all borrows the settings' strings and owns file's. */
struct token_list {
	char **all;
	size_t n;
	char **file;
	size_t n_file;
};

static void token_list_free(struct token_list *t)
{
	free(t->all);
	conf_tokens_free(t->file, t->n_file);
	memset(t, 0, sizeof(*t));
}

static bool token_list_load(const struct conf *conf, struct token_list *t)
{
	struct buf errors;
	bool ok = false;

	memset(t, 0, sizeof(*t));
	buf_init(&errors, 4096);
	if (*conf->auth.token_file &&
	    conf_read_token_file(conf->auth.token_file, &t->file, &t->n_file, &errors) !=
		    ERROR_OK) {
		log_error("%s", errors.data ? errors.data : "cannot read auth.token_file");
		goto out;
	}
	t->all = calloc(conf->auth.n_tokens + t->n_file + 1, sizeof(*t->all));
	if (!t->all)
		goto out;
	for (size_t i = 0; i < conf->auth.n_tokens; i++)
		t->all[t->n++] = conf->auth.tokens[i];
	for (size_t i = 0; i < t->n_file; i++)
		t->all[t->n++] = t->file[i];
	ok = true;
out:
	buf_free(&errors);
	if (!ok)
		token_list_free(t);
	return ok;
}

static void log_tokens(size_t n)
{
	log_info("auth: %zu bearer token(s) accepted%s", n, n ? "" : " (auth is off)");
}

/* SIGHUP's half: replaces the tokens of a running server. */
static bool apply_tokens(struct http_server *http, const struct conf *conf)
{
	struct token_list t;
	bool ok;

	if (!token_list_load(conf, &t))
		return false;
	ok = http_server_set_tokens(http, t.all, t.n) == ERROR_OK;
	if (ok)
		log_tokens(t.n);
	token_list_free(&t);
	return ok;
}

static void log_keys(const struct conf *conf)
{
	if (!conf->encryption.n_keys) {
		log_info("encryption: off (sess is stored as plain JSON)");
		return;
	}
	log_info("encryption: %zu key(s), the first encrypts: %s%s", conf->encryption.n_keys,
		 conf->encryption.keys[0], conf->encryption.required ? "; required" : "");
}

/* Reads the encryption keys of conf and puts them in force; on any error
 * the keys in force stay, and the errors ("FILE: message") are logged. */
static bool apply_keys(struct keyring_holder *keys, const struct conf *conf)
{
	struct keyring *kr = NULL;
	struct buf errors;
	bool ok;

	buf_init(&errors, 16 * 1024);
	ok = keyring_load(keys, conf->encryption.keys, conf->encryption.n_keys,
			  conf->encryption.required, &kr, &errors) == ERROR_OK;
	if (ok) {
		keyring_holder_set(keys, kr);
		log_keys(conf);
	} else {
		if (errors.len && errors.data[errors.len - 1] == '\n')
			buf_truncate(&errors, errors.len - 1);
		log_error("%s", errors.data ? errors.data : "cannot read the encryption keys");
	}
	buf_free(&errors);
	return ok;
}

/* SIGHUP: the token file, the log level and the encryption keys, from a
 * fresh read of the settings file; a bad file keeps the old values. */
static void reload(const char *path, struct http_server *http, struct keyring_holder *keys)
{
	struct conf fresh;

	log_info("SIGHUP: reloading auth.token_file, log.level and encryption");
	if (!load_conf(path, &fresh)) {
		log_error("SIGHUP: %s has errors; keeping the current settings (tokens, log level, "
			  "encryption keys)",
			  path);
		return;
	}
	/* Tokens first, so their confirmation is logged at the old level. */
	if (!apply_tokens(http, &fresh))
		log_error("SIGHUP: keeping the current tokens");
	if (!apply_keys(keys, &fresh))
		log_error("SIGHUP: keeping the current encryption keys");
	log_set_level(fresh.log.level);
	conf_free(&fresh);
}

/* The AWS default credential chain, starting from the settings file. */
static struct creds *start_creds(const struct conf *conf)
{
	struct creds_config cc = {
		.access_key_id = conf->credentials.access_key_id,
		.secret_access_key = conf->credentials.secret_access_key,
		.session_token = conf->credentials.session_token,
		.profile = conf->credentials.profile,
		.region = conf->dynamodb.region,
		.ca_file = conf->dynamodb.ca_file,
		.proxy = conf->dynamodb.proxy,
		.timeout_ms = 1000,
	};
	char why[1024];
	struct creds *c = creds_new(&cc, why, sizeof(why));

	if (!c)
		fprintf(stderr, "sessiond: %s\n", why);
	else
		log_info("credentials: from %s", creds_source(c));
	return c;
}

/* listen.threads, with 0 resolved to the number of CPUs. */
static unsigned worker_threads(const struct conf *conf)
{
	long n = conf->listen.threads;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static struct ddb_client *start_ddb(const struct conf *conf, struct creds *creds)
{
	struct ddb_client_config cfg = {
		.worker_loops = worker_threads(conf),
		.region = conf->dynamodb.region,
		.endpoint = conf->dynamodb.endpoint,
		.creds = creds,
		.proxy = conf->dynamodb.proxy,
		.ca_file = conf->dynamodb.ca_file,
		.max_connections = (unsigned)conf->dynamodb.max_connections,
		.timeout_ms = (long)conf->dynamodb.timeout_ms,
		.max_attempts = (unsigned)conf->dynamodb.max_attempts,
		.deadline_ms = (long)conf->limits.request_timeout_ms,
	};
	struct ddb_client *ddb;
	enum error_code rc;

	ddb = ddb_client_new(&cfg, &rc);
	if (!ddb)
		fprintf(stderr, "sessiond: cannot start the DynamoDB client: %s\n", error_str(rc));
	return ddb;
}

static struct reaper *start_reaper(const struct conf *conf, struct ddb_client *ddb,
				   struct keyring_holder *keys)
{
	struct reaper_config rc = {
		.table = conf->dynamodb.table,
		.hash_key = conf->dynamodb.hash_key,
		.prefix = conf->dynamodb.prefix,
		.interval = conf->reaper.interval,
		.max_deletes_per_second = conf->reaper.max_deletes_per_second,
		.segments = conf->reaper.segments,
		.keys = keys,
		.rekey_per_second = conf->reaper.rekey_per_second,
	};
	struct reaper *r = reaper_new(&rc, ddb);

	if (!r || reaper_start(r) != ERROR_OK) {
		fputs("sessiond: cannot start the reaper thread\n", stderr);
		reaper_free(r);
		return NULL;
	}
	log_info("reaper: a pass every %" PRId64 " s, at most %" PRId64 " deletes/s, %" PRId64
		 " segment(s)",
		 conf->reaper.interval, conf->reaper.max_deletes_per_second, conf->reaper.segments);
	return r;
}

/* Each HTTP worker gets a DynamoDB loop of its own, on its thread. */
static void *attach_ddb(void *arg, struct evloop *ev)
{
	return ddb_client_attach(arg, ev);
}

static void detach_ddb(void *arg, void *peer)
{
	(void)arg;
	ddb_client_detach(peer);
}

/* Waits for SIGTERM, SIGINT or SIGHUP. Under a systemd watchdog, sends a
 * keep-alive each interval, but only while the HTTP workers (every one's
 * loop turns, and one answers /healthz over the loopback) and the DynamoDB
 * I/O thread (its loop counter moves) are making progress: a wedged daemon
 * gets restarted. */
static int wait_for_signal(const sigset_t *set, struct http_server *http,
			   struct ddb_client *ddb)
{
	long interval = notify_watchdog_interval_ms();
	struct ddb_client_stats st;
	uint64_t last_loops = 0;
	struct timespec ts;
	int sig;

	for (;;) {
		if (interval <= 0) {
			if (sigwait(set, &sig) == 0)
				return sig;
			continue;
		}
		ts.tv_sec = interval / 1000;
		ts.tv_nsec = (interval % 1000) * 1000000;
		sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0)
			return sig;
		ddb_client_stats(ddb, &st);
		if (st.loops != last_loops && http_server_workers_turning(http) &&
		    http_server_self_check(http, interval / 2))
			notify_send("WATCHDOG=1");
		else
			log_warn("watchdog: no progress (HTTP or DynamoDB thread); no keep-alive sent");
		last_loops = st.loops;
	}
}

static int serve(const char *path, const struct conf *conf)
{
	struct reaper *reaper = NULL;
	struct token_list tokens;
	struct creds *creds = NULL;
	struct ddb_client *ddb = NULL;
	struct http_server *http = NULL;
	struct api *api = NULL;
	struct keyring_holder *keys = NULL;
	char why[512];
	sigset_t set;
	int sig, status = EXIT_FAILURE;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread starts, so every thread inherits it and
	 * sigwait below is the only taker. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!(creds = start_creds(conf)) || !(ddb = start_ddb(conf, creds)))
		goto out;
	if (table_ensure(ddb, conf, why, sizeof(why)) != ERROR_OK) {
		fprintf(stderr, "sessiond: %s\n", why);
		goto out;
	}
	if (!(keys = keyring_holder_new()) || !apply_keys(keys, conf))
		goto out;
	if (conf->reaper.enabled && !(reaper = start_reaper(conf, ddb, keys)))
		goto out;
	if (!(api = api_new(conf, ddb)))
		goto out;
	api_set_keyring(api, keys);
	api_set_reaper(api, reaper);
	api_set_creds(api, creds);
	struct http_server_config hc = {
		.address = conf->listen.address,
		.port = (unsigned)conf->listen.port,
		.threads = (unsigned)conf->listen.threads,
		.max_connections = (unsigned)conf->limits.max_connections,
		.connection_timeout = (unsigned)conf->limits.connection_timeout,
		.max_body = (size_t)conf->limits.max_body,
		.protect_optional = conf->auth.metrics,
		.routes = api_routes(),
		.ctx = api,
		.worker_attach = attach_ddb,
		.worker_detach = detach_ddb,
		.worker_arg = ddb,
	};
	/* The tokens are in place before the first connection is accepted:
	 * there is no moment without auth. */
	if (!token_list_load(conf, &tokens))
		goto out;
	hc.tokens = tokens.all;
	hc.n_tokens = tokens.n;
	http = http_server_new(&hc, why, sizeof(why));
	token_list_free(&tokens);
	if (!http) {
		fprintf(stderr, "sessiond: %s\n", why);
		goto out;
	}
	log_tokens(hc.n_tokens);
	api_set_http(api, http);
	log_info("listening on http://%s%s%s:%u (table %s, region %s)",
		 strchr(conf->listen.address, ':') ? "[" : "", conf->listen.address,
		 strchr(conf->listen.address, ':') ? "]" : "", http_server_port(http),
		 conf->dynamodb.table, conf->dynamodb.region);
	notify_send("READY=1\nSTATUS=serving");
	while ((sig = wait_for_signal(&set, http, ddb)) == SIGHUP) {
		notify_send("RELOADING=1");
		reload(path, http, keys);
		notify_send("READY=1\nSTATUS=serving");
	}
	log_info("%s: finishing requests in flight, then stopping",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_send("STOPPING=1");
	http_server_drain(http, (long)conf->limits.request_timeout_ms);
	status = EXIT_SUCCESS;
out:
	reaper_stop(reaper);
	/* The workers' DynamoDB loops go first, then the client's own loop,
	 * then the server and the reaper: the cancellations still answer
	 * suspended requests through the running HTTP workers, and reach a
	 * reaper that is still allocated. */
	http_server_release_peers(http);
	ddb_client_stop(ddb);
	/* Workers may still read a request on a kept-alive connection until
	 * they stop: their submits are refused (503) by the stopped client,
	 * whose memory lives on until they are gone. */
	http_server_free(http);
	ddb_client_free(ddb);
	reaper_free(reaper);
	api_free(api);
	/* Last: every request and the reaper held their keyring until done. */
	keyring_holder_free(keys);
	creds_free(creds);
	if (status == EXIT_SUCCESS)
		log_info("stopped");
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CONF_DEFAULT_PATH;
	bool test_only = false;
	struct conf conf;
	int ch, status;

	while ((ch = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("sessiond %s\n", SESSIOND_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sessiond: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_FAILURE;
	}
	if (!load_conf(path, &conf))
		return EXIT_FAILURE;
	if (test_only) {
		puts("configuration OK");
		conf_free(&conf);
		return EXIT_SUCCESS;
	}
	log_set_level(conf.log.level);
	log_set_json(conf.log.format == CONF_LOG_JSON);
	log_info("sessiond %s starting with %s", SESSIOND_VERSION, path);
	conf_log_summary(&conf);
	status = serve(path, &conf);
	conf_free(&conf);
	return status;
}
