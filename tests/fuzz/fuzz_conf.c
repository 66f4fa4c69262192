/* fuzz_conf.c: libFuzzer harness for src/conf.c. The input is a settings
 * file, handed to conf_load through a memfd's /proc/self/fd path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sessiond/conf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The environment must not decide what a file means. */
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	log_set_level(LOG_LEVEL_ERROR);
	fd = memfd_create("sessiond.conf", 0);
	if (fd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	struct buf errors;

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	buf_init(&errors, 64 * 1024);
	if (conf_load(path, &c, &errors) == ERROR_OK) {
		/* Accepted settings keep their bounds. */
		if (errors.len || c.listen.port < 0 || c.listen.port > 65535 ||
		    c.session.default_ttl > c.session.max_ttl || !c.dynamodb.table[0])
			abort();
		conf_log_summary(&c);
		conf_free(&c);
	} else if (!errors.len) {
		abort(); /* every refusal says why */
	}
	buf_free(&errors);
	return 0;
}
