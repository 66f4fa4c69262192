/* fuzz_http.c: libFuzzer harness for src/http_server.c's request checks (compiled
 * in, for its statics) and the body parsers behind them; input format below. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The two MHD calls the checks make read headers: answered from the input. */
#define MHD_lookup_connection_value fuzz_lookup_value
#define MHD_get_connection_values fuzz_connection_values
#include "../../src/http_server.c"

#include "sessiond/api.h"

#define FUZZ_MAX_HEADERS 16

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_server fz_srv;
static struct http_header fz_headers[FUZZ_MAX_HEADERS];
static size_t fz_n_headers;

const char *fuzz_lookup_value(struct MHD_Connection *c, enum MHD_ValueKind kind, const char *key)
{
	(void)c;
	(void)kind;
	for (size_t i = 0; i < fz_n_headers; i++)
		if (strcasecmp(fz_headers[i].name, key) == 0)
			return fz_headers[i].value;
	return NULL;
}

int fuzz_connection_values(struct MHD_Connection *c, enum MHD_ValueKind kind,
			   MHD_KeyValueIterator it, void *cls)
{
	(void)c;
	for (size_t i = 0; i < fz_n_headers; i++)
		if (it && it(cls, kind, fz_headers[i].name, fz_headers[i].value) != MHD_YES)
			return (int)i + 1;
	return (int)fz_n_headers;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *tokens[] = { "s3cr3t" };

	(void)argc;
	(void)argv;
	pthread_rwlock_init(&fz_srv.tokens_lock, NULL);
	fz_srv.routes = api_routes();
	fz_srv.max_body = 409600; /* the default limits.max_body */
	fz_srv.protect_optional = true;
	return http_server_set_tokens(&fz_srv, tokens, 1) == ERROR_OK ? 0 : 1;
}

/* Cuts the next '\n'-ended line off *p (up to end); NULL when none is left. */
static char *next_line(char **p, char *end, size_t *len)
{
	char *line = *p, *nl;

	if (line >= end)
		return NULL;
	nl = memchr(line, '\n', (size_t)(end - line));
	*len = (size_t)((nl ? nl : end) - line);
	line[*len] = '\0';
	*p = nl ? nl + 1 : end;
	return line;
}

/* What a handler would do with the body of the route it was given. */
static void handle(struct http_request *req)
{
	const char *name = req->route->name, *im = http_request_header(req, "If-Match");
	size_t len;
	const char *body = http_request_body(req, &len);
	struct session_body b;
	struct session_why why;
	json_t *patch = NULL;
	char ttl[32];
	int64_t v;
	bool any;

	/* A handler sees a valid id on an {id} route and "" elsewhere. */
	if (strstr(req->route->pattern, "{id}") ? !session_id_valid(req->id, strlen(req->id))
						: req->id[0] != '\0')
		abort();
	if (strcmp(name, "create") == 0 || strcmp(name, "put") == 0 || strcmp(name, "touch") == 0) {
		session_body_parse(name[0] == 'c'   ? SESSION_BODY_CREATE
				   : name[0] == 'p' ? SESSION_BODY_PUT
						    : SESSION_BODY_TOUCH,
				   body, len, 1764000000, 2592000, &b, &why);
		session_body_clear(&b);
	} else if (strcmp(name, "patch") == 0) {
		session_patch_parse(body, len, &patch, &why);
		json_decref(patch);
		if (http_request_query(req, "ttl", ttl, sizeof(ttl)) == 1)
			session_ttl_parse(ttl, 2592000, &v, &why);
	}
	if (im)
		session_if_match_parse(im, &v, &any);
}

/* Input: "METHOD TARGET VERSION\n", then "Name: value\n" header lines, an
 * empty line, and the body. The target may hold NUL bytes, as on the wire. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *p = copy, *end = copy + size, *line, *sp, *target;
	char *version = NULL;
	struct http_request *req;
	size_t len;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	line = next_line(&p, end, &len);
	sp = line ? memchr(line, ' ', len) : NULL;
	if (!sp)
		goto out;
	/* MHD splits the request line in place: the target keeps any NUL
	 * inside it, and the version follows the target's separator. */
	*sp = '\0';
	target = sp + 1;
	for (char *q = line + len; q > target; q--)
		if (q[-1] == ' ') {
			q[-1] = '\0';
			version = q;
			break;
		}
	fz_n_headers = 0;
	while ((line = next_line(&p, end, &len)) && len && fz_n_headers < FUZZ_MAX_HEADERS) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		fz_headers[fz_n_headers].name = line;
		fz_headers[fz_n_headers].value = colon + 1 + strspn(colon + 1, " \t");
		fz_n_headers++;
	}
	req = http_on_uri(&fz_srv, target, NULL);
	if (!req)
		goto out;
	req->conn = (struct MHD_Connection *)&fz_srv; /* never dereferenced */
	if (http_first_look(req, copy, version)) {
		if (req->responded || !req->route)
			abort();
		if (buf_append(&req->body, p, (size_t)(end - p)) == ERROR_OK)
			handle(req);
	} else if (!req->responded || (req->status / 100 != 4 && req->status != 501)) {
		abort(); /* every refusal is answered: a 4xx, or 501 for a coding */
	}
	http_request_free(req);
out:
	free(copy);
	return 0;
}
