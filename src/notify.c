/* notify.c: sd_notify(3)'s protocol in a few lines (notify.h), so the daemon
 * needs no libsystemd: one AF_UNIX datagram per state change, to the path
 * (or abstract name, "@...") in $NOTIFY_SOCKET. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sessiond/notify.h"

bool notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = path ? strlen(path) : 0;
	socklen_t len;
	ssize_t sent;
	int fd;

	if (n == 0 || n >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return false;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* the abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
	return sent == (ssize_t)strlen(state);
}

long notify_watchdog_interval_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long us;

	if (!usec || !*usec)
		return 0;
	/* The watchdog is meant for the main process only. */
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	us = strtoull(usec, &end, 10);
	if (*end || us == 0)
		return 0;
	return (long)(us / 2000);
}
