/* secret.c: copies of strings that may hold a secret, and their wiping
 * free (secret.h). The one place both are written, so the copies made by
 * creds, ddb_client, sigv4 and conf cannot drift apart. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sessiond/secret.h"

char *secret_dup(const char *s, bool *nomem)
{
	char *p;

	if (!s || !*s)
		return NULL;
	p = strdup(s);
	if (!p)
		*nomem = true;
	return p;
}

void secret_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}
