/* ddb_codec.c: DynamoDB's JSON 1.0 protocol for the operations sessiond uses
 * (see ddb_codec.h): items and DynamoDB numbers, request bodies, decoded
 * answers, and the classification of error answers that drives retries.
 * Pure functions over jansson: no I/O, no clock, no global state. It does
 * not sign, send or retry anything; ddb_client.c does. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sessiond/ddb_codec.h"
#include "sessiond/hex.h"
#include "sessiond/jsontext.h"

/*
 * DESIGN
 *
 * Every jansson tree here is built or parsed, used and released within one
 * call; no json_t outlives the function that made it. Builders hand new
 * references to jansson's *_new setters, which consume the value even when
 * they fail, so a reference is never touched again once it has been handed
 * over.
 *
 * Text is checked for UTF-8 before it reaches jansson (which would refuse
 * it), so that a jansson constructor returning NULL can only mean that
 * memory ran out: callers get ERROR_INVALID for bad text and ERROR_NOMEM
 * for a full heap, never one disguised as the other.
 *
 * Numbers stay decimal text from end to end: DynamoDB's 38 digits do not
 * fit a double, and connect-dynamodb's fractional "expires" must come back
 * exactly as it was stored.
 */

/* DynamoDB nests documents at most 32 levels deep; the slack only bounds
 * recursion on hostile input, it never rejects what DynamoDB accepts. */
#define DDB_CODEC_AV_MAX_DEPTH 64

/* DynamoDB numbers: 38 significant digits, magnitudes 1E-130 to under
 * 1E+126 (the exponent of the leading digit lies in -130..125). */
#define DDB_CODEC_NUM_MAX_DIGITS 38
#define DDB_CODEC_NUM_MIN_EXP (-130)
#define DDB_CODEC_NUM_MAX_EXP 125

/* Exponents in the text are clamped here while parsing: far past any
 * valid magnitude, far from overflowing the arithmetic done with them. */
#define DDB_CODEC_NUM_EXP_CLAMP 1000000000LL

#define DDB_CODEC_MAX_SEGMENTS 1000000

/* Decoding rejects duplicate keys: DynamoDB never sends them, and with
 * them {"S":"a","S":"b"} would silently become {"S":"b"}. */
#define DDB_CODEC_DECODE_FLAGS (JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)

/* ---- operations --------------------------------------------------------- */

static const char *const ddb_codec_op_names[DDB_OP_COUNT] = {
	[DDB_OP_GET_ITEM] = "GetItem",
	[DDB_OP_PUT_ITEM] = "PutItem",
	[DDB_OP_UPDATE_ITEM] = "UpdateItem",
	[DDB_OP_DELETE_ITEM] = "DeleteItem",
	[DDB_OP_SCAN] = "Scan",
	[DDB_OP_DESCRIBE_TABLE] = "DescribeTable",
	[DDB_OP_CREATE_TABLE] = "CreateTable",
	[DDB_OP_UPDATE_TIME_TO_LIVE] = "UpdateTimeToLive",
	[DDB_OP_QUERY] = "Query",
	[DDB_OP_UPDATE_TABLE] = "UpdateTable",
};

static const char *const ddb_codec_op_targets[DDB_OP_COUNT] = {
	[DDB_OP_GET_ITEM] = "DynamoDB_20120810.GetItem",
	[DDB_OP_PUT_ITEM] = "DynamoDB_20120810.PutItem",
	[DDB_OP_UPDATE_ITEM] = "DynamoDB_20120810.UpdateItem",
	[DDB_OP_DELETE_ITEM] = "DynamoDB_20120810.DeleteItem",
	[DDB_OP_SCAN] = "DynamoDB_20120810.Scan",
	[DDB_OP_DESCRIBE_TABLE] = "DynamoDB_20120810.DescribeTable",
	[DDB_OP_CREATE_TABLE] = "DynamoDB_20120810.CreateTable",
	[DDB_OP_UPDATE_TIME_TO_LIVE] = "DynamoDB_20120810.UpdateTimeToLive",
	[DDB_OP_QUERY] = "DynamoDB_20120810.Query",
	[DDB_OP_UPDATE_TABLE] = "DynamoDB_20120810.UpdateTable",
};

const char *ddb_op_name(enum ddb_op op)
{
	if ((unsigned)op >= DDB_OP_COUNT)
		return NULL;
	return ddb_codec_op_names[op];
}

const char *ddb_op_target(enum ddb_op op)
{
	if ((unsigned)op >= DDB_OP_COUNT)
		return NULL;
	return ddb_codec_op_targets[op];
}

/* ---- text --------------------------------------------------------------- */

/* Length (1 to 4) of the valid UTF-8 sequence at s, or 0 when the bytes
 * there are not one. Overlong forms, surrogates and code points past
 * U+10FFFF are invalid, as they are for jansson. */
