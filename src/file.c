/* file.c: careful reads of files that come from outside (see file.h).
 * The checks are made on the opened descriptor, never on the path before
 * opening it, so the file that is checked is the file that is read; and the
 * open itself cannot block, which an open(2) of a FIFO without O_NONBLOCK
 * does until a writer appears: on the credential refresh thread or on
 * SIGHUP that would stall the daemon for good. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sessiond/file.h"

static void file_why(struct file_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void file_why(struct file_info *info, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(info->why, sizeof(info->why), fmt, ap);
	va_end(ap);
}

/* Records the errno of a failed call as "<what>: <strerror>". strerror_r,
 * since the credential refresh thread reads files too. */
static void file_why_errno(struct file_info *info, const char *what, int err)
{
	char text[64];

	info->err = err;
	file_why(info, "%s: %s", what, strerror_r(err, text, sizeof(text)));
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

enum error_code file_open(const char *path, size_t cap, int *fd, struct file_info *info)
{
	enum error_code rc = ERROR_IO;
	int f;

	memset(info, 0, sizeof(*info));
	*fd = -1;
	f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (f < 0) {
		file_why_errno(info, "cannot open", errno);
		return ERROR_IO;
	}
	if (fstat(f, &info->st) != 0) {
		file_why_errno(info, "cannot stat", errno);
		goto out;
	}
	if (!S_ISREG(info->st.st_mode)) {
		const char *kind = file_kind(info->st.st_mode);
		file_why(info, "is %s, not a regular file", kind);
		rc = ERROR_INVALID;
		goto out;
	}
	if ((uintmax_t)info->st.st_size > (uintmax_t)cap) {
		file_why(info, "is larger than %zu bytes", cap);
		rc = ERROR_TOO_LARGE;
		goto out;
	}
	*fd = f;
	f = -1;
	rc = ERROR_OK;
out:
	if (f >= 0)
		close(f);
	return rc;
}

enum error_code file_read(const char *path, size_t cap, struct buf *out, struct file_info *info)
{
	enum error_code rc;
	size_t size;
	int fd;

	buf_init(out, 0);
	rc = file_open(path, cap, &fd, info);
	if (rc != ERROR_OK)
		return rc;
	size = (size_t)info->st.st_size;
	rc = buf_init_secret(out, size);
	if (rc != ERROR_OK) {
		file_why(info, "out of memory");
		goto out;
	}
	/* Exactly the size fstat gave, and one byte more to see the end: a
	 * file that grows or shrinks meanwhile is being rewritten, and half
	 * of an old text and half of a new one is neither. */
	rc = buf_read_fd(out, fd, size);
	if (rc == ERROR_IO) {
		file_why_errno(info, "cannot read", errno);
	} else if (rc == ERROR_TOO_LARGE || (rc == ERROR_OK && out->len != size)) {
		file_why(info, "changed while being read");
		rc = ERROR_IO;
	} else if (rc != ERROR_OK) {
		file_why(info, "out of memory");
	}
out:
	close(fd);
	if (rc != ERROR_OK)
		buf_free_secret(out);
	return rc;
}
