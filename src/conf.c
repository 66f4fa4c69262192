/* conf.c: the settings table, libconfig parsing and validation (conf.h).
 * One table lists every setting with its type, bounds and default; parsing
 * walks the file, so that an unknown or mistyped setting is reported with
 * its line instead of being silently ignored. Every error is collected, so
 * `sessiond -t` shows them all at once. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sessiond/conf.h"
#include "sessiond/file.h"
#include "sessiond/keyring.h"
#include "sessiond/secret.h"

enum conf_type { CONF_STR, CONF_INT, CONF_BOOL, CONF_STR_LIST, CONF_LEVEL, CONF_FORMAT };

struct conf_entry {
	const char *path; /* "group.name" */
	enum conf_type type;
	size_t offset;    /* of the field in struct conf */
	int64_t min, max; /* CONF_INT bounds; CONF_STR: max length (0: none) */
	int64_t def_int;  /* CONF_INT, CONF_BOOL default */
	const char *def_str;
};

#define F(field) offsetof(struct conf, field)
#define STR(p, field, def) { p, CONF_STR, F(field), 0, 4096, 0, def }
#define INT(p, field, lo, hi, def) { p, CONF_INT, F(field), lo, hi, def, NULL }
#define BOOL(p, field, def) { p, CONF_BOOL, F(field), 0, 0, def, NULL }

/* The settings of docs/sessiond.8 (CONFIGURATION) and conf/sessiond.conf, in their order. */
static const struct conf_entry conf_table[] = {
	STR("listen.address", listen.address, "127.0.0.1"),
	INT("listen.port", listen.port, 0, 65535, 8080),
	INT("listen.threads", listen.threads, 0, 1024, 0),
	INT("limits.max_connections", limits.max_connections, 1, 1000000, 10000),
	INT("limits.connection_timeout", limits.connection_timeout, 1, 86400, 30),
	INT("limits.max_body", limits.max_body, 1024, 16 << 20, 409600),
	INT("limits.request_timeout_ms", limits.request_timeout_ms, 10, 600000, 5000),
	INT("limits.drain", limits.drain, 0, 3600, 0),
	{ "auth.tokens", CONF_STR_LIST, F(auth.tokens), 0, 4096, 0, NULL },
	STR("auth.token_file", auth.token_file, ""),
	BOOL("auth.metrics", auth.metrics, 0),
	STR("dynamodb.region", dynamodb.region, ""),
	STR("dynamodb.endpoint", dynamodb.endpoint, ""),
	STR("dynamodb.table", dynamodb.table, "sessions"),
	STR("dynamodb.hash_key", dynamodb.hash_key, "id"),
	STR("dynamodb.prefix", dynamodb.prefix, "sess:"),
	BOOL("dynamodb.consistent_read", dynamodb.consistent_read, 1),
	BOOL("dynamodb.create_table", dynamodb.create_table, 0),
	INT("dynamodb.max_connections", dynamodb.max_connections, 1, 4096, 64),
	INT("dynamodb.timeout_ms", dynamodb.timeout_ms, 10, 600000, 1000),
	INT("dynamodb.max_attempts", dynamodb.max_attempts, 1, 20, 4),
	STR("dynamodb.proxy", dynamodb.proxy, ""),
	STR("dynamodb.ca_file", dynamodb.ca_file, ""),
	STR("credentials.access_key_id", credentials.access_key_id, ""),
	STR("credentials.secret_access_key", credentials.secret_access_key, ""),
	STR("credentials.session_token", credentials.session_token, ""),
	STR("credentials.profile", credentials.profile, ""),
	INT("session.default_ttl", session.default_ttl, 1, 315360000, 86400),
	INT("session.max_ttl", session.max_ttl, 1, 315360000, 2592000),
	INT("session.touch_after", session.touch_after, 0, 315360000, 0),
	STR("users.index", users.index, ""),
	STR("users.attribute", users.attribute, "uid"),
	{ "encryption.keys", CONF_STR_LIST, F(encryption.keys), 0, 4096, 0, NULL },
	BOOL("encryption.required", encryption.required, 0),
	BOOL("reaper.enabled", reaper.enabled, 1),
	INT("reaper.interval", reaper.interval, 1, 604800, 600),
	INT("reaper.max_deletes_per_second", reaper.max_deletes_per_second, 0, 1000000, 100),
	INT("reaper.segments", reaper.segments, 1, 1000, 1),
	INT("reaper.rekey_per_second", reaper.rekey_per_second, 0, 100000, 0),
	{ "log.level", CONF_LEVEL, F(log.level), 0, 0, LOG_LEVEL_INFO, NULL },
	{ "log.format", CONF_FORMAT, F(log.format), 0, 0, CONF_LOG_TEXT, NULL },
};