static size_t ddb_codec_utf8_seq_len(const unsigned char *s, size_t avail)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool ddb_codec_utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = ddb_codec_utf8_seq_len((const unsigned char *)s + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* A name, table or expression: present, non-empty, UTF-8. */
static bool ddb_codec_str_ok(const char *s)
{
	return s && *s && ddb_codec_utf8_valid(s, strlen(s));
}

/* Copies len bytes of upstream text into dst[size] so that it is safe to
 * log: control characters (C0, DEL, C1) become spaces, so words stay
 * apart, bytes that are not UTF-8 become '?', and the copy stops before a
 * character that does not fit whole. dst always ends up terminated. */
static void ddb_codec_text_copy(char *dst, size_t size, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	if (!size)
		return;
	while (src && i < len) {
		const char *piece = src + i;
		size_t n = ddb_codec_utf8_seq_len(s + i, len - i), w = n;

		if (!n) {
			piece = "?";
			n = w = 1;
		} else if (s[i] < 0x20 || s[i] == 0x7f ||
			   (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			piece = " ";
			w = 1;
		}
		if (w > size - 1 - o)
			break;
		memcpy(dst + o, piece, w);
		o += w;
		i += n;
	}
	dst[o] = '\0';
}

/* A heap copy of len bytes plus a terminator; NULL when memory runs out. */
static char *ddb_codec_mem_dup(const char *p, size_t len)
{
	char *d;

	if (len == SIZE_MAX)
		return NULL;
	d = malloc(len + 1);
	if (!d)
		return NULL;
	if (len)
		memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

/* ---- numbers ------------------------------------------------------------ */

/* The parts of number text: [-] int [. frac] [e|E [+|-] exp]. */
struct ddb_codec_num {
	bool neg;
	const char *int_digits;
	size_t n_int;
	const char *frac_digits;
	size_t n_frac;
	long long exp;
};

static bool ddb_codec_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Splits text into its parts; false when it is not of the grammar above
 * with at least one digit before the exponent. */
static bool ddb_codec_num_parse(const char *s, struct ddb_codec_num *n)
{
	bool exp_neg = false;

	memset(n, 0, sizeof(*n));
	if (*s == '-') {
		n->neg = true;
		s++;
	}
	n->int_digits = s;
	while (ddb_codec_is_digit(*s))
		s++;
	n->n_int = (size_t)(s - n->int_digits);
	n->frac_digits = s;
	if (*s == '.') {
		n->frac_digits = ++s;
		while (ddb_codec_is_digit(*s))
			s++;
		n->n_frac = (size_t)(s - n->frac_digits);
	}
	if (n->n_int + n->n_frac == 0)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			exp_neg = *s++ == '-';
		if (!ddb_codec_is_digit(*s))
			return false;
		for (; ddb_codec_is_digit(*s); s++)
			if (n->exp < DDB_CODEC_NUM_EXP_CLAMP)
				n->exp = n->exp * 10 + (*s - '0');
		if (exp_neg)
			n->exp = -n->exp;
	}
	return *s == '\0';
}

/* Digit i of the integer and fraction digits taken as one sequence. */
static int ddb_codec_num_digit(const struct ddb_codec_num *n, size_t i)
{
	if (i < n->n_int)
		return n->int_digits[i] - '0';
	return n->frac_digits[i - n->n_int] - '0';
}

/* The grammar is what both DynamoDB (Java's BigDecimal) and dynalite
 * (big.js) parse, so "1." and ".5" are numbers and "+1", "", ".", "1e",
 * " 1", "0x10", "NaN" and "Infinity" are not. Like DynamoDB we ignore
 * leading and trailing zeros when counting the 38 significant digits, and
 * we also refuse magnitudes DynamoDB would refuse (below 1E-130, from
 * 1E+126 up), so that valid text is always text DynamoDB stores. */
bool ddb_number_valid(const char *text)
{
	struct ddb_codec_num n;
	size_t total, first, last;
	long long lead_exp;

	if (!text || !ddb_codec_num_parse(text, &n))
		return false;
	total = n.n_int + n.n_frac;
	for (first = 0; first < total && ddb_codec_num_digit(&n, first) == 0; first++)
		;
	if (first == total)
		return true; /* zero, whatever its exponent */
	for (last = total - 1; ddb_codec_num_digit(&n, last) == 0; last--)
		;
	if (last - first + 1 > DDB_CODEC_NUM_MAX_DIGITS)
		return false;
	lead_exp = (long long)n.n_int - 1 - (long long)first + n.exp;
	return lead_exp >= DDB_CODEC_NUM_MIN_EXP && lead_exp <= DDB_CODEC_NUM_MAX_EXP;
}

enum error_code ddb_number_to_i64(const char *text, bool round_up, int64_t *out)
{
	const uint64_t limit = (uint64_t)INT64_MAX + 1; /* |INT64_MIN| */
	struct ddb_codec_num n;
	uint64_t mag = 0;
	long long point, i;
	bool fraction = false;

	if (!text || !out)
		return ERROR_INVALID;
	if (!ddb_number_valid(text) || !ddb_codec_num_parse(text, &n))
		return ERROR_PARSE;
	/* Digits before point are the integer part, the rest the fraction. */
	point = (long long)n.n_int + (long long)n.exp;
	for (i = 0; i < (long long)n.n_int + (long long)n.n_frac; i++) {
		int d = ddb_codec_num_digit(&n, (size_t)i);

		if (i >= point) {
			fraction |= d != 0;
			continue;
		}
		if (mag > (limit - (uint64_t)d) / 10)
			return ERROR_TOO_LARGE;
		mag = mag * 10 + (uint64_t)d;
	}
	/* An exponent past the last digit appends zeros. Validity bounds the
	 * magnitude, and zero stays zero, so this loop is short. */
	for (; mag && i < point; i++) {
		if (mag > limit / 10)
			return ERROR_TOO_LARGE;
		mag *= 10;
	}
	/* Dropping a fraction truncates toward zero; rounding away from zero
	 * is needed upward for positives and downward for negatives. */
	if (fraction && round_up != n.neg)
		mag++;
	if (mag > (n.neg ? limit : limit - 1))
		return ERROR_TOO_LARGE;
	if (!n.neg)
		*out = (int64_t)mag;
	else if (mag == limit)
		*out = INT64_MIN;
	else
		*out = -(int64_t)mag;
	return ERROR_OK;
}

/* ---- AttributeValue shape ------------------------------------------------ */

static bool ddb_codec_av_valid(json_t *av, int depth);

static bool ddb_codec_num_json_valid(json_t *v)
{
	return json_is_string(v) &&
	       strlen(json_string_value(v)) == json_string_length(v) &&
	       ddb_number_valid(json_string_value(v));
}

/* SS, NS and BS: a non-empty array (DynamoDB has no empty sets). */
static bool ddb_codec_set_valid(json_t *v, bool numbers)
{
	json_t *m;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return false;
	json_array_foreach(v, i, m) {
		if (numbers ? !ddb_codec_num_json_valid(m) : !json_is_string(m))
			return false;
	}
	return true;
}

/* Whether v is a well-formed value for type tag. B and BS are not checked
 * for base64: DynamoDB does that, and we only carry them through. */
static bool ddb_codec_av_value_valid(const char *tag, json_t *v, int depth)
{
	const char *key;
	json_t *m;
	size_t i;

	if (!strcmp(tag, "S") || !strcmp(tag, "B"))
		return json_is_string(v);
	if (!strcmp(tag, "N"))
		return ddb_codec_num_json_valid(v);
	if (!strcmp(tag, "BOOL"))
		return json_is_boolean(v);
	if (!strcmp(tag, "NULL"))
		return json_is_true(v);
	if (!strcmp(tag, "SS") || !strcmp(tag, "BS"))
		return ddb_codec_set_valid(v, false);
	if (!strcmp(tag, "NS"))
		return ddb_codec_set_valid(v, true);
	if (!strcmp(tag, "M")) {
		if (!json_is_object(v))
			return false;
		json_object_foreach(v, key, m) {
			if (!ddb_codec_av_valid(m, depth + 1))
				return false;
		}
		return true;
	}
	if (!strcmp(tag, "L")) {
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, m) {
			if (!ddb_codec_av_valid(m, depth + 1))
				return false;
		}
		return true;
	}
	return false; /* not a DynamoDB type */
}

/* An AttributeValue is an object with exactly one type key. */
static bool ddb_codec_av_valid(json_t *av, int depth)
{
	void *it;

	if (depth > DDB_CODEC_AV_MAX_DEPTH || !json_is_object(av) || json_object_size(av) != 1)
		return false;
	it = json_object_iter(av);
	return ddb_codec_av_value_valid(json_object_iter_key(it), json_object_iter_value(it), depth);
}

/* ---- items -------------------------------------------------------------- */

static void ddb_codec_attr_free(struct ddb_attr *a)
{
	free(a->name);
	free(a->value);
	memset(a, 0, sizeof(*a));
}

void ddb_item_clear(struct ddb_item *item)
{
	size_t i;

	if (!item)
		return;
	for (i = 0; i < item->n; i++)
		ddb_codec_attr_free(&item->attrs[i]);
	free(item->attrs);
	memset(item, 0, sizeof(*item));
}

static struct ddb_attr *ddb_codec_item_find(const struct ddb_item *item, const char *name)
{
	size_t i;

	for (i = 0; i < item->n; i++)
		if (item->attrs[i].name && !strcmp(item->attrs[i].name, name))
			return &item->attrs[i];
	return NULL;
}

/* Room for one more attribute; doubling keeps decoding a wide item linear. */
static enum error_code ddb_codec_item_reserve(struct ddb_item *item)
{
	struct ddb_attr *p;
	size_t size;

	if (item->n < item->alloc)
		return ERROR_OK;
	size = item->alloc ? item->alloc * 2 : 8;
	if (size > SIZE_MAX / sizeof(*p))
		return ERROR_NOMEM;
	p = realloc(item->attrs, size * sizeof(*p));
	if (!p)
		return ERROR_NOMEM;
	item->attrs = p;
	item->alloc = size;
	return ERROR_OK;
}

/* Stores name = value, where value is heap text that the item takes over:
 * it belongs to the item on success and is freed here on failure, so no
 * caller can leak it. With replace, an attribute of that name is
 * overwritten in place; without, the caller vouches that the name is new
 * (a decoded JSON object has unique keys), which keeps decoding linear. */
static enum error_code ddb_codec_item_put(struct ddb_item *item, const char *name, bool replace,
					  enum ddb_type type, char *value, size_t len)
{
	struct ddb_attr *a = replace ? ddb_codec_item_find(item, name) : NULL, *slot;
	enum error_code rc = ERROR_NOMEM;
	char *copy = NULL;

	if (!value)
		goto out;
	if (a) {
		free(a->value);
		slot = a;
	} else {
		copy = ddb_codec_mem_dup(name, strlen(name));
		if (!copy || ddb_codec_item_reserve(item) != ERROR_OK)
			goto out;
		slot = &item->attrs[item->n++];
		slot->name = copy;
		copy = NULL;
	}
	slot->type = type;
	slot->value = value;
	slot->value_len = len;
	value = NULL;
	rc = ERROR_OK;
out:
	free(copy);
	free(value);
	return rc;
}

enum error_code ddb_item_add_s(struct ddb_item *item, const char *name,
			       const char *value, size_t len)
{
	if (!item || !name || !*name || (!value && len))
		return ERROR_INVALID;
	return ddb_codec_item_put(item, name, true, DDB_TYPE_S, ddb_codec_mem_dup(value, len), len);
}

enum error_code ddb_item_add_n(struct ddb_item *item, const char *name, const char *text)
{
	if (!item || !name || !*name || !text)
		return ERROR_INVALID;
	if (!ddb_number_valid(text))
		return ERROR_PARSE;
	return ddb_codec_item_put(item, name, true, DDB_TYPE_N,
				  ddb_codec_mem_dup(text, strlen(text)), strlen(text));
}

enum error_code ddb_item_add_n_i64(struct ddb_item *item, const char *name, int64_t v)
{
	char text[BUF_I64_SIZE];

	buf_i64_text(v, text); /* no printf: every write adds two */
	return ddb_item_add_n(item, name, text);
}

/* The attribute for AttributeValue av: S and N as their text, any other
 * type as its compact JSON. *value is new heap text for the caller. */
static enum error_code ddb_codec_attr_decode(json_t *av, enum ddb_type *type, char **value,
					     size_t *len)
{
	const char *tag;
	json_t *v;

	*value = NULL;
	if (!ddb_codec_av_valid(av, 0))
		return ERROR_PARSE;
	tag = json_object_iter_key(json_object_iter(av));
	v = json_object_iter_value(json_object_iter(av));
	if (!strcmp(tag, "S") || !strcmp(tag, "N")) {
		*type = tag[0] == 'S' ? DDB_TYPE_S : DDB_TYPE_N;
		*len = json_string_length(v);
		*value = ddb_codec_mem_dup(json_string_value(v), *len);
	} else {
		/* json_dumps's result is documented as freed with free(). */
		*type = DDB_TYPE_OTHER;
		*value = json_dumps(av, JSON_COMPACT);
		*len = *value ? strlen(*value) : 0;
	}
	return *value ? ERROR_OK : ERROR_NOMEM;
}

/* Parsed and re-dumped rather than copied, so that the stored text is
 * canonical compact JSON; {"S":..} and {"N":..} become S and N. */
enum error_code ddb_item_add_other(struct ddb_item *item, const char *name, const char *json)
{
	enum error_code rc = ERROR_INVALID;
	enum ddb_type type;
	json_t *av = NULL;
	char *value = NULL;
	size_t len = 0;

	if (!item || !name || !*name || !json)
		goto out;
	rc = ERROR_PARSE;
	av = json_loads(json, DDB_CODEC_DECODE_FLAGS, NULL);
	if (!av)
		goto out;
	rc = ddb_codec_attr_decode(av, &type, &value, &len);
	if (rc != ERROR_OK)
		goto out;
	rc = ddb_codec_item_put(item, name, true, type, value, len);
out:
	json_decref(av);
	return rc;
}

const struct ddb_attr *ddb_item_get(const struct ddb_item *item, const char *name)
{
	if (!item || !name)
		return NULL;
	return ddb_codec_item_find(item, name);
}

/* Builds the copy aside and moves it into dst only when complete, so a
 * failure leaves dst empty rather than half-copied. */
enum error_code ddb_item_copy(struct ddb_item *dst, const struct ddb_item *src)
{
	struct ddb_item tmp = { 0 };
	enum error_code rc = ERROR_INVALID;
	size_t i;

	if (!dst || !src)
		goto out;
	rc = ERROR_OK;
	if (dst == src)
		goto out;
	for (i = 0; i < src->n && rc == ERROR_OK; i++) {
		const struct ddb_attr *a = &src->attrs[i];

		rc = ERROR_INVALID;
		if (!a->name || !a->value)
			break;
		rc = ddb_codec_item_put(&tmp, a->name, false, a->type,
					ddb_codec_mem_dup(a->value, a->value_len), a->value_len);
	}
	ddb_item_clear(dst);
	if (rc == ERROR_OK) {
		*dst = tmp;
		memset(&tmp, 0, sizeof(tmp));
	}
out:
	ddb_item_clear(&tmp);
	return rc;
}

/* ---- items as JSON ------------------------------------------------------- */

/* Sets obj[key] to value, a new reference that jansson consumes even when
 * it fails. A NULL value is a constructor that ran out of memory. Keys are
 * UTF-8 checked by the caller, hence _nocheck. */
/* Appends the attributes of the JSON map to item. */
static enum error_code ddb_codec_item_decode(json_t *map, struct ddb_item *item)
{
	enum error_code rc;
	enum ddb_type type;
	const char *name;
	json_t *av;
	char *value;
	size_t len;

	if (!json_is_object(map))
		return ERROR_PARSE;
	json_object_foreach(map, name, av) {
		rc = ddb_codec_attr_decode(av, &type, &value, &len);
		if (rc == ERROR_OK)
			rc = ddb_codec_item_put(item, name, false, type, value, len);
		if (rc != ERROR_OK)
			return rc;
	}
	return ERROR_OK;
}

/* ---- requests ----------------------------------------------------------- */

/* The request fields, as bits, so that each op's contract is one line. */
enum {
	DDB_CODEC_F_KEY = 1u << 0,
	DDB_CODEC_F_ITEM = 1u << 1,
	DDB_CODEC_F_COND = 1u << 2,
	DDB_CODEC_F_UPDATE = 1u << 3,
	DDB_CODEC_F_PROJ = 1u << 4,
	DDB_CODEC_F_FILTER = 1u << 5,
	DDB_CODEC_F_NAMES = 1u << 6,
	DDB_CODEC_F_VALUES = 1u << 7,
	DDB_CODEC_F_RETURN = 1u << 8,
	DDB_CODEC_F_CONSISTENT = 1u << 9,
	DDB_CODEC_F_SEGMENTS = 1u << 10,
	DDB_CODEC_F_START_KEY = 1u << 11,
	DDB_CODEC_F_LIMIT = 1u << 12,
	DDB_CODEC_F_HASH_KEY = 1u << 13,
	DDB_CODEC_F_TTL_NAME = 1u << 14,
	DDB_CODEC_F_TTL_ON = 1u << 15,
	DDB_CODEC_F_KEY_COND = 1u << 16,
	DDB_CODEC_F_INDEX = 1u << 17,      /* index_name */
	DDB_CODEC_F_INDEX_KEYS = 1u << 18, /* index_hash and index_range */
	DDB_CODEC_F_INDEX_CAP = 1u << 19,
};

#define DDB_CODEC_F_EXPRESSIONS                                                                    \
	(DDB_CODEC_F_COND | DDB_CODEC_F_UPDATE | DDB_CODEC_F_PROJ | DDB_CODEC_F_FILTER |          \
	 DDB_CODEC_F_KEY_COND)

static const struct {
	unsigned allowed, required;
} ddb_codec_op_fields[DDB_OP_COUNT] = {
	[DDB_OP_GET_ITEM] = {
		DDB_CODEC_F_KEY | DDB_CODEC_F_PROJ | DDB_CODEC_F_NAMES | DDB_CODEC_F_CONSISTENT,
		DDB_CODEC_F_KEY,
	},
	[DDB_OP_PUT_ITEM] = {
		DDB_CODEC_F_ITEM | DDB_CODEC_F_COND | DDB_CODEC_F_NAMES | DDB_CODEC_F_VALUES |
			DDB_CODEC_F_RETURN,
		DDB_CODEC_F_ITEM,
	},
	[DDB_OP_UPDATE_ITEM] = {
		DDB_CODEC_F_KEY | DDB_CODEC_F_UPDATE | DDB_CODEC_F_COND | DDB_CODEC_F_NAMES |
			DDB_CODEC_F_VALUES | DDB_CODEC_F_RETURN,
		DDB_CODEC_F_KEY | DDB_CODEC_F_UPDATE,
	},
	[DDB_OP_DELETE_ITEM] = {
		DDB_CODEC_F_KEY | DDB_CODEC_F_COND | DDB_CODEC_F_NAMES | DDB_CODEC_F_VALUES |
			DDB_CODEC_F_RETURN,
		DDB_CODEC_F_KEY,
	},
	[DDB_OP_SCAN] = {
		DDB_CODEC_F_PROJ | DDB_CODEC_F_FILTER | DDB_CODEC_F_NAMES | DDB_CODEC_F_VALUES |
			DDB_CODEC_F_CONSISTENT | DDB_CODEC_F_SEGMENTS | DDB_CODEC_F_START_KEY |
			DDB_CODEC_F_LIMIT,
		0,
	},
	[DDB_OP_DESCRIBE_TABLE] = { 0, 0 },
	[DDB_OP_CREATE_TABLE] = {
		DDB_CODEC_F_HASH_KEY | DDB_CODEC_F_INDEX | DDB_CODEC_F_INDEX_KEYS,
		DDB_CODEC_F_HASH_KEY,
	},
	[DDB_OP_UPDATE_TIME_TO_LIVE] = {
		DDB_CODEC_F_TTL_NAME | DDB_CODEC_F_TTL_ON,
		DDB_CODEC_F_TTL_NAME,
	},
	[DDB_OP_QUERY] = {
		DDB_CODEC_F_KEY_COND | DDB_CODEC_F_INDEX | DDB_CODEC_F_PROJ | DDB_CODEC_F_FILTER |
			DDB_CODEC_F_NAMES | DDB_CODEC_F_VALUES | DDB_CODEC_F_CONSISTENT |
			DDB_CODEC_F_START_KEY | DDB_CODEC_F_LIMIT,
		DDB_CODEC_F_KEY_COND,
	},
	[DDB_OP_UPDATE_TABLE] = {
		DDB_CODEC_F_HASH_KEY | DDB_CODEC_F_INDEX | DDB_CODEC_F_INDEX_KEYS |
			DDB_CODEC_F_INDEX_CAP,
		DDB_CODEC_F_HASH_KEY | DDB_CODEC_F_INDEX | DDB_CODEC_F_INDEX_KEYS,
	},
};

static const char *const ddb_codec_return_names[] = {
	[DDB_RETURN_NONE] = NULL,
	[DDB_RETURN_ALL_OLD] = "ALL_OLD",
	[DDB_RETURN_ALL_NEW] = "ALL_NEW",
	[DDB_RETURN_UPDATED_OLD] = "UPDATED_OLD",
	[DDB_RETURN_UPDATED_NEW] = "UPDATED_NEW",
};

/* The fields req sets: non-NULL pointers, non-zero numbers, true flags. */
static unsigned ddb_codec_req_fields(const struct ddb_request *r)
{
	unsigned f = 0;

	f |= r->key ? DDB_CODEC_F_KEY : 0;
	f |= r->item ? DDB_CODEC_F_ITEM : 0;
	f |= r->condition ? DDB_CODEC_F_COND : 0;
	f |= r->update ? DDB_CODEC_F_UPDATE : 0;
	f |= r->projection ? DDB_CODEC_F_PROJ : 0;
	f |= r->filter ? DDB_CODEC_F_FILTER : 0;
	f |= r->names || r->n_names ? DDB_CODEC_F_NAMES : 0;
	f |= r->values ? DDB_CODEC_F_VALUES : 0;
	f |= r->return_values != DDB_RETURN_NONE ? DDB_CODEC_F_RETURN : 0;
	f |= r->consistent_read ? DDB_CODEC_F_CONSISTENT : 0;
	f |= r->segment || r->total_segments ? DDB_CODEC_F_SEGMENTS : 0;
	f |= r->exclusive_start_key ? DDB_CODEC_F_START_KEY : 0;
	f |= r->limit ? DDB_CODEC_F_LIMIT : 0;
	f |= r->hash_key ? DDB_CODEC_F_HASH_KEY : 0;
	f |= r->ttl_attribute ? DDB_CODEC_F_TTL_NAME : 0;
	f |= r->ttl_enabled ? DDB_CODEC_F_TTL_ON : 0;
	f |= r->key_condition ? DDB_CODEC_F_KEY_COND : 0;
	f |= r->index_name ? DDB_CODEC_F_INDEX : 0;
	f |= r->index_hash || r->index_range ? DDB_CODEC_F_INDEX_KEYS : 0;
	f |= r->index_capacity ? DDB_CODEC_F_INDEX_CAP : 0;
	return f;
}

/* NULL, or an item with at least one attribute: DynamoDB refuses an empty
 * Key, Item, ExclusiveStartKey or ExpressionAttributeValues. */
static bool ddb_codec_item_arg_ok(const struct ddb_item *item)
{
	return !item || (item->n > 0 && item->attrs);
}

static bool ddb_codec_opt_str_ok(const char *s)
{
	return !s || ddb_codec_str_ok(s);
}

/* Placeholders are "#name", unique (a map would silently drop a repeat),
 * and each stands for a non-empty attribute name. */
static bool ddb_codec_names_ok(const struct ddb_name *names, size_t n)
{
	size_t i, j;

	if (!names != !n)
		return false;
	for (i = 0; i < n; i++) {
		const char *p = names[i].placeholder;

		if (!ddb_codec_str_ok(p) || p[0] != '#' || !p[1] || !ddb_codec_str_ok(names[i].name))
			return false;
		for (j = 0; j < i; j++)
			if (!strcmp(names[j].placeholder, p))
				return false;
	}
	return true;
}

static bool ddb_codec_values_ok(const struct ddb_item *values)
{
	size_t i;

	for (i = 0; values && i < values->n; i++) {
		const char *name = values->attrs[i].name;

		if (!name || name[0] != ':' || !name[1])
			return false;
	}
	return true;
}

/* PutItem and DeleteItem can only return the old item (DynamoDB refuses
 * the other values for them). */
static bool ddb_codec_return_ok(const struct ddb_request *r)
{
	if ((unsigned)r->return_values > DDB_RETURN_UPDATED_NEW)
		return false;
	if (r->op == DDB_OP_UPDATE_ITEM)
		return true;
	return r->return_values == DDB_RETURN_NONE || r->return_values == DDB_RETURN_ALL_OLD;
}

static bool ddb_codec_req_valid(const struct ddb_request *r)
{
	unsigned have;

	if ((unsigned)r->op >= DDB_OP_COUNT || !ddb_codec_str_ok(r->table))
		return false;
	have = ddb_codec_req_fields(r);
	if ((have & ~ddb_codec_op_fields[r->op].allowed) || (ddb_codec_op_fields[r->op].required & ~have))
		return false;
	if (!ddb_codec_item_arg_ok(r->key) || !ddb_codec_item_arg_ok(r->item) ||
	    !ddb_codec_item_arg_ok(r->values) || !ddb_codec_item_arg_ok(r->exclusive_start_key))
		return false;
	if (!ddb_codec_opt_str_ok(r->condition) || !ddb_codec_opt_str_ok(r->update) ||
	    !ddb_codec_opt_str_ok(r->projection) || !ddb_codec_opt_str_ok(r->filter) ||
	    !ddb_codec_opt_str_ok(r->hash_key) || !ddb_codec_opt_str_ok(r->ttl_attribute) ||
	    !ddb_codec_opt_str_ok(r->key_condition) || !ddb_codec_opt_str_ok(r->index_name) ||
	    !ddb_codec_opt_str_ok(r->index_hash) || !ddb_codec_opt_str_ok(r->index_range))
		return false;
	/* An index is named with both its keys, or not at all (Query names
	 * it alone); its capacity is positive. */
	if (r->op != DDB_OP_QUERY &&
	    (!r->index_name != !r->index_hash || !r->index_hash != !r->index_range))
		return false;
	if (r->index_capacity < 0)
		return false;
	/* DynamoDB refuses names and values that no expression could use. */
	if ((have & (DDB_CODEC_F_NAMES | DDB_CODEC_F_VALUES)) && !(have & DDB_CODEC_F_EXPRESSIONS))
		return false;
	if (!ddb_codec_names_ok(r->names, r->n_names) || !ddb_codec_values_ok(r->values) ||
	    !ddb_codec_return_ok(r))
		return false;
	if ((have & DDB_CODEC_F_SEGMENTS) &&
	    !(r->total_segments > 0 && r->total_segments <= DDB_CODEC_MAX_SEGMENTS &&
	      r->segment >= 0 && r->segment < r->total_segments))
		return false;
	return r->limit >= 0;
}

/* ---- request bodies, written straight into the buffer ----------------------
 * One pass, no tree: the body is JSON text appended member by member, in
 * the order the fields are listed, compact, with jansson's escapes (so the
 * bytes are what json_dumps(JSON_COMPACT) made before). */

/* Appends s[0..len) as a JSON string, quotes included. */
static void ddb_codec_put_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;

	buf_append_char(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
			break;
		}
		buf_append(b, esc, n);
	}
	buf_append(b, s + run, len - run);
	buf_append_char(b, '"');
}

