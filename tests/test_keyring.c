/* test_keyring.c: unit tests for src/keyring.c: key files (what is
 * refused, and the "FILE: message" said), sealing and opening an item's
 * sess, encryption.required, and the holder that SIGHUP swaps. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "sessiond/keyring.h"

static char dir[] = "/tmp/test-keyring-XXXXXX";

#define HEX1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* Writes text to dir/name with mode; returns the path (static buffer). */
static const char *key_file(const char *name, const char *text, mode_t mode)
{
	static char path[4][256];
	static int turn;
	char *p = path[turn++ % 4];
	FILE *f;

	snprintf(p, 256, "%s/%s", dir, name);
	unlink(p);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

static char *spec(const char *id, const char *path)
{
	static char s[4][300];
	static int turn;
	char *p = s[turn++ % 4];

	snprintf(p, 300, "%s:%s", id, path);
	return p;
}

/* keyring_load of one key file; the errors text in *errors. */
static enum error_code load_one(const char *path, struct keyring **kr, struct buf *errors)
{
	char *specs[] = { spec("k1", path) };

	buf_init(errors, 0);
	return keyring_load(NULL, specs, 1, false, kr, errors);
}

START_TEST(good_key_files_load)
{
	struct keyring *kr;
	struct buf errors;
	char *specs[] = { spec("new", key_file("a.key", HEX1 "\n", 0600)),
			  spec("old", key_file("b.key", HEX2, 0400)) };

	buf_init(&errors, 0);
	ck_assert_int_eq(keyring_load(NULL, specs, 2, true, &kr, &errors), ERROR_OK);
	ck_assert_uint_eq(keyring_count(kr), 2);
	ck_assert_str_eq(keyring_key_id(kr, 0), "new");
	ck_assert_str_eq(keyring_key_id(kr, 1), "old");
	ck_assert_ptr_null(keyring_key_id(kr, 2));
	ck_assert(keyring_required(kr));
	keyring_unref(kr);
	/* Upper-case hex and a CRLF are fine too. */
	ck_assert_int_eq(load_one(key_file("c.key", "ABCDEF0123456789ABCDEF0123456789ABCDEF01234"
						     "56789ABCDEF0123456789\r\n",
					   0600),
				  &kr, &errors),
			 ERROR_OK);
	keyring_unref(kr);
	buf_free(&errors);
}
END_TEST

START_TEST(bad_key_files_are_refused_with_file_and_reason)
{
	static const struct {
		const char *text;
		mode_t mode;
		const char *message;
	} cases[] = {
		{ HEX1 "\n", 0644,
		  "the key file may be read or written by group or others (mode 0644); run: "
		  "chmod 600 " },
		{ HEX1 "\n", 0640, "(mode 0640); run: chmod 600" },
		{ HEX1 "\n", 0602, "(mode 0602); run: chmod 600" },
		{ HEX1 "0\n", 0600, "must hold 64 hex digits (32 random bytes: openssl rand -hex "
				    "32), not 65 characters" },
		{ "abcd", 0600, "not 4 characters" },
		{ "", 0600, "not 0 characters" },
		{ "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600,
		  "hex digits only" },
		{ HEX1 "\n" HEX2, 0600, "not 129 characters" },
	};
	struct keyring *kr = (struct keyring *)1;
	struct buf errors;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = key_file("bad.key", cases[i].text, cases[i].mode);
		ck_assert_int_eq(load_one(path, &kr, &errors), ERROR_INVALID);
		ck_assert_ptr_null(kr);
		ck_assert_msg(strncmp(errors.data, path, strlen(path)) == 0 &&
				      strncmp(errors.data + strlen(path), ": ", 2) == 0,
			      "%s", errors.data);
		ck_assert_msg(strstr(errors.data, cases[i].message), "%zu: %s", i, errors.data);
		/* The file's content never appears in the message. */
		ck_assert(!strstr(errors.data, "0102030405"));
		buf_free(&errors);
	}
}
END_TEST

