/* test_creds.c: tests for the credential chain (src/creds*.c): every
 * provider of the AWS default chain, the background refresh, files that
 * are not regular files, and the pure parsers of creds_internal.h. The
 * metadata, container and STS endpoints are one callback-driven fake on
 * 127.0.0.1 (helpers/fake_route); IMDS is disabled in every test that does
 * not point it at that fake, so no test ever reaches beyond loopback. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "../src/creds_internal.h"
#include "helpers/fake_route.h"
#include "sessiond/creds.h"
#include "sessiond/now.h"
#include "sessiond/log.h"

/* ---- fixture: a private temp dir and a clean AWS environment ----------- */

static char tmpdir[64];

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
};

static const char *tmp_path(const char *name)
{
	static char path[4][256];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	return p;
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(tmp_path(name), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_creds.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	/* Never the real metadata service or the real ~/.aws. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", tmp_path("credentials"), 1);
	setenv("AWS_CONFIG_FILE", tmp_path("config"), 1);
	log_set_level(LOG_LEVEL_ERROR);
}

static void teardown(void)
{
	static const char *const files[] = {"credentials", "config", "token", "ecs-token", "log"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		unlink(tmp_path(files[i]));
		rmdir(tmp_path(files[i]));
	}
	rmdir(tmpdir);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ---- the fake: IMDS, a container endpoint and STS on one port ---------- */

enum fake_mode {
	MODE_OK,
	MODE_500,
	MODE_BAD_JSON,
	MODE_PAST,   /* credentials that expired an hour ago */
	MODE_SILENT, /* never answer the credentials request */
	MODE_NO_ROLE,
	MODE_STS_DENIED,
	MODE_OFFSET_TIME, /* Expiration with a fraction and a +01:00 zone */
};

#define IMDS_TOKEN "imds-session-token-42"
#define ECS_PATH   "/ecs/creds"
#define STS_PATH   "/sts/"
#define JWT	   "eyJhbGciOi.jwt-s3cr3t-payload.sig"

struct aws_fake {
	struct fake_route *srv;
	atomic_int mode;
	atomic_int lifetime_s; /* of each credential served */
	atomic_int served;     /* credential documents served */
	atomic_int cred_requests;
	atomic_int token_puts;
	atomic_int refused; /* requests without the IMDS token */
	pthread_mutex_t lock;
	char expect_auth[128]; /* container Authorization the fake requires */
	char sts_body[4096];   /* the last STS request body */
	char ttl_header[32];
};

static void iso_time(time_t t, char *out, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fake_credentials(struct aws_fake *f, const char *kind, struct fake_route_reply *rep)
{
	int mode = atomic_load(&f->mode), n;
	char exp[64];

	atomic_fetch_add(&f->cred_requests, 1);
	switch (mode) {
	case MODE_500:
		rep->status = 500;
		snprintf(rep->body, sizeof(rep->body), "{\"message\":\"boom\"}");
		return;
	case MODE_BAD_JSON:
		snprintf(rep->body, sizeof(rep->body),
			 "{\"AccessKeyId\": \"AKIDBAD\", \"SecretAccessKey\": \"bad-s3cr3t");
		return;
	case MODE_SILENT:
		rep->status = 0;
		return;
	default:
		break;
	}
	n = atomic_fetch_add(&f->served, 1) + 1;
	if (mode == MODE_PAST)
		iso_time(time(NULL) - 3600, exp, sizeof(exp));
	else if (mode == MODE_OFFSET_TIME)
		snprintf(exp, sizeof(exp), "2099-01-01T00:30:00.123+01:00");
	else
		iso_time(time(NULL) + atomic_load(&f->lifetime_s), exp, sizeof(exp));
	snprintf(rep->body, sizeof(rep->body),
		 "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"AKID%s%d\","
		 "\"SecretAccessKey\":\"%s-s3cr3t-%d\",\"Token\":\"%s-t0ken-%d\","
		 "\"Expiration\":\"%s\"}",
		 kind, n, kind, n, kind, n, exp);
}

static void fake_sts(struct aws_fake *f, const struct fake_route_request *req,
		     struct fake_route_reply *rep)
{
	int mode = atomic_load(&f->mode), n;
	char exp[64];

	pthread_mutex_lock(&f->lock);
	snprintf(f->sts_body, sizeof(f->sts_body), "%s", req->body);
	pthread_mutex_unlock(&f->lock);
	atomic_fetch_add(&f->cred_requests, 1);
	rep->content_type[0] = '\0';
	snprintf(rep->content_type, sizeof(rep->content_type), "text/xml");
	if (strcmp(req->method, "POST") != 0 ||
	    !strstr(req->body, "Action=AssumeRoleWithWebIdentity") ||
	    !strstr(req->body, "Version=2011-06-15") || mode == MODE_STS_DENIED ||
	    mode == MODE_500) {
		rep->status = mode == MODE_500 ? 500 : 400;
		snprintf(
		    rep->body, sizeof(rep->body),
		    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
		    "  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidIdentityToken</Code>\n"
		    "    <Message>Token " JWT " is bad</Message>\n  </Error>\n"
		    "  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
		    "</ErrorResponse>\n");
		return;
	}
	n = atomic_fetch_add(&f->served, 1) + 1;
	iso_time(time(NULL) + atomic_load(&f->lifetime_s), exp, sizeof(exp));
	snprintf(rep->body, sizeof(rep->body),
		 "<AssumeRoleWithWebIdentityResponse "
		 "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
		 "  <AssumeRoleWithWebIdentityResult>\n"
		 "    <SubjectFromWebIdentityToken>system:serviceaccount:default:app"
		 "</SubjectFromWebIdentityToken>\n"
		 "    <AssumedRoleUser>\n"
		 "      <Arn>arn:aws:sts::123456789012:assumed-role/web/sess</Arn>\n"
		 "      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:sess</AssumedRoleId>\n"
		 "    </AssumedRoleUser>\n"
		 "    <Credentials>\n"
		 "      <SessionToken>sts-t0ken-%d</SessionToken>\n"
		 "      <SecretAccessKey>sts-s3cr3t&amp;x&#43;y-%d</SecretAccessKey>\n"
		 "      <Expiration>%s</Expiration>\n"
		 "      <AccessKeyId>AKIDSTS%d</AccessKeyId>\n"
		 "    </Credentials>\n"
		 "    <Audience>sts.amazonaws.com</Audience>\n"
		 "  </AssumeRoleWithWebIdentityResult>\n"
		 "  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n"
		 "</AssumeRoleWithWebIdentityResponse>\n",
		 n, n, exp, n);
}

static void fake_handle(void *arg, const struct fake_route_request *req,
			struct fake_route_reply *rep)
{
	static const char creds_path[] = "/latest/meta-data/iam/security-credentials/";
	struct aws_fake *f = arg;
	char value[256];

	if (strcmp(req->target, STS_PATH) == 0) {
		fake_sts(f, req, rep);
		return;
	}
	if (strcmp(req->target, ECS_PATH) == 0) {
		pthread_mutex_lock(&f->lock);
		bool ok =
		    fake_route_header(req->headers, "Authorization", value, sizeof(value)) == 0
			? strcmp(value, f->expect_auth) == 0
			: f->expect_auth[0] == '\0';
		pthread_mutex_unlock(&f->lock);
		if (!ok) {
			rep->status = 401;
			snprintf(rep->body, sizeof(rep->body), "{\"error\":\"unauthorized\"}");
			return;
		}
		fake_credentials(f, "ECS", rep);
		return;
	}
	if (strcmp(req->target, "/latest/api/token") == 0) {
		if (strcmp(req->method, "PUT") != 0 ||
		    fake_route_header(req->headers, "X-aws-ec2-metadata-token-ttl-seconds", value,
				      sizeof(value)) != 0) {
			rep->status = 400;
			return;
		}
		pthread_mutex_lock(&f->lock);
		snprintf(f->ttl_header, sizeof(f->ttl_header), "%.31s", value);
		pthread_mutex_unlock(&f->lock);
		atomic_fetch_add(&f->token_puts, 1);
		snprintf(rep->content_type, sizeof(rep->content_type), "text/plain");
		snprintf(rep->body, sizeof(rep->body), IMDS_TOKEN);
		return;
	}
	if (strncmp(req->target, creds_path, sizeof(creds_path) - 1) == 0) {
		/* IMDSv2 only: a GET without the session token is refused. */
		if (strcmp(req->method, "GET") != 0 ||
		    fake_route_header(req->headers, "X-aws-ec2-metadata-token", value,
				      sizeof(value)) != 0 ||
		    strcmp(value, IMDS_TOKEN) != 0) {
			atomic_fetch_add(&f->refused, 1);
			rep->status = 401;
			return;
		}
		snprintf(rep->content_type, sizeof(rep->content_type), "text/plain");
		if (req->target[sizeof(creds_path) - 1] == '\0') {
			if (atomic_load(&f->mode) == MODE_NO_ROLE)
				rep->status = 404;
			else
				snprintf(rep->body, sizeof(rep->body), "test-role\n");
			return;
		}
		if (strcmp(req->target + sizeof(creds_path) - 1, "test-role") != 0) {
			rep->status = 404;
			return;
		}
		fake_credentials(f, "IMDS", rep);
		return;
	}
	rep->status = 404;
}

static struct aws_fake *fake_start(void)
{
	struct aws_fake *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	pthread_mutex_init(&f->lock, NULL);
	atomic_store(&f->lifetime_s, 3600);
	f->srv = fake_route_start(fake_handle, f);
	return f;
}

static void fake_stop(struct aws_fake *f)
{
	fake_route_stop(f->srv);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void fake_expect_auth(struct aws_fake *f, const char *value)
{
	pthread_mutex_lock(&f->lock);
	snprintf(f->expect_auth, sizeof(f->expect_auth), "%s", value);
	pthread_mutex_unlock(&f->lock);
}

static void use_imds(struct aws_fake *f)
{
	char url[64];

	/* The trailing slash is stripped, as the SDKs do. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fake_route_port(f->srv));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
}

static void use_container(struct aws_fake *f, const char *host)
{
	char url[128];

	snprintf(url, sizeof(url), "http://%s:%d" ECS_PATH, host, fake_route_port(f->srv));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
}

/* Sets up web identity through the environment; cfg gets the STS URL. */
static void use_web_identity(struct aws_fake *f, struct creds_config *cfg, char *url, size_t n)
{
	write_file("token", JWT "\n");
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tmp_path("token"), 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web", 1);
	snprintf(url, n, "http://127.0.0.1:%d" STS_PATH, fake_route_port(f->srv));
	cfg->sts_endpoint = url;
}

/* creds_new must fail and say why_part in its one-line reason. */
static void expect_no_creds(const struct creds_config *cfg, const char *why_part)
{
	char why[4096];
	struct creds *c = creds_new(cfg, why, sizeof(why));

	ck_assert_msg(c == NULL, "credentials found, expected none (%s)", why_part);
	ck_assert_msg(strstr(why, why_part) != NULL, "\"%s\" not in \"%s\"", why_part, why);
	ck_assert_ptr_null(strchr(why, '\n'));
}

/* creds_new must succeed from source; returns the handle and its value. */
static struct creds *expect_creds(const struct creds_config *cfg, const char *source,
				  struct creds_value *v)
{
	char why[4096] = "";
	struct creds *c = creds_new(cfg, why, sizeof(why));

	ck_assert_msg(c != NULL, "no credentials: %s", why);
	ck_assert_str_eq(creds_source(c), source);
	ck_assert_int_eq(creds_get(c, v), ERROR_OK);
	ck_assert_str_eq(v->source, source);
	return c;
}

/* ---- settings and environment ----------------------------------------- */

START_TEST(settings_static)
{
	struct creds_config cfg = {.access_key_id = "AKIDSETTINGS",
				   .secret_access_key = "settings-s3cr3t",
				   .session_token = "settings-t0ken"};
	struct creds_value v;
	struct creds *c = expect_creds(&cfg, "settings", &v);

	ck_assert_str_eq(v.access_key_id, "AKIDSETTINGS");
	ck_assert_str_eq(v.secret_access_key, "settings-s3cr3t");
	ck_assert_str_eq(v.session_token, "settings-t0ken");
	ck_assert_int_eq(v.expiration, 0);
	ck_assert_int_eq(creds_expiration(c), 0);
	ck_assert(!creds_last_refresh_failed(c));
	/* Nothing to refresh: the caller must not retry. */
	ck_assert_int_eq(creds_refresh_now(c), ERROR_UNAVAILABLE);
	creds_value_wipe(&v);
	ck_assert_str_eq(v.access_key_id, "");
	creds_free(c);
	creds_free(NULL);
}
END_TEST

START_TEST(settings_over_environment)
{
	struct creds_config cfg = {.access_key_id = "AKIDSETTINGS",
				   .secret_access_key = "settings-s3cr3t"};
	struct creds_value v;
	struct creds *c;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-s3cr3t", 1);
	c = expect_creds(&cfg, "settings", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDSETTINGS");
	ck_assert_str_eq(v.session_token, "");
	creds_free(c);
}
END_TEST

START_TEST(environment_static)
{
	struct creds_config cfg = {0};
	struct creds_value v;
	struct creds *c;

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-s3cr3t", 1);
	setenv("AWS_SESSION_TOKEN", "env-t0ken", 1);
	c = expect_creds(&cfg, "environment", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDENV");
	ck_assert_str_eq(v.secret_access_key, "env-s3cr3t");
	ck_assert_str_eq(v.session_token, "env-t0ken");
	creds_free(c);
	creds_free(creds_new(NULL, NULL, 0)); /* a NULL config is the empty one */
}
END_TEST

START_TEST(environment_half_pair_and_bad_bytes)
{
	struct creds_config cfg = {0};

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	expect_no_creds(&cfg,
			"environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	/* A key with a line break would inject a header: refused. */
	setenv("AWS_SECRET_ACCESS_KEY", "env\r\nX-Evil: 1", 1);
	expect_no_creds(&cfg, "environment: AWS_* keys are too long or hold spaces");
}
END_TEST

/* ---- shared files and profiles ----------------------------------------- */

START_TEST(profile_default_in_credentials_file)
{
	struct creds_config cfg = {0};
	struct creds_value v;
	struct creds *c;

	write_file("credentials", "[default]\naws_access_key_id = AKIDFILE\n"
				  "aws_secret_access_key = file-s3cr3t\n");
	c = expect_creds(&cfg, "profile", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDFILE");
	ck_assert_str_eq(v.secret_access_key, "file-s3cr3t");
	ck_assert_str_eq(v.session_token, "");
	ck_assert_int_eq(v.expiration, 0);
	creds_free(c);
}
END_TEST

START_TEST(profile_section_names_per_file)
{
	struct creds_config cfg = {0};
	struct creds_value v;
	struct creds *c;

	/* "[x]" means nothing in config and "[profile x]" nothing in
	 * credentials: only config's "[profile x]" is profile x here. */
	write_file("config", "[x]\naws_access_key_id = AKIDWRONG1\naws_secret_access_key = w\n"
			     "[profile x]\naws_access_key_id = AKIDCONFIG\n"
			     "aws_secret_access_key = config-s3cr3t\n");
	write_file("credentials", "[profile x]\naws_access_key_id = AKIDWRONG2\n"
				  "aws_secret_access_key = w\n");
	setenv("AWS_PROFILE", "x", 1);
	c = expect_creds(&cfg, "profile", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDCONFIG");
	ck_assert_str_eq(v.secret_access_key, "config-s3cr3t");
	creds_free(c);
}
END_TEST

START_TEST(profile_credentials_file_wins_and_merges)
{
	struct creds_config cfg = {0};
	struct creds_value v;
	struct creds *c;

	write_file("config", "[profile x]\naws_access_key_id = AKIDCONFIG\n"
			     "aws_secret_access_key = config-s3cr3t\n"
			     "aws_session_token = config-t0ken\nregion = eu-west-1\n");
	write_file("credentials", "[x]\naws_access_key_id = AKIDCRED\n"
				  "aws_secret_access_key = cred-s3cr3t\n");
	setenv("AWS_PROFILE", "x", 1);
	c = expect_creds(&cfg, "profile", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDCRED");
	ck_assert_str_eq(v.secret_access_key, "cred-s3cr3t");
	ck_assert_str_eq(v.session_token, "config-t0ken");
	creds_free(c);
}
END_TEST

START_TEST(profile_syntax_comments_crlf_and_default_precedence)
{
	struct creds_config cfg = {0};
	struct creds_value v;
	struct creds *c;

	/* In config, "[profile default]" wins over "[default]" wherever it is. */
	write_file("config", "# a comment\r\n; another\r\n"
			     "[profile default]   # trailing comment\r\n"
			     "aws_access_key_id=AKIDPREFIXED ; comment after whitespace\r\n"
			     "aws_secret_access_key =   pre#fixed-s3cr3t   \r\n"
			     "s3 =\r\n  max_concurrent_requests = 20\r\n"
			     "\r\n[ default ]\r\naws_access_key_id = AKIDPLAIN\r\n"
			     "aws_secret_access_key = plain\r\n");
	c = expect_creds(&cfg, "profile", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDPREFIXED");
	ck_assert_str_eq(v.secret_access_key, "pre#fixed-s3cr3t");
	creds_free(c);
}
END_TEST

START_TEST(profile_selection_settings_over_aws_profile)
{
	struct creds_config cfg = {.profile = "b"};
	struct creds_value v;
	struct creds *c;

	write_file("credentials", "[a]\naws_access_key_id = AKIDA\naws_secret_access_key = a\n"
				  "[b]\naws_access_key_id = AKIDB\naws_secret_access_key = b\n");
	setenv("AWS_PROFILE", "a", 1);
	/* A profile chosen in the settings file also outranks stray
	 * environment keys, as an explicit profile does in botocore. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-s3cr3t", 1);
	c = expect_creds(&cfg, "profile", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDB");
	creds_free(c);

	cfg.profile = NULL;
	unsetenv("AWS_ACCESS_KEY_ID");
	c = expect_creds(&cfg, "profile", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDA");
	creds_free(c);
}
END_TEST

START_TEST(profile_failures_are_explained)
{
	struct creds_config cfg = {0};

	setenv("AWS_PROFILE", "nope", 1);
	expect_no_creds(&cfg, "profile: profile \"nope\": neither ");
	write_file("credentials",
		   "[default]\naws_access_key_id = AKID\naws_secret_access_key = s\n");
	expect_no_creds(&cfg, "profile: profile \"nope\" not found in ");
	unsetenv("AWS_PROFILE");
	write_file("config", "[default]\ncredential_process = /bin/get-creds\n");
	write_file("credentials", "");
	expect_no_creds(&cfg, "uses credential_process, which sessiond does not support");
	/* A role wins over keys in the same profile: those keys are the
	 * identity that would assume it, not the one to sign with. */
	write_file("config", "[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = b\n"
			     "aws_access_key_id = AKID\naws_secret_access_key = s\n");
	expect_no_creds(&cfg,
			"roles through source_profile or credential_source are not supported");
	write_file("config", "[default]\naws_access_key_id = AKID\n");
	expect_no_creds(&cfg, "needs both aws_access_key_id and aws_secret_access_key");
	write_file("config", "[default]\naws_access_key_id = AKID\nthis line is wrong\n");
	expect_no_creds(&cfg, "config:3: expected a [section] or name = value");
}
END_TEST

START_TEST(profile_web_identity)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;
	char url[128], text[512];

	write_file("token", JWT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d" STS_PATH, fake_route_port(f->srv));
	cfg.sts_endpoint = url;
	snprintf(text, sizeof(text),
		 "[profile w]\nrole_arn = arn:aws:iam::123456789012:role/web\n"
		 "web_identity_token_file = %s\nrole_session_name = from-profile\n",
		 tmp_path("token"));
	write_file("config", text);
	cfg.profile = "w";
	c = expect_creds(&cfg, "profile", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDSTS1");
	ck_assert_ptr_nonnull(strstr(f->sts_body, "RoleSessionName=from-profile"));
	ck_assert_int_gt(creds_expiration(c), time(NULL) + 3000);
	creds_free(c);
	fake_stop(f);
}
END_TEST

/* ---- web identity ------------------------------------------------------ */

START_TEST(web_identity_assume_role)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;
	char url[128];
	time_t before = time(NULL);

	use_web_identity(f, &cfg, url, sizeof(url));
	setenv("AWS_ROLE_SESSION_NAME", "my-session", 1);
	c = expect_creds(&cfg, "web-identity", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDSTS1");
	/* Entities are decoded: &amp; is "&", &#43; is "+". */
	ck_assert_str_eq(v.secret_access_key, "sts-s3cr3t&x+y-1");
	ck_assert_str_eq(v.session_token, "sts-t0ken-1");
	ck_assert_int_ge(v.expiration, before + 3600);
	ck_assert_int_le(v.expiration, time(NULL) + 3600);
	ck_assert_ptr_nonnull(
	    strstr(f->sts_body, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb"));
	ck_assert_ptr_nonnull(strstr(f->sts_body, "RoleSessionName=my-session"));
	ck_assert_ptr_nonnull(strstr(f->sts_body, "WebIdentityToken=" JWT));
	creds_free(c);

	/* Without AWS_ROLE_SESSION_NAME a session name is made up. */
	unsetenv("AWS_ROLE_SESSION_NAME");
	c = expect_creds(&cfg, "web-identity", &v);
	ck_assert_ptr_nonnull(strstr(f->sts_body, "RoleSessionName=sessiond-"));
	creds_free(c);
	fake_stop(f);
}
END_TEST

START_TEST(web_identity_failures)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	char url[128];

	use_web_identity(f, &cfg, url, sizeof(url));
	atomic_store(&f->mode, MODE_STS_DENIED);
	expect_no_creds(&cfg, "answered HTTP 400 (InvalidIdentityToken)");
	atomic_store(&f->mode, MODE_OK);
	unsetenv("AWS_ROLE_ARN");
	expect_no_creds(&cfg, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
	setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web", 1);
	unlink(tmp_path("token"));
	expect_no_creds(&cfg, "web identity token file ");
	expect_no_creds(&cfg, "token: cannot open: No such file or directory");
	fake_stop(f);
}
END_TEST

/* ---- files that are not regular files (issue 13) ----------------------- */

/* creds_new under an alarm: a FIFO used to block the open for good, at
 * start and on the refresh thread; now it must fail at once. */
static void expect_no_creds_now(const struct creds_config *cfg, const char *why_part)
{
	alarm(5);
	expect_no_creds(cfg, why_part);
	alarm(0);
}

/* A sparse file of len bytes. */
static void make_sized(const char *name, off_t len)
{
	FILE *f = fopen(tmp_path(name), "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ftruncate(fileno(f), len), 0);
	fclose(f);
}

START_TEST(shared_files_must_be_regular)
{
	struct creds_config cfg = {0};

	ck_assert_int_eq(mkfifo(tmp_path("credentials"), 0600), 0);
	expect_no_creds_now(&cfg, "credentials: is a FIFO, not a regular file");
	unlink(tmp_path("credentials"));
	ck_assert_int_eq(mkdir(tmp_path("config"), 0700), 0);
	expect_no_creds_now(&cfg, "config: is a directory, not a regular file");
	rmdir(tmp_path("config"));
	make_sized("config", (1 << 20) + 1);
	expect_no_creds_now(&cfg, "config: is larger than 1048576 bytes");
	unlink(tmp_path("config"));
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/zero", 1);
	expect_no_creds_now(&cfg, "profile: /dev/zero: is a character device, not a regular file");
}
END_TEST

START_TEST(token_files_must_be_regular)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	char url[128];

	use_web_identity(f, &cfg, url, sizeof(url));
	unlink(tmp_path("token"));
	ck_assert_int_eq(mkfifo(tmp_path("token"), 0600), 0);
	expect_no_creds_now(&cfg, "token: is a FIFO, not a regular file");
	unlink(tmp_path("token"));
	make_sized("token", 64 * 1024 + 1);
	expect_no_creds_now(&cfg, "token: is larger than 65536 bytes");
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/dev/zero", 1);
	expect_no_creds_now(&cfg, "/dev/zero: is a character device, not a regular file");
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tmpdir, 1);
	expect_no_creds_now(&cfg, "is a directory, not a regular file");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	/* The container's token file too. */
	use_container(f, "127.0.0.1");
	ck_assert_int_eq(mkfifo(tmp_path("ecs-token"), 0600), 0);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tmp_path("ecs-token"), 1);
	expect_no_creds_now(&cfg, "ecs-token: is a FIFO, not a regular file");
	unlink(tmp_path("ecs-token"));
	make_sized("ecs-token", 64 * 1024 + 1);
	expect_no_creds_now(&cfg, "ecs-token: is larger than 65536 bytes");
	ck_assert_int_eq(fake_route_count(f->srv), 0);
	fake_stop(f);
}
END_TEST

/* The token file is read again on every refresh: one swapped for a FIFO
 * fails that refresh at once instead of hanging the refresh for good. */
START_TEST(refresh_with_token_file_turned_fifo_fails_fast)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;
	char url[128];

	use_web_identity(f, &cfg, url, sizeof(url));
	c = expect_creds(&cfg, "web-identity", &v);
	unlink(tmp_path("token"));
	ck_assert_int_eq(mkfifo(tmp_path("token"), 0600), 0);
	sleep_ms(1100); /* past creds_refresh_now's one-second floor */
	alarm(5);
	ck_assert_int_eq(creds_refresh_now(c), ERROR_UNAVAILABLE);
	alarm(0);
	ck_assert(creds_last_refresh_failed(c));
	ck_assert_int_eq(creds_get(c, &v), ERROR_OK); /* the old ones still serve */
	ck_assert_str_eq(v.access_key_id, "AKIDSTS1");
	ck_assert_int_eq(atomic_load(&f->served), 1);
	creds_free(c);
	fake_stop(f);
}
END_TEST

/* ---- container --------------------------------------------------------- */

START_TEST(container_full_uri_token_file_wins)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;

	use_container(f, "127.0.0.1");
	write_file("ecs-token", "file-auth-token\n");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tmp_path("ecs-token"), 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-auth-token", 1);
	fake_expect_auth(f, "file-auth-token");
	c = expect_creds(&cfg, "container", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDECS1");
	ck_assert_str_eq(v.secret_access_key, "ECS-s3cr3t-1");
	ck_assert_str_eq(v.session_token, "ECS-t0ken-1");
	ck_assert_int_gt(v.expiration, time(NULL) + 3000);
	creds_free(c);

	/* The variable when there is no file, and "localhost" is allowed. */
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	fake_expect_auth(f, "env-auth-token");
	use_container(f, "localhost");
	c = expect_creds(&cfg, "container", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDECS2");
	creds_free(c);

	/* The endpoint refuses a wrong token. */
	fake_expect_auth(f, "something-else");
	expect_no_creds(&cfg, "container: container endpoint answered HTTP 401");
	fake_stop(f);
}
END_TEST

START_TEST(container_refuses_remote_http)
{
	struct creds_config cfg = {0};

	/* Refused before any connection is tried: a token must not leave. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-auth-token", 1);
	expect_no_creds(&cfg, "host 10.1.2.3 is not loopback");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "ftp://127.0.0.1/creds", 1);
	expect_no_creds(&cfg, "must be http or https");
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://[fd00:ec2::24]/creds", 1);
	expect_no_creds(&cfg, "is not loopback");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad\ntoken", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds", 1);
	expect_no_creds(&cfg, "authorization token holds control characters");
}
END_TEST

START_TEST(container_expiration_formats)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct tm tm = {.tm_year = 199, .tm_mon = 0, .tm_mday = 1};
	struct creds_value v;
	struct creds *c;

	use_container(f, "127.0.0.1");
	atomic_store(&f->mode, MODE_OFFSET_TIME);
	c = expect_creds(&cfg, "container", &v);
	/* 2099-01-01T00:30:00.123+01:00 is 2098-12-31T23:30:00Z. */
	ck_assert_int_eq(v.expiration, (int64_t)timegm(&tm) - 1800);
	creds_free(c);
	fake_stop(f);
}
END_TEST

/* ---- IMDS -------------------------------------------------------------- */

START_TEST(imds_v2_token_flow)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;

	use_imds(f);
	c = expect_creds(&cfg, "imds", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDIMDS1");
	ck_assert_str_eq(v.secret_access_key, "IMDS-s3cr3t-1");
	ck_assert_str_eq(v.session_token, "IMDS-t0ken-1");
	ck_assert_int_gt(v.expiration, time(NULL) + 3000);
	ck_assert_int_eq(atomic_load(&f->token_puts), 1);
	ck_assert_int_eq(atomic_load(&f->refused), 0);
	ck_assert_str_eq(f->ttl_header, "21600");
	ck_assert_int_eq(fake_route_count(f->srv), 3);
	creds_free(c);
	fake_stop(f);
}
END_TEST

START_TEST(imds_disabled)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();

	use_imds(f);
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	expect_no_creds(&cfg, "imds: disabled by AWS_EC2_METADATA_DISABLED");
	ck_assert_int_eq(fake_route_count(f->srv), 0);
	fake_stop(f);
}
END_TEST

START_TEST(imds_slow_times_out)
{
	struct creds_config cfg = {.timeout_ms = 300};
	struct aws_fake *f = fake_start();
	int64_t start = now_ms();

	use_imds(f);
	atomic_store(&f->mode, MODE_SILENT);
	expect_no_creds(&cfg, "imds: IMDS credentials at http://127.0.0.1:");
	expect_no_creds(&cfg, "timed out after 300 ms");
	ck_assert_int_lt(now_ms() - start, 2000);
	fake_stop(f);
}
END_TEST

START_TEST(imds_failures_are_explained)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();

	use_imds(f);
	atomic_store(&f->mode, MODE_500);
	expect_no_creds(&cfg, "IMDS credentials at http://127.0.0.1:");
	expect_no_creds(&cfg, "answered HTTP 500");
	atomic_store(&f->mode, MODE_BAD_JSON);
	expect_no_creds(&cfg, "IMDS role test-role: malformed JSON");
	atomic_store(&f->mode, MODE_PAST);
	expect_no_creds(&cfg, "credentials expired 3600 s ago");
	atomic_store(&f->mode, MODE_NO_ROLE);
	expect_no_creds(&cfg, "no IAM role attached to this instance");
	ck_assert_int_eq(atomic_load(&f->refused), 0);
	fake_stop(f);
}
END_TEST

/* ---- the chain --------------------------------------------------------- */

START_TEST(chain_order)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;
	char url[128];

	/* Everything available at once; each step removes the winner. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "env-s3cr3t", 1);
	write_file("credentials", "[default]\naws_access_key_id = AKIDFILE\n"
				  "aws_secret_access_key = file-s3cr3t\n");
	use_web_identity(f, &cfg, url, sizeof(url));
	use_container(f, "127.0.0.1");
	use_imds(f);

	c = expect_creds(&cfg, "environment", &v);
	creds_free(c);
	ck_assert_int_eq(fake_route_count(f->srv), 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	c = expect_creds(&cfg, "profile", &v);
	creds_free(c);
	ck_assert_int_eq(fake_route_count(f->srv), 0);
	unlink(tmp_path("credentials"));
	c = expect_creds(&cfg, "web-identity", &v);
	creds_free(c);
	ck_assert_int_eq(fake_route_count(f->srv), 1);
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	c = expect_creds(&cfg, "container", &v);
	creds_free(c);
	ck_assert_int_eq(fake_route_count(f->srv), 2);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	c = expect_creds(&cfg, "imds", &v);
	creds_free(c);
	ck_assert_int_eq(fake_route_count(f->srv), 5);

	/* A provider that is set up but fails hands over to the next one. */
	use_container(f, "127.0.0.1");
	fake_expect_auth(f, "required-but-missing");
	c = expect_creds(&cfg, "imds", &v);
	creds_free(c);
	fake_stop(f);
}
END_TEST

/* The why line names every provider, checked piece by piece (paths vary). */
START_TEST(no_provider_names_every_provider)
{
	struct creds_config cfg = {0};
	static const char *const parts[] = {
	    "no AWS credentials found: settings: credentials.access_key_id unset; ",
	    "; environment: AWS_ACCESS_KEY_ID unset; ",
	    "; profile: profile \"default\": neither ",
	    "; web-identity: AWS_WEB_IDENTITY_TOKEN_FILE unset; ",
	    "; container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset; ",
	    "; imds: disabled by AWS_EC2_METADATA_DISABLED",
	};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		expect_no_creds(&cfg, parts[i]);
}
END_TEST

/* ---- refresh ----------------------------------------------------------- */

/* Waits up to ms for creds_get to return a key other than old. */
static bool wait_new_key(struct creds *c, const char *old, int ms, struct creds_value *v)
{
	for (int64_t end = now_ms() + ms; now_ms() < end; sleep_ms(50)) {
		ck_assert_int_eq(creds_get(c, v), ERROR_OK);
		if (strcmp(v->access_key_id, old) != 0)
			return true;
	}
	return false;
}

struct reader_arg {
	struct creds *c;
	atomic_bool stop;
	atomic_int reads, bad;
};

/* Reads as fast as it can: creds_get must never fail or tear a value. */
static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	struct creds_value v;

	while (!atomic_load(&a->stop)) {
		if (creds_get(a->c, &v) != ERROR_OK ||
		    strncmp(v.access_key_id + 8, v.secret_access_key + 12, 1) != 0)
			atomic_fetch_add(&a->bad, 1);
		atomic_fetch_add(&a->reads, 1);
	}
	return NULL;
}

START_TEST(refresh_short_lived_in_background)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct reader_arg ra = {0};
	pthread_t readers[3];
	struct creds_value v;
	struct creds *c;
	int64_t first_expiry;

	/* Four seconds of life is well inside the 5-minute margin: the thread
	 * fetches again at half the remaining life. */
	atomic_store(&f->lifetime_s, 4);
	use_imds(f);
	c = expect_creds(&cfg, "imds", &v);
	ck_assert_str_eq(v.access_key_id, "AKIDIMDS1");
	ra.c = c;
	for (int i = 0; i < 3; i++)
		pthread_create(&readers[i], NULL, reader_main, &ra);
	first_expiry = v.expiration;
	ck_assert(wait_new_key(c, "AKIDIMDS1", 4000, &v));
	/* The thread did it, ahead of time; not a reader after expiry. */
	ck_assert_int_lt(time(NULL), first_expiry);
	ck_assert_str_eq(v.access_key_id, "AKIDIMDS2");
	ck_assert_str_eq(v.secret_access_key, "IMDS-s3cr3t-2");
	ck_assert(!creds_last_refresh_failed(c));
	atomic_store(&ra.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(readers[i], NULL);
	ck_assert_int_gt(atomic_load(&ra.reads), 100);
	ck_assert_int_eq(atomic_load(&ra.bad), 0);
	creds_free(c);
	fake_stop(f);
}
END_TEST

START_TEST(refresh_margin_hook)
{
	struct creds_config cfg = {.refresh_margin_s = 2};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;
	char url[128];

	/* Five seconds of life, a 2 s margin: the refresh comes 2 to 3.5 s
	 * before expiry, that is 1.5 to 3 s from now, never sooner. */
	atomic_store(&f->lifetime_s, 5);
	use_web_identity(f, &cfg, url, sizeof(url));
	c = expect_creds(&cfg, "web-identity", &v);
	sleep_ms(1200);
	ck_assert_int_eq(atomic_load(&f->served), 1);
	ck_assert(wait_new_key(c, "AKIDSTS1", 3000, &v));
	ck_assert_str_eq(v.access_key_id, "AKIDSTS2");
	ck_assert_int_gt(v.expiration, time(NULL) + 2);
	creds_free(c);
	fake_stop(f);
}
END_TEST

START_TEST(refresh_failure_keeps_old_then_recovers)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;

	atomic_store(&f->lifetime_s, 4);
	use_container(f, "127.0.0.1");
	c = expect_creds(&cfg, "container", &v);
	atomic_store(&f->mode, MODE_500);
	for (int64_t end = now_ms() + 3000; now_ms() < end && !creds_last_refresh_failed(c);)
		sleep_ms(50);
	ck_assert(creds_last_refresh_failed(c));
	/* Still valid: readers keep the old credentials meanwhile. */
	ck_assert_int_eq(creds_get(c, &v), ERROR_OK);
	ck_assert_str_eq(v.access_key_id, "AKIDECS1");
	atomic_store(&f->mode, MODE_OK);
	ck_assert(wait_new_key(c, "AKIDECS1", 2000, &v));
	ck_assert(!creds_last_refresh_failed(c));
	creds_free(c);
	fake_stop(f);
}
END_TEST

START_TEST(expired_and_refresh_failed_is_unavailable)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;

	struct creds_value copy;
	uint64_t of = 0;

	memset(&copy, 0, sizeof(copy));
	atomic_store(&f->lifetime_s, 2);
	use_imds(f);
	c = expect_creds(&cfg, "imds", &v);
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_OK);
	atomic_store(&f->mode, MODE_500);
	while (time(NULL) < creds_expiration(c))
		sleep_ms(50);
	ck_assert_int_eq(creds_get(c, &v), ERROR_UNAVAILABLE);
	ck_assert_str_eq(v.access_key_id, "");
	ck_assert(creds_last_refresh_failed(c));
	/* A loop's expired copy is not served either: wiped, and marked none. */
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_UNAVAILABLE);
	ck_assert_str_eq(copy.access_key_id, "");
	ck_assert_uint_eq(of, 0);
	/* A reader refreshes synchronously once the endpoint is back. (One
	 * that waited on a failing background fetch shares its failure, so
	 * allow a second try.) */
	atomic_store(&f->lifetime_s, 3600);
	atomic_store(&f->mode, MODE_OK);
	if (creds_get(c, &v) != ERROR_OK)
		ck_assert_int_eq(creds_get(c, &v), ERROR_OK);
	ck_assert_str_ne(v.access_key_id, "AKIDIMDS1");
	ck_assert(!creds_last_refresh_failed(c));
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_OK);
	ck_assert_str_eq(copy.access_key_id, v.access_key_id);
	creds_value_wipe(&copy);
	creds_free(c);
	fake_stop(f);
}
END_TEST

START_TEST(refresh_now_after_expired_token)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;

	use_imds(f);
	c = expect_creds(&cfg, "imds", &v);
	/* Right after a fetch, a refresh is pointless: no request is made. */
	ck_assert_int_eq(creds_refresh_now(c), ERROR_OK);
	ck_assert_int_eq(atomic_load(&f->served), 1);
	sleep_ms(1100);
	ck_assert_int_eq(creds_refresh_now(c), ERROR_OK);
	ck_assert_int_eq(atomic_load(&f->served), 2);
	ck_assert_int_eq(creds_get(c, &v), ERROR_OK);
	ck_assert_str_eq(v.access_key_id, "AKIDIMDS2");
	sleep_ms(1100);
	atomic_store(&f->mode, MODE_500);
	ck_assert_int_eq(creds_refresh_now(c), ERROR_UNAVAILABLE);
	ck_assert(creds_last_refresh_failed(c));
	ck_assert_int_eq(creds_get(c, &v), ERROR_OK); /* not expired: still served */
	ck_assert_str_eq(v.access_key_id, "AKIDIMDS2");
	creds_free(c);
	fake_stop(f);
}
END_TEST

/* A loop's own copy is taken again only when the credentials change or it
 * expires; otherwise it is used as it is (no lock, no copy). */
START_TEST(cached_copy_follows_each_refresh)
{
	struct creds_config cfg = {0};
	struct aws_fake *f = fake_start();
	struct creds_value v, copy;
	uint64_t of = 0, first;
	struct creds *c;

	memset(&copy, 0, sizeof(copy));
	use_imds(f);
	c = expect_creds(&cfg, "imds", &v);
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_OK);
	ck_assert_str_eq(copy.access_key_id, "AKIDIMDS1");
	ck_assert_uint_ne(of, 0);
	first = of;
	/* Unchanged: the copy is not taken again (a mark in it stays). */
	strcpy(copy.access_key_id, "MARK");
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_OK);
	ck_assert_str_eq(copy.access_key_id, "MARK");
	ck_assert_uint_eq(of, first);
	/* Expired copy: taken again, whatever the counter says. */
	copy.expiration = now_wall_s() - 1;
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_OK);
	ck_assert_str_eq(copy.access_key_id, "AKIDIMDS1");
	/* Replaced: the next call has the new ones. */
	strcpy(copy.access_key_id, "MARK");
	sleep_ms(1100);
	ck_assert_int_eq(creds_refresh_now(c), ERROR_OK);
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_OK);
	ck_assert_str_eq(copy.access_key_id, "AKIDIMDS2");
	ck_assert_uint_gt(of, first);
	/* A failed refresh replaces nothing: the copy stands. */
	first = of;
	sleep_ms(1100);
	atomic_store(&f->mode, MODE_500);
	ck_assert_int_eq(creds_refresh_now(c), ERROR_UNAVAILABLE);
	ck_assert_int_eq(creds_get_cached(c, &copy, &of), ERROR_OK);
	ck_assert_uint_eq(of, first);
	ck_assert_str_eq(copy.access_key_id, "AKIDIMDS2");
	ck_assert_int_eq(creds_get_cached(NULL, &copy, &of), ERROR_INVALID);
	creds_value_wipe(&copy);
	creds_free(c);
	fake_stop(f);
}
END_TEST

