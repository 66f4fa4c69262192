/* test_seal.c: unit tests for src/seal.c: AES-256-GCM against published
 * known answers, and the stored format (its exact text, and the strict
 * parser's refusals). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/check_run.h"
#include "sessiond/hex.h"
#include "sessiond/seal.h"

/* Known answers for AES-256, 96-bit IV, 128-bit tag. Sources:
 * - NIST CAVP, GCM test vectors (gcmtestvectors.zip), file
 *   gcmEncryptExtIV256.rsp, [Keylen = 256] [IVlen = 96] [Taglen = 128]:
 *   the PTlen = 128, 104, 256 and 408 sections, each with AADlen = 0.
 *   https://csrc.nist.gov/Projects/Cryptographic-Algorithm-Validation-Program/CAVP-TESTING-BLOCK-CIPHER-MODES#GCMVS
 * - McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", the
 *   specification NIST SP 800-38D adopts, test cases 13 to 16 (AES-256):
 *   an empty text, one zero block, four blocks, and 60 bytes with 20
 *   bytes of AAD. */
struct kat {
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

static const struct kat kats[] = {
	{ "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
	  "0d18e06c7c725ac9e362e1ce", "2db5168e932556f8089a0622981d017d", "",
	  "fa4362189661d163fcd6a56d8bf0405a", "d636ac1bbedd5cc3ee727dc2ab4a9489" },
	{ "e5a0eb92cc2b064e1bc80891faf1fab5e9a17a9c3a984e25416720e30e6c2b21",
	  "4742357c335913153ff0eb0f", "8499893e16b0ba8b007d54665a", "",
	  "eb8e6175f1fe38eb1acf95fd51", "88a8b74bb74fda553e91020a23deed45" },
	{ "37f39137416bafde6f75022a7a527cc593b6000a83ff51ec04871a0ff5360e4e",
	  "a291484c3de8bec6b47f525f",
	  "fafd94cede8b5a0730394bec68a8e77dba288d6ccaa8e1563a81d6e7ccc7fc97", "",
	  "44dc868006b21d49284016565ffb3979cc4271d967628bf7cdaf86db888e92e5",
	  "01a2b578aa2f41ec6379a44a31cc019c" },
	{ "595f259c55abe00ae07535ca5d9b09d6efb9f7e9abb64605c337acbd6b14fc7e",
	  "92f258071d79af3e63672285",
	  "a6fee33eb110a2d769bbc52b0f36969c287874f665681477a25fc4c48015c541fbe2394133ba490a34e"
	  "e2dd67b898177849a91",
	  "",
	  "bbca4a9e09ae9690c0f6f8d405e53dccd666aa9c5fa13c8758bc30abe1ddd1bcce0d36a1eaaaaffef20"
	  "cd3c5970b9673f8a65c",
	  "26ccecb9976fd6ac9c2c0f372c52c821" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "00000000000000000000000000000000", "",
	  "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449"
	  "a6b525b16aedf5aa0de657ba637b391aafd255",
	  "",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
	  "828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449"
	  "a6b525b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
	  "828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

/* Decodes hex (well-formed, from the table) into a new buffer. */
static unsigned char *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	unsigned char *out = malloc(n + 1);

	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
	*len = n;
	return out;
}

START_TEST(gcm_known_answers)
{
	const struct kat *k = &kats[_i];
	size_t kl, il, pl, al, cl, tl;
	unsigned char *key = unhex(k->key, &kl), *iv = unhex(k->iv, &il), *pt = unhex(k->pt, &pl);
	unsigned char *aad = unhex(k->aad, &al), *ct = unhex(k->ct, &cl), *tag = unhex(k->tag, &tl);
	unsigned char out[128], back[128], t[SEAL_TAG_LEN];

	ck_assert_uint_eq(kl, SEAL_KEY_LEN);
	ck_assert_uint_eq(il, SEAL_NONCE_LEN);
	ck_assert_uint_eq(pl, cl);
	ck_assert_int_eq(seal_gcm_encrypt(key, iv, aad, al, pt, pl, out, t), ERROR_OK);
	ck_assert_mem_eq(out, ct, cl);
	ck_assert_mem_eq(t, tag, SEAL_TAG_LEN);
	ck_assert_int_eq(seal_gcm_decrypt(key, iv, aad, al, ct, cl, tag, back), ERROR_OK);
	ck_assert_mem_eq(back, pt, pl);
	/* One bit off anywhere (tag, text, AAD, key) and nothing opens. */
	tag[0] ^= 1;
	ck_assert_int_eq(seal_gcm_decrypt(key, iv, aad, al, ct, cl, tag, back), ERROR_PARSE);
	tag[0] ^= 1;
	if (cl) {
		ct[cl - 1] ^= 0x80;
		ck_assert_int_eq(seal_gcm_decrypt(key, iv, aad, al, ct, cl, tag, back), ERROR_PARSE);
		/* The unauthenticated plaintext was wiped. */
		for (size_t i = 0; i < cl; i++)
			ck_assert_uint_eq(back[i], 0);
		ct[cl - 1] ^= 0x80;
	}
	ck_assert_int_eq(seal_gcm_decrypt(key, iv, (const unsigned char *)"x", 1, ct, cl, tag, back),
			 ERROR_PARSE);
	key[31] ^= 1;
	ck_assert_int_eq(seal_gcm_decrypt(key, iv, aad, al, ct, cl, tag, back), ERROR_PARSE);
	free(key), free(iv), free(pt), free(aad), free(ct), free(tag);
}
END_TEST

static const unsigned char key0[SEAL_KEY_LEN] = { 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
						 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
						 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };
static const unsigned char nonce0[SEAL_NONCE_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

/* Computed independently with Node's crypto (aes-256-gcm, setAAD
 * "sess:abc", base64url): key 00..1f, nonce 00..0b, plaintext {"a":1}. */
static const char golden[] = "sessiond:enc:1:k1:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo";

START_TEST(stored_format_is_exact)
{
	struct buf out, plain;
	struct seal_text st;

	buf_init(&out, 0);
	ck_assert_int_eq(seal_text_nonce(key0, "k1", nonce0, "sess:abc", 8, "{\"a\":1}", 7, &out),
			 ERROR_OK);
	ck_assert_str_eq(out.data, golden);
	ck_assert_uint_eq(out.len, seal_text_len(2, 7));
	ck_assert(seal_is_sealed(out.data, out.len));
	ck_assert_int_eq(seal_parse(out.data, out.len, &st), ERROR_OK);
	ck_assert_uint_eq(st.key_id_len, 2);
	ck_assert_mem_eq(st.key_id, "k1", 2);
	ck_assert_uint_eq(st.plain_len, 7);
	buf_init(&plain, 0);
	ck_assert_int_eq(seal_open(key0, &st, "sess:abc", 8, &plain), ERROR_OK);
	ck_assert_str_eq(plain.data, "{\"a\":1}");
	/* Another item's key as AAD: a moved ciphertext does not open. */
	ck_assert_int_eq(seal_open(key0, &st, "sess:abd", 8, &plain), ERROR_PARSE);
	ck_assert_str_eq(plain.data, "{\"a\":1}");
	buf_free(&plain);
	buf_free(&out);
}
END_TEST

START_TEST(random_nonces_differ_and_open)
{
	struct buf a, b, plain;
	struct seal_text st;
	char big[5000];

	memset(big, 'x', sizeof(big));
	buf_init(&a, 0);
	buf_init(&b, 0);
	buf_init(&plain, 0);
	for (size_t len = 0; len < sizeof(big); len = len * 2 + 1) {
		buf_reset(&a);
		buf_reset(&b);
		buf_reset(&plain);
		ck_assert_int_eq(seal_text(key0, "key-2026.01_a", "sess:id", 7, big, len, &a),
				 ERROR_OK);
		ck_assert_int_eq(seal_text(key0, "key-2026.01_a", "sess:id", 7, big, len, &b),
				 ERROR_OK);
		ck_assert_str_ne(a.data, b.data);
		ck_assert_uint_eq(a.len, seal_text_len(13, len));
		ck_assert_int_eq(seal_parse(b.data, b.len, &st), ERROR_OK);
		ck_assert_uint_eq(st.plain_len, len);
		ck_assert_int_eq(seal_open(key0, &st, "sess:id", 7, &plain), ERROR_OK);
		ck_assert_uint_eq(plain.len, len);
		ck_assert(len == 0 || memcmp(plain.data, big, len) == 0);
	}
	buf_free(&a);
	buf_free(&b);
	buf_free(&plain);
}
END_TEST

START_TEST(parser_refuses_all_but_the_format)
{
	static const char *const bad[] = {
		"",
		"{\"a\":1}",
		"sessiond:enc:",
		"sessiond:enc:1",
		"sessiond:enc:1:",
		"sessiond:enc:2:k1:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo",
		"sessiond:enc:1:k1",
		"sessiond:enc:1::AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo",
		"sessiond:enc:1:k 1:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo",
		"sessiond:enc:1:k1:k2:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo",
		/* padding, standard alphabet, white space */
		"sessiond:enc:1:k1:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo=",
		"sessiond:enc:1:k1:AAECAwQFBgcICQoLPCC3Of/UvxsndmfpYXq7xsej8FoDxBo",
		"sessiond:enc:1:k1:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo\n",
		/* a lone last digit (6 bits), stray bits in the last digit */
		"sessiond:enc:1:k1:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBoAA",
		"sessiond:enc:1:k1:AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBp",
		/* shorter than nonce and tag: 27 bytes */
		"sessiond:enc:1:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"sessiond:enc:1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:"
		"AAECAwQFBgcICQoLPCC3Of_UvxsndmfpYXq7xsej8FoDxBo",
	};
	struct seal_text st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(seal_parse(bad[i], strlen(bad[i]), &st) == ERROR_PARSE, "%s", bad[i]);
	/* 28 bytes (nonce and tag, empty plaintext) is the smallest. */
	ck_assert_int_eq(seal_parse("sessiond:enc:1:k:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 55,
				    &st),
			 ERROR_OK);
	ck_assert_uint_eq(st.plain_len, 0);
	ck_assert_int_eq(seal_parse(golden, strlen(golden) - 1, &st), ERROR_PARSE);
	ck_assert(!seal_is_sealed("sessiond:enc", 12));
	ck_assert(seal_key_id_valid("A-z_0.9", 7));
	ck_assert(!seal_key_id_valid("a:b", 3));
	ck_assert(!seal_key_id_valid("", 0));
}
END_TEST

START_TEST(sealing_refuses_a_bad_key_id)
{
	struct buf out;

	buf_init(&out, 0);
	ck_assert_int_eq(seal_text(key0, "a:b", "k", 1, "{}", 2, &out), ERROR_INVALID);
	ck_assert_int_eq(seal_text(key0, "", "k", 1, "{}", 2, &out), ERROR_INVALID);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("seal");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, gcm_known_answers, 0, (int)(sizeof(kats) / sizeof(kats[0])));
	tcase_add_test(tc, stored_format_is_exact);
	tcase_add_test(tc, random_nonces_differ_and_open);
	tcase_add_test(tc, parser_refuses_all_but_the_format);
	tcase_add_test(tc, sealing_refuses_a_bad_key_id);
	suite_add_tcase(s, tc);
	return check_run(s);
}