/* ,"key": (or "key": for the first member). */
static void ddb_codec_put_key(struct buf *b, bool *first, const char *key)
{
	if (!*first)
		buf_append_char(b, ',');
	*first = false;
	ddb_codec_put_string(b, key, strlen(key));
	buf_append_char(b, ':');
}

static void ddb_codec_put_str(struct buf *b, bool *first, const char *key, const char *s)
{
	ddb_codec_put_key(b, first, key);
	ddb_codec_put_string(b, s, strlen(s));
}

static void ddb_codec_put_int(struct buf *b, bool *first, const char *key, long v)
{
	ddb_codec_put_key(b, first, key);
	buf_append_i64(b, v);
}

/* The AttributeValue of a. ERROR_INVALID for a value that is not what its
 * type says (the struct is public and could have been filled by hand). */
static enum error_code ddb_codec_put_attr(struct buf *b, const struct ddb_attr *a)
{
	json_t *av;
	char *text;

	if (!a->value)
		return ERROR_INVALID;
	if (a->type == DDB_TYPE_S && ddb_codec_utf8_valid(a->value, a->value_len)) {
		buf_append_str(b, "{\"S\":");
		ddb_codec_put_string(b, a->value, a->value_len);
		buf_append_char(b, '}');
		return ERROR_OK;
	}
	if (a->type == DDB_TYPE_N && ddb_number_valid(a->value)) {
		buf_append_str(b, "{\"N\":");
		ddb_codec_put_string(b, a->value, strlen(a->value));
		buf_append_char(b, '}');
		return ERROR_OK;
	}
	if (a->type != DDB_TYPE_OTHER)
		return ERROR_INVALID;
	/* Rare (sessiond writes S and N): checked and re-printed by jansson. */
	av = json_loadb(a->value, a->value_len, DDB_CODEC_DECODE_FLAGS, NULL);
	if (!ddb_codec_av_valid(av, 0)) {
		json_decref(av);
		return ERROR_INVALID;
	}
	text = json_dumps(av, JSON_COMPACT);
	json_decref(av);
	if (!text)
		return ERROR_NOMEM;
	buf_append_str(b, text);
	free(text);
	return ERROR_OK;
}

