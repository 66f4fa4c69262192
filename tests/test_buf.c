/* test_buf.c: unit tests for src/buf.c, the capped growable buffer. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "sessiond/buf.h"

START_TEST(append_grows_and_terminates)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_append_str(&b, "ab"), ERROR_OK);
	ck_assert_uint_eq(b.len, 2000);
	ck_assert_uint_eq(strlen(b.data), 2000);
	ck_assert_int_eq(memcmp(b.data + 1998, "ab", 3), 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(cap_refuses_and_leaves_buffer_unchanged)
{
	struct buf b;
	buf_init(&b, 5);
	ck_assert_int_eq(buf_append_str(&b, "abcd"), ERROR_OK);
	ck_assert_int_eq(buf_error(&b), ERROR_OK);
	ck_assert_int_eq(buf_append_str(&b, "ef"), ERROR_TOO_LARGE);
	ck_assert_str_eq(b.data, "abcd");
	buf_free(&b);
}
END_TEST

/* A failed append sticks: an append that would fit is refused after it,
 * so the text can never lose a piece in the middle, and buf_steal hands
 * out nothing. buf_reset clears the error. */
START_TEST(error_sticks_until_reset)
{
	struct buf b;
	buf_init(&b, 8);
	ck_assert_int_eq(buf_append_str(&b, "a AND "), ERROR_OK);
	ck_assert_int_eq(buf_printf(&b, "(%s)", "too long"), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_append_char(&b, 'x'), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_append_hex(&b, (const unsigned char *)"", 0), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_error(&b), ERROR_TOO_LARGE);
	ck_assert_str_eq(b.data, "a AND ");
	buf_reset(&b);
	ck_assert_int_eq(buf_error(&b), ERROR_OK);
	ck_assert_int_eq(buf_append_char(&b, 'x'), ERROR_OK);
	ck_assert_int_eq(buf_append_str(&b, "too long"), ERROR_TOO_LARGE);
	ck_assert_ptr_null(buf_steal(&b));
	ck_assert_ptr_null(b.data);
	ck_assert_int_eq(buf_error(&b), ERROR_OK);
}
END_TEST

START_TEST(printf_hex_and_steal)
{
	struct buf b;
	const unsigned char bytes[] = { 0x00, 0x7f, 0xab, 0xff };
	char *s;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "%s-%05d:", "x", 42), ERROR_OK);
	ck_assert_int_eq(buf_append_hex(&b, bytes, sizeof(bytes)), ERROR_OK);
	ck_assert_str_eq(b.data, "x-00042:007fabff");
	buf_reset(&b);
	ck_assert_str_eq(b.data, "");
	s = buf_steal(&b);
	ck_assert_str_eq(s, "");
	ck_assert_ptr_null(b.data);
	free(s);
}
END_TEST

/* Decimal without printf, checked against printf: the ends of the range,
 * each power of ten and its neighbours, and a spread of others. */
START_TEST(i64_text_matches_printf)
{
	int64_t values[200];
	size_t n = 0;
	char want[32], got[BUF_I64_SIZE];
	struct buf b;

	values[n++] = 0;
	values[n++] = INT64_MIN;
	values[n++] = INT64_MAX;
	for (int64_t p = 1;; p *= 10) { /* 1 .. 10^18, the last power that fits */
		values[n++] = p;
		values[n++] = p - 1;
		values[n++] = -p;
		values[n++] = -(p + 1);
		if (p > INT64_MAX / 10)
			break;
	}
	for (uint64_t x = 0x9e3779b97f4a7c15u; n < sizeof(values) / sizeof(values[0]);
	     x = x * 6364136223846793005u + 1442695040888963407u)
		values[n++] = (int64_t)x;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(want, sizeof(want), "%" PRId64, values[i]);

		ck_assert_uint_eq(buf_i64_text(values[i], got), (size_t)len);
		ck_assert_str_eq(got, want);
		buf_reset(&b);
		ck_assert_int_eq(buf_append_i64(&b, values[i]), ERROR_OK);
		ck_assert_str_eq(b.data, want);
	}
	/* After what the buffer holds; nothing once it has failed. */
	buf_reset(&b);
	buf_append_str(&b, "v=");
	ck_assert_int_eq(buf_append_i64(&b, -42), ERROR_OK);
	ck_assert_str_eq(b.data, "v=-42");
	buf_free(&b);
	buf_init(&b, 4);
	ck_assert_int_eq(buf_append_i64(&b, 12345), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_append_i64(&b, 1), ERROR_TOO_LARGE);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

