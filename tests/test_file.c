/* test_file.c: unit tests for src/file.c, the one reader of files that come
 * from outside: regular files only, a cap, and no open that can block. A
 * blocking open would hang rather than fail, so every such call runs under
 * an alarm that ends the process (Check's own timeout is gone when
 * CK_FORK=no, as in the sanitizer run). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "sessiond/file.h"

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char path[2][256];
	static int next;
	char *p = path[next++ % 2];

	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	return p;
}

static void write_bytes(const char *name, const char *data, size_t len)
{
	FILE *f = fopen(tmp_path(name), "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_file.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	static const char *const names[] = {"f", "big", "fifo", "link", "dir"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		unlink(tmp_path(names[i]));
		rmdir(tmp_path(names[i]));
	}
	rmdir(tmpdir);
}

/* file_read under a 2 s alarm: a call that blocks kills the test. */
static enum error_code read_now(const char *path, size_t cap, struct buf *out,
				struct file_info *info)
{
	enum error_code rc;

	alarm(2);
	rc = file_read(path, cap, out, info);
	alarm(0);
	return rc;
}

/* A refusal: the code, an empty buffer, and why containing want. */
static void expect_refused(const char *path, size_t cap, enum error_code want_rc,
			   const char *want)
{
	struct file_info info;
	struct buf b;

	ck_assert_int_eq(read_now(path, cap, &b, &info), want_rc);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_msg(strstr(info.why, want) != NULL, "\"%s\" not in \"%s\"", want, info.why);
}

START_TEST(reads_a_regular_file_whole)
{
	static const char text[] = "line 1\n\0binary\xff\n";
	struct file_info info;
	struct buf b;

	write_bytes("f", text, sizeof(text) - 1);
	ck_assert_int_eq(chmod(tmp_path("f"), 0640), 0);
	ck_assert_int_eq(read_now(tmp_path("f"), 1024, &b, &info), ERROR_OK);
	ck_assert_uint_eq(b.len, sizeof(text) - 1);
	ck_assert_int_eq(memcmp(b.data, text, sizeof(text)), 0); /* and terminated */
	ck_assert_str_eq(info.why, "");
	ck_assert_int_eq(info.err, 0);
	/* What a key file reader needs to refuse a file others may read. */
	ck_assert(S_ISREG(info.st.st_mode));
	ck_assert_int_eq(info.st.st_mode & 0777, 0640);
	ck_assert_int_eq(info.st.st_uid, getuid());
	buf_free_secret(&b);
}
END_TEST

START_TEST(empty_file_is_an_empty_text)
{
	struct file_info info;
	struct buf b;

	write_bytes("f", "", 0);
	ck_assert_int_eq(read_now(tmp_path("f"), 0, &b, &info), ERROR_OK);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	buf_free_secret(&b);
}
END_TEST

START_TEST(cap_is_inclusive_and_oversize_refused)
{
	char text[4097];
	struct file_info info;
	struct buf b;

	memset(text, 'x', sizeof(text));
	write_bytes("big", text, sizeof(text));
	expect_refused(tmp_path("big"), 4096, ERROR_TOO_LARGE, "is larger than 4096 bytes");
	ck_assert_int_eq(read_now(tmp_path("big"), 4097, &b, &info), ERROR_OK);
	ck_assert_uint_eq(b.len, 4097);
	buf_free_secret(&b);
}
END_TEST

/* The bug of issue 13: open(2) of a FIFO waits for a writer. */
START_TEST(fifo_is_refused_without_blocking)
{
	ck_assert_int_eq(mkfifo(tmp_path("fifo"), 0600), 0);
	expect_refused(tmp_path("fifo"), 4096, ERROR_INVALID, "is a FIFO, not a regular file");
	/* Reached through a symbolic link, it is still what it is. */
	ck_assert_int_eq(symlink(tmp_path("fifo"), tmp_path("link")), 0);
	expect_refused(tmp_path("link"), 4096, ERROR_INVALID, "is a FIFO, not a regular file");
}
END_TEST

START_TEST(directory_is_refused)
{
	ck_assert_int_eq(mkdir(tmp_path("dir"), 0700), 0);
	expect_refused(tmp_path("dir"), 4096, ERROR_INVALID, "is a directory, not a regular file");
}
END_TEST

/* A device that never ends is refused before a byte is read. */
START_TEST(dev_zero_is_refused)
{
	expect_refused("/dev/zero", 1 << 20, ERROR_INVALID,
		       "is a character device, not a regular file");
}
END_TEST

START_TEST(missing_file_says_enoent)
{
	struct file_info info;
	struct buf b;

	ck_assert_int_eq(read_now(tmp_path("nothing"), 10, &b, &info), ERROR_IO);
	ck_assert_int_eq(info.err, ENOENT);
	ck_assert_str_eq(info.why, "cannot open: No such file or directory");
	ck_assert_int_eq(info.st.st_mode, 0);
}
END_TEST

/* procfs reports a size of 0 for a file that holds text: a file whose size
 * is not what it holds is refused, never read beyond the size checked
 * against the cap. The same check catches a file that grows or shrinks
 * while it is read. */
START_TEST(size_that_lies_is_refused)
{
	struct stat st;

	ck_assert_int_eq(stat("/proc/self/status", &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 0);
	expect_refused("/proc/self/status", 1 << 20, ERROR_IO, "changed while being read");
}
END_TEST

START_TEST(open_hands_over_a_checked_fd)
{
	struct file_info info;
	char c = 0;
	int fd = 42;

	write_bytes("f", "z", 1);
	ck_assert_int_eq(file_open(tmp_path("f"), 1, &fd, &info), ERROR_OK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	ck_assert_int_eq(c, 'z');
	close(fd);
	ck_assert_int_eq(file_open(tmp_path("f"), 0, &fd, &info), ERROR_TOO_LARGE);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(file_open("/dev/null", 0, &fd, &info), ERROR_INVALID);
	ck_assert_int_eq(fd, -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_a_regular_file_whole);
	tcase_add_test(tc, empty_file_is_an_empty_text);
	tcase_add_test(tc, cap_is_inclusive_and_oversize_refused);
	tcase_add_test(tc, fifo_is_refused_without_blocking);
	tcase_add_test(tc, directory_is_refused);
	tcase_add_test(tc, dev_zero_is_refused);
	tcase_add_test(tc, missing_file_says_enoent);
	tcase_add_test(tc, size_that_lies_is_refused);
	tcase_add_test(tc, open_hands_over_a_checked_fd);
	suite_add_tcase(s, tc);
	return check_run(s);
}
