/* fuzz_seal.c: libFuzzer harness for src/seal.c: the stored-format parser
 * and the opening of what it accepts (a table someone else can write to
 * feeds both), and the round trip of any plaintext through seal and open. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sessiond/seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[SEAL_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
						 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
						 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

/* What the parser accepts is exactly the format: the key id is valid, and
 * sealing the plaintext length again gives a text of the same length. */
static void parse_and_open(const char *in, size_t len)
{
	struct seal_text st;
	struct buf plain;

	if (seal_parse(in, len, &st) != ERROR_OK)
		return;
	if (!seal_key_id_valid(st.key_id, st.key_id_len) ||
	    seal_text_len(st.key_id_len, st.plain_len) != len || !seal_is_sealed(in, len))
		abort();
	buf_init(&plain, 0);
	/* Random bytes essentially never authenticate; the point is that
	 * trying does not read or write out of bounds. */
	if (seal_open(key, &st, "sess:x", 6, &plain) == ERROR_OK && plain.len != st.plain_len)
		abort();
	buf_free(&plain);
}

/* Any plaintext and AAD seal to a text that parses and opens to them, and
 * opens under no other AAD. */
static void round_trip(const char *in, size_t len)
{
	size_t aad_len = len ? (unsigned char)in[0] % (len + 1) : 0;
	const char *aad = in, *pt = in + aad_len;
	size_t pt_len = len - aad_len;
	struct buf text, plain;
	struct seal_text st;

	buf_init(&text, 0);
	buf_init(&plain, 0);
	if (seal_text(key, "fuzz-key_1.0", aad, aad_len, pt, pt_len, &text) != ERROR_OK)
		abort();
	if (seal_parse(text.data, text.len, &st) != ERROR_OK || st.plain_len != pt_len ||
	    text.len != seal_text_len(12, pt_len))
		abort();
	if (seal_open(key, &st, aad, aad_len, &plain) != ERROR_OK || plain.len != pt_len ||
	    (pt_len && memcmp(plain.data, pt, pt_len) != 0))
		abort();
	buf_reset(&plain);
	if (seal_open(key, &st, "other", 5, &plain) != ERROR_PARSE)
		abort();
	buf_free(&text);
	buf_free(&plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	parse_and_open(in, size);
	/* The input behind the prefix too, so the fuzzer need not find it. */
	if (size < 4096) {
		char *prefixed = malloc(SEAL_PREFIX_LEN + size);
		if (!prefixed)
			return 0;
		memcpy(prefixed, SEAL_PREFIX, SEAL_PREFIX_LEN);
		memcpy(prefixed + SEAL_PREFIX_LEN, in, size);
		parse_and_open(prefixed, SEAL_PREFIX_LEN + size);
		free(prefixed);
	}
	round_trip(in, size);
	return 0;
}