/* {"name": AttributeValue, ...}; names must be distinct. */
static enum error_code ddb_codec_put_item(struct buf *b, bool *first, const char *key,
					  const struct ddb_item *item)
{
	enum error_code rc;
	bool inner = true;

	ddb_codec_put_key(b, first, key);
	buf_append_char(b, '{');
	for (size_t i = 0; i < item->n; i++) {
		const struct ddb_attr *a = &item->attrs[i];

		if (!ddb_codec_str_ok(a->name))
			return ERROR_INVALID;
		/* A duplicate would make DynamoDB keep one of them silently. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(item->attrs[j].name, a->name) == 0)
				return ERROR_INVALID;
		ddb_codec_put_key(b, &inner, a->name);
		if ((rc = ddb_codec_put_attr(b, a)) != ERROR_OK)
			return rc;
	}
	buf_append_char(b, '}');
	return ERROR_OK;
}

static void ddb_codec_put_names(struct buf *b, bool *first, const struct ddb_name *names,
				size_t n)
{
	bool inner = true;

	ddb_codec_put_key(b, first, "ExpressionAttributeNames");
	buf_append_char(b, '{');
	for (size_t i = 0; i < n; i++)
		ddb_codec_put_str(b, &inner, names[i].placeholder, names[i].name);
	buf_append_char(b, '}');
}

/* CreateTable: the one S hash key and on-demand billing. */
static void ddb_codec_put_table_schema(struct buf *b, bool *first, const char *hash_key)
{
	ddb_codec_put_key(b, first, "AttributeDefinitions");
	buf_append_str(b, "[{\"AttributeName\":");
	ddb_codec_put_string(b, hash_key, strlen(hash_key));
	buf_append_str(b, ",\"AttributeType\":\"S\"}]");
	ddb_codec_put_key(b, first, "KeySchema");
	buf_append_str(b, "[{\"AttributeName\":");
	ddb_codec_put_string(b, hash_key, strlen(hash_key));
	buf_append_str(b, ",\"KeyType\":\"HASH\"}]");
	ddb_codec_put_str(b, first, "BillingMode", "PAY_PER_REQUEST");
}

static void ddb_codec_put_attr_def(struct buf *b, bool *inner, const char *name, const char *type)
{
	if (!*inner)
		buf_append_char(b, ',');
	*inner = false;
	buf_append_str(b, "{\"AttributeName\":");
	ddb_codec_put_string(b, name, strlen(name));
	buf_printf(b, ",\"AttributeType\":\"%s\"}", type);
}

/* The index's IndexName, KeySchema and Projection members (inside its
 * object). */
static void ddb_codec_put_index_body(struct buf *b, const struct ddb_request *r)
{
	bool inner = true;

	ddb_codec_put_str(b, &inner, "IndexName", r->index_name);
	buf_append_str(b, ",\"KeySchema\":[{\"AttributeName\":");
	ddb_codec_put_string(b, r->index_hash, strlen(r->index_hash));
	buf_append_str(b, ",\"KeyType\":\"HASH\"},{\"AttributeName\":");
	ddb_codec_put_string(b, r->index_range, strlen(r->index_range));
	buf_append_str(b, ",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":"
			  "\"KEYS_ONLY\"}");
}

/* AttributeDefinitions of the table's hash key and the index's keys. */
static void ddb_codec_put_index_defs(struct buf *b, bool *first, const struct ddb_request *r)
{
	bool inner = true;

	ddb_codec_put_key(b, first, "AttributeDefinitions");
	buf_append_char(b, '[');
	ddb_codec_put_attr_def(b, &inner, r->hash_key, "S");
	ddb_codec_put_attr_def(b, &inner, r->index_hash, "S");
	ddb_codec_put_attr_def(b, &inner, r->index_range, "N");
	buf_append_char(b, ']');
}

/* CreateTable with its one global secondary index. */
static void ddb_codec_put_table_with_index(struct buf *b, bool *first, const struct ddb_request *r)
{
	ddb_codec_put_index_defs(b, first, r);
	ddb_codec_put_key(b, first, "KeySchema");
	buf_append_str(b, "[{\"AttributeName\":");
	ddb_codec_put_string(b, r->hash_key, strlen(r->hash_key));
	buf_append_str(b, ",\"KeyType\":\"HASH\"}]");
	ddb_codec_put_str(b, first, "BillingMode", "PAY_PER_REQUEST");
	ddb_codec_put_key(b, first, "GlobalSecondaryIndexes");
	buf_append_str(b, "[{");
	ddb_codec_put_index_body(b, r);
	buf_append_str(b, "}]");
}

/* UpdateTable creating the index. */
static void ddb_codec_put_index_create(struct buf *b, bool *first, const struct ddb_request *r)
{
	ddb_codec_put_index_defs(b, first, r);
	ddb_codec_put_key(b, first, "GlobalSecondaryIndexUpdates");
	buf_append_str(b, "[{\"Create\":{");
	ddb_codec_put_index_body(b, r);
	if (r->index_capacity)
		buf_printf(b,
			   ",\"ProvisionedThroughput\":{\"ReadCapacityUnits\":%ld,"
			   "\"WriteCapacityUnits\":%ld}",
			   r->index_capacity, r->index_capacity);
	buf_append_str(b, "}}]");
}

/* Writes the body of a request that ddb_codec_req_valid accepted. Since
 * that check guarantees the op takes every field that is set, each field is
 * simply written when present. ERROR_INVALID from an attribute's value;
 * buffer failures stick in b for the caller to find. */
static enum error_code ddb_codec_body_write(const struct ddb_request *r, struct buf *b)
{
	enum error_code rc = ERROR_OK;
	bool first = true;

	buf_append_char(b, '{');
	ddb_codec_put_str(b, &first, "TableName", r->table);
	if (r->key)
		rc = ddb_codec_put_item(b, &first, "Key", r->key);
	if (rc == ERROR_OK && r->item)
		rc = ddb_codec_put_item(b, &first, "Item", r->item);
	if (rc != ERROR_OK)
		return rc;
	if (r->update)
		ddb_codec_put_str(b, &first, "UpdateExpression", r->update);
	if (r->condition)
		ddb_codec_put_str(b, &first, "ConditionExpression", r->condition);
	if (r->projection)
		ddb_codec_put_str(b, &first, "ProjectionExpression", r->projection);
	if (r->filter)
		ddb_codec_put_str(b, &first, "FilterExpression", r->filter);
	if (r->key_condition)
		ddb_codec_put_str(b, &first, "KeyConditionExpression", r->key_condition);
	if (r->op == DDB_OP_QUERY && r->index_name)
		ddb_codec_put_str(b, &first, "IndexName", r->index_name);
	if (r->n_names)
		ddb_codec_put_names(b, &first, r->names, r->n_names);
	if (r->values && (rc = ddb_codec_put_item(b, &first, "ExpressionAttributeValues",
						  r->values)) != ERROR_OK)
		return rc;
	if (r->return_values != DDB_RETURN_NONE)
		ddb_codec_put_str(b, &first, "ReturnValues",
				  ddb_codec_return_names[r->return_values]);
	if (r->consistent_read) {
		ddb_codec_put_key(b, &first, "ConsistentRead");
		buf_append_str(b, "true");
	}
	if (r->total_segments) {
		ddb_codec_put_int(b, &first, "Segment", r->segment);
		ddb_codec_put_int(b, &first, "TotalSegments", r->total_segments);
	}
	if (r->exclusive_start_key &&
	    (rc = ddb_codec_put_item(b, &first, "ExclusiveStartKey", r->exclusive_start_key)) !=
		    ERROR_OK)
		return rc;
	if (r->limit)
		ddb_codec_put_int(b, &first, "Limit", r->limit);
	if (r->op == DDB_OP_UPDATE_TABLE)
		ddb_codec_put_index_create(b, &first, r);
	else if (r->hash_key && r->index_name)
		ddb_codec_put_table_with_index(b, &first, r);
	else if (r->hash_key)
		ddb_codec_put_table_schema(b, &first, r->hash_key);
	if (r->ttl_attribute) {
		ddb_codec_put_key(b, &first, "TimeToLiveSpecification");
		buf_append_str(b, "{\"AttributeName\":");
		ddb_codec_put_string(b, r->ttl_attribute, strlen(r->ttl_attribute));
		buf_append_str(b, r->ttl_enabled ? ",\"Enabled\":true}" : ",\"Enabled\":false}");
	}
	buf_append_char(b, '}');
	return ERROR_OK;
}

/* Written into out directly; on failure out is cut back to what it held,
 * and an allocation or cap failure also stays recorded in out. */
enum error_code ddb_request_encode(const struct ddb_request *req, struct buf *out)
{
	enum error_code rc;
	size_t start;

	if (!req || !out || !ddb_codec_req_valid(req))
		return ERROR_INVALID;
	if (buf_error(out) != ERROR_OK)
		return buf_error(out);
	start = out->len;
	rc = ddb_codec_body_write(req, out);
	if (rc == ERROR_OK)
		rc = buf_error(out);
	if (rc != ERROR_OK)
		buf_truncate(out, start);
	return rc;
}

/* ---- responses ---------------------------------------------------------- */

void ddb_response_clear(struct ddb_response *out)
{
	size_t i;

	if (!out)
		return;
	ddb_item_clear(&out->item);
	for (i = 0; i < out->n_items; i++)
		ddb_item_clear(&out->items[i]);
	free(out->items);
	ddb_item_clear(&out->last_key);
	free(out->indexes);
	memset(out, 0, sizeof(*out));
}

/* root[key], when present, is a map decoded into item; *has says whether
 * it was present. */
static enum error_code ddb_codec_decode_map(json_t *root, const char *key, bool *has,
					    struct ddb_item *item)
{
	json_t *map = json_object_get(root, key);

	*has = map != NULL;
	return map ? ddb_codec_item_decode(map, item) : ERROR_OK;
}

static bool ddb_codec_count_get(json_t *root, const char *key, int64_t *out)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = json_integer_value(v);
	return true;
}

/* Scan: Items may be absent (no match), Count and ScannedCount may not. An
 * empty LastEvaluatedKey could not be sent back as ExclusiveStartKey. */
static enum error_code ddb_codec_decode_scan(json_t *root, struct ddb_response *out)
{
	json_t *items = json_object_get(root, "Items"), *map;
	enum error_code rc;
	size_t i;

	if (!ddb_codec_count_get(root, "Count", &out->count) ||
	    !ddb_codec_count_get(root, "ScannedCount", &out->scanned_count))
		return ERROR_PARSE;
	if (items && !json_is_array(items))
		return ERROR_PARSE;
	if (json_array_size(items)) {
		out->items = calloc(json_array_size(items), sizeof(*out->items));
		if (!out->items)
			return ERROR_NOMEM;
	}
	json_array_foreach(items, i, map) {
		out->n_items++;
		rc = ddb_codec_item_decode(map, &out->items[i]);
		if (rc != ERROR_OK)
			return rc;
	}
	rc = ddb_codec_decode_map(root, "LastEvaluatedKey", &out->has_last_key, &out->last_key);
	if (rc == ERROR_OK && out->has_last_key && !out->last_key.n)
		rc = ERROR_PARSE;
	return rc;
}

/* A JSON string that must fit dst whole: a truncated key name would
 * silently address another attribute. */
static bool ddb_codec_exact_copy(char *dst, size_t size, json_t *s)
{
	size_t len = json_string_length(s);

	if (!len || len >= size || strlen(json_string_value(s)) != len)
		return false;
	memcpy(dst, json_string_value(s), len + 1);
	return true;
}

/* Copies a string member of obj (when it is one) into dst, truncated. */
static void ddb_codec_member_copy(char *dst, size_t size, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	dst[0] = '\0';
	if (json_is_string(v))
		ddb_codec_text_copy(dst, size, json_string_value(v), json_string_length(v));
}

/* GlobalSecondaryIndexes, when present: name, status, keys, projection.
 * Only an index without a name is malformed; whatever else is missing
 * stays "" and fails the caller's comparison. */
static enum error_code ddb_codec_decode_indexes(json_t *table, struct ddb_response *out)
{
	json_t *list = json_object_get(table, "GlobalSecondaryIndexes"), *gsi, *elem;
	size_t i, j;

	if (!list)
		return ERROR_OK;
	if (!json_is_array(list))
		return ERROR_PARSE;
	if (!json_array_size(list))
		return ERROR_OK;
	out->indexes = calloc(json_array_size(list), sizeof(*out->indexes));
	if (!out->indexes)
		return ERROR_NOMEM;
	json_array_foreach(list, i, gsi) {
		struct ddb_index *x = &out->indexes[out->n_indexes++];

		if (!json_is_string(json_object_get(gsi, "IndexName")))
			return ERROR_PARSE;
		ddb_codec_member_copy(x->name, sizeof(x->name), gsi, "IndexName");
		ddb_codec_member_copy(x->status, sizeof(x->status), gsi, "IndexStatus");
		ddb_codec_member_copy(x->projection, sizeof(x->projection),
				      json_object_get(gsi, "Projection"), "ProjectionType");
		json_array_foreach(json_object_get(gsi, "KeySchema"), j, elem) {
			json_t *type = json_object_get(elem, "KeyType");

			if (json_is_string(type) && strcmp(json_string_value(type), "HASH") == 0)
				ddb_codec_member_copy(x->hash, sizeof(x->hash), elem,
						      "AttributeName");
			else if (json_is_string(type) &&
				 strcmp(json_string_value(type), "RANGE") == 0)
				ddb_codec_member_copy(x->range, sizeof(x->range), elem,
						      "AttributeName");
		}
	}
	return ERROR_OK;
}

/* DescribeTable's Table and CreateTable's TableDescription: the status
 * (truncated if ever longer than the array; it is compared, not reused)
 * and the one HASH element of KeySchema. */
static enum error_code ddb_codec_decode_table(json_t *root, const char *key,
					      struct ddb_response *out)
{
	json_t *table = json_object_get(root, key);
	json_t *status = json_object_get(table, "TableStatus");
	json_t *schema = json_object_get(table, "KeySchema");
	json_t *elem, *hash = NULL;
	size_t i;

	if (!json_is_string(status) || !json_is_array(schema))
		return ERROR_PARSE;
	json_array_foreach(schema, i, elem) {
		json_t *name = json_object_get(elem, "AttributeName");
		json_t *type = json_object_get(elem, "KeyType");

		if (!json_is_string(name) || !json_is_string(type))
			return ERROR_PARSE;
		if (strcmp(json_string_value(type), "HASH") != 0)
			continue;
		if (hash)
			return ERROR_PARSE;
		hash = name;
	}
	if (!hash || !ddb_codec_exact_copy(out->hash_key, sizeof(out->hash_key), hash))
		return ERROR_PARSE;
	ddb_codec_text_copy(out->table_status, sizeof(out->table_status),
			    json_string_value(status), json_string_length(status));
	return ddb_codec_decode_indexes(table, out);
}

static enum error_code ddb_codec_decode_ttl(json_t *root, struct ddb_response *out)
{
	json_t *spec = json_object_get(root, "TimeToLiveSpecification");
	json_t *enabled = json_object_get(spec, "Enabled");

	if (!json_is_boolean(enabled))
		return ERROR_PARSE;
	out->ttl_enabled = json_is_true(enabled);
	return ERROR_OK;
}

static enum error_code ddb_codec_decode_op(enum ddb_op op, json_t *root, struct ddb_response *out)
{
	switch (op) {
	case DDB_OP_GET_ITEM:
		return ddb_codec_decode_map(root, "Item", &out->has_item, &out->item);
	case DDB_OP_PUT_ITEM:
	case DDB_OP_UPDATE_ITEM:
	case DDB_OP_DELETE_ITEM:
		return ddb_codec_decode_map(root, "Attributes", &out->has_item, &out->item);
	case DDB_OP_SCAN:
	case DDB_OP_QUERY:
		return ddb_codec_decode_scan(root, out);
	case DDB_OP_DESCRIBE_TABLE:
		return ddb_codec_decode_table(root, "Table", out);
	case DDB_OP_CREATE_TABLE:
	case DDB_OP_UPDATE_TABLE:
		return ddb_codec_decode_table(root, "TableDescription", out);
	case DDB_OP_UPDATE_TIME_TO_LIVE:
		return ddb_codec_decode_ttl(root, out);
	default:
		return ERROR_INVALID;
	}
}

/* Members this codec does not use (ConsumedCapacity and the like) are
 * ignored; those it uses must have the right types. */
/* ---- the fast path for item answers -----------------------------------------
 * GetItem, PutItem, UpdateItem and DeleteItem answer {"Item": {...}} or
 * {"Attributes": {...}} (or {}), and sessiond's items hold only S and N
 * values. Those answers are read here without building a tree: the body is
 * first checked to be valid JSON (jsontext), then walked. Anything else --
 * another member, another type, an escape in a name, a repeated name --
 * is left to the general decoder, so both read every body alike (the
 * fuzzer holds them to it). */

/* The walk over a body that jsontext_object_valid accepted. */
struct ddb_codec_walk {
	const char *p, *end;
};

static void ddb_codec_walk_ws(struct ddb_codec_walk *w)
{
	while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\n' || *w->p == '\r'))
		w->p++;
}

/* At c (after white space): consume it. */
static bool ddb_codec_walk_char(struct ddb_codec_walk *w, char c)
{
	ddb_codec_walk_ws(w);
	if (w->p >= w->end || *w->p != c)
		return false;
	w->p++;
	return true;
}

/* A string without escapes (a name): its text in [*s, *s + *n). */
static bool ddb_codec_walk_plain(struct ddb_codec_walk *w, const char **s, size_t *n)
{
	const char *q;

	if (!ddb_codec_walk_char(w, '"'))
		return false;
	for (q = w->p; q < w->end && *q != '"'; q++)
		if (*q == '\\')
			return false;
	if (q >= w->end)
		return false;
	*s = w->p;
	*n = (size_t)(q - w->p);
	w->p = q + 1;
	return true;
}

static void ddb_codec_put_utf8(char **o, unsigned long cp)
{
	unsigned char *u = (unsigned char *)*o;

	if (cp < 0x80) {
		*u++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*u++ = (unsigned char)(0xc0 | (cp >> 6));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*u++ = (unsigned char)(0xe0 | (cp >> 12));
		*u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | (cp >> 18));
		*u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*o = (char *)u;
}

static unsigned long ddb_codec_u4(const char *p)
{
	unsigned long v = 0;

	for (int i = 0; i < 4; i++)
		v = v * 16 + (unsigned long)hex_value(p[i]);
	return v;
}

/* A string with its escapes resolved, in a new NUL-terminated allocation
 * (*out, *len). The text is valid JSON, so every escape is well formed and
 * a high surrogate is followed by a low one (jsontext checked). */
static enum error_code ddb_codec_walk_string(struct ddb_codec_walk *w, char **out, size_t *len)
{
	const char *q;
	char *o;

	*out = NULL;
	if (!ddb_codec_walk_char(w, '"'))
		return ERROR_PARSE;
	for (q = w->p; q < w->end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if (q >= w->end)
		return ERROR_PARSE;
	/* Escapes only shrink: the raw length bounds the result. */
	*out = o = malloc((size_t)(q - w->p) + 1);
	if (!o)
		return ERROR_NOMEM;
	while (w->p < q) {
		unsigned long cp;
		char c = *w->p++;

		if (c != '\\') {
			*o++ = c;
			continue;
		}
		c = *w->p++;
		switch (c) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			cp = ddb_codec_u4(w->p);
			w->p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (ddb_codec_u4(w->p + 2) - 0xdc00);
				w->p += 6;
			}
			ddb_codec_put_utf8(&o, cp);
			break;
		default: *o++ = c; break; /* " \ / */
		}
	}
	w->p = q + 1;
	*o = '\0';
	*len = (size_t)(o - *out);
	return ERROR_OK;
}