#define CONF_N (sizeof(conf_table) / sizeof(conf_table[0]))

/* A settings or token file is a few kilobytes; this only bounds a mistaken
 * path. A CA bundle is some hundreds of kilobytes (Debian's: 200). */
#define CONF_FILE_MAX (1 << 20)
#define CONF_CA_FILE_MAX (16 << 20)

/* Parsing state: where errors go, and which settings the file set. */
struct conf_parse {
	const char *file;
	struct buf *errors;
	bool failed;
	bool set[CONF_N];
};

static void *conf_field(struct conf *c, const struct conf_entry *e)
{
	return (char *)c + e->offset;
}

static void conf_error(struct conf_parse *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conf_error(struct conf_parse *p, int line, const char *fmt, ...)
{
	va_list ap;

	p->failed = true;
	buf_printf(p->errors, "%s:%d: ", p->file ? p->file : "(environment)", line);
	va_start(ap, fmt);
	buf_vprintf(p->errors, fmt, ap);
	va_end(ap);
	buf_append_char(p->errors, '\n');
}

static const struct conf_entry *conf_find(const char *path)
{
	for (size_t i = 0; i < CONF_N; i++)
		if (strcmp(conf_table[i].path, path) == 0)
			return &conf_table[i];
	return NULL;
}

static bool conf_has_group(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < CONF_N; i++)
		if (strncmp(conf_table[i].path, name, n) == 0 && conf_table[i].path[n] == '.')
			return true;
	return false;
}

/* Replaces the owned string at *slot with a copy of s. */
static bool conf_set_str(char **slot, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return false;
	secret_free(*slot);
	*slot = copy;
	return true;
}

void conf_tokens_free(char **tokens, size_t n)
{
	for (size_t i = 0; tokens && i < n; i++)
		secret_free(tokens[i]);
	free(tokens);
}

/* A bearer token is RFC 6750 token68-ish: printable, no spaces (and so no
 * NUL byte either, which would cut it short as a C string). */
static bool conf_token_valid(const char *t, size_t n)
{
	if (n == 0 || n > 4096)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return false;
	return true;
}

/* A list's count sits right after its array in struct conf. */
_Static_assert(offsetof(struct conf, auth.n_tokens) ==
		       offsetof(struct conf, auth.tokens) + sizeof(char **),
	       "auth.n_tokens follows auth.tokens");
_Static_assert(offsetof(struct conf, encryption.n_keys) ==
		       offsetof(struct conf, encryption.keys) + sizeof(char **),
	       "encryption.n_keys follows encryption.keys");

static size_t *conf_list_count(struct conf *c, const struct conf_entry *e)
{
	return (size_t *)((char *)conf_field(c, e) + sizeof(char **));
}

/* One element of a list setting: a bearer token, or a key "id:path". */
static bool conf_list_elem_valid(struct conf_parse *p, const struct conf_entry *e, int i,
				 const char *v, int line)
{
	const char *why;

	if (strcmp(e->path, "encryption.keys") == 0) {
		if (!v || strlen(v) > 4096 || !keyring_spec_valid(v, &why)) {
			conf_error(p, line, "%s[%d] %s", e->path, i,
				   v && strlen(v) <= 4096 ? why : "must be a string \"id:path\"");
			return false;
		}
		return true;
	}
	if (!v || !conf_token_valid(v, strlen(v))) {
		conf_error(p, line, "%s[%d] must be a non-empty string of printable "
				    "characters without spaces",
			   e->path, i);
		return false;
	}
	return true;
}

