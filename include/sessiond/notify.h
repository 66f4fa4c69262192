/* notify.h: the systemd notification protocol (sd_notify(3)) without
 * libsystemd: READY=1, STOPPING=1, RELOADING=1, STATUS=, WATCHDOG=1 as
 * datagrams to $NOTIFY_SOCKET. Every call does nothing outside systemd. */
#ifndef SESSIOND_NOTIFY_H
#define SESSIOND_NOTIFY_H

#include <stdbool.h>

/* Sends one state line ("READY=1\nSTATUS=serving"); false when
 * $NOTIFY_SOCKET is unset or the datagram could not be sent. */
bool notify_send(const char *state);

/* The keep-alive interval systemd expects (half of WATCHDOG_USEC, in ms),
 * or 0 when no watchdog is configured for this process. */
long notify_watchdog_interval_ms(void);

#endif
