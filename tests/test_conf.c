/* test_conf.c: unit tests for src/conf.c: defaults, every kind of setting,
 * FILE:LINE errors, the environment's place, token files, and files that
 * are not regular files (a FIFO must be refused at once: those calls run
 * under an alarm, so a blocking open ends the test instead of hanging it). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "sessiond/conf.h"

static char path[64];

/* Writes text to a fresh temporary file whose name is in path. */
static const char *write_file(const char *text)
{
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/sessiond-test-conf-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void clear_env(void)
{
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
}

/* Loads text; returns the error text (static) or NULL on success. */
static const char *load(const char *text, struct conf *c)
{
	static char errors_copy[4096];
	struct buf errors;
	enum error_code rc;

	buf_init(&errors, 0);
	rc = conf_load(write_file(text), c, &errors);
	unlink(path);
	snprintf(errors_copy, sizeof(errors_copy), "%s", errors.data ? errors.data : "");
	buf_free(&errors);
	if (rc == ERROR_OK) {
		ck_assert_str_eq(errors_copy, "");
		return NULL;
	}
	ck_assert_int_eq(rc, ERROR_INVALID);
	return errors_copy;
}

START_TEST(defaults_match_the_contract)
{
	struct conf c;

	clear_env();
	ck_assert_ptr_null(load("", &c));
	ck_assert_str_eq(c.listen.address, "127.0.0.1");
	ck_assert_int_eq(c.listen.port, 8080);
	ck_assert_int_eq(c.listen.threads, 0);
	ck_assert_int_eq(c.limits.max_connections, 10000);
	ck_assert_int_eq(c.limits.connection_timeout, 30);
	ck_assert_int_eq(c.limits.max_body, 409600);
	ck_assert_int_eq(c.limits.request_timeout_ms, 5000);
	ck_assert_int_eq(c.limits.drain, 0);
	ck_assert_uint_eq(c.auth.n_tokens, 0);
	ck_assert_str_eq(c.auth.token_file, "");
	ck_assert(!c.auth.metrics);
	ck_assert_str_eq(c.dynamodb.region, "us-east-1");
	ck_assert_str_eq(c.dynamodb.endpoint, "");
	ck_assert_str_eq(c.dynamodb.table, "sessions");
	ck_assert_str_eq(c.dynamodb.hash_key, "id");
	ck_assert_str_eq(c.dynamodb.prefix, "sess:");
	ck_assert(c.dynamodb.consistent_read);
	ck_assert(!c.dynamodb.create_table);
	ck_assert_int_eq(c.dynamodb.max_connections, 64);
	ck_assert_int_eq(c.dynamodb.timeout_ms, 1000);
	ck_assert_int_eq(c.dynamodb.max_attempts, 4);
	ck_assert_int_eq(c.session.default_ttl, 86400);
	ck_assert_int_eq(c.session.max_ttl, 2592000);
	ck_assert_int_eq(c.session.touch_after, 0);
	ck_assert(c.reaper.enabled);
	ck_assert_int_eq(c.reaper.interval, 600);
	ck_assert_int_eq(c.reaper.max_deletes_per_second, 100);
	ck_assert_int_eq(c.reaper.segments, 1);
	ck_assert_uint_eq(c.encryption.n_keys, 0);
	ck_assert(!c.encryption.required);
	ck_assert_int_eq(c.log.level, LOG_LEVEL_INFO);
	ck_assert_int_eq(c.log.format, CONF_LOG_TEXT);
	conf_free(&c);
}
END_TEST

START_TEST(every_kind_of_setting_parses)
{
	struct conf c;

	clear_env();
	ck_assert_ptr_null(load("listen = { address = \"::\"; port = 9000; threads = 4; };\n"
				"auth = { tokens = [\"abc\", \"d-e_f\"]; };\n"
				"dynamodb = { endpoint = \"http://127.0.0.1:8000\"; table = \"t.1\";\n"
				"  consistent_read = false; max_attempts = 2; region = \"eu-west-1\"; };\n"
				"credentials = { access_key_id = \"AK\"; secret_access_key = \"SK\"; };\n"
				"session = { default_ttl = 60; max_ttl = 120; };\n"
				"log = { level = \"debug\"; format = \"json\"; };\n",
				&c));
	ck_assert_str_eq(c.listen.address, "::");
	ck_assert_int_eq(c.listen.port, 9000);
	ck_assert_int_eq(c.listen.threads, 4);
	ck_assert_uint_eq(c.auth.n_tokens, 2);
	ck_assert_str_eq(c.auth.tokens[1], "d-e_f");
	ck_assert_str_eq(c.dynamodb.endpoint, "http://127.0.0.1:8000");
	ck_assert_str_eq(c.dynamodb.table, "t.1");
	ck_assert(!c.dynamodb.consistent_read);
	ck_assert_int_eq(c.dynamodb.max_attempts, 2);
	ck_assert_str_eq(c.dynamodb.region, "eu-west-1");
	ck_assert_str_eq(c.credentials.secret_access_key, "SK");
	ck_assert_int_eq(c.session.default_ttl, 60);
	ck_assert_int_eq(c.log.level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(c.log.format, CONF_LOG_JSON);
	conf_free(&c);
}
END_TEST

/* Every error is reported, each with the file and the line it is on. */
START_TEST(errors_name_file_and_line)
{
	struct conf c;
	char want[256];
	const char *e;

	clear_env();
	e = load("listen = {\n"
		 "  port = \"8080\";\n"          /* line 2: wrong type */
		 "  prot = 1;\n"                 /* line 3: unknown */
		 "};\n"
		 "limits = { max_body = 10; };\n" /* line 5: out of range */
		 "colour = \"blue\";\n"          /* line 6: unknown group */
		 "log = { level = \"loud\"; };\n", /* line 7: bad enum */
		 &c);
	ck_assert_ptr_nonnull(e);
	snprintf(want, sizeof(want), "%s:2: listen.port must be an integer\n", path);
	ck_assert_msg(strstr(e, want), "missing [%s] in [%s]", want, e);
	snprintf(want, sizeof(want), "%s:3: unknown setting \"listen.prot\"\n", path);
	ck_assert_msg(strstr(e, want), "missing [%s] in [%s]", want, e);
	snprintf(want, sizeof(want), "%s:5: limits.max_body must be between", path);
	ck_assert_msg(strstr(e, want), "missing [%s] in [%s]", want, e);
	snprintf(want, sizeof(want), "%s:6: unknown setting \"colour\"\n", path);
	ck_assert_msg(strstr(e, want), "missing [%s] in [%s]", want, e);
	snprintf(want, sizeof(want), "%s:7: log.level must be one of", path);
	ck_assert_msg(strstr(e, want), "missing [%s] in [%s]", want, e);
}
END_TEST

START_TEST(syntax_errors_have_a_line)
{
	struct conf c;
	char want[128];
	const char *e;

	clear_env();
	e = load("listen = {\n  port = 80;\n  threads = = 2;\n};\n", &c);
	ck_assert_ptr_nonnull(e);
	snprintf(want, sizeof(want), "%s:3: ", path);
	ck_assert_msg(strncmp(e, want, strlen(want)) == 0, "got [%s]", e);
}
END_TEST

START_TEST(cross_setting_rules)
{
	struct conf c;
	const char *e;

	clear_env();
	e = load("session = { default_ttl = 100; max_ttl = 50; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, "session.default_ttl (100) must not exceed"));
	ck_assert_ptr_null(load("session = { max_ttl = 7200; };\n", &c));
	ck_assert_int_eq(c.session.default_ttl, 7200); /* lowered to fit */
	conf_free(&c);
	e = load("dynamodb = { table = \"ab\"; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":1: dynamodb.table must be"));
	e = load("credentials = { access_key_id = \"AK\"; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, "must be set together"));
	e = load("listen = { address = \"localhost\"; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, "listen.address must be an IPv4 or IPv6 address"));
	e = load("dynamodb = { endpoint = \"ftp://x\"; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, "dynamodb.endpoint must start with"));
	e = load("auth = { tokens = [\"has space\"]; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, "auth.tokens[0] must be"));
	e = load("auth = { token_file = \"/nonexistent/tokens\"; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, "/nonexistent/tokens:0: auth.token_file: cannot open: "
					"No such file or directory"));
	e = load("dynamodb = { ca_file = \"/nonexistent/ca.pem\"; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":1: dynamodb.ca_file \"/nonexistent/ca.pem\" cannot be "
					"read: cannot open: No such file or directory"));
}
END_TEST

/* The file wins over the environment; the environment fills the rest. */
START_TEST(environment_fills_what_the_file_left_unset)
{
	struct conf c;

	clear_env();
	setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
	setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
	ck_assert_ptr_null(load("", &c));
	ck_assert_str_eq(c.dynamodb.region, "ap-south-1");
	/* Credentials are the credential chain's business, not copied here. */
	ck_assert_str_eq(c.credentials.access_key_id, "");
	conf_free(&c);
	setenv("AWS_REGION", "eu-north-1", 1);
	ck_assert_ptr_null(load("", &c));
	ck_assert_str_eq(c.dynamodb.region, "eu-north-1"); /* AWS_REGION first */
	conf_free(&c);
	ck_assert_ptr_null(load("dynamodb = { region = \"us-west-2\"; };\n"
				"credentials = { access_key_id = \"FILEAK\";"
				" secret_access_key = \"FILESK\"; };\n",
				&c));
	ck_assert_str_eq(c.dynamodb.region, "us-west-2");
	ck_assert_str_eq(c.credentials.access_key_id, "FILEAK");
	ck_assert_str_eq(c.credentials.secret_access_key, "FILESK");
	conf_free(&c);
	clear_env();
}
END_TEST

START_TEST(token_files)
{
	struct buf errors;
	char **tokens = NULL;
	size_t n = 0;

	buf_init(&errors, 0);
	write_file("# comment\n\n  tok-1  \ntok2\r\n");
	ck_assert_int_eq(conf_read_token_file(path, &tokens, &n, &errors), ERROR_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(tokens[0], "tok-1");
	ck_assert_str_eq(tokens[1], "tok2");
	conf_tokens_free(tokens, n);
	unlink(path);
	write_file("good\nbad token\n");
	ck_assert_int_eq(conf_read_token_file(path, &tokens, &n, &errors), ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(errors.data, ":2: a token must be"));
	unlink(path);
	buf_free(&errors);
}
END_TEST

/* Regression (fuzzing, issue 8): libconfig 1.5 ends the process when its
 * read fails, so these must be refused before it reads: a directory as the
 * file or through @include, and a file without end. */
START_TEST(unreadable_files_are_errors_not_exits)
{
	struct buf errors;
	struct conf c;
	const char *e;

	clear_env();
	buf_init(&errors, 0);
	ck_assert_int_eq(conf_load("/tmp", &c, &errors), ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(errors.data, "/tmp:0: is a directory, not a regular file"));
	buf_reset(&errors);
	ck_assert_int_eq(conf_load("/dev/zero", &c, &errors), ERROR_INVALID);
	ck_assert_ptr_nonnull(
	    strstr(errors.data, "/dev/zero:0: is a character device, not a regular file"));
	buf_free(&errors);
	e = load("log = { level = \"info\"; };\n  @include \"/\"\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":2: @include is not supported"));
	e = load("@include \"/etc/sessiond/other.conf\"\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":1: @include is not supported"));
	ck_assert_ptr_null(load("listen = { port = 1; };\n# @include is fine in a comment\n", &c));
	ck_assert_int_eq(c.listen.port, 1);
	conf_free(&c);
}
END_TEST

/* Regression (issue 8): a token file that cannot be read is not an empty
 * one, which would turn auth off. */
START_TEST(unreadable_token_file_is_an_error)
{
	struct buf errors;
	char **tokens = NULL;
	size_t n = 0;
	struct conf c;
	const char *e;

	clear_env();
	buf_init(&errors, 0);
	ck_assert_int_eq(conf_read_token_file("/tmp", &tokens, &n, &errors), ERROR_IO);
	ck_assert_ptr_nonnull(
	    strstr(errors.data, "/tmp:0: auth.token_file: is a directory, not a regular file"));
	buf_reset(&errors);
	/* A device that never ends is refused at once. */
	ck_assert_int_eq(conf_read_token_file("/dev/zero", &tokens, &n, &errors), ERROR_IO);
	ck_assert_ptr_nonnull(strstr(errors.data, "/dev/zero:0: auth.token_file: is a character "
						  "device, not a regular file"));
	buf_free(&errors);
	e = load("auth = { token_file = \"/tmp\"; };\n", &c);
	ck_assert_ptr_nonnull(strstr(e, "auth.token_file: is a directory, not a regular file"));
}
END_TEST

/* A scratch directory with a FIFO and a sparse file one byte over the
 * 1 MiB cap of settings and token files. */
static char scratch[64];

static const char *scratch_path(const char *name)
{
	static char p[2][128];
	static int next;
	char *out = p[next++ % 2];

	snprintf(out, sizeof(p[0]), "%s/%s", scratch, name);
	return out;
}

static void scratch_setup(void)
{
	FILE *f;

	snprintf(scratch, sizeof(scratch), "/tmp/sessiond-test-conf-dir-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(scratch));
	ck_assert_int_eq(mkfifo(scratch_path("fifo"), 0600), 0);
	f = fopen(scratch_path("big"), "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ftruncate(fileno(f), (1 << 20) + 1), 0);
	fclose(f);
}

static void scratch_teardown(void)
{
	unlink(scratch_path("fifo"));
	unlink(scratch_path("big"));
	rmdir(scratch);
}

/* conf_load of path under a 2 s alarm; returns the errors (static). */
static const char *load_path(const char *p, enum error_code want)
{
	static char copy[4096];
	struct buf errors;
	struct conf c;

	buf_init(&errors, 0);
	alarm(2);
	ck_assert_int_eq(conf_load(p, &c, &errors), want);
	alarm(0);
	snprintf(copy, sizeof(copy), "%s", errors.data ? errors.data : "");
	buf_free(&errors);
	if (want == ERROR_OK)
		conf_free(&c);
	return copy;
}

/* Issue 13: the settings file is read at start and again on SIGHUP, by
 * the same conf_load. A FIFO there used to block the daemon for good. */
START_TEST(settings_file_fifo_and_oversize_refused)
{
	char want[256];
	const char *e;

	clear_env();
	e = load_path(scratch_path("fifo"), ERROR_INVALID);
	snprintf(want, sizeof(want), "%s:0: is a FIFO, not a regular file\n", scratch_path("fifo"));
	ck_assert_str_eq(e, want);
	e = load_path(scratch_path("big"), ERROR_INVALID);
	snprintf(want, sizeof(want), "%s:0: is larger than 1048576 bytes\n", scratch_path("big"));
	ck_assert_str_eq(e, want);
	e = load_path(scratch, ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(e, ":0: is a directory, not a regular file"));
	e = load_path("/dev/zero", ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(e, ":0: is a character device, not a regular file"));
}
END_TEST

START_TEST(token_file_fifo_oversize_and_nul_refused)
{
	struct buf errors;
	char **tokens = NULL, text[512];
	size_t n = 0;
	const char *e;
	struct conf c;
	FILE *f;

	clear_env();
	buf_init(&errors, 0);
	alarm(2);
	ck_assert_int_eq(conf_read_token_file(scratch_path("fifo"), &tokens, &n, &errors),
			 ERROR_IO);
	alarm(0);
	ck_assert_ptr_nonnull(strstr(errors.data, "fifo:0: auth.token_file: is a FIFO, not a "
						  "regular file"));
	buf_reset(&errors);
	ck_assert_int_eq(conf_read_token_file(scratch_path("big"), &tokens, &n, &errors),
			 ERROR_IO);
	ck_assert_ptr_nonnull(
	    strstr(errors.data, "big:0: auth.token_file: is larger than 1048576 bytes"));
	buf_free(&errors);
	/* Through the settings file, as on SIGHUP. */
	snprintf(text, sizeof(text), "auth = { token_file = \"%s\"; };\n", scratch_path("fifo"));
	alarm(2);
	e = load(text, &c);
	alarm(0);
	ck_assert_ptr_nonnull(strstr(e, "auth.token_file: is a FIFO, not a regular file"));
	/* A NUL byte would cut a token short as a C string: refused. */
	f = fopen(scratch_path("big"), "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite("good\nbad\0tail\n", 1, 15, f), 15);
	fclose(f);
	buf_init(&errors, 0);
	ck_assert_int_eq(conf_read_token_file(scratch_path("big"), &tokens, &n, &errors),
			 ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(errors.data, "big:2: a token must be"));
	buf_free(&errors);
}
END_TEST

/* The CA bundle is read by OpenSSL later; the check made here must not
 * block on a FIFO either, at start or on SIGHUP. */
START_TEST(ca_file_fifo_refused)
{
	char text[512];
	const char *e;
	struct conf c;

	clear_env();
	snprintf(text, sizeof(text), "dynamodb = { ca_file = \"%s\"; };\n", scratch_path("fifo"));
	alarm(2);
	e = load(text, &c);
	alarm(0);
	ck_assert_ptr_nonnull(strstr(e, ":1: dynamodb.ca_file"));
	ck_assert_ptr_nonnull(strstr(e, "cannot be read: is a FIFO, not a regular file"));
}
END_TEST

/* encryption: the list, its "FILE:LINE: message" errors, and the key
 * files read at load (so -t and SIGHUP see a bad one), without blocking on
 * a FIFO. */
START_TEST(encryption_settings)
{
	char text[1024], want[256];
	const char *e;
	struct conf c;
	FILE *f;

	clear_env();
	f = fopen(scratch_path("k1.key"), "w");
	ck_assert_ptr_nonnull(f);
	fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
	fclose(f);
	chmod(scratch_path("k1.key"), 0600);
	snprintf(text, sizeof(text), "encryption = {\n  keys = [\"k1:%s\"];\n  required = true;\n};\n",
		 scratch_path("k1.key"));
	ck_assert_ptr_null(load(text, &c));
	ck_assert_uint_eq(c.encryption.n_keys, 1);
	ck_assert_str_eq(c.encryption.keys[0] + 3, scratch_path("k1.key"));
	ck_assert(c.encryption.required);
	conf_free(&c);

	e = load("encryption = {\n  keys = [\"k1\"];\n};\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":2: encryption.keys[0] must be \"id:path\""));
	e = load("encryption = {\n  keys = [\"a:b:c\", \"x y:/k\"];\n};\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":2: encryption.keys[1] has a key id that is not"));
	e = load("encryption = {\n  keys = \"k1:/x\";\n};\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":2: encryption.keys must be a list of strings"));
	e = load("encryption = {\n\n  required = true;\n};\n", &c);
	ck_assert_ptr_nonnull(strstr(e, ":3: encryption.required needs encryption.keys"));
	snprintf(text, sizeof(text), "encryption = {\n  keys = [\"k1:%s\", \"k1:%s\"];\n};\n",
		 scratch_path("k1.key"), scratch_path("k1.key"));
	e = load(text, &c);
	ck_assert_ptr_nonnull(strstr(e, ":2: encryption.keys: key id \"k1\" is listed twice"));
	/* The key file's own errors name the key file. */
	chmod(scratch_path("k1.key"), 0644);
	snprintf(text, sizeof(text), "encryption = { keys = [\"k1:%s\", \"k2:%s\"]; };\n",
		 scratch_path("k1.key"), scratch_path("fifo"));
	alarm(2);
	e = load(text, &c);
	alarm(0);
	snprintf(want, sizeof(want), "%s: the key file may be read or written by group or others "
				     "(mode 0644); run: chmod 600 %s\n",
		 scratch_path("k1.key"), scratch_path("k1.key"));
	ck_assert_ptr_nonnull(strstr(e, want));
	snprintf(want, sizeof(want), "%s: cannot read the key file: is a FIFO, not a regular file\n",
		 scratch_path("fifo"));
	ck_assert_ptr_nonnull(strstr(e, want));
	unlink(scratch_path("k1.key"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults_match_the_contract);
	tcase_add_test(tc, every_kind_of_setting_parses);
	tcase_add_test(tc, errors_name_file_and_line);
	tcase_add_test(tc, syntax_errors_have_a_line);
	tcase_add_test(tc, cross_setting_rules);
	tcase_add_test(tc, environment_fills_what_the_file_left_unset);
	tcase_add_test(tc, token_files);
	tcase_add_test(tc, unreadable_files_are_errors_not_exits);
	tcase_add_test(tc, unreadable_token_file_is_an_error);
	suite_add_tcase(s, tc);
	tc = tcase_create("not regular");
	tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
	tcase_add_test(tc, settings_file_fifo_and_oversize_refused);
	tcase_add_test(tc, token_file_fifo_oversize_and_nul_refused);
	tcase_add_test(tc, ca_file_fifo_refused);
	tcase_add_test(tc, encryption_settings);
	suite_add_tcase(s, tc);
	return check_run(s);
}
