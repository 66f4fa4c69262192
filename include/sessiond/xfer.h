/* xfer.h: what sessiond's two HTTP clients, the DynamoDB loop (ddb_client)
 * and the credential providers (creds_http), set up alike on a libcurl
 * transfer: extra trust from the operator's CA bundle, and header lists
 * that hold tokens and are wiped when freed. Not an HTTP client itself. */
#ifndef SESSIOND_XFER_H
#define SESSIOND_XFER_H

#include <curl/curl.h>

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

#endif
