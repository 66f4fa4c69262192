/* main.c: the sessiond command line. So far it answers --help and
 * --version; the HTTP front end, settings file and signals arrive with the
 * HTTP API (see README). No logic lives here: only start and stop order. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
	fputs("usage: sessiond [-c FILE] [-t] [-h] [-V]\n"
	      "  -c, --config FILE   settings file (default /etc/sessiond/sessiond.conf)\n"
	      "  -t, --test-config   parse and validate FILE, then exit\n"
	      "  -h, --help          this text\n"
	      "  -V, --version       print the version\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("sessiond %s\n", SESSIOND_VERSION);
			return EXIT_SUCCESS;
		case 'c':
		case 't':
			break;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	fputs("sessiond: the HTTP service is not built yet; this build holds the "
	      "DynamoDB client and its tests\n",
	      stderr);
	return EXIT_FAILURE;
}
