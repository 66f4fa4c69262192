/* creds_parse.c: the pure parsers of what credential providers answer,
 * shared by several of them: ISO 8601 times (STS, container, IMDS) and the
 * JSON document of the container endpoint and IMDS. No I/O and no clock,
 * so tests/fuzz/fuzz_creds.c drives them straight from its input. */
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "creds_internal.h"

/* ---- ISO 8601 ---------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no gmtime/timegm and no TZ dependence. */
static int64_t creds_parse_days(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool creds_parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* As IMDS, ECS and STS write Expiration. The zone is required: a time
 * without one cannot be placed. */
bool creds_parse_time(const char *s, int64_t *out)
{
	const char *p = s;
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (!creds_parse_digits(&p, 4, &y) || *p++ != '-' || !creds_parse_digits(&p, 2, &mo) ||
	    *p++ != '-' || !creds_parse_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!creds_parse_digits(&p, 2, &h) || *p++ != ':' || !creds_parse_digits(&p, 2, &mi) ||
	    *p++ != ':' || !creds_parse_digits(&p, 2, &se))
		return false;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!creds_parse_digits(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (!creds_parse_digits(&p, 2, &om))
			return false;
	} else {
		return false;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || oh > 23 ||
	    om > 59)
		return false;
	t = creds_parse_days(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se -
	    sign * (oh * 3600 + om * 60);
	/* An expiration of 0 means "never" in a creds_value: a time at or
	 * before the epoch would turn temporary credentials into static
	 * ones that are never refreshed. */
	if (t <= 0)
		return false;
	*out = t;
	return true;
}

/* ---- the container and IMDS document ----------------------------------- */

/* jansson keeps its own copy of every string and has no secure free, so the
 * secret ones are overwritten before json_decref releases them. */
static void creds_parse_json_scrub(json_t *v)
{
	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

enum error_code creds_parse_json(const char *data, size_t len, bool need_expiry,
				 struct creds_value *out, struct creds_reason *r)
{
	enum error_code rc = ERROR_PARSE;
	json_error_t jerr;
	json_t *root, *code, *ak, *sk, *tok, *exp;

	root = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jerr.text may quote the input near the error: not logged. */
		creds_why(r, true, "malformed JSON at line %d column %d", jerr.line, jerr.column);
		return ERROR_PARSE;
	}
	code = json_object_get(root, "Code");
	ak = json_object_get(root, "AccessKeyId");
	sk = json_object_get(root, "SecretAccessKey");
	tok = json_object_get(root, "Token");
	exp = json_object_get(root, "Expiration");
	if (!json_is_object(root)) {
		creds_why(r, true, "answer is not a JSON object");
		goto out;
	}
	if (code && (!json_is_string(code) || strcmp(json_string_value(code), "Success") != 0)) {
		creds_why(r, true, "answer's Code is not \"Success\"");
		goto out;
	}
	if (!json_is_string(ak) || !json_is_string(sk)) {
		creds_why(r, true, "answer lacks AccessKeyId or SecretAccessKey");
		goto out;
	}
	if (!creds_copy_field(out->access_key_id, sizeof(out->access_key_id), json_string_value(ak),
			      json_string_length(ak)) ||
	    !creds_copy_field(out->secret_access_key, sizeof(out->secret_access_key),
			      json_string_value(sk), json_string_length(sk))) {
		creds_why(r, true,
			  "AccessKeyId or SecretAccessKey is empty, too long or not ASCII");
		goto out;
	}
	if (tok && !json_is_null(tok) &&
	    (!json_is_string(tok) ||
	     (json_string_length(tok) &&
	      !creds_copy_field(out->session_token, sizeof(out->session_token),
				json_string_value(tok), json_string_length(tok))))) {
		creds_why(r, true, "Token is too long or not ASCII");
		goto out;
	}
	if (exp && !json_is_null(exp)) {
		if (!json_is_string(exp) ||
		    !creds_parse_time(json_string_value(exp), &out->expiration)) {
			creds_why(r, true, "Expiration is not an ISO 8601 time");
			goto out;
		}
	} else if (need_expiry) {
		creds_why(r, true, "answer lacks Expiration");
		goto out;
	}
	rc = ERROR_OK;
out:
	creds_parse_json_scrub(sk);
	creds_parse_json_scrub(tok);
	json_decref(root);
	if (rc != ERROR_OK)
		creds_value_wipe(out);
	return rc;
}
