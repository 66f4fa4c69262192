/* jsontext.c: a validating scan of JSON text (jsontext.h). One pass, no
 * recursion: open containers are a bit stack (1 = object), so depth costs
 * a bit each and hostile nesting cannot exhaust the C stack. */
#include <stdint.h>
#include <string.h>

#include "sessiond/hex.h"
#include "sessiond/jsontext.h"

struct jsontext_scan {
	const unsigned char *p, *end;
};

static bool jsontext_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const unsigned char *jsontext_skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && jsontext_is_ws(*p))
		p++;
	return p;
}

static void jsontext_ws(struct jsontext_scan *s)
{
	s->p = jsontext_skip_ws(s->p, s->end);
}

/* Four hex digits after "\u"; -1 if they are not. */
static long jsontext_u4(struct jsontext_scan *s)
{
	long v = 0;

	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = hex_value((char)s->p[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	s->p += 4;
	return v;
}

/* One UTF-8 sequence starting at a byte >= 0x80: shortest form only, no
 * surrogates, nothing above U+10FFFF. */
static bool jsontext_utf8(struct jsontext_scan *s)
{
	unsigned char c = *s->p;
	size_t n;
	uint32_t cp, min;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return false;
	}
	if ((size_t)(s->end - s->p) <= n)
		return false;
	for (size_t i = 1; i <= n; i++) {
		if ((s->p[i] & 0xc0) != 0x80)
			return false;
		cp = (cp << 6) | (s->p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	s->p += n + 1;
	return true;
}

/* A string, from its opening quote. */
static bool jsontext_string(struct jsontext_scan *s)
{
	s->p++;
	while (s->p < s->end) {
		unsigned char c = *s->p;
		long u, lo;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			if (!jsontext_utf8(s))
				return false;
			continue;
		}
		s->p++;
		if (c != '\\')
			continue;
		if (s->p >= s->end)
			return false;
		c = *s->p++;
		if (strchr("\"\\/bfnrt", c) && c)
			continue;
		if (c != 'u' || (u = jsontext_u4(s)) < 0)
			return false;
		if (u >= 0xdc00 && u <= 0xdfff)
			return false; /* a low surrogate alone */
		if (u >= 0xd800 && u <= 0xdbff) {
			if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
				return false;
			s->p += 2;
			lo = jsontext_u4(s);
			if (lo < 0xdc00 || lo > 0xdfff)
				return false;
		}
	}
	return false;
}

static bool jsontext_digits(struct jsontext_scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool jsontext_number(struct jsontext_scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!jsontext_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!jsontext_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!jsontext_digits(s))
			return false;
	}
	return true;
}

static bool jsontext_word(struct jsontext_scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* A scalar value at s->p; containers are the caller's. */
static bool jsontext_scalar(struct jsontext_scan *s)
{
	switch (*s->p) {
	case '"':
		return jsontext_string(s);
	case 't':
		return jsontext_word(s, "true");
	case 'f':
		return jsontext_word(s, "false");
	case 'n':
		return jsontext_word(s, "null");
	default:
		return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && jsontext_number(s);
	}
}

bool jsontext_object_valid(const char *text, size_t n, int max_depth)
{
	uint64_t kinds[JSONTEXT_MAX_DEPTH / 64 + 1] = { 0 }; /* bit set: an object */
	struct jsontext_scan s;
	int depth = 0;
	bool in_object;

	if (!text || max_depth < 1 || max_depth > JSONTEXT_MAX_DEPTH)
		return false;
	s.p = (const unsigned char *)text;
	s.end = s.p + n;
	jsontext_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return false;
	/* Each round: at a value's start (or a container's first slot). */
	for (;;) {
		jsontext_ws(&s);
		if (s.p >= s.end)
			return false;
		if (*s.p == '{' || *s.p == '[') {
			bool obj = *s.p == '{';

			if (depth == max_depth)
				return false;
			if (obj)
				kinds[depth / 64] |= UINT64_C(1) << (depth % 64);
			else
				kinds[depth / 64] &= ~(UINT64_C(1) << (depth % 64));
			depth++;
			s.p++;
			jsontext_ws(&s);
			if (s.p < s.end && *s.p == (obj ? '}' : ']')) {
				s.p++;
				depth--;
				goto after_value; /* an empty container */
			}
			if (obj)
				goto member_name;
			continue;
		}
		if (depth == 0 || !jsontext_scalar(&s))
			return false;
after_value:
		/* After a value: close containers, or go on to the next slot. */
		for (;;) {
			if (depth == 0) {
				jsontext_ws(&s);
				return s.p == s.end;
			}
			in_object = kinds[(depth - 1) / 64] & (UINT64_C(1) << ((depth - 1) % 64));
			jsontext_ws(&s);
			if (s.p >= s.end)
				return false;
			if (*s.p == (in_object ? '}' : ']')) {
				s.p++;
				depth--;
				continue;
			}
			if (*s.p != ',')
				return false;
			s.p++;
			if (!in_object)
				break; /* the next array element */
member_name:
			jsontext_ws(&s);
			if (s.p >= s.end || *s.p != '"' || !jsontext_string(&s))
				return false;
			jsontext_ws(&s);
			if (s.p >= s.end || *s.p != ':')
				return false;
			s.p++;
			break; /* the member's value */
		}
	}
}

/* ---- spans in text already known to be valid ------------------------------ */

/* Past the string whose opening quote is at p; NULL if it never ends (the
 * text was not valid after all). */
static const unsigned char *jsontext_skip_string(const unsigned char *p, const unsigned char *end)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\' && ++p == end)
			break;
	}
	return NULL;
}

