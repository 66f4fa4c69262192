/* xfer.c: the libcurl setup that ddb_client and the credential providers
 * share (xfer.h), written once so the two cannot drift apart: a CA bundle
 * that adds to the system's trust, and header lists wiped when freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sessiond/buf.h"
#include "sessiond/xfer.h"

CURLcode xfer_on_ssl_ctx(CURL *easy, void *ssl_ctx, void *ca_file)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);

	(void)easy;
	if (!X509_STORE_load_file(store, (const char *)ca_file))
		return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

enum error_code xfer_header_add(struct curl_slist **list, const char *name, const char *value)
{
	struct buf line;
	struct curl_slist *l = NULL;

	/* Sized up front, so building the line never reallocates it; appends,
	 * not printf, since every DynamoDB call adds eight of these. */
	if (buf_init_secret(&line, strlen(name) + strlen(value) + 2) == ERROR_OK) {
		buf_append_str(&line, name);
		buf_append(&line, ": ", 2);
		buf_append_str(&line, value);
		if (buf_error(&line) == ERROR_OK)
			l = curl_slist_append(*list, line.data);
	}
	buf_free_secret(&line);
	if (!l)
		return ERROR_NOMEM;
	*list = l;
	return ERROR_OK;
}

void xfer_headers_free(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		OPENSSL_cleanse(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* Moves the text into an allocation of at least need bytes, wiping the old
 * one: realloc would leave a copy of the tokens in the block it frees. */
static enum error_code xfer_block_grow(struct xfer_block *b, size_t need)
{
	size_t room = b->room ? b->room : 512;
	char *text;

	while (room < need) {
		if (room > SIZE_MAX / 2)
			return ERROR_TOO_LARGE;
		room *= 2;
	}
	text = malloc(room);
	if (!text)
		return ERROR_NOMEM;
	if (b->len)
		memcpy(text, b->text, b->len);
	if (b->text)
		OPENSSL_cleanse(b->text, b->room);
	free(b->text);
	b->text = text;
	b->room = room;
	return ERROR_OK;
}

enum error_code xfer_block_add(struct xfer_block *b, const char *name, const char *value)
{
	size_t name_len = strlen(name), value_len = strlen(value);
	size_t need = name_len + 2 + value_len + 1;
	char *p;
	enum error_code rc;

	if (b->n == XFER_BLOCK_LINES || need > SIZE_MAX / 4 - b->len)
		return ERROR_TOO_LARGE;
	if (b->len + need > b->room && (rc = xfer_block_grow(b, b->len + need)) != ERROR_OK)
		return rc;
	p = b->text + b->len;
	memcpy(p, name, name_len);
	memcpy(p + name_len, ": ", 2);
	memcpy(p + name_len + 2, value, value_len + 1);
	b->at[b->n++] = b->len;
	b->len += need;
	return ERROR_OK;
}

struct curl_slist *xfer_block_list(struct xfer_block *b)
{
	/* Linked here, not in _add, because growing the text moves it. */
	for (size_t i = 0; i < b->n; i++) {
		b->nodes[i].data = b->text + b->at[i];
		b->nodes[i].next = i + 1 < b->n ? &b->nodes[i + 1] : NULL;
	}
	return b->n ? &b->nodes[0] : NULL;
}

void xfer_block_reset(struct xfer_block *b)
{
	if (b->text)
		OPENSSL_cleanse(b->text, b->len);
	b->len = 0;
	b->n = 0;
}

void xfer_block_free(struct xfer_block *b)
{
	xfer_block_reset(b);
	free(b->text);
	memset(b, 0, sizeof(*b));
}
