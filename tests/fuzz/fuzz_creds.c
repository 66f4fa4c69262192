/* fuzz_creds.c: libFuzzer harness for the parsers of what credential
 * providers hand sessiond (src/creds_*.c, through src/creds_internal.h):
 * the shared config and credentials files, STS's XML answer, the container
 * and IMDS JSON document, the IMDS role list and ISO 8601 times. Every
 * input goes to every parser, as in fuzz_ddb_codec; the byte parsers get
 * an exact-size copy without a terminator, so an overread is caught. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/creds_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reason is one line of printable text for the log and the start-up
 * error: never empty when a parser failed, never a line break. */
static void check_reason(const struct creds_reason *r)
{
	size_t n = strnlen(r->text, sizeof(r->text));

	if (n == 0 || n == sizeof(r->text))
		abort();
	for (size_t i = 0; i < n; i++)
		if (r->text[i] == '\n' || r->text[i] == '\r')
			abort();
}

/* Accepted credentials are what a request may carry; refused ones leave
 * nothing behind. */
static void check_value(enum error_code rc, const struct creds_value *v, bool need_expiry)
{
	static const struct creds_value zero;

	if (rc != ERROR_OK) {
		if (memcmp(v, &zero, sizeof(zero)) != 0)
			abort();
		return;
	}
	if (!creds_visible(v->access_key_id, strlen(v->access_key_id)) ||
	    !creds_visible(v->secret_access_key, strlen(v->secret_access_key)) ||
	    (v->session_token[0] && !creds_visible(v->session_token, strlen(v->session_token))) ||
	    (need_expiry && v->expiration <= 0))
		abort();
}

static void profile(const char *text, bool is_config, const char *want)
{
	struct creds_reason r = {.text = ""};
	struct creds_profile p = {0};
	enum error_code rc = creds_profile_parse(text, "fuzz", is_config, want, &p, &r);

	if (rc != ERROR_OK) {
		check_reason(&r);
		if (rc != ERROR_PARSE && rc != ERROR_NOMEM)
			abort();
		if (rc == ERROR_PARSE && strncmp(r.text, "fuzz:", 5) != 0)
			abort(); /* a syntax error names the file and line */
	}
	for (int i = 0; i < CREDS_PROP_COUNT; i++)
		if (p.prop[i] && (!p.found || strchr(p.prop[i], '\n')))
			abort();
	creds_profile_clear(&p);
}

static void sts(const char *body, size_t size, long status)
{
	struct creds_reason r = {.text = ""};
	struct creds_value v = {0};
	enum error_code rc = creds_sts_parse(body, size, status, "https://sts.example", &v, &r);

	if (rc != ERROR_OK)
		check_reason(&r);
	if (status != 200 && rc != ERROR_UPSTREAM)
		abort();
	check_value(rc, &v, true);
}

static void json(const char *body, size_t size, bool need_expiry)
{
	struct creds_reason r = {.text = ""};
	struct creds_value v = {0};
	enum error_code rc = creds_parse_json(body, size, need_expiry, &v, &r);

	if (rc != ERROR_OK)
		check_reason(&r);
	check_value(rc, &v, need_expiry);
}

static void role(const char *body, size_t size)
{
	struct creds_reason r = {.text = ""};
	char name[CREDS_IMDS_ROLE_MAX];

	if (creds_imds_role(body, size, name, sizeof(name), &r) != ERROR_OK) {
		check_reason(&r);
		return;
	}
	/* IAM's characters only, so the name is safe in a URL path. */
	if (!name[0] || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789+=,.@_-") != strlen(name))
		abort();
}

static void iso_time(const char *text)
{
	int64_t t = 0, again = 0;

	if (creds_parse_time(text, &t) && (t <= 0 || !creds_parse_time(text, &again) || t != again))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *exact = malloc(size ? size : 1), *text = malloc(size + 1);

	if (!exact || !text)
		abort();
	memcpy(exact, data, size);
	memcpy(text, data, size);
	text[size] = '\0';

	profile(text, true, "default");
	profile(text, false, "default");
	profile(text, true, "dev");
	sts(exact, size, 200);
	sts(exact, size, 403);
	json(exact, size, false);
	json(exact, size, true);
	role(exact, size);
	iso_time(text);

	free(exact);
	free(text);
	return 0;
}