/* Past the value that starts at p (< end); NULL if it never ends. */
static const unsigned char *jsontext_skip_value(const unsigned char *p, const unsigned char *end)
{
	size_t depth = 0;

	if (*p == '"')
		return jsontext_skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !jsontext_is_ws(*p) && *p != ',' && *p != '}' && *p != ']')
			p++;
		return p;
	}
	while (p && p < end) {
		if (*p == '"') {
			p = jsontext_skip_string(p, end);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

enum jsontext_found jsontext_member(const char *text, size_t n, const char *name, size_t *off,
				    size_t *len)
{
	const unsigned char *start = (const unsigned char *)text, *end = start + n, *p;
	size_t name_len = strlen(name);
	bool unsure = false;

	p = jsontext_skip_ws(start, end);
	if (p >= end || *p != '{')
		return JSONTEXT_ABSENT;
	p = jsontext_skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		const unsigned char *key = p + 1, *key_end, *value;

		p = jsontext_skip_string(p, end);
		if (!p)
			break;
		key_end = p - 1;
		if (memchr(key, '\\', (size_t)(key_end - key)))
			unsure = true;
		p = jsontext_skip_ws(p, end);
		if (p >= end || *p != ':')
			break;
		value = jsontext_skip_ws(p + 1, end);
		if (value >= end || !(p = jsontext_skip_value(value, end)))
			break;
		/* Duplicate names were refused: the first match is the one. */
		if ((size_t)(key_end - key) == name_len && memcmp(key, name, name_len) == 0) {
			*off = (size_t)(value - start);
			*len = (size_t)(p - value);
			return JSONTEXT_FOUND;
		}
		p = jsontext_skip_ws(p, end);
		if (p >= end || *p != ',')
			break;
		p = jsontext_skip_ws(p + 1, end);
	}
	return unsure ? JSONTEXT_UNSURE : JSONTEXT_ABSENT;
}

size_t jsontext_compact(const char *text, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n;
	size_t k = 0;

	while (p < end) {
		if (*p == '"') {
			const unsigned char *q = jsontext_skip_string(p, end);

			if (!q)
				q = end; /* not valid after all: the rest as it is */
			memcpy(out + k, p, (size_t)(q - p));
			k += (size_t)(q - p);
			p = q;
		} else if (jsontext_is_ws(*p)) {
			p++;
		} else {
			out[k++] = (char)*p++;
		}
	}
	return k;
}