START_TEST(fifo_directory_and_missing_file_are_refused_without_blocking)
{
	char fifo[300], missing[300];
	struct keyring *kr;
	struct buf errors;

	snprintf(fifo, sizeof(fifo), "%s/fifo.key", dir);
	snprintf(missing, sizeof(missing), "%s/none.key", dir);
	unlink(fifo);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(load_one(fifo, &kr, &errors), ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(errors.data, "fifo.key: cannot read the key file: is a FIFO, "
						  "not a regular file"));
	buf_free(&errors);
	ck_assert_int_eq(load_one(dir, &kr, &errors), ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(errors.data, "is a directory"));
	buf_free(&errors);
	ck_assert_int_eq(load_one(missing, &kr, &errors), ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(errors.data, "none.key: cannot read the key file: cannot "
						  "open: No such file or directory"));
	buf_free(&errors);
	unlink(fifo);
}
END_TEST

START_TEST(every_bad_entry_is_reported)
{
	const char *good = key_file("g.key", HEX1, 0600);
	char *specs[] = { "nocolon", "bad id:/x", spec("k1", good), spec("k1", good), "k2:" };
	struct keyring *kr;
	struct buf errors;
	const char *why;

	buf_init(&errors, 0);
	ck_assert_int_eq(keyring_load(NULL, specs, 5, false, &kr, &errors), ERROR_INVALID);
	ck_assert_ptr_nonnull(strstr(errors.data, "encryption.keys[0] must be \"id:path\""));
	ck_assert_ptr_nonnull(strstr(errors.data, "encryption.keys[1] has a key id"));
	ck_assert_ptr_nonnull(strstr(errors.data, "encryption.keys[3]: key id \"k1\" is listed twice"));
	ck_assert_ptr_nonnull(strstr(errors.data, "encryption.keys[4] has no file"));
	buf_free(&errors);
	ck_assert(keyring_spec_valid("a.b-c_D9:/etc/x y.key", &why));
	ck_assert(!keyring_spec_valid(":/x", &why));
}
END_TEST

/* An item as session_to_item makes it. */
static void item_make(struct ddb_item *item, const char *key, const char *sess)
{
	memset(item, 0, sizeof(*item));
	ck_assert_int_eq(ddb_item_add_s(item, "id", key, strlen(key)), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n_i64(item, "expires", 1900000000), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_s(item, "type", "connect-session", 15), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_s(item, "sess", sess, strlen(sess)), ERROR_OK);
	ck_assert_int_eq(ddb_item_add_n_i64(item, "version", 3), ERROR_OK);
}

static struct keyring *two_keys(struct keyring_holder *h, const char *first, const char *second,
				bool required)
{
	char *specs[] = { spec(first, key_file("first.key", HEX1, 0600)),
			  spec(second, key_file("second.key", HEX2, 0600)) };
	struct keyring *kr = NULL;
	struct buf errors;

	buf_init(&errors, 0);
	ck_assert_int_eq(keyring_load(h, specs, second ? 2 : 1, required, &kr, &errors), ERROR_OK);
	buf_free(&errors);
	return kr;
}

START_TEST(items_seal_and_open_under_any_listed_key)
{
	struct keyring *a = two_keys(NULL, "k1", "k2", false);
	struct keyring *b = two_keys(NULL, "k2", "k1", false); /* same files, swapped ids */
	struct keyring_read_info info;
	struct ddb_item item, moved;
	const struct ddb_attr *sess;

	item_make(&item, "sess:abc", "{\"secret\":\"canary\"}");
	ck_assert_int_eq(keyring_seal_item(a, &item, "id"), ERROR_OK);
	sess = ddb_item_get(&item, "sess");
	ck_assert(strncmp(sess->value, "sessiond:enc:1:k1:", 18) == 0);
	ck_assert(!strstr(sess->value, "canary"));
	ck_assert_uint_eq(sess->value_len, keyring_sealed_len(a, 19));
	ck_assert_uint_eq(item.n, 5); /* nothing else added or lost */
	ck_assert_str_eq(ddb_item_get(&item, "expires")->value, "1900000000");

	/* Moved to another item: the AAD differs. */
	item_make(&moved, "sess:abd", sess->value);
	ck_assert_int_eq(keyring_open_item(a, &moved, "id", &info), KEYRING_READ_FAILED);
	ck_assert_str_eq(info.key_id, "k1");
	ck_assert_str_eq(info.why, "does not authenticate (wrong key, moved or altered)");
	ddb_item_clear(&moved);
	/* Under b, "k1" names the other key: the tag does not match. */
	item_make(&moved, "sess:abc", sess->value);
	ck_assert_int_eq(keyring_open_item(b, &moved, "id", &info), KEYRING_READ_FAILED);
	ddb_item_clear(&moved);
	/* No keys at all. */
	item_make(&moved, "sess:abc", sess->value);
	ck_assert_int_eq(keyring_open_item(NULL, &moved, "id", &info), KEYRING_READ_FAILED);
	ck_assert_str_eq(info.why, "no encryption keys configured");
	ddb_item_clear(&moved);

	ck_assert_int_eq(keyring_open_item(a, &item, "id", &info), KEYRING_READ_OPENED);
	ck_assert_uint_eq(info.key_index, 0);
	ck_assert_str_eq(ddb_item_get(&item, "sess")->value, "{\"secret\":\"canary\"}");
	ck_assert_uint_eq(ddb_item_get(&item, "sess")->value_len, 19);
	ddb_item_clear(&item);
	keyring_unref(a);
	keyring_unref(b);
}
END_TEST