/* {"S": "..."} or {"N": "..."} into (type, value, len); ERROR_INVALID for
 * any other AttributeValue (the general decoder's business). */
static enum error_code ddb_codec_walk_attr(struct ddb_codec_walk *w, enum ddb_type *type,
					   char **value, size_t *len)
{
	const char *tag;
	size_t n;
	enum error_code rc;

	*value = NULL;
	if (!ddb_codec_walk_char(w, '{') || !ddb_codec_walk_plain(w, &tag, &n) || n != 1 ||
	    (tag[0] != 'S' && tag[0] != 'N') || !ddb_codec_walk_char(w, ':'))
		return ERROR_INVALID;
	ddb_codec_walk_ws(w);
	if (w->p >= w->end || *w->p != '"')
		return ERROR_INVALID;
	rc = ddb_codec_walk_string(w, value, len);
	if (rc != ERROR_OK)
		return rc;
	*type = tag[0] == 'S' ? DDB_TYPE_S : DDB_TYPE_N;
	if (!ddb_codec_walk_char(w, '}') ||
	    (*type == DDB_TYPE_N && (strlen(*value) != *len || !ddb_number_valid(*value)))) {
		free(*value);
		*value = NULL;
		return ERROR_INVALID;
	}
	return ERROR_OK;
}