static void conf_apply_list(struct conf_parse *p, struct conf *c, const struct conf_entry *e,
			    const config_setting_t *s, int line)
{
	int n = config_setting_length(s);
	char ***slot = conf_field(c, e);
	char **tokens;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		conf_error(p, line, "%s must be a list of strings", e->path);
		return;
	}
	tokens = calloc((size_t)n + 1, sizeof(*tokens));
	if (!tokens) {
		conf_error(p, line, "out of memory");
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(el);
		if (!conf_list_elem_valid(p, e, i, v, line)) {
			conf_tokens_free(tokens, (size_t)i);
			return;
		}
		tokens[i] = strdup(v);
		if (!tokens[i]) {
			conf_error(p, line, "out of memory");
			conf_tokens_free(tokens, (size_t)i);
			return;
		}
	}
	conf_tokens_free(*slot, *conf_list_count(c, e));
	*slot = tokens;
	*conf_list_count(c, e) = (size_t)n;
}

static void conf_apply_int(struct conf_parse *p, struct conf *c, const struct conf_entry *e,
			   const config_setting_t *s, int line)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		conf_error(p, line, "%s must be an integer", e->path);
		return;
	}
	v = config_setting_get_int64(s);
	if (v < e->min || v > e->max) {
		conf_error(p, line, "%s must be between %" PRId64 " and %" PRId64, e->path,
			   e->min, e->max);
		return;
	}
	*(int64_t *)conf_field(c, e) = v;
}

static void conf_apply_string(struct conf_parse *p, struct conf *c, const struct conf_entry *e,
			      const config_setting_t *s, int line)
{
	const char *v = config_setting_get_string(s);
	enum log_level level;

	if (config_setting_type(s) != CONFIG_TYPE_STRING || !v) {
		conf_error(p, line, "%s must be a string", e->path);
		return;
	}
	if (e->type == CONF_LEVEL) {
		if (!log_level_parse(v, &level))
			conf_error(p, line, "%s must be one of error, warn, info, debug", e->path);
		else
			c->log.level = level;
		return;
	}
	if (e->type == CONF_FORMAT) {
		if (strcmp(v, "text") == 0)
			c->log.format = CONF_LOG_TEXT;
		else if (strcmp(v, "json") == 0)
			c->log.format = CONF_LOG_JSON;
		else
			conf_error(p, line, "%s must be text or json", e->path);
		return;
	}
	if (e->max && (int64_t)strlen(v) > e->max) {
		conf_error(p, line, "%s is longer than %" PRId64 " characters", e->path, e->max);
		return;
	}
	if (!conf_set_str(conf_field(c, e), v))
		conf_error(p, line, "out of memory");
}

/* Applies one setting of the file, found at path with entry e. */
static void conf_apply(struct conf_parse *p, struct conf *c, const struct conf_entry *e,
		       const config_setting_t *s)
{
	int line = config_setting_source_line(s);

	p->set[e - conf_table] = true;
	switch (e->type) {
	case CONF_INT:
		conf_apply_int(p, c, e, s, line);
		break;
	case CONF_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			conf_error(p, line, "%s must be true or false", e->path);
		else
			*(bool *)conf_field(c, e) = config_setting_get_bool(s);
		break;
	case CONF_STR_LIST:
		conf_apply_list(p, c, e, s, line);
		break;
	default:
		conf_apply_string(p, c, e, s, line);
		break;
	}
}

/* Walks the file's root: every member must be a known group, every member
 * of a group a known setting. */
