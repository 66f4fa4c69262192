/* jsontext.h: checks that a text is one valid JSON value, without building
 * anything: for JSON the daemon passes through as text (the stored session
 * data copied into answers) instead of parsing it into a tree only to print
 * it again. Pure; no allocation. */
#ifndef SESSIOND_JSONTEXT_H
#define SESSIOND_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#define JSONTEXT_MAX_DEPTH 2048 /* jansson's own parser limit */

/* True if p[0..n) is exactly one JSON object (RFC 8259), optionally
 * surrounded by whitespace: valid UTF-8, no raw control characters in
 * strings, escapes well formed (a \u high surrogate followed by a low one;
 * \u0000 is allowed, as JSON.stringify writes it), numbers in JSON's
 * grammar, arrays and objects nested at most max_depth levels (the object
 * itself is level 1). Duplicate member names are allowed (JSON.parse
 * keeps the last). */
bool jsontext_object_valid(const char *p, size_t n, int max_depth);

#endif