START_TEST(free_aborts_a_slow_refresh)
{
	struct creds_config cfg = {.timeout_ms = 20000};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;
	int64_t start;

	atomic_store(&f->lifetime_s, 3);
	use_imds(f);
	c = expect_creds(&cfg, "imds", &v);
	atomic_store(&f->mode, MODE_SILENT);
	/* Wait until the thread's fetch hangs on the silent endpoint. */
	for (int64_t end = now_ms() + 4000; now_ms() < end && atomic_load(&f->cred_requests) < 2;)
		sleep_ms(20);
	ck_assert_int_eq(atomic_load(&f->cred_requests), 2);
	sleep_ms(100);
	start = now_ms();
	creds_free(c);
	ck_assert_int_lt(now_ms() - start, 1000);
	fake_stop(f);
}
END_TEST

/* ---- secrets stay out of the log --------------------------------------- */

START_TEST(no_secret_in_log)
{
	struct creds_config cfg = {.access_key_id = "AKIDSETTINGS",
				   .secret_access_key = "settings-s3cr3t",
				   .session_token = "settings-t0ken"};
	struct aws_fake *f = fake_start();
	struct creds_value v;
	struct creds *c;
	char url[128], line[1024];
	int saved = dup(STDERR_FILENO), fd;
	FILE *log;

	fd = open(tmp_path("log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_level(LOG_LEVEL_DEBUG);

	creds_free(expect_creds(&cfg, "settings", &v));
	cfg = (struct creds_config){.timeout_ms = 2000};
	/* STS refuses and quotes the token in its message. */
	use_web_identity(f, &cfg, url, sizeof(url));
	atomic_store(&f->mode, MODE_STS_DENIED);
	expect_no_creds(&cfg, "InvalidIdentityToken");
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	/* The container answers broken JSON around a secret. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-auth-s3cr3t", 1);
	fake_expect_auth(f, "ecs-auth-s3cr3t");
	use_container(f, "127.0.0.1");
	atomic_store(&f->mode, MODE_BAD_JSON);
	expect_no_creds(&cfg, "malformed JSON");
	/* IMDS fails after its token was issued. */
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	use_imds(f);
	atomic_store(&f->mode, MODE_500);
	expect_no_creds(&cfg, "answered HTTP 500");
	/* Success, a failed refresh, a good refresh. */
	atomic_store(&f->mode, MODE_OK);
	atomic_store(&f->lifetime_s, 2);
	use_container(f, "127.0.0.1");
	c = expect_creds(&cfg, "container", &v);
	atomic_store(&f->mode, MODE_500);
	for (int64_t end = now_ms() + 3000; now_ms() < end && !creds_last_refresh_failed(c);)
		sleep_ms(20);
	atomic_store(&f->mode, MODE_OK);
	ck_assert(wait_new_key(c, "AKIDECS1", 3000, &v));
	creds_free(c);

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	log_set_level(LOG_LEVEL_ERROR);
	log = fopen(tmp_path("log"), "r");
	ck_assert_ptr_nonnull(log);
	int lines = 0;
	while (fgets(line, sizeof(line), log)) {
		lines++;
		ck_assert_msg(!strstr(line, "s3cr3t") && !strstr(line, "t0ken") &&
				  !strstr(line, "jwt-") && !strstr(line, IMDS_TOKEN),
			      "secret in log line: %s", line);
	}
	fclose(log);
	ck_assert_int_gt(lines, 5);
	fake_stop(f);
}
END_TEST

/* ---- the pure parsers (creds_internal.h), as tests/fuzz/fuzz_creds.c
 * drives them ---------------------------------------------------------- */

START_TEST(parse_time_rules)
{
	int64_t t = 0;

	ck_assert(creds_parse_time("2024-05-01T12:34:56Z", &t));
	ck_assert_int_eq(t, 1714566896);
	ck_assert(creds_parse_time("2024-05-01T14:34:56.5+02:00", &t));
	ck_assert_int_eq(t, 1714566896);
	ck_assert(creds_parse_time("2024-05-01 12:34:56-0130", &t));
	ck_assert_int_eq(t, 1714566896 + 5400);
	ck_assert(!creds_parse_time("2024-05-01T12:34:56", &t)); /* no zone */
	ck_assert(!creds_parse_time("2024-13-01T12:34:56Z", &t));
	ck_assert(!creds_parse_time("2024-05-01T12:34:56Zjunk", &t));
	ck_assert(!creds_parse_time("2024-05-01T12:34", &t));
	/* 0 means "never expires": the epoch would make temporary
	 * credentials static, and never refreshed. */
	ck_assert(!creds_parse_time("1970-01-01T00:00:00Z", &t));
	ck_assert(!creds_parse_time("1969-12-31T23:59:59Z", &t));
}
END_TEST

START_TEST(parse_json_needs_a_real_expiry)
{
	static const char doc[] = "{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"s\","
				  "\"Expiration\":\"1970-01-01T00:00:00Z\"}";
	struct creds_reason r = {.text = ""};
	struct creds_value v = {0};

	ck_assert_int_eq(creds_parse_json(doc, strlen(doc), true, &v, &r), ERROR_PARSE);
	ck_assert_str_eq(r.text, "Expiration is not an ISO 8601 time");
	ck_assert_str_eq(v.access_key_id, "");
	ck_assert_int_eq(creds_parse_json(NULL, 0, false, &v, &r), ERROR_PARSE);
}
END_TEST

START_TEST(parse_sts_answers)
{
	static const char ok[] = "<Credentials><AccessKeyId>AKID</AccessKeyId>"
				 "<SecretAccessKey>a&amp;b&#x2F;c&#43;</SecretAccessKey>"
				 "<SessionToken>tok</SessionToken>"
				 "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>";
	static const char err[] = "<Error><Code>Bad&lt;script&gt; x\n</Code></Error>";
	struct creds_reason r = {.text = ""};
	struct creds_value v = {0};

	ck_assert_int_eq(creds_sts_parse(ok, strlen(ok), 200, "U", &v, &r), ERROR_OK);
	ck_assert_str_eq(v.secret_access_key, "a&b/c+");
	ck_assert_int_eq(v.expiration, 4070908800);
	/* The answer ends where len says, not at a NUL. */
	ck_assert_int_eq(creds_sts_parse(ok, strlen(ok) - 20, 200, "U", &v, &r), ERROR_PARSE);
	ck_assert_str_eq(v.access_key_id, "");
	/* Only an error code's own characters reach the log line. */
	ck_assert_int_eq(creds_sts_parse(err, strlen(err), 400, "U", &v, &r), ERROR_UPSTREAM);
	ck_assert_str_eq(r.text, "STS U answered HTTP 400 (Badltscriptgtx)");
}
END_TEST

START_TEST(parse_imds_role_list)
{
	struct creds_reason r = {.text = ""};
	char role[CREDS_IMDS_ROLE_MAX], long_name[200];

	ck_assert_int_eq(creds_imds_role("web+role=1,a.b@c_d-e\r\nother\n", 30, role, sizeof(role),
					 &r),
			 ERROR_OK);
	ck_assert_str_eq(role, "web+role=1,a.b@c_d-e");
	ck_assert_int_eq(creds_imds_role("a/b", 3, role, sizeof(role), &r), ERROR_PARSE);
	ck_assert_int_eq(creds_imds_role("a\0b", 3, role, sizeof(role), &r), ERROR_PARSE);
	ck_assert_int_eq(creds_imds_role("\nrole", 5, role, sizeof(role), &r), ERROR_PARSE);
	memset(long_name, 'r', sizeof(long_name));
	ck_assert_int_eq(creds_imds_role(long_name, sizeof(long_name), role, sizeof(role), &r),
			 ERROR_PARSE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("creds");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, settings_static);
	tcase_add_test(tc, settings_over_environment);
	tcase_add_test(tc, environment_static);
	tcase_add_test(tc, environment_half_pair_and_bad_bytes);
	tcase_add_test(tc, profile_default_in_credentials_file);
	tcase_add_test(tc, profile_section_names_per_file);
	tcase_add_test(tc, profile_credentials_file_wins_and_merges);
	tcase_add_test(tc, profile_syntax_comments_crlf_and_default_precedence);
	tcase_add_test(tc, profile_selection_settings_over_aws_profile);
	tcase_add_test(tc, profile_failures_are_explained);
	tcase_add_test(tc, profile_web_identity);
	tcase_add_test(tc, web_identity_assume_role);
	tcase_add_test(tc, web_identity_failures);
	tcase_add_test(tc, shared_files_must_be_regular);
	tcase_add_test(tc, token_files_must_be_regular);
	tcase_add_test(tc, refresh_with_token_file_turned_fifo_fails_fast);
	tcase_add_test(tc, container_full_uri_token_file_wins);
	tcase_add_test(tc, container_refuses_remote_http);
	tcase_add_test(tc, container_expiration_formats);
	tcase_add_test(tc, imds_v2_token_flow);
	tcase_add_test(tc, imds_disabled);
	tcase_add_test(tc, imds_slow_times_out);
	tcase_add_test(tc, imds_failures_are_explained);
	tcase_add_test(tc, chain_order);
	tcase_add_test(tc, no_provider_names_every_provider);
	tcase_add_test(tc, refresh_short_lived_in_background);
	tcase_add_test(tc, refresh_margin_hook);
	tcase_add_test(tc, refresh_failure_keeps_old_then_recovers);
	tcase_add_test(tc, expired_and_refresh_failed_is_unavailable);
	tcase_add_test(tc, refresh_now_after_expired_token);
	tcase_add_test(tc, cached_copy_follows_each_refresh);
	tcase_add_test(tc, free_aborts_a_slow_refresh);
	tcase_add_test(tc, no_secret_in_log);
	suite_add_tcase(s, tc);
	tc = tcase_create("parsers");
	tcase_add_test(tc, parse_time_rules);
	tcase_add_test(tc, parse_json_needs_a_real_expiry);
	tcase_add_test(tc, parse_sts_answers);
	tcase_add_test(tc, parse_imds_role_list);
	suite_add_tcase(s, tc);
	return check_run(s);
}