static void conf_walk(struct conf_parse *p, struct conf *c, const config_setting_t *root)
{
	char path[256];

	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *g = config_setting_get_elem(root, (unsigned)i);
		const char *gname = config_setting_name(g);
		int gline = config_setting_source_line(g);

		if (!conf_has_group(gname)) {
			conf_error(p, gline, "unknown setting \"%s\"", gname);
			continue;
		}
		if (!config_setting_is_group(g)) {
			conf_error(p, gline, "%s must be a group: %s = { ... };", gname, gname);
			continue;
		}
		for (int j = 0; j < config_setting_length(g); j++) {
			const config_setting_t *s = config_setting_get_elem(g, (unsigned)j);
			const struct conf_entry *e;

			snprintf(path, sizeof(path), "%s.%s", gname, config_setting_name(s));
			e = conf_find(path);
			if (!e)
				conf_error(p, config_setting_source_line(s),
					   "unknown setting \"%s\"", path);
			else
				conf_apply(p, c, e, s);
		}
	}
}

static bool conf_set_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < CONF_N; i++) {
		const struct conf_entry *e = &conf_table[i];
		void *f = conf_field(c, e);

		switch (e->type) {
		case CONF_STR:
			if (!conf_set_str(f, e->def_str))
				return false;
			break;
		case CONF_INT:
			*(int64_t *)f = e->def_int;
			break;
		case CONF_BOOL:
			*(bool *)f = e->def_int != 0;
			break;
		case CONF_LEVEL:
			c->log.level = (enum log_level)e->def_int;
			break;
		case CONF_FORMAT:
			c->log.format = (enum conf_log_format)e->def_int;
			break;
		case CONF_STR_LIST:
			break;
		}
	}
	return true;
}

/* The environment fills settings the file left unset, as the AWS SDKs do;
 * a value in the file wins. Credentials are not copied here: the
 * credential chain (creds.c) reads the environment itself, in its order. */
static void conf_apply_env(struct conf_parse *p, struct conf *c)
{
	static const struct {
		const char *setting;
		const char *env[2];
	} map[] = {
		{ "dynamodb.region", { "AWS_REGION", "AWS_DEFAULT_REGION" } },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const struct conf_entry *e = conf_find(map[i].setting);
		for (size_t j = 0; j < 2 && map[i].env[j] && !p->set[e - conf_table]; j++) {
			const char *v = getenv(map[i].env[j]);
			if (v && *v) {
				if (!conf_set_str(conf_field(c, e), v))
					conf_error(p, 0, "out of memory");
				break;
			}
		}
	}
	if (!*c->dynamodb.region && !conf_set_str(&c->dynamodb.region, "us-east-1"))
		conf_error(p, 0, "out of memory");
}

/* The line of a setting in the file, for cross-setting errors; 0 if unset. */
static int conf_line(const config_t *cfg, const char *path)
{
	const config_setting_t *s = cfg ? config_lookup(cfg, path) : NULL;

	return s ? config_setting_source_line(s) : 0;
}

static bool conf_url_valid(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

/* Whether path can be opened as a regular file of sane size, through
 * file_open so that a FIFO named here cannot block a start or a SIGHUP;
 * why says what is wrong otherwise. The file is read later, by OpenSSL. */
static bool conf_readable(const char *path, struct file_info *why)
{
	int fd;

	if (file_open(path, CONF_CA_FILE_MAX, &fd, why) != ERROR_OK)
		return false;
	close(fd);
	return true;
}

/* DynamoDB's table name rule: 3 to 255 of [A-Za-z0-9_.-]. */
static bool conf_table_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 3 && n <= 255 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789_.-") == n;
}

/* encryption: the key files are read now, as the token file is, so that
 * `sessiond -t` and a SIGHUP find a bad one ("FILE: message" lines). */
static void conf_validate_keys(struct conf_parse *p, struct conf *c, const config_t *cfg)
{
	struct keyring *kr = NULL;

	if (c->encryption.required && !c->encryption.n_keys)
		conf_error(p, conf_line(cfg, "encryption.required"),
			   "encryption.required needs encryption.keys");
	if (!c->encryption.n_keys)
		return;
	if (c->encryption.n_keys > KEYRING_MAX_KEYS) {
		conf_error(p, conf_line(cfg, "encryption.keys"),
			   "encryption.keys lists more than %d keys", KEYRING_MAX_KEYS);
		return;
	}
	for (size_t i = 0; i < c->encryption.n_keys; i++)
		for (size_t j = 0; j < i; j++) {
			size_t n = strcspn(c->encryption.keys[i], ":");
			if (strncmp(c->encryption.keys[i], c->encryption.keys[j], n + 1) == 0) {
				conf_error(p, conf_line(cfg, "encryption.keys"),
					   "encryption.keys: key id \"%.*s\" is listed twice", (int)n,
					   c->encryption.keys[i]);
				return;
			}
		}
	if (keyring_load(NULL, c->encryption.keys, c->encryption.n_keys,
			 c->encryption.required, &kr, p->errors) != ERROR_OK)
		p->failed = true;
	keyring_unref(kr);
}