START_TEST(rotation_reads_old_and_new)
{
	struct keyring *old = two_keys(NULL, "k1", NULL, false);
	struct keyring *both = two_keys(NULL, "k1", "k2", false);
	struct keyring *next = two_keys(NULL, "k2", "k1", false);
	struct keyring_read_info info;
	struct ddb_item item;

	/* two_keys gives the first id HEX1 and the second HEX2, so "next"
	 * (k2 first) writes under id k2; "both" (k1, k2) names other bytes k2
	 * and must refuse that, "old" (k1 only) does not know k2 at all. */
	item_make(&item, "sess:r", "{}");
	ck_assert_int_eq(keyring_seal_item(next, &item, "id"), ERROR_OK);
	ck_assert(strncmp(ddb_item_get(&item, "sess")->value, "sessiond:enc:1:k2:", 18) == 0);
	ck_assert_int_eq(keyring_open_item(next, &item, "id", &info), KEYRING_READ_OPENED);
	ddb_item_clear(&item);
	item_make(&item, "sess:r", "{}");
	ck_assert_int_eq(keyring_seal_item(next, &item, "id"), ERROR_OK);
	ck_assert_int_eq(keyring_open_item(both, &item, "id", &info), KEYRING_READ_FAILED);
	ck_assert_str_eq(info.key_id, "k2");
	ddb_item_clear(&item);
	item_make(&item, "sess:r", "{}");
	ck_assert_int_eq(keyring_seal_item(both, &item, "id"), ERROR_OK);
	ck_assert_int_eq(keyring_open_item(both, &item, "id", &info), KEYRING_READ_OPENED);
	ddb_item_clear(&item);
	/* A key id the ring does not hold. */
	item_make(&item, "sess:r", "{}");
	ck_assert_int_eq(keyring_seal_item(next, &item, "id"), ERROR_OK);
	ck_assert_int_eq(keyring_open_item(old, &item, "id", &info), KEYRING_READ_FAILED);
	ck_assert_str_eq(info.key_id, "k2");
	ck_assert_str_eq(info.why, "unknown key id");
	ddb_item_clear(&item);
	keyring_unref(old);
	keyring_unref(both);
	keyring_unref(next);
}
END_TEST

START_TEST(plain_sess_and_required)
{
	struct keyring *open = two_keys(NULL, "k1", NULL, false);
	struct keyring *strict = two_keys(NULL, "k1", NULL, true);
	struct keyring_read_info info;
	struct ddb_item item;

	item_make(&item, "sess:p", "{\"a\":1}");
	ck_assert_int_eq(keyring_open_item(open, &item, "id", &info), KEYRING_READ_PLAIN);
	ck_assert_str_eq(ddb_item_get(&item, "sess")->value, "{\"a\":1}");
	ck_assert_int_eq(keyring_open_item(NULL, &item, "id", &info), KEYRING_READ_PLAIN);
	ck_assert_int_eq(keyring_open_item(strict, &item, "id", &info), KEYRING_READ_ABSENT);
	ck_assert_ptr_null(ddb_item_get(&item, "sess"));
	ck_assert_uint_eq(item.n, 4);
	ck_assert_str_eq(ddb_item_get(&item, "version")->value, "3");
	ck_assert_int_eq(keyring_open_item(strict, &item, "id", &info), KEYRING_READ_NONE);
	ddb_item_clear(&item);
	/* A malformed sealed text. */
	item_make(&item, "sess:p", "sessiond:enc:1:k1:!!");
	ck_assert_int_eq(keyring_open_item(open, &item, "id", &info), KEYRING_READ_FAILED);
	ck_assert_str_eq(info.why, "malformed sealed text");
	ddb_item_clear(&item);
	keyring_unref(open);
	keyring_unref(strict);
}
END_TEST