/* The attribute map into item; ERROR_INVALID to hand the body over. */
static enum error_code ddb_codec_walk_item(struct ddb_codec_walk *w, struct ddb_item *item)
{
	enum error_code rc;

	if (!ddb_codec_walk_char(w, '{'))
		return ERROR_INVALID;
	if (ddb_codec_walk_char(w, '}'))
		return ERROR_OK;
	do {
		char name[256], *value;
		const char *s;
		enum ddb_type type;
		size_t n, len;

		if (!ddb_codec_walk_plain(w, &s, &n) || n == 0 || n >= sizeof(name) ||
		    memchr(s, '\0', n) || !ddb_codec_walk_char(w, ':'))
			return ERROR_INVALID;
		memcpy(name, s, n);
		name[n] = '\0';
		if (ddb_codec_item_find(item, name))
			return ERROR_INVALID; /* jansson refuses repeats: so will it */
		rc = ddb_codec_walk_attr(w, &type, &value, &len);
		if (rc != ERROR_OK)
			return rc;
		rc = ddb_codec_item_put(item, name, false, type, value, len);
		if (rc != ERROR_OK)
			return rc;
	} while (ddb_codec_walk_char(w, ','));
	return ddb_codec_walk_char(w, '}') ? ERROR_OK : ERROR_INVALID;
}