static void conf_validate(struct conf_parse *p, struct conf *c, const config_t *cfg)
{
	unsigned char addr[16];
	struct file_info ca;
	struct buf tokerr;
	char **tokens = NULL;
	size_t n = 0;

	if (inet_pton(AF_INET, c->listen.address, addr) != 1 &&
	    inet_pton(AF_INET6, c->listen.address, addr) != 1)
		conf_error(p, conf_line(cfg, "listen.address"),
			   "listen.address must be an IPv4 or IPv6 address, such as "
			   "\"127.0.0.1\", \"0.0.0.0\" or \"::\"");
	/* A smaller max_ttl alone lowers the default to it. */
	if (c->session.default_ttl > c->session.max_ttl && !conf_line(cfg, "session.default_ttl"))
		c->session.default_ttl = c->session.max_ttl;
	if (c->session.default_ttl > c->session.max_ttl)
		conf_error(p, conf_line(cfg, "session.default_ttl"),
			   "session.default_ttl (%" PRId64 ") must not exceed session.max_ttl "
			   "(%" PRId64 ")",
			   c->session.default_ttl, c->session.max_ttl);
	if (!conf_table_name_valid(c->dynamodb.table))
		conf_error(p, conf_line(cfg, "dynamodb.table"),
			   "dynamodb.table must be 3 to 255 characters of A-Z a-z 0-9 _ . -");
	if (!*c->dynamodb.hash_key || strlen(c->dynamodb.hash_key) > 255)
		conf_error(p, conf_line(cfg, "dynamodb.hash_key"),
			   "dynamodb.hash_key must be 1 to 255 characters");
	if (*c->users.index && !conf_table_name_valid(c->users.index))
		conf_error(p, conf_line(cfg, "users.index"),
			   "users.index must be 3 to 255 characters of A-Z a-z 0-9 _ . -");
	/* The owner must be an attribute of its own: the key, expires, type,
	 * sess and version are written by the daemon for other purposes. */
	if (!*c->users.attribute || strlen(c->users.attribute) > 255 ||
	    strcmp(c->users.attribute, c->dynamodb.hash_key) == 0 ||
	    strcmp(c->users.attribute, "expires") == 0 || strcmp(c->users.attribute, "type") == 0 ||
	    strcmp(c->users.attribute, "sess") == 0 || strcmp(c->users.attribute, "version") == 0)
		conf_error(p, conf_line(cfg, "users.attribute"),
			   "users.attribute must be 1 to 255 characters and not the hash key, "
			   "expires, type, sess or version");
	if (strspn(c->dynamodb.region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
		    strlen(c->dynamodb.region) ||
	    strlen(c->dynamodb.region) > 64)
		conf_error(p, conf_line(cfg, "dynamodb.region"),
			   "dynamodb.region must be a region name such as \"us-east-1\"");
	if (*c->dynamodb.endpoint && !conf_url_valid(c->dynamodb.endpoint))
		conf_error(p, conf_line(cfg, "dynamodb.endpoint"),
			   "dynamodb.endpoint must start with http:// or https://");
	if (*c->dynamodb.proxy && !conf_url_valid(c->dynamodb.proxy))
		conf_error(p, conf_line(cfg, "dynamodb.proxy"),
			   "dynamodb.proxy must start with http:// or https://");
	if (*c->dynamodb.ca_file && !conf_readable(c->dynamodb.ca_file, &ca))
		conf_error(p, conf_line(cfg, "dynamodb.ca_file"),
			   "dynamodb.ca_file \"%s\" cannot be read: %s", c->dynamodb.ca_file,
			   ca.why);
	if (!*c->credentials.access_key_id != !*c->credentials.secret_access_key)
		conf_error(p, conf_line(cfg, "credentials"),
			   "credentials.access_key_id and credentials.secret_access_key must be "
			   "set together");
	conf_validate_keys(p, c, cfg);
	if (*c->auth.token_file) {
		buf_init(&tokerr, 0);
		if (conf_read_token_file(c->auth.token_file, &tokens, &n, &tokerr) != ERROR_OK) {
			p->failed = true;
			buf_append(p->errors, tokerr.data, tokerr.len);
		}
		buf_free(&tokerr);
		conf_tokens_free(tokens, n);
	}
}

/* Reads the whole settings file into text (through file_read: a regular
 * file of at most CONF_FILE_MAX bytes, so a FIFO cannot block a start or a
 * SIGHUP) and checks what libconfig 1.5 cannot survive: its scanner ends
 * the process (exit 2, "input in flex scanner failed") when a read fails,
 * as it does for a directory named by @include, and it would read
 * /dev/zero forever. So libconfig only ever parses this text, and @include
 * is refused: sessiond's settings are one file. */
static bool conf_read_text(struct conf_parse *p, const char *path, struct buf *text)
{
	struct file_info info;
	int line = 1;

	if (file_read(path, CONF_FILE_MAX, text, &info) != ERROR_OK) {
		conf_error(p, 0, "%s", info.why);
		return false;
	}
	for (size_t i = 0; !p->failed && i < text->len; i++) {
		const char *s = text->data + i;
		if (*s == '\0')
			conf_error(p, line, "a NUL byte in the file");
		else if ((i == 0 || s[-1] == '\n') &&
			 strncmp(s + strspn(s, " \t"), "@include", 8) == 0)
			conf_error(p, line, "@include is not supported: the settings are one file");
		line += *s == '\n';
	}
	return !p->failed;
}

enum error_code conf_load(const char *path, struct conf *out, struct buf *errors)
{
	struct conf_parse p = { .file = path, .errors = errors };
	struct buf text;
	config_t cfg;
	bool have_cfg = false;

	buf_init(&text, 0);
	if (!conf_set_defaults(out)) {
		conf_free(out);
		return ERROR_NOMEM;
	}
	if (path) {
		if (!conf_read_text(&p, path, &text))
			goto out;
		config_init(&cfg);
		have_cfg = true;
		if (config_read_string(&cfg, text.data ? text.data : "") != CONFIG_TRUE) {
			conf_error(&p, config_error_line(&cfg), "%s", config_error_text(&cfg));
			goto out;
		}
		conf_walk(&p, out, config_root_setting(&cfg));
	}
	conf_apply_env(&p, out);
	conf_validate(&p, out, have_cfg ? &cfg : NULL);
out:
	buf_free_secret(&text); /* it may hold credentials */
	if (have_cfg)
		config_destroy(&cfg);
	if (p.failed) {
		conf_free(out);
		return ERROR_INVALID;
	}
	return ERROR_OK;
}

void conf_free(struct conf *c)
{
	for (size_t i = 0; i < CONF_N; i++) {
		const struct conf_entry *e = &conf_table[i];
		char **slot = conf_field(c, e);

		if (e->type == CONF_STR) {
			secret_free(*slot);
			*slot = NULL;
		}
	}
	conf_tokens_free(c->auth.tokens, c->auth.n_tokens);
	c->auth.tokens = NULL;
	c->auth.n_tokens = 0;
	conf_tokens_free(c->encryption.keys, c->encryption.n_keys);
	c->encryption.keys = NULL;
	c->encryption.n_keys = 0;
}

/* Trims ASCII white space at both ends of [*start, *end). */
static void conf_trim(const char **start, const char **end)
{
	while (*start < *end && (**start == ' ' || **start == '\t'))
		(*start)++;
	while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\n' ||
				 (*end)[-1] == '\r'))
		(*end)--;
}

