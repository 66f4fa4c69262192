/* test_xfer.c: unit tests for src/xfer.c, the libcurl setup ddb_client and
 * the credential providers share. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "helpers/check_run.h"
#include "sessiond/xfer.h"

START_TEST(header_lines_are_built_and_freed)
{
	struct curl_slist *list = NULL;

	ck_assert_int_eq(xfer_header_add(&list, "Authorization", "Bearer t0ken"), ERROR_OK);
	ck_assert_int_eq(xfer_header_add(&list, "Accept", "application/json"), ERROR_OK);
	ck_assert_ptr_nonnull(list);
	ck_assert_str_eq(list->data, "Authorization: Bearer t0ken");
	ck_assert_ptr_nonnull(list->next);
	ck_assert_str_eq(list->next->data, "Accept: application/json");
	ck_assert_ptr_null(list->next->next);
	xfer_headers_free(list);
	xfer_headers_free(NULL);
}
END_TEST

/* The block gives curl the same list without an allocation per line; it
 * grows past its first 512 bytes (a session token is longer) and keeps its
 * lines whole when it moves. */
START_TEST(header_block_lists_and_grows)
{
	struct xfer_block b;
	struct curl_slist *l;
	char token[1500];

	memset(&b, 0, sizeof(b));
	ck_assert_ptr_null(xfer_block_list(&b));
	ck_assert_int_eq(xfer_block_add(&b, "Host", "localhost"), ERROR_OK);
	ck_assert_int_eq(xfer_block_add(&b, "Expect", ""), ERROR_OK);
	memset(token, 'T', sizeof(token) - 1);
	token[sizeof(token) - 1] = '\0';
	ck_assert_int_eq(xfer_block_add(&b, "X-Amz-Security-Token", token), ERROR_OK);
	ck_assert_uint_ge(b.text.cap, b.text.len);
	l = xfer_block_list(&b);
	ck_assert_str_eq(l->data, "Host: localhost");
	ck_assert_str_eq(l->next->data, "Expect: ");
	ck_assert_uint_eq(strlen(l->next->next->data), strlen("X-Amz-Security-Token: ") + 1499);
	ck_assert_int_eq(strncmp(l->next->next->data, "X-Amz-Security-Token: TTT", 25), 0);
	ck_assert_ptr_null(l->next->next->next);

	/* Reset keeps the memory and starts a new list. */
	xfer_block_reset(&b);
	ck_assert_ptr_null(xfer_block_list(&b));
	ck_assert_ptr_nonnull(b.text.data);
	ck_assert_int_eq(xfer_block_add(&b, "A", "1"), ERROR_OK);
	l = xfer_block_list(&b);
	ck_assert_str_eq(l->data, "A: 1");
	ck_assert_ptr_null(l->next);

	/* A line past the limit is refused and the list stays as it was. */
	for (int i = 1; i < XFER_BLOCK_LINES; i++)
		ck_assert_int_eq(xfer_block_add(&b, "B", "2"), ERROR_OK);
	ck_assert_int_eq(xfer_block_add(&b, "C", "3"), ERROR_TOO_LARGE);
	ck_assert_uint_eq(b.n, XFER_BLOCK_LINES);
	l = xfer_block_list(&b);
	for (int i = 1; i < XFER_BLOCK_LINES; i++)
		l = l->next;
	ck_assert_str_eq(l->data, "B: 2");
	ck_assert_ptr_null(l->next);
	xfer_block_free(&b);
	ck_assert_ptr_null(b.text.data);
	ck_assert_uint_eq(b.n, 0);
	xfer_block_free(&b);
}
END_TEST

/* The bundle is added to the store; a missing one fails the handshake's
 * setup instead of silently trusting less. */
START_TEST(ca_bundle_is_added_or_refused)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char missing[] = "/nonexistent/ca.pem";
	char system[] = "/etc/ssl/certs/ca-certificates.crt";
	X509_STORE *store;

	ck_assert_ptr_nonnull(ctx);
	store = SSL_CTX_get_cert_store(ctx);
	ck_assert_int_eq(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)), 0);
	ck_assert_int_eq(xfer_on_ssl_ctx(NULL, ctx, missing), CURLE_SSL_CACERT_BADFILE);
	/* Debian's bundle (ca-certificates, which libcurl depends on). */
	ck_assert_int_eq(xfer_on_ssl_ctx(NULL, ctx, system), CURLE_OK);
	ck_assert_int_gt(sk_X509_OBJECT_num(X509_STORE_get0_objects(store)), 100);
	SSL_CTX_free(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xfer");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, header_lines_are_built_and_freed);
	tcase_add_test(tc, header_block_lists_and_grows);
	tcase_add_test(tc, ca_bundle_is_added_or_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
