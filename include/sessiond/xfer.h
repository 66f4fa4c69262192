/* xfer.h: what sessiond's two HTTP clients, the DynamoDB loop (ddb_client)
 * and the credential providers (creds_http), set up alike on a libcurl
 * transfer: extra trust from the operator's CA bundle, and header lists
 * that hold tokens and are wiped when freed. Not an HTTP client itself. */
#ifndef SESSIOND_XFER_H
#define SESSIOND_XFER_H

#include <curl/curl.h>

#include "sessiond/buf.h"
#include "sessiond/error.h"

/* A CURLOPT_SSL_CTX_FUNCTION: adds the PEM bundle at the path passed as
 * CURLOPT_SSL_CTX_DATA (a const char *, which must outlive the transfer)
 * to the default trust store, where CURLOPT_CAINFO would replace it.
 * CURLE_SSL_CACERT_BADFILE when the bundle cannot be loaded. */
CURLcode xfer_on_ssl_ctx(CURL *easy, void *ssl_ctx, void *ca_file);

/* Appends the line "name: value" to *list without leaving a copy of value
 * behind in freed memory. ERROR_NOMEM, and *list unchanged, on failure. */
enum error_code xfer_header_add(struct curl_slist **list, const char *name, const char *value);

/* Wipes every line of list (Authorization, session and metadata tokens)
 * and frees it. Accepts NULL. */
void xfer_headers_free(struct curl_slist *list);

/* A header list for a transfer that is signed anew on every attempt: the
 * lines live in one buffer and the list nodes in the block itself, so
 * building it costs no allocation once the buffer has grown to size (the
 * DynamoDB client adds eight lines to every call, and curl_slist_append
 * allocates two blocks per line). curl only reads a CURLOPT_HTTPHEADER
 * list, whose struct curl_slist is public, so nodes it did not allocate
 * are safe. A zeroed block is empty and valid. */
#define XFER_BLOCK_LINES 12
struct xfer_block {
	struct buf text; /* the lines, each NUL-terminated; allocated by
	                    buf_init_secret, so appends never move it */
	size_t n;        /* lines */
	size_t at[XFER_BLOCK_LINES];
	struct curl_slist nodes[XFER_BLOCK_LINES];
};

/* Appends "name: value". Growing the text moves it into a new allocation
 * and wipes the old one, so no copy of a token is left behind.
 * ERROR_TOO_LARGE past XFER_BLOCK_LINES lines, ERROR_NOMEM; the block keeps
 * its earlier lines on failure. */
enum error_code xfer_block_add(struct xfer_block *b, const char *name, const char *value);

/* The lines as a list for CURLOPT_HTTPHEADER (NULL when empty), owned by
 * the block: valid until the next xfer_block_add, _reset or _free, so the
 * transfer must be done with it (removed from its multi) before then. */
struct curl_slist *xfer_block_list(struct xfer_block *b);

/* Wipes the lines and keeps the memory for the next attempt. */
void xfer_block_reset(struct xfer_block *b);

/* Wipes the lines and frees the memory; the block is empty afterwards. */
void xfer_block_free(struct xfer_block *b);

#endif
