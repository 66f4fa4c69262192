/* file.h: the one way sessiond reads a file that comes from outside: the
 * settings file (at start and on SIGHUP), token files, the AWS shared config
 * and credentials files, web identity tokens, and key files. Only a regular
 * file is read, never more than a cap, and opening never blocks, so a FIFO,
 * a directory, /dev/zero or a huge file is refused at once with a reason. */
#ifndef SESSIOND_FILE_H
#define SESSIOND_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "sessiond/buf.h"
#include "sessiond/error.h"

/* What file_open and file_read saw, for the caller's message and checks. */
struct file_info {
	struct stat st; /* of the opened file; all zero if open failed. A key
			   file reader checks st_mode & 077 and st_uid here. */
	int err;	/* errno of the open, fstat or read that failed; else 0 */
	char why[96];	/* on failure what went wrong, for "FILE: why" lines,
			   e.g. "is a FIFO, not a regular file"; "" on success */
};

/* Opens path read-only, without blocking (O_NONBLOCK, which a FIFO would
 * otherwise need a writer for) and without making it the controlling
 * terminal, then checks the opened file itself: ERROR_INVALID unless it is
 * a regular file, ERROR_TOO_LARGE if it holds more than cap bytes, ERROR_IO
 * (info->err; ENOENT for a missing file) if open or fstat fails. On success
 * *fd is the caller's to close; on failure it is -1. info must not be NULL. */
enum error_code file_open(const char *path, size_t cap, int *fd, struct file_info *info);

/* file_open, then reads the whole file into out, which it initialises:
 * allocated once at the file's size, so a secret is never copied by a
 * realloc; the caller frees it with buf_free_secret. A file whose size
 * changes while it is read is refused (ERROR_IO, info->err 0) rather than
 * read torn or beyond the size checked against cap. On success out->data
 * is never NULL and is NUL-terminated (the text may hold NUL bytes too:
 * out->len is its length); on failure out is empty. info must not be NULL. */
enum error_code file_read(const char *path, size_t cap, struct buf *out, struct file_info *info);

#endif
