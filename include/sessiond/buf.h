/* buf.h: a growable byte buffer with a hard cap, always NUL-terminated.
 * Every buffer that grows from outside input has a cap, so a hostile or
 * broken peer cannot make sessiond allocate without bound.
 *
 * Errors are sticky: the first append that fails (cap, memory) is
 * remembered, every later append is refused with the same code, and the
 * final use checks once (buf_error, or buf_steal's NULL). So a text built
 * from many appends is either whole or known to be broken: an unchecked
 * append in the middle cannot silently drop a piece of it. */
#ifndef SESSIOND_BUF_H
#define SESSIOND_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sessiond/error.h"

struct buf {
	char *data;   /* NUL-terminated when non-NULL; owned by the buf */
	size_t len;   /* bytes used, not counting the terminator */
	size_t alloc; /* bytes allocated */
	size_t cap;   /* the most len may reach; 0 means SIZE_MAX / 2 */
	enum error_code err; /* the first failed append, sticky; ERROR_OK */
};

/* Initialises an empty buffer that may hold at most cap bytes (0: no cap
 * beyond memory). Allocates nothing until the first append. */
void buf_init(struct buf *b, size_t cap);

/* As buf_init, but allocates room for all cap bytes at once, so appends up
 * to the cap never move the data: realloc leaves the old block unwiped, and
 * a buffer that will hold a secret must not leave copies behind. Free it
 * with buf_free_secret. ERROR_NOMEM, sticky, when the allocation fails.
 * A cap of 0 allocates only the terminator and, as in buf_init, leaves the
 * buffer uncapped: the caller then bounds what it appends. */
enum error_code buf_init_secret(struct buf *b, size_t cap);

/* Frees the memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);

/* As buf_free, but first overwrites the bytes with OPENSSL_cleanse: for
 * buffers that held secrets. */
void buf_free_secret(struct buf *b);

/* Empties the buffer, clears its error and keeps its memory for reuse. */
void buf_reset(struct buf *b);

/* ERROR_OK, or the error of the first append that failed since the buffer
 * was initialised, reset or freed. Check it before using data. */
enum error_code buf_error(const struct buf *b);

/* Appends; ERROR_TOO_LARGE past the cap, ERROR_NOMEM. On error the bytes
 * already in the buffer are unchanged, and the error sticks: every later
 * append returns it without appending. */
enum error_code buf_append(struct buf *b, const void *data, size_t len);
enum error_code buf_append_str(struct buf *b, const char *s);
enum error_code buf_append_char(struct buf *b, char c);
enum error_code buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum error_code buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Room for buf_i64_text's output: a sign, 19 digits and the NUL. */
#define BUF_I64_SIZE 21

/* Writes v in decimal into out, NUL-terminated, and returns its length.
 * No printf: versions, expiry times and ETags are written on every
 * request's path. */
size_t buf_i64_text(int64_t v, char out[BUF_I64_SIZE]);

/* Appends v in decimal. */
enum error_code buf_append_i64(struct buf *b, int64_t v);

/* Appends the lower-case hex of len bytes. */
enum error_code buf_append_hex(struct buf *b, const unsigned char *data, size_t len);

/* Appends what fd reads until its end, at most max bytes. ERROR_TOO_LARGE
 * when fd has more to give than max (or the cap) allows, found by reading
 * one byte more, never by reading on; ERROR_IO with errno set when a read
 * fails (EINTR is retried). Both stick. Blocks as read(2) on fd does. */
enum error_code buf_read_fd(struct buf *b, int fd, size_t max);

/* Cuts the text back to its first len bytes; a len past the end changes
 * nothing. Leaves the error as it is. */
void buf_truncate(struct buf *b, size_t len);

/* Hands the memory to the caller (who frees it with free()) and leaves the
 * buffer empty. Returns an empty string rather than NULL for an empty
 * buffer; NULL when that allocation fails or an append had failed (the
 * partial text is freed, never handed on). */
char *buf_steal(struct buf *b);

/* For tests that prove no failure goes unnoticed: the allocation after n
 * more successful ones, in any buffer of any thread, fails as if memory
 * ran out (once); n < 0 disarms. Costs one atomic load per allocation. */
void buf_fail_allocation_after(long n);

#endif
