/* xfer.c: the libcurl setup that ddb_client and the credential providers
 * share (xfer.h), written once so the two cannot drift apart: a CA bundle
 * that adds to the system's trust, and header lists wiped when freed. */
#include <stdint.h>
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

/* Moves the text into a secret buffer of at least need bytes and wipes the
 * old one: realloc would leave a copy of the tokens in the block it frees. */
static enum error_code xfer_block_grow(struct xfer_block *b, size_t need)
{
	size_t room = b->text.cap ? b->text.cap : 512;
	struct buf bigger;
	enum error_code rc;

	while (room < need) {
		if (room > SIZE_MAX / 4)
			return ERROR_TOO_LARGE;
		room *= 2;
	}
	rc = buf_init_secret(&bigger, room);
	if (rc == ERROR_OK)
		rc = buf_append(&bigger, b->text.data, b->text.len);
	if (rc != ERROR_OK) {
		buf_free_secret(&bigger);
		return rc;
	}
	buf_free_secret(&b->text);
	b->text = bigger;
	return ERROR_OK;
}

enum error_code xfer_block_add(struct xfer_block *b, const char *name, const char *value)
{
	size_t at = b->text.len;
	size_t need = strlen(name) + 2 + strlen(value) + 1;
	enum error_code rc;

	if (b->n == XFER_BLOCK_LINES || need > SIZE_MAX / 4 - at)
		return ERROR_TOO_LARGE;
	/* Room for the whole line first: an append to a secret buffer
	 * never moves it, so the line lands whole or not at all. */
	if ((!b->text.data || at + need > b->text.cap) &&
	    (rc = xfer_block_grow(b, at + need)) != ERROR_OK)
		return rc;
	buf_append_str(&b->text, name);
	buf_append(&b->text, ": ", 2);
	buf_append_str(&b->text, value);
	buf_append_char(&b->text, '\0');
	b->at[b->n++] = at;
	return buf_error(&b->text);
}

struct curl_slist *xfer_block_list(struct xfer_block *b)
{
	/* Linked here, not in _add, because growing the text moves it. */
	for (size_t i = 0; i < b->n; i++) {
		b->nodes[i].data = b->text.data + b->at[i];
		b->nodes[i].next = i + 1 < b->n ? &b->nodes[i + 1] : NULL;
	}
	return b->n ? &b->nodes[0] : NULL;
}

void xfer_block_reset(struct xfer_block *b)
{
	if (b->text.data)
		OPENSSL_cleanse(b->text.data, b->text.len);
	buf_reset(&b->text);
	b->n = 0;
}

void xfer_block_free(struct xfer_block *b)
{
	buf_free_secret(&b->text);
	memset(b, 0, sizeof(*b));
}