/* Adds a copy of the token [t, t + len) to *list, which holds *count. */
static bool conf_token_add(char ***list, size_t *count, const char *t, size_t len)
{
	char **grown = realloc(*list, (*count + 1) * sizeof(**list));

	if (!grown)
		return false;
	*list = grown;
	grown[*count] = strndup(t, len);
	if (!grown[*count])
		return false;
	(*count)++;
	return true;
}

enum error_code conf_read_token_file(const char *path, char ***tokens, size_t *n,
				     struct buf *errors)
{
	struct conf_parse p = { .file = path, .errors = errors };
	struct file_info info;
	struct buf text;
	char **list = NULL;
	size_t count = 0;
	int lineno = 0;

	/* A file that cannot be read is not an empty one: a directory given
	 * as the token file would otherwise read as no tokens, and no tokens
	 * is no auth. */
	if (file_read(path, CONF_FILE_MAX, &text, &info) != ERROR_OK) {
		conf_error(&p, 0, "auth.token_file: %s", info.why);
		return ERROR_IO;
	}
	for (const char *line = text.data, *end = text.data + text.len, *next; line < end;
	     line = next) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *ts = line, *te = nl ? nl : end;

		next = nl ? nl + 1 : end;
		lineno++;
		conf_trim(&ts, &te);
		if (ts == te || *ts == '#')
			continue;
		if (!conf_token_valid(ts, (size_t)(te - ts))) {
			conf_error(&p, lineno, "a token must be 1 to 4096 printable characters "
					       "without spaces");
			break;
		}
		if (!conf_token_add(&list, &count, ts, (size_t)(te - ts))) {
			conf_error(&p, lineno, "out of memory");
			break;
		}
	}
	buf_free_secret(&text);
	if (p.failed) {
		conf_tokens_free(list, count);
		return ERROR_INVALID;
	}
	*tokens = list;
	*n = count;
	return ERROR_OK;
}

