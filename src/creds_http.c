/* creds_http.c: one HTTP request from a credential provider to STS, the
 * container endpoint or IMDS: bounded by the provider timeout and by
 * CREDS_RESPONSE_MAX, and cancellable. Not a general HTTP client; the
 * DynamoDB transport is ddb_client.c, and what the two share is xfer.c.
 *
 * The request runs on a private curl multi handle polled every
 * CREDS_HTTP_POLL_MS, so that creds_free, which sets *f->stopping, aborts a
 * fetch in flight (a silent endpoint, a long timeout) well within a second. */
#include <stdio.h>
#include <string.h>

#include "creds_internal.h"
#include "sessiond/xfer.h"

#define CREDS_HTTP_POLL_MS 100

static size_t creds_http_on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct buf *b = userp;
	size_t len = size * nmemb;

	/* Past the cap the append fails, and a short count makes libcurl
	 * end the transfer with CURLE_WRITE_ERROR. */
	return buf_append(b, data, len) == ERROR_OK ? len : 0;
}

enum error_code creds_http_line_add(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return ERROR_NOMEM;
	*list = l;
	return ERROR_OK;
}

/* The options of one request. curl_err must outlive the transfer. */
static void creds_http_setup(CURL *easy, const struct creds_fetcher *f, struct creds_http *h,
			     char *curl_err)
{
	curl_easy_setopt(easy, CURLOPT_URL, h->url);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, f->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, f->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
	/* TLS 1.2 or newer, peer and host name always verified. */
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (f->ca_file) {
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, xfer_on_ssl_ctx);
		curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, f->ca_file);
	}
	/* The metadata and container endpoints are on this host or link-local:
	 * a proxy would be wrong there, as in the SDKs. */
	if (h->direct)
		curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	else if (f->proxy)
		curl_easy_setopt(easy, CURLOPT_PROXY, f->proxy);
	if (strcmp(h->method, "GET") != 0) {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, h->method);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, h->body ? h->body : "");
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body_len);
	}
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, creds_http_on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &h->resp);
}

/* Drives the transfer until it is done (*res says how) or *f->stopping. */
static enum error_code creds_http_wait(const struct creds_fetcher *f, CURLM *multi, CURLcode *res,
				       char *err, size_t err_len)
{
	for (;;) {
		int running = 0, left;
		bool done = false;
		CURLMsg *msg;

		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			snprintf(err, err_len, "curl multi failure");
			return ERROR_IO;
		}
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg == CURLMSG_DONE) {
				*res = msg->data.result;
				done = true;
			}
		}
		if (done)
			return ERROR_OK;
		if (f->stopping && atomic_load(f->stopping)) {
			snprintf(err, err_len, "cancelled by shutdown");
			return ERROR_CANCELLED;
		}
		curl_multi_poll(multi, NULL, 0, CREDS_HTTP_POLL_MS, NULL);
	}
}

/* The outcome of a finished transfer, in the provider's words. */
static enum error_code creds_http_result(const struct creds_fetcher *f, CURL *easy, CURLcode res,
					 const char *curl_err, struct creds_http *h, char *err,
					 size_t err_len)
{
	switch (res) {
	case CURLE_OK:
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &h->status);
		err[0] = '\0';
		return ERROR_OK;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, err_len, "timed out after %ld ms", f->timeout_ms);
		return ERROR_TIMEOUT;
	case CURLE_WRITE_ERROR:
		snprintf(err, err_len, "answer larger than %d bytes", CREDS_RESPONSE_MAX);
		return ERROR_TOO_LARGE;
	default:
		snprintf(err, err_len, "%s", curl_err[0] ? curl_err : curl_easy_strerror(res));
		return ERROR_IO;
	}
}

enum error_code creds_http_do(const struct creds_fetcher *f, struct creds_http *h, char *err,
			      size_t err_len)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	enum error_code rc = ERROR_NOMEM;
	CURLcode res = CURLE_OK;
	CURL *easy = NULL;
	CURLM *multi = NULL;
	bool added = false;

	h->status = 0;
	snprintf(err, err_len, "out of memory");
	/* The whole cap at once: the answer holds secrets, and a growing
	 * buffer would leave copies of them in the blocks realloc freed. */
	if (buf_init_secret(&h->resp, CREDS_RESPONSE_MAX) != ERROR_OK)
		goto out;
	easy = curl_easy_init();
	multi = curl_multi_init();
	if (!easy || !multi)
		goto out;
	creds_http_setup(easy, f, h, curl_err);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
		goto out;
	added = true;
	rc = creds_http_wait(f, multi, &res, err, err_len);
	if (rc == ERROR_OK)
		rc = creds_http_result(f, easy, res, curl_err, h, err, err_len);
out:
	if (added)
		curl_multi_remove_handle(multi, easy);
	curl_multi_cleanup(multi);
	curl_easy_cleanup(easy);
	if (rc != ERROR_OK)
		buf_free_secret(&h->resp);
	return rc;
}