/* A secret buffer is allocated once: appends up to the cap never move it,
 * so no copy of a secret is left behind in a block realloc freed. */
START_TEST(secret_buffer_never_moves)
{
	struct buf b;
	char *before;

	ck_assert_int_eq(buf_init_secret(&b, 300), ERROR_OK);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	before = b.data;
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(buf_append_str(&b, "abc"), ERROR_OK);
	ck_assert_ptr_eq(b.data, before);
	ck_assert_int_eq(buf_append_char(&b, 'x'), ERROR_TOO_LARGE);
	ck_assert_ptr_eq(b.data, before);
	buf_free_secret(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

/* Writes len bytes of 'z' into a pipe and closes its write end; returns
 * the read end. len stays under the pipe's 64 KiB, so this never blocks. */
static int pipe_with(size_t len)
{
	char text[8192];
	int fds[2];

	ck_assert_uint_le(len, sizeof(text));
	memset(text, 'z', len);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], text, len), (ssize_t)len);
	close(fds[1]);
	return fds[0];
}

START_TEST(read_fd_reads_to_the_end_within_max)
{
	struct buf b;
	int fd;

	/* Exactly max bytes, then the end: whole. */
	buf_init(&b, 0);
	fd = pipe_with(5000);
	ck_assert_int_eq(buf_read_fd(&b, fd, 5000), ERROR_OK);
	close(fd);
	ck_assert_uint_eq(b.len, 5000);
	ck_assert_uint_eq(strlen(b.data), 5000);
	buf_free(&b);
	/* Appends after what is there; an empty source appends nothing. */
	ck_assert_int_eq(buf_init_secret(&b, 10), ERROR_OK);
	ck_assert_int_eq(buf_append_str(&b, "ab"), ERROR_OK);
	fd = pipe_with(3);
	ck_assert_int_eq(buf_read_fd(&b, fd, 8), ERROR_OK);
	close(fd);
	ck_assert_str_eq(b.data, "abzzz");
	fd = pipe_with(0);
	ck_assert_int_eq(buf_read_fd(&b, fd, 0), ERROR_OK);
	close(fd);
	ck_assert_str_eq(b.data, "abzzz");
	buf_free_secret(&b);
}
END_TEST

/* One byte more than max, or than the cap, is refused, and it sticks. */
START_TEST(read_fd_refuses_more_than_max_or_cap)
{
	struct buf b;
	int fd;

	buf_init(&b, 0);
	fd = pipe_with(101);
	ck_assert_int_eq(buf_read_fd(&b, fd, 100), ERROR_TOO_LARGE);
	close(fd);
	ck_assert_int_eq(buf_error(&b), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_append_char(&b, 'x'), ERROR_TOO_LARGE);
	ck_assert_ptr_null(buf_steal(&b));
	buf_init(&b, 50);
	fd = pipe_with(51);
	ck_assert_int_eq(buf_read_fd(&b, fd, 100), ERROR_TOO_LARGE);
	close(fd);
	buf_free(&b);
}
END_TEST

START_TEST(read_fd_error_keeps_errno)
{
	struct buf b;

	buf_init(&b, 0);
	errno = 0;
	ck_assert_int_eq(buf_read_fd(&b, -1, 10), ERROR_IO);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(buf_error(&b), ERROR_IO);
	buf_free(&b);
}
END_TEST

START_TEST(truncate_cuts_and_terminates)
{
	struct buf b;

	buf_init(&b, 0);
	buf_truncate(&b, 0); /* nothing allocated: nothing to do */
	ck_assert_int_eq(buf_append_str(&b, "abcdef"), ERROR_OK);
	buf_truncate(&b, 10);
	ck_assert_str_eq(b.data, "abcdef");
	buf_truncate(&b, 2);
	ck_assert_uint_eq(b.len, 2);
	ck_assert_str_eq(b.data, "ab");
	buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, append_grows_and_terminates);
	tcase_add_test(tc, cap_refuses_and_leaves_buffer_unchanged);
	tcase_add_test(tc, error_sticks_until_reset);
	tcase_add_test(tc, printf_hex_and_steal);
	tcase_add_test(tc, i64_text_matches_printf);
	tcase_add_test(tc, secret_buffer_never_moves);
	tcase_add_test(tc, read_fd_reads_to_the_end_within_max);
	tcase_add_test(tc, read_fd_refuses_more_than_max_or_cap);
	tcase_add_test(tc, read_fd_error_keeps_errno);
	tcase_add_test(tc, truncate_cuts_and_terminates);
	suite_add_tcase(s, tc);
	return check_run(s);
}