START_TEST(holder_swaps_counts_and_keeps_counters)
{
	struct keyring_holder *h = keyring_holder_new();
	struct keyring *first = two_keys(h, "k1", NULL, false), *in_flight, *kr;
	struct keyring_read_info info;
	struct ddb_item item;
	struct buf m;

	ck_assert_ptr_null(keyring_holder_get(h));
	keyring_holder_set(h, first);
	in_flight = keyring_holder_get(h);
	ck_assert_ptr_eq(in_flight, first);
	item_make(&item, "sess:h", "{}");
	ck_assert_int_eq(keyring_seal_item(in_flight, &item, "id"), ERROR_OK);
	/* A reload while a request holds the old keyring: it stays usable. */
	keyring_holder_set(h, two_keys(h, "k2", "k1", false));
	ck_assert_int_eq(keyring_open_item(in_flight, &item, "id", &info), KEYRING_READ_OPENED);
	keyring_unref(in_flight);
	ddb_item_clear(&item);
	kr = keyring_holder_get(h);
	ck_assert_str_eq(keyring_key_id(kr, 0), "k2");
	item_make(&item, "sess:h", "{}");
	ck_assert_int_eq(keyring_seal_item(kr, &item, "id"), ERROR_OK);
	ck_assert_int_eq(keyring_open_item(kr, &item, "id", &info), KEYRING_READ_OPENED);
	ddb_item_clear(&item);
	item_make(&item, "sess:h", "{}");
	ck_assert_int_eq(keyring_open_item(kr, &item, "id", &info), KEYRING_READ_PLAIN);
	ddb_item_clear(&item);
	keyring_unref(kr);

	buf_init(&m, 0);
	keyring_holder_write_metrics(h, &m);
	ck_assert_ptr_nonnull(strstr(m.data, "sessiond_encryption_key_info{key=\"k2\",role=\"encrypt\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m.data, "sessiond_encryption_key_info{key=\"k1\",role=\"decrypt\"} 1\n"));
	/* k1's counts survived the reload. */
	ck_assert_ptr_nonnull(strstr(m.data, "sessiond_encryption_reads_total{key=\"k1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m.data, "sessiond_encryption_writes_total{key=\"k1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m.data, "sessiond_encryption_reads_total{key=\"k2\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m.data, "sessiond_encryption_plain_reads_total{absent=\"false\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m.data, "sessiond_encryption_decrypt_failures_total{reason=\"bad_tag\"} 0\n"));
	buf_free(&m);
	/* No keys: encryption off. */
	keyring_holder_set(h, two_keys(h, "k1", NULL, false));
	keyring_holder_set(h, NULL);
	ck_assert_ptr_null(keyring_holder_get(h));
	keyring_holder_free(h);
	keyring_holder_free(NULL);
	keyring_unref(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keyring");
	TCase *tc = tcase_create("core");
	int rc;

	char rm[64];

	if (!mkdtemp(dir))
		return EXIT_FAILURE;
	tcase_add_test(tc, good_key_files_load);
	tcase_add_test(tc, bad_key_files_are_refused_with_file_and_reason);
	tcase_add_test(tc, fifo_directory_and_missing_file_are_refused_without_blocking);
	tcase_add_test(tc, every_bad_entry_is_reported);
	tcase_add_test(tc, items_seal_and_open_under_any_listed_key);
	tcase_add_test(tc, rotation_reads_old_and_new);
	tcase_add_test(tc, plain_sess_and_required);
	tcase_add_test(tc, holder_swaps_counts_and_keeps_counters);
	suite_add_tcase(s, tc);
	rc = check_run(s);
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	if (system(rm) != 0)
		rc = EXIT_FAILURE;
	return rc;
}
