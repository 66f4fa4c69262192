/* test_notify.c: unit tests for src/notify.c, the sd_notify protocol. */
#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers/check_run.h"
#include "sessiond/notify.h"

/* A datagram socket standing in for systemd's; its path goes in
 * NOTIFY_SOCKET (or, abstract, "@name"). */
static int listen_dgram(const char *name, bool abstract)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", name);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	if (abstract)
		sa.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char got[256];
	ssize_t n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);

	ck_assert_int_gt(n, 0);
	got[n] = '\0';
	ck_assert_str_eq(got, want);
}

START_TEST(sends_to_a_path_socket)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/sessiond-notify-%d", (int)getpid());
	unlink(path);
	fd = listen_dgram(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	ck_assert(notify_send("READY=1\nSTATUS=serving"));
	expect_datagram(fd, "READY=1\nSTATUS=serving");
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(sends_to_an_abstract_socket)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@sessiond-notify-%d", (int)getpid());
	fd = listen_dgram(name, true);
	setenv("NOTIFY_SOCKET", name, 1);
	ck_assert(notify_send("STOPPING=1"));
	expect_datagram(fd, "STOPPING=1");
	close(fd);
}
END_TEST

START_TEST(does_nothing_outside_systemd)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert(!notify_send("READY=1"));
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert(!notify_send("READY=1"));
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(watchdog_interval_is_half_of_watchdog_usec)
{
	char pid[32];

	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	ck_assert_int_eq(notify_watchdog_interval_ms(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	ck_assert_int_eq(notify_watchdog_interval_ms(), 15000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ck_assert_int_eq(notify_watchdog_interval_ms(), 15000);
	setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
	ck_assert_int_eq(notify_watchdog_interval_ms(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "bogus", 1);
	ck_assert_int_eq(notify_watchdog_interval_ms(), 0);
	unsetenv("WATCHDOG_USEC");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sends_to_a_path_socket);
	tcase_add_test(tc, sends_to_an_abstract_socket);
	tcase_add_test(tc, does_nothing_outside_systemd);
	tcase_add_test(tc, watchdog_interval_is_half_of_watchdog_usec);
	suite_add_tcase(s, tc);
	return check_run(s);
}
