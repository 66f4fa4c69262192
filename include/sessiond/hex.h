/* hex.h: hexadecimal digits both ways, for percent-decoding (http_server,
 * sigv4), character references (creds' STS reader), digests (sigv4) and
 * buf_append_hex. Pure functions, no allocation. */
#ifndef SESSIOND_HEX_H
#define SESSIOND_HEX_H

#include <stddef.h>

/* The value of one hex digit, either case; -1 for any other char. */
int hex_value(char c);

/* Writes the lower-case hex of len bytes and a NUL to out, which must hold
 * 2 * len + 1 chars. */
void hex_encode(const unsigned char *in, size_t len, char *out);

#endif
