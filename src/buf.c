/* buf.c: growable, capped, NUL-terminated byte buffers (see buf.h).
 * Growth doubles so appends are amortised O(1); the cap is checked before
 * any allocation so an over-cap append changes nothing. */
#include <stdatomic.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sessiond/buf.h"
#include "sessiond/hex.h"

/* buf_fail_allocation_after's countdown; -1: off. */
static _Atomic long buf_fail_countdown = -1;

void buf_fail_allocation_after(long n)
{
	atomic_store(&buf_fail_countdown, n < 0 ? -1 : n);
}

/* True when the test hook says this allocation fails. */
static bool buf_injected_failure(void)
{
	long n = atomic_load_explicit(&buf_fail_countdown, memory_order_relaxed);

	while (n >= 0) {
		if (atomic_compare_exchange_weak(&buf_fail_countdown, &n, n - 1))
			return n == 0;
	}
	return false;
}

static size_t buf_cap(const struct buf *b)
{
	return b->cap ? b->cap : SIZE_MAX / 2;
}

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
	b->err = ERROR_OK;
}

/* Records the first failure; returns rc for the caller to pass on. */
static enum error_code buf_fail(struct buf *b, enum error_code rc)
{
	if (b->err == ERROR_OK)
		b->err = rc;
	return rc;
}

enum error_code buf_init_secret(struct buf *b, size_t cap)
{
	buf_init(b, cap);
	if (cap > SIZE_MAX / 2)
		return buf_fail(b, ERROR_TOO_LARGE);
	b->data = malloc(cap + 1);
	if (!b->data)
		return buf_fail(b, ERROR_NOMEM);
	b->alloc = cap + 1;
	b->data[0] = '\0';
	return ERROR_OK;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->cap);
}

void buf_free_secret(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->alloc);
	buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->err = ERROR_OK;
	if (b->data)
		b->data[0] = '\0';
}

enum error_code buf_error(const struct buf *b)
{
	return b->err;
}

/* Makes room for extra more bytes plus the terminator; refuses once an
 * earlier append failed. */
static enum error_code buf_reserve(struct buf *b, size_t extra)
{
	size_t need, size;
	char *p;

	if (b->err != ERROR_OK)
		return b->err;
	if (extra > buf_cap(b) - b->len)
		return buf_fail(b, ERROR_TOO_LARGE);
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return ERROR_OK;
	size = b->alloc ? b->alloc : 64;
	while (size < need)
		size *= 2;
	p = buf_injected_failure() ? NULL : realloc(b->data, size);
	if (!p)
		return buf_fail(b, ERROR_NOMEM);
	b->data = p;
	b->alloc = size;
	return ERROR_OK;
}

enum error_code buf_append(struct buf *b, const void *data, size_t len)
{
	enum error_code rc = buf_reserve(b, len);

	if (rc != ERROR_OK)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return ERROR_OK;
}

enum error_code buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum error_code buf_append_char(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

enum error_code buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	enum error_code rc;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return buf_fail(b, ERROR_INVALID);
	rc = buf_reserve(b, (size_t)n);
	if (rc != ERROR_OK)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return ERROR_OK;
}

enum error_code buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	enum error_code rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

size_t buf_i64_text(int64_t v, char out[BUF_I64_SIZE])
{
	char digits[BUF_I64_SIZE], *p = digits + sizeof(digits);
	/* Unsigned, so INT64_MIN's magnitude does not overflow. */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	n = (size_t)(digits + sizeof(digits) - p);
	memcpy(out, p, n);
	out[n] = '\0';
	return n;
}

enum error_code buf_append_i64(struct buf *b, int64_t v)
{
	char text[BUF_I64_SIZE];

	return buf_append(b, text, buf_i64_text(v, text));
}

enum error_code buf_append_hex(struct buf *b, const unsigned char *data, size_t len)
{
	enum error_code rc;

	if (len > SIZE_MAX / 4)
		return buf_fail(b, ERROR_TOO_LARGE);
	rc = buf_reserve(b, len * 2);
	if (rc != ERROR_OK)
		return rc;
	hex_encode(data, len, b->data + b->len); /* the terminator fits: reserved */
	b->len += len * 2;
	return ERROR_OK;
}

enum error_code buf_read_fd(struct buf *b, int fd, size_t max)
{
	enum error_code rc;
	size_t room;
	ssize_t n;
	char probe;

	if (b->err != ERROR_OK)
		return b->err;
	room = buf_cap(b) - b->len < max ? buf_cap(b) - b->len : max;
	for (;;) {
		/* Reads in chunks of at most 64 KiB, so a buffer without a
		 * preallocation grows with what arrives, not with max. */
		size_t want = room < 65536 ? room : 65536;
		if (want == 0) {
			/* Full: one byte more says whether the end was reached. */
			n = read(fd, &probe, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return buf_fail(b, ERROR_IO);
			return n == 0 ? ERROR_OK : buf_fail(b, ERROR_TOO_LARGE);
		}
		rc = buf_reserve(b, want);
		if (rc != ERROR_OK)
			return rc;
		n = read(fd, b->data + b->len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			b->data[b->len] = '\0';
			return buf_fail(b, ERROR_IO);
		}
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		if (n == 0)
			return ERROR_OK;
		room -= (size_t)n;
	}
}

void buf_truncate(struct buf *b, size_t len)
{
	if (b->data && len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

char *buf_steal(struct buf *b)
{
	char *p = b->data;

	if (b->err != ERROR_OK) {
		free(p);
		p = NULL;
	} else if (!p) {
		p = calloc(1, 1);
	}
	buf_init(b, b->cap);
	return p;
}
