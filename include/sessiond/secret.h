/* secret.h: owned copies of strings that may hold a secret, wiped before
 * they are freed. Keys and tokens are secrets; so may be a URL (a proxy's
 * user:password), which is why constructors copy every optional string of
 * a config through secret_dup and let one nomem flag cover them all. */
#ifndef SESSIOND_SECRET_H
#define SESSIOND_SECRET_H

#include <stdbool.h>

/* A new copy of s, or NULL when s is NULL or "" (an unset setting). When
 * the copy cannot be allocated, returns NULL and sets *nomem, so a caller
 * copies many fields and checks once. Free with secret_free or free. */
char *secret_dup(const char *s, bool *nomem);

/* Overwrites s (OPENSSL_cleanse, which the compiler cannot drop) and frees
 * it. Accepts NULL. */
void secret_free(char *s);

#endif