/* Settings whose values never reach a log line. */
static bool conf_is_secret(const char *path)
{
	return strncmp(path, "credentials.", 12) == 0 || strcmp(path, "auth.tokens") == 0;
}

void conf_log_summary(const struct conf *c)
{
	struct buf b;

	buf_init(&b, 16 * 1024);
	for (size_t i = 0; i < CONF_N; i++) {
		const struct conf_entry *e = &conf_table[i];
		const void *f = (const char *)c + e->offset;

		buf_printf(&b, "%s%s=", i ? " " : "", e->path);
		if (conf_is_secret(e->path)) {
			bool set = e->type == CONF_STR_LIST ? c->auth.n_tokens > 0
							    : **(char *const *)f != '\0';
			if (e->type == CONF_STR_LIST)
				buf_printf(&b, "(%zu set)", c->auth.n_tokens);
			else
				buf_append_str(&b, set ? "(set)" : "(unset)");
			continue;
		}
		switch (e->type) {
		case CONF_STR:
			buf_printf(&b, "\"%s\"", *(char *const *)f);
			break;
		case CONF_INT:
			buf_printf(&b, "%" PRId64, *(const int64_t *)f);
			break;
		case CONF_BOOL:
			buf_append_str(&b, *(const bool *)f ? "true" : "false");
			break;
		case CONF_LEVEL:
			buf_printf(&b, "\"%s\"", (const char *[]){ "error", "warn", "info",
								   "debug" }[c->log.level]);
			break;
		case CONF_FORMAT:
			buf_append_str(&b, c->log.format == CONF_LOG_JSON ? "\"json\"" : "\"text\"");
			break;
		case CONF_STR_LIST:
			/* encryption.keys: ids and paths, no secret */
			buf_append_char(&b, '[');
			for (size_t k = 0; k < c->encryption.n_keys; k++)
				buf_printf(&b, "%s\"%s\"", k ? "," : "", c->encryption.keys[k]);
			buf_append_char(&b, ']');
			break;
		}
	}
	log_info("settings: %s", b.data ? b.data : "(too long to log)");
	buf_free(&b);
}
