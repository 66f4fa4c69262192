/* xfer.c: the libcurl setup that ddb_client and the credential providers
 * share (xfer.h), written once so the two cannot drift apart: a CA bundle
 * that adds to the system's trust, and header lists wiped when freed. */
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