/* ERROR_OK with out filled; ERROR_NOMEM; ERROR_INVALID: not a body for the
 * fast path (out is then cleared and the general decoder runs). */
static enum error_code ddb_codec_fast_decode(enum ddb_op op, const char *body, size_t len,
					     struct ddb_response *out)
{
	const char *want = op == DDB_OP_GET_ITEM ? "Item" : "Attributes";
	struct ddb_codec_walk w = { body, body + len };
	enum error_code rc = ERROR_INVALID;
	const char *key;
	size_t n;

	/* {"Item":{"a":{"S":""}}} is three levels deep; deeper is not ours. */
	if (!jsontext_object_valid(body, len, 3) || !ddb_codec_walk_char(&w, '{'))
		return ERROR_INVALID;
	if (ddb_codec_walk_char(&w, '}'))
		goto tail;
	if (!ddb_codec_walk_plain(&w, &key, &n) || n != strlen(want) || memcmp(key, want, n) != 0 ||
	    !ddb_codec_walk_char(&w, ':'))
		return ERROR_INVALID;
	out->has_item = true;
	rc = ddb_codec_walk_item(&w, &out->item);
	if (rc != ERROR_OK || !ddb_codec_walk_char(&w, '}'))
		goto fail;
tail:
	ddb_codec_walk_ws(&w);
	if (w.p == w.end)
		return ERROR_OK;
	rc = ERROR_INVALID;
fail:
	ddb_item_clear(&out->item);
	out->has_item = false;
	return rc == ERROR_NOMEM ? ERROR_NOMEM : ERROR_INVALID;
}

