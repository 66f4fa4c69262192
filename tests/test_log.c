/* test_log.c: unit tests for src/log.c: the request line's batching (what
 * waits, when it goes out, that each write holds whole lines). */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "sessiond/log.h"

/* stderr becomes one end of a SOCK_SEQPACKET pair, so every write(2) of
 * the log arrives as one record: the tests see each write's bounds. */
static int log_reader = -1;

static void capture_stderr(void)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ck_assert_int_ge(dup2(sv[1], STDERR_FILENO), 0);
	close(sv[1]);
	log_reader = sv[0];
	log_set_level(LOG_LEVEL_INFO);
	log_set_json(false);
}

/* The next write as a string; "" if none waits. */
static size_t next_write(char *out, size_t cap)
{
	ssize_t n = recv(log_reader, out, cap - 1, MSG_DONTWAIT);

	if (n < 0) {
		ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
		n = 0;
	}
	out[n] = '\0';
	return (size_t)n;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Two request lines while batching: nothing is written until the flush,
 * which writes both at once, into got. */
static void two_lines_wait_for_flush(char *got, size_t cap, const char *rid1, const char *rid2)
{
	log_batch_begin();
	log_request(rid1, "GET", "session", 200, 1.5, 1);
	log_request(rid2, "PUT", "session", 404, 2.25, 2);
	ck_assert_uint_eq(next_write(got, cap), 0);
	log_flush();
	next_write(got, cap);
	ck_assert_uint_eq(count_lines(got), 2);
}

START_TEST(batched_request_lines_wait_for_flush)
{
	char got[PIPE_BUF * 2];

	capture_stderr();
	two_lines_wait_for_flush(got, sizeof(got), "rid-1", "rid-2");
	ck_assert_ptr_nonnull(strstr(got, "rid=rid-1 method=GET route=session status=200 ms=1.50 "
					  "ddb_attempts=1\n"));
	ck_assert(strstr(got, "rid=rid-1") < strstr(got, "rid=rid-2"));
	ck_assert_uint_eq(next_write(got, sizeof(got)), 0);
	log_flush(); /* nothing waits: no write at all */
	ck_assert_uint_eq(next_write(got, sizeof(got)), 0);
	log_batch_end();
}
END_TEST

START_TEST(other_lines_go_out_at_once_after_what_waits)
{
	char got[PIPE_BUF * 2];

	capture_stderr();
	log_batch_begin();
	log_request("rid-a", "GET", "session", 200, 1, 1);
	log_warn("dynamodb slow: %d ms", 900);
	next_write(got, sizeof(got));
	ck_assert_ptr_nonnull(strstr(got, "rid=rid-a"));
	ck_assert_uint_eq(count_lines(got), 1);
	next_write(got, sizeof(got));
	ck_assert_ptr_nonnull(strstr(got, " warn dynamodb slow: 900 ms\n"));
	ck_assert_uint_eq(next_write(got, sizeof(got)), 0);
	log_batch_end();
}
END_TEST

START_TEST(a_full_batch_goes_out_in_whole_lines_of_at_most_pipe_buf)
{
	char got[PIPE_BUF * 2], rid[PIPE_BUF], want[16];
	unsigned lines = 0, writes = 0, next = 0;
	size_t n, fixed, rid_len;

	capture_stderr();
	/* Lines of exactly PIPE_BUF / 16 bytes, so 16 fill a write to the byte:
	 * the edge where one more byte must start the next write. */
	log_request("", "GET", "session", 200, 1, 1);
	fixed = next_write(got, sizeof(got));
	rid_len = PIPE_BUF / 16 - fixed;
	ck_assert_uint_gt(rid_len, 8);
	memset(rid, 'x', rid_len);
	rid[rid_len] = '\0';
	log_batch_begin();
	for (unsigned i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "%03u-", i);
		memcpy(rid, want, 4);
		log_request(rid, "GET", "session", 200, 1, 1);
	}
	log_batch_end();
	while ((n = next_write(got, sizeof(got))) > 0) {
		/* Every write but the last is full; each ends a line. */
		ck_assert_uint_eq(n, writes < 6 ? PIPE_BUF : 4 * PIPE_BUF / 16);
		ck_assert_int_eq(got[n - 1], '\n');
		/* Every line is there once, in the order logged. */
		for (const char *p = got; (p = strstr(p, "rid=")) != NULL; p++) {
			snprintf(want, sizeof(want), "rid=%03u-", next++);
			ck_assert_int_eq(strncmp(p, want, strlen(want)), 0);
		}
		lines += count_lines(got);
		writes++;
	}
	ck_assert_uint_eq(lines, 100);
	ck_assert_uint_eq(next, 100);
	ck_assert_uint_eq(writes, 7); /* not 100 */
}
END_TEST

START_TEST(json_lines_are_batched_alike)
{
	char got[PIPE_BUF * 2];

	capture_stderr();
	log_set_json(true);
	two_lines_wait_for_flush(got, sizeof(got), "rid-j1", "rid-j2");
	ck_assert_ptr_nonnull(strstr(got, "\"request_id\":\"rid-j1\""));
	ck_assert_ptr_nonnull(strstr(got, "}\n{\"time\":"));
	ck_assert_ptr_nonnull(strstr(got, "\"request_id\":\"rid-j2\",\"method\":\"PUT\",\"route\":"
					  "\"session\",\"status\":404"));
	log_batch_end();
}
END_TEST

START_TEST(without_batching_each_line_is_written_at_once)
{
	char got[PIPE_BUF];

	capture_stderr();
	log_request("rid-x", "DELETE", "session", 204, 0.5, 1);
	next_write(got, sizeof(got));
	ck_assert_ptr_nonnull(strstr(got, "rid=rid-x method=DELETE"));
	log_batch_begin();
	log_batch_end();
	log_request("rid-y", "DELETE", "session", 204, 0.5, 1);
	next_write(got, sizeof(got));
	ck_assert_ptr_nonnull(strstr(got, "rid=rid-y"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("batch");

	tcase_add_test(tc, batched_request_lines_wait_for_flush);
	tcase_add_test(tc, other_lines_go_out_at_once_after_what_waits);
	tcase_add_test(tc, a_full_batch_goes_out_in_whole_lines_of_at_most_pipe_buf);
	tcase_add_test(tc, json_lines_are_batched_alike);
	tcase_add_test(tc, without_batching_each_line_is_written_at_once);
	suite_add_tcase(s, tc);
	return check_run(s);
}