/* The general decoder: jansson's tree, every answer shape. */
static enum error_code ddb_codec_slow_decode(enum ddb_op op, const char *body, size_t len,
					     struct ddb_response *out)
{
	enum error_code rc;
	json_t *root = json_loadb(body, len, DDB_CODEC_DECODE_FLAGS, NULL);

	rc = json_is_object(root) ? ddb_codec_decode_op(op, root, out) : ERROR_PARSE;
	json_decref(root);
	return rc;
}

static enum error_code ddb_codec_decode(enum ddb_op op, const char *body, size_t len,
					struct ddb_response *out, bool fast)
{
	enum error_code rc = ERROR_INVALID;

	if (!out)
		return ERROR_INVALID;
	ddb_response_clear(out);
	if ((unsigned)op >= DDB_OP_COUNT)
		goto out;
	out->op = op;
	rc = ERROR_PARSE;
	if (!body || !len)
		goto out;
	rc = ERROR_INVALID;
	if (fast && (op == DDB_OP_GET_ITEM || op == DDB_OP_PUT_ITEM ||
		     op == DDB_OP_UPDATE_ITEM || op == DDB_OP_DELETE_ITEM))
		rc = ddb_codec_fast_decode(op, body, len, out);
	if (rc == ERROR_INVALID)
		rc = ddb_codec_slow_decode(op, body, len, out);
out:
	if (rc != ERROR_OK)
		ddb_response_clear(out);
	return rc;
}

enum error_code ddb_response_decode(enum ddb_op op, const char *body, size_t len,
				    struct ddb_response *out)
{
	return ddb_codec_decode(op, body, len, out, true);
}

enum error_code ddb_response_decode_general(enum ddb_op op, const char *body, size_t len,
					    struct ddb_response *out)
{
	return ddb_codec_decode(op, body, len, out, false);
}

/* ---- errors ------------------------------------------------------------- */

/* The AWS SDKs' "standard" retry mode: throttling codes, then transient
 * ones, to which DynamoDB's own 500 and 503 codes are added. */
static const char *const ddb_codec_throttling_codes[] = {
	"Throttling",
	"ThrottlingException",
	"ThrottledException",
	"RequestThrottledException",
	"TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException",
	"RequestLimitExceeded",
	"BandwidthLimitExceeded",
	"LimitExceededException",
	"RequestThrottled",
	"SlowDown",
	"EC2ThrottledException",
};

static const char *const ddb_codec_transient_codes[] = {
	"RequestTimeout",
	"RequestTimeoutException",
	"PriorRequestNotComplete",
	"InternalServerError",
	"ServiceUnavailable",
};

const char *ddb_error_class_str(enum ddb_error_class cls)
{
	switch (cls) {
	case DDB_ERR_NONE:
		return "none";
	case DDB_ERR_RETRYABLE:
		return "retryable";
	case DDB_ERR_CONDITION:
		return "condition";
	case DDB_ERR_FATAL:
		return "fatal";
	}
	return "unknown";
}

static bool ddb_codec_code_in(const char *const *list, size_t n, const char *code, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && !memcmp(list[i], code, len))
			return true;
	return false;
}

/* The code decides first; without a known one, the status does. A 429 is
 * "Too Many Requests" whatever the body says, so it counts as throttling. */
static enum ddb_error_class ddb_codec_classify(const char *code, size_t len, long status,
					       bool *throttled)
{
	static const char condition[] = "ConditionalCheckFailedException";

	*throttled = false;
	if (len == sizeof(condition) - 1 && !memcmp(code, condition, len))
		return DDB_ERR_CONDITION;
	if (ddb_codec_code_in(ddb_codec_throttling_codes,
			      sizeof(ddb_codec_throttling_codes) / sizeof(ddb_codec_throttling_codes[0]),
			      code, len)) {
		*throttled = true;
		return DDB_ERR_RETRYABLE;
	}
	if (ddb_codec_code_in(ddb_codec_transient_codes,
			      sizeof(ddb_codec_transient_codes) / sizeof(ddb_codec_transient_codes[0]),
			      code, len))
		return DDB_ERR_RETRYABLE;
	if (status == 429) {
		*throttled = true;
		return DDB_ERR_RETRYABLE;
	}
	if (status >= 500 && status <= 599)
		return DDB_ERR_RETRYABLE;
	return DDB_ERR_FATAL;
}

/* The shape name in a wire error code, as the AWS SDKs sanitise it: cut
 * at the first ':' (a trailing URL), then keep what follows the first '#'
 * (the namespace). "com.amazonaws.dynamodb.v20120810#ValidationException"
 * gives "ValidationException". */
static void ddb_codec_code_sanitise(const char **code, size_t *len)
{
	const char *p = memchr(*code, ':', *len);

	if (p)
		*len = (size_t)(p - *code);
	p = memchr(*code, '#', *len);
	if (p) {
		*len -= (size_t)(p + 1 - *code);
		*code = p + 1;
	}
}

static json_t *ddb_codec_first_string(json_t *obj, const char *a, const char *b)
{
	json_t *v = json_object_get(obj, a);

	if (!json_is_string(v))
		v = json_object_get(obj, b);
	return json_is_string(v) ? v : NULL;
}

/* A body that is not a JSON object (an HTML page from a proxy or load
 * balancer, an empty or truncated body) leaves type "" and http_status
 * says what happened; its first bytes, made log-safe, become message. */
void ddb_error_from_response(long http_status, const char *body, size_t len,
			     struct ddb_error *err)
{
	const char *code = "", *msg = body;
	size_t code_len = 0, msg_len = body ? len : 0;
	json_t *root = NULL, *v;

	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->http_status = http_status;
	if (body && len)
		root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	if (json_is_object(root)) {
		v = ddb_codec_first_string(root, "__type", "code");
		if (v) {
			code = json_string_value(v);
			code_len = json_string_length(v);
			ddb_codec_code_sanitise(&code, &code_len);
		}
		v = ddb_codec_first_string(root, "message", "Message");
		msg = v ? json_string_value(v) : "";
		msg_len = v ? json_string_length(v) : 0;
	}
	err->cls = ddb_codec_classify(code, code_len, http_status, &err->throttled);
	ddb_codec_text_copy(err->type, sizeof(err->type), code, code_len);
	ddb_codec_text_copy(err->message, sizeof(err->message), msg, msg_len);
	json_decref(root);
}

void ddb_error_set(struct ddb_error *err, enum ddb_error_class cls, long http_status,
		   const char *type, const char *message)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->cls = cls;
	err->http_status = http_status;
	ddb_codec_text_copy(err->type, sizeof(err->type), type, type ? strlen(type) : 0);
	ddb_codec_text_copy(err->message, sizeof(err->message), message, message ? strlen(message) : 0);
}
